"""The checks of a store's commit log and of the state it commits, for
:func:`~mozaik_arrow.validation.validate`.

The format file parses and is of a version this library reads; every commit record
``_log/<version>.json`` parses, carries its own version, a supported format version and well
formed file entries; the versions run without gaps after the readable checkpoint; a checkpoint
agrees with the replay of the records it summarises, and no checkpoint is left half written;
the files the metadata rows (recordings, sensory stimuli, neuron metadata) name are files of
the committed state. :meth:`_LogChecks.check_log` hands the committed state, and what the
records say of each file, to the checks of the files (:mod:`~mozaik_arrow.validation_files`).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pyarrow as pa

from . import schema
from .commit import LOG_DIR, Log, read_format
from .commit_records import _LAST_CHECKPOINT, _checkpoint_name
from .errors import CorruptFileError, FormatVersionError, NotAStoreError
from .snapshot import ROW_TABLES, Snapshot
from .validation_report import _Checks, _describe_exc

_RECORD = re.compile(r"^(\d{20})\.json$")
_CHECKPOINT = re.compile(r"^(\d{20})\.checkpoint\.(.+)$")
_CHECKPOINT_PARTS = {"json", "files.parquet", *(f"{t}.parquet" for t in ROW_TABLES)}


class _LogChecks(_Checks):
    """The checks of the format file, the commit log and the committed state."""

    # -- format file --------------------------------------------------------------------------
    def check_format(self) -> bool:
        """False when nothing more can be checked (not a store, or a newer format)."""
        try:
            read_format(self.fs)
        except NotAStoreError as e:
            self.add(schema.FORMAT_FILE if self.fs.is_dir() else None, "format", str(e))
            return False
        except FormatVersionError as e:
            self.add(schema.FORMAT_FILE, "format", str(e))
            return False
        except CorruptFileError as e:
            self.add(schema.FORMAT_FILE, "format", e.reason)
        return True

    # -- log ----------------------------------------------------------------------------------
    def read_records(self) -> dict[int, dict[str, Any]]:
        """Every commit record that parses and is well formed, by version."""
        records: dict[int, dict[str, Any]] = {}
        for name in sorted(self.fs.listdir(LOG_DIR)):
            m = _RECORD.match(name)
            if m is None:
                continue
            rel = f"{LOG_DIR}/{name}"
            version = int(m.group(1))
            try:
                record = json.loads(self.fs.read_bytes(rel))
            except (OSError, ValueError) as e:
                self.add(rel, "log", f"unreadable commit record ({_describe_exc(e)})")
                continue
            if not isinstance(record, dict) or record.get("version") != version:
                got = record.get("version") if isinstance(record, dict) else type(record).__name__
                self.add(rel, "log", f"commit record holds version {got!r}, its name {version}")
                continue
            fv = record.get("format_version", schema.FORMAT_VERSION)
            if not isinstance(fv, int) or fv > schema.FORMAT_VERSION:
                self.add(rel, "format", f"commit record of format version {fv!r}; this "
                         f"mozaik_arrow reads up to {schema.FORMAT_VERSION}")
                continue
            bad = [f for f in record.get("files", ()) if not _well_formed_entry(f)]
            if bad or not isinstance(record.get("removed", []), list):
                self.add(rel, "log", f"malformed file entries in commit record: {bad[:3]!r}")
                continue
            records[version] = record
        return records

    def checkpoint(self) -> tuple[int | None, Snapshot | None]:
        """The checkpoint pointer's version (None without one) and its state (None if bad)."""
        if not self.fs.exists(_LAST_CHECKPOINT):
            return None, None
        try:
            version = int(self.fs.read_bytes(_LAST_CHECKPOINT))
        except (OSError, ValueError) as e:
            self.add(_LAST_CHECKPOINT, "log", f"unreadable checkpoint pointer ({_describe_exc(e)})",
                     "warning")
            return -1, None
        snap = Log(self.fs, writable=False)._read_checkpoint()
        if snap is None or snap.version != version:
            return version, None
        try:
            info = json.loads(self.fs.read_bytes(_checkpoint_name(version, "json")))
        except (OSError, ValueError):
            return version, None
        if info.get("version") != version:
            self.add(_checkpoint_name(version, "json"), "log",
                     f"checkpoint manifest holds version {info.get('version')!r}, not {version}")
        return version, snap

    def check_log(self) -> tuple[Snapshot, dict[str, dict[str, Any]]]:
        """The latest committed state, and what the records say of each file."""
        records = self.read_records()
        ck_version, ck = self.checkpoint()
        base = ck.version if ck is not None else 0
        if ck_version is not None and ck is None and ck_version >= 0:
            lost = [v for v in range(1, ck_version + 1) if v not in records]
            self.add(
                _checkpoint_name(ck_version, "json"), "log",
                f"checkpoint {ck_version} is unreadable or incomplete"
                + (f"; and commit records {_ranges(lost)} are absent, so the state they "
                   "made is lost" if lost else "; readers replay the log instead (slower open)"),
                "error" if lost else "warning",
            )
        # The sequence: records base+1 .. N without a gap (a reader stops at the first gap).
        present = sorted(v for v in self._record_versions() if v > base)
        expected = base + 1
        for v in present:
            if v != expected:
                self.add(f"{LOG_DIR}/{expected:020d}.json", "log",
                         f"commit record {expected} is missing: readers stop at version "
                         f"{expected - 1} and ignore records {_ranges(present[present.index(v):])}")
                break
            expected += 1
        # The state, as the store computes it.
        log = Log(self.fs, writable=False)
        try:
            snap = log.snapshot()
        except (CorruptFileError, ValueError, KeyError, TypeError, OSError, pa.ArrowException) as e:
            where = getattr(e, "path", None)
            if where is None or not any(p.path == where for p in self.problems):
                self.add(None if where is None else os.path.relpath(where, self.root), "log",
                         f"the store cannot be opened: {_describe_exc(e)}")
            snap = self._replay(ck, records)  # check the files of what is readable
        if ck is not None:
            self._compare_checkpoint(ck, records)
        self._check_partial_checkpoints(ck_version)
        entries: dict[str, dict[str, Any]] = {}
        for v in sorted(records):
            if v <= snap.version:
                for f in records[v].get("files", ()):
                    entries[f["path"]] = f
        self._removed = {p for v, r in records.items() if v <= snap.version
                         for p in r.get("removed", ())}
        return snap, entries

    def _record_versions(self) -> list[int]:
        return [int(m.group(1)) for n in self.fs.listdir(LOG_DIR) if (m := _RECORD.match(n))]

    @staticmethod
    def _replay(ck: Snapshot | None, records: dict[int, dict[str, Any]]) -> Snapshot:
        snap = ck if ck is not None else Snapshot()
        while snap.version + 1 in records:
            snap = snap.apply(records[snap.version + 1])
        return snap

    def _check_partial_checkpoints(self, current: int | None) -> None:
        """Checkpoint files of a version that has not all of them (a failed checkpoint)."""
        parts: dict[int, set[str]] = {}
        for name in self.fs.listdir(LOG_DIR):
            m = _CHECKPOINT.match(name)
            if m is not None:
                parts.setdefault(int(m.group(1)), set()).add(m.group(2))
        for v, have in sorted(parts.items()):
            if v != current and have != _CHECKPOINT_PARTS:
                self.add(_checkpoint_name(v, "json"), "log",
                         f"incomplete checkpoint {v} (has {sorted(have)}): a checkpoint write "
                         "failed (e.g. disk full) or is in progress; unused by readers",
                         "warning")

    def _compare_checkpoint(self, ck: Snapshot, records: dict[int, dict[str, Any]]) -> None:
        if any(v not in records for v in range(1, ck.version + 1)):
            return  # records before the checkpoint were pruned: nothing to compare with
        replay = Snapshot()
        for v in range(1, ck.version + 1):
            replay = replay.apply(records[v])
        diffs = []
        if ck.files != replay.files:
            extra, lost = sorted(ck.files - replay.files), sorted(replay.files - ck.files)
            diffs.append(f"files (checkpoint has {len(extra)} more: {extra[:3]}, "
                         f"{len(lost)} fewer: {lost[:3]})")
        if ck.neurons_file != replay.neurons_file:
            diffs.append(f"neurons file ({ck.neurons_file!r} against {replay.neurons_file!r})")
        for t in ROW_TABLES:
            a, b = ck.table(t), replay.table(t)
            if a.num_rows != b.num_rows or a.to_pylist() != b.to_pylist():
                diffs.append(f"{t} rows ({a.num_rows} against {b.num_rows})")
        if diffs:
            self.add(_checkpoint_name(ck.version, "json"), "log",
                     f"checkpoint {ck.version} disagrees with the replay of the log: "
                     + "; ".join(diffs))

    def check_references(self, snap: Snapshot) -> None:
        """Files named by metadata rows must be files of the committed state."""
        named: list[tuple[str, str]] = []
        seg = snap.table("segments")
        for col in ("spikes_files", "signals_files"):
            for sid, paths in zip(seg.column("segment_id").to_pylist(),
                                  seg.column(col).to_pylist(), strict=True):
                named += [(p, f"recording {sid}") for p in paths or ()]
        named += [(p, "sensory stimulus") for p in snap.table("sensory").column("path").to_pylist()]
        if snap.neurons_file is not None:
            named.append((snap.neurons_file, "neuron metadata"))
        for path, what in named:
            if path not in snap.files:
                self.add(path, "log", f"{what} names a file that no commit added")


def _well_formed_entry(f: Any) -> bool:
    return (
        isinstance(f, dict)
        and isinstance(f.get("path"), str)
        and isinstance(f.get("table"), str)
        and isinstance(f.get("rows"), int)
        and isinstance(f.get("bytes"), int)
    )


def _ranges(vs: list[int]) -> str:
    if not vs:
        return "none"
    return f"{vs[0]}" if len(vs) == 1 else f"{vs[0]}..{vs[-1]} ({len(vs)})"
