"""Write a mozaik PickledDataStore directory of generated data (run in a subprocess with the
test-suite's fake ``mozaik`` package on PYTHONPATH, so the benchmark never imports it).

    PYTHONPATH=tests/data/fake_mozaik python benchmarks/_write_mozaik_pickles.py OUT N_NEURONS N_STIMULI RATE_HZ
"""

import pickle
import sys
from collections import OrderedDict
from pathlib import Path

import neo
import numpy as np
import quantities as pq
from mozaik.analysis import data_structures as ds
from mozaik.storage.neo_neurotools_wrapper import PickledDataStoreNeoWrapper

out = Path(sys.argv[1])
n_neurons, n_stimuli, rate = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
out.mkdir(parents=True)
rng = np.random.default_rng(3)
n_exc = n_neurons * 4 // 5
sheets = {"V1_Exc_L4": np.arange(n_exc), "V1_Inh_L4": np.arange(n_exc, n_neurons)}
GRATING = ('{"module_path" :"mozaik.stimuli.vision.visual_stimulus_library",'
           '"background_luminance":50.0, "contrast":100.0, "density":1.0, '
           '"direct_stimulation_name":None, "direct_stimulation_parameters":None, '
           '"duration":1000.0, "frame_duration":7.0, "name":\'FullfieldDriftingSinusoidalGrating\', '
           '"orientation":%r, "trial":0}')
block = neo.Block()
block.annotations["neuron_ids"] = sheets
block.annotations["neuron_positions"] = {s: rng.uniform(-1, 1, (2, len(i))) for s, i in sheets.items()}
results, spikes = [], 0
for k in range(n_stimuli):
    stim = GRATING % (k * np.pi / n_stimuli)
    t0, t1 = k * 1000.0, (k + 1) * 1000.0
    for sheet, ids in sheets.items():
        counts = rng.poisson(rate, len(ids))
        seg = neo.Segment(name="segment000", description=f"Population {sheet}")
        for i, c in zip(ids, counts, strict=True):
            times = np.round(np.sort(rng.uniform(t0, t1, c)), 1)
            seg.spiketrains.append(neo.SpikeTrain(times * pq.ms, t_start=t0 * pq.ms,
                                                  t_stop=t1 * pq.ms, source_id=int(i)))
        spikes += int(counts.sum())
        vm = rng.normal(-65, 3, (10000, 20))
        seg.analogsignals.append(neo.AnalogSignal(vm * pq.mV, t_start=t0 * pq.ms,
                                                  sampling_period=0.1 * pq.ms, name="v",
                                                  source_ids=np.array(ids[:20])))
        seg.annotations.update(stimulus=stim, sheet_name=sheet)
        ident = f"Segment{len(block.segments)}"
        with open(out / f"{ident}.pickle", "wb") as f:
            pickle.dump(seg, f, protocol=pickle.HIGHEST_PROTOCOL)
        block.segments.append(PickledDataStoreNeoWrapper(seg, ident, "/elsewhere"))
        results.append(ds.PerNeuronValue(counts.astype(float), list(map(int, ids)), pq.Hz,
                                         value_name="Firing rate", sheet_name=sheet,
                                         stimulus_id=stim, analysis_algorithm="bench"))
        del seg
with open(out / "datastore.recordings.pickle", "wb") as f:
    pickle.dump(block, f, protocol=pickle.HIGHEST_PROTOCOL)
with open(out / "datastore.analysis.pickle", "wb") as f:
    pickle.dump(results, f, protocol=pickle.HIGHEST_PROTOCOL)
with open(out / "datastore.sensory.stimulus.pickle", "wb") as f:
    pickle.dump(OrderedDict(), f)
print(spikes)
