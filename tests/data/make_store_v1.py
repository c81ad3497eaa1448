"""Write the committed fixture store of format version 1 (run once; never rewritten).

    python tests/data/make_store_v1.py tests/data/store_v1

The store and ``store_v1.expected.json`` are committed: tests/test_format_fixture.py reads
the store with the current code and compares with the JSON, so a change of the format (or of
how the reader interprets it) cannot go unnoticed. Regenerate only with a format version
bump, keeping the old fixture for the old version.
"""

import json
import sys
from pathlib import Path

import neo
import numpy as np
import quantities as pq

import mozaik_arrow as ma
from mozaik_arrow.ads import AnalogSignalList, PerNeuronPairValue, PerNeuronValue, SingleValue
from mozaik_arrow.synthetic import synthetic_segment


def describe(path: Path) -> dict:
    """What the current code reads back from a store: the expected JSON of the fixture, and
    what tests/test_format_fixture.py compares it with."""
    with ma.open(path, "r") as s:
        segments = []
        for null in (False, True):
            for g in s.get_segments(null=null):
                segments.append({
                    "sheet": g.annotations["sheet_name"], "stimulus": g.annotations["stimulus"],
                    "null": null,
                    "trains": [[int(t.annotations["source_id"]), len(t),
                                float(np.sum(t.magnitude)), str(t.units.dimensionality),
                                float(t.t_start), float(t.t_stop)] for t in g.get_spiketrains()],
                    "signals": {a.name: [list(a.shape), float(np.sum(a.magnitude)),
                                         float(a.sampling_period)] for a in g.analogsignals}})
        return {
            "format_version": ma.FORMAT_VERSION,
            "segments": segments,
            "ads": [[a.identifier, str(a)] for a in s.analysis_result_copy()],
            "model_parameters": s.get_model_parameters(),
            "neuron_ids": {sh: s.get_sheet_ids(sh).tolist() for sh in ("V1_Exc_L4", "V1_Inh_L4")},
            "sensory": [[list(a.shape), float(a.sum())] for a in s.get_sensory_stimulus()],
        }


def write(out: Path) -> None:
    """Write the fixture store at ``out`` and its expected JSON beside it."""
    grating = {"name": "FullfieldDriftingSinusoidalGrating", "module_path": "mozaik.stimuli.vision",
               "orientation": 0.0, "contrast": 100.0, "trial": 0, "duration": 200.0,
               "direct_stimulation_name": None, "direct_stimulation_parameters": None}
    blank = {"name": "EndOfSimulationBlank", "module_path": "mozaik.stimuli", "trial": 0,
             "duration": 50.0, "direct_stimulation_name": None,
             "direct_stimulation_parameters": None}
    with ma.open(out, "w") as s:
        s.set_neuron_ids({"V1_Exc_L4": np.arange(1, 13), "V1_Inh_L4": np.arange(100, 104)})
        s.set_neuron_positions({"V1_Exc_L4": np.linspace(-1, 1, 24).reshape(2, 12),
                                "V1_Inh_L4": np.linspace(-1, 1, 8).reshape(2, 4)})
        s.set_model_parameters("{'name': 'fixture', 'sheets': {'V1_Exc_L4': {'density': 12.0}}}")
        for k, stim in enumerate((dict(grating), dict(grating, orientation=np.pi / 2))):
            segs = [synthetic_segment("V1_Exc_L4", 12, duration=200.0, n_signals=3, seed=k,
                                      sampling_period=1.0),
                    synthetic_segment("V1_Inh_L4", 4, first_id=100, duration=200.0, seed=10 + k)]
            s.add_recording(segs, stim)
            s.add_null_recording(synthetic_segment("V1_Exc_L4", 12, duration=50.0, seed=20 + k), stim)
        s.add_recording(synthetic_segment("V1_Exc_L4", 12, duration=50.0, seed=30), blank)
        s.add_stimulus(np.arange(12.0).reshape(3, 4), grating)
        st = ma.parametrized.canonical_stimulus(grating)[0]
        s.add_analysis_result(PerNeuronValue(np.arange(12.0), np.arange(1, 13), pq.Hz,
                                             value_name="Firing rate", sheet_name="V1_Exc_L4",
                                             stimulus_id=st, tags=["rates"]))
        s.add_analysis_result(SingleValue(3.5, pq.Hz, value_name="mean rate", period=None))
        s.add_analysis_result(PerNeuronPairValue(np.eye(3), [1, 2, 3], pq.dimensionless,
                                                 value_name="corr", sheet_name="V1_Exc_L4"))
        sig = neo.AnalogSignal(np.arange(10.0).reshape(10, 1), units="mV", sampling_period=1 * pq.ms)
        s.add_analysis_result(AnalogSignalList([sig], [1], pq.mV, y_axis_name="vm",
                                               sheet_name="V1_Exc_L4"))

    expected = describe(out)
    (out.parent / f"{out.name}.expected.json").write_text(json.dumps(expected, indent=1) + "\n")


if __name__ == "__main__":
    write(Path(sys.argv[1]))
