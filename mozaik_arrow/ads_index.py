"""An inverted index of the ADS metadata rows' parameter pairs, built once per snapshot.

mozaik's ADS queries filter and partition every analysis result by its parameters. Over
1e5 ADS a polars ``list.eval`` over ``_pairs`` costs 2-3 ms per parameter, and a partition
key ~40 ms. Here the rows' pairs are exploded once into integer codes: a filter becomes a
few set operations on row positions, and a partition groups rows by integer keys.

ADS of one type share their parameter names, so the rows fall into a few *layouts* (the
sorted tuple of a row's parameter names); within a layout the codes form a dense matrix
(rows x names) and "every pair but those of these names" is a choice of columns.

Semantics are those of :func:`mozaik_arrow.queries.pairs_filter` and of the queries'
group keys exactly: pairs are compared as texts, and an object that lacks a parameter has
no pair for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from .flatten import pair

__all__ = ["PairIndex"]


@dataclass(frozen=True)
class _Layout:
    """Rows whose parameters have the same names: ``codes[i, j]`` is the code of the pair
    of ``names[j]`` in row ``rows[i]``."""

    names: tuple[int, ...]  # name ids, in the rows' pair order (sorted by name)
    rows: np.ndarray  # int64, ascending
    codes: np.ndarray  # int64 (len(rows), len(names))
    constant: tuple[int | None, ...]  # per name: the code every row has, or None

    @classmethod
    def of(cls, names: tuple[int, ...], rows: np.ndarray, codes: np.ndarray) -> _Layout:
        same = (codes.min(axis=0) == codes.max(axis=0)).tolist() if len(rows) else []
        return cls(names, rows, codes, tuple(int(codes[0, j]) if same[j] else None
                                             for j in range(len(same))))


def _group_ids(keys: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Distinct values of ``keys`` (any hashable polars type) and, for each, the positions
    holding it (ascending); distinct values in order of first appearance."""
    grouped = (keys.rename("_k").to_frame().with_row_index("_i")
               .group_by("_k", maintain_order=True).agg(pl.col("_i")))
    return grouped.get_column("_k"), grouped.get_column("_i")


