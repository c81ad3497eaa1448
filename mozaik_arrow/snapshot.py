"""``Snapshot``: the committed state of a store at one log version, as an immutable value.

A snapshot holds which files exist, the small metadata tables (segments, stimuli, sensory
index) as Arrow chunks — one per commit, or one per checkpoint — and an O(1) index of the
rows' identities (for uniqueness checks under the commit lock). It is built by replaying log
records (:meth:`Snapshot.apply`) on top of the latest checkpoint (:func:`from_checkpoint`);
:mod:`mozaik_arrow.commit` writes both.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from . import schema

__all__ = ["Deferred", "Snapshot", "ROW_SCHEMAS", "ROW_TABLES", "frame_rows"]

# The in-memory index of sensory stimuli: which file holds which stimulus.
_SENSORY_INDEX = pa.schema(
    [
        pa.field("stimulus", pa.string(), nullable=False),
        pa.field("stimulus_string", pa.string(), nullable=False),
        pa.field("path", pa.string(), nullable=False),
        pa.field("version", pa.int64(), nullable=False),
    ]
)

ROW_SCHEMAS: dict[str, pa.Schema] = {
    "segments": schema.strip_field_docs(schema.SEGMENTS),
    "stimuli": schema.strip_field_docs(schema.STIMULI),
    "sensory": _SENSORY_INDEX,
}
ROW_TABLES = tuple(ROW_SCHEMAS)

# What identifies a row of each metadata table, and what lookups need to know of it.
_KEY_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "segments": (("sheet_name", "stimulus", "null"), ("segment_id",)),
    "stimuli": (("stimulus",), ("stimulus_string",)),
    "sensory": (("stimulus",), ("stimulus_string", "path")),
}


def _key(table: str, values: tuple[Any, ...]) -> Any:
    return values if table == "segments" else values[0]


class _Index:
    """Identity keys of committed rows, shared by the snapshots of one log lineage.

    Each key remembers the version that added it, so an older snapshot sharing the index
    still answers as of its own version. Lookups are O(1); extending is O(rows added).
    """

    def __init__(self) -> None:
        self.version = 0
        self._keys: dict[tuple[str, Any], tuple[int, dict[str, Any]]] = {}
        # Rows of a checkpoint and of replayed records, indexed on first use (oldest first):
        # readers that never check uniqueness (every read-only open) never pay for it.
        self._deferred: list[tuple[int, str, Deferred]] = []

    @property
    def keys(self) -> dict[tuple[str, Any], tuple[int, dict[str, Any]]]:
        if self._deferred:
            pending, self._deferred = self._deferred, []
            for version, table, deferred in pending:
                t = deferred.get()
                key_cols, value_cols = _KEY_COLUMNS[table]
                keys = zip(*(t.column(c).to_pylist() for c in key_cols), strict=True)
                values = zip(*(t.column(c).to_pylist() for c in value_cols), strict=True)
                for k, v in zip(keys, values, strict=True):
                    self._keys.setdefault((table, _key(table, k)),
                                          (version, dict(zip(value_cols, v, strict=True))))
        return self._keys

    def copy_upto(self, version: int) -> _Index:
        new = _Index()
        new._keys = {k: v for k, v in self.keys.items() if v[0] <= version}
        new.version = version
        return new


class Deferred:
    """A checkpoint table read on first use, then kept (shared by the snapshots built on it).

    Opening a store reads the checkpoint's footers only; a query over analysis results
    never pays for the segments table, nor a recordings query for the file list.
    """

    __slots__ = ("_load", "_table", "sizes")

    def __init__(self, load: Callable[[], pa.Table] | None = None, table: pa.Table | None = None) -> None:
        self._load, self._table = load, table
        self.sizes: dict[str, int] | None = None  # of a file list, built once per base

    def get(self) -> pa.Table:
        if self._table is None:
            assert self._load is not None
            self._table, self._load = self._load(), None
        return self._table


class _Rows(Deferred):
    """The rows one log record added to a metadata table, as Arrow on first use."""

    __slots__ = ("rows", "table_name")

    def __init__(self, rows: list[dict[str, Any]], table_name: str) -> None:
        super().__init__(functools.partial(pa.Table.from_pylist, rows, schema=ROW_SCHEMAS[table_name]))
        self.rows, self.table_name = rows, table_name


def frame_rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as dicts of Python values."""
    return _zip_rows(frame.columns, [c.to_list() for c in frame.get_columns()])


