"""Views and segments read metadata only; one neuron reads one row group, not the sheet."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import quantities as pq_

import mozaik_arrow as ma
from mozaik_arrow import hot_files, schema
from mozaik_arrow.ads import PerNeuronValue
from mozaik_arrow.synthetic import synthetic_segment

from ._locations import LocalLocation, S3Location

STIM = {"name": "FullfieldDriftingSinusoidalGrating", "module_path": "mozaik.stimuli", "orientation": 0.0, "trial": 0}


@pytest.fixture(params=["local", "s3"])
def where(request, tmp_path):
    """A new store location: a directory, or a prefix on the session's S3 server."""
    if request.param == "local":
        return LocalLocation(tmp_path / "store")
    ep = request.getfixturevalue("s3_env")
    return S3Location(ep, ep.unique_prefix("lazy"))


@pytest.fixture
def filled_copy(request, where, filled_store):
    """A copy of the session's filled store (on disk, or written to S3), at ``where``."""
    if where.kind == "local":
        return LocalLocation(filled_store).copy(where)
    source = request.getfixturevalue("filled_s3")
    return S3Location(where.ep, source.split("/", 3)[3]).copy(where)


def test_views_and_segments_work_without_recording_files(filled_copy):
    store_dir = filled_copy.url
    with ma.open(store_dir, "r") as store:
        spikes_file = store.get_segments()[0]._row["spikes_files"][0]
    filled_copy.remove_tree("spikes")
    filled_copy.remove_tree("signals")
    with ma.open(store_dir, "r") as store:
        segs = store.get_segments()
        nulls = store.get_segments(null=True)
        assert len(segs) == len(nulls) > 0
        assert store.sheets() and store.get_stimuli()
        frame = store.segments_frame().collect()
        assert frame.height == len(segs) + len(nulls)
        assert all(s.neuron_num() > 0 for s in segs)
        assert segs[0].annotations["sheet_name"] in store.sheets()
        view = store.recordings_copy()
        assert len(view.get_segments()) == len(segs)
        # reading a neuron now fails, naming the missing file
        first = segs[0]
        with pytest.raises(ma.MissingFileError) as err:
            first.get_spiketrain(1)
        assert spikes_file in str(err.value)
        with pytest.raises(FileNotFoundError, match="spikes/sheet="):
            first.get_spiketrains()
        with pytest.raises(FileNotFoundError, match="signals/sheet="):
            first.get_vm(0)


def _group_byte_ranges(data: bytes):
    md = pq.read_metadata(pa.BufferReader(data))
    out = []
    for g in range(md.num_row_groups):
        rg = md.row_group(g)
        lo = min(
            min(c.data_page_offset, c.dictionary_page_offset or c.data_page_offset)
            for c in (rg.column(i) for i in range(rg.num_columns))
        )
        hi = max(
            c.data_page_offset + c.total_compressed_size if not c.dictionary_page_offset
            else c.dictionary_page_offset + c.total_compressed_size
            for c in (rg.column(i) for i in range(rg.num_columns))
        )
        out.append((lo, hi))
    return out


def test_one_neuron_reads_only_its_row_group(where):
    n = 10 * schema.SPIKES_ROWS_PER_GROUP
    seg_in = synthetic_segment("V1_Exc_L4", n, mean_rate=20.0, seed=3, first_id=100)
    with ma.open(where.url, "w") as store:
        store.add_recording(seg_in, STIM)
    with ma.open(where.url, "r") as store:
        rel = store.get_segments()[0]._row["spikes_files"][0]
    data = bytearray(where.read(rel))
    ranges = _group_byte_ranges(bytes(data))
    assert len(ranges) == 10
    target_group = 4
    target_id = 100 + target_group * schema.SPIKES_ROWS_PER_GROUP + 17
    # Destroy every other row group's bytes: a read that touched them would fail.
    for g, (lo, hi) in enumerate(ranges):
        if g != target_group:
            data[lo:hi] = b"\xff" * (hi - lo)
    where.write(rel, bytes(data))
    want = next(st for st in seg_in.spiketrains if st.annotations["channel_id"] == target_id)
    with ma.open(where.url, "r") as store:
        seg = store.get_segments()[0]
        st = seg.get_spiketrain(target_id)
        assert np.array_equal(st.magnitude, want.magnitude)
        with pytest.raises(ma.CorruptFileError, match=rel.rsplit("/", 1)[1]):
            seg.get_spiketrains()
        with pytest.raises(ValueError, match="neuron 5 has no spike train"):
            seg.get_spiketrain(5)


