"""The commit protocol: the only module that creates, renames or deletes files in a store.

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
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from . import schema
from .errors import (
    CorruptFileError,
    FormatVersionError,
    NotAStoreError,
    ReadOnlyError,
    StoreExistsError,
)
from .filesystem import StoreFileSystem
from .snapshot import ROW_TABLES, Deferred, Snapshot, from_checkpoint

__all__ = ["Log", "Transaction", "Changes", "LOG_DIR", "STAGING_DIR", "LOCK_FILE"]

LOG_DIR = "_log"
STAGING_DIR = "_staging"
LOCK_FILE = "_lock"
_ALIVE = ".alive"
CHECKPOINT_EVERY = 100
"""A checkpoint of the whole state is written every this many commits (flat open time)."""
_LAST_CHECKPOINT = f"{LOG_DIR}/_last_checkpoint"

CRASH_ENV = "MOZAIK_ARROW_CRASH_AT"
"""Fault injection for tests: the commit step at which the process kills itself (SIGKILL)."""


def _crash_point(step: str) -> None:
    if os.environ.get(CRASH_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def _log_name(version: int) -> str:
    return f"{LOG_DIR}/{version:020d}.json"


def json_record(raw: bytes, path: str) -> dict[str, Any]:
    """Parse a commit record; CorruptFileError naming ``path`` when it is not JSON."""
    try:
        record = json.loads(raw)
    except ValueError as e:
        raise CorruptFileError(path, f"unreadable commit record: {e}") from None
    if not isinstance(record, dict):
        raise CorruptFileError(path, "commit record is not a JSON object")
    return record


def _check_record(record: dict[str, Any], version: int, path: str) -> dict[str, Any]:
    """Refuse a record of another version, a newer format, or malformed entries."""
    if record.get("version") != version:
        raise CorruptFileError(path, "commit record has the wrong version")
    fmt = record.get("format_version")
    if not isinstance(fmt, int) or fmt > schema.FORMAT_VERSION:
        raise FormatVersionError(
            f"{path}: commit record of format version {fmt!r}; this mozaik_arrow reads up to "
            f"{schema.FORMAT_VERSION}: upgrade mozaik_arrow"
        )
    files = record.get("files", [])
    if not isinstance(files, list) or not all(
        isinstance(f, dict) and isinstance(f.get("path"), str) and isinstance(f.get("bytes"), int)
        for f in files
    ):
        raise CorruptFileError(path, "commit record has malformed file entries")
    return record


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


def _write_parquet(fs: StoreFileSystem, rel: str, arrow_schema: pa.Schema,
                   write: Callable[[pq.ParquetWriter], None], **options: Any) -> int:
    """Write one Parquet file at ``rel`` (fsynced on disks; one upload on object storage,
    visible only when complete) and return its size in bytes."""
    if fs.renames:
        with pq.ParquetWriter(fs.full(rel), arrow_schema, **options) as writer:
            write(writer)
        fs.fsync_file(rel)
        return fs.size(rel)
    with fs.open_output(rel) as sink:
        with pq.ParquetWriter(sink, arrow_schema, **options) as writer:
            write(writer)
        return int(sink.tell())


# Raw bytes encoded between two hints to start writing a data file out (see
# StoreFileSystem.start_writeback).
_WRITEBACK_BYTES = 4 * 2**20


def _checkpoint_name(version: int, suffix: str) -> str:
    # "<version>.checkpoint.<...>": never mistaken for a commit record "<version>.json".
    return f"{LOG_DIR}/{version:020d}.checkpoint.{suffix}"


@dataclass
class Changes:
    """What a commit adds besides its staged data files, decided under the store lock."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    metadata_tables: dict[str, pa.Table] = field(default_factory=dict)
    neurons_file: str | None = None
    removed: list[str] = field(default_factory=list)  # committed files this commit replaces


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


@dataclass
class _Staged:
    table: str
    tmp: str  # where it was written: a staging name on disks, ``path`` on object storage
    path: str
    rows: int
    bytes: int


