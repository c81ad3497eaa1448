"""Smoke run of benchmarks/bench_collection at a tiny size (no timing asserted): local
stores, the cross-run queries, ``map`` in one process and on Dask, and stores on moto S3."""

from __future__ import annotations

import pytest

pytest.importorskip("dask.distributed")
pytest.importorskip("duckdb")
pytest.importorskip("moto")
pytest.importorskip("s3fs")

from benchmarks import bench_collection  # noqa: E402


def test_collection_benchmark_runs(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_DIR", str(tmp_path))
    res = bench_collection.main(["--stores", "20", "--s3-stores", "3", "--no-results"])
    out = capsys.readouterr().out
    for line in ("| open_collection + runs(), 20 local stores |",
                 "| cross-run query (metadata), polars |",
                 "| cross-run query (metadata), duckdb `coll.sql` |",
                 "| cross-run query over the spike data (160 files), polars |",
                 "| `coll.map(fn)`, one process (20 runs, best of 2) |",
                 "| `coll.map(fn)`, Dask LocalCluster 2 workers x 1 thread (best of 2 after the first) |",
                 "| open_collection + runs(), 3 stores on S3 |",
                 "| requests to the spikes file, one neuron on S3, cold (first read after open) |",
                 "| requests to the spikes file, one neuron on S3, warm |"):
        assert line in out, line
    assert res["local"]["runs"] == 20 and res["s3"]["runs"] == 3
    assert res["map"]["runs"] == 20 and res["map"]["equal"]
    assert res["agree_local"] and res["agree_s3"]
    assert res["s3"]["one_neuron_equal"]
    assert 1 <= res["s3"]["one_neuron_cold_requests"] <= 3
    assert res["s3"]["one_neuron_warm_requests"] == 0  # its row group is decoded already
    # the query's result is the generated tuning: 5 densities x 2 sheets x 4 orientations
    rates = res["rates"]
    assert rates.height == 5 * 2 * 4
    assert list(tmp_path.iterdir()) == []  # scratch removed