def test_neighbouring_neurons_reuse_their_decoded_row_group(where):
    """mozaik's idiom is a loop of get_spiketrain(i) over neighbouring ids: their row group is
    decoded once and kept (a bounded LRU). Damage done to it after the first read is not seen
    by the loop; a store opened afresh decodes again and reports it."""
    n = 10 * schema.SPIKES_ROWS_PER_GROUP
    seg_in = synthetic_segment("V1_Exc_L4", n, mean_rate=20.0, seed=5, first_id=100)
    with ma.open(where.url, "w") as store:
        store.add_recording(seg_in, STIM)
    by_id = {st.annotations["channel_id"]: st for st in seg_in.spiketrains}
    ids = [100 + 4 * schema.SPIKES_ROWS_PER_GROUP + k for k in range(schema.SPIKES_ROWS_PER_GROUP)]
    with ma.open(where.url, "r") as store:
        seg = store.get_segments()[0]
        rel = seg._row["spikes_files"][0]
        seg.get_spiketrain(ids[0])
        data = bytearray(where.read(rel))
        lo, hi = _group_byte_ranges(bytes(data))[4]
        data[lo:hi] = b"\xff" * (hi - lo)
        where.write(rel, bytes(data))
        got = [seg.get_spiketrain(i) for i in ids]
        for i, st in zip(ids, got, strict=True):
            assert np.array_equal(st.magnitude, by_id[i].magnitude)
        with pytest.raises(ma.CorruptFileError):
            seg.get_spiketrains()  # a whole-segment read decodes the file again
    with ma.open(where.url, "r") as store, pytest.raises(ma.CorruptFileError):
        store.get_segments()[0].get_spiketrain(ids[1])


def _hot(store) -> bool:
    """Whether ``store`` holds a spikes file decoded whole."""
    return any(hot_files.HOT_FILES.get((store._files._owner, rel, cols)) is not None
               for rel, cols in store._files._hot_columns.items())


def test_a_loop_over_many_neurons_decodes_their_file_once(where):
    """One-neuron reads spread over a file: once they have decoded a quarter of its row
    groups one by one, the file is decoded whole and the loop reads from memory (damage done
    after that is not seen; a store opened afresh reports it). Fewer, sparse reads never
    decode the whole file."""
    per = schema.SPIKES_ROWS_PER_GROUP
    seg_in = synthetic_segment("V1_Exc_L4", 16 * per, mean_rate=20.0, seed=7, first_id=100)
    by_id = {st.annotations["channel_id"]: st for st in seg_in.spiketrains}
    with ma.open(where.url, "w") as store:
        store.add_recording(seg_in, STIM)
    first_of = [100 + g * per + 5 for g in range(16)]
    with ma.open(where.url, "r") as store:
        seg = store.get_segments()[0]
        for i in first_of[:3] + first_of[:3]:  # three groups of sixteen: not a quarter
            seg.get_spiketrain(i)
        assert not _hot(store)
        before = pa.total_allocated_bytes()
        seg.get_spiketrain(first_of[3])
        assert _hot(store)
        rel = seg._row["spikes_files"][0]
        # the row groups kept one by one are dropped as twins of the whole file
        assert not [k for k in store._files._decoded if k[0] == rel]
        _destroy_row_groups(where, rel)
        ids = np.random.default_rng(0).permutation(sorted(by_id)).tolist()
        for i in ids:
            st = seg.get_spiketrain(i)
            want = by_id[i]
            assert np.array_equal(st.magnitude.view(np.int64), want.magnitude.view(np.int64))
            assert st.t_start == want.t_start and st.t_stop == want.t_stop
            assert st.annotations["channel_id"] == i and st.segment is seg
            assert not st.flags.writeable
        # the file is held once: its chunks are neither joined nor copied for the reads
        (hot,) = [hot_files.HOT_FILES.get((store._files._owner, r, c))[0]
                  for r, c in store._files._hot_columns.items()]
        assert pa.total_allocated_bytes() - before <= hot.nbytes + 2**16
        assert len(seg.get_spiketrains()) == len(by_id)  # whole-segment reads use it too
        with pytest.raises(ValueError, match="neuron 5 has no spike train"):
            seg.get_spiketrain(5)
    assert not _hot(store)  # closing the store let its files go
    with ma.open(where.url, "r") as store, pytest.raises(ma.CorruptFileError):
        store.get_segments()[0].get_spiketrain(ids[0])


