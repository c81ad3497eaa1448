"""Large recordings are split into several files, encoded in parallel; reads span them."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import neo
import numpy as np
import pyarrow.parquet as pq
import pytest
import quantities as pq_units

import mozaik_arrow as ma
from mozaik_arrow import schema, write_plan
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


def _signal(data: np.ndarray, ids: list[int], name: str) -> neo.AnalogSignal:
    return neo.AnalogSignal(data, units="mV", sampling_period=0.1 * pq_units.ms, name=name,
                            channel_ids=np.asarray(ids))


def test_signals_transposed_a_few_rows_at_a_time_read_back_exactly(store_path, monkeypatch):
    # ~7 row groups per chunk, several chunks per file; channels out of id order make runs of
    # one row, and float32 samples are widened on the way.
    monkeypatch.setattr(schema, "SIGNAL_VALUES_PER_GROUP", 2_000)
    monkeypatch.setattr(write_plan, "_TRANSPOSE_VALUES", 15_000)
    rng = np.random.default_rng(3)
    ids = [int(i) for i in rng.permutation(40) + 100]
    v = rng.standard_normal((1_000, 40))
    g = rng.standard_normal((1_000, 40)).astype(np.float32)
    seg_in = neo.Segment(sheet_name="V1_Exc_L4")
    seg_in.analogsignals = [_signal(v, ids, "v"), _signal(g, ids, "gsyn_exc")]
    with ma.open(store_path, "w") as store:
        store.add_recording(seg_in, STIM)
    with ma.open(store_path, "r") as store:
        seg = store.get_segments()[0]
        for name, data in (("v", v), ("gsyn_exc", g)):
            got = next(a for a in seg.analogsignals if a.name == name)
            order = np.argsort(ids)
            assert list(got.annotations["channel_ids"]) == sorted(ids)
            assert np.array_equal(got.magnitude, data[:, order].astype(np.float64))
        for path in seg._row["signals_files"]:
            meta = pq.ParquetFile(Path(store_path) / path).metadata
            sizes = [meta.row_group(k).num_rows for k in range(meta.num_row_groups)]
            assert sizes == [2] * 20  # 2 000 values per group / 1 000 samples, none split


def test_signals_are_not_copied_whole_before_writing(store_path):
    # 64 MB of samples in PyNN's (T x N) layout: the writer transposes them a few row
    # groups at a time, never into one recording-sized buffer (numpy allocations are traced).
    v = np.random.default_rng(0).standard_normal((20_000, 400))
    seg_in = neo.Segment(sheet_name="V1_Exc_L4")
    seg_in.analogsignals = [_signal(v, list(range(400)), "v")]
    small = neo.Segment(sheet_name="V1_Exc_L4")
    small.analogsignals = [_signal(v[:100, :2], [0, 1], "v")]
    with ma.open(store_path, "w") as store:
        store.add_recording(small, {**STIM, "trial": 1})  # first use imports modules lazily
        tracemalloc.start()
        try:
            store.add_recording(seg_in, STIM)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < v.nbytes / 4  # a few chunks of ~4 MB at once, not 64 MB
    with ma.open(store_path, "r") as store:
        seg = next(s for s in store.get_segments() if len(s.analogsignals[0]) == len(v))
        assert np.array_equal(seg.analogsignals[0].magnitude, v)
