"""Mozaik-like model output at a configurable scale, generated once as numpy arrays.

A model has the four sheets of mozaik's V1 models (``V1_Exc_L4``, ``V1_Inh_L4``,
``V1_Exc_L2/3``, ``V1_Inh_L2/3``; 4:1 excitatory to inhibitory, both layers the same size)
and is shown drifting gratings (orientation x contrast x trial). Each neuron has a preferred
orientation and a log-normal base rate (2% silent); its rate for a stimulus follows a von
Mises tuning curve times a contrast response (Naka-Rushton), scaled so that a neuron fires
``spikes_per_neuron`` spikes per stimulus on average. Spike times are Poisson on NEST's
0.1 ms grid, in ms. A recorded subset of each sheet has ``v`` (an Ornstein-Uhlenbeck membrane
potential in mV) and ``gsyn_exc`` (an OU conductance in uS whose mean follows the neuron's
rate). Before each stimulus a blank (null) recording holds spontaneous spikes only.

Every store of the benchmark suite is written from the same :class:`Model`: the mozaik_arrow
store and the baselines that take neo objects get them from :func:`neo_segments` (spike
trains built with :func:`mozaik_arrow.neo_convert.spiketrains_from_arrow`, as views of the
model's arrays), the plain-pyarrow floor takes the arrays themselves. Analysis results
(:func:`make_ads`) are built once and shared too.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import neo
import numpy as np
import quantities as pq
from scipy.signal import lfilter

from mozaik_arrow.ads import AnalogSignalList, PerNeuronValue, SingleValue
from mozaik_arrow.neo_convert import spiketrains_from_arrow
from mozaik_arrow.parametrized import SNumber, Stimulus

__all__ = [
    "SHEETS",
    "SCALES",
    "Scale",
    "FullfieldDriftingSinusoidalGrating",
    "SegmentData",
    "Model",
    "generate",
    "tuned_spike_arrays",
    "neo_segments",
    "make_ads",
]

#: (sheet name, share of the neurons, inhibitory?)
SHEETS: tuple[tuple[str, float, bool], ...] = (
    ("V1_Exc_L4", 0.4, False),
    ("V1_Inh_L4", 0.1, True),
    ("V1_Exc_L2/3", 0.4, False),
    ("V1_Inh_L2/3", 0.1, True),
)
DT = 0.1  # ms, NEST's resolution: spike times lie on this grid


@dataclass(frozen=True)
class Scale:
    """Size of a generated model and of the benchmark run over it.

    Attributes
    ----------
    name : str
        ``tiny``, ``small``, ``medium`` or ``large``.
    neurons : int
        Neurons over the four sheets.
    orientations : int
        Grating orientations, evenly spaced in [0, pi).
    contrasts : tuple of float
        Grating contrasts (percent).
    trials : int
        Presentations of each (orientation, contrast).
    duration : float
        Stimulus duration (ms).
    blank : float
        Duration of the null (blank) recording before each stimulus (ms).
    spikes_per_neuron : float
        Mean spikes of a neuron per stimulus.
    signal_neurons : int
        Neurons (over all sheets) whose ``v`` and ``gsyn_exc`` are recorded.
    signal_samples : int
        Samples of each signal per recording (sampling period = duration / samples).
    ads : int
        Analysis results.
    nix_trains : int
        Spike trains NixIO is benchmarked with (it writes ~2 k spikes/s; see the README).
    repeat : int
        Timed repetitions of the cheap operations (one more untimed warm-up).
    """

    name: str
    neurons: int
    orientations: int
    contrasts: tuple[float, ...]
    trials: int
    duration: float
    blank: float
    spikes_per_neuron: float
    signal_neurons: int
    signal_samples: int
    ads: int
    nix_trains: int
    repeat: int = 5

    @property
    def n_stimuli(self) -> int:
        """Number of stimuli (orientation x contrast x trial)."""
        return self.orientations * len(self.contrasts) * self.trials

    @property
    def sampling_period(self) -> float:
        """Sampling period of the signals (ms)."""
        return self.duration / self.signal_samples


SCALES: dict[str, Scale] = {
    "tiny": Scale("tiny", 400, 2, (100.0,), 2, 500.0, 100.0, 12.0, 16, 500, 240, 24, 3),
    "small": Scale("small", 4_000, 2, (30.0, 100.0), 2, 2000.0, 500.0, 50.0, 200, 2_000,
                   4_000, 80, 5),
    "medium": Scale("medium", 100_000, 5, (30.0, 100.0), 2, 2000.0, 500.0, 50.0, 2_000,
                    10_000, 100_000, 3_000, 5),
    "large": Scale("large", 300_000, 5, (30.0, 100.0), 4, 2000.0, 500.0, 50.0, 4_000,
                   10_000, 300_000, 3_000, 3),
}


class FullfieldDriftingSinusoidalGrating(Stimulus):
    """mozaik's full-field drifting grating (the parameters its class declares)."""

    _module_path = "mozaik.stimuli.vision.visual_stimulus_library"
    background_luminance = SNumber(pq.dimensionless)
    contrast = SNumber(pq.dimensionless)
    density = SNumber(1 / pq.deg)
    location_x = SNumber(pq.deg)
    location_y = SNumber(pq.deg)
    orientation = SNumber(pq.rad, period=math.pi)
    size_x = SNumber(pq.deg)
    size_y = SNumber(pq.deg)
    spatial_frequency = SNumber(pq.Hz)
    temporal_frequency = SNumber(pq.Hz)


