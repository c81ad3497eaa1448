"""The commit protocol: the only code that creates, renames or deletes files in a store.

A store's truth is its log, ``_log/<version:020d>.json``: one JSON record per commit naming
the files it added (and removed) and carrying the small metadata rows (segments, stimuli,
sensory stimuli) it added. A file no record names does not exist for the API.

Writing one commit (:meth:`Transaction.commit`):

1. Outside any lock, each data file is encoded into the writer's private staging directory
   ``_staging/<writer>/<uuid>.tmp`` — a name no ``*.parquet`` glob matches — and fsynced.
2. Under the store lock (``flock`` on ``_lock``) the writer reads log records it has not seen
   yet, and validates its change against that state (uniqueness of recordings, ...). A
   refused change deletes its staged files: no glob ever saw them.
3. It writes an *intent* (the final paths) into its staging directory, renames each staged
   file into place (``os.rename`` is atomic), and fsyncs every directory involved.
4. It writes the log record into staging, fsyncs it, and publishes it with ``link`` to the
   next version number: put-if-absent, and the record appears whole or not at all. The
   commit is durable when the ``_log`` directory is fsynced, before the call returns.

A crash can leave (a) staged temp files, invisible to globs, or (b) data files renamed into
place whose record was never written (between steps 3 and 4), visible to a glob but not to
the API. Each writer holds an ``flock`` on ``_staging/<writer>/.alive`` for its lifetime, so
a later writable open (:meth:`Log.recover`, under the store lock) knows which writers are
gone and removes their leftovers using their intents — never files of a live writer.
Read-only opens never write or clean anything.

On object storage (:class:`~mozaik_arrow.objectstore.ObjectFileSystem`: no rename, no
``flock``, no ``fsync``) the same log is written differently (:meth:`Transaction.
_commit_conditional`): data files are uploaded directly under their final, unique names
(an object appears whole when its upload completes); the record of the next version is
created with a conditional put (``If-None-Match: *``), which exactly one writer wins; a
loser reads the records it missed, validates its change against them and tries the next
version. A crash leaves uploaded files that no record names: invisible to the API, visible
to a glob until :func:`mozaik_arrow.vacuum` removes them. Files a commit replaces are not
deleted by it either (readers of the previous version may still be reading them):
``vacuum`` removes them once they are older than its grace period.

The pieces live in modules of one job each, their public names re-exported here: the
names of the log's files and the checks on a record (:mod:`.commit_records`), the format file
that makes a path a store (:mod:`.commit_format`), and :class:`Transaction`, which stages and
publishes one commit and writes checkpoints (:mod:`.commit_transaction`). This module holds
:class:`Log`: reading the log and checkpoints, registering writers, recovery.
``CHECKPOINT_EVERY`` is not re-exported: it is read, and patched by tests, in
:mod:`.commit_transaction`.
"""

from __future__ import annotations

import json
import os
import uuid

import pyarrow as pa
import pyarrow.parquet as pq

from .commit_format import create_store, read_format
from .commit_records import (
    _ALIVE,
    _LAST_CHECKPOINT,
    LOCK_FILE,
    LOG_DIR,
    STAGING_DIR,
    _check_record,
    _checkpoint_name,
    _log_name,
    json_record,
)
from .commit_transaction import CRASH_ENV, Changes, Transaction
from .errors import CorruptFileError, ReadOnlyError
from .filesystem import StoreFileSystem
from .snapshot import ROW_TABLES, Deferred, Snapshot, from_checkpoint

__all__ = ["Log", "Transaction", "Changes", "LOG_DIR", "STAGING_DIR", "LOCK_FILE",
           "CRASH_ENV", "json_record", "read_format", "create_store"]


def _deferred_table(fs: StoreFileSystem, rel: str) -> Deferred:
    """A checkpoint table whose footer is read now and its rows on first use."""
    # No descriptor kept open: collections open thousands of stores.
    size = fs.size(rel)
    with pq.ParquetFile(fs.parquet_source(rel, size)) as pf:
        footer = pf.metadata

    def load() -> pa.Table:
        # ParquetFile.read, not read_table: no dataset discovery (3x faster on 1e4 rows);
        # one thread: as fast at this size, without the thread pool's 40-90 ms outliers.
        try:
            with pq.ParquetFile(fs.parquet_source(rel, size), metadata=footer,
                                pre_buffer=not fs.renames) as pf:
                return pf.read(use_threads=False)
        except (OSError, pa.ArrowException) as e:
            raise CorruptFileError(fs.full(rel), f"cannot read checkpoint table ({e})") from None

    return Deferred(load)