def _csr(members: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and concatenated members of a list-of-positions column."""
    offsets = np.zeros(len(members) + 1, dtype=np.int64)
    np.cumsum(members.list.len().to_numpy(), out=offsets[1:])
    return offsets, members.explode().to_numpy().astype(np.int64)


class PairIndex:
    """The ``_pairs`` of a frame's rows as integer codes.

    Parameters
    ----------
    pairs : polars.Series
        The ``_pairs`` column (list of str): one list per row, each sorted by name.
    stimulus : polars.Series
        The ``stimulus`` column (stimulus key, or null).
    """

    def __init__(self, pairs: pl.Series, stimulus: pl.Series) -> None:
        n = self.n_rows = len(pairs)
        lengths = pairs.list.len().fill_null(0).to_numpy().astype(np.int64)
        starts = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        flat = pairs.explode().drop_nulls()  # an empty list explodes to one null
        texts, members = _group_ids(flat)
        self._code = dict(zip(texts.to_list(), range(len(texts)), strict=True))
        offsets, order = self._by_code = _csr(members)
        elem = np.empty(len(flat), dtype=np.int64)  # element -> code of its pair
        elem[order] = np.repeat(np.arange(len(texts), dtype=np.int64), np.diff(offsets))
        self._row_of = np.repeat(np.arange(n, dtype=np.int64), lengths)
        self._name_id: dict[str, int] = {}
        name_of_code = np.array([self._name_id.setdefault(t.split("=", 1)[0], len(self._name_id))
                                 for t in self._code], dtype=np.int64)
        self._n_codes = len(texts)
        # Layouts: rows grouped by their list of name ids.
        elem_name = name_of_code[elem]
        names_per_row = pl.from_arrow(pa.LargeListArray.from_arrays(pa.array(starts), pa.array(elem_name)))
        kinds, rows_of_kind = _group_ids(names_per_row)
        self._layouts = []
        for names, rows in zip(kinds.to_list(), rows_of_kind, strict=True):
            r = rows.to_numpy().astype(np.int64)
            cols = starts[r][:, None] + np.arange(len(names), dtype=np.int64)
            self._layouts.append(_Layout.of(tuple(names), r, elem[cols]))
        keys, rows_of_key = _group_ids(stimulus)
        self._by_stimulus = {k: v.to_numpy().astype(np.int64)
                             for k, v in zip(keys.to_list(), rows_of_key, strict=True)
                             if k is not None}

    # -- filters ---------------------------------------------------------------------------
    def _rows_of(self, text: str) -> np.ndarray:
        code = self._code.get(text)
        if code is None:
            return np.empty(0, dtype=np.int64)
        offsets, order = self._by_code
        return self._row_of[order[offsets[code]:offsets[code + 1]]]

    def _mask(self, *parts: np.ndarray) -> np.ndarray:
        mask = np.zeros(self.n_rows, dtype=bool)
        for p in parts:
            mask[p] = True
        return mask

    def rows_matching(self, where: Mapping[str, Any],
                      values_of: Callable[[Any], list[Any]]) -> np.ndarray:
        """Positions (ascending) of the rows that have, for each name of ``where``, the pair
        of that name with one of its values (``values_of(value)`` lists them: mozaik's "a
        list means any of"). Every row when ``where`` is empty."""
        found: np.ndarray | None = None
        for name, value in where.items():
            parts = [self._rows_of(pair(name, v)) for v in values_of(value)]
            if found is None:  # masks, not sorts: O(rows) and the rows are few (1e5)
                found = parts[0] if len(parts) == 1 else np.flatnonzero(self._mask(*parts))
            else:
                found = found[self._mask(*parts)[found]]
            if not len(found):
                break
        return np.arange(self.n_rows, dtype=np.int64) if found is None else found

    def with_stimulus(self, rows: np.ndarray, keys: Iterable[str]) -> np.ndarray:
        """The positions of ``rows`` whose stimulus key is one of ``keys``."""
        parts = [self._by_stimulus[k] for k in keys if k in self._by_stimulus]
        return rows[self._mask(*parts)[rows]]

    # -- partitions ------------------------------------------------------------------------
    def first_lacking(self, names: Sequence[str]) -> tuple[int, str] | None:
        """The first row lacking a pair of one of ``names``, and the first such name in
        ``names``' order (None: every row has them all)."""
        worst: tuple[int, str] | None = None
        for layout in self._layouts:
            have = {self._name_id.get(x) for x in names} <= set(layout.names)
            if not have and len(layout.rows) and (worst is None or layout.rows[0] < worst[0]):
                missing = next(x for x in names if self._name_id.get(x) not in layout.names)
                worst = (int(layout.rows[0]), missing)
        return worst

    def groups(self, names: Sequence[str], keep: bool) -> tuple[np.ndarray, np.ndarray]:
        """Rows grouped by their pairs of ``names`` only (``keep``) or of every other name.

        Returns
        -------
        order : int64 array
            Row positions, group after group: groups in order of first appearance, rows
            ascending within a group.
        lengths : int64 array
            The size of each group.
        """
        ids = {self._name_id[x] for x in names if x in self._name_id}
        chosen = [[j for j, nm in enumerate(lay.names) if (nm in ids) == keep]
                  for lay in self._layouts]
        width = max((len(c) for c in chosen), default=0)
        # A row's key: its chosen codes in pair order, padded with a code no pair has (two
        # rows are in one group iff their keys are equal), folded column by column into one
        # int64 of dense per-column values.
        key = np.zeros(self.n_rows, dtype=np.int64)
        span = 1
        pad = self._n_codes
        for j in range(width):
            fixed = {pad if j >= len(cols) else lay.constant[cols[j]]
                     for lay, cols in zip(self._layouts, chosen, strict=True)}
            if len(fixed) == 1 and None not in fixed:
                continue  # one code in every row: it tells no group apart
            column = np.full(self.n_rows, pad, dtype=np.int64)
            for lay, cols in zip(self._layouts, chosen, strict=True):
                if j < len(cols):
                    column[lay.rows] = lay.codes[:, cols[j]]
            present = np.flatnonzero(np.bincount(column, minlength=self._n_codes + 1))
            dense = np.empty(self._n_codes + 1, dtype=np.int64)
            dense[present] = np.arange(len(present), dtype=np.int64)
            if span * len(present) >= 1 << 62:  # renumber the key so far densely
                _, key = np.unique(key, return_inverse=True)
                span = int(key.max()) + 1
            key = key * len(present) + dense[column]
            span *= len(present)
        _, members = _group_ids(pl.Series(key))
        offsets, order = _csr(members)
        return order, np.diff(offsets)
