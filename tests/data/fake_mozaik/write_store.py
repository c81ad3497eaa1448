"""Write a synthetic mozaik PickledDataStore with the fake ``mozaik`` package beside this file.

Run by tests/test_import_mozaik.py in a subprocess (``PYTHONPATH`` = this directory), so that
the test process never imports anything named ``mozaik`` or ``param``::

    python write_store.py OUT_DIR

Writes OUT_DIR (the store: null recordings around each grating and an EndOfSimulationBlank,
nine analysis results of other classes, both ``param`` layouts, sensory arrays, neuron ids,
positions and annotations) with ``expected.json`` inside, and OUT_DIR_bad_identifier (a block
whose wrapper's identifier is a path outside the directory).
"""

import json
import pickle
import sys
from collections import OrderedDict
from pathlib import Path

import neo
import numpy as np
import quantities as pq
from mozaik.analysis import data_structures as ds
from mozaik.stimuli import EndOfSimulationBlank
from mozaik.storage.neo_neurotools_wrapper import PickledDataStoreNeoWrapper

out = Path(sys.argv[1])
out.mkdir()
rng = np.random.default_rng(11)
GRATING = ('{"module_path" :"mozaik.stimuli.vision.visual_stimulus_library",'
           '"background_luminance":50.0, "contrast":100.0, "density":1.0, '
           '"direct_stimulation_name":None, "direct_stimulation_parameters":None, '
           '"duration":100.0, "frame_duration":7.0, "name":\'FullfieldDriftingSinusoidalGrating\', '
           '"orientation":%r, "trial":0}')
grating = [GRATING % 0.0, GRATING % 1.5707963267948966]
end_blank = EndOfSimulationBlank(duration=50.0, frame_duration=50.0, trial=0)
sheets = {"V1_Exc_L4": np.arange(3, 11), "V1_Inh_L4": np.arange(405, 409)}
block = neo.Block()
block.annotations["neuron_ids"] = sheets
block.annotations["neuron_positions"] = {s: rng.uniform(-1, 1, (2, len(i)))
                                         for s, i in sheets.items()}
block.annotations["neuron_annotations"] = {
    s: [{"type": s[3:6], "index": int(k)} for k in range(len(i))] for s, i in sheets.items()}
block.annotations["model_parameters"] = "{'sheets': {'l4': {'K': 1000}}}"
expected = {"segments": [], "ads": []}
plan = []  # (stimulus, null, t0, t1)
t = 0.0
for g in grating:
    plan += [(g, True, t, t + 50.0), (g, False, t + 50.0, t + 150.0)]
    t += 150.0
plan.append((end_blank, True, t, t + 50.0))
for stim, null, t0, t1 in plan:
    for sheet, ids in sheets.items():
        n = len(block.segments)
        seg = neo.Segment(name="segment000", description=f"Population {sheet}")
        for i in ids:
            times = np.sort(rng.uniform(t0, t1, int(rng.integers(0, 9))))
            seg.spiketrains.append(neo.SpikeTrain(times * pq.ms, t_start=t0 * pq.ms,
                                                  t_stop=t1 * pq.ms, source_id=int(i),
                                                  source_population=sheet))
        for name, units in (("v", pq.mV), ("gsyn_exc", pq.uS)):
            data = rng.normal(0, 1, (int((t1 - t0) * 10), 2))
            seg.analogsignals.append(neo.AnalogSignal(
                data * units, t_start=t0 * pq.ms, sampling_period=0.1 * pq.ms, name=name,
                source_ids=np.array(ids[:2]), source_population=sheet))
        # mozaik keeps the stimulus as its string; the very last blank keeps the object,
        # as an older store might: the importer writes it as mozaik's str() would
        last = stim is end_blank and sheet == "V1_Inh_L4"
        text = stim if isinstance(stim, str) else str(stim)
        seg.annotations["stimulus"] = stim if last else text
        seg.annotations["sheet_name"] = sheet
        ident = f"Segment{n}"
        with open(out / f"{ident}.pickle", "wb") as f:
            pickle.dump(seg, f)
        block.segments.append(PickledDataStoreNeoWrapper(seg, ident, "/elsewhere", null=null))
        expected["segments"].append({
            "file": f"{ident}.pickle", "null": null, "sheet": sheet, "stimulus": text,
            "trains": [[int(st.annotations["source_id"]), len(st), float(st.magnitude.sum())]
                       for st in seg.spiketrains],
            "signals": {s.name: [list(s.shape), float(s.magnitude.sum())]
                        for s in seg.analogsignals}})
