"""Bit-exact round trip of real PyNN/NEST recordings: API, polars frames and duckdb globs."""

from __future__ import annotations

import duckdb
import neo
import numpy as np
import polars as pl
import pytest

import mozaik_arrow as ma
from mozaik_arrow.parametrized import canonical_stimulus


@pytest.fixture(scope="module", params=["local", "s3"])
def filled_store(request, filled_store):
    """Every test of this module runs on the session's store on disk and on the same
    written to S3 (a local moto server)."""
    return filled_store if request.param == "local" else request.getfixturevalue("filled_s3")


def _duckdb(location) -> duckdb.DuckDBPyConnection:
    """A duckdb connection that reads ``location``'s URLs (S3 through s3fs: duckdb's own
    httpfs extension cannot be installed offline)."""
    con = duckdb.connect()
    if str(location).startswith("s3://"):
        import s3fs

        con.register_filesystem(s3fs.S3FileSystem(skip_instance_cache=True))
    return con


def _train_id(st: neo.SpikeTrain) -> int:
    return int(st.annotations.get("channel_id", st.annotations.get("source_id")))


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and np.array_equal(a.view(np.int64), b.view(np.int64))


def _expected(sim, null: bool):
    """(sheet, stimulus key) → original neo Segment."""
    out = {}
    for p in sim.recordings:
        key = canonical_stimulus(p.stimulus)[1]
        for seg in p.null_segments if null else p.segments:
            out[(seg.annotations.get("sheet_name") or seg.spiketrains[0].annotations["source_population"], key)] = seg
    return out


def _stored(store, null: bool):
    out = {}
    for seg in store.get_segments(null=null):
        key = canonical_stimulus(seg.annotations["stimulus"])[1]
        out[(seg.annotations["sheet_name"], key)] = seg
    return out


def _check_trains(orig: neo.Segment, got: list[neo.SpikeTrain], every: bool = True) -> None:
    want = {_train_id(st): st for st in orig.spiketrains}
    if every:
        assert sorted(want) == sorted(_train_id(st) for st in got)
    for st in got:
        o = want[_train_id(st)]
        assert isinstance(st, neo.SpikeTrain)
        assert _same_bits(st.magnitude, o.magnitude)
        assert st.units == o.units and st.dimensionality.string == o.dimensionality.string
        assert _same_bits(st.t_start.magnitude, o.t_start.magnitude)
        assert _same_bits(st.t_stop.magnitude, o.t_stop.magnitude)
        assert st.t_start.units == o.t_start.units and st.t_stop.units == o.t_stop.units
        assert st.annotations["source_id"] == st.annotations["channel_id"] == _train_id(o)


@pytest.mark.parametrize("null", [False, True])
def test_spike_trains_round_trip_bit_exact(sim, filled_store, null):
    with ma.open(filled_store, "r") as store:
        expected = _expected(sim, null)
        stored = _stored(store, null)
        assert set(stored) == set(expected)
        for k, seg in stored.items():
            orig = expected[k]
            assert seg.null is null
            assert seg.neuron_num() == len(orig.spiketrains)
            _check_trains(orig, list(seg.get_spiketrains()))
            # one neuron at a time, and a list in the asked order
            ids = [_train_id(st) for st in orig.spiketrains]
            _check_trains(orig, [seg.get_spiketrain(ids[0])], every=False)
            picked = seg.get_spiketrain(ids[::-1][:5])
            assert [_train_id(st) for st in picked] == ids[::-1][:5]
            _check_trains(orig, picked, every=False)
            assert sorted(seg.get_stored_spike_train_ids()) == sorted(ids)