def table_rows(table: pa.Table) -> list[dict[str, Any]]:
    """The rows of an Arrow ``table`` as dicts of Python values."""
    return _zip_rows(table.column_names, [c.to_pylist() for c in table.columns])


def _zip_rows(names: list[str], columns: list[list[Any]]) -> list[dict[str, Any]]:
    # Column by column, then zipped: ~5x faster than row by row on list columns.
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def _plain_check(dtype: pa.DataType) -> Callable[[Any], Any] | None:
    """For a row-table column type, a function returning a JSON value as the Arrow
    conversion would give it back, or raising TypeError where that conversion would fail."""
    def atom(kind: type, value: Any) -> Any:
        if type(value) is not kind:
            raise TypeError(value)
        return value

    if pa.types.is_string(dtype):
        return functools.partial(atom, str)
    if pa.types.is_boolean(dtype):
        return functools.partial(atom, bool)
    if pa.types.is_int64(dtype):
        return functools.partial(atom, int)
    if pa.types.is_float64(dtype):
        return lambda v: float(atom(float, v)) if type(v) is not int else float(v)
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        item = _plain_check(dtype.value_type)
        if item is None:
            return None

        def items(value: Any) -> Any:
            if type(value) is not list:
                raise TypeError(value)
            return [None if v is None else item(v) for v in value]

        return items
    return None


@functools.cache
def _plain_checks(arrow_schema: pa.Schema) -> list[tuple[str, Callable[[Any], Any]]] | None:
    checks = [(f.name, _plain_check(f.type)) for f in arrow_schema]
    return None if any(c is None for _, c in checks) else checks  # type: ignore[misc]


def _plain_rows(rows: list[dict[str, Any]], arrow_schema: pa.Schema) -> list[dict[str, Any]] | None:
    """The log records' rows of a metadata table as :meth:`Snapshot.rows` gives them (every
    column of the schema, in order; missing values None), or None when a value is not of
    its column's type (then the Arrow conversion runs, and reports it)."""
    checks = _plain_checks(arrow_schema)
    if checks is None:
        return None
    out = []
    try:
        for row in rows:
            out.append({name: None if (v := row.get(name)) is None else check(v)
                        for name, check in checks})
    except TypeError:
        return None
    return out


def _resolve(chunk: pa.Table | Deferred) -> pa.Table:
    return chunk.get() if isinstance(chunk, Deferred) else chunk


_FILES_SCHEMA = pa.schema([("path", pa.string()), ("bytes", pa.int64())])
_REBASE_AFTER = 4096


def _base_sizes(base: Deferred) -> dict[str, int]:
    """path -> recorded size of the files of a base (built once, shared by its snapshots)."""
    if base.sizes is None:
        t = _files_table(base)
        base.sizes = {p: b for p, b in zip(t.column("path").to_pylist(),
                                           t.column("bytes").to_pylist(), strict=True)
                      if b is not None}
    return base.sizes


def _files_table(base: Deferred) -> pa.Table:
    t = base.get()
    if "bytes" not in t.column_names:  # checkpoints before sizes were recorded
        t = t.append_column("bytes", pa.nulls(t.num_rows, pa.int64()))
    return t.select(["path", "bytes"]).cast(_FILES_SCHEMA)  # files changed since the base before the file list is rebuilt


