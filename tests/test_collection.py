"""Collections of stores: runs(), frames over every run, filters, SQL, Dask."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import polars as pl
import pytest
import quantities as pq
from polars.testing import assert_frame_equal

import mozaik_arrow as ma
from mozaik_arrow import queries
from mozaik_arrow.ads import PerNeuronValue, SingleValue
from mozaik_arrow.collection import Collection, open_collection
from mozaik_arrow.synthetic import synthetic_segment

EXC, INH = "V1_Exc_L4", "V1_Inh_L4"


def grating(orientation: float, **extra) -> dict:
    return {"name": "FullfieldDriftingSinusoidalGrating", "module_path": "mozaik.stimuli",
            "orientation": orientation, "contrast": 100.0, "trial": 0, **extra}


def disk(radius: float) -> dict:
    return {"name": "DriftingSinusoidalGratingDisk", "module_path": "mozaik.stimuli",
            "orientation": 0.0, "radius": radius, "trial": 0}


# run -> (model parameters, stimuli, signals per sheet, ADS?)
RUNS = {
    "run_a": ({"name": "demo", "seed": 1, "sheets": {EXC: {"density": 50.0}}},
              [grating(0.0), grating(1.5707963267948966)], 2, "rates"),
    "run_b": ({"name": "demo", "seed": 2, "sheets": {EXC: {"density": 100.0}}},
              [grating(0.0), disk(2.5)], 0, "single"),
    "run_c": ({"name": "demo", "seed": 3, "extra": "x", "sheets": {EXC: {"density": 100}}},
              [disk(1.0)], 1, None),
    "run_d": (None, [grating(0.0, spatial_frequency=0.8)], 0, None),
}


def _write(path: Path, params, stimuli, n_signals: int, ads) -> None:
    with ma.open(path, "w") as store:
        if params is not None:
            store.set_model_parameters(params)
        for i, stim in enumerate(stimuli):
            segs = [synthetic_segment(EXC, 12, duration=100.0, seed=i, n_signals=n_signals),
                    synthetic_segment(INH, 6, duration=100.0, seed=i + 7, first_id=100)]
            store.add_recording(segs, stim)
            store.add_null_recording(
                [synthetic_segment(EXC, 12, duration=50.0, seed=i + 3)], stim)
        for seg in store.get_segments():
            common = dict(sheet_name=seg.annotations["sheet_name"],
                          stimulus_id=seg.annotations["stimulus"])
            if ads == "rates":
                store.add_analysis_result(PerNeuronValue(
                    seg.mean_rates(), seg.get_stored_spike_train_ids(), pq.Hz,
                    value_name="Firing rate", **common))
            elif ads == "single":
                store.add_analysis_result(SingleValue(1.5, pq.Hz, value_name="mean rate",
                                                      period=2.0, **common))


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sweep")
    for run, spec in RUNS.items():
        _write(root / run, *spec)
    (root / "notes.txt").write_text("not a store")
    (root / "empty_dir").mkdir()
    return root


@pytest.fixture
def coll(sweep) -> Collection:
    with open_collection(sweep) as c:
        yield c


def _single(sweep: Path, frame, **query) -> pl.DataFrame:
    """What the collection frame must equal: the single-store frames with a run column."""
    parts = []
    for run in RUNS:
        store = ma.open(sweep / run)
        view = queries.param_filter_query(store, **query) if query else store
        df = frame(view).collect()
        parts.append(df.select(pl.lit(run).alias("run"), pl.all()))
    return pl.concat(parts, how="diagonal_relaxed")


# -- opening -------------------------------------------------------------------------------------
def test_open_forms(sweep, tmp_path):
    assert open_collection(sweep).run_ids == list(RUNS)                    # directory
    assert open_collection(str(sweep / "run_*")).run_ids == list(RUNS)     # glob
    assert open_collection(f"file://{sweep}/*").run_ids == list(RUNS)      # skips non-stores
    assert open_collection([sweep / "run_c", sweep / "run_a"]).run_ids == ["run_c", "run_a"]
    one = open_collection(sweep / "run_b")
    assert one.run_ids == ["run_b"] and len(one) == 1 and "run_b" in repr(one)
    assert one.runs()["path"].to_list() == [str(sweep / "run_b")]


def test_paths_with_glob_and_quote_characters(sweep, tmp_path):
    """File lists are explicit, never globs: a store named ``run[1]`` is read whole.
    (run_c: it has no ADS, whose reading in the store itself still globs its paths.)"""
    odd = [tmp_path / "run[1]", tmp_path / "it's"]
    for p in odd:
        shutil.copytree(sweep / "run_c", p)
    c = open_collection(odd)
    n = c.segments_frame().select(pl.col("n_neurons").sum()).collect().item()
    assert c.spikes().collect().height == n
    assert c.sql("SELECT run, count(*) FROM spikes GROUP BY run ORDER BY run").rows() == [
        ("it's", n // 2), ("run[1]", n // 2)]


def test_open_errors(sweep, tmp_path):
    with pytest.raises(ma.NotAStoreError, match="empty_dir"):
        open_collection([sweep / "run_a", sweep / "empty_dir"])
    with pytest.raises(ma.NotAStoreError, match="no mozaik_arrow store matches"):
        open_collection(str(sweep / "nothing_*"))
    with pytest.raises(ma.NotAStoreError, match="holds no mozaik_arrow store"):
        open_collection(sweep / "empty_dir")
    with pytest.raises(FileNotFoundError):
        open_collection(tmp_path / "missing")
    other = tmp_path / "elsewhere"
    shutil.copytree(sweep / "run_a", other / "run_a")
    with pytest.raises(ValueError, match="run_a.*elsewhere"):
        open_collection([sweep / "run_a", other / "run_a"])
    with pytest.raises(ValueError, match="storage_options are for object storage"):
        open_collection(sweep, storage_options={"key": "k"})
    with pytest.raises(ValueError, match="at least one"):
        open_collection([])


# -- runs ----------------------------------------------------------------------------------------
def test_runs_has_flattened_model_parameters(coll, sweep):
    runs = coll.runs()
    assert runs.columns[:2] == ["run", "path"]
    assert runs["run"].to_list() == list(RUNS)
    assert runs["path"].to_list() == [str(sweep / r) for r in RUNS]
    assert runs["sheets.V1_Exc_L4.density"].to_list() == [50.0, 100.0, 100.0, None]
    assert runs.schema["sheets.V1_Exc_L4.density"] == pl.Float64
    assert runs["seed"].to_list() == [1, 2, 3, None]
    assert runs["extra"].to_list() == [None, None, "x", None]
    for run in RUNS:  # each row is the store's get_model_parameters(flat=True)
        flat = ma.open(sweep / run).get_model_parameters(flat=True) or {}
        row = runs.row(by_predicate=pl.col("run") == run, named=True)
        assert {k: v for k, v in row.items() if v is not None and k not in ("run", "path")} == flat


# -- frames --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["segments_frame", "spikes", "signals", "ads_frame"])
def test_frames_equal_the_single_store_frames(coll, sweep, name):
    got = getattr(coll, name)().collect()
    want = _single(sweep, lambda v: getattr(v, name)())
    assert got.height > 0
    assert_frame_equal(got, want)


def test_signals_by_name_and_stimuli_frame(coll, sweep):
    assert_frame_equal(coll.signals("v").collect(), _single(sweep, lambda v: v.signals("v")))
    got = coll.stimuli_frame().collect()
    want = _single(sweep, lambda v: v.stimuli_frame())
    # parameter columns of different stimulus types concatenate (nulls where a run lacks one)
    assert {"orientation", "contrast", "radius", "spatial_frequency"} <= set(got.columns)
    assert_frame_equal(got, want, check_column_order=False)
    assert got.filter(pl.col("run") == "run_b")["radius"].to_list() == [None, 2.5]


def test_empty_frames_keep_their_columns(coll, sweep):
    none = coll.filter(run={"seed": 99})
    assert len(none) == 0 and none.runs().height == 0
    for name in ("segments_frame", "spikes", "signals", "ads_frame", "stimuli_frame"):
        df = getattr(none, name)().collect()
        assert df.height == 0 and df.columns[0] == "run", name
    assert set(coll.spikes().collect_schema()) == set(none.spikes().collect_schema())
    assert none.sql("SELECT count(*) AS n FROM spikes")["n"].to_list() == [0]


# -- filters -------------------------------------------------------------------------------------
def test_filter_on_run_and_stimulus_parameters(coll, sweep):
    f = coll.param_filter_query(run={"sheets.V1_Exc_L4.density": 100.0},  # 100 == 100.0
                                st_orientation=0.0, sheet_name=EXC)
    assert f.run_ids == ["run_b", "run_c"]
    seg = f.segments_frame().collect()
    want = _single(sweep, lambda v: v.segments_frame(), st_orientation=0.0, sheet_name=EXC)
    assert_frame_equal(seg, want.filter(pl.col("run").is_in(["run_b", "run_c"])))
    assert set(seg["sheet_name"]) == {EXC} and seg.height == 6  # b: grating, disk; c: disk (+ nulls)
    spikes = f.spikes().collect()
    assert set(spikes["segment_id"]) == set(seg["segment_id"])
    assert set(f.stimuli_frame().collect()["run"]) == {"run_b", "run_c"}
    # a list means any of; a run lacking the parameter (run_d) never matches
    assert coll.filter(run={"seed": [1, 3]}).run_ids == ["run_a", "run_c"]
    assert coll.filter(run={"extra": "x"}).run_ids == ["run_c"]
    assert coll.filter(run={"sheets.V1_Exc_L4.density": None}).run_ids == []
    # filters chain, and select() picks runs by id
    chained = coll.filter(st_name="DriftingSinusoidalGratingDisk").filter(run={"seed": 3})
    assert chained.run_ids == ["run_c"]
    assert chained.segments_frame().collect()["run"].unique().to_list() == ["run_c"]
    assert coll.select(["run_d", "run_a"]).run_ids == ["run_a", "run_d"]
    with pytest.raises(KeyError, match="run_x"):
        coll.select(["run_x"])


def test_filter_on_ads_parameters(coll, sweep):
    f = coll.filter(value_name="Firing rate")
    ads = f.ads_frame().collect()
    assert ads.height > 0 and set(ads["run"]) == {"run_a"}
    assert_frame_equal(ads, _single(sweep, lambda v: v.ads_frame(), value_name="Firing rate"))
    assert f.segments_frame().collect().height == 0  # recordings have no such parameter
    assert f.view("run_a").get_analysis_result(value_name="Firing rate")


def test_unique_is_checked_per_run(coll):
    one = coll.filter(run={"seed": 1}, st_orientation=0.0, sheet_name=INH, rec_unique=True)
    assert one.segments_frame().collect().height == 1  # (no null recordings of INH)
    with pytest.raises(ValueError, match="run 'run_a'.*single Segment, it contains 2"):
        coll.filter(sheet_name=INH, rec_unique=True)


# -- SQL -----------------------------------------------------------------------------------------
def test_sql_views_over_every_run(coll):
    got = coll.sql('SELECT run, count(*) AS n, sum(n_spikes) AS s FROM spikes '
                   'WHERE NOT "null" GROUP BY run ORDER BY run')
    want = (coll.spikes().filter(~pl.col("null")).group_by("run")
            .agg(pl.len().alias("n"), pl.col("n_spikes").sum().alias("s")).sort("run").collect())
    assert got["run"].to_list() == want["run"].to_list() == list(RUNS)
    assert got["n"].to_list() == want["n"].to_list()
    assert [int(x) for x in got["s"]] == want["s"].to_list()
    assert coll.sql("SELECT count(*) AS n FROM signals")["n"].item() == \
        coll.signals().collect().height
    joined = coll.sql('SELECT r.seed, s.radius FROM stimuli s JOIN runs r USING (run) '
                      'WHERE s.radius IS NOT NULL ORDER BY r.seed')
    assert joined.rows() == [(2, 2.5), (3, 1.0)]
    f = coll.filter(run={"seed": 2}, sheet_name=EXC)
    assert f.sql("SELECT DISTINCT run, sheet_name FROM segments").rows() == [("run_b", EXC)]
    assert f.sql("SELECT DISTINCT run FROM spikes").rows() == [("run_b",)]
    assert f.sql("SELECT count(*) FROM ads").item() == 2


# -- laziness ------------------------------------------------------------------------------------
def test_opening_and_planning_read_no_recording_data(sweep, tmp_path):
    """Every spikes and signals file is replaced by garbage of the same size: all that
    reads metadata works, and reading recordings fails (so the garbage is effective)."""
    runs = tmp_path / "runs"
    for i in range(12):
        run = list(RUNS)[i % len(RUNS)]
        shutil.copytree(sweep / run, runs / f"{run}_{i:02d}")
    damaged = 0
    for table in ("spikes", "signals"):
        for p in runs.rglob(f"{table}/**/*.parquet"):
            p.chmod(0o644)
            p.write_bytes(b"\xff" * p.stat().st_size)
            damaged += 1
    assert damaged > 12
    with open_collection(runs) as c:
        assert c.runs().height == 12
        assert c.segments_frame().collect().height > 0
        assert c.stimuli_frame().collect().height > 0
        assert c.ads_frame().collect().height > 0
        f = c.filter(run={"seed": [1, 2]}, st_orientation=0.0)
        assert f.segments_frame().collect().height > 0
        plans = [c.spikes(), c.signals("v"), f.spikes(), f.signals()]  # plans, no reads
        assert all(isinstance(p, pl.LazyFrame) for p in plans)
        assert set(c.map(lambda s: len(s.get_segments()))) == set(c.run_ids)
        with pytest.raises(pl.exceptions.PolarsError, match="(?i)parquet"):
            c.spikes().collect()


# -- Dask ----------------------------------------------------------------------------------------
def rates_by_sheet(view) -> dict[str, float]:
    """A per-run analysis: mean rate by sheet (from the spike counts)."""
    df = (view.segments_frame().filter(~pl.col("null"))
          .group_by("sheet_name").agg(pl.col("n_spikes").sum()).sort("sheet_name").collect())
    return dict(df.iter_rows())


def fails_on_c(view):
    if view.full_datastore.root.endswith("run_c"):
        raise RuntimeError("boom")
    return 1


def worker_threads() -> tuple[int, str | None]:
    import polars

    return polars.thread_pool_size(), os.environ.get("POLARS_MAX_THREADS")


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        yield c


def test_map_on_a_cluster_equals_local(coll, client):
    local = coll.map(rates_by_sheet)
    assert list(local) == list(RUNS) and all(local.values())
    assert coll.map(rates_by_sheet, client=client) == local
    # polars on the workers was capped at the worker's thread count before first use
    assert set(client.run(worker_threads).values()) == {(1, "1")}
    f = coll.filter(run={"sheets.V1_Exc_L4.density": 100.0}, sheet_name=EXC)
    assert f.map(rates_by_sheet, client=client) == f.map(rates_by_sheet)
    assert list(f.map(rates_by_sheet)) == ["run_b", "run_c"]
    assert all(list(r) == [EXC] for r in f.map(rates_by_sheet).values())
    with pytest.raises(RuntimeError, match="boom") as err:
        coll.map(fails_on_c, client=client)
    assert "run_c" in "".join(getattr(err.value, "__notes__", ["run_c"]))


@pytest.mark.parametrize("table", ["spikes", "signals", "segments", "stimuli", "ads", "runs"])
def test_to_dask_equals_polars(coll, client, table):
    ddf = coll.to_dask(table)
    polars_frame = {"spikes": coll.spikes, "signals": coll.signals, "runs": coll.runs,
                    "segments": coll.segments_frame, "stimuli": coll.stimuli_frame,
                    "ads": coll.ads_frame}[table]()
    want = polars_frame.lazy().collect()
    got = pl.from_pandas(ddf.compute().reset_index(drop=True))
    assert list(ddf.columns) == want.columns
    assert_frame_equal(got, want, check_dtypes=False)
    if table == "spikes":  # list columns stay lists; also without the cluster
        assert got.schema["times"] == pl.List(pl.Float64)
        sync = pl.from_pandas(coll.to_dask(table, columns=["n_spikes"]).compute(scheduler="sync"))
        assert sync.columns == ["run", "n_spikes"]
        assert sync["n_spikes"].to_list() == want["n_spikes"].to_list()


def test_frames_keep_run_order_whether_rows_were_converted_or_not(sweep):
    """Rows of records not yet converted are converted for all runs at once; runs whose rows
    were converted before (a checkpoint, an earlier read) keep their place."""
    want = _single(sweep, lambda s: s.segments_frame())
    with open_collection(sweep) as c:
        c._state.snapshot("run_b").table("segments")  # converted: read as a table
        got = c.segments_frame().collect()
    assert_frame_equal(got, want)
