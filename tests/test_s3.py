"""Stores on S3-compatible object storage, against real local servers.

moto (in-process, session fixture ``s3_moto``) for the bulk; SeaweedFS (``weed mini``,
``s3_seaweed``) where moto proves little: it checks put-if-absent without a lock and does
not check credentials. Round trips of real PyNN/NEST recordings on S3 run in
test_roundtrip.py (every test there runs on disk and on S3).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import quantities as pq

import mozaik_arrow as ma
from mozaik_arrow import schema
from mozaik_arrow.ads import SingleValue
from mozaik_arrow.synthetic import synthetic_segment

from ._crash_writer import stimulus

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def environ_of(request):
    """Point the AWS_* environment at one server for the test (restored after). polars
    (object_store) routes by an AWS_ENDPOINT_URL_S3 in the environment even when explicit
    storage_options name another endpoint: the session's environment names moto."""
    def use(ep):
        cm = ep.environ()
        cm.__enter__()
        request.addfinalizer(lambda: cm.__exit__(None, None, None))
        return ep
    return use


def _new_url(ep) -> str:
    return ep.url(ep.unique_prefix("store")).rstrip("/")


def _keys(ep, url: str, sub: str = "") -> list[str]:
    prefix = url.split("/", 3)[3] + "/" + sub
    c = ep.boto3_client()
    out = []
    for page in c.get_paginator("list_objects_v2").paginate(Bucket=ep.bucket, Prefix=prefix):
        out += [o["Key"] for o in page.get("Contents", ())]
    return out


def _write_some(url: str, n: int = 2, storage_options=None) -> list:
    segs = []
    with ma.open(url, "a", storage_options=storage_options) as store:
        for i in range(n):
            seg = synthetic_segment("V1_Exc_L4", 300, n_signals=2, seed=i, duration=200.0)
            store.add_recording(seg, stimulus(i))
            segs.append(seg)
        store.add_analysis_result(SingleValue(1.0, pq.Hz, value_name="rate", sheet_name="V1_Exc_L4",
                                              stimulus_id=str(stimulus(0))))
    return segs


def test_explicit_storage_options_round_trip(s3_moto):
    """No environment needed: credentials and endpoint in storage_options, for every reader
    (pyarrow row groups, polars frames, duckdb SQL)."""
    url = _new_url(s3_moto)
    so = s3_moto.storage_options
    segs = _write_some(url, storage_options=so)
    with ma.open(url, "r", storage_options=so) as store:
        assert store.root == url
        got = store.get_segments()
        assert len(got) == 2
        for seg, orig in zip(got, segs, strict=True):
            want = {int(st.annotations["channel_id"]): st for st in orig.spiketrains}
            for st in seg.get_spiketrains():
                assert np.array_equal(st.magnitude, want[int(st.annotations["channel_id"])].magnitude)
        frame = store.spikes().select("neuron_id", "n_spikes").collect()
        assert frame["n_spikes"].sum() == sum(len(st) for s in segs for st in s.spiketrains)
        (ads,) = store.get_analysis_result(value_name="rate")
        assert ads.value == 1.0
        from mozaik_arrow.sql import connect

        con = connect(store)
        n = con.sql("SELECT sum(n_spikes) FROM spikes").fetchall()[0][0]
        assert n == frame["n_spikes"].sum()