@dataclass(frozen=True, eq=False)
class SheetData:
    """One sheet: ids (PyNN-style, global), positions, tuning and recorded subset."""

    name: str
    ids: np.ndarray  # int64, sorted
    positions: np.ndarray  # (2, n) degrees of visual field
    preferred: np.ndarray  # preferred orientation (rad)
    base_rate: np.ndarray  # relative rate (log-normal, some 0)
    recorded: np.ndarray  # sorted indexes (into ids) of the neurons with signals
    inhibitory: bool


@dataclass(frozen=True, eq=False)
class SegmentData:
    """One recording (one sheet, one stimulus), as flat arrays.

    Train ``i`` (neuron ``ids[i]``) is ``values[offsets[i]:offsets[i + 1]]`` (ms).
    ``signals`` maps a signal name to a (samples x recorded neurons) array of the neurons
    ``signal_ids``; empty for null recordings.
    """

    sheet: str
    stimulus: int
    null: bool
    ids: np.ndarray
    values: np.ndarray
    offsets: np.ndarray
    t_start: float
    t_stop: float
    signal_ids: np.ndarray
    signals: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_spikes(self) -> int:
        """Number of spikes of the recording."""
        return int(self.offsets[-1])

    @property
    def counts(self) -> np.ndarray:
        """Spikes per neuron."""
        return np.diff(self.offsets)

    @property
    def n_samples(self) -> int:
        """Signal samples of the recording (every signal, every neuron)."""
        return sum(int(a.size) for a in self.signals.values())


SIGNAL_UNITS = {"v": "mV", "gsyn_exc": "uS"}


