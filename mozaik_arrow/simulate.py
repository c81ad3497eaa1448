"""Run a small, real PyNN/NEST network of the kind mozaik simulates.

The model mirrors mozaik's layer-4 sheets (``V1_Exc_L4``, ``V1_Inh_L4``) driven by
orientation-tuned Poisson "LGN" input, and returns exactly what a mozaik ``DataStore``
receives: neuron ids, positions and annotations per sheet, and for every presented stimulus
one neo Segment per sheet, the null (blank) Segments recorded around it and the sensory array.

Protocol (as mozaik's ``Model.present_stimulus_and_record`` with ``reset=False``): before each
stimulus the network sees a blank (background drive only) for ``blank_duration`` ms; that blank
is the stimulus' null recording. Segments are PyNN 0.13's ``get_data(clear=True)`` output with
the ``sheet_name`` annotation mozaik's ``Sheet.get_data`` adds, signals sorted by name. Times are
kept as PyNN gives them: each segment continues from the current simulation time (t_start > 0)
unless ``shift_to_zero=True`` applies mozaik's shift to 0 ms. Needs ``mozaik-arrow[sim]``.
"""

from __future__ import annotations

import itertools
import math
import os
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Presentation", "SimulationResult", "grating_frames", "grating_stimulus", "run_network"]

#: Sheet names, as in mozaik's layer-4 V1 models.
SHEETS = ("V1_Exc_L4", "V1_Inh_L4")
_CELL = {"cm": 0.25, "tau_m": 10.0, "v_rest": -70.0, "v_reset": -70.0, "v_thresh": -55.0,
         "e_rev_E": 0.0, "e_rev_I": -80.0, "tau_syn_E": 1.5, "tau_syn_I": 4.2}
_REFRAC = {"V1_Exc_L4": 2.0, "V1_Inh_L4": 1.0}
#: (source, target, connection probability, weight in uS, receptor type)
_PROJECTIONS = (("V1_Exc_L4", "V1_Exc_L4", 0.1, 0.0005, "excitatory"),
                ("V1_Exc_L4", "V1_Inh_L4", 0.2, 0.001, "excitatory"),
                ("V1_Inh_L4", "V1_Exc_L4", 0.3, 0.002, "inhibitory"))
_BACKGROUND_HZ, _PEAK_HZ, _KAPPA, _C50 = 3700.0, 2500.0, 2.0, 30.0
_LGN_WEIGHT, _PIXEL_DEG = 0.001, 1.0  # uS; degrees per pixel of the "retina" viewing stimuli


@dataclass(frozen=True)
class Presentation:
    """One presented stimulus and what was recorded for it.

    Attributes
    ----------
    stimulus : dict
        The stimulus parameters, as ``grating_stimulus`` builds them.
    segments : list of neo.Segment
        One segment per sheet (order of ``SimulationResult.sheets``), recorded during it.
    null_segments : list of neo.Segment
        One segment per sheet, recorded during the blank that preceded it (mozaik's null
        recording, stored under this stimulus).
    sensory : numpy.ndarray
        The sensory input, float64 of shape (frames, 11, 11), luminance in cd/m².
    """

    stimulus: dict[str, Any]
    segments: list[Any]
    null_segments: list[Any]
    sensory: np.ndarray