def test_one_neuron_read_is_at_most_three_requests(s3_moto):
    """A cold one-neuron read: the footer (size known from the commit: no HEAD) and one
    coalesced range per row group; a warm one reads the data range only, and none when a
    neighbour's read decoded its row group already."""
    url = _new_url(s3_moto)
    n = 10 * schema.SPIKES_ROWS_PER_GROUP
    seg_in = synthetic_segment("V1_Exc_L4", n, mean_rate=20.0, seed=3, first_id=100)
    with ma.open(url, "w", storage_options=s3_moto.storage_options) as store:
        store.add_recording(seg_in, stimulus(0))
    target = 100 + 4 * schema.SPIKES_ROWS_PER_GROUP + 17
    want = next(st for st in seg_in.spiketrains if st.annotations["channel_id"] == target)
    with ma.open(url, "r", storage_options=s3_moto.storage_options) as store:
        seg = store.get_segments()[0]
        spikes_file = seg._row["spikes_files"][0]
        s3_moto.clear_requests()
        st = seg.get_spiketrain(target)
        cold = [r for r in s3_moto.requests if r.path.endswith(spikes_file)]
        s3_moto.clear_requests()
        seg.get_spiketrain(target + 1)  # same row group: decoded already
        same_group = [r for r in s3_moto.requests if r.path.endswith(spikes_file)]
        s3_moto.clear_requests()
        seg.get_spiketrain(target + schema.SPIKES_ROWS_PER_GROUP)
        warm = [r for r in s3_moto.requests if r.path.endswith(spikes_file)]
    assert np.array_equal(st.magnitude, want.magnitude)
    assert len(cold) <= 3 and all(r.method == "GET" and r.range for r in cold), cold
    assert same_group == []
    assert 1 <= len(warm) <= 2 and all(r.method == "GET" for r in warm), warm


def test_views_work_without_recording_objects(s3_moto):
    """Laziness on S3: deleting every recording object leaves the metadata queries working;
    reading a neuron then names the missing object."""
    url = _new_url(s3_moto)
    _write_some(url, storage_options=s3_moto.storage_options)
    c = s3_moto.boto3_client()
    for key in _keys(s3_moto, url, "spikes/") + _keys(s3_moto, url, "signals/"):
        c.delete_object(Bucket=s3_moto.bucket, Key=key)
    with ma.open(url, "r", storage_options=s3_moto.storage_options) as store:
        segs = store.get_segments()
        assert len(segs) == 2 and store.sheets() == ["V1_Exc_L4"]
        view = ma.queries.param_filter_query(store, st_trial=1)
        assert len(view.get_segments()) == 1
        with pytest.raises(ma.MissingFileError, match="spikes/sheet="):
            segs[0].get_spiketrain(int(segs[0].get_stored_spike_train_ids()[0]))


def test_losing_writer_retries_and_uniqueness_holds(s3_moto):
    """Two writers holding stale states: the second's first attempt loses the version to
    the first, reads the log again and commits next; an equal recording is refused and
    leaves no object behind."""
    url = _new_url(s3_moto)
    so = s3_moto.storage_options
    ma.open(url, "w", storage_options=so).close()
    a = ma.open(url, "a", storage_options=so)
    b = ma.open(url, "a", storage_options=so)
    a.add_recording(synthetic_segment("V1_Exc_L4", 20, seed=1), stimulus(1))
    b.add_recording(synthetic_segment("V1_Exc_L4", 20, seed=2), stimulus(2))  # version 1 taken
    before = set(_keys(s3_moto, url))
    with pytest.raises(ValueError, match="already has a recording"):
        b.add_recording(synthetic_segment("V1_Exc_L4", 20, seed=3), stimulus(1))
    assert set(_keys(s3_moto, url)) == before  # the refused commit's upload was taken back
    a.close()
    b.close()
    with ma.open(url, "r", storage_options=so) as store:
        assert store.segments_frame().collect()["version"].to_list() == [1, 2]
    assert sorted(k.rsplit("/", 1)[1] for k in _keys(s3_moto, url, "_log/")) == [
        f"{v:020d}.json" for v in (1, 2)]


def _writers(url: str, writers: int, per: int, env: dict[str, str]) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-m", "tests._append_writer", url, str(w * per), str(per)],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, **env})
        for w in range(writers)
    ]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err


def _check_all_committed(url: str, total: int, so: dict) -> None:
    with ma.open(url, "r", storage_options=so) as store:
        trials = sorted(ma.parametrized.parse_stimulus_string(s)["trial"] for s in store.get_stimuli())
        assert trials == list(range(total))  # nothing lost, nothing duplicated
        assert sorted(store.segments_frame().collect()["version"].to_list()) == list(range(1, total + 1))


