"""vacuum: removes files no commit references, never a referenced or a young one."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

import mozaik_arrow as ma
from mozaik_arrow.synthetic import synthetic_segment

from ._crash_writer import stimulus


def _store(path):
    with ma.open(path, "w") as store:
        for i in range(2):
            store.add_recording(synthetic_segment("V1_Exc_L4", 30, n_signals=2, seed=i), stimulus(i))
    return path


def _stray(path, rel: str, age: float) -> str:
    """A file put into the store's directories by something other than a commit."""
    target = path / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    src = next((path / "spikes").rglob("*.parquet"))
    shutil.copyfile(src, target)
    then = time.time() - age
    os.utime(target, (then, then))
    return rel


def test_vacuum_removes_only_unreferenced_old_files(store_path):
    _store(store_path)
    with ma.open(store_path, "r") as store:
        committed = set(store._snapshot().files)
    old = _stray(store_path, "spikes/sheet=V1_Exc_L4/stimulus=sX/deadbeef.parquet", age=7200)
    young = _stray(store_path, "ads/0123abcd.parquet", age=10)
    for rel in committed:  # referenced files are never candidates, however old
        then = time.time() - 10 * 86400
        os.utime(store_path / rel, (then, then))
    assert ma.vacuum(store_path, dry_run=True) == [old]
    assert (store_path / old).exists()
    assert ma.vacuum(store_path) == [old]
    assert not (store_path / old).exists() and (store_path / young).exists()
    assert ma.vacuum(store_path, grace_seconds=0) == [young]
    with ma.open(store_path, "r") as store:
        assert set(store._snapshot().files) == committed
        assert len(store.get_segments()[1].get_spiketrains()) == 30
    assert ma.validate(store_path).ok


def test_vacuum_refuses_what_is_not_a_store(tmp_path):
    with pytest.raises(ma.NotAStoreError):
        ma.vacuum(tmp_path)
    with pytest.raises(ValueError, match="grace_seconds"):
        ma.vacuum(tmp_path, grace_seconds=-1)


def test_vacuum_command(store_path):
    _store(store_path)
    old = _stray(store_path, "signals/sheet=V1_Exc_L4/stimulus=sX/cafe.parquet", age=7200)
    dry = subprocess.run(["mozaik-arrow", "vacuum", str(store_path), "--dry-run"],
                         capture_output=True, text=True, timeout=120)
    assert dry.returncode == 0 and dry.stdout.split() == [old] and "would remove 1" in dry.stderr
    run = subprocess.run(["mozaik-arrow", "vacuum", str(store_path)], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.split() == [old]
    assert not (store_path / old).exists()
    bad = subprocess.run(["mozaik-arrow", "vacuum", str(store_path / "nope")], capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("mozaik-arrow: error:")
