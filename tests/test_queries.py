"""mozaik's query semantics, rule by rule, on a store with several stimulus types, trials,
sheets, null recordings and ADS types with and without stimulus; plus a hypothesis test
against a naive Python re-statement of the reference rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
import quantities as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mozaik_arrow as ma
from mozaik_arrow import queries as q
from mozaik_arrow.ads import AnalogSignalList, PerNeuronValue, SingleValue
from mozaik_arrow.ads_payload import ads_params
from mozaik_arrow.flatten import stimulus_params
from mozaik_arrow.parametrized import canonical_stimulus, value_text
from mozaik_arrow.synthetic import synthetic_segment

SHEETS = ("V1_Exc_L4", "V1_Inh_L4")


def grating(o: float, c: float, trial: int) -> dict:
    return {"name": "FullfieldDriftingSinusoidalGrating", "module_path": "mozaik.stimuli.vision",
            "orientation": o, "contrast": c, "trial": trial, "duration": 100.0,
            "direct_stimulation_name": None, "direct_stimulation_parameters": None}


def blank(trial: int) -> dict:
    return {"name": "EndOfSimulationBlank", "module_path": "mozaik.stimuli", "duration": 100.0,
            "trial": trial, "direct_stimulation_name": None, "direct_stimulation_parameters": None}


STIMULI = [grating(o, c, t) for t in (0, 1) for c in (10.0, 100.0) for o in (0.0, math.pi / 2)]
STIMULI += [blank(0), blank(1)]


def _ads_for(stim: dict, sheet: str, i: int):
    s = canonical_stimulus(stim)[0]
    return [
        PerNeuronValue(np.arange(3.0) + i, [1, 2, 3], pq.Hz, value_name="Firing rate",
                       sheet_name=sheet, stimulus_id=s, tags=["rates", sheet]),
        SingleValue(float(i), pq.Hz, value_name="mean rate", sheet_name=sheet, stimulus_id=s,
                    period=None, tags=["summary"]),
    ]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("queries") / "store"
    with ma.open(path, "w") as s:
        i = 0
        for k, stim in enumerate(STIMULI):
            segs = [synthetic_segment(sh, 4, seed=k * 2 + j, duration=100.0)
                    for j, sh in enumerate(SHEETS)]
            s.add_recording(segs, stim)
            if k % 3 == 0:
                s.add_null_recording(segs[0], stim)
            for sh in SHEETS:
                for a in _ads_for(stim, sh, i):
                    s.add_analysis_result(a)
                i += 1
        # ADS without stimulus, and a type that declares no `period`
        s.add_analysis_result(SingleValue(1.0, pq.Hz, value_name="mean rate", tags=["summary"]))
        import neo

        asl = [neo.AnalogSignal(np.zeros((4, 1)), units="mV", sampling_period=1 * pq.ms)]
        s.add_analysis_result(AnalogSignalList(asl, [1], pq.mV, y_axis_name="vm",
                                               sheet_name="V1_Exc_L4", tags=["vm"]))
    return ma.open(path, "r")


def _orients(view, null=False):
    return [stimulus_params(s).get("orientation") for s in view.get_stimuli(null=null)]


# -- param_filter_query ------------------------------------------------------------------------
def test_stimulus_parameter_filters(store):
    v = q.param_filter_query(store, st_orientation=0.0)
    assert set(_orients(v)) == {0.0} and len(v.get_segments()) == 8
    assert len(q.param_filter_query(store, st_orientation=0).get_segments()) == 8  # 0 == 0.0
    # a list means any of; keys are ANDed
    v = q.param_filter_query(store, st_orientation=[0.0, math.pi / 2], st_contrast=100.0, st_trial=1)
    assert len(v.get_segments()) == 4
    # the blank lacks `orientation`: it never matches an orientation filter, even None
    assert q.param_filter_query(store, st_orientation=None).get_segments() == []
    v = q.param_filter_query(store, st_name="EndOfSimulationBlank")
    assert len(v.get_segments()) == 4
    # store order is kept
    assert v.get_stimuli() == [s for s in store.get_stimuli() if "EndOfSimulationBlank" in s]


def test_sheet_name_and_other_keys_on_recordings(store):
    v = q.param_filter_query(store, sheet_name="V1_Inh_L4")
    assert {s.annotations["sheet_name"] for s in v.get_segments()} == {"V1_Inh_L4"}
    assert len(v.get_segments()) == len(STIMULI)
    # sheet_name also filters ADS by their own sheet_name parameter
    assert {a.sheet_name for a in v.analysis_result_copy()} == {"V1_Inh_L4"}
    # any other key keeps no recordings (recordings have no such parameters)
    v = q.param_filter_query(store, value_name="Firing rate")
    assert v.get_segments() == [] and v.get_segments(null=True) == []
    assert {a.value_name for a in v.analysis_result_copy()} == {"Firing rate"}


def test_ads_filters(store):
    v = q.param_filter_query(store, identifier=["PerNeuronValue", "SingleValue"], sheet_name="V1_Exc_L4",
                             value_name="mean rate")
    got = v.analysis_result_copy()
    assert len(got) == len(STIMULI) and {a.identifier for a in got} == {"SingleValue"}
    # st_ on ADS drops those without stimulus
    v = q.param_filter_query(store, st_name="EndOfSimulationBlank")
    assert all(a.stimulus_id is not None for a in v.analysis_result_copy())
    assert len(v.analysis_result_copy()) == 2 * 2 * 2
    # period=None: declared (SingleValue, PerNeuronValue) vs not declared (AnalogSignalList)
    ids = {a.identifier for a in store.get_analysis_result(period=None)}
    assert ids == {"PerNeuronValue", "SingleValue"}


def test_unique_flags(store):
    with pytest.raises(ValueError, match="Result was expected to have only single ADS, it contains 2"):
        q.param_filter_query(store, ads_unique=True, value_name="mean rate",
                             st_orientation=0.0, st_contrast=10.0, st_trial=0)
    v = q.param_filter_query(store, ads_unique=True, value_name="mean rate", sheet_name="V1_Exc_L4",
                             st_orientation=0.0, st_contrast=10.0, st_trial=0)
    assert len(v.analysis_result_copy()) == 1
    with pytest.raises(ValueError, match="single Segment, it contains 2"):
        q.param_filter_query(store, rec_unique=True, st_orientation=0.0, st_contrast=10.0, st_trial=0)
    # rec_unique counts what get_segments() returns: the null recording does not count
    v = q.param_filter_query(store, rec_unique=True, sheet_name="V1_Exc_L4", st_orientation=0.0,
                             st_contrast=10.0, st_trial=0)
    assert len(v.get_segments()) == 1 and len(v.get_segments(null=True)) == 1


def test_null_recordings_follow_the_same_rules(store):
    v = q.param_filter_query(store, st_name="EndOfSimulationBlank", sheet_name="V1_Exc_L4")
    nulls = v.get_segments(null=True)
    assert nulls and all("EndOfSimulationBlank" in s.annotations["stimulus"] for s in nulls)
    assert all(s.annotations["sheet_name"] == "V1_Exc_L4" for s in nulls)


def test_tag_based_query(store):
    v = q.tag_based_query(store, ["rates", "V1_Inh_L4"])
    got = v.analysis_result_copy()
    assert len(got) == len(STIMULI) and all(a.sheet_name == "V1_Inh_L4" for a in got)
    assert len(v.get_segments()) == len(store.get_segments())  # recordings all kept
    assert q.TagBasedQuery({"tags": ["vm"]}).query(store).analysis_result_copy()[0].identifier == \
        "AnalogSignalList"


# -- partitions --------------------------------------------------------------------------------
def test_partition_by_stimulus_parameter(store):
    gratings = q.param_filter_query(store, st_name="FullfieldDriftingSinusoidalGrating")
    parts = q.partition_by_stimulus_paramter_query(gratings, ["orientation"])
    assert len(parts) == 4  # contrast x trial
    for p in parts:
        params = [stimulus_params(s) for s in p.get_stimuli()]
        assert len({(d["contrast"], d["trial"]) for d in params}) == 1  # the others are equal
        assert {d["orientation"] for d in params} == {0.0, math.pi / 2}  # the listed one varies
    # order of first appearance
    firsts = [stimulus_params(p.get_stimuli()[0]) for p in parts]
    assert [(d["trial"], d["contrast"]) for d in firsts] == [(0, 10.0), (0, 100.0), (1, 10.0), (1, 100.0)]
    assert q.PartitionByStimulusParameterQuery({"parameter_list": ["orientation"]}).query(gratings)[0] \
        .get_stimuli() == parts[0].get_stimuli()
    with pytest.raises(AssertionError):
        q.partition_by_stimulus_paramter_query(store, ["name"])
    with pytest.raises(KeyError, match="orientation"):
        q.partition_by_stimulus_paramter_query(store, ["orientation"])  # the blank lacks it


def test_partition_analysis_results(store):
    rates = q.param_filter_query(store, value_name="Firing rate")
    parts = q.partition_analysis_results_by_parameters_query(rates, ["sheet_name"])
    # only sheet_name varies within a part: one part per stimulus
    assert len(parts) == len(STIMULI)
    for p in parts:
        ads = p.analysis_result_copy()
        assert {a.sheet_name for a in ads} == set(SHEETS) and len({a.stimulus_id for a in ads}) == 1
        assert len(p.get_segments()) == len(rates.get_segments())  # recordings kept
    parts = q.partition_analysis_results_by_parameters_query(rates, ["sheet_name"], excpt=True)
    assert [len(p.analysis_result_copy()) for p in parts] == [len(STIMULI)] * 2
    with pytest.raises(AssertionError):
        q.partition_analysis_results_by_parameters_query(store, ["sheet_name"], excpt=True)
    assert q.partition_analysis_results_by_parameters_query(store.fromDataStoreView(), ["x"]) == []
    by_st = q.partition_analysis_results_by_stimulus_parameters_query(
        q.param_filter_query(rates, st_name="FullfieldDriftingSinusoidalGrating"), ["orientation"])
    assert len(by_st) == 4
    for p in by_st:
        st_params = [stimulus_params(a.stimulus_id) for a in p.analysis_result_copy()]
        assert len({(d["contrast"], d["trial"]) for d in st_params}) == 1
    with pytest.raises(AssertionError, match="stimulus id"):
        q.partition_analysis_results_by_stimulus_parameters_query(store, ["orientation"])


def test_stimulus_partitions_keep_module_paths_apart(tmp_path):
    """mozaik's colapse groups by the collapsed stimulus' string, which begins with its
    module_path: equal parameters from two modules are two groups (one stored, one only
    named by an ADS)."""
    def grating_in(module: str, o: float) -> dict:
        return {**grating(o, 100.0, 0), "module_path": module}

    with ma.open(tmp_path / "s", "w") as s:
        for k, module in enumerate(["mozaik.stimuli.vision", "mylab.stimuli"]):
            for o in (0.0, 1.0):
                stim = grating_in(module, o)
                if k == 0:
                    s.add_recording([synthetic_segment(SHEETS[0], 3, seed=int(o), duration=100.0)],
                                    stim)
                s.add_analysis_result(SingleValue(o, pq.Hz, value_name="r", sheet_name=SHEETS[0],
                                                  stimulus_id=canonical_stimulus(stim)[0], period=None))
        s.add_recording([synthetic_segment(SHEETS[0], 3, seed=5, duration=100.0)],
                        grating_in("mylab.stimuli", 0.0))
        s.save()
        for view in (s, ma.open(tmp_path / "s")):
            by_module = q.partition_by_stimulus_paramter_query(view, ["orientation"])
            assert [len(p.get_segments()) for p in by_module] == [2, 1]
            parts = q.partition_analysis_results_by_stimulus_parameters_query(view, ["orientation"])
            # excpt: only trial (and name) held equal, yet the modules stay apart
            excpt = q.partition_analysis_results_by_stimulus_parameters_query(
                view, ["trial"], excpt=True)
            for p in (*parts, *excpt):
                assert len(p.get_analysis_result()) == 2
                assert len({canonical_stimulus(a.stimulus_id)[2]["module_path"]
                            for a in p.get_analysis_result()}) == 1
            assert len(parts) == len(excpt) == 2


# -- predicates --------------------------------------------------------------------------------
def test_predicates(store):
    gratings = q.param_filter_query(store, st_name="FullfieldDriftingSinusoidalGrating")
    assert q.equal_stimulus_type(gratings) is True
    assert q.equal_stimulus_type(store) is False
    assert q.equal_ads_type(q.param_filter_query(store, identifier="SingleValue")) is True
    assert q.equal_ads_type(store) is False  # mozaik raises here; the documentation says False
    one = q.param_filter_query(store, value_name="Firing rate", st_trial=0, st_contrast=10.0,
                               st_orientation=0.0)
    assert q.equal_ads_except(one, ["sheet_name"]) is True
    assert q.equal_ads_except(one, []) is False
    assert q.equal_ads(one, params=["value_name", "identifier"]) is True
    g1 = q.param_filter_query(gratings, st_trial=1, st_contrast=10.0)
    assert q.equal_stimulus(g1, ["orientation"]) is True and q.equal_stimulus(g1, []) is False
    assert q.ads_with_equal_stimulus_type(gratings) is True
    assert q.ads_with_equal_stimulus_type(store) is False
    summary = q.tag_based_query(store, ["summary"])
    assert q.ads_with_equal_stimulus_type(summary) is False  # one ADS has no stimulus
    assert q.ads_with_equal_stimulus_type(q.param_filter_query(summary, st_name="EndOfSimulationBlank"),
                                          allow_None=True) is True
    assert q.ads_with_equal_stimuli(one, params=["orientation", "trial"]) is True


def test_queries_read_no_recording_data(store, monkeypatch):
    calls = []
    real = store._files.file
    monkeypatch.setattr(store._files, "file", lambda rel: calls.append(rel) or real(rel))
    v = q.param_filter_query(store, st_orientation=0.0, sheet_name="V1_Exc_L4")
    q.partition_by_stimulus_paramter_query(
        q.param_filter_query(v, st_name="FullfieldDriftingSinusoidalGrating"), ["trial"])
    v.get_segments(), v.segments_frame().collect(), v.stimuli_frame().collect()
    assert not [c for c in calls if c.startswith(("spikes/", "signals/"))]


def test_stimuli_frame_has_typed_parameter_columns(store):
    df = store.stimuli_frame().collect()
    assert df.height == len(STIMULI)
    assert {"stimulus", "stimulus_string", "name", "module_path", "orientation", "contrast",
            "trial", "duration"} <= set(df.columns)
    assert df["trial"].dtype.is_integer() and df["orientation"].dtype.is_float()
    v = q.param_filter_query(store, st_contrast=10.0)
    assert v.stimuli_frame().collect()["contrast"].unique().to_list() == [10.0]


# -- hypothesis: against a naive statement of the reference rules -------------------------------
def _naive_matches(params: dict, kwargs: dict) -> bool:
    for k, v in kwargs.items():
        if k not in params:
            return False
        values = v if isinstance(v, list) else [v]
        if value_text(params[k]) not in {value_text(x) for x in values}:
            return False
    return True


def _naive(store, kwargs):
    st_kw = {k[3:]: v for k, v in kwargs.items() if k.startswith("st_")}
    rest = {k: v for k, v in kwargs.items() if not k.startswith("st_")}
    recs = []
    for seg in store.get_segments() + store.get_segments(null=True):
        if rest and set(rest) != {"sheet_name"}:
            continue
        if rest and not _naive_matches({"sheet_name": seg.annotations["sheet_name"]}, rest):
            continue
        if st_kw and not _naive_matches(stimulus_params(seg.annotations["stimulus"]), st_kw):
            continue
        recs.append(seg.identifier)
    ads = []
    for a in store.analysis_result_copy():
        if not _naive_matches(ads_params(a), rest):
            continue
        if st_kw and (a.stimulus_id is None or not _naive_matches(stimulus_params(a.stimulus_id), st_kw)):
            continue
        ads.append(a)
    return sorted(recs), ads


VALUES = {
    "st_orientation": [0.0, math.pi / 2, 0, None, 1.0],
    "st_contrast": [10.0, 100, 55.5],
    "st_trial": [0, 1, 1.0, True],
    "st_name": ["EndOfSimulationBlank", "FullfieldDriftingSinusoidalGrating", "X"],
    "sheet_name": list(SHEETS) + ["nope"],
    "value_name": ["Firing rate", "mean rate", "vm"],
    "identifier": ["PerNeuronValue", "SingleValue", "AnalogSignalList"],
    "period": [None, 1.0],
    "y_axis_name": ["vm", None],
}


@st.composite
def filters(draw):
    keys = draw(st.lists(st.sampled_from(sorted(VALUES)), max_size=3, unique=True))
    out = {}
    for k in keys:
        if draw(st.booleans()):
            out[k] = draw(st.lists(st.sampled_from(VALUES[k]), min_size=1, max_size=3))
        else:
            out[k] = draw(st.sampled_from(VALUES[k]))
    return out


def _as_plan(view):
    """The same view with its recordings as a polars plan (queries on a store pick rows of
    its snapshot instead: both paths must agree)."""
    return ma.DataStoreView(None, view.full_datastore, recordings=view._recordings(), ads=view._ads())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kwargs=filters())
def test_param_filter_query_equals_the_naive_rules(store, kwargs):
    recs, ads = _naive(store, kwargs)
    for start in (store, _as_plan(store)):
        v = q.param_filter_query(start, **kwargs)
        got = sorted(s.identifier for s in v.get_segments() + v.get_segments(null=True))
        assert got == recs
        assert [ads_params(a) for a in v.analysis_result_copy()] == [ads_params(a) for a in ads]
        assert v.get_stimuli() == [s.annotations["stimulus"] for s in v.get_segments()]
        assert v.segments_frame().collect()["segment_id"].sort().to_list() == recs
    # the same rules on a plain mapping (collections filter runs by model parameters so)
    for a in store.analysis_result_copy():
        rest = {k: v for k, v in kwargs.items() if not k.startswith("st_")}
        assert q.params_match(ads_params(a), rest) == _naive_matches(ads_params(a), rest)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=filters(), second=filters())
def test_chained_queries_equal_one_query_on_a_plan(store, first, second):
    """A query on a query's result (rows picked twice) equals the same chain over plans,
    in store order, for segments, stimuli and sheets."""
    fast = q.param_filter_query(q.param_filter_query(store, **first), **second)
    slow = q.param_filter_query(q.param_filter_query(_as_plan(store), **first), **second)
    assert fast._selected() is not None and slow._selected() is None
    for null in (False, True):
        assert [s.identifier for s in fast.get_segments(null)] == \
            [s.identifier for s in slow.get_segments(null)]
        assert fast.get_stimuli(null) == slow.get_stimuli(null)
    assert fast.sheets() == slow.sheets()
    assert fast.segments_frame().collect().equals(slow.segments_frame().collect())


def test_trial_averaged_ads_match_stimulus_filters(tmp_path):
    """mozaik's trial-averaging analyses store ADS whose stimulus (``trial`` None) has no
    recording: ``st_`` filters match them by their own parameters, as mozaik does."""
    with ma.open(tmp_path / "s", "w") as s:
        for k, stim in enumerate(STIMULI[:4]):
            s.add_recording([synthetic_segment("V1_Exc_L4", 3, seed=k, duration=100.0)], stim)
        for stim in STIMULI[:4]:
            averaged = canonical_stimulus(dict(stim, trial=None))[0]
            s.add_analysis_result(SingleValue(1.0, pq.Hz, value_name="averaged rate",
                                              sheet_name="V1_Exc_L4", stimulus_id=averaged))
    store = ma.open(tmp_path / "s")
    for kwargs in ({"st_orientation": 0.0}, {"st_orientation": 0.0, "st_contrast": 10.0},
                   {"st_trial": None}, {"st_trial": 0}, {"st_contrast": [10.0, 100.0]}):
        recs, ads = _naive(store, kwargs)
        assert bool(ads) == (kwargs != {"st_trial": 0}), kwargs  # averaged ADS have trial None
        for start in (store, _as_plan(store)):
            v = q.param_filter_query(start, **kwargs)
            assert [ads_params(a) for a in v.analysis_result_copy()] == [ads_params(a) for a in ads]
            assert sorted(x.identifier for x in v.get_segments()) == recs
    assert len(q.param_filter_query(store, st_orientation=0.0).analysis_result_copy()) == 2
    assert q.param_filter_query(store, st_trial=0).analysis_result_copy() == []
    # a fresh store's first query (metadata scanned with pushdown), and pending ADS
    fresh = ma.open(tmp_path / "s")
    v = q.param_filter_query(fresh, value_name="averaged rate", st_orientation=0.0, st_contrast=10.0)
    assert [a.stimulus_id for a in v.analysis_result_copy()] == \
        [canonical_stimulus(dict(STIMULI[0], trial=None))[0]]
    with ma.open(tmp_path / "s", "a") as w:
        w.add_analysis_result(SingleValue(2.0, pq.Hz, value_name="pending", stimulus_id=canonical_stimulus(
            dict(STIMULI[0], contrast=55.0, trial=None))[0]))
        for start in (w, _as_plan(w)):
            v = q.param_filter_query(start, st_contrast=55.0)
            assert [a.value_name for a in v.analysis_result_copy()] == ["pending"]


def test_print_content(store, capsys):
    store.print_content()
    out = capsys.readouterr().out
    assert f"Recordings: {len(store.get_segments())} " in out
    # by type, null recordings included (3 of the gratings and 1 blank have one)
    assert "FullfieldDriftingSinusoidalGrating: 19" in out and "EndOfSimulationBlank: 5" in out
    assert "PerNeuronValue: 20" in out and "AnalogSignalList: 1" in out
    q.param_filter_query(store, st_name="EndOfSimulationBlank").print_content(True, True)
    out = capsys.readouterr().out
    assert out.count("EndOfSimulationBlank") >= 4 and 'value_name="mean rate"' in out


def test_heterogeneous_stimuli_and_ads_through_duckdb(store):
    """The files alone, read by duckdb: grating and blank stimuli side by side (typed columns,
    NULL where a type lacks a parameter) and each ADS type's metadata with its parameters."""
    duckdb = pytest.importorskip("duckdb")
    root = store.root
    stim = duckdb.sql(
        f"SELECT name, orientation, contrast, trial, stimulus_string FROM "
        f"read_parquet('{root}/stimuli/*.parquet', union_by_name=1) ORDER BY version").pl()
    assert stim.height == len(STIMULI)
    assert stim["stimulus_string"].to_list() == [canonical_stimulus(s)[0] for s in STIMULI]
    for row, want in zip(stim.iter_rows(named=True), STIMULI, strict=True):
        assert row["name"] == want["name"] and row["trial"] == want["trial"]
        assert row["orientation"] == want.get("orientation")  # NULL for the blanks
        assert row["contrast"] == want.get("contrast")
    ads = duckdb.sql(
        f"SELECT identifier, value_name, sheet_name, y_axis_name, stimulus_id, tags FROM "
        f"read_parquet('{root}/ads/*.parquet', union_by_name=1) ORDER BY _version, _position").pl()
    api = store.analysis_result_copy()
    assert ads["identifier"].to_list() == [a.identifier for a in api]
    for row, a in zip(ads.iter_rows(named=True), api, strict=True):
        p = ads_params(a)
        assert row["value_name"] == p.get("value_name") and row["sheet_name"] == p.get("sheet_name")
        assert row["y_axis_name"] == p.get("y_axis_name")
        assert row["tags"] == list(a.tags)
        sid = p.get("stimulus_id")
        assert row["stimulus_id"] == (None if sid is None else canonical_stimulus(sid)[0])
    # a mean rate by ADS type and sheet over the payloads, joined in SQL
    got = duckdb.sql(
        f"SELECT m.sheet_name, avg(p.value[1]) AS v FROM read_parquet('{root}/ads/*.parquet', "
        f"union_by_name=1) m JOIN (SELECT *, filename AS f, row_number() OVER "
        f"(PARTITION BY filename ORDER BY file_row_number) - 1 AS r FROM read_parquet("
        f"'{root}/ads_payloads/identifier=SingleValue/*.parquet', filename=1, "
        f"file_row_number=1)) p ON p.f LIKE '%' || m._payload_file AND p.r = m._payload_row "
        f"WHERE m.identifier = 'SingleValue' AND m.sheet_name IS NOT NULL "
        f"GROUP BY 1 ORDER BY 1").fetchall()
    want = {}
    for a in api:
        if a.identifier == "SingleValue" and a.sheet_name is not None:
            want.setdefault(a.sheet_name, []).append(float(a.value))
    assert [(s, pytest.approx(v)) for s, v in got] == [
        (s, pytest.approx(np.mean(v))) for s, v in sorted(want.items())]