@dataclass(frozen=True, eq=False)
class Model:
    """A generated model: sheets, stimuli and recordings (null ones first per stimulus)."""

    scale: Scale
    sheets: list[SheetData]
    stimuli: list[FullfieldDriftingSinusoidalGrating]
    segments: list[SegmentData]

    @property
    def n_spikes(self) -> int:
        """Spikes of every recording."""
        return sum(s.n_spikes for s in self.segments)

    @property
    def n_samples(self) -> int:
        """Signal samples of every recording."""
        return sum(s.n_samples for s in self.segments)

    @property
    def n_neurons(self) -> int:
        """Neurons of every sheet."""
        return sum(len(s.ids) for s in self.sheets)

    def sheet(self, name: str) -> SheetData:
        """The sheet called ``name``."""
        return next(s for s in self.sheets if s.name == name)

    def segments_of(self, stimulus: int, null: bool = False) -> list[SegmentData]:
        """The recordings (one per sheet) of stimulus number ``stimulus``."""
        return [s for s in self.segments if s.stimulus == stimulus and s.null == null]

    def subset(self, n_stimuli: int) -> Model:
        """The same model restricted to its first ``n_stimuli`` stimuli (arrays shared)."""
        return replace(self, stimuli=self.stimuli[:n_stimuli],
                       segments=[s for s in self.segments if s.stimulus < n_stimuli])

    def nix_subset(self, n_trains: int) -> Model:
        """The first stimulus (and its blank) with about ``n_trains`` neurons over the sheets,
        in proportion to their sizes, keeping each sheet's share of recorded neurons (at
        least one): the first recorded neurons and the first others of each sheet."""
        total = self.n_neurons
        sheets, segs = [], []
        for sh in self.sheets:
            n = len(sh.ids)
            k = max(2, min(n, round(n_trains * n / total)))
            m = max(1, min(len(sh.recorded), k - 1, round(k * len(sh.recorded) / n)))
            others = np.setdiff1d(np.arange(n), sh.recorded)[: k - m]
            keep = np.union1d(sh.recorded[:m], others)
            rec = np.flatnonzero(np.isin(keep, sh.recorded))
            sheets.append(replace(sh, ids=sh.ids[keep], positions=sh.positions[:, keep],
                                  preferred=sh.preferred[keep], base_rate=sh.base_rate[keep],
                                  recorded=rec))
            for s in self.segments:
                if s.stimulus != 0 or s.sheet != sh.name:
                    continue
                lengths = s.offsets[keep + 1] - s.offsets[keep]
                offsets = np.zeros(len(keep) + 1, dtype=np.int64)
                np.cumsum(lengths, out=offsets[1:])
                idx = np.repeat(s.offsets[keep] - offsets[:-1], lengths) + np.arange(offsets[-1])
                cols = np.searchsorted(s.signal_ids, sh.ids[sh.recorded[:m]])
                segs.append(replace(
                    s, ids=s.ids[keep], values=np.asarray(s.values)[idx], offsets=offsets,
                    signal_ids=s.signal_ids[cols] if s.signals else s.signal_ids[:0],
                    signals={n_: np.asarray(a)[:, cols] for n_, a in s.signals.items()}))
        order = [x.sheet for x in self.segments[:len(self.sheets)]]
        segs.sort(key=lambda s: (s.null is False, order.index(s.sheet)))
        return replace(self, sheets=sheets, stimuli=self.stimuli[:1], segments=segs)


def grating(orientation: float, contrast: float, trial: int, duration: float
            ) -> FullfieldDriftingSinusoidalGrating:
    """A grating with mozaik's default parameters but those given."""
    return FullfieldDriftingSinusoidalGrating(
        orientation=float(orientation), contrast=float(contrast), trial=int(trial),
        duration=float(duration), frame_duration=7.0, background_luminance=50.0,
        density=10.0, location_x=0.0, location_y=0.0, size_x=11.0, size_y=11.0,
        spatial_frequency=0.8, temporal_frequency=2.0, direct_stimulation_name=None,
        direct_stimulation_parameters=None)


def tuned_spike_arrays(rates: np.ndarray, duration: float, rng: np.random.Generator,
                       dt: float = DT) -> tuple[np.ndarray, np.ndarray]:
    """Poisson spike trains with the given per-neuron rates, on a ``dt`` grid.

    Like :func:`mozaik_arrow.synthetic.spike_arrays`, which draws its own rates; here each
    neuron's rate is given (tuning needs it).

    Parameters
    ----------
    rates : float array (n,)
        Spikes per second of each neuron.
    duration : float
        Recording length (ms); times lie in ``[0, duration)``.
    rng : numpy.random.Generator
    dt : float
        Grid step (ms); at most one spike per neuron per step.

    Returns
    -------
    values, offsets : float64 array, int64 array (n + 1,)
        Sorted times (ms) of every train, flat; train ``i`` is ``values[offsets[i]:offsets[i+1]]``.
    """
    n = len(rates)
    n_bins = int(round(duration / dt))
    counts = np.minimum(rng.poisson(rates * duration / 1000.0), n_bins)
    rows = np.repeat(np.arange(n, dtype=np.int64), counts)
    keys = rows * n_bins + rng.integers(0, n_bins, len(rows))
    keys.sort()
    keep = np.ones(len(keys), dtype=bool)
    keep[1:] = keys[1:] != keys[:-1]  # one spike per grid step
    keys = keys[keep]
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys // n_bins, minlength=n), out=offsets[1:])
    return np.round((keys % n_bins) * dt, 10), offsets


def _ou(rng: np.random.Generator, shape: tuple[int, int], tau: float, dt: float) -> np.ndarray:
    """Unit-variance Ornstein-Uhlenbeck noise along axis 0 (time), float64."""
    a = math.exp(-dt / tau)
    x = rng.standard_normal(shape)
    x[0] /= math.sqrt(1 - a * a)  # start in the stationary distribution
    return lfilter([math.sqrt(1 - a * a)], [1.0, -a], x, axis=0)