def test_signals_round_trip_bit_exact(sim, filled_store):
    with ma.open(filled_store, "r") as store:
        expected = _expected(sim, False)
        for k, seg in _stored(store, False).items():
            orig = expected[k]
            by_name = {a.name: a for a in orig.analogsignals}
            assert sorted(by_name) == ["gsyn_exc", "gsyn_inh", "v"]
            for a in seg.analogsignals:
                o = by_name[a.name]
                assert a.shape == o.shape
                assert _same_bits(a.magnitude, o.magnitude)
                assert a.units == o.units
                assert _same_bits(a.sampling_period.magnitude, o.sampling_period.magnitude)
                assert a.sampling_period.units == o.sampling_period.units
                assert _same_bits(a.t_start.magnitude, o.t_start.magnitude)
                assert list(a.annotations["channel_ids"]) == list(o.annotations["channel_ids"])
            ids = list(by_name["v"].annotations["channel_ids"])
            assert seg.get_stored_vm_ids() == ids
            assert seg.get_stored_esyn_ids() == ids
            assert seg.get_stored_isyn_ids() == ids
            for i in (ids[0], ids[-1]):
                col = ids.index(i)
                vm = seg.get_vm(i)
                assert _same_bits(np.asarray(vm.magnitude).ravel(), by_name["v"].magnitude[:, col])
                es = seg.get_esyn(i)
                assert _same_bits(np.asarray(es.magnitude).ravel(), by_name["gsyn_exc"].magnitude[:, col])
                gi = seg.get_isyn(i)
                assert _same_bits(np.asarray(gi.magnitude).ravel(), by_name["gsyn_inh"].magnitude[:, col])
            two = seg.get_vm([ids[1], ids[0]])
            assert len(two) == 2
            assert _same_bits(np.asarray(two[0].magnitude).ravel(), by_name["v"].magnitude[:, 1])


def test_spikes_frame_matches_originals(sim, filled_store):
    with ma.open(filled_store, "r") as store:
        df = store.spikes().collect()
        expected = {**{(k, False): v for k, v in _expected(sim, False).items()},
                    **{(k, True): v for k, v in _expected(sim, True).items()}}
        assert df.height == sum(len(s.spiketrains) for s in expected.values())
        assert set(df.columns) >= {"segment_id", "sheet_name", "stimulus", "null", "neuron_id",
                                   "units", "t_start", "t_stop", "times", "n_spikes"}
        for row in df.iter_rows(named=True):
            seg = expected[((row["sheet_name"], row["stimulus"]), row["null"])]
            st = next(s for s in seg.spiketrains if _train_id(s) == row["neuron_id"])
            assert _same_bits(np.array(row["times"]), st.magnitude)
            assert row["units"] == st.dimensionality.string
            assert row["t_start"] == float(st.t_start.magnitude)
            assert row["t_stop"] == float(st.t_stop.magnitude)
            assert row["n_spikes"] == len(st)


def test_signals_frame_and_duckdb_match_originals(sim, filled_store):
    expected = _expected(sim, False)
    with ma.open(filled_store, "r") as store:
        frame = store.signals("v").filter(~pl.col("null")).collect()
    con = _duckdb(filled_store)
    sql = con.sql(
        f"SELECT sheet, stimulus, neuron_id, units, time_units, t_start, sampling_period, samples "
        f"FROM read_parquet('{filled_store}/signals/sheet=*/stimulus=*/*.parquet', "
        f"hive_partitioning=1) WHERE name = 'v' AND NOT \"null\""
    ).pl()
    assert sql.height == frame.height > 0
    for row in sql.iter_rows(named=True):
        seg = expected[(row["sheet"], row["stimulus"])]
        v = next(a for a in seg.analogsignals if a.name == "v")
        col = list(v.annotations["channel_ids"]).index(row["neuron_id"])
        assert _same_bits(np.array(row["samples"]), v.magnitude[:, col])
        assert row["units"] == v.dimensionality.string
        assert row["time_units"] == v.t_start.dimensionality.string
        assert row["sampling_period"] == float(v.sampling_period.magnitude)
        assert row["t_start"] == float(v.t_start.magnitude)


def test_duckdb_glob_reads_every_spike_exactly(sim, filled_store):
    expected = _expected(sim, False)
    con = _duckdb(filled_store)
    rel = con.sql(
        f"SELECT sheet, stimulus, neuron_id, units, t_start, t_stop, times, n_spikes "
        f"FROM read_parquet('{filled_store}/spikes/sheet=*/stimulus=*/*.parquet', "
        f"hive_partitioning=1) WHERE NOT \"null\""
    ).pl()
    assert rel.height == sum(len(s.spiketrains) for s in expected.values())
    for row in rel.iter_rows(named=True):
        seg = expected[(row["sheet"], row["stimulus"])]
        st = next(s for s in seg.spiketrains if _train_id(s) == row["neuron_id"])
        assert _same_bits(np.array(row["times"], dtype=np.float64), st.magnitude)
        assert row["n_spikes"] == len(st)
    # The metadata tables are globbable too, and agree with the API.
    segs = con.sql(f"SELECT * FROM read_parquet('{filled_store}/segments/*.parquet')").pl()
    with ma.open(filled_store, "r") as store:
        api = store.segments_frame().collect()
        assert sorted(segs["segment_id"].to_list()) == sorted(api["segment_id"].to_list())
        stim = con.sql(f"SELECT * FROM read_parquet('{filled_store}/stimuli/*.parquet')").pl()
        assert sorted(stim["stimulus_string"].to_list()) == sorted(
            set(store.get_stimuli()) | set(store.get_stimuli(null=True))
        )