_RACE_ADS = """
import sys, quantities as pq, mozaik_arrow as ma
from mozaik_arrow.ads import SingleValue
with ma.open(sys.argv[1], "a") as s:
    try:  # refused at add (already committed when this process opened) or at save
        s.add_analysis_result(SingleValue(float(sys.argv[2]), pq.Hz, value_name="race",
                                          sheet_name="V1"))
        s.save()
    except ValueError as e:
        print("LOST", e)
"""


@pytest.mark.parametrize("server", ["s3_moto", "s3_seaweed"])
def test_concurrent_writer_processes(server, request, environ_of):
    """N processes (as MPI ranks) append to one store on S3: every commit kept once, the
    versions without gaps; racing identical ADS: exactly one is stored."""
    ep = environ_of(request.getfixturevalue(server))
    url = _new_url(ep)
    so = ep.storage_options
    ma.open(url, "w", storage_options=so).close()
    writers, per = 4, 4
    _writers(url, writers, per, ep.env)
    _check_all_committed(url, writers * per, so)
    procs = [subprocess.Popen([sys.executable, "-c", _RACE_ADS, url, str(i)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, **ep.env}) for i in range(4)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in outs]
    assert sum("LOST" in o for o, _ in outs) == 3
    with ma.open(url, "r", storage_options=so) as store:
        assert len(store.get_analysis_result(value_name="race")) == 1


@pytest.mark.parametrize("server", ["s3_moto", "s3_seaweed"])
def test_crash_before_publishing_leaves_the_last_commit_and_vacuum_cleans(server, request, environ_of):
    """SIGKILL after the upload, before the log record: the store stays at its last commit;
    the orphan objects are visible to a listing until vacuum removes them, and vacuum never
    removes a referenced object."""
    s3_moto = environ_of(request.getfixturevalue(server))
    url = _new_url(s3_moto)
    so = s3_moto.storage_options
    ma.open(url, "w", storage_options=so).close()
    _writers(url, 1, 2, s3_moto.env)
    before = set(_keys(s3_moto, url))
    proc = subprocess.run([sys.executable, "-m", "tests._append_writer", url, "10", "1"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **s3_moto.env, "MOZAIK_ARROW_CRASH_AT": "locked"})
    assert proc.returncode == -signal.SIGKILL
    orphans = set(_keys(s3_moto, url)) - before
    assert orphans and all("/spikes/" in k or "/segments/" in k or "/stimuli/" in k for k in orphans)
    _check_all_committed(url, 2, so)
    assert ma.vacuum(url, so, grace_seconds=3600) == []  # too young: a writer may be at work
    removed = ma.vacuum(url, so, grace_seconds=0)
    assert {url.split("/", 3)[3] + "/" + r for r in removed} == orphans
    assert set(_keys(s3_moto, url)) == before
    _check_all_committed(url, 2, so)
    assert ma.vacuum(url, so, grace_seconds=0) == []


def test_replaced_files_stay_until_vacuum(s3_moto):
    """A commit that replaces a file (an ADS saved with replace=True) does not delete the
    old one on S3 (readers of the previous version may still read it); vacuum does, once the
    replacing commit is older than the grace period."""
    url = _new_url(s3_moto)
    so = s3_moto.storage_options
    with ma.open(url, "w", storage_options=so) as store:
        store.add_analysis_result(SingleValue(1.0, pq.Hz, value_name="v", sheet_name="S"))
    old_meta = set(_keys(s3_moto, url, "ads/"))
    with ma.open(url, "a", replace=True, storage_options=so) as store:
        store.add_analysis_result(SingleValue(2.0, pq.Hz, value_name="v", sheet_name="S"))
    assert old_meta <= set(_keys(s3_moto, url, "ads/"))
    assert ma.vacuum(url, so, grace_seconds=3600) == []
    removed = ma.vacuum(url, so, grace_seconds=0)
    assert {url.split("/", 3)[3] + "/" + r for r in removed} >= old_meta
    with ma.open(url, "r", storage_options=so) as store:
        (a,) = store.get_analysis_result(value_name="v")
        assert a.value == 2.0


