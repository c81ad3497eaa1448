"""SIGKILL a writer mid-add_recording, many times: the store always opens at its last commit,
holds every acknowledged recording whole, and a glob sees only committed files."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.dataset as pads
import pytest

import mozaik_arrow as ma
from mozaik_arrow.commit import CRASH_ENV

from ._crash_writer import segments

ROOT = Path(__file__).resolve().parent.parent


def _writer(store: Path, first: int, count: int, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests._crash_writer", str(store), str(first), str(count)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **(env or {})},
    )


def _glob_files(store: Path, table: str) -> set[str]:
    return {str(Path(p).relative_to(store)) for p in (store / table).rglob("*.parquet")}


def _check_store(store: Path, acked: set[int], mode: str = "r") -> set[int]:
    """Open the store, check every recording in it is whole; return the trials it holds."""
    with ma.open(store, mode) as s:
        held = {}
        for seg in s.get_segments():
            trial = ma.parametrized.parse_stimulus_string(seg.annotations["stimulus"])["trial"]
            held.setdefault(trial, []).append(seg)
        assert acked <= set(held), f"acknowledged recordings lost: {sorted(acked - set(held))}"
        for trial, segs in held.items():
            originals = {o.annotations["sheet_name"]: o for o in segments(trial)}
            assert len(segs) == 2
            for seg in segs:
                o = originals[seg.annotations["sheet_name"]]
                got = seg.get_spiketrains()
                assert len(got) == len(o.spiketrains)
                for a, b in zip(got, o.spiketrains, strict=True):
                    assert np.array_equal(a.magnitude, b.magnitude)
                if o.analogsignals:
                    v = seg.get_vm(1)
                    assert np.array_equal(np.asarray(v.magnitude).ravel(), o.analogsignals[0].magnitude[:, 0])
        committed = set(s.spikes().collect()["segment_id"].unique().to_list())
        assert len(committed) == 2 * len(held)
    return set(held)


def _committed_files(store: Path) -> set[str]:
    with ma.open(store, "r") as s:
        return {f for f in s._snapshot().files if f.startswith("spikes/")}


@pytest.mark.parametrize("kills", [12])
def test_sigkill_at_random_moments(tmp_path, kills):
    store = tmp_path / "store"
    rng = random.Random(42)
    acked: set[int] = set()
    nxt = 0
    for _ in range(kills):
        proc = _writer(store, nxt, 1000)
        # let it acknowledge a few recordings, then kill it at a random moment
        want = rng.randint(0, 3)
        got = 0
        while got < want:
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("ACK"):
                acked.add(int(line.split()[1]))
                got += 1
        time.sleep(rng.uniform(0.0, 0.05))
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate()
        acked.update(int(line.split()[1]) for line in out.splitlines() if line.startswith("ACK"))
        if not (store / "mozaik_arrow.json").exists():
            continue  # killed before the store existed
        held = _check_store(store, acked)  # read-only open: no recovery
        nxt = max(held | acked | {-1}) + 1
        # a writable open removes what the crashed writer left; then glob == log
        _check_store(store, acked, mode="a")
        assert _glob_files(store, "spikes") == _committed_files(store)
        assert not list((store / "_staging").rglob("*.tmp"))
    assert len(acked) >= kills // 2
    # a final writer continues normally after all the crashes
    proc = _writer(store, nxt, 2)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert _check_store(store, acked) >= acked | {nxt, nxt + 1}
    # pyarrow's dataset discovery agrees with the API
    ds = pads.dataset(store / "spikes", format="parquet", partitioning="hive")
    with ma.open(store, "r") as s:
        assert ds.count_rows() == s.spikes().select("neuron_id").collect().height


STEPS = ["staged", "locked", "intent", "renamed-one", "renamed", "logged", "done"]


@pytest.mark.parametrize("step", STEPS)
def test_crash_at_every_commit_step(tmp_path, step):
    store = tmp_path / "store"
    proc = _writer(store, 0, 1)
    assert proc.wait(timeout=120) == 0
    proc = _writer(store, 1, 1, env={CRASH_ENV: step})
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert "ACK" not in out
    committed = step in ("logged", "done")
    held = _check_store(store, {0})
    assert held == ({0, 1} if committed else {0})
    if step in ("renamed-one", "renamed"):
        # renamed but not logged: a glob may see the orphan until a writable open
        assert _glob_files(store, "spikes") >= _committed_files(store)
    _check_store(store, {0}, mode="a")  # recovery
    assert _glob_files(store, "spikes") == _committed_files(store)
    assert _glob_files(store, "segments") == {
        f for f in ma.open(store, "r")._snapshot().files if f.startswith("segments/")
    }
    assert [p.name for p in (store / "_staging").iterdir()] == []
    # and the next writer carries on
    proc = _writer(store, 1 if not committed else 2, 1)
    assert proc.wait(timeout=120) == 0


def test_a_crash_after_a_replacing_commit_finishes_its_deletions(tmp_path):
    """set_neuron_ids replaces the neurons file; killed right after its record is durable,
    the old file is left behind — the next writable open deletes it (from the intent)."""
    store = tmp_path / "store"
    with ma.open(store, "w") as s:
        s.set_neuron_ids({"V1_Exc_L4": [1, 2, 3]})
    code = ("import mozaik_arrow as ma\n"
            f"s = ma.open({str(store)!r}, 'a')\n"
            "s.set_neuron_ids({'V1_Exc_L4': [4, 5, 6]})\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          env={**os.environ, CRASH_ENV: "logged"})
    assert proc.returncode == -signal.SIGKILL
    assert len(list((store / "neurons").glob("*.parquet"))) == 2  # the old one is left
    with ma.open(store, "r") as s:
        assert s.get_sheet_ids("V1_Exc_L4").tolist() == [4, 5, 6]  # committed
    ma.open(store, "a").close()
    assert len(list((store / "neurons").glob("*.parquet"))) == 1
    with ma.open(store, "r") as s:
        assert s.get_sheet_ids("V1_Exc_L4").tolist() == [4, 5, 6]