def _file_entry(s: _Staged) -> dict[str, Any]:
    """A staged file as its commit record lists it."""
    return {"table": s.table, "path": s.path, "rows": s.rows, "bytes": s.bytes}


def _removed(snap: Snapshot, changes: Changes) -> list[str]:
    """The committed files a change replaces (a new neuron table replaces the old one)."""
    removed = list(changes.removed)
    if changes.neurons_file is not None and snap.neurons_file is not None:
        removed.append(snap.neurons_file)
    return removed


class Transaction:
    """One commit being prepared: staged files plus rows decided under the lock."""

    def __init__(self, log: Log, operation: str) -> None:
        self.log = log
        self.fs = log.fs
        self.operation = operation
        self.txid = uuid.uuid4().hex
        self.staging = log.writer_dir()
        self.staged: list[_Staged] = []
        self.done = False

    def stage(
        self,
        table_name: str,
        table: pa.Table | Iterable[pa.Table],
        path: str,
        *,
        group_sizes: Iterable[int] | None = None,
        metadata: dict[str, str] | None = None,
        arrow_schema: pa.Schema | None = None,
    ) -> str:
        """Encode ``table`` to a staged temp file that will become ``path`` on commit.

        ``table`` may also be an iterable of tables, written in turn as they are produced
        (so that a big file is never in memory whole). ``group_sizes`` gives the row-group
        sizes in order (default: the table's policy); with an iterable, row groups must not
        straddle two of its tables. ``metadata`` adds key/value pairs to the Parquet footer;
        ``arrow_schema`` replaces the table's schema for tables whose columns vary (ADS
        metadata and payloads).
        """
        tmp = path if self.staging is None else f"{self.staging}/{uuid.uuid4().hex}.tmp"
        out_schema = schema.strip_field_docs(
            arrow_schema if arrow_schema is not None else schema.TABLES[table_name]
        )
        if metadata:
            merged = dict(out_schema.metadata or {})
            merged.update({k.encode(): v.encode() for k, v in metadata.items()})
            out_schema = out_schema.with_metadata(merged)
        parts = [table] if isinstance(table, pa.Table) else table
        options = schema.writer_options(table_name, out_schema)
        num_rows = 0

        def write(writer: pq.ParquetWriter) -> None:
            nonlocal num_rows
            sizes = iter(group_sizes) if group_sizes is not None else None
            unsynced = 0  # bytes given to the writer since the last writeback hint
            for part in parts:
                part = part.cast(out_schema) if part.schema != out_schema else part
                num_rows += part.num_rows
                if sizes is None:
                    writer.write_table(part, row_group_size=schema.METADATA_ROWS_PER_GROUP)
                    continue
                start = 0
                row_bytes = part.nbytes / max(1, part.num_rows)
                while start < part.num_rows:
                    n = next(sizes)
                    if start + n > part.num_rows:
                        raise ValueError(f"a row group of {n} rows straddles two parts of "
                                         f"{path}")
                    writer.write_table(part.slice(start, n), row_group_size=n)
                    start += n
                    unsynced += n * row_bytes
                    if unsynced >= _WRITEBACK_BYTES:
                        self.fs.start_writeback(tmp)
                        unsynced = 0

        try:
            size = _write_parquet(self.fs, tmp, out_schema, write, **options)
        except BaseException:
            self.fs.remove(tmp)
            raise
        self.staged.append(_Staged(table_name, tmp, path, num_rows, size))
        return path

    def abort(self) -> None:
        """Forget the transaction and delete its staged files (none was ever visible)."""
        for s in self.staged:
            self.fs.remove(s.tmp)
        self.staged.clear()
        self.done = True

    def commit(self, build: Callable[[Snapshot], Changes]) -> Snapshot:
        """Validate against the latest state and publish; returns the new snapshot.

        ``build`` runs under the store lock with the latest snapshot and returns the rows
        (and small metadata tables) to add, or raises to refuse the change — in which case
        every staged file is deleted and the store is unchanged.
        """
        if self.done:
            raise RuntimeError("transaction already finished")
        _crash_point("staged")
        try:
            if self.fs.renames:
                self._commit_locked(build)
            else:
                self._commit_conditional(build)
        except BaseException:
            self.abort()
            raise
        self.done = True
        _crash_point("done")
        return self.log._snapshot

    def _commit_locked(self, build: Callable[[Snapshot], Changes]) -> None:
        """The commit on disks: validate and publish under the store lock."""
        with self.fs.lock(LOCK_FILE):
            snap = self.log.snapshot()
            changes = build(snap)
            self._stage_metadata(changes)
            _crash_point("locked")
            self._applied(snap, self._publish(snap, changes))

    def _stage_metadata(self, changes: Changes) -> None:
        for name, tbl in changes.metadata_tables.items():
            # the table's own schema: stimuli add a column per parameter
            self.stage(name, tbl, f"{name}/{uuid.uuid4().hex}.parquet",
                       arrow_schema=tbl.schema.with_metadata(schema.TABLES[name].metadata))

    def _applied(self, snap: Snapshot, record: dict[str, Any]) -> None:
        """Take the published ``record`` into the log's state (and checkpoint every 100)."""
        self.log._snapshot = snap.apply(record)
        if record["version"] % CHECKPOINT_EVERY == 0:
            self._checkpoint(self.log._snapshot)

    def _commit_conditional(self, build: Callable[[Snapshot], Changes]) -> None:
        """The commit on object storage: the data files are uploaded already (under unique
        names no commit references yet); the record of the next version is created with
        put-if-absent. A writer that loses the race for a version drops what it built for
        it, reads the records it missed and builds again — so uniqueness is decided against
        every commit before its own, as under the lock on disks.
        """
        fs = self.fs
        delay = 0.01
        while True:
            snap = self.log.snapshot()
            first_meta = len(self.staged)  # what this attempt stages (build may stage too)
            changes = build(snap)
            self._stage_metadata(changes)
            record = self._record(snap, changes, [_file_entry(s) for s in self.staged],
                                  _removed(snap, changes))
            _crash_point("locked")
            try:
                created = fs.put_if_absent(_log_name(record["version"]),
                                           json.dumps(record, allow_nan=True).encode())
            except BaseException:
                if self._linked(snap):
                    break  # created, though the reply was lost: committed
                # Unknown outcome: leave the files (vacuum removes them if no commit
                # names them); never delete what a published record may name.
                self.staged.clear()
                raise
            # A refusal can be our own record: the client retries a put whose reply was
            # lost (a timeout, a 5xx after the write), and the retry finds the object.
            if created or self._linked(snap):
                break
            for s in self.staged[first_meta:]:  # built for a version another writer took
                fs.remove(s.path)
            del self.staged[first_meta:]
            time.sleep(delay * (0.5 + random.random()))
            delay = min(1.0, delay * 2)
        _crash_point("logged")
        self._applied(snap, record)

    def _checkpoint(self, snap: Snapshot) -> None:
        """Write the whole state at ``snap.version`` so later opens skip replaying the log.

        Parquet tables first, then the manifest (by link), then the pointer (by rename): a
        crash in between leaves an unused checkpoint, never a wrong one. Failures are not
        fatal: the commit is already durable and the log alone is complete.
        """
        fs, v = self.fs, snap.version
        written: list[str] = []
        try:
            for name, table in [*((t, snap.table(t)) for t in ROW_TABLES),
                                ("files", pa.table({
                                    "path": sorted(snap.files),
                                    "bytes": [snap.sizes.get(p) for p in sorted(snap.files)],
                                }, schema=pa.schema([("path", pa.string()), ("bytes", pa.int64())])))]:
                target = _checkpoint_name(v, f"{name}.parquet")
                tmp = target if self.staging is None else f"{self.staging}/{uuid.uuid4().hex}.tmp"
                _write_parquet(fs, tmp, table.schema, lambda w, t=table: w.write_table(t),
                               compression="zstd")
                if tmp != target:
                    fs.rename(tmp, target)
                written.append(target)
            info = json.dumps({"version": v, "neurons_file": snap.neurons_file}).encode()
            if self.staging is None:  # object storage: whole objects appear atomically
                fs.put_if_absent(_checkpoint_name(v, "json"), info)
                written.append(_checkpoint_name(v, "json"))
                fs.put(_LAST_CHECKPOINT, str(v).encode())
            else:
                tmp = f"{self.staging}/{uuid.uuid4().hex}.tmp"
                fs.write_bytes_durable(tmp, info)
                fs.link_exclusive(tmp, _checkpoint_name(v, "json"))
                written.append(_checkpoint_name(v, "json"))
                fs.remove(tmp)
                fs.write_bytes_durable(tmp, str(v).encode())
                fs.rename(tmp, _LAST_CHECKPOINT)
                fs.fsync_dir(LOG_DIR)
        except Exception:  # noqa: BLE001 - best effort, see the docstring
            for path in written:  # an incomplete checkpoint is only clutter
                fs.remove(path)
            return
        # Keep the two newest checkpoints; older ones are never read again.
        for name in fs.listdir(LOG_DIR):
            if ".checkpoint." in name and int(name[:20]) < v - CHECKPOINT_EVERY:
                fs.remove(f"{LOG_DIR}/{name}")

    def _publish(self, snap: Snapshot, changes: Changes) -> dict[str, Any]:
        fs = self.fs
        paths = [s.path for s in self.staged]
        removed = _removed(snap, changes)
        intent = f"{self.staging}/intent-{self.txid}.json"
        fs.write_bytes_durable(
            intent, json.dumps({"txid": self.txid, "paths": paths, "removed": removed}).encode()
        )
        fs.fsync_dir(self.staging)
        _crash_point("intent")
        dirs: set[str] = set()
        created: list[str] = []
        files = []
        renamed: list[str] = []
        try:
            for s in self.staged:
                d = os.path.dirname(s.path)
                if d not in dirs:
                    created += fs.makedirs_durable(d)
                    dirs.add(d)
                fs.rename(s.tmp, s.path)
                renamed.append(s.path)
                files.append(_file_entry(s))
                _crash_point("renamed-one")
            for d in dirs:
                fs.fsync_dir(d)
            fs.fsync_dir(self.staging)
            _crash_point("renamed")
            record = self._write_record(snap, changes, files, removed)
        except BaseException:
            if self._linked(snap):  # interrupted after its record was published: committed
                raise
            # Not committed: take back what a glob could already see, and everything else
            # this attempt created, so that a refused commit leaves the store as it was.
            for path in renamed:
                fs.remove(path)
            for d in reversed(created):
                fs.rmdir_if_empty(d)
            fs.remove(f"{self.staging}/log-{self.txid}.tmp")
            fs.remove(intent)
            raise
        # Linked: the commit exists. Nothing below may take its files back.
        fs.fsync_dir(LOG_DIR)
        _crash_point("logged")
        fs.remove(f"{self.staging}/log-{self.txid}.tmp")
        fs.remove(intent)
        # Files replaced by this commit are deleted once it is durable.
        for path in record["removed"]:
            fs.remove(path)
        return record

    def _linked(self, snap: Snapshot) -> bool:
        """Whether this transaction's log record is published (it is then committed)."""
        try:
            return json.loads(self.fs.read_bytes(_log_name(snap.version + 1))).get(
                "txid") == self.txid
        except (OSError, ValueError, AttributeError):
            return False

    def _record(
        self, snap: Snapshot, changes: Changes, files: list[dict[str, Any]], removed: list[str]
    ) -> dict[str, Any]:
        record = {
            "version": snap.version + 1,
            "format_version": schema.FORMAT_VERSION,
            "txid": self.txid,
            "operation": self.operation,
            "time": time.time(),
            "files": files,
            "removed": removed,
            "rows": changes.rows,
        }
        if changes.neurons_file is not None:
            record["neurons_file"] = changes.neurons_file
        return record

    def _write_record(
        self, snap: Snapshot, changes: Changes, files: list[dict[str, Any]], removed: list[str]
    ) -> dict[str, Any]:
        fs = self.fs
        record = self._record(snap, changes, files, removed)
        tmp = f"{self.staging}/log-{self.txid}.tmp"
        fs.write_bytes_durable(tmp, json.dumps(record, allow_nan=True).encode())
        if not fs.link_exclusive(tmp, _log_name(record["version"])):
            # Only possible if a writer ignored the lock (e.g. a filesystem without flock).
            raise RuntimeError(
                f"commit {record['version']} of {fs.root} was taken by another writer; "
                "the store's filesystem does not honour flock"
            )
        return record


