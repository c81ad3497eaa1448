"""The filesystem face of a store: every byte the store reads or writes goes through here.

A :class:`StoreFileSystem` is rooted at the store directory and speaks in paths relative to
it (``"spikes/sheet=V1/stimulus=s.../x.parquet"``). It offers the few primitives the commit
protocol needs — durable writes, durable renames, create-if-absent, directory fsyncs and an
exclusive lock — plus plain reads. Only :mod:`mozaik_arrow.commit` calls the mutating ones.

Two implementations: :class:`LocalFileSystem` (POSIX disks, including network filesystems
that honour ``link``/``flock``) and :class:`~mozaik_arrow.objectstore.ObjectFileSystem`
(S3-compatible object storage: conditional put instead of link, no rename);
:func:`open_filesystem` picks one from a location.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import ValidationError

__all__ = ["LocalFileSystem", "StoreFileSystem", "open_filesystem"]


class StoreFileSystem:
    """Interface of a store's filesystem: :class:`LocalFileSystem` (POSIX) and
    :class:`~mozaik_arrow.objectstore.ObjectFileSystem` (S3-compatible object storage).

    Both speak in store-relative paths and offer reads (``exists``, ``listdir``,
    ``read_bytes``, ``size``, ``parquet_source``, ``polars_options``) and the writes their
    medium has: ``renames`` tells which commit protocol applies (rename + ``link`` + ``flock``
    on disks, unique names + conditional put on object storage).
    """

    root: str
    renames: bool

    def full(self, rel: str) -> str:
        """Path or URL of ``rel`` (what polars and duckdb read, and what errors name)."""
        raise NotImplementedError

    def parquet_source(self, rel: str, size: int | None = None) -> Any:
        """What ``pyarrow.parquet.ParquetFile`` reads ``rel`` from (``size``: its byte size
        when known, saving a request on object storage)."""
        return self.full(rel)

    def polars_options(self) -> dict[str, str] | None:
        """``storage_options`` for polars' readers (None: a local path)."""
        return None

    def exists(self, rel: str) -> bool:
        raise NotImplementedError

    def listdir(self, rel: str = "") -> list[str]:
        raise NotImplementedError

    def read_bytes(self, rel: str) -> bytes:
        raise NotImplementedError

    def size(self, rel: str) -> int:
        raise NotImplementedError

    def remove(self, rel: str) -> bool:
        raise NotImplementedError

    def start_writeback(self, rel: str) -> None:
        """Hint that what was written to ``rel`` so far may go to the medium now (no wait,
        no guarantee; durability still comes from the commit's fsync). No-op by default."""