# -- the first query of a freshly opened store scans with pushdown -----------------------------
_S1 = canonical_stimulus(grating(0.0, 10.0, 0))[0]
# the same stimulus spelled differently (key order, int for float): one stimulus key
_S1_OTHER = "{" + ", ".join(f"{k!r}: {v!r}" for k, v in reversed(list(
    {**grating(0.0, 10, 0)}.items()))) + "}"
_S2 = canonical_stimulus(grating(math.pi / 2, 100.0, 1))[0]


@pytest.fixture(scope="module")
def mixed_store(tmp_path_factory):
    """ADS in three metadata files whose typed columns differ (period float64 / null, a
    replaced ADS rewriting a file), stimulus strings spelled two ways."""
    path = tmp_path_factory.mktemp("pushdown") / "store"
    first = []
    with ma.open(path, "w") as s:
        for i, (vn, period, sheet, stim) in enumerate([
                ("a", 1, "V1", _S1), ("b", 2.5, "V2", _S1_OTHER), ("a", None, None, _S2),
                ("b", 1.0, "V1", None), ("a", 2.5, "V2", _S2)]):
            a = SingleValue(float(i), pq.Hz, value_name=vn, period=period, sheet_name=sheet,
                            stimulus_id=stim, analysis_algorithm=f"alg{i % 2}", tags=["t"])
            first.append(a)
            s.add_analysis_result(a)
        s.save()
        for i, stim in enumerate([_S1_OTHER, _S2, None]):
            s.add_analysis_result(PerNeuronValue(np.arange(2.0) + i, [1, 2], pq.Hz, value_name="a",
                                                 sheet_name="V1", stimulus_id=stim))
    with ma.open(path, "a", replace=True) as s:  # rewrites the first file without it
        s.add_analysis_result(SingleValue(9.0, pq.Hz, **{
            k: v for k, v in ads_params(first[1]).items() if k not in ("identifier", "name")},
            tags=["t"]))
    return path


