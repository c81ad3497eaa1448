"""``validate(path)``: check a store's files against its commit log, changing nothing on disk.

What is checked (arrow_engineering.md §3 lists the damage this is meant to find):

- the format file parses and its version is one this library reads;
- every commit record ``_log/<version>.json`` parses, carries its own version and a supported
  format version, and the versions run without gaps (records before a readable checkpoint may
  be absent); a checkpoint agrees with the replay of the records it summarises;
- every file the latest committed state names exists, has the byte size its commit record
  says, reads completely with Parquet page checksums verified (a flipped bit in an
  uncompressed page is otherwise returned silently by pyarrow, polars and duckdb), has the
  table's Arrow schema (names, types, nullability) and key/value metadata keys, a supported
  ``mozaik_arrow.format_version``, the row count of its record, and list lengths that agree
  with the stored counts (``n_spikes``, ``n_samples``);
- ``*.parquet`` files under the data directories that no commit names are reported as
  *orphans*: warnings, not errors (see :data:`KINDS`).

The store is opened read-only: no lock file, no staging directory, no recovery. Files are
read one column at a time in bounded batches of row groups, so memory stays bounded whatever
the file size.

Run from the shell: ``python -m mozaik_arrow.validation STORE`` (exit status 1 on errors).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import schema
from .commit import _LAST_CHECKPOINT, LOG_DIR, Log, _checkpoint_name, read_format
from .errors import CorruptFileError, FormatVersionError, NotAStoreError
from .filesystem import LocalFileSystem
from .reader import FileCache
from .snapshot import ROW_TABLES, Snapshot

__all__ = ["KINDS", "Problem", "ValidationReport", "validate"]

KINDS = ("missing", "size", "corrupt", "schema", "format", "orphan", "log")
"""Kinds of problem.

``missing``
    a file the log names is not on disk;
``size``
    a file's byte size differs from the size its commit record gives;
``corrupt``
    a file does not read completely (footer, pages, checksums) or disagrees with itself or
    its record (row count, list lengths, row-group statistics);
``schema``
    a file's Arrow schema or key/value metadata is not its table's;
``format``
    the format file is missing or unreadable, or a store, record or file is of a newer
    format version;
``orphan``
    (a warning) a ``*.parquet`` file under a data directory that no commit names: left by a
    writer that crashed between renaming its files and logging its commit, or by a commit
    still in progress. Invisible to the API; visible to ``*.parquet`` globs until the next
    writable open removes it;
``log``
    a commit record or checkpoint is unreadable, out of sequence or disagrees with the log.
