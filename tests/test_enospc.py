"""Disk full: writes into a store on a real 2 MiB tmpfs until ENOSPC.

The failing call raises OSError(ENOSPC); the store still opens at its last commit with
every acknowledged recording whole; after the next writable open a ``*.parquet`` glob finds
exactly the committed files and staging is empty; and once space is freed the store carries
on. Needs root and ``mount -t tmpfs`` (skips with the reason otherwise); nothing is mocked.
"""

from __future__ import annotations

import errno
import functools
import os
import subprocess
import traceback
from pathlib import Path

import numpy as np
import pytest

import mozaik_arrow as ma
from mozaik_arrow import commit_transaction, schema
from mozaik_arrow.synthetic import synthetic_segment
from mozaik_arrow.validation import validate

STIM = {"name": "FullfieldDriftingSinusoidalGrating", "module_path": "mozaik.stimuli",
        "orientation": 0.0, "trial": 0}
SIZE = "2m"


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True)


@pytest.fixture
def small_fs(tmp_path):
    """A real 2 MiB tmpfs mounted at a temporary directory (unmounted afterwards)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs (os.write is not mocked)")
    done = _run("mount", "-t", "tmpfs", "-o", f"size={SIZE},mode=0755", "tmpfs", str(mnt))
    if done.returncode != 0:
        pytest.skip(f"`mount -t tmpfs` is not permitted here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        _run("umount", "-l", str(mnt))


@functools.cache
def _segments(i: int, n: int) -> list:
    return [synthetic_segment("V1_Exc_L4", n, n_signals=n // 50, duration=300.0, seed=i),
            synthetic_segment("V1_Inh_L4", max(1, n // 4), duration=300.0, seed=1000 + i,
                              first_id=5000)]


def _glob(store: Path) -> set[str]:
    return {str(p.relative_to(store)) for t in schema.TABLES
            for p in (store / t).rglob("*.parquet")}


def _check(store: Path, acked: dict[int, int]) -> None:
    """Every acknowledged recording is there and whole (read-only open)."""
    with ma.open(store, "r") as s:
        held = {}
        for seg in s.get_segments():
            trial = ma.parametrized.parse_stimulus_string(seg.annotations["stimulus"])["trial"]
            held.setdefault(trial, []).append(seg)
        assert set(held) == set(acked), (sorted(held), sorted(acked))
        for trial, segs in held.items():
            originals = {o.annotations["sheet_name"]: o for o in _segments(trial, acked[trial])}
            for seg in segs:
                o = originals[seg.annotations["sheet_name"]]
                got = seg.get_spiketrains()
                assert [a.magnitude.tobytes() for a in got] == [
                    b.magnitude.tobytes() for b in o.spiketrains]
                if o.analogsignals:
                    seg.load_full()
                    stored = {a.name: np.asarray(a.magnitude) for a in seg.analogsignals}
                    assert stored.keys() == {a.name for a in o.analogsignals}
                    for a in o.analogsignals:
                        assert np.array_equal(stored[a.name], a.magnitude)


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "mozaik_arrow" in f.filename]
    return " < ".join(f"{Path(f.filename).stem}.{f.name}" for f in ours[::-1][:3])


@pytest.mark.parametrize("checkpoint_every", [100, 1])
def test_disk_full(small_fs, monkeypatch, checkpoint_every):
    """With ``checkpoint_every=1`` ENOSPC also strikes while writing checkpoints."""
    monkeypatch.setattr(commit_transaction, "CHECKPOINT_EVERY", checkpoint_every)
    store = small_fs / "store"
    acked: dict[int, int] = {}
    failures: list[str] = []
    trial = 0
    with ma.open(store, "w") as s:
        # Fill with large recordings, then ever smaller ones, so that ENOSPC strikes at
        # different steps (encoding a data file, an intent, a log record, a directory).
        for n in (400, 100, 20, 2):
            for _ in range(200):
                try:
                    s.add_recording(_segments(trial, n), dict(STIM, trial=trial))
                except OSError as e:
                    assert e.errno == errno.ENOSPC or "No space left" in str(e), repr(e)
                    failures.append(_where(e))
                    _check(store, acked)  # a read-only open sees the last commit
                    trial += 1
                    break
                acked[trial] = n
                trial += 1
            else:
                pytest.fail(f"{SIZE} tmpfs never filled up")
        # the writer is still usable after the failures: a duplicate is still refused
        with pytest.raises(ma.DuplicateError):
            s.add_recording(_segments(0, acked[0]), dict(STIM, trial=0))
    assert len(acked) > 3 and len(failures) == 4, (acked, failures)
    _check(store, acked)
    ma.open(store, "a").close()  # a writable open, still on a full disk
    with ma.open(store, "r") as s:
        committed = set(s._snapshot().files)
    assert _glob(store) == committed
    assert not any((store / "_staging").iterdir())
    report = validate(store)
    # a checkpoint write that hit ENOSPC leaves an unused, incomplete checkpoint (a warning)
    assert report.ok and all(p.severity == "warning" and "incomplete checkpoint" in p.message
                             for p in report.problems), report
    # space comes back: the store carries on
    assert _run("mount", "-o", "remount,size=16m", str(small_fs)).returncode == 0
    with ma.open(store, "a") as s:
        s.add_recording(_segments(trial, 50), dict(STIM, trial=trial))
        acked[trial] = 50
    _check(store, acked)
    assert validate(store).ok
    print(f"{len(acked)} recordings; ENOSPC raised in:", failures)
