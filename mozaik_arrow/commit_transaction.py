"""One commit being prepared and published: :class:`Transaction`.

A transaction stages data files, then :meth:`Transaction.commit` validates the change against
the latest state and publishes it (the protocol is described in :mod:`mozaik_arrow.commit`):
on disks under the store lock, by rename and a linked log record; on object storage by a
conditional put of the record. Every ``CHECKPOINT_EVERY`` commits it also writes a checkpoint
of the whole state. ``CRASH_ENV`` names the commit step at which a test process kills itself.
Transactions are made by :meth:`mozaik_arrow.commit.Log.transaction`; what one uses of its
log is typed structurally (:class:`_Log`) so that this module need not import ``commit``.
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
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from . import schema
from .commit_records import _LAST_CHECKPOINT, LOCK_FILE, LOG_DIR, _checkpoint_name, _log_name
from .filesystem import StoreFileSystem
from .snapshot import ROW_TABLES, Snapshot

__all__ = ["Transaction", "Changes", "CHECKPOINT_EVERY", "CRASH_ENV"]

CHECKPOINT_EVERY = 100
"""A checkpoint of the whole state is written every this many commits (flat open time)."""

CRASH_ENV = "MOZAIK_ARROW_CRASH_AT"
"""Fault injection for tests: the commit step at which the process kills itself (SIGKILL)."""


def _crash_point(step: str) -> None:
    if os.environ.get(CRASH_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


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


@dataclass
class Changes:
    """What a commit adds besides its staged data files, decided under the store lock."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    metadata_tables: dict[str, pa.Table] = field(default_factory=dict)
    neurons_file: str | None = None
    removed: list[str] = field(default_factory=list)  # committed files this commit replaces


class _Log(Protocol):
    """What a transaction uses of its :class:`~mozaik_arrow.commit.Log`."""

    fs: StoreFileSystem
    _snapshot: Snapshot

    def snapshot(self, refresh: bool = True) -> Snapshot: ...

    def writer_dir(self) -> str | None: ...


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

    def __init__(self, log: _Log, operation: str) -> None:
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
