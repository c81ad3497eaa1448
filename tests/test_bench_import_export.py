"""Smoke run of benchmarks/bench_import_export at a tiny size (no timing asserted)."""

from __future__ import annotations

from benchmarks import bench_import_export


def test_import_export_benchmark_runs(capsys):
    bench_import_export.main(["--neurons", "200", "--stimuli", "1", "--rate", "5",
                              "--no-results"])
    out = capsys.readouterr().out
    assert "| import-mozaik |" in out and "| export-nwb (whole store) |" in out