"""

_RECORD = re.compile(r"^(\d{20})\.json$")
_CHECKPOINT = re.compile(r"^(\d{20})\.checkpoint\.(.+)$")
_CHECKPOINT_PARTS = {"json", "files.parquet", *(f"{t}.parquet" for t in ROW_TABLES)}
_READ_BUDGET = 64 << 20  # uncompressed bytes of one column read at once
_COUNTS = {"spikes": ("n_spikes", "times"), "signals": ("n_samples", "samples")}
_SEVERITIES = ("error", "warning")


@dataclass(frozen=True)
class Problem:
    """One problem found by :func:`validate`.

    Attributes
    ----------
    path : str
        Absolute path of the file concerned (the store directory for store-wide problems).
    kind : str
        One of :data:`KINDS`.
    message : str
        What is wrong, in words.
    severity : str
        ``"error"`` (the store is damaged) or ``"warning"`` (e.g. an orphan file).
    """

    path: str
    kind: str
    message: str
    severity: str = "error"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown problem kind {self.kind!r}")
        if self.severity not in _SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")

    def __str__(self) -> str:
        return f"{self.severity} [{self.kind}] {self.path}: {self.message}"


@dataclass(frozen=True)
class ValidationReport:
    """What :func:`validate` found.

    Attributes
    ----------
    ok : bool
        True when no problem is an error (orphans are warnings).
    problems : list of Problem
        Every problem found, errors and warnings, in the order found.
    checked_files : int
        Number of data files (Parquet files the latest commit names) that were checked.
    root : str
        The store directory.
    version : int
        The latest committed version that was checked (0 for an empty store).
    """

    ok: bool
    problems: list[Problem] = field(default_factory=list)
    checked_files: int = 0
    root: str = ""
    version: int = 0

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def __str__(self) -> str:
        head = (
            f"{self.root}: {'ok' if self.ok else 'DAMAGED'} at version {self.version}, "
            f"{self.checked_files} files checked, {len(self.errors)} errors, "
            f"{len(self.warnings)} warnings"
        )
        return "\n".join([head, *(f"  {p}" for p in self.problems)])


# -- helpers -------------------------------------------------------------------------------------


def _describe_exc(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def _is_interrupt(exc: BaseException) -> bool:
    return isinstance(exc, (KeyboardInterrupt, SystemExit))


class _Checker:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.fs = LocalFileSystem(path)
        self.root = self.fs.root
        self.problems: list[Problem] = []
        self.checked = 0
        self.files = FileCache(self.fs, max_open=1)
        self._removed: set[str] = set()

    def add(self, rel: str | None, kind: str, message: str, severity: str = "error") -> None:
        where = self.fs.full(rel) if rel else self.root
        self.problems.append(Problem(where, kind, message, severity))

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

    # -- data files ---------------------------------------------------------------------------
    def check_file(self, rel: str, table: str | None, entry: dict[str, Any] | None) -> None:
        self.checked += 1
        if table not in _tables():
            self.add(rel, "log", f"file of unknown table {table!r}")
            return
        full = self.fs.full(rel)
        try:
            size = os.stat(full).st_size
        except FileNotFoundError:
            self.add(rel, "missing", f"{table} file named by the store's log is missing")
            return
        except OSError as e:
            self.add(rel, "corrupt", f"cannot stat ({_describe_exc(e)})")
            return
        if entry is not None and size != entry["bytes"]:
            self.add(rel, "size", f"{size} bytes on disk, {entry['bytes']} when committed")
        try:
            pf = pq.ParquetFile(full, page_checksum_verification=True, memory_map=False)
        except BaseException as e:  # noqa: BLE001 - polars/pyarrow may raise anything
            if _is_interrupt(e):
                raise
            self.add(rel, "corrupt", f"not a readable Parquet file ({_describe_exc(e)})")
            return
        try:
            if not self._check_footer(rel, table, pf, entry):
                return
            self._check_pages(rel, table, pf)
        finally:
            pf.close()

    def _check_footer(self, rel: str, table: str, pf: pq.ParquetFile,
                      entry: dict[str, Any] | None) -> bool:
        """Format version, table, schema, metadata keys, rows; False if pages can't be read."""
        md = pf.metadata
        kv = md.metadata or {}
        raw = kv.get(schema.FORMAT_KEY)
        try:
            version = int(raw) if raw is not None else None
        except ValueError:
            version = None
        if version is None:
            self.add(rel, "schema", f"no valid {schema.FORMAT_KEY.decode()} key ({raw!r})")
        elif version > schema.FORMAT_VERSION:
            self.add(rel, "format", f"file of format version {version}; this mozaik_arrow "
                     f"reads up to {schema.FORMAT_VERSION}")
            return False
        if kv.get(schema.TABLE_KEY, b"").decode(errors="replace") != table:
            self.add(rel, "schema", f"{schema.TABLE_KEY.decode()} is "
                     f"{kv.get(schema.TABLE_KEY)!r}, the log says {table!r}")
        expected, open_columns = _expected_schema(table, rel)
        if expected is not None and table in schema.TABLES:
            want_keys = set(schema.describe(schema.TABLES[table])["metadata_keys"])
        else:
            want_keys = {schema.FORMAT_KEY.decode(), schema.TABLE_KEY.decode()}
        have_keys = {k.decode(errors="replace") for k in kv}
        if want_keys - have_keys:
            self.add(rel, "schema", f"metadata keys missing: {sorted(want_keys - have_keys)}")
        try:
            got = pf.schema_arrow
        except BaseException as e:  # noqa: BLE001
            if _is_interrupt(e):
                raise
            self.add(rel, "corrupt", f"unreadable Arrow schema ({_describe_exc(e)})")
            return False
        diffs = _schema_diffs(expected, got, open_columns) if expected is not None else []
        if diffs:
            self.add(rel, "schema", f"not the {table} schema: " + "; ".join(diffs))
            return False
        if entry is not None and md.num_rows != entry["rows"]:
            self.add(rel, "corrupt", f"footer says {md.num_rows} rows, the commit record "
                     f"{entry['rows']}")
        if table in ("spikes", "signals"):
            try:
                self.files.index(rel)
            except BaseException as e:  # noqa: BLE001
                if _is_interrupt(e):
                    raise
                self.add(rel, "corrupt", getattr(e, "reason", None) or _describe_exc(e))
            finally:
                self.files.clear()
        return True

    def _check_pages(self, rel: str, table: str, pf: pq.ParquetFile) -> None:
        """Read every page of every column (checksums verified), a column at a time."""
        md = pf.metadata
        leaves: dict[str, list[int]] = {}
        for j in range(md.num_columns):
            leaves.setdefault(md.schema.column(j).path.split(".")[0], []).append(j)
        count_col, list_col = _COUNTS.get(table, (None, None))
        counts: np.ndarray | None = None
        for name in pf.schema_arrow.names:
            parts = []
            try:
                for groups in _batches(md, leaves.get(name, [])):
                    col = pf.read_row_groups(groups, columns=[name]).column(0)
                    if name == count_col:
                        parts.append(col.to_numpy())
                    elif name == list_col and counts is not None:
                        parts.append(np.concatenate(
                            [c.value_lengths().to_numpy(zero_copy_only=False)
                             for c in col.chunks] or [np.empty(0, np.int64)]))
                    del col
            except BaseException as e:  # noqa: BLE001 - polars panics are BaseExceptions
                if _is_interrupt(e):
                    raise
                self.add(rel, "corrupt", f"column {name!r} does not read "
                         f"({_describe_exc(e)})")
                return
            if name == count_col:
                counts = np.concatenate(parts) if parts else np.empty(0, np.int64)
            elif name == list_col and counts is not None:
                lengths = np.concatenate(parts) if parts else np.empty(0, np.int64)
                bad = np.flatnonzero(lengths != counts)
                if len(bad):
                    self.add(rel, "corrupt", f"{len(bad)} rows where {count_col} disagrees "
                             f"with the length of {list_col} (first: row {int(bad[0])}, "
                             f"{int(counts[bad[0]])} against {int(lengths[bad[0]])})")

    # -- orphans ------------------------------------------------------------------------------
    def check_orphans(self, snap: Snapshot) -> None:
        for table in sorted(_tables()):
            for rel in _walk_parquet(self.fs, table):
                if rel in snap.files:
                    continue
                if rel in self._removed:
                    why = ("replaced by a later commit but not deleted (the writer stopped "
                           "right after committing). The API never reads it; `*.parquet` "
                           "globs see it, and a writable open does not remove it")
                else:
                    why = ("no commit names it: a writer crashed between renaming it into "
                           "place and logging its commit (or is committing right now). The "
                           "API never reads it; `*.parquet` globs see it until the next "
                           "writable open removes it")
                self.add(rel, "orphan", why, "warning")

    def _removed_since(self, rel: str) -> bool:
        """Whether a commit made since the check began no longer names ``rel``."""
        try:
            return rel not in Log(self.fs, writable=False).snapshot().files
        except Exception:  # noqa: BLE001 - the log's own problems are reported already
            return False

    # -- all ----------------------------------------------------------------------------------
    def run(self) -> ValidationReport:
        version = 0
        if self.check_format():
            snap, entries = self.check_log()
            version = snap.version
            self.check_references(snap)
            for rel in sorted(f for f in snap.files if isinstance(f, str)):
                entry = entries.get(rel)
                table = entry["table"] if entry is not None else rel.split("/", 1)[0]
                if not self.fs.exists(rel) and self._removed_since(rel):
                    continue  # removed by a commit made while we were checking
                self.check_file(rel, table, entry)
            self.check_orphans(snap)
        ok = not any(p.severity == "error" for p in self.problems)
        return ValidationReport(ok, list(self.problems), self.checked, self.root, version)


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


