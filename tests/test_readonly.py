"""A store on read-only media: mode "r" reads everything and validates without writing a byte;
modes "a" and "w" fail with an OSError naming the store and write nothing.

Permission bits do not stop root, and tests run as root in CI. So the store is made
read-only by a read-only bind mount (``mount --bind`` + ``mount -o remount,ro,bind``) when
running as root, and by ``chmod -R a-w`` otherwise; if neither is possible the tests skip
with the reason.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest

import mozaik_arrow as ma
from mozaik_arrow.synthetic import synthetic_segment
from mozaik_arrow.validation import validate

from ._util import tree

STIM = {"name": "FullfieldDriftingSinusoidalGrating", "module_path": "mozaik.stimuli",
        "orientation": 0.0, "trial": 0}
_RO_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM)


def _build(path: Path) -> None:
    with ma.open(path, "w") as store:
        for i in range(2):
            store.add_recording(
                [synthetic_segment("V1_Exc_L4", 80, n_signals=2, duration=300.0, seed=i),
                 synthetic_segment("V1_Inh_L4", 20, duration=300.0, seed=50 + i, first_id=500)],
                dict(STIM, trial=i))
            store.add_stimulus(np.full((3, 3), float(i)), dict(STIM, trial=i))
        store.add_null_recording(synthetic_segment("V1_Exc_L4", 80, duration=300.0, seed=9),
                                 dict(STIM, trial=0))
        store.set_neuron_ids({"V1_Exc_L4": np.arange(1, 81), "V1_Inh_L4": np.arange(500, 520)})
        store.set_neuron_positions({"V1_Exc_L4": np.zeros((2, 80)),
                                    "V1_Inh_L4": np.ones((2, 20))})


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True)


def _chmod_tree(root: Path, writable: bool) -> None:
    for dirpath, _dirs, files in os.walk(root):
        for p in [dirpath, *(os.path.join(dirpath, f) for f in files)]:
            mode = os.stat(p).st_mode
            os.chmod(p, mode | stat.S_IWUSR if writable else mode & ~0o222)


@pytest.fixture
def media(tmp_path):
    """``(source, readonly)``: a directory holding a store and an empty directory, and the
    same directory on read-only media."""
    src = tmp_path / "media"
    _build(src / "store")
    (src / "empty").mkdir()
    if os.geteuid() != 0:
        _chmod_tree(src, writable=False)
        yield src, src
        _chmod_tree(src, writable=True)
        return
    ro = tmp_path / "ro"
    ro.mkdir()
    bind = _run("mount", "--bind", str(src), str(ro))
    if bind.returncode != 0:
        pytest.skip(f"running as root and `mount --bind` is not permitted here "
                    f"({bind.stderr.strip()}): root ignores permission bits, so read-only "
                    "media cannot be simulated")
    try:
        remount = _run("mount", "-o", "remount,ro,bind", str(ro))
        if remount.returncode != 0:
            pytest.skip(f"`mount -o remount,ro,bind` failed: {remount.stderr.strip()}")
        probe = ro / "probe"
        try:
            probe.write_bytes(b"x")
        except OSError as e:
            assert e.errno == errno.EROFS
        else:
            probe.unlink()
            pytest.skip("the bind mount is still writable")
        yield src, ro
    finally:
        _run("umount", "-l", str(ro))


def _everything(store: ma.ArrowDataStore) -> dict:
    """Every kind of read the API offers, as comparable values."""
    out: dict = {"segments": store.segments_frame().collect().to_dicts()}
    for null in (False, True):
        for seg in store.get_segments(null=null):
            key = (null, seg.annotations["sheet_name"], seg.annotations["stimulus"])
            out[key] = [st.magnitude.tobytes() for st in seg.get_spiketrains()]
            out[key, "rates"] = seg.mean_rates().tolist()
            ids = seg.get_stored_vm_ids()
            if ids:
                out[key, "vm"] = np.asarray(seg.get_vm(ids[0]).magnitude).tobytes()
                seg.load_full()
                out[key, "signals"] = [np.asarray(s.magnitude).tobytes()
                                       for s in seg.analogsignals]
    out["spikes"] = store.spikes().collect().sort("segment_id", "neuron_id").to_dicts()
    out["signals"] = store.signals().collect().sort("segment_id", "name", "neuron_id").to_dicts()
    out["sensory"] = [a.tobytes() for a in store.get_sensory_stimulus()]
    out["positions"] = {k: v.tobytes() for k, v in store.get_neuron_positions().items()}
    out["ids"] = store.get_sheet_ids("V1_Exc_L4").tolist()
    return out


def test_read_only_media_read_everything_and_validate(media):
    src, ro = media
    before = tree(src)
    with ma.open(src / "store", "r") as s:
        expected = _everything(s)
    with ma.open(ro / "store", "r") as s:
        assert not s.writable
        got = _everything(s)
        s.load()
    assert got == expected
    report = validate(ro / "store")
    assert report.ok and report.problems == [], report
    assert tree(src) == before


@pytest.mark.parametrize("target", ["store", "empty", "new"])
@pytest.mark.parametrize("mode", ["a", "w"])
def test_writable_open_on_read_only_media_fails_and_writes_nothing(media, mode, target):
    src, ro = media
    before = tree(src)
    path = ro / target
    if mode == "w" and target == "store":
        with pytest.raises(ma.StoreExistsError, match="already holds"):
            ma.open(path, mode)
    else:
        with pytest.raises(OSError) as info:
            ma.open(path, mode)
        assert info.value.errno in _RO_ERRNOS, info.value
        # the error names a path inside the store (or the store itself)
        assert str(path) in str(info.value), info.value
    assert tree(src) == before
    assert not (ro / "new").exists()
    # and nothing was left half-made: the store still reads
    with ma.open(ro / "store", "r") as s:
        assert len(s.get_segments()) == 4


def test_chmod_does_not_protect_from_root(tmp_path):
    """Why the fixture mounts: as root, a store with every write bit cleared is writable."""
    if os.geteuid() != 0:
        pytest.skip("only meaningful as root")
    path = tmp_path / "store"
    ma.open(path, "w").close()
    _chmod_tree(path, writable=False)
    try:
        with ma.open(path, "a") as s:
            s.add_recording(synthetic_segment("V1_Exc_L4", 5, seed=1), STIM)
        assert len(ma.open(path, "r").get_segments()) == 1
    finally:
        _chmod_tree(path, writable=True)
        shutil.rmtree(path)