def _spill(arr: np.ndarray, directory: Path | None, name: str) -> np.ndarray:
    """``arr`` as a read-only memory map of a ``.npy`` file in ``directory`` (if given):
    big models live in the page cache rather than in the process's anonymous memory."""
    if directory is None:
        return arr
    path = directory / f"{name}.npy"
    np.save(path, arr)
    return np.load(path, mmap_mode="r")


def generate(scale: Scale, seed: int = 0, directory: Path | None = None) -> Model:
    """Generate a model at ``scale``.

    Parameters
    ----------
    scale : Scale
    seed : int
        Seed of every random draw (the same seed gives the same model).
    directory : Path, optional
        Where to keep the arrays as memory-mapped ``.npy`` files (for big scales).

    Returns
    -------
    Model
    """
    rng = np.random.default_rng(seed)
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
    sheets, first = [], 1
    for name, share, inh in SHEETS:
        n = max(2, round(scale.neurons * share))
        base = rng.lognormal(-0.5, 1.0, n) * (2.0 if inh else 1.0)
        base[rng.random(n) < 0.02] = 0.0
        n_rec = max(1, round(scale.signal_neurons * share))
        sheets.append(SheetData(
            name, np.arange(first, first + n, dtype=np.int64),
            rng.uniform(-5.0, 5.0, (2, n)), rng.uniform(0, math.pi, n), base,
            np.sort(rng.choice(n, size=min(n, n_rec), replace=False)), inh))
        first += n
    stimuli = [grating(o * math.pi / scale.orientations, c, t, scale.duration)
               for t in range(scale.trials) for c in scale.contrasts
               for o in range(scale.orientations)]

    def drive(sheet: SheetData, stim: FullfieldDriftingSinusoidalGrating) -> np.ndarray:
        kappa, floor = (1.0, 0.5) if sheet.inhibitory else (2.5, 0.15)
        tuning = floor + (1 - floor) * np.exp(
            kappa * (np.cos(2 * (stim.orientation - sheet.preferred)) - 1))
        gain = stim.contrast ** 2 / (stim.contrast ** 2 + 20.0 ** 2)
        return sheet.base_rate * tuning * gain

    # one factor for the model: mean spikes per neuron per stimulus = spikes_per_neuron
    mean_drive = np.mean(np.concatenate([drive(sh, st) for sh in sheets for st in stimuli]))
    hz = scale.spikes_per_neuron / (scale.duration / 1000.0) / mean_drive
    sp = scale.sampling_period
    segments = []
    for k, stim in enumerate(stimuli):
        for null in (True, False):
            for sh in sheets:
                tag = f"{k:04d}_{sh.name.replace('/', '')}_{'null' if null else 'stim'}"
                if null:  # spontaneous activity: a tenth of the driven scale
                    rates, dur = sh.base_rate * hz * 0.1, scale.blank
                else:
                    rates, dur = drive(sh, stim) * hz, scale.duration
                values, offsets = tuned_spike_arrays(rates, dur, rng)
                signals = {}
                if not null:
                    r = rates[sh.recorded]
                    shape = (scale.signal_samples, len(sh.recorded))
                    v = -65.0 + 0.2 * r + 3.0 * _ou(rng, shape, 20.0, sp)
                    g = 0.002 + 1e-4 * r + 0.001 * _ou(rng, shape, 5.0, sp)
                    signals = {"v": _spill(v, directory, tag + "_v"),
                               "gsyn_exc": _spill(np.abs(g), directory, tag + "_g")}
                segments.append(SegmentData(
                    sh.name, k, null, sh.ids, _spill(values, directory, tag + "_t"),
                    offsets, 0.0, dur, sh.ids[sh.recorded], signals))
    return Model(scale, sheets, stimuli, segments)