def _tables() -> set[str]:
    """Every table a commit may name a file of (``ads_payloads`` has no fixed schema)."""
    return set(schema.TABLES) | set(getattr(schema, "PARTITIONS", {}))


def _expected_schema(table: str, rel: str) -> tuple[pa.Schema | None, bool]:
    """The schema a file of ``table`` at ``rel`` must have (None: unknown), and whether
    more columns may follow the listed ones (the ADS table's parameter columns)."""
    if table in schema.TABLES:
        sch = schema.TABLES[table]
        return schema.strip_field_docs(sch), bool(schema.describe(sch).get("open_columns"))
    if table == "ads_payloads":
        try:
            from .ads_payload import PAYLOAD_SCHEMAS
        except ImportError:
            return None, False
        m = re.search(r"/identifier=([^/]+)/", rel)
        sch = PAYLOAD_SCHEMAS.get(unquote(m.group(1))) if m else None
        if sch is None:
            return None, False
        fix = getattr(schema, "compliant", lambda t: t)
        return pa.schema([pa.field(f.name, fix(f.type), f.nullable) for f in sch]), False
    return None, False


def _schema_diffs(want: pa.Schema, got: pa.Schema, open_columns: bool = False) -> list[str]:
    names = got.names[: len(want.names)] if open_columns else got.names
    if want.names != names:
        return [f"columns {got.names}, expected {want.names}"
                + (" followed by parameter columns" if open_columns else "")]
    out = []
    for w, g in zip(want, got, strict=False):
        if not w.type.equals(g.type):
            out.append(f"{w.name} is {g.type}, expected {w.type}")
        elif w.nullable != g.nullable:
            out.append(f"{w.name} is {'' if g.nullable else 'not '}nullable")
    return out