def test_one_neuron_reads_from_threads_while_the_file_is_promoted(tmp_path):
    """Segments are read from worker threads too: reads racing the promotion of their file
    (and each other's derived tables) all return the right trains."""
    from concurrent.futures import ThreadPoolExecutor

    per = schema.SPIKES_ROWS_PER_GROUP
    seg_in = synthetic_segment("V1_Exc_L4", 16 * per, mean_rate=20.0, seed=9, first_id=0)
    by_id = {st.annotations["channel_id"]: st for st in seg_in.spiketrains}
    with ma.open(tmp_path / "s", "w") as store:
        store.add_recording(seg_in, STIM)
    ids = np.random.default_rng(1).choice(sorted(by_id), 3000).tolist()
    with ma.open(tmp_path / "s") as store:
        seg = store.get_segments()[0]
        with ThreadPoolExecutor(4) as pool:
            got = list(pool.map(seg.get_spiketrain, ids))
        assert _hot(store)
    for i, st in zip(ids, got, strict=True):
        assert st.annotations["channel_id"] == i
        assert np.array_equal(st.magnitude.view(np.int64), by_id[i].magnitude.view(np.int64))


def test_a_damaged_row_group_fails_only_its_own_reads_in_a_loop(tmp_path):
    """A loop of one-neuron reads over a file with one damaged row group: the file cannot be
    decoded whole, the reads of intact groups still succeed, the damaged group's raise."""
    per = schema.SPIKES_ROWS_PER_GROUP
    where = LocalLocation(tmp_path / "store")
    seg_in = synthetic_segment("V1_Exc_L4", 8 * per, mean_rate=20.0, seed=4, first_id=0)
    by_id = {st.annotations["channel_id"]: st for st in seg_in.spiketrains}
    with ma.open(where.url, "w") as store:
        store.add_recording(seg_in, STIM)
    with ma.open(where.url, "r") as store:
        rel = store.get_segments()[0]._row["spikes_files"][0]
    data = bytearray(where.read(rel))
    lo, hi = _group_byte_ranges(bytes(data))[7]
    data[lo:hi] = b"\xff" * (hi - lo)
    where.write(rel, bytes(data))
    with ma.open(where.url, "r") as store:
        seg = store.get_segments()[0]
        for i in [g * per + 3 for g in range(7)]:
            assert np.array_equal(seg.get_spiketrain(i).magnitude, by_id[i].magnitude)
        assert not _hot(store)
        with pytest.raises(ma.CorruptFileError):
            seg.get_spiketrain(7 * per + 3)