def neo_segments(model: Model, stimulus: int, null: bool = False,
                 source_ids: bool = True) -> list[neo.Segment]:
    """PyNN-style ``neo.Segment`` objects (one per sheet) of one stimulus' recordings.

    Spike trains are views of the model's arrays, annotated ``channel_id`` (PyNN 0.13) and
    ``source_id`` (mozaik); signals are 2-D AnalogSignals annotated ``channel_ids`` (and
    ``source_ids`` when ``source_ids``). Segments carry ``sheet_name`` and, as mozaik adds
    them, the stimulus string in ``annotations["stimulus"]``.
    """
    out = []
    stim_string = str(model.stimuli[stimulus])
    for s in model.segments_of(stimulus, null):
        seg = neo.Segment(name=f"{s.sheet} {'blank' if null else 'stimulus'} {stimulus}",
                          sheet_name=s.sheet, stimulus=stim_string)
        seg.spiketrains = spiketrains_from_arrow(
            s.ids, s.values, s.offsets, "ms", s.t_start, s.t_stop,
            annotations={"source_population": s.sheet}, check=False)
        for name, arr in s.signals.items():
            ann = {"channel_ids": s.signal_ids}
            if source_ids:
                ann["source_ids"] = s.signal_ids
            seg.analogsignals.append(neo.AnalogSignal(
                arr, units=SIGNAL_UNITS[name], sampling_period=model.scale.sampling_period * pq.ms,
                t_start=s.t_start * pq.ms, name=name, source_population=s.sheet, **ann))
        out.append(seg)
    return out


def make_ads(model: Model, n: int | None = None) -> list:
    """``n`` analysis results (default: the scale's) computed from the model.

    Per stimulus and sheet: a ``PerNeuronValue`` "Firing rate" of every neuron, a
    ``SingleValue`` "Mean firing rate" and an ``AnalogSignalList`` "PSTH" (20 ms bins) of
    up to ten neurons; the rest are per-neuron ``SingleValue`` "Spike count" results
    (``neuron`` set), cycling over stimuli, sheets and neurons, as mozaik's per-neuron
    analyses produce.
    """
    n = model.scale.ads if n is None else n
    out: list = []
    recs = [s for s in model.segments if not s.null]
    for s in recs:
        stim = str(model.stimuli[s.stimulus])
        rate = s.counts / ((s.t_stop - s.t_start) / 1000.0)
        common = {"sheet_name": s.sheet, "stimulus_id": stim, "analysis_algorithm": "Bench"}
        out.append(PerNeuronValue(rate, s.ids, pq.Hz, value_name="Firing rate", **common))
        out.append(SingleValue(float(rate.mean()), pq.Hz, value_name="Mean firing rate",
                               **common))
        k = min(10, len(s.ids))
        bins = np.arange(s.t_start, s.t_stop + 20.0, 20.0)
        asl = [neo.AnalogSignal(np.histogram(s.values[s.offsets[i]:s.offsets[i + 1]], bins)[0]
                                * 50.0, units="Hz", sampling_period=20 * pq.ms)
               for i in range(k)]
        out.append(AnalogSignalList(asl, s.ids[:k], pq.Hz, x_axis_name="time",
                                    y_axis_name="PSTH", **common))
        if len(out) >= n:
            return out[:n]
    i = 0
    while len(out) < n:
        s = recs[i % len(recs)]
        again, j = divmod(i // len(recs), len(s.ids))  # past the last neuron: another name
        name = "Spike count" if again == 0 else f"Spike count {again}"
        out.append(SingleValue(float(s.counts[j]), pq.dimensionless, value_name=name,
                               neuron=int(s.ids[j]), sheet_name=s.sheet,
                               stimulus_id=str(model.stimuli[s.stimulus]),
                               analysis_algorithm="Bench"))
        i += 1
    return out


def write_recordings(store: Any, model: Model) -> float:
    """Seconds spent in ``store`` writing ``model``'s neuron ids, positions and every
    stimulus' null + real recordings (mozaik's DataStore calls; any store with them)."""
    spent = 0.0
    t = time.perf_counter()
    store.set_neuron_ids({s.name: s.ids for s in model.sheets})
    store.set_neuron_positions({s.name: s.positions for s in model.sheets})
    spent += time.perf_counter() - t
    for k, stim in enumerate(model.stimuli):
        null, segs = neo_segments(model, k, True), neo_segments(model, k)
        t = time.perf_counter()
        store.add_null_recording(null, stim)
        store.add_recording(segs, stim)
        spent += time.perf_counter() - t
        del null, segs
    return spent


def write_ads(store: Any, ads: list) -> float:
    """Seconds spent adding every analysis result of ``ads`` to ``store`` and saving."""
    t = time.perf_counter()
    for a in ads:
        store.add_analysis_result(a)
    store.save()
    return time.perf_counter() - t