PUSHDOWN_VALUES = {
    "value_name": ["a", "b", '"a"', 1],
    "period": [1, 1.0, 2.5, None, "1", True],
    "sheet_name": ["V1", "V2", None, 1],
    "stimulus_id": [_S1, _S1_OTHER, _S2, None, canonical_stimulus(blank(5))[0]],
    "identifier": ["SingleValue", "PerNeuronValue", "X"],
    "analysis_algorithm": ["alg0", "alg1", None],
}


@st.composite
def pushdown_filters(draw):
    keys = draw(st.lists(st.sampled_from(sorted(PUSHDOWN_VALUES)), min_size=1, max_size=3, unique=True))
    return {k: (draw(st.lists(st.sampled_from(PUSHDOWN_VALUES[k]), min_size=1, max_size=3))
                if draw(st.booleans()) else draw(st.sampled_from(PUSHDOWN_VALUES[k]))) for k in keys}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kwargs=pushdown_filters())
def test_first_query_of_a_fresh_store_equals_the_read_frame(mixed_store, kwargs):
    warm = ma.open(mixed_store, "r")
    warm.ads_frame()  # every row read and kept: later queries filter the kept frame
    want = q.param_filter_query(warm, **kwargs)._ads().collect()
    fresh = ma.open(mixed_store, "r")
    got = q.param_filter_query(fresh, **kwargs)
    assert fresh._ads_results._scanned  # the pushdown scan was used
    got = got._ads().collect()
    assert got.schema == want.schema and got.equals(want), kwargs
    # the second query of that store filters the kept rows
    again = q.param_filter_query(fresh, **kwargs)._ads().collect()
    assert again.equals(want)
    assert [ads_params(a) for a in q.param_filter_query(ma.open(mixed_store, "r"), **kwargs)
            .analysis_result_copy()] == [ads_params(a) for a in
                                         q.param_filter_query(warm, **kwargs).analysis_result_copy()]
    # get_analysis_result on a fresh store scans the same way
    fresh = ma.open(mixed_store, "r")
    assert [ads_params(a) for a in fresh.get_analysis_result(**kwargs)] == [
        ads_params(a) for a in warm.get_analysis_result(**kwargs)]
    assert fresh._ads_results._scanned