class Log:
    """Reads and extends a store's commit log.

    Parameters
    ----------
    fs : StoreFileSystem
        The store's filesystem.
    writable : bool
        Whether this process may write. Read-only logs never create, change or remove files.
    """

    def __init__(self, fs: StoreFileSystem, writable: bool) -> None:
        self.fs = fs
        self.writable = writable
        self._snapshot = Snapshot()
        self._opened = False  # the first read starts from the checkpoint and checks for gaps
        self._writer: str | None = None
        self._alive_fd: int | None = None

    # -- reading -------------------------------------------------------------------------
    def snapshot(self, refresh: bool = True) -> Snapshot:
        """The latest committed state (reading only log records not seen yet)."""
        if refresh:
            self._snapshot = self._read_after(self._snapshot)
        return self._snapshot

    def _read_after(self, snap: Snapshot) -> Snapshot:
        opening = not self._opened
        if opening:
            snap = self._read_checkpoint() or snap
        while True:
            snap = self._read_records(snap)
            if not opening:
                return snap
            version = snap.version + 1
            later = self._later_records(version)
            if not later:
                self._opened = True
                return snap
            # Records are published one after another (v + 1 only once v exists), so a later
            # one beyond a missing one means the log lost a commit: refuse rather than
            # silently drop what follows. Unless the missing one exists now: other writers
            # committed between the reads above and the look for later records.
            name = _log_name(version)
            if not self.fs.exists(name):
                raise CorruptFileError(self.fs.full(name), "commit record missing from the log "
                                       f"(a later one exists: {sorted(later)[0]})")

    def _read_records(self, snap: Snapshot) -> Snapshot:
        """``snap`` with the records after it applied, up to the first name missing."""
        version = snap.version + 1
        while True:
            name = _log_name(version)
            try:
                raw = self.fs.read_bytes(name)
            except FileNotFoundError:
                return snap
            snap = snap.apply(_check_record(json_record(raw, self.fs.full(name)), version,
                                            self.fs.full(name)))
            version += 1

    def _later_records(self, version: int) -> list[str]:
        """Names of records after ``version`` (which was found missing).

        A writer lists the whole log (it must never commit into a gap); a reader probes the
        next few names, so that opening stays flat in the length of the log (`validate`
        lists everything).
        """
        if not self.fs.renames:  # object storage: one listing of the names after it
            names = self.fs.names_after(LOG_DIR, _log_name(version)[len(LOG_DIR) + 1:])
        elif self.writable:
            names = self.fs.listdir(LOG_DIR)
        else:
            return [_log_name(v)[len(LOG_DIR) + 1:] for v in range(version + 1, version + 9)
                    if self.fs.exists(_log_name(v))]
        return [n for n in names
                if n.endswith(".json") and n[:20].isdigit() and int(n[:20]) > version]

    def _read_checkpoint(self) -> Snapshot | None:
        """The state at the latest checkpoint, or None (then the log is replayed from 1).

        Only the footers are read here (a missing or truncated table falls back to the log);
        each table is read when first needed.
        """
        try:
            version = int(self.fs.read_bytes(_LAST_CHECKPOINT))
            info = json.loads(self.fs.read_bytes(_checkpoint_name(version, "json")))
            tables = {t: _deferred_table(self.fs, _checkpoint_name(version, f"{t}.parquet"))
                      for t in (*ROW_TABLES, "files")}
        except (OSError, ValueError, KeyError, pa.ArrowException):
            # A missing or damaged checkpoint only costs time: the log holds everything.
            return None
        return from_checkpoint(version, tables.pop("files"), tables, info.get("neurons_file"))

    # -- writing -------------------------------------------------------------------------
    def _require_writable(self) -> None:
        if not self.writable:
            raise ReadOnlyError(f"store {self.fs.root} is open read-only")

    def writer_dir(self) -> str | None:
        """This process's staging directory, registered (and locked) on first use (None on
        object storage, where files are written under their final, unique names)."""
        self._require_writable()
        if not self.fs.renames:
            return None
        if self._writer is None or self._writer_pid != os.getpid():
            wid = uuid.uuid4().hex
            rel = f"{STAGING_DIR}/{wid}"
            # Registration happens under the store lock so that recovery never sees a
            # staging directory whose owner has not yet locked it.
            with self.fs.lock(LOCK_FILE):
                self.fs.makedirs_durable(rel)
                self._alive_fd = self.fs.hold_lock(f"{rel}/{_ALIVE}")
            self._writer = wid
            self._writer_pid = os.getpid()
        return f"{STAGING_DIR}/{self._writer}"

    def transaction(self, operation: str) -> Transaction:
        """Start a commit; stage files on it, then :meth:`Transaction.commit`."""
        self._require_writable()
        return Transaction(self, operation)

    def recover(self) -> list[str]:
        """Remove leftovers of crashed writers; returns what was removed (store lock held)."""
        self._require_writable()
        removed: list[str] = []
        if not self.fs.renames:
            return removed  # nothing is staged on object storage: see vacuum()
        with self.fs.lock(LOCK_FILE):
            snap = self.snapshot()
            for wid in self.fs.listdir(STAGING_DIR):
                rel = f"{STAGING_DIR}/{wid}"
                if wid == self._writer or not self.fs.is_dir(rel):
                    continue
                fd = self.fs.try_lock(f"{rel}/{_ALIVE}")
                if fd is None and self.fs.exists(f"{rel}/{_ALIVE}"):
                    continue  # a live writer
                try:
                    for name in self.fs.listdir(rel):
                        if not name.startswith("intent-"):
                            continue
                        try:
                            intent = json.loads(self.fs.read_bytes(f"{rel}/{name}"))
                        except ValueError:
                            continue  # torn intent: its renames never started
                        committed = all(p in snap.files for p in intent["paths"])
                        # Not committed: take back its files. Committed: finish its deletions.
                        doomed = intent.get("removed", []) if committed else intent["paths"]
                        for path in doomed:
                            if path not in snap.files and self.fs.remove(path):
                                self.fs.fsync_dir(os.path.dirname(path))
                                removed.append(path)
                    self.fs.rmtree(rel)
                    removed.append(rel)
                finally:
                    if fd is not None:
                        self.fs.release_lock(fd)
            if removed:
                self.fs.fsync_dir(STAGING_DIR)
        return removed

    def close(self) -> None:
        """Drop this writer's staging directory (nothing in it is committed)."""
        if self._writer is not None and getattr(self, "_writer_pid", None) == os.getpid():
            self.fs.rmtree(f"{STAGING_DIR}/{self._writer}")
            if self._alive_fd is not None:
                self.fs.release_lock(self._alive_fd)
        self._writer = None
        self._alive_fd = None