@dataclass(frozen=True)
class SimulationResult:
    """Everything one ``run_network`` call produced, keyed like a mozaik DataStore.

    Attributes
    ----------
    sheets : tuple of str
        Sheet names, in the order of each presentation's segments.
    neuron_ids : dict of str to numpy.ndarray
        PyNN ids (``pop.all_cells.astype(int)``) per sheet.
    neuron_positions : dict of str to numpy.ndarray
        Positions per sheet, shape (3, N): x, y, z rows in μm (PyNN ``pop.positions``).
    neuron_annotations : dict of str to list of dict
        Per-neuron annotations (``LGNAfferentOrientation`` etc.), in population order.
    recordings : list of Presentation
        One entry per presented stimulus, in presentation order.
    timestep, seed : float, int
        Simulation time step in ms; the seed of the run (NEST kernel and numpy).
    """

    sheets: tuple[str, ...]
    neuron_ids: dict[str, np.ndarray]
    neuron_positions: dict[str, np.ndarray]
    neuron_annotations: dict[str, list[dict[str, float]]]
    recordings: list[Presentation]
    timestep: float
    seed: int

    def write_to(self, store: Any) -> None:
        """Record everything into a writable store, in the order a mozaik experiment does:
        neuron metadata, then per stimulus its recording, sensory array and null recording.
        """
        store.set_neuron_ids(self.neuron_ids)
        store.set_neuron_positions(self.neuron_positions)
        store.set_neuron_annotations(self.neuron_annotations)
        for p in self.recordings:
            store.add_recording(p.segments, p.stimulus)
            store.add_stimulus(p.sensory, p.stimulus)
            store.add_null_recording(p.null_segments, p.stimulus)


def grating_stimulus(orientation: float, contrast: float, trial: int = 0,
                     duration: float = 300.0) -> dict[str, Any]:
    """Build the parameter dict of a mozaik ``FullfieldDriftingSinusoidalGrating``.

    Parameters
    ----------
    orientation, contrast : float
        Grating orientation in radians, in [0, π); Michelson contrast in percent, in [0, 100].
    trial : int, optional
        Trial number (a repeated presentation is another trial).
    duration : float, optional
        Stimulus duration in ms.

    Returns
    -------
    dict
        ``name``, ``module_path`` and every parameter the mozaik class declares (its own and
        those of ``VisualStimulus`` and ``BaseStimulus``), with the types mozaik uses.
    """
    return {"name": "FullfieldDriftingSinusoidalGrating",
            "module_path": "mozaik.stimuli.vision.topographica_based",
            "orientation": float(orientation), "contrast": float(contrast),
            "spatial_frequency": 0.8, "temporal_frequency": 2.0, "duration": float(duration),
            "frame_duration": 7.0, "trial": int(trial), "background_luminance": 50.0,
            "density": 10.0, "location_x": 0.0, "location_y": 0.0, "size_x": 11.0,
            "size_y": 11.0, "direct_stimulation_name": None,
            "direct_stimulation_parameters": None}


def grating_frames(stimulus: dict[str, Any]) -> np.ndarray:
    """Render a drifting sinusoidal grating the way mozaik's stimulus does.

    Luminance is ``background * (1 + contrast/100 * sin(2π f y' + phase))`` (imagen's
    ``SineGrating`` with mozaik's offset and scale), ``y'`` the coordinate across the bars, the
    phase advancing by ``2π · frame_duration/1000 · temporal_frequency`` per frame. The visual
    field is sampled at 1 degree per pixel, like a retina of that resolution viewing it.

    Parameters
    ----------
    stimulus : dict
        A dict as built by ``grating_stimulus``.

    Returns
    -------
    numpy.ndarray
        float64 array of shape (int(duration / frame_duration), ny, nx).
    """
    s = stimulus
    nx, ny = (int(round(s[k] / _PIXEL_DEG)) for k in ("size_x", "size_y"))
    x = s["location_x"] + (np.arange(nx) - (nx - 1) / 2.0) * _PIXEL_DEG
    y = s["location_y"] + ((ny - 1) / 2.0 - np.arange(ny)) * _PIXEL_DEG
    xx, yy = np.meshgrid(x, y)
    across = -np.sin(s["orientation"]) * xx + np.cos(s["orientation"]) * yy
    step = 2 * math.pi * (s["frame_duration"] / 1000.0) * s["temporal_frequency"]
    phases = step * np.arange(int(s["duration"] / s["frame_duration"]))[:, None, None]
    wave = np.sin(2 * math.pi * s["spatial_frequency"] * across[None] + phases)
    return s["background_luminance"] * (1.0 + s["contrast"] / 100.0 * wave)