def test_a_loop_over_many_vm_reads_decodes_their_file_once(where, monkeypatch):
    """The same for a signal: once one-neuron Vm reads have decoded a quarter of the file's
    row groups, the file is decoded whole; the signals then read from memory equal the ones
    the table path builds (attribute by attribute) and survive damage done after that."""
    from .test_neo_convert import assert_same_signal

    seg_in = synthetic_segment("V1_Exc_L4", 40, n_signals=16, signal_names=("v",), seed=2,
                               first_id=100)
    with ma.open(where.url, "w") as store:
        store.add_recording(seg_in, STIM)
    ids = list(range(100, 116))
    with monkeypatch.context() as m, ma.open(where.url, "r") as store:
        m.setattr(hot_files.HOT_FILES, "limit", 0)  # the table path, one row group each
        want = [store.get_segments()[0].get_vm(i) for i in ids]
    with ma.open(where.url, "r") as store:
        seg = store.get_segments()[0]
        rel = seg._row["signals_files"][0]
        assert store._files.file(rel).metadata.num_row_groups == 16
        for i in ids[:3]:
            seg.get_vm(i)
        assert not _hot(store)
        seg.get_vm(ids[3])
        assert _hot(store)
        _destroy_row_groups(where, rel)
        for i, w in zip(ids, want, strict=True):
            got = seg.get_vm(i)
            assert_same_signal(got, w)
            assert list(got.__dict__) == list(w.__dict__)
            assert got.segment is None and not got.flags.writeable
        with pytest.raises(ValueError, match="no 'v' signal"):
            seg.get_vm(5)
    with ma.open(where.url, "r") as store, pytest.raises(ma.CorruptFileError):
        store.get_segments()[0].get_vm(ids[0])


def test_files_decoded_whole_share_one_budget(tmp_path, monkeypatch):
    """Every store of the process draws on one budget: a file larger than half of it is
    never decoded whole, and the least recently used file goes first."""
    per = schema.SPIKES_ROWS_PER_GROUP
    stores = []
    for k in range(3):
        with ma.open(tmp_path / f"s{k}", "w") as store:
            store.add_recording(synthetic_segment("V1_Exc_L4", 8 * per, mean_rate=20.0,
                                                  seed=k, first_id=0), STIM)
        stores.append(ma.open(tmp_path / f"s{k}"))

    def loop(store) -> None:
        seg = store.get_segments()[0]
        for g in range(8):
            seg.get_spiketrain(g * per)

    budget = hot_files.HotFiles(2**30)
    monkeypatch.setattr(hot_files, "HOT_FILES", budget)
    loop(stores[0])
    one = budget.nbytes
    assert _hot(stores[0]) and one > 0
    stores[0]._files.clear()
    assert budget.nbytes == 0 and not _hot(stores[0])
    budget.limit = 2 * one - 1  # a file takes more than half of it
    loop(stores[0])
    assert not _hot(stores[0]) and budget.nbytes == 0
    stores[0]._files.clear()
    budget.limit = 2 * one + one // 2  # two files of this size fit, not three
    for s in stores:
        loop(s)
    assert [_hot(s) for s in stores] == [False, True, True]
    assert budget.nbytes <= budget.limit
    loop(stores[0])  # pushed out, then looped over again: decoded whole again
    assert [_hot(s) for s in stores] == [True, False, True]
    for s in stores:
        s.close()
    assert budget.nbytes == 0


def _destroy_row_groups(where, rel):
    data = bytearray(where.read(rel))
    for lo, hi in _group_byte_ranges(bytes(data)):
        data[lo:hi] = b"\xff" * (hi - lo)
    where.write(rel, bytes(data))