# -- the pair index: queries on a store whose ADS rows are read --------------------------------
def _keys(view):
    return view.ads_frame().select("ads_key").collect()["ads_key"].to_list()


def _indexed(store):
    store.ads_frame().collect()  # rows read and kept: the next query builds the index
    assert store._ads_indexed() is not None
    return store


PARTITION_NAMES = ["sheet_name", "stimulus_id", "value_name", "period", "identifier", "name",
                   "y_axis_name", "neuron", "x"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(st.sampled_from(PARTITION_NAMES), max_size=3, unique=True),
       excpt=st.booleans())
def test_partition_through_the_index_equals_the_plan(store, names, excpt):
    """Partitions of a store's ADS through its pair index give the groups, order, errors
    and messages of the polars plan path."""
    fast, slow = _indexed(store), _as_plan(store)
    assert slow._ads_indexed() is None
    outcomes = []
    for start in (fast, slow):
        try:
            parts = q.partition_analysis_results_by_parameters_query(start, names, excpt=excpt)
            outcomes.append([_keys(p) for p in parts])
        except (KeyError, q.QueryError) as e:
            outcomes.append((type(e), str(e)))
    assert outcomes[0] == outcomes[1]


@pytest.fixture(scope="module")
def one_type_store(tmp_path_factory):
    """PerNeuronValues only (``excpt=True`` partitions need one ADS type), in two commits."""
    path = tmp_path_factory.mktemp("one_type") / "store"
    with ma.open(path, "w") as s:
        for i, stim in enumerate(STIMULI[:4]):
            for sheet in SHEETS:
                for vn in ("Firing rate", "CV"):
                    s.add_analysis_result(PerNeuronValue(
                        np.arange(3.0) + i, [1, 2, 3], pq.Hz, value_name=vn, sheet_name=sheet,
                        stimulus_id=canonical_stimulus(stim)[0], period=None if i % 2 else 1.0))
            if i == 1:
                s.save()
    return ma.open(path, "r")


