"""The `mozaik-arrow` command, through its real entry points."""

from __future__ import annotations

import json
import subprocess
import sys

import polars as pl
import pytest

import mozaik_arrow as ma
from mozaik_arrow.cli import main, parse_query


def test_demo_builds_a_store_and_prints_a_summary(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "mozaik_arrow", "demo", str(tmp_path / "demo"),
         "--n-exc", "30", "--n-inh", "10", "--duration", "100", "--orientations", "0",
         "--orientations", "1.5"],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "V1_Exc_L4" in out.stdout and "V1_Inh_L4" in out.stdout
    assert "mean_rate_hz" in out.stdout and "FullfieldDriftingSinusoidalGrating" in out.stdout
    with ma.open(tmp_path / "demo", "r") as store:
        assert len(store.get_segments()) == 4 and len(store.get_segments(null=True)) == 4
        assert store.sheets() == ["V1_Exc_L4", "V1_Inh_L4"]
        assert len(store.get_sensory_stimulus()) == 2
        spikes = int(store.segments_frame().collect()["n_spikes"].sum())
    assert f"spikes: {spikes}" in out.stdout


def test_info_and_user_errors(filled_store, tmp_path, capsys):
    assert main(["info", str(filled_store)]) == 0
    assert "recordings:" in capsys.readouterr().out
    assert main(["info", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mozaik-arrow: error:") and "not a mozaik_arrow store" in err
    assert "Traceback" not in err


def test_validate_command(filled_store, tmp_path, capsys):
    import shutil

    assert main(["validate", str(filled_store)]) == 0
    assert "ok at version" in capsys.readouterr().out
    copy = tmp_path / "copy"
    shutil.copytree(filled_store, copy)
    victim = next((copy / "spikes").rglob("*.parquet"))
    victim.chmod(0o644)
    victim.write_bytes(victim.read_bytes()[:100])
    assert main(["validate", str(copy)]) == 1
    assert victim.name in capsys.readouterr().out


def _run(*args: str) -> subprocess.CompletedProcess:
    """The installed console script, as a user runs it."""
    return subprocess.run(["mozaik-arrow", *args], capture_output=True, text=True, timeout=120)


def test_info_json_through_the_console_script(filled_store):
    out = _run("info", str(filled_store), "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    with ma.open(filled_store, "r") as s:
        segs = s.segments_frame().collect()
        assert info["format_version"] == ma.schema.FORMAT_VERSION
        assert info["sheets"] == s.sheets() == ["V1_Exc_L4", "V1_Inh_L4"]
        assert info["segments"] == len(s.get_segments())
        assert info["null_segments"] == len(s.get_segments(null=True))
        assert info["stimuli"] == len(set(s.get_stimuli()))
        assert info["spikes"] == int(segs["n_spikes"].sum())
        assert info["neurons"] == {k: len(s.get_sheet_ids(k)) for k in s.sheets()}
        assert info["ads"] == {"PerNeuronValue": len(s.get_segments()),
                               "SingleValue": len(s.get_segments())}
    assert info["bytes"] == sum(p.stat().st_size for p in filled_store.rglob("*") if p.is_file())


def test_ls_filters_with_the_query_language(filled_store):
    out = _run("ls", str(filled_store), "recordings", "sheet_name=V1_Exc_L4", "st_orientation=0.0",
               "--format", "json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    with ma.open(filled_store, "r") as s:
        want = ma.queries.param_filter_query(s, sheet_name="V1_Exc_L4", st_orientation=0.0)
        assert [r["stimulus_string"] for r in rows] == want.segments_frame().collect()[
            "stimulus_string"].to_list()
        assert len(rows) == 2  # the recording and the null one after it
        out = _run("ls", str(filled_store), "ads", "value_name=Firing rate,mean rate",
                   "sheet_name=V1_Inh_L4", "--format", "csv")
        assert out.returncode == 0, out.stderr
        lines = out.stdout.strip().splitlines()
        assert len(lines) - 1 == len(s.get_analysis_result(
            value_name=["Firing rate", "mean rate"], sheet_name="V1_Inh_L4")) == 4
        out = _run("ls", str(filled_store), "stimuli", "orientation=1.5707963267948966")
        assert out.returncode == 0 and "FullfieldDriftingSinusoidalGrating" in out.stdout


def test_parse_query_values():
    assert parse_query(["st_orientation=0", "sheet_name=V1_Exc_L4", "trial=0,1",
                        "value_name='a,b'", "period=None", "x=1.5"]) == {
        "st_orientation": 0, "sheet_name": "V1_Exc_L4", "trial": [0, 1], "value_name": "a,b",
        "period": None, "x": 1.5}
    assert parse_query(["name=__import__('os').system('true')"]) == {
        "name": "__import__('os').system('true')"}  # text, never evaluated


def test_sql_over_the_committed_files(filled_store):
    query = ("SELECT sheet_name, count(*) AS n, sum(n_spikes) AS spikes FROM spikes "
             "WHERE NOT \"null\" GROUP BY 1 ORDER BY 1")
    out = _run("sql", str(filled_store), query, "--format", "json")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    with ma.open(filled_store, "r") as s:
        df = s.spikes().filter(~pl.col("null")).group_by("sheet_name").agg(
            n=pl.len(), spikes=pl.col("n_spikes").sum()).sort("sheet_name").collect()
    assert got == df.to_dicts()
    out = _run("sql", str(filled_store),
               "SELECT s.orientation, avg(a.value_name = 'mean rate')::DOUBLE AS f, count(*) AS n "
               "FROM ads a JOIN stimuli s USING (stimulus_string) GROUP BY 1 ORDER BY 1")
    assert out.returncode == 2 and "stimulus_string" in out.stderr  # ads have stimulus_id
    out = _run("sql", str(filled_store),
               "SELECT s.orientation, count(*) AS n FROM ads a JOIN stimuli s "
               "ON a.stimulus_id = s.stimulus_string GROUP BY 1 ORDER BY 1", "--format", "csv")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "orientation,n"


@pytest.mark.parametrize("args, message", [
    (["info", "{missing}"], "not a mozaik_arrow store"),
    (["ls", "{store}", "st_orientation"], "expected KEY=VALUE"),
    (["ls", "{store}", "1x=2"], "expected KEY=VALUE"),
    (["sql", "{store}", "SELEC nonsense"], "syntax error"),
    (["sql", "{store}", "SELECT * FROM nowhere"], "nowhere"),
    (["plot", "{store}", "histogram", "-o", "x.png"], "histogram"),
    (["info"], "Missing argument"),
    (["frobnicate"], "No such command"),
])
def test_user_errors_are_one_line(filled_store, tmp_path, args, message):
    args = [a.format(store=filled_store, missing=tmp_path / "missing") for a in args]
    out = _run(*args)
    assert out.returncode == 2
    assert out.stderr.startswith("mozaik-arrow: error:") and message in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_python_m_is_the_same_command(filled_store):
    a = subprocess.run([sys.executable, "-m", "mozaik_arrow", "info", str(filled_store), "--json"],
                       capture_output=True, text=True, timeout=120)
    assert a.returncode == 0 and json.loads(a.stdout) == json.loads(_run(
        "info", str(filled_store), "--json").stdout)


def test_import_mozaik_then_sql_in_two_commands(tmp_path):
    """A new user's afternoon: a mozaik directory to a duckdb query in two commands."""
    from .test_import_mozaik import NAME, _fixture_dir

    src = _fixture_dir() / NAME
    expected = json.loads((_fixture_dir() / f"{NAME}.expected.json").read_text())
    dest = tmp_path / "run.arrow"
    out = _run("import-mozaik", str(src), str(dest))
    assert out.returncode == 0, out.stderr
    assert "imported" in out.stdout
    out = _run("sql", str(dest), "SELECT s.stimulus_string, s.sheet_name, sum(p.n_spikes) AS n "
               "FROM spikes p JOIN segments s USING (segment_id) GROUP BY ALL ORDER BY ALL",
               "--format", "json")
    assert out.returncode == 0, out.stderr
    got = {(r["stimulus_string"], r["sheet_name"]): r["n"] for r in json.loads(out.stdout)}
    want = {(g["stimulus"], g["sheet_name"]): sum(t["n"] for t in g["spiketrains"])
            for g in expected["segments"]}
    assert got == want  # mozaik's own stimulus strings, byte for byte, and every spike
    # again: resumes, nothing new
    again = _run("import-mozaik", str(src), str(dest))
    assert again.returncode == 0 and "skipped" in again.stdout


def test_import_mozaik_refuses_a_hostile_pickle(tmp_path):
    import os
    import pickle as pkl

    from .test_import_mozaik import NAME, _fixture_dir, _writable_copy

    src = _writable_copy(_fixture_dir() / NAME, tmp_path / "src")
    marker = tmp_path / "executed"

    class Evil:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    (src / "datastore.analysis.pickle").write_bytes(pkl.dumps([Evil()]))
    out = _run("import-mozaik", str(src), str(tmp_path / "dest"))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "system" in out.stderr and "datastore.analysis.pickle" in out.stderr
    assert not marker.exists() and not (tmp_path / "dest").exists()


def test_export_nwb_command(filled_store, tmp_path):
    pynwb = pytest.importorskip("pynwb")
    out_file = tmp_path / "exc.nwb"
    out = _run("export-nwb", str(filled_store), str(out_file), "sheet_name=V1_Exc_L4")
    assert out.returncode == 0, out.stderr
    with ma.open(filled_store, "r") as s:
        view = ma.queries.param_filter_query(s, sheet_name="V1_Exc_L4")
        n_recordings = view.segments_frame().collect().height
        spikes = int(view.segments_frame().collect()["n_spikes"].sum())
    with pynwb.NWBHDF5IO(str(out_file), "r") as io:
        nwb = io.read()
        assert len(nwb.trials) == n_recordings
        assert set(nwb.trials["sheet_name"][:]) == {"V1_Exc_L4"}
        assert sum(len(nwb.units.get_unit_spike_times(i)) for i in range(len(nwb.units))) == spikes
    again = _run("export-nwb", str(filled_store), str(out_file))
    assert again.returncode == 2 and "exists" in again.stderr  # never overwritten silently


@pytest.mark.parametrize("kind, extra", [("raster", []), ("psth", ["--parameter", "orientation"])])
def test_plot_command_draws_pixels(filled_store, tmp_path, kind, extra):
    mpimg = pytest.importorskip("matplotlib.image")
    png = tmp_path / f"{kind}.png"
    out = _run("plot", str(filled_store), kind, "-o", str(png), "st_orientation=0.0", *extra)
    assert out.returncode == 0, out.stderr
    img = mpimg.imread(png)
    assert img.ndim == 3 and img.shape[0] > 100
    dark = (img[..., :3].mean(axis=2) < 0.5).mean()
    assert 0.001 < dark < 0.5  # drawn: axes, labels and data, not blank and not a black box
    bad = _run("plot", str(filled_store), "psth", "-o", str(png))
    assert bad.returncode == 2 and "--parameter" in bad.stderr


def test_validate_through_the_console_script(filled_store, tmp_path):
    import shutil

    ok = _run("validate", str(filled_store))
    assert ok.returncode == 0 and "ok at version" in ok.stdout
    copy = tmp_path / "copy"
    shutil.copytree(filled_store, copy)
    victim = next((copy / "signals").rglob("*.parquet"))
    victim.chmod(0o644)
    victim.write_bytes(victim.read_bytes()[:-10])
    bad = _run("validate", str(copy))
    assert bad.returncode == 1 and victim.name in bad.stdout and "DAMAGED" in bad.stdout