def test_wrong_credentials_name_the_url_never_the_secret(s3_seaweed, environ_of):
    environ_of(s3_seaweed)
    url = _new_url(s3_seaweed)
    _write_some(url, 1, storage_options=s3_seaweed.storage_options)
    bad = {**s3_seaweed.storage_options, "secret": "wrong-secret-value-XYZ"}
    with pytest.raises(ma.StorageError) as err:
        ma.open(url, "r", storage_options=bad)
    text = str(err.value) + repr(err.value.__cause__) + repr(err.value.__context__)
    assert url in str(err.value) and "access denied" in str(err.value)
    assert "wrong-secret-value-XYZ" not in text and s3_seaweed.secret_key not in text


def test_server_stopped_mid_write_keeps_the_last_commit(s3_seaweed, environ_of):
    """The server is stopped (SIGSTOP) while a writer uploads: the call raises a
    StorageError naming the URL; once the server is back the store is at its last commit
    and a new writer appends."""
    environ_of(s3_seaweed)
    url = _new_url(s3_seaweed)
    so = {**s3_seaweed.storage_options,
          "config_kwargs": {"s3": {"addressing_style": "path"}, "connect_timeout": 1,
                            "read_timeout": 2, "retries": {"max_attempts": 1, "mode": "standard"}}}
    _write_some(url, 1, storage_options=so)
    store = ma.open(url, "a", storage_options=so)
    proc = s3_seaweed.process
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        with pytest.raises((ma.StorageError, OSError)) as err:
            store.add_recording(synthetic_segment("V1_Exc_L4", 50, seed=9), stimulus(9))
        assert "s3://" in str(err.value) or "Timeout" in repr(err.value)
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    time.sleep(0.5)
    with ma.open(url, "r", storage_options=so) as again:
        assert len(again.get_segments()) == 1
    with ma.open(url, "a", storage_options=so) as again:
        again.add_recording(synthetic_segment("V1_Exc_L4", 50, seed=9), stimulus(9))
        assert len(again.get_segments()) == 2


def test_polars_and_duckdb_see_committed_files_only(s3_moto):
    """An external glob on S3 sees a crashed writer's objects; the API and mozaik-arrow's
    SQL views (explicit file lists from the log) never do."""
    url = _new_url(s3_moto)
    so = s3_moto.storage_options
    _write_some(url, 1, storage_options=so)
    subprocess.run([sys.executable, "-m", "tests._append_writer", url, "5", "1"], cwd=ROOT,
                   capture_output=True, timeout=300,
                   env={**os.environ, **s3_moto.env, "MOZAIK_ARROW_CRASH_AT": "locked"})
    glob = pl.scan_parquet(f"{url}/spikes/**/*.parquet", storage_options=s3_moto.polars_storage_options,
                           hive_partitioning=True).select(pl.len()).collect().item()
    with ma.open(url, "r", storage_options=so) as store:
        api = store.spikes().select(pl.len()).collect().item()
        from mozaik_arrow.sql import connect

        sql = connect(store).sql("SELECT count(*) FROM spikes").fetchall()[0][0]
    assert api == sql == 300 < glob