def _batches(md: pq.FileMetaData, leaves: list[int]) -> Iterator[list[int]]:
    """Row groups in runs whose uncompressed size (of the given leaf columns) fits a budget."""
    run: list[int] = []
    size = 0
    for i in range(md.num_row_groups):
        rg = md.row_group(i)
        s = sum(rg.column(j).total_uncompressed_size for j in leaves)
        if run and size + s > _READ_BUDGET:
            yield run
            run, size = [], 0
        run.append(i)
        size += s
    if run:
        yield run


def _walk_parquet(fs: LocalFileSystem, table: str) -> Iterator[str]:
    top = fs.full(table)
    if not os.path.isdir(top):
        return
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith(".parquet"):
                yield os.path.relpath(os.path.join(dirpath, name), fs.root).replace(os.sep, "/")


def validate(path: str | os.PathLike[str]) -> ValidationReport:
    """Check every file of a store against its commit log; change nothing on disk.

    Parameters
    ----------
    path : str or PathLike
        The store directory.

    Returns
    -------
    ValidationReport
        ``ok`` is False when any problem is an error; orphan files are warnings. Problems of
        stores that are not stores (a missing path, no format file) or of a newer format are
        reported, not raised.

    Examples
    --------
    >>> report = validate("run1")                       # doctest: +SKIP
    >>> report.ok, [str(p) for p in report.problems]    # doctest: +SKIP

    Raises
    ------
    NotImplementedError
        For a store on object storage (``s3://``): not checked yet.
    """
    text = os.fspath(path)
    if isinstance(text, str) and "://" in text and not text.startswith("file://"):
        raise NotImplementedError(f"validate checks local stores only, not yet {text}")
    return _Checker(text[len("file://"):] if isinstance(text, str) and text.startswith("file://")
                    else path).run()


def main(argv: list[str] | None = None) -> int:
    """``python -m mozaik_arrow.validation STORE...``: print reports; 1 if any has errors."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m mozaik_arrow.validation STORE [STORE...]", file=sys.stderr)
        return 2
    status = 0
    for path in args:
        report = validate(path)
        print(report)
        status |= 0 if report.ok else 1
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