def test_polars_glob_equals_api(filled_store):
    glob = pl.scan_parquet(
        f"{filled_store}/spikes/sheet=*/stimulus=*/*.parquet",
        hive_partitioning=True,
        hive_schema={"sheet": pl.String, "stimulus": pl.String},
    ).select("segment_id", "neuron_id", "n_spikes").sort("segment_id", "neuron_id").collect()
    with ma.open(filled_store, "r") as store:
        api = store.spikes().select("segment_id", "neuron_id", "n_spikes").sort(
            "segment_id", "neuron_id").collect()
    assert glob.equals(api)


def test_store_order_stimuli_and_segments(sim, filled_store):
    with ma.open(filled_store, "r") as store:
        stimuli = store.get_stimuli()
        segs = store.get_segments()
        assert [s.annotations["stimulus"] for s in segs] == stimuli
        # insertion order: presentations in order, sheets in the order given
        want = [canonical_stimulus(p.stimulus)[0] for p in sim.recordings for _ in p.segments]
        assert stimuli == want
        assert store.sheets() == list(sim.sheets)
        assert len(store.get_segments(null=True)) == len(sim.recordings) * len(sim.sheets)
        assert store.get_stimuli(null=True) == want


def test_neuron_metadata_round_trip(sim, filled_store):
    with ma.open(filled_store, "r") as store:
        for sheet in sim.sheets:
            ids = sim.neuron_ids[sheet]
            assert np.array_equal(store.get_sheet_ids(sheet), ids)
            assert np.array_equal(store.get_sheet_ids(sheet, [2, 0]), ids[[2, 0]])
            assert store.get_sheet_indexes(sheet, int(ids[3])) == 3
            assert store.get_sheet_indexes(sheet, [int(ids[5]), int(ids[1])]) == [5, 1]
            with pytest.raises(ValueError, match="not in sheet"):
                store.get_sheet_indexes(sheet, -1)
            pos = store.get_neuron_postions()[sheet]
            assert _same_bits(pos, sim.neuron_positions[sheet])
            assert _same_bits(store.get_neuron_positions()[sheet], pos)
            assert store.get_neuron_annotations()[sheet] == sim.neuron_annotations[sheet]


def test_sensory_stimuli_round_trip(sim, filled_store):
    with ma.open(filled_store, "r") as store:
        arrays = store.get_sensory_stimulus()
        assert len(arrays) == len(sim.recordings)
        for got, p in zip(arrays, sim.recordings, strict=True):
            assert got.dtype == p.sensory.dtype and np.array_equal(got, p.sensory)
        # by stimulus, in the order given, skipping unknown ones
        last, first = sim.recordings[-1], sim.recordings[0]
        unknown = dict(first.stimulus, trial=99)
        picked = store.get_sensory_stimulus([last.stimulus, unknown, first.stimulus])
        assert [a.tobytes() for a in picked] == [last.sensory.tobytes(), first.sensory.tobytes()]
        copy = store.sensory_stimulus_copy()
        assert set(copy) == {canonical_stimulus(p.stimulus)[0] for p in sim.recordings}


def test_identify_unpresented_stimuli(sim, filled_store):
    with ma.open(filled_store, "r") as store:
        first = sim.recordings[0].stimulus
        new = dict(first, trial=5)
        reordered = {k: first[k] for k in sorted(first, reverse=True)}
        assert store.identify_unpresented_stimuli([new, reordered, first]) == [new]