def test_collection_of_stores_on_s3(s3_moto):
    """open_collection over an S3 prefix: runs with their model parameters, frames across
    runs as one polars plan, SQL, map and to_dask — equal to the same stores on disk."""
    so = s3_moto.storage_options
    sweep = _new_url(s3_moto)
    for i, density in enumerate((50.0, 100.0, 150.0)):
        with ma.open(f"{sweep}/run_{i}", "w", storage_options=so) as store:
            store.set_model_parameters({"sheets": {"V1_Exc_L4": {"density": density}}})
            store.add_recording(synthetic_segment("V1_Exc_L4", 20 + i, seed=i), stimulus(0))
    coll = ma.open_collection(sweep, storage_options=so)
    runs = coll.runs()
    assert runs["run"].to_list() == ["run_0", "run_1", "run_2"]
    assert runs["sheets.V1_Exc_L4.density"].to_list() == [50.0, 100.0, 150.0]
    per_run = coll.spikes().group_by("run").len().sort("run").collect()
    assert per_run["len"].to_list() == [20, 21, 22]
    dense = coll.param_filter_query(run={"sheets.V1_Exc_L4.density": [100.0, 150.0]})
    assert dense.sql("SELECT run, count(*) AS n FROM spikes GROUP BY run ORDER BY run")["n"].to_list() == [21, 22]
    assert coll.map(lambda s: len(s.get_segments()[0].get_spiketrains())) == {
        "run_0": 20, "run_1": 21, "run_2": 22}
    assert len(coll.to_dask("spikes").compute()) == 63
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as c:
        # workers open the stores from their URLs with the options sent along
        assert coll.map(lambda s: len(s.get_segments()[0].get_spiketrains()), client=c) == {
            "run_0": 20, "run_1": 21, "run_2": 22}
        assert len(coll.to_dask("spikes").compute(scheduler=c.get)) == 63
    globbed = ma.open_collection(f"{sweep}/run_[12]", storage_options=so)
    assert globbed.run_ids == ["run_1", "run_2"]


def test_a_lost_version_takes_back_what_was_built_for_it(s3_moto, monkeypatch):
    """Another writer commits between this writer's read of the log and its conditional
    put: the put is refused, the ADS metadata built for that version is deleted (not carried
    into the next attempt), the rebuild finds the ADS already stored and drops it."""
    url = _new_url(s3_moto)
    so = s3_moto.storage_options
    ma.open(url, "w", storage_options=so).close()
    a = ma.open(url, "a", storage_options=so)
    b = ma.open(url, "a", storage_options=so)
    equal = dict(value_name="race", sheet_name="V1")
    a.add_analysis_result(SingleValue(1.0, pq.Hz, **equal))
    b.add_analysis_result(SingleValue(2.0, pq.Hz, **equal))
    real = b.fs.put_if_absent
    calls = []

    def first_loses(rel, data):
        if not calls:
            a.save()  # takes the version b is about to claim
        calls.append(rel)
        return real(rel, data)

    monkeypatch.setattr(b.fs, "put_if_absent", first_loses)
    with pytest.raises(ValueError, match="dropped"):
        b.save()
    assert len(calls) == 2  # lost version 1, committed version 2 (its payload only)
    with ma.open(url, "r", storage_options=so) as store:
        (got,) = store.get_analysis_result(value_name="race")
        assert got.value == 1.0
        assert len(store._snapshot().files_under("ads")) == 1
    assert len(_keys(s3_moto, url, "ads/")) == 1  # b's metadata for version 1 was taken back
    a.close()
    b.close()


def test_a_refused_put_of_our_own_record_is_a_commit(s3_moto, monkeypatch):
    """The client retried a conditional put whose reply was lost and the retry was refused
    (412): the record is ours, so the commit stands and no file it names is taken back."""
    url = _new_url(s3_moto)
    so = s3_moto.storage_options
    store = ma.open(url, "w", storage_options=so)
    real = store.fs.put_if_absent

    def reply_lost(rel, data):
        real(rel, data)
        return False  # what the retry of an already-successful put answers

    monkeypatch.setattr(store.fs, "put_if_absent", reply_lost)
    store.add_recording(synthetic_segment("V1_Exc_L4", 20, seed=1), stimulus(1))
    store.add_analysis_result(SingleValue(1.0, pq.Hz, value_name="v", sheet_name="V1_Exc_L4"))
    store.save()
    store.close()
    with ma.open(url, "r", storage_options=so) as again:
        assert again.segments_frame().collect()["version"].to_list() == [1]
        assert len(again.get_segments()[0].get_spiketrains()) == 20
        (a,) = again.get_analysis_result(value_name="v")
        assert a.value == 1.0
    assert sorted(k.rsplit("/", 1)[1] for k in _keys(s3_moto, url, "_log/")) == [
        f"{v:020d}.json" for v in (1, 2)]
