"""The checks of a store's data files, for :func:`~mozaik_arrow.validation.validate`.

Every file the committed state names exists, has the byte size of its commit record, reads
completely with Parquet page checksums verified, has its table's Arrow schema (for an ADS
payload file, the payload schema of its ADS type) and key/value metadata keys, a supported
format version, the row count of its record and list lengths that agree with the stored
counts; ``*.parquet`` files under the data directories that no commit names are reported as
orphans. A file is read one column at a time in runs of row groups whose uncompressed size
fits :data:`_READ_BUDGET`, so that memory stays bounded whatever the file size.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import schema
from .ads_payload import PAYLOAD_SCHEMAS
from .commit import Log
from .filesystem import LocalFileSystem
from .snapshot import Snapshot
from .validation_report import _Checks, _describe_exc, _is_interrupt

_READ_BUDGET = 64 << 20  # uncompressed bytes of one column read at once
_COUNTS = {"spikes": ("n_spikes", "times"), "signals": ("n_samples", "samples")}


class _FileChecks(_Checks):
    """The checks of the data files the committed state names, and of orphan files."""

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