def _lgn_rates(preferred: np.ndarray, stimulus: dict[str, Any] | None) -> np.ndarray:
    """Poisson rates (Hz): background plus a von Mises orientation tuning scaled by contrast."""
    if stimulus is None:
        return np.full(preferred.shape, _BACKGROUND_HZ)
    c = stimulus["contrast"]
    gain = c**2 / (c**2 + _C50**2)  # Naka-Rushton contrast response
    tuning = np.exp(_KAPPA * (np.cos(2 * (stimulus["orientation"] - preferred)) - 1.0))
    return _BACKGROUND_HZ + _PEAK_HZ * gain * tuning


def _import_pynn_nest():
    os.environ.setdefault("PYNEST_QUIET", "1")  # no NEST banner
    try:
        with warnings.catch_warnings():  # PyNN's failed extension build, NEST deprecations
            warnings.simplefilter("ignore")
            import pyNN.nest as sim
    except ImportError as exc:
        raise ImportError("run_network needs PyNN and NEST: pip install 'mozaik-arrow[sim]' "
                          f"(and the NEST simulator); import failed: {exc}") from exc
    return sim


def _collect(pop: Any, name: str, shift: bool) -> Any:
    """One sheet's ``get_data(clear=True)`` segment, annotated as mozaik's ``Sheet.get_data``."""
    segment = pop.get_data(clear=True).segments[-1]
    segment.annotations["sheet_name"] = name
    # PyNN orders signals by iterating a set: it varies with PYTHONHASHSEED, so sort by name
    segment.analogsignals = sorted(segment.analogsignals, key=lambda a: a.name)
    if shift:  # mozaik's Sheet.get_data(stimulus_duration): every train and signal from 0 ms
        segment.spiketrains = [x.time_shift(-x.t_start) for x in segment.spiketrains]
        segment.analogsignals = [x.time_shift(-x.t_start) for x in segment.analogsignals]
        for child in (*segment.spiketrains, *segment.analogsignals):
            child.segment = segment
    return segment