with open(out / "datastore.recordings.pickle", "wb") as f:
    pickle.dump(block, f)

def sig(n, units, t0=0.0):
    return neo.AnalogSignal(rng.normal(0, 1, (n, 1)) * units, t_start=t0 * pq.ms,
                            sampling_period=1.0 * pq.ms)

exc = list(map(int, sheets["V1_Exc_L4"]))
common = dict(sheet_name="V1_Exc_L4", analysis_algorithm="Synthetic")
results = [
    ds.PerNeuronValue(rng.uniform(0, 9, len(exc)), exc, pq.Hz, value_name="rate",
                      stimulus_id=grating[0], tags=["rates"], **common),
    ds.PerNeuronPairValue(rng.uniform(-1, 1, (4, 4)), exc[:4], pq.dimensionless,
                          value_name="correlation", **common),
    ds.SingleValue(np.float64(2.5), pq.Hz, value_name="mean rate", period=None, **common),
    ds.SingleValueList([1.0, 2.0, 3.5], pq.ms, value_name="latencies", **common),
    ds.AnalogSignal(sig(20, pq.mV), pq.mV, x_axis_name="time", y_axis_name="vm",
                    stimulus_id=grating[1], **common),
    ds.AnalogSignalList([sig(20, pq.mV), sig(20, pq.mV)], exc[:2], pq.mV,
                        x_axis_name="time", y_axis_name="trial-averaged vm",
                        stimulus_id=grating[1], **common),
    ds.ConductanceSignalList([sig(15, pq.uS), sig(15, pq.uS)],
                             [sig(15, pq.uS), sig(15, pq.uS)], exc[:2],
                             stimulus_id=grating[0], **common),
    ds.PerNeuronPairAnalogSignalList([sig(10, pq.dimensionless), sig(10, pq.dimensionless)],
                                     [(3, 4), (4, 5)], pq.dimensionless,
                                     x_axis_name="lag", y_axis_name="xcorr", **common),
    ds.Connections([[0, 1, 0.5], [1, 2, 0.25]], [[0, 1, 1.0], [1, 2, 2.0]], 8, 4,
                   proj_name="exc->inh", source_name="V1_Exc_L4", target_name="V1_Inh_L4",
                   analysis_algorithm="Connections"),
]
for r in results:
    expected["ads"].append({"class": type(r).__name__, "str": str(r), "tags": r.tags})
with open(out / "datastore.analysis.pickle", "wb") as f:
    pickle.dump(results, f)
sensory = OrderedDict((g, rng.uniform(0, 100, (3, 4, 4))) for g in grating)
expected["sensory"] = {k: [list(v.shape), float(v.sum())] for k, v in sensory.items()}
with open(out / "datastore.sensory.stimulus.pickle", "wb") as f:
    pickle.dump(sensory, f)
expected["end_blank"] = str(end_blank)
expected["neurons"] = {k: v.tolist() for k, v in block.annotations["neuron_positions"].items()}
(out / "expected.json").write_text(json.dumps(expected))

# a block whose segment wrapper names a file outside the store directory
bad = out.parent / (out.name + "_bad_identifier")
bad.mkdir()
evil = neo.Block()
with open(out / "Segment2.pickle", "rb") as f:
    seg = pickle.load(f)
evil.segments.append(PickledDataStoreNeoWrapper(seg, "../src/Segment2", "/elsewhere"))
with open(bad / "datastore.recordings.pickle", "wb") as f:
    pickle.dump(evil, f)
