"""``Snapshot``: the committed state of a store at one log version, as an immutable value.

A snapshot holds which files exist, the small metadata tables (segments, stimuli, sensory
index) as Arrow chunks — one per commit, or one per checkpoint — and an O(1) index of the
rows' identities (for uniqueness checks under the commit lock). It is built by replaying log
records (:meth:`Snapshot.apply`) on top of the latest checkpoint (:func:`from_checkpoint`);
:mod:`mozaik_arrow.commit` writes both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pyarrow as pa

from . import schema

__all__ = ["Snapshot", "ROW_SCHEMAS", "ROW_TABLES"]

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
        # Rows of a checkpoint, indexed on first use: readers that never check uniqueness
        # (every read-only open) never pay for it.
        self._deferred: list[tuple[int, str, pa.Table]] = []

    @property
    def keys(self) -> dict[tuple[str, Any], tuple[int, dict[str, Any]]]:
        while self._deferred:
            version, table, t = self._deferred.pop()
            names = sum(_KEY_COLUMNS[table], ())
            self.add_rows(version, table, {n: t.column(n).to_pylist() for n in names})
        return self._keys

    def add_rows(self, version: int, table: str, columns: Mapping[str, list[Any]]) -> None:
        target = self.keys
        key_cols, value_cols = _KEY_COLUMNS[table]
        keys = zip(*(columns[c] for c in key_cols), strict=True)
        values = zip(*(columns[c] for c in value_cols), strict=True)
        for k, v in zip(keys, values, strict=True):
            target.setdefault((table, _key(table, k)), (version, dict(zip(value_cols, v, strict=True))))

    def copy_upto(self, version: int) -> _Index:
        new = _Index()
        new._keys = {k: v for k, v in self.keys.items() if v[0] <= version}
        new.version = version
        return new


def _columns(rows: list[dict[str, Any]], names: tuple[str, ...]) -> dict[str, list[Any]]:
    return {n: [r[n] for r in rows] for n in names}


@dataclass(frozen=True)
class Snapshot:
    """The committed state of a store at one log version (an immutable value)."""

    version: int = 0
    files: frozenset[str] = frozenset()
    chunks: dict[str, tuple[pa.Table, ...]] = field(
        default_factory=lambda: {t: () for t in ROW_TABLES}
    )
    neurons_file: str | None = None
    index: _Index = field(default_factory=_Index, compare=False, repr=False)
    sizes: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)
    """Byte size of each file, as its commit recorded it (absent for old checkpoints)."""

    def lookup(self, table: str, key: Any) -> dict[str, Any] | None:
        """What is known of the committed row of ``table`` with identity ``key``, if any.

        Keys: segments ``(sheet_name, stimulus, null)``; stimuli and sensory ``stimulus``.
        """
        hit = self.index.keys.get((table, key))
        return hit[1] if hit is not None and hit[0] <= self.version else None

    def table(self, table: str) -> pa.Table:
        """The metadata table as one Arrow table, in commit order."""
        chunks = self.chunks[table]
        if not chunks:
            return schema.empty_table(ROW_SCHEMAS[table])
        return chunks[0] if len(chunks) == 1 else pa.concat_tables(chunks)

    def frame(self, table: str) -> pl.DataFrame:
        """The metadata table as a polars DataFrame in commit order (cached per snapshot)."""
        cache = self.__dict__.setdefault("_frames", {})
        if table not in cache:
            cache[table] = pl.from_arrow(self.table(table).combine_chunks())
        return cache[table]

    def files_under(self, top: str) -> list[str]:
        """The files under one top-level directory (``"ads"``, ``"stimuli"``...), sorted
        (cached per snapshot)."""
        cache = self.__dict__.setdefault("_under", {})
        files = cache.get(top)
        if files is None:
            prefix = top + "/"
            files = cache[top] = sorted(p for p in self.files if p.startswith(prefix))
        return files

    def num_rows(self, table: str) -> int:
        return sum(c.num_rows for c in self.chunks[table])

    def apply(self, record: dict[str, Any]) -> Snapshot:
        """The snapshot after one more log record."""
        version = record["version"]
        files = set(self.files)
        sizes = dict(self.sizes)
        for f in record.get("files", ()):
            files.add(f["path"])
            sizes[f["path"]] = f["bytes"]
        for path in record.get("removed", ()):
            files.discard(path)
            sizes.pop(path, None)
        index = self.index if self.index.version == self.version else self.index.copy_upto(self.version)
        chunks = dict(self.chunks)
        for table, rows in record.get("rows", {}).items():
            if rows:
                chunks[table] = chunks[table] + (pa.Table.from_pylist(rows, schema=ROW_SCHEMAS[table]),)
                names = sum(_KEY_COLUMNS[table], ())
                index.add_rows(version, table, _columns(rows, names))
        index.version = version
        neurons = record.get("neurons_file", self.neurons_file)
        return Snapshot(version, frozenset(files), chunks, neurons, index, sizes)


def from_checkpoint(
    version: int,
    files: list[str],
    tables: Mapping[str, pa.Table],
    neurons_file: str | None,
    sizes: list[int] | None = None,
) -> Snapshot:
    """The snapshot a checkpoint describes (its tables read back from Parquet)."""
    index = _Index()
    chunks: dict[str, tuple[pa.Table, ...]] = {}
    for name in ROW_TABLES:
        t = tables[name].cast(ROW_SCHEMAS[name])
        chunks[name] = (t,) if t.num_rows else ()
        if t.num_rows:
            index._deferred.append((version, name, t))
    index.version = version
    size_of = dict(zip(files, sizes, strict=True)) if sizes is not None else {}
    return Snapshot(version, frozenset(files), chunks, neurons_file, index, size_of)