@pytest.mark.parametrize("names", [["sheet_name"], ["value_name", "sheet_name"], [],
                                   ["stimulus_id"], ["period"], ["x"]])
@pytest.mark.parametrize("excpt", [False, True])
def test_partition_of_one_ads_type_through_the_index(one_type_store, names, excpt):
    fast, slow = _indexed(one_type_store), _as_plan(one_type_store)
    outcomes = []
    for start in (fast, slow):
        try:
            parts = q.partition_analysis_results_by_parameters_query(start, names, excpt)
            outcomes.append([[ads_params(a) for a in p.analysis_result_copy()] for p in parts])
            assert all(len(p.get_segments()) == len(start.get_segments()) for p in parts)
        except KeyError as e:
            outcomes.append(str(e))
    assert outcomes[0] == outcomes[1]
    if names == ["x"] and not excpt:
        assert "has no parameter" in outcomes[0]
    else:
        assert sum(map(len, outcomes[0])) == 16


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kwargs=filters())
def test_get_analysis_result_through_the_index_equals_the_plan(store, kwargs):
    rest = {k: v for k, v in kwargs.items() if not k.startswith("st_")}
    fast, slow = _indexed(store), _as_plan(store)
    got = fast.get_analysis_result(**rest)
    assert [ads_params(a) for a in got] == [ads_params(a) for a in slow.get_analysis_result(**rest)]
    assert [ads_params(a) for a in got] == [ads_params(a) for a in _naive(store, rest)[1]]
    frame = q.param_filter_query(fast, **kwargs)._ads().collect()
    assert frame.equals(q.param_filter_query(slow, **kwargs)._ads().collect())