def test_segment_name_description_and_annotations_round_trip(store_path):
    from mozaik_arrow.synthetic import synthetic_segment

    seg = synthetic_segment("V1_Exc_L4", 4, seed=1)
    seg.name, seg.description = "segment000", "first presentation"
    seg.annotations.update(trial_note="ok", weights=(1.5, 2.0), count=np.int64(3), flag=True)
    with ma.open(store_path, "w") as store:
        store.add_recording(seg, {"name": "Blank", "trial": 0})
    with ma.open(store_path, "r") as store:
        got = store.get_segments()[0]
        assert got.name == "segment000" and got.description == "first presentation"
        assert got.annotations["trial_note"] == "ok" and got.annotations["weights"] == (1.5, 2.0)
        assert got.annotations["count"] == 3 and got.annotations["flag"] is True
        assert got.annotations["sheet_name"] == "V1_Exc_L4"
        assert got.annotations["stimulus"] == canonical_stimulus({"name": "Blank", "trial": 0})[0]


def test_segments_sharing_annotations_get_their_own_copies(store_path):
    """Recordings written with equal annotations come back as independent dicts: changing
    one segment's (a mutable value included) changes no other segment, nor a later read."""
    from mozaik_arrow.synthetic import synthetic_segment

    with ma.open(store_path, "w") as store:
        for trial in range(2):
            seg = synthetic_segment("V1_Exc_L4", 4, seed=trial)
            seg.annotations.update(layers=["L4", "L2/3"], gain={"exc": 1.0})
            store.add_recording(seg, {"name": "Blank", "trial": trial})
    with ma.open(store_path, "r") as store:
        a, b = store.get_segments()
        a.annotations["layers"].append("L5")
        a.annotations["gain"]["exc"] = 2.0
        a.annotations["extra"] = 1
        assert b.annotations["layers"] == ["L4", "L2/3"] and b.annotations["gain"] == {"exc": 1.0}
        assert "extra" not in b.annotations
        again = store.get_segments()[0]
        assert again.annotations["layers"] == ["L4", "L2/3"] and "extra" not in again.annotations


def test_segments_have_what_a_neo_segment_has(filled_store):
    """A segment makes its child containers on first use: it still has every attribute of a
    neo.Segment, and neo's container methods see its loaded children (and only them)."""
    seg = ma.open(filled_store, "r").get_segments()[0]
    plain = neo.Segment()
    for name, value in vars(plain).items():
        got = getattr(seg, name)
        if isinstance(value, list):
            assert list(got) == [] and type(got) is type(value), name
    assert seg.block is None and seg.file_datetime is None and seg.index is None
    assert not seg.events and not seg.epochs and not seg.imagesequences
    n = len(seg.spiketrains)
    assert n and seg.size["spiketrains"] == n and seg.size["events"] == 0
    assert all(st.segment is seg for st in seg.spiketrains)
    assert len(seg.filter(objects=neo.SpikeTrain)) == n
    assert len(seg.analogsignals) == len(seg._row["signal_names"])
    assert set(vars(plain)) <= set(vars(seg))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        seg.nope  # noqa: B018


def _spike_counts(seg) -> dict[int, int]:
    """Run in a spawned process: the segment arrives pickled and reads the store there."""
    return {_train_id(st): len(st) for st in seg.spiketrains}


def test_segments_deepcopy_and_pickle(filled_store):
    """``copy.deepcopy`` gives an independent segment linked to its copied children (neo's
    own deepcopy cannot rebuild a store segment); a pickled segment carries its metadata
    row, not its data, and reads the store in the process that unpickles it."""
    import copy
    import multiprocessing
    import pickle
    from concurrent.futures import ProcessPoolExecutor

    store = ma.open(filled_store, "r")
    lazy, loaded = store.get_segments()[:2]
    loaded.spiketrains  # noqa: B018 - load one of the two
    for seg in (lazy, loaded):
        dup = copy.deepcopy(seg)
        assert type(dup) is type(seg) and dup.identifier == seg.identifier
        assert dup._trains_loaded == seg._trains_loaded
        dup.annotations["sheet_name"] = "changed"
        assert seg.annotations["sheet_name"] != "changed"
        assert all(st.segment is dup for st in dup.spiketrains)
        for a, b in zip(dup.spiketrains, seg.spiketrains, strict=True):
            assert a is not b and _same_bits(a.magnitude, b.magnitude)
        back = pickle.loads(pickle.dumps(seg))
        assert back.annotations == seg.annotations and back._row == seg._row
        assert [_train_id(st) for st in back.spiketrains] == [_train_id(st) for st in seg.spiketrains]
    # unloaded, a segment pickles to its row: no spike of it travels
    assert len(pickle.dumps(store.get_segments()[0])) < 4096
    want = [_spike_counts(s) for s in store.get_segments()]
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert list(pool.map(_spike_counts, store.get_segments())) == want
