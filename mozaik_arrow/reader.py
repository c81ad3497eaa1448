"""Row-group reads of a store's Parquet files, with cached footers and neuron indexes.

Reading one neuron is the operation users notice: a ``filters=`` read costs 5–50 ms, while a
``read_row_group`` on an already opened file costs ~0.3 ms (arrow_engineering.md §1.2). So
each file's footer is parsed once, its row groups' ``neuron_id`` (and signal ``name``)
ranges are kept as numpy arrays, and a request for some neurons reads only the row groups
that hold them. Open files are kept in a small LRU, and so are the last row groups decoded
for one-neuron reads: mozaik's idiom is a loop of ``get_spiketrain(i)`` over neighbouring
ids, which then decodes (and on object storage, fetches) each row group once, not once per
neuron. Data files never change once committed (new data gets new names), so a decoded row
group cannot go stale.

A loop over many neurons of one recording in any order (a per-neuron analysis) would still
decode a row group per neuron. So a file (spikes, or one signal) whose one-neuron reads have
touched a quarter of its row groups is decoded whole, once, and its reads are then served
from memory (what
mozaik's pickle store does on a segment's first access, but only for files read this way).
Those whole files share one process-wide budget (:data:`.hot_files.HOT_FILES`). The row-group
indexes are :class:`~.group_index.GroupIndex`.

Every failure to read names the file: a missing file is a :class:`MissingFileError`, a
damaged one a :class:`CorruptFileError`.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import hot_files, schema
from .errors import CorruptFileError, FormatVersionError, MissingFileError
from .filesystem import StoreFileSystem
from .group_index import GroupIndex

__all__ = ["FileCache"]


# read_rows reads up to this many row groups one at a time through the decoded LRU (more:
# one multi-threaded read, not kept).
_GROUPS_ONE_BY_ONE = 256
# A file is decoded whole once one-neuron reads have touched this share of its row
# groups (and at least _HOT_MIN_GROUPS): then the row groups already decoded cost about as
# much as the whole file, so a loop that stops right there pays at most about twice the
# decoding it needed (the ski-rental rule), and a loop that goes on reads from memory.
_HOT_SHARE = 4
_HOT_MIN_GROUPS = 4
_OWNERS = itertools.count()


class FileCache:
    """Open Parquet files of one store, their footers and row-group indexes.

    Parameters
    ----------
    fs : StoreFileSystem
        The store's filesystem.
    max_open : int
        How many files to keep open at once.
    decoded_bytes : int
        Memory for row groups kept decoded after reads of a single row group (one-neuron
        reads, one ADS payload), each at most a quarter of it (0: none kept). Whole files
        decoded for loops of one-neuron reads count against :data:`HOT_FILES` instead.
    """

    def __init__(self, fs: StoreFileSystem, max_open: int = 64,
                 decoded_bytes: int = 32 * 2**20) -> None:
        self.fs = fs
        # The byte size a commit recorded for a file (set by the store): spares a HEAD per
        # file on object storage.
        self.size_of: Callable[[str], int | None] = lambda rel: None
        self.max_open = max_open
        self.decoded_bytes = decoded_bytes
        # (file, row group or -1 for all, columns) -> (table, what was derived from it)
        self._decoded: OrderedDict[tuple[str, int, tuple[str, ...]],
                                   tuple[pa.Table, dict[Any, Any]]] = OrderedDict()
        self._decoded_size = 0
        self._decoded_lock = threading.Lock()  # segments are read from worker threads too
        self._files: OrderedDict[str, pq.ParquetFile] = OrderedDict()
        self._index: dict[str, GroupIndex] = {}
        self._lists: dict[str, frozenset[str]] = {}  # list columns worth threads (_worth_threads)
        self._starts: dict[str, np.ndarray] = {}
        # One-neuron reads of spikes files: the row groups each (file, columns) has read, and
        # the columns of the files decoded whole (in HOT_FILES, under this cache's owner id).
        self._touched: dict[tuple[str, tuple[str, ...]], set[int] | None] = {}
        self._hot_columns: dict[str, tuple[str, ...]] = {}
        self._owner = next(_OWNERS)
        weakref.finalize(self, hot_files.HOT_FILES.drop, self._owner)

    def __reduce__(self) -> tuple[Any, ...]:
        # A segment sent to another process (pickle, multiprocessing) takes a cache of its
        # own there: the filesystem and limits travel, open files and decoded groups don't.
        return type(self), (self.fs, self.max_open, self.decoded_bytes)

    def _wrap(self, rel: str, exc: BaseException) -> Exception:
        full = self.fs.full(rel)
        if isinstance(exc, FileNotFoundError):
            return MissingFileError(full, "file named by the store's log is missing")
        return CorruptFileError(full, f"cannot read Parquet file ({type(exc).__name__}: {exc})")

    def file(self, rel: str) -> pq.ParquetFile:
        """The open ``ParquetFile`` of ``rel`` (footer parsed once)."""
        pf = self._files.get(rel)
        if pf is not None:
            self._files.move_to_end(rel)
            return pf
        try:
            # Page CRCs are verified on every read: a flipped bit is an error, never data.
            pf = pq.ParquetFile(self.fs.parquet_source(rel, self.size_of(rel)), memory_map=False,
                                page_checksum_verification=True, pre_buffer=not self.fs.renames)
        except Exception as e:  # pyarrow raises ArrowInvalid / OSError variants
            raise self._wrap(rel, e) from e
        version = (pf.metadata.metadata or {}).get(schema.FORMAT_KEY)
        if version is not None and int(version) > schema.FORMAT_VERSION:
            raise FormatVersionError(
                f"{self.fs.full(rel)} has format version {int(version)}; this mozaik_arrow "
                f"reads up to {schema.FORMAT_VERSION}: upgrade mozaik_arrow"
            )
        self._files[rel] = pf
        if len(self._files) > self.max_open:
            _, old = self._files.popitem(last=False)
            old.close()
        return pf

    def _worth_threads(self, rel: str, columns: Sequence[str]) -> bool:
        """Whether reading ``columns`` of every row group is worth pyarrow's thread pool:
        only for payload lists (spike times, samples) across row groups. Per-row scalars are
        small: the pool's dispatch cost more than it saved (measured: the spike counts of
        four 750-neuron files 0.78 ms with threads, 0.20 without; of 100 000 neurons 8.0 vs
        7.4 ms; the spike times of 100 000 neurons 67 ms with, 75 without)."""
        lists = self._lists.get(rel)
        if lists is None:
            pf = self.file(rel)
            arrow = pf.schema_arrow  # built on each access: once per file here
            lists = self._lists[rel] = frozenset() if pf.metadata.num_row_groups < 2 else frozenset(
                f.name for f in arrow if pa.types.is_list(f.type) or pa.types.is_large_list(f.type))
        return not lists.isdisjoint(columns)

    def index(self, rel: str) -> GroupIndex:
        """Row-group index of ``rel`` from its footer statistics (computed once)."""
        idx = self._index.get(rel)
        if idx is not None:
            return idx
        idx = GroupIndex.from_footer(self.file(rel).metadata, self.fs.full(rel))
        self._index[rel] = idx
        return idx

    def read_groups(self, rel: str, groups: Sequence[int], columns: Sequence[str]) -> pa.Table:
        """Read some row groups of ``rel`` (only ``columns``)."""
        if len(groups) == 1:
            return self._read_group(rel, int(groups[0]), tuple(columns))
        pf = self.file(rel)
        try:
            return pf.read_row_groups([int(g) for g in groups], columns=list(columns))
        except Exception as e:
            raise self._wrap(rel, e) from e

    def _read_group(self, rel: str, group: int, columns: tuple[str, ...]) -> pa.Table:
        """One row group (a one-neuron read), from the decoded LRU when it is there."""

        def read(pf: pq.ParquetFile) -> pa.Table:
            # Without the thread pool's dispatch: ~0.1 ms of a ~0.3 ms read.
            return pf.read_row_group(group, columns=list(columns), use_threads=False)

        return self._decoded_read((rel, group, columns), read, self.decoded_bytes // 4)

    def _decoded_read(self, key: tuple[str, int, tuple[str, ...]],
                      read: Callable[[pq.ParquetFile], pa.Table], keep_up_to: int) -> pa.Table:
        """``read(file)``, kept decoded in the LRU when at most ``keep_up_to`` bytes (safe:
        committed files never change)."""
        with self._decoded_lock:
            entry = self._decoded.get(key)
            if entry is not None:
                self._decoded.move_to_end(key)
                return entry[0]
        pf = self.file(key[0])
        try:
            table = read(pf)
        except Exception as e:
            raise self._wrap(key[0], e) from e
        size = table.nbytes
        if size <= keep_up_to:
            with self._decoded_lock:
                if key not in self._decoded:
                    self._decoded[key] = (table, {})
                    self._decoded_size += size
                while self._decoded_size > self.decoded_bytes:
                    _, (old, _) = self._decoded.popitem(last=False)
                    self._decoded_size -= old.nbytes
        return table

    def read_all(self, rel: str, columns: Sequence[str], name: str | None = None) -> pa.Table:
        """Read every row of ``rel`` (of one signal ``name`` for signals files). Small
        results (per-neuron counts of a file: ~8 bytes a neuron) stay decoded in the LRU:
        mean rates read again cost a lookup."""
        if name is None:
            cols = tuple(columns)
            hot = self._hot(rel, cols)
            if hot is not None:
                return hot.select(list(cols))

            def read(pf: pq.ParquetFile) -> pa.Table:
                return pf.read(columns=list(cols), use_threads=self._worth_threads(rel, cols))

            return self._decoded_read((rel, -1, cols), read, self.decoded_bytes // 16)
        idx = self.index(rel)
        groups = np.flatnonzero(idx.name == name)
        if len(groups) == 0:
            return schema.empty_table(self.file(rel).schema_arrow).select(list(columns))
        return self.read_groups(rel, groups.tolist(), columns)

    def read_neurons(
        self,
        rel: str,
        neuron_ids: np.ndarray,
        columns: Sequence[str],
        name: str | None = None,
    ) -> tuple[pa.Table, np.ndarray]:
        """Rows of the given neurons, in the order asked.

        Returns the table and a boolean mask of which requested ids were found (rows for
        missing ids are absent from the table).
        """
        idx = self.index(rel)
        ids = np.asarray(neuron_ids, dtype=np.int64)
        if idx.name is not None and name is not None:
            sel = np.flatnonzero(idx.name == name)
            lo, hi = idx.id_min[sel], idx.id_max[sel]
        else:
            sel = None
            lo, hi = idx.id_min, idx.id_max
        # Files are sorted by neuron_id, so row-group bounds are monotonic.
        pos = np.searchsorted(hi, ids, side="left")
        ok = pos < len(hi)
        ok[ok] &= lo[pos[ok]] <= ids[ok]
        if not ok.any():
            return schema.empty_table(self.file(rel).schema_arrow).select(list(columns)), ok
        groups = np.unique(pos[ok]) if len(ids) > 1 else pos[ok]
        if sel is not None:
            groups = sel[groups]
        cols = list(columns) if "neuron_id" in columns else ["neuron_id", *columns]
        table = self._hot(rel, tuple(cols)) if idx.one_kind else None
        if table is None:
            table = self.read_groups(rel, groups.tolist(), cols)
            if idx.one_kind and len(groups) == 1:
                self._touch(rel, int(groups[0]), tuple(cols), len(idx.first_row))
        have = table.column("neuron_id").to_numpy()  # ascending: rows are sorted by id
        at = np.minimum(np.searchsorted(have, ids), len(have) - 1)
        found = have[at] == ids
        rows = at[found]
        if len(rows) == 1:
            out = table.slice(int(rows[0]), 1)  # zero-copy: the usual one-neuron read
        else:
            out = table.take(pa.array(rows, type=pa.int64()))
        if "neuron_id" not in columns:
            out = out.drop_columns(["neuron_id"])
        return out, found

    def _hot_entry(self, rel: str, columns: tuple[str, ...]) -> tuple[pa.Table, dict] | None:
        have = self._hot_columns.get(rel)
        if have is None or not set(columns) <= set(have):
            return None
        entry = hot_files.HOT_FILES.get((self._owner, rel, have))
        if entry is None:  # dropped for other files: a loop over it may promote it again
            with self._decoded_lock:
                self._hot_columns.pop(rel, None)
                self._touched.pop((rel, have), None)
        return entry

    def _hot(self, rel: str, columns: tuple[str, ...]) -> pa.Table | None:
        """``rel`` decoded whole (with at least ``columns``), if it was and still is kept."""
        entry = self._hot_entry(rel, columns)
        return None if entry is None else entry[0]

    def derived_for(self, rel: str, neuron_id: int, columns: Sequence[str],
                    derive: Callable[[pa.Table], Any], name: str | None = None) -> Any:
        """``derive(table)`` for the decoded table that holds ``neuron_id``'s row (of signal
        ``name`` in a signals file): the file decoded whole, or its row group kept from an
        earlier read. Computed once per kept table (so a one-neuron read from memory skips
        the Arrow-to-numpy steps); None when neither is kept decoded, or for a signals file
        of several signals."""
        cols = tuple(columns)
        idx = self.index(rel)
        if not idx.one_kind or (idx.name is not None and idx.name[0] != name):
            return None
        entry = self._hot_entry(rel, cols)
        if entry is None:
            g = int(np.searchsorted(idx.id_max, neuron_id, side="left"))
            if g == len(idx.id_max) or idx.id_min[g] > neuron_id:
                return None
            with self._decoded_lock:
                entry = self._decoded.get((rel, g, cols))
                if entry is None:
                    return None
                self._decoded.move_to_end((rel, g, cols))
        table, derived = entry
        if derive not in derived:
            derived[derive] = derive(table)
        return derived[derive]

    def _touch(self, rel: str, group: int, columns: tuple[str, ...], n_groups: int) -> None:
        """Note a one-neuron read of ``group``; decode ``rel`` whole once enough of its
        groups were read one by one (see ``_HOT_SHARE``)."""
        key = (rel, columns)
        with self._decoded_lock:
            seen = self._touched.setdefault(key, set())
            if seen is None or group in seen:
                return
            seen.add(group)
            if len(seen) < _HOT_MIN_GROUPS or len(seen) * _HOT_SHARE < n_groups:
                return
            self._touched[key] = None  # decided: decoded whole now, or never (too large)
        md = self.file(rel).metadata
        # Parquet's uncompressed size of the leaf columns: about the decoded Arrow size.
        wanted = set(columns)
        where = [i for i in range(md.num_columns)
                 if md.schema.column(i).path.split(".")[0] in wanted]
        size = sum(md.row_group(g).column(i).total_uncompressed_size
                   for g in range(md.num_row_groups) for i in where)
        if size > hot_files.HOT_FILES.limit // 2:
            return
        try:
            # kept a chunk per row group: joining them would copy the file's data
            table = self.file(rel).read(columns=list(columns), use_threads=True)
        except (OSError, ValueError, pa.ArrowException):
            # A damaged row group elsewhere in the file must not fail this read, whose own
            # group decoded fine: the file stays read group by group, and a read of the
            # damaged group reports it.
            return
        if hot_files.HOT_FILES.put((self._owner, rel, columns), table):
            self._hot_columns[rel] = columns
            with self._decoded_lock:  # its row groups kept one by one are now twins
                for key in [k for k in self._decoded
                            if k[0] == rel and k[1] >= 0 and set(k[2]) <= set(columns)]:
                    self._decoded_size -= self._decoded.pop(key)[0].nbytes

    def read_rows(self, rel: str, rows: Sequence[int], columns: Sequence[str] | None = None) -> pa.Table:
        """Rows of ``rel`` by position, in the order asked (reads only their row groups)."""
        starts = self._starts.get(rel)
        if starts is None:
            md = self.file(rel).metadata
            counts = [md.row_group(i).num_rows for i in range(md.num_row_groups)]
            starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
            self._starts[rel] = starts
        want = np.asarray(rows, dtype=np.int64)
        if len(want) and (want.min() < 0 or want.max() >= starts[-1]):
            raise CorruptFileError(self.fs.full(rel), f"no row {int(want.max())} in this file")
        groups = np.unique(np.searchsorted(starts, want, side="right") - 1)
        cols = list(columns) if columns is not None else self.file(rel).schema_arrow.names
        if len(groups) <= _GROUPS_ONE_BY_ONE:
            # Through the decoded LRU: a few ADS read again (mozaik's analyses ask for the
            # same results over and over) decode nothing. Committed files never change.
            table = pa.concat_tables([self._read_group(rel, int(g), tuple(cols)) for g in groups])
        else:
            table = self.read_groups(rel, groups.tolist(), cols)
        # position of each group's first row within the concatenated table
        sizes = starts[groups + 1] - starts[groups]
        base = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        g = np.searchsorted(starts, want, side="right") - 1
        local = base[np.searchsorted(groups, g)] + (want - starts[g])
        if len(local) == table.num_rows and (local == np.arange(len(local))).all():
            return table  # every row of the groups, in order: no copy (take copies lists)
        return table.take(pa.array(local, type=pa.int64()))

    def clear(self) -> None:
        """Close every open file and forget cached footers (e.g. after files were replaced)."""
        for pf in self._files.values():
            pf.close()
        self._files.clear()
        self._index.clear()
        self._starts.clear()
        self._lists.clear()
        with self._decoded_lock:
            self._decoded.clear()
            self._decoded_size = 0
            self._touched.clear()
        self._hot_columns.clear()
        hot_files.HOT_FILES.drop(self._owner)