def run_network(n_exc: int = 80, n_inh: int = 20,
                orientations: tuple[float, ...] = (0.0, math.pi / 2), contrasts=(100.0,),
                trials: int = 1, duration: float = 300.0, blank_duration: float = 100.0,
                record_signals: int | None = 10, seed: int = 1234, *,
                timestep: float = 0.1, sampling_interval: float = 1.0,
                shift_to_zero: bool = False) -> SimulationResult:
    """Simulate the two-sheet V1 layer-4 model for a set of drifting gratings.

    Stimuli are presented in the order: trial, then contrast, then orientation (innermost).

    Parameters
    ----------
    n_exc, n_inh : int
        Number of neurons in ``V1_Exc_L4`` and ``V1_Inh_L4`` (IF_cond_exp cells).
    orientations, contrasts : sequence of float
        Grating orientations in radians and contrasts in percent.
    trials : int
        Number of presentations of each (orientation, contrast) pair.
    duration : float
        Stimulus duration in ms.
    blank_duration : float
        Duration in ms of the blank shown before each stimulus (its null recording); > 0.
    record_signals : int or None
        Record ``v``, ``gsyn_exc`` and ``gsyn_inh`` of the first this many neurons of each
        sheet; None records all. Spikes are recorded for every neuron.
    seed : int
        Seed of the NEST kernel RNG and of every numpy / PyNN RNG used to build the model.
    timestep, sampling_interval : float, keyword-only
        Simulation time step (also the minimum delay) and the sampling period of the analog
        signals (mozaik's ``recording_interval``), in ms.
    shift_to_zero : bool, keyword-only
        Apply mozaik's shift so each segment starts at 0 ms; by default keep PyNN's times.

    Returns
    -------
    SimulationResult

    Raises
    ------
    ImportError
        If PyNN or NEST is not installed.
    ValueError
        If a size, duration or count is not positive, or a stimulus list is empty.
    """
    if min(n_exc, n_inh, trials, len(orientations), len(contrasts)) < 1 or min(
            duration, blank_duration) <= 0:
        raise ValueError("n_exc, n_inh, trials, duration, blank_duration must be positive and "
                         "orientations, contrasts non-empty")
    sim = _import_pynn_nest()
    from pyNN.random import NumpyRNG
    from pyNN.space import Cuboid, RandomStructure

    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NEST deprecations raised through PyNN, PyNN notices
        sim.setup(timestep=timestep, min_delay=timestep, max_delay=10.0, threads=1,
                  rng_seed=seed, verbosity="error")
        try:
            pops, sources, preferred, annotations = {}, {}, {}, {}
            for k, (name, n) in enumerate(zip(SHEETS, (n_exc, n_inh), strict=True)):
                structure = RandomStructure(Cuboid(1000.0, 1000.0, 0.0),
                                            rng=NumpyRNG(seed=seed + k))
                cell = sim.IF_cond_exp(tau_refrac=_REFRAC[name], **_CELL)
                pops[name] = sim.Population(n, cell, structure=structure, label=name)
                pops[name].initialize(v=rng.uniform(-70.0, -56.0, n))
                preferred[name] = rng.uniform(0.0, math.pi, n)
                phase = rng.uniform(0.0, 2 * math.pi, n)
                annotations[name] = [  # the keys mozaik's GaborConnector annotates
                    {"LGNAfferentOrientation": float(o), "LGNAfferentAspectRatio": 0.4,
                     "LGNAfferentFrequency": 0.8, "LGNAfferentSize": 0.17,
                     "LGNAfferentPhase": float(ph)}
                    for o, ph in zip(preferred[name], phase, strict=True)]
            for name, pop in pops.items():
                sources[name] = sim.Population(len(pop), sim.SpikeSourcePoisson(
                    rate=_BACKGROUND_HZ), label=f"LGN_{name}")
                # PyNN 0.13's OneToOneConnector fails on populations of size 1
                wiring = sim.OneToOneConnector() if len(pop) > 1 else sim.AllToAllConnector()
                sim.Projection(sources[name], pop, wiring, sim.StaticSynapse(
                    weight=_LGN_WEIGHT, delay=timestep), receptor_type="excitatory")
            for k, (pre, post, p, w, receptor) in enumerate(_PROJECTIONS):
                connector = sim.FixedProbabilityConnector(
                    p, allow_self_connections=False, rng=NumpyRNG(seed=seed + 10 + k))
                sim.Projection(pops[pre], pops[post], connector,
                               sim.StaticSynapse(weight=w, delay=1.0), receptor_type=receptor)
            for pop in pops.values():
                pop.record("spikes")
                n_sig = len(pop) if record_signals is None else min(record_signals, len(pop))
                if n_sig > 0:
                    pop[:n_sig].record(["v", "gsyn_exc", "gsyn_inh"],
                                       sampling_interval=sampling_interval)

            def present(stimulus: dict[str, Any] | None, length: float) -> list[Any]:
                for name in SHEETS:
                    sources[name].set(rate=_lgn_rates(preferred[name], stimulus))
                sim.run(length)
                return [_collect(pops[name], name, shift_to_zero) for name in SHEETS]

            recordings = []
            for trial, contrast, ori in itertools.product(range(trials), contrasts, orientations):
                stim = grating_stimulus(ori, contrast, trial, duration)
                null = present(None, blank_duration)  # as in mozaik, the blank precedes it
                recordings.append(Presentation(stim, present(stim, duration), null,
                                               grating_frames(stim)))
            return SimulationResult(
                sheets=SHEETS,
                neuron_ids={n: pops[n].all_cells.astype(int) for n in SHEETS},
                neuron_positions={n: np.array(pops[n].positions, dtype=float) for n in SHEETS},
                neuron_annotations=annotations, recordings=recordings,
                timestep=float(timestep), seed=int(seed))
        finally:
            sim.end()