def _sync_file_range() -> Any:
    """libc's ``sync_file_range`` (Linux), or None where it is not available."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_SYNC_FILE_RANGE = _sync_file_range()
_SYNC_FILE_RANGE_WRITE = 2  # start writing dirty pages out; do not wait for them


def open_filesystem(
    location: str | os.PathLike[str], storage_options: Mapping[str, Any] | None = None
) -> StoreFileSystem:
    """The filesystem of a store location: a local path or ``file://`` URL, or an
    object-storage URL (``s3://bucket/prefix``) with its ``storage_options``."""
    target = os.fspath(location)
    if isinstance(target, str) and "://" in target and not target.startswith("file://"):
        from .objectstore import ObjectFileSystem

        return ObjectFileSystem(target, storage_options)
    if storage_options:
        raise ValidationError("storage_options are for object storage (s3://...), not a local path")
    if isinstance(target, str) and target.startswith("file://"):
        target = target[len("file://"):]
    return LocalFileSystem(target)


class LocalFileSystem(StoreFileSystem):
    """A store on a local (or POSIX network) filesystem.

    Parameters
    ----------
    root : str or Path
        The store directory.
    """

    renames = True

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.path.abspath(os.fspath(root))
        try:
            encoded = os.fsencode(self.root)
        except UnicodeEncodeError:
            raise ValidationError(f"store path {self.root!r} is not valid for this "
                                  "filesystem (not encodable)") from None
        if b"\0" in encoded:
            raise ValidationError(f"store path {self.root!r} holds a NUL byte")

    # -- paths ---------------------------------------------------------------------------
    def full(self, rel: str) -> str:
        """Absolute path of ``rel``; refuses anything that would leave the store."""
        path = os.path.normpath(os.path.join(self.root, rel))
        if path != self.root and not path.startswith(self.root + os.sep):
            raise ValueError(f"path {rel!r} leaves the store {self.root}")
        return path

    # -- reads ---------------------------------------------------------------------------
    def exists(self, rel: str) -> bool:
        return os.path.exists(self.full(rel))

    def is_dir(self, rel: str = "") -> bool:
        return os.path.isdir(self.full(rel))

    def listdir(self, rel: str = "") -> list[str]:
        try:
            return os.listdir(self.full(rel))
        except FileNotFoundError:
            return []

    def read_bytes(self, rel: str) -> bytes:
        with open(self.full(rel), "rb") as f:
            return f.read()

    def size(self, rel: str) -> int:
        return os.stat(self.full(rel)).st_size

    # -- durable writes (commit module only) ---------------------------------------------
    def fsync_dir(self, rel: str = "") -> None:
        """fsync a directory so that entries created or renamed in it survive a crash."""
        fd = os.open(self.full(rel), os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def fsync_file(self, rel: str) -> None:
        fd = os.open(self.full(rel), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def start_writeback(self, rel: str) -> None:
        # The kernel would otherwise hold a file's dirty pages until the commit's fsync,
        # which then waits for all of them while the CPUs sit idle; started early, the disk
        # writes while the encoder works (a medium stimulus' signals-only write, isolated:
        # fsync 0.3-0.45 -> 0.03 s, the whole write 0.8-0.98 -> 0.69-0.89 s).
        if _SYNC_FILE_RANGE is None:
            return
        fd = os.open(self.full(rel), os.O_RDONLY)
        try:
            _SYNC_FILE_RANGE(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)  # a hint: errors are ignored
        finally:
            os.close(fd)

    def makedirs_durable(self, rel: str) -> list[str]:
        """Create ``rel`` and its missing parents, fsyncing each parent that gained an entry;
        returns the directories created, outermost first."""
        missing: list[str] = []
        cur = rel.strip("/")
        while cur and not os.path.isdir(self.full(cur)):
            missing.append(cur)
            cur = os.path.dirname(cur)
        created = []
        for d in reversed(missing):
            try:
                os.mkdir(self.full(d))
            except FileExistsError:
                continue
            created.append(d)
            self.fsync_dir(os.path.dirname(d))
        return created

    def rmdir_if_empty(self, rel: str) -> bool:
        try:
            os.rmdir(self.full(rel))
        except OSError:  # not empty, or gone
            return False
        return True

    def write_bytes_durable(self, rel: str, data: bytes) -> None:
        """Write a new file and fsync it (not its directory)."""
        fd = os.open(self.full(rel), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)

    def rename(self, src: str, dst: str) -> None:
        """Atomically move ``src`` to ``dst`` (same filesystem); caller fsyncs the dirs."""
        os.rename(self.full(src), self.full(dst))

    def link_exclusive(self, src: str, dst: str) -> bool:
        """Create ``dst`` as a hard link to ``src`` unless ``dst`` exists (put-if-absent).

        Returns False when ``dst`` already exists. A link makes the complete, fsynced
        content appear at once, which ``O_EXCL`` + write would not.
        """
        try:
            os.link(self.full(src), self.full(dst))
        except FileExistsError:
            return False
        return True

    def remove(self, rel: str) -> bool:
        try:
            os.unlink(self.full(rel))
        except FileNotFoundError:
            return False
        return True

    def rmtree(self, rel: str) -> None:
        shutil.rmtree(self.full(rel), ignore_errors=True)

    # -- locks ---------------------------------------------------------------------------
    @contextmanager
    def lock(self, rel: str) -> Iterator[None]:
        """Hold an exclusive ``flock`` on ``rel`` (created if missing) for the block."""
        fd = os.open(self.full(rel), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def hold_lock(self, rel: str) -> int:
        """Take an exclusive ``flock`` on ``rel`` and keep it until :meth:`release_lock`."""
        fd = os.open(self.full(rel), os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    @staticmethod
    def release_lock(fd: int) -> None:
        os.close(fd)

    def try_lock(self, rel: str) -> int | None:
        """Take ``flock(LOCK_EX | LOCK_NB)``; None when another process holds it."""
        try:
            fd = os.open(self.full(rel), os.O_RDWR)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                return None
            raise
        return fd


def is_empty_dir(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is missing or an empty directory."""
    p = Path(path)
    return not p.exists() or (p.is_dir() and not any(p.iterdir()))