@dataclass(frozen=True)
class Snapshot:
    """The committed state of a store at one log version (an immutable value).

    The file list is a base table (the checkpoint's, read on first use) plus the files
    added and removed by the records replayed since; ``files`` and ``sizes`` are built from
    them when asked for, ``files_under`` filters the base vectorised.
    """

    version: int = 0
    base: Deferred = field(default_factory=lambda: Deferred(table=schema.empty_table(_FILES_SCHEMA)),
                           compare=False, repr=False)
    added: Mapping[str, int | None] = field(default_factory=dict, compare=False, repr=False)
    removed: frozenset[str] = frozenset()
    chunks: dict[str, tuple[pa.Table | Deferred, ...]] = field(
        default_factory=lambda: {t: () for t in ROW_TABLES}
    )
    neurons_file: str | None = None
    index: _Index = field(default_factory=_Index, compare=False, repr=False)

    def _cache(self) -> dict[str, Any]:
        return self.__dict__.setdefault("_cached", {})

    @property
    def files(self) -> frozenset[str]:
        """Every committed file (store-relative paths)."""
        cache = self._cache()
        if "files" not in cache:
            base = _files_table(self.base).column("path").to_pylist()
            cache["files"] = frozenset(base).difference(self.removed).union(self.added)
        return cache["files"]

    @property
    def sizes(self) -> Mapping[str, int]:
        """Byte size of each file, as its commit recorded it (absent for old checkpoints)."""
        cache = self._cache()
        if "sizes" not in cache:
            sizes = {p: b for p, b in _base_sizes(self.base).items() if p not in self.removed}
            sizes.update({p: b for p, b in self.added.items() if b is not None})
            cache["sizes"] = sizes
        return cache["sizes"]

    def size_of(self, path: str) -> int | None:
        """The byte size of one committed file as its commit recorded it (None: unknown)."""
        if path in self.added:
            return self.added[path]
        if path in self.removed:
            return None
        return _base_sizes(self.base).get(path)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Snapshot):
            return NotImplemented
        return (self.version, self.files, self.neurons_file) == (other.version, other.files, other.neurons_file) \
            and all(self.table(t).equals(other.table(t)) for t in ROW_TABLES)

    def lookup(self, table: str, key: Any) -> dict[str, Any] | None:
        """What is known of the committed row of ``table`` with identity ``key``, if any.

        Keys: segments ``(sheet_name, stimulus, null)``; stimuli and sensory ``stimulus``.
        """
        hit = self.index.keys.get((table, key))
        return hit[1] if hit is not None and hit[0] <= self.version else None

    def table(self, table: str) -> pa.Table:
        """The metadata table as one Arrow table, in commit order."""
        chunks: list[pa.Table] = []
        rows: list[dict[str, Any]] = []  # records not converted yet: one conversion for all
        for c in self.chunks[table]:
            if isinstance(c, _Rows) and c._table is None:
                rows += c.rows
                continue
            if rows:
                chunks.append(pa.Table.from_pylist(rows, schema=ROW_SCHEMAS[table]))
                rows = []
            chunks.append(_resolve(c))
        if rows:
            chunks.append(pa.Table.from_pylist(rows, schema=ROW_SCHEMAS[table]))
        chunks = [c for c in chunks if c.num_rows]
        if not chunks:
            return schema.empty_table(ROW_SCHEMAS[table])
        return chunks[0] if len(chunks) == 1 else pa.concat_tables(chunks)

    def raw_rows(self, table: str) -> list[dict[str, Any]] | None:
        """The rows of ``table`` as the log records hold them, when none has been converted
        to Arrow yet (a collection converts the rows of 1000 stores at once); else None."""
        chunks = self.chunks[table]
        if not all(isinstance(c, _Rows) and c._table is None for c in chunks):
            return None
        return [row for c in chunks for row in c.rows]  # type: ignore[union-attr]

    def converted(self, table: str) -> bool:
        """Whether :meth:`frame` has built this table's DataFrame already (then it is free)."""
        return table in self._cache().get("frames", ())

    def frame(self, table: str) -> pl.DataFrame:
        """The metadata table as a polars DataFrame in commit order (cached per snapshot)."""
        cache = self._cache().setdefault("frames", {})
        if table not in cache:
            cache[table] = pl.from_arrow(self.table(table).combine_chunks())
        return cache[table]

    def rows(self, table: str) -> list[dict[str, Any]]:
        """The metadata table as row dicts of Python values, in commit order (cached per
        snapshot, shared by every caller: read-only). Queries that pick a few rows by
        position use these instead of a polars plan, whose every collect costs ~0.3 ms."""
        cache = self._cache().setdefault("rows", {})
        if table not in cache:
            if self.converted(table):
                rows = frame_rows(self.frame(table))
            else:
                # The log's own rows when they type-check (no Arrow table: ~0.4 ms at open),
                # else straight from Arrow (a polars frame costs ~0.5 ms more to build).
                raw = self.raw_rows(table)
                rows = None if raw is None else _plain_rows(raw, ROW_SCHEMAS[table])
                if rows is None:
                    rows = table_rows(self.table(table))
            # rows that rows_at converted before keep their identity
            for i, row in self._cache().get("rows_at", {}).pop(table, {}).items():
                rows[i] = row
            cache[table] = rows
        return cache[table]

    def column(self, table: str, name: str) -> list[Any]:
        """One column of the metadata table as Python values, in commit order (cached per
        snapshot). Indexes over one or two columns use this: converting every column of a
        10 000-recording store to row dicts costs ~100 ms, one column ~1 ms."""
        cache = self._cache().setdefault("columns", {})
        got = cache.get((table, name))
        if got is None:
            rows = self._cache().get("rows", {}).get(table)
            got = [r[name] for r in rows] if rows is not None else (
                self.table(table).column(name).to_pylist())
            cache[(table, name)] = got
        return got

    def rows_at(self, table: str, positions: Sequence[int]) -> list[dict[str, Any]]:
        """``[self.rows(table)[i] for i in positions]``, converting only those rows while the
        whole table has not been (a query on a freshly opened store picks a few rows of
        many). The dicts are shared with :meth:`rows`: one object per row and snapshot."""
        cache = self._cache()
        full = cache.get("rows", {}).get(table)
        if full is not None:
            return [full[i] for i in positions]
        some = cache.setdefault("rows_at", {}).setdefault(table, {})
        missing = sorted({i for i in positions if i not in some})
        if missing:
            t = self.table(table)
            if 4 * (len(missing) + len(some)) > t.num_rows:  # most of it: convert it all
                full = self.rows(table)
                return [full[i] for i in positions]
            some.update(zip(missing, table_rows(t.take(pa.array(missing, pa.int64()))),
                            strict=True))
        return [some[i] for i in positions]

    def memo(self, name: str, build: Callable[[Snapshot], Any]) -> Any:
        """``build(self)``, computed once per snapshot (for indexes derived from its tables)."""
        cache = self._cache().setdefault("memo", {})
        if name not in cache:
            cache[name] = build(self)
        return cache[name]

    def files_under(self, top: str) -> list[str]:
        """The files under one top-level directory (``"ads"``, ``"stimuli"``...), sorted
        (cached per snapshot)."""
        cache = self._cache().setdefault("under", {})
        files = cache.get(top)
        if files is None:
            prefix = top + "/"
            paths = _files_table(self.base).column("path")
            base = paths.filter(pc.starts_with(paths, prefix)).to_pylist()
            files = [p for p in base if p not in self.removed]
            files += [p for p in self.added if p.startswith(prefix)]
            files = cache[top] = sorted(files)
        return files

    def num_rows(self, table: str) -> int:
        return sum(len(c.rows) if isinstance(c, _Rows) and c._table is None else _resolve(c).num_rows
                   for c in self.chunks[table])

    def apply(self, record: dict[str, Any]) -> Snapshot:
        """The snapshot after one more log record."""
        version = record["version"]
        added = dict(self.added)
        removed = set(self.removed)
        for f in record.get("files", ()):
            added[f["path"]] = f["bytes"]
            removed.discard(f["path"])
        for path in record.get("removed", ()):
            if path in added:
                del added[path]
            else:  # a file of the base
                removed.add(path)
        base = self.base
        if len(added) + len(removed) > _REBASE_AFTER:  # keep replaying O(changes), not O(files)
            t = _files_table(base)
            keep = t.filter(pc.invert(pc.is_in(t.column("path"), pa.array(sorted(removed), pa.string()))))
            base = Deferred(table=pa.concat_tables([keep, pa.table(
                {"path": list(added), "bytes": list(added.values())}, schema=_FILES_SCHEMA)]))
            added, removed = {}, set()
        index = self.index if self.index.version == self.version else self.index.copy_upto(self.version)
        chunks = dict(self.chunks)
        for table, rows in record.get("rows", {}).items():
            if rows:
                # Arrow tables and identity keys are built when first needed: opening a store
                # (1000 of them in a collection) replays records without converting rows.
                rows_table = _Rows(rows, table)
                chunks[table] = chunks[table] + (rows_table,)
                index._deferred.append((version, table, rows_table))
        index.version = version
        neurons = record.get("neurons_file", self.neurons_file)
        return Snapshot(version, base, added, frozenset(removed), chunks, neurons, index)


def from_checkpoint(
    version: int,
    files: Deferred,
    tables: Mapping[str, Deferred],
    neurons_file: str | None,
) -> Snapshot:
    """The snapshot a checkpoint describes; its tables (``path``/``bytes`` for ``files``)
    are read when first needed."""
    index = _Index()
    chunks: dict[str, tuple[pa.Table | Deferred, ...]] = {}
    for name in ROW_TABLES:
        t = Deferred(lambda raw=tables[name], name=name: raw.get().cast(ROW_SCHEMAS[name]))
        chunks[name] = (t,)
        index._deferred.append((version, name, t))
    index.version = version
    return Snapshot(version, files, {}, frozenset(), chunks, neurons_file, index)
