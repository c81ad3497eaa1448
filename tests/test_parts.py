"""Large recordings are split into several files, encoded in parallel; reads span them."""

from __future__ import annotations

import numpy as np
import pytest

import mozaik_arrow as ma
from mozaik_arrow import schema
from mozaik_arrow.neo_convert import Recording
from mozaik_arrow.synthetic import spike_arrays, synthetic_segment

STIM = {"name": "Grating", "module_path": "mozaik.stimuli", "orientation": 0.0, "trial": 0}


@pytest.fixture
def small_files(monkeypatch):
    monkeypatch.setattr(schema, "SPIKES_PER_FILE", 3000)
    monkeypatch.setattr(schema, "SIGNAL_VALUES_PER_FILE", 20_000)


def test_recording_split_into_parts_reads_back_exactly(store_path, small_files):
    seg_in = synthetic_segment("V1_Exc_L4", 1500, mean_rate=10.0, duration=1000.0,
                               n_signals=12, seed=4, first_id=10)
    with ma.open(store_path, "w") as store:
        store.add_recording(seg_in, STIM)
    with ma.open(store_path, "r") as store:
        seg = store.get_segments()[0]
        row = seg._row
        assert len(row["spikes_files"]) > 2
        assert row["spikes_first_ids"] == sorted(row["spikes_first_ids"])
        assert sorted(set(row["signals_file_names"])) == ["gsyn_exc", "gsyn_inh", "v"]
        assert len(row["signals_files"]) > 3  # 12 x 10001 samples per name > 20 000
        by_id = {st.annotations["channel_id"]: st for st in seg_in.spiketrains}
        got = seg.get_spiketrains()
        assert [st.annotations["channel_id"] for st in got] == sorted(by_id)
        for st in got:
            assert np.array_equal(st.magnitude, by_id[st.annotations["channel_id"]].magnitude)
        # ids from different files, in the asked order
        asked = [1509, 10, 700, 11, 1200]
        picked = seg.get_spiketrain(asked)
        assert [st.annotations["channel_id"] for st in picked] == asked
        for st in picked:
            assert np.array_equal(st.magnitude, by_id[st.annotations["channel_id"]].magnitude)
        v_in = next(a for a in seg_in.analogsignals if a.name == "v")
        for i in (10, 15, 21):
            col = list(v_in.annotations["channel_ids"]).index(i)
            assert np.array_equal(np.asarray(seg.get_vm(i).magnitude).ravel(), v_in.magnitude[:, col])
        full_v = next(a for a in seg.analogsignals if a.name == "v")
        assert np.array_equal(full_v.magnitude, v_in.magnitude)
        assert list(full_v.annotations["channel_ids"]) == list(v_in.annotations["channel_ids"])
        assert seg.get_stored_vm_ids() == list(range(10, 22))
        rates = seg.mean_rates()
        assert len(rates) == 1500
        assert store.spikes().collect().height == 1500
        assert store.signals("gsyn_inh").collect().height == 12


def test_recording_from_arrays(store_path):
    values, offsets = spike_arrays(300, 20.0, 1000.0, seed=2)
    ids = np.arange(300)[::-1] + 5  # descending: reordered by id on the way in
    rec = Recording.from_arrays("V1_Exc_L4", ids, values, offsets, units="ms", t_stop=1000.0)
    with ma.open(store_path, "w") as store:
        store.add_recording(rec, STIM)
        store.add_null_recording(rec, STIM)
    with ma.open(store_path, "r") as store:
        seg = store.get_segments()[0]
        assert store.get_segments(null=True)[0].null
        for row, nid in enumerate(ids):
            st = seg.get_spiketrain(int(nid))
            assert np.array_equal(st.magnitude, values[offsets[row]:offsets[row + 1]])
            assert float(st.t_stop) == 1000.0 and str(st.units.dimensionality) == "ms"
    with pytest.raises(ValueError, match="not sorted"):
        Recording.from_arrays("X", [1], np.array([2.0, 1.0]), [0, 2], t_stop=10.0)
    with pytest.raises(ValueError, match="after t_stop"):
        Recording.from_arrays("X", [1], np.array([20.0]), [0, 1], t_stop=10.0)
    with pytest.raises(ValueError, match="duplicate"):
        Recording.from_arrays("X", [1, 1], np.array([1.0, 2.0]), [0, 1, 2], t_stop=10.0)