def read_format(fs: StoreFileSystem) -> dict[str, Any]:
    """Read and check the store's format file; raise if this is not a (readable) store."""
    if fs.renames and not fs.is_dir():
        what = "does not exist" if not fs.exists("") else "is not a directory"
        raise NotAStoreError(f"{fs.root} is not a mozaik_arrow store: the path {what}")
    try:
        raw = fs.read_bytes(schema.FORMAT_FILE)
    except FileNotFoundError:
        raise NotAStoreError(
            f"{fs.root} is not a mozaik_arrow store (no {schema.FORMAT_FILE})"
        ) from None
    try:
        info = json.loads(raw)
        version = int(info["format_version"])
    except (ValueError, KeyError, TypeError):
        raise CorruptFileError(fs.full(schema.FORMAT_FILE), "unreadable format file") from None
    if version > schema.FORMAT_VERSION:
        raise FormatVersionError(
            f"{fs.root} was written in mozaik_arrow format version {version}; this version "
            f"of mozaik_arrow reads formats up to {schema.FORMAT_VERSION}: upgrade mozaik_arrow"
        )
    return info


def create_store(fs: StoreFileSystem, library_version: str) -> None:
    """Lay out a new, empty store in a missing or empty directory (or object prefix).

    The format file is published last (by link, or put-if-absent on object storage), so a
    crash during creation leaves a directory that is not yet a store, never a half store.
    """
    if not fs.renames:  # no directories to make on object storage
        _publish_format(fs, library_version)
        return
    missing = []  # directories this call creates, deepest first: removed if it fails
    cur = os.path.abspath(fs.root)
    while not os.path.lexists(cur):
        missing.append(cur)
        cur = os.path.dirname(cur)
    try:
        os.makedirs(fs.root, exist_ok=True)
        for d in (LOG_DIR, STAGING_DIR):
            missing[:0] = [fs.full(c) for c in reversed(fs.makedirs_durable(d))]
        _publish_format(fs, library_version)
    except BaseException as e:
        # Leave no directory behind a refused creation — unless a store now exists there
        # (another process created it meanwhile: those directories are its own).
        if not isinstance(e, StoreExistsError) and not os.path.lexists(fs.full(schema.FORMAT_FILE)):
            for d in missing:
                try:
                    os.rmdir(d)
                except (OSError, ValueError):  # ValueError: a name the OS cannot encode
                    pass
        raise


def _publish_format(fs: StoreFileSystem, library_version: str) -> None:
    info = {
        "format": "mozaik_arrow",
        "format_version": schema.FORMAT_VERSION,
        "created": time.time(),
        "created_by": f"mozaik_arrow {library_version}",
    }
    if not fs.renames:
        if not fs.put_if_absent(schema.FORMAT_FILE, (json.dumps(info, indent=2) + "\n").encode()):
            raise StoreExistsError(f"{fs.root} already holds a mozaik_arrow store")
        return
    tmp = f"{STAGING_DIR}/format-{uuid.uuid4().hex}.tmp"
    fs.write_bytes_durable(tmp, (json.dumps(info, indent=2) + "\n").encode())
    if not fs.link_exclusive(tmp, schema.FORMAT_FILE):
        fs.remove(tmp)
        raise StoreExistsError(f"{fs.root} already holds a mozaik_arrow store")
    fs.remove(tmp)
    fs.fsync_dir("")
    parent = os.path.dirname(fs.root)
    fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
