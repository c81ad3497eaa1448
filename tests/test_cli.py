"""The `mozaik-arrow` command, through its real entry points."""

from __future__ import annotations

import subprocess
import sys

import mozaik_arrow as ma
from mozaik_arrow.cli import main


def test_demo_builds_a_store_and_prints_a_summary(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "mozaik_arrow", "demo", str(tmp_path / "demo"),
         "--n-exc", "30", "--n-inh", "10", "--duration", "100", "--orientations", "0", "1.5"],
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