def test_the_index_follows_pending_and_saved_results(tmp_path):
    """Pending ADS are seen (the plan path is taken); after save() the new snapshot's index
    holds them; ids lists are built on first access and equal what was stored."""
    path = tmp_path / "s"
    with ma.open(path, "w") as s:
        for i, sheet in enumerate(SHEETS):
            s.add_analysis_result(PerNeuronValue(np.arange(4.0) * i, [4, 3, 2, 1], pq.Hz,
                                                 value_name="r", sheet_name=sheet))
    s = ma.open(path, "a")
    _indexed(s)
    assert [a.sheet_name for a in s.get_analysis_result(value_name="r")] == list(SHEETS)
    s.add_analysis_result(PerNeuronValue(np.ones(2), [7, 8], pq.Hz, value_name="r",
                                         sheet_name="V1_Exc_L2/3"))
    assert s._ads_indexed() is None  # pending: the plan path, which sees it
    assert len(s.get_analysis_result(value_name="r")) == 3
    assert len(q.partition_analysis_results_by_parameters_query(s, ["sheet_name"])[0]
               .analysis_result_copy()) == 3
    s.save()
    _indexed(s)
    got = s.get_analysis_result(value_name="r", sheet_name=["V1_Exc_L2/3", "V1_Inh_L4"])
    assert [a.sheet_name for a in got] == ["V1_Inh_L4", "V1_Exc_L2/3"]
    assert "ids" not in vars(got[0])  # not made until asked for
    assert got[0].get_value_by_id(2) == 2.0 and "ids" not in vars(got[0])
    assert got[0].ids == [4, 3, 2, 1] and all(type(x) is int for x in got[0].ids)
    got[0].ids = [1, 2, 3, 5]  # replaced by the user: lookups follow the new list
    assert got[0].get_value_by_id(5) == 3.0


def test_a_fresh_query_converts_only_the_rows_it_picks(store):
    """A filter on a freshly opened store converts the rows it picks, not the whole segments
    table; converting the table later keeps those row objects and gives what a store that
    converted everything first gives."""
    kw = {"st_orientation": 0.0, "st_contrast": 10.0}
    warm = ma.open(store.root, "r")
    warm.get_segments()  # every row converted first
    want = q.param_filter_query(warm, **kw)
    fresh = ma.open(store.root, "r")
    view = q.param_filter_query(fresh, **kw)
    assert view.get_stimuli() == want.get_stimuli() and len(want.get_stimuli()) == 4
    assert [s.annotations for s in view.get_segments()] == [
        s.annotations for s in want.get_segments()]
    snap = fresh._snapshot()
    assert "segments" not in snap._cache().get("rows", {})
    positions = view._selected().positions
    picked = snap.rows_at("segments", positions)
    assert all(a is b for a, b in zip(picked, snap.rows_at("segments", positions), strict=True))
    full = snap.rows("segments")
    assert all(full[i] is row for i, row in zip(positions, picked, strict=True))
    assert full == warm._snapshot().rows("segments")
    assert snap.column("segments", "sheet_name") == [r["sheet_name"] for r in full]
