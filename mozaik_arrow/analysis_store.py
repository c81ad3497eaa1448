"""Analysis results (ADS) of a store: the pending batch, uniqueness, commits, reads.

On disk an ADS is one row of the metadata table ``ads/<uuid>.parquet`` (its identity key,
identifier, tags, stimulus key, every parameter as a column of its own, and where its
payload is; :mod:`mozaik_arrow.ads_metadata`) plus one row of a payload table
``ads_payloads/identifier=<type>/<uuid>.parquet``
(:data:`mozaik_arrow.ads_payload.PAYLOAD_SCHEMAS`). ``add_analysis_result`` checks uniqueness
in O(1) against an index of identity keys and keeps the ADS pending; ``save()`` writes the
batch in one commit. Under the commit lock the batch is checked again against what other
processes committed meanwhile: a duplicate is dropped (the rest is committed, then
``ValueError`` names it) or, with ``replace=True``, replaces the stored one in its place.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import numpy as np
import polars as pl
import pyarrow as pa

from . import schema
from .ads import AnalysisDataStructure
from .ads_index import PairIndex
from .ads_metadata import _meta_table, _necessary
from .ads_payload import (
    PAYLOAD_SCHEMAS,
    ads_from_table,
    ads_key,
    ads_params,
    payload_table,
)
from .commit import Changes, Log
from .errors import CorruptFileError, DuplicateError, ValidationError
from .parametrized import canonical_stimulus
from .reader import FileCache
from .snapshot import Snapshot

__all__ = ["AnalysisResults"]

_FIXED = [f.name for f in schema.ADS]
_RESERVED = set(_FIXED) - {"identifier"}  # identifier is a parameter and a fixed column
# Values per payload row group: what reading one ADS decodes (512 KiB of float64).
_PAYLOAD_VALUES_PER_GROUP = 1 << 16
# Columns of the metadata files that queries never look at: read per ADS when materialised
# (``_params``) or only by people reading the files (``_declared``). Skipping them halves the
# first query of a freshly opened store (measured: 87 -> 32 ms for 1e5 ADS).
_NOT_IN_FRAME = ("_params", "_declared")


@functools.cache
def _empty_frame() -> pl.DataFrame:
    # Built on first use, not at import (polars' thread pool must not start before a fork).
    return pl.from_arrow(schema.empty_table(schema.strip_field_docs(schema.ADS))).drop(
        _NOT_IN_FRAME).with_columns(pl.lit(None, pl.String).alias("_meta_file"),
                                    pl.lit(None, pl.Int64).alias("_row"))


def _stage_meta(txn: Any, table: pa.Table) -> None:
    n, per = table.num_rows, schema.ADS_ROWS_PER_GROUP
    txn.stage("ads", table, f"ads/{os.urandom(8).hex()}.parquet",
              group_sizes=[min(per, n - a) for a in range(0, n, per)] or [0],
              arrow_schema=_with_format(table.schema, "ads"))


def _with_format(arrow_schema: pa.Schema, table: str) -> pa.Schema:
    return arrow_schema.with_metadata(
        {schema.FORMAT_KEY: str(schema.FORMAT_VERSION).encode(), schema.TABLE_KEY: table.encode()}
    )


class AnalysisResults:
    """The analysis results of one store (owned by :class:`~mozaik_arrow.store.ArrowDataStore`).

    Parameters
    ----------
    log : Log
        The store's commit log.
    files : FileCache
        The store's open files.
    snapshot : callable
        Returns the store's latest snapshot.
    replace : bool
        Whether an ADS equal to a stored one replaces it (else ``ValueError``).
    """

    def __init__(
        self, log: Log, files: FileCache, snapshot: Callable[[], Snapshot], replace: bool
    ) -> None:
        self._log = log
        self._files = files
        self._snapshot = snapshot
        self.replace = replace
        self._pending: dict[str, AnalysisDataStructure] = {}
        self._keys: dict[str, str] = {}  # committed ads_key -> metadata file
        self._keys_from: set[str] = set()  # metadata files indexed in _keys
        self._frames: dict[str, pl.DataFrame] = {}  # metadata file -> its rows
        self._committed: tuple[Snapshot, pl.DataFrame] | None = None
        self._scanned = False  # the first filtered query of a fresh store scans with pushdown
        self._strings: tuple[Snapshot, dict[str, str]] | None = None  # see stimulus_strings
        self._index: tuple[Snapshot, PairIndex] | None = None  # see indexed

    # -- committed state -------------------------------------------------------------------
    @staticmethod
    def _meta_files(snap: Snapshot) -> list[str]:
        return snap.files_under("ads")  # cached by the snapshot

    def _meta(self, path: str) -> pl.DataFrame:
        """The rows of one metadata file without ``_params`` (read per ADS when needed),
        plus the row's file and position in it."""
        df = self._frames.get(path)
        if df is None:
            names = [n for n in self._files.file(path).schema_arrow.names if n not in _NOT_IN_FRAME]
            df = self._read_meta(path, names).with_columns(
                pl.lit(path).alias("_meta_file"), pl.int_range(pl.len(), dtype=pl.Int64).alias("_row"))
            self._frames[path] = df
        return df

    def _read_meta(self, path: str, names: list[str]) -> pl.DataFrame:
        # polars decodes these list/string columns ~3x faster than pyarrow (measured: 16 vs
        # 40-60 ms for 5e4 ADS), and this read is what a freshly opened store's first query
        # pays. The footer was opened (and version-checked) through the FileCache above.
        full = self._files.fs.full(path)
        try:
            return pl.read_parquet(full, columns=names, glob=False,
                                   storage_options=self._files.fs.polars_options())
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:  # noqa: BLE001 - polars may panic on damaged pages
            raise CorruptFileError(full, f"cannot read ADS metadata ({type(e).__name__}: {e})") from None

    def _committed_keys(self, snap: Snapshot) -> dict[str, str]:
        files = set(self._meta_files(snap))
        if self._keys_from - files:  # a file was replaced: index again from scratch
            self._keys, self._keys_from = {}, set()
        for path in sorted(files - self._keys_from):
            for key in self._meta(path)["ads_key"].to_list():
                self._keys[key] = path
            self._keys_from.add(path)
        return self._keys

    def committed_frame(self, snap: Snapshot) -> pl.DataFrame:
        """Every committed ADS row in store order (cached per snapshot: files never change)."""
        if self._committed is not None and self._committed[0] is snap:
            return self._committed[1]
        frames = [self._meta(p) for p in self._meta_files(snap)]
        if not frames:
            df = _empty_frame()
        else:
            df = pl.concat(frames, how="diagonal_relaxed")
            order = df["_version"] * (1 << 32) + df["_position"]
            if not (order.diff().drop_nulls() >= 0).all():  # sort only when out of order
                df = df.sort("_version", "_position")
        self._committed = (snap, df)
        return df

    def stimulus_strings(self, snap: Snapshot | None = None) -> dict[str, str] | None:
        """Stimulus key -> stimulus string of every ADS (committed, then pending) that has a
        stimulus; None while the committed rows are not read yet (a fresh store's first
        query scans its metadata with pushdown instead of reading them all). ``snap``: the
        store's latest snapshot, when the caller has just read it."""
        snap = self._snapshot() if snap is None else snap
        if self._committed is None or self._committed[0] is not snap:
            return None
        memo = self._strings
        if memo is None or memo[0] is not snap:
            rows = (self._committed[1].select("stimulus", "^stimulus_id$")
                    .drop_nulls("stimulus").unique("stimulus", maintain_order=True))
            memo = self._strings = (snap, dict(rows.iter_rows()) if rows.width == 2 else {})
        strings = memo[1]
        if self._pending:
            strings = dict(strings)
            for a in self._pending.values():
                if a.stimulus_id is not None:
                    text, key, _ = canonical_stimulus(a.stimulus_id)
                    strings.setdefault(key, text)
        return strings

    def indexed(self, snap: Snapshot | None = None) -> tuple[pl.DataFrame, PairIndex] | None:
        """The committed rows and their :class:`~mozaik_arrow.ads_index.PairIndex`, when
        every ADS is committed and the rows of the latest snapshot were read already (by an
        earlier query); None otherwise. The index is built once per snapshot: on the second
        query of a snapshot, so that a store saved between every query never pays for it
        (building it over 1e5 ADS costs ~50 ms; a query on it then ~1 ms instead of ~8).
        ``snap``: the store's latest snapshot, when the caller has just read it."""
        snap = self._snapshot() if snap is None else snap
        if self._pending or self._committed is None or self._committed[0] is not snap:
            return None
        if self._index is None or self._index[0] is not snap:
            # One chunk: taking a few rows of a frame concatenated from many files costs
            # ~3 ms in polars, of a rechunked one ~0.05 ms. It replaces the kept rows (one
            # copy in memory, not two).
            frame = self._committed[1].rechunk()
            self._committed = (snap, frame)
            self._index = (snap, PairIndex(frame.get_column("_pairs"), frame.get_column("stimulus")))
        return self._committed[1], self._index[1]

    # -- writing ----------------------------------------------------------------------------
    def add(self, result: AnalysisDataStructure) -> None:
        """Queue ``result``; ``ValueError`` if an equal ADS is stored or queued (unless replace)."""
        if not isinstance(result, AnalysisDataStructure):
            raise ValidationError(
                f"add_analysis_result expects an AnalysisDataStructure, not {type(result).__name__}"
            )
        clash = sorted(set(ads_params(result)) & _RESERVED)
        if clash:
            raise ValidationError(f"ADS parameter names {clash} are reserved by the ADS table")
        key = ads_key(result)
        # Checked against the state this process last read (no log read per ADS): what
        # other processes commit meanwhile is checked again under the lock in save().
        if not self.replace and (
            key in self._pending or key in self._committed_keys(self._log.snapshot(refresh=False))
        ):
            raise DuplicateError(
                f"an analysis result with the same parameters is already stored: {result}"
            )
        self._pending[key] = result  # with replace=True a queued equal one is replaced

    def save(self) -> None:
        """Commit the pending batch (one commit); see the module docstring for conflicts."""
        if not self._pending:
            return
        items = list(self._pending.items())
        txn = self._log.transaction("add_analysis_result")
        locations: dict[str, tuple[str, int]] = {}
        try:
            by_type: dict[str, list[tuple[str, AnalysisDataStructure]]] = {}
            for k, a in items:
                by_type.setdefault(a.identifier, []).append((k, a))
            for ident, group in by_type.items():
                table = payload_table([a for _, a in group], ident)
                path = f"ads_payloads/identifier={quote(ident, safe='')}/{os.urandom(8).hex()}.parquet"
                per_row = max(1, table.nbytes // 8 // max(1, table.num_rows))
                rows = max(1, min(65536, _PAYLOAD_VALUES_PER_GROUP // per_row))
                sizes = [min(rows, table.num_rows - a) for a in range(0, table.num_rows, rows)]
                txn.stage("ads_payloads", table, path, group_sizes=sizes,
                          arrow_schema=_with_format(PAYLOAD_SCHEMAS[ident], "ads_payloads"))
                for row, (k, _) in enumerate(group):
                    locations[k] = (path, row)
        except BaseException:
            txn.abort()
            raise
        dropped: list[AnalysisDataStructure] = []

        def build(snap: Snapshot) -> Changes:
            dropped.clear()
            keys = self._committed_keys(snap)
            keep, positions, replaced = [], [], {}
            for k, a in items:
                if k in keys and not self.replace:
                    dropped.append(a)
                    continue
                if k in keys:
                    replaced.setdefault(keys[k], set()).add(k)
                keep.append((k, a))
            # Replaced ADS keep their place in store order: rewrite their files without them.
            old_place: dict[str, tuple[int, int]] = {}
            for path, gone in replaced.items():
                df = self._meta(path)
                for k, v, p in df.filter(pl.col("ads_key").is_in(list(gone))).select(
                        "ads_key", "_version", "_position").iter_rows():
                    old_place[k] = (v, p)
                rest = df.filter(~pl.col("ads_key").is_in(list(gone)))
                if rest.height:
                    t = self._files.read_all(path, self._files.file(path).schema_arrow.names)
                    t = t.filter(pa.array(~df["ads_key"].is_in(list(gone)).to_numpy()))
                    _stage_meta(txn, t)
            version = snap.version + 1
            positions = [old_place.get(k, (version, i))[1] for i, (k, _) in enumerate(keep)]
            if keep:
                meta = _meta_table(keep, version, positions, [locations[k] for k, _ in keep])
                if old_place:  # replacements keep their commit version too
                    versions = [old_place.get(k, (version, 0))[0] for k, _ in keep]
                    meta = meta.set_column(meta.schema.get_field_index("_version"), "_version",
                                           pa.array(versions, pa.int64()))
                _stage_meta(txn, meta)
            return Changes(removed=sorted(replaced))

        txn.commit(build)
        self._pending.clear()
        if dropped:
            raise DuplicateError(
                f"{len(dropped)} analysis result(s) were dropped: another process stored equal "
                f"ones first (the rest of the batch was saved): {', '.join(map(str, dropped[:3]))}"
            )

    # -- reading ----------------------------------------------------------------------------
    def plan(self, snap: Snapshot | None = None) -> pl.LazyFrame:
        """Every ADS (committed, then pending) as of now, as a lazy frame in store order.

        The state is captured now (snapshot and pending batch) but nothing is read until the
        plan is collected: a view that never looks at its ADS never reads their metadata.
        ``snap``: the store's latest snapshot, when the caller has just read it.
        """
        snap, pending = self._snapshot() if snap is None else snap, dict(self._pending)
        if not pending and self._committed is not None and self._committed[0] is snap:
            # Already read: a plain lazy frame (a deferred one costs ~6 ms per query on 1e5
            # ADS, as polars moves the frame through its Python-source machinery).
            return self._committed[1].lazy()
        memo: list[pl.DataFrame] = []
        failed: list[BaseException] = []

        def rows() -> pl.DataFrame:
            if failed:
                raise failed[0]
            if not memo:
                memo.append(self._frame(snap, pending))
            return memo[0]

        def schema_of() -> pl.Schema:
            # polars wraps an exception raised here in a ComputeError; keep ours (it names
            # the damaged file) for rows(), where it propagates as it is.
            try:
                return rows().schema
            except Exception as e:  # noqa: BLE001 - re-raised by rows()
                failed.append(e)
                return _empty_frame().schema

        return pl.defer(rows, schema=schema_of)

    def pushdown_plan(self, where: Mapping[str, Any]) -> Callable[[], pl.LazyFrame] | None:
        """For the first filtered query of a freshly opened store: a plan (built on first
        use, of the state as of now) scanning the metadata files with pushdown of a
        necessary condition of ``where``, instead of reading every row (as :meth:`plan` does,
        and keeps them for the next queries). None when that does not apply: the rows are
        already read, ADS are pending, or a scan was handed out before.

        The plan gives the rows, columns and order of :meth:`plan` restricted to rows that
        may match ``where``; the caller applies its exact filter on top.
        """
        snap = self._snapshot()
        if self._pending or self._scanned or not self._meta_files(snap) or (
                self._committed is not None and self._committed[0] is snap):
            return None
        self._scanned = True
        return lambda: self._scan(snap, where)

    def _scan(self, snap: Snapshot, where: Mapping[str, Any]) -> pl.LazyFrame:
        """The committed rows of ``snap``, each metadata file pruned (row groups by their
        statistics) with a necessary condition of ``where`` on its typed columns."""
        parts = []
        for path in self._meta_files(snap):
            file_schema = self._files.file(path).schema_arrow  # footer only, version-checked
            names = [n for n in file_schema.names if n not in _NOT_IN_FRAME]
            parts.append(
                pl.scan_parquet(self._files.fs.full(path), glob=False, row_index_name="_row",
                                storage_options=self._files.fs.polars_options())
                .filter(_necessary(where, file_schema))
                .select(*names, pl.lit(path).alias("_meta_file"), pl.col("_row").cast(pl.Int64))
            )
        plan = parts[0] if len(parts) == 1 else pl.concat(parts, how="diagonal_relaxed")
        return plan.sort("_version", "_position", maintain_order=True)

    def frame(self) -> pl.DataFrame:
        """Every ADS (committed, then pending) as metadata rows, in store order."""
        return self._frame(self._snapshot(), self._pending)

    def _frame(self, snap: Snapshot, pending: dict[str, AnalysisDataStructure]) -> pl.DataFrame:
        committed = self.committed_frame(snap)
        if not pending:
            return committed
        items = list(pending.items())
        replaced = set(pending) & set(committed["ads_key"].to_list())
        pend = pl.from_arrow(_meta_table(items, snap.version + 1, list(range(len(items))),
                                         [(None, None)] * len(items))).drop(_NOT_IN_FRAME)
        if replaced:
            committed = committed.filter(~pl.col("ads_key").is_in(list(replaced)))
        return pl.concat([committed, pend], how="diagonal_relaxed")

    def materialise(self, rows: pl.DataFrame) -> list[AnalysisDataStructure]:
        """The ADS objects of some rows of :meth:`frame`, in the rows' order."""
        out: list[AnalysisDataStructure | None] = [None] * rows.height
        committed = rows.with_row_index("_i").filter(pl.col("_payload_file").is_not_null())
        params: dict[int, dict] = {}
        for (meta_file,), part in committed.partition_by("_meta_file", as_dict=True).items():
            texts = self._files.read_rows(meta_file, part["_row"].to_numpy(), ["_params"])
            for i, text in zip(part["_i"].to_list(), texts.column("_params").to_pylist(), strict=True):
                params[i] = json.loads(text)
        todo: dict[tuple[str, str], list[tuple[int, int, dict, list]]] = {}
        for i, (key, ident, tags, path, row) in enumerate(rows.select(
                "ads_key", "identifier", "tags", "_payload_file", "_payload_row").iter_rows()):
            if path is None:  # pending when the view was made
                obj = self._pending.get(key)
                out[i] = obj if obj is not None else self._saved_since(key)
            else:
                todo.setdefault((ident, path), []).append((i, row, params[i], tags))
        for (ident, path), entries in todo.items():
            table = self._files.read_rows(path, np.array([e[1] for e in entries]))
            objs = ads_from_table(ident, [e[2] for e in entries], [e[3] for e in entries], table)
            for (i, *_), obj in zip(entries, objs, strict=True):
                out[i] = obj
        return [a for a in out if a is not None]

    def _saved_since(self, key: str) -> AnalysisDataStructure:
        """An ADS that was pending when a view was made and has been saved since."""
        committed = self.committed_frame(self._snapshot())
        rows = committed.filter(pl.col("ads_key") == key)
        if rows.height != 1:
            raise KeyError(f"analysis result {key} is neither pending nor stored any more")
        return self.materialise(rows)[0]