def test_rates_and_analysis_results_read_again_decode_nothing(where):
    """Mean rates read only the spike counts, and analysis results their payload rows: both
    stay decoded in the store's LRU (committed files never change), so reading them again
    decodes nothing. Damage done after the first read is not seen by that store; a store
    opened afresh decodes again and reports it."""
    seg_in = synthetic_segment("V1_Exc_L4", 300, mean_rate=20.0, seed=3)
    with ma.open(where.url, "w") as store:
        store.add_recording(seg_in, STIM)
        store.add_analysis_result(PerNeuronValue(np.arange(300.0), list(range(300)), pq_.Hz,
                                                 value_name="rate", sheet_name="V1_Exc_L4"))
    with ma.open(where.url, "r") as store:
        seg = store.get_segments()[0]
        rates = seg.mean_rates()
        want = np.array([len(st) for st in seg_in.spiketrains]) / float(
            (seg_in.spiketrains[0].t_stop - seg_in.spiketrains[0].t_start).rescale("s"))
        assert np.allclose(rates, want)
        (pnv,) = store.get_analysis_result(value_name="rate")
        _destroy_row_groups(where, seg._row["spikes_files"][0])
        _destroy_row_groups(where, store._ads().select("_payload_file").collect().item())
        assert np.array_equal(seg.mean_rates(), rates)
        (again,) = store.get_analysis_result(value_name="rate")
        assert np.array_equal(again.values, pnv.values) and again.ids == pnv.ids
        again.values[0] = -1.0  # objects are copies: the kept row is not changed
        assert store.get_analysis_result(value_name="rate")[0].values[0] == 0.0
    with ma.open(where.url, "r") as store:
        with pytest.raises(ma.CorruptFileError):
            store.get_segments()[0].mean_rates()
        with pytest.raises(ma.CorruptFileError):
            store.get_analysis_result(value_name="rate")


def test_frames_filtered_to_real_recordings_skip_the_null_ones(tmp_path):
    """``null`` has row-group statistics: polars prunes the null recordings' row groups
    (their bytes destroyed here) when a frame is filtered to the real recordings."""
    path = tmp_path / "store"
    real = synthetic_segment("V1_Exc_L4", 300, mean_rate=20.0, seed=1)
    with ma.open(path, "w") as store:
        store.add_null_recording(synthetic_segment("V1_Exc_L4", 300, seed=2), STIM)
        store.add_recording(real, STIM)
    with ma.open(path, "r") as store:
        rel = store.get_segments(null=True)[0]._row["spikes_files"][0]
    data = bytearray((path / rel).read_bytes())
    for lo, hi in _group_byte_ranges(bytes(data)):
        data[lo:hi] = b"\xff" * (hi - lo)
    (path / rel).write_bytes(bytes(data))
    with ma.open(path, "r") as store:
        frame = (store.spikes().filter(~pl.col("null")).select("neuron_id", "times")
                 .collect())
        assert frame.height == 300
        want = {st.annotations["channel_id"]: st.magnitude for st in real.spiketrains}
        for i, times in zip(frame["neuron_id"].to_list(), frame["times"].to_list(), strict=True):
            assert np.array_equal(times, want[i])
        with pytest.raises(pl.exceptions.PolarsError):  # the null recording's bytes are gone
            store.spikes().select("neuron_id", "times").collect()


def test_get_segments_reads_no_recording_data(where, monkeypatch):
    with ma.open(where.url, "w") as store:
        store.add_recording(synthetic_segment("V1_Exc_L4", 50, n_signals=2, seed=1), STIM)
    with ma.open(where.url, "r") as store:
        calls = []
        real_file = store._files.file
        monkeypatch.setattr(store._files, "file", lambda rel: calls.append(rel) or real_file(rel))
        segs = store.get_segments()
        view = store.recordings_copy()
        view.get_stimuli(), view.sheets(), segs[0].neuron_num(), repr(segs[0])
        store.spikes(), store.signals("v")  # plans only
        assert calls == []
        segs[0].get_spiketrain(1)
        assert len(set(calls)) == 1 and "spikes/" in calls[0]


def test_release_and_load_full(where):
    seg_in = synthetic_segment("V1_Exc_L4", 30, n_signals=4, seed=2)
    with ma.open(where.url, "w") as store:
        store.add_recording(seg_in, STIM)
        seg = store.get_segments()[0]
        seg.load_full()
        assert seg.full and len(seg.spiketrains) == 30 and len(seg.analogsignals) == 3
        assert all(st.segment is seg for st in seg.spiketrains)
        seg.release()
        assert not seg.full
        assert len(seg.spiketrains) == 30
