"""Analysis results in a store: exact round trip of every type, uniqueness, replace, durability."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import neo
import numpy as np
import pytest
import quantities as pq

import mozaik_arrow as ma
from mozaik_arrow.ads import AnalogSignalList, PerNeuronValue, SingleValue
from mozaik_arrow.neo_convert import Recording

from ._util import tree
from .test_ads import STIM, assert_same_ads, examples

ROOT = Path(__file__).resolve().parent.parent


def _pnv(i: int, value_name: str = "rate", **params) -> PerNeuronValue:
    ids = np.arange(10 * i, 10 * i + 10)
    params.setdefault("sheet_name", "V1_Exc_L4")
    return PerNeuronValue(np.linspace(0.0, 1.0, 10) + i, ids, pq.Hz, value_name=value_name,
                          tags=["rates"], **params)


def test_every_type_round_trips_through_the_store(store_path):
    ex = examples()
    with ma.open(store_path, "w") as store:
        for objs in ex.values():
            for a in objs:
                store.add_analysis_result(a)
    with ma.open(store_path, "r") as store:
        for ident, objs in ex.items():
            got = store.get_analysis_result(identifier=ident)
            assert len(got) == len(objs)
            for a, b in zip(objs, got, strict=True):
                assert_same_ads(a, b)
        everything = store.analysis_result_copy()
        assert [a.identifier for a in everything] == [a.identifier for o in ex.values() for a in o]


def test_results_are_pending_until_save_then_durable(store_path):
    store = ma.open(store_path, "w")
    store.add_analysis_result(_pnv(1))
    assert len(store.get_analysis_result(value_name="rate")) == 1  # visible while pending
    with ma.open(store_path, "r") as other:
        assert other.get_analysis_result() == []  # not committed yet
    store.save()
    with ma.open(store_path, "r") as other:
        assert len(other.get_analysis_result(value_name="rate")) == 1
    store.close()


def test_uniqueness_and_replace(store_path):
    with ma.open(store_path, "w") as store:
        store.add_analysis_result(_pnv(1))
        with pytest.raises(ValueError, match="same parameters"):
            store.add_analysis_result(_pnv(2))  # same parameters, other payload: pending clash
        store.save()
        before = tree(store_path)
        with pytest.raises(ValueError, match="same parameters"):
            store.add_analysis_result(_pnv(3))  # committed clash
        store.add_analysis_result(_pnv(3, value_name="other"))
    assert tree(store_path) != before
    with ma.open(store_path, "a", replace=True) as store:
        store.add_analysis_result(_pnv(7))  # replaces the first, in its place
    with ma.open(store_path, "r") as store:
        got = store.get_analysis_result(identifier="PerNeuronValue")
        assert [a.value_name for a in got] == ["rate", "other"]
        assert np.array_equal(np.asarray(got[0].values), np.asarray(_pnv(7).values))
        # the replaced row is gone from the glob too
        rows = duckdb.sql(
            f"SELECT value_name FROM read_parquet('{store_path}/ads/*.parquet', union_by_name=1)"
        ).fetchall()
        assert sorted(r[0] for r in rows) == ["other", "rate"]


def test_get_analysis_result_follows_mozaiks_filter_rules(store_path):
    with ma.open(store_path, "w") as store:
        store.add_analysis_result(_pnv(1, stimulus_id=STIM))
        store.add_analysis_result(_pnv(2, value_name="orientation preference", period=np.pi))
        store.add_analysis_result(SingleValue(3.0, pq.Hz, value_name="rate", sheet_name="V1_Inh_L4"))
        sig = neo.AnalogSignal(np.zeros((5, 1)), units="mV", sampling_period=1 * pq.ms)
        store.add_analysis_result(AnalogSignalList([sig], [4], pq.mV, y_axis_name="vm",
                                                   sheet_name="V1_Exc_L4"))
    with ma.open(store_path, "r") as store:
        g = store.get_analysis_result
        assert len(g()) == 4
        assert [a.identifier for a in g(value_name="rate")] == ["PerNeuronValue", "SingleValue"]
        assert len(g(identifier=["PerNeuronValue", "SingleValue"], sheet_name="V1_Exc_L4")) == 2
        # period=None matches types that declare period with value None, not AnalogSignalList
        assert [a.identifier for a in g(period=None)] == ["PerNeuronValue", "SingleValue"]
        assert [a.value_name for a in g(period=np.pi)] == ["orientation preference"]
        # a parameter nobody has matches nothing; a value of another type matches nothing
        assert g(no_such_parameter=1) == [] and g(value_name=3) == []
        # stimulus_id in any spelling of the stimulus
        reordered = ma.parametrized.format_parametrized(ma.parametrized.parse_stimulus_string(STIM))
        assert len(g(stimulus_id=STIM)) == len(g(stimulus_id=reordered)) == 1
        frame = store.ads_frame().collect()
        assert {"ads_key", "identifier", "tags", "value_name", "stimulus", "stimulus_id"} <= set(frame.columns)
        assert not any(c.startswith("_") for c in frame.columns)


def test_racing_identical_ads_across_processes(store_path, tmp_path):
    """Three processes queue an identical ADS (and one of their own), then save at once:
    exactly one stores the shared one; the others save the rest and name what they dropped."""
    ma.open(store_path, "w").close()
    go = tmp_path / "go"
    code = (
        "import os, sys, time, numpy as np, quantities as pq, mozaik_arrow as ma\n"
        "from mozaik_arrow.ads import PerNeuronValue\n"
        "s = ma.open(sys.argv[1], 'a')\n"
        "s.add_analysis_result(PerNeuronValue(np.ones(3), [1, 2, 3], pq.Hz, value_name='race'))\n"
        "s.add_analysis_result(PerNeuronValue(np.ones(3), [1, 2, 3], pq.Hz, value_name=sys.argv[2]))\n"
        "print('ready', flush=True)\n"
        "while not os.path.exists(sys.argv[3]): time.sleep(0.005)\n"
        "s.close()\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(store_path), f"own{i}", str(go)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(3)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    go.write_text("go")
    results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    assert sum(rc == 0 for *_, rc in results) == 1
    for _, err, rc in results:
        if rc != 0:
            assert "dropped" in err and "race" in err
    with ma.open(store_path, "r") as store:
        names = sorted(a.value_name for a in store.get_analysis_result())
    assert names == ["own0", "own1", "own2", "race"]  # the rest of each batch was saved


def test_bad_ads_input(store_path):
    with ma.open(store_path, "w") as store:
        before = tree(store_path)
        with pytest.raises(ValueError, match="AnalysisDataStructure"):
            store.add_analysis_result({"identifier": "PerNeuronValue"})
        store.save()
        assert tree(store_path) == before
    with ma.open(store_path, "r") as store, pytest.raises(PermissionError):
        store.add_analysis_result(_pnv(1))


def test_recording_queries_never_read_ads_metadata(store_path):
    """Views are lazy in their ADS too: a query on recordings or stimuli works with the ADS
    metadata gone; asking for the ADS then names the missing file."""
    rec = Recording.from_arrays("V1_Exc_L4", np.arange(3), np.array([1.0, 2.0]),
                                np.array([0, 1, 1, 2]), t_stop=10.0)
    with ma.open(store_path, "w") as store:
        store.add_recording(rec, STIM)
        store.add_analysis_result(_pnv(1, stimulus_id=STIM))
    (meta,) = (store_path / "ads").glob("*.parquet")
    meta.unlink()
    with ma.open(store_path, "r") as store:
        view = ma.queries.param_filter_query(store, st_name="EndOfSimulationBlank", sheet_name="V1_Exc_L4")
        assert len(view.get_segments()) == 1 and view.sheets() == ["V1_Exc_L4"]
        parts = ma.queries.partition_by_stimulus_paramter_query(store, ["trial"])
        assert len(parts) == 1 and len(parts[0].get_segments()) == 1
        with pytest.raises(ma.MissingFileError, match=meta.name):
            view.get_analysis_result()


def test_a_view_made_before_save_still_gives_its_ads(store_path):
    with ma.open(store_path, "w") as store:
        store.add_analysis_result(_pnv(1))
        view = ma.queries.param_filter_query(store, value_name="rate")
        store.save()
        store.add_analysis_result(_pnv(2, analysis_algorithm="B"))  # after the view: not in it
        (got,) = view.get_analysis_result()
        assert_same_ads(got, _pnv(1))
        assert len(store.get_analysis_result(value_name="rate")) == 2
