"""How the partition queries cut a view into views: one view per group of ids.

The partition queries of :mod:`mozaik_arrow.queries` compute a group key per recording or
ADS; here the keyed rows become views, in order of first appearance and store order kept,
each taking its rows on first use (a partition can make thousands of views, most never
looked at). Also mozaik's ``colapse`` error for an object lacking a listed parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from .pair_match import _has_all

if TYPE_CHECKING:
    from .view import DataStoreView


def _lacking(frame: pl.DataFrame, params: Sequence[str], what: str, label: str) -> None:
    """mozaik's colapse: an object lacking a listed parameter raises KeyError naming both."""
    bad = frame.filter(~_has_all(params))
    if bad.height:
        names = bad.row(0, named=True)
        missing = [p for p in params if not any(x.startswith(f"{p}=") for x in names["_pairs"])]
        raise _lacking_error(what, names[label], missing[0])


def _lacking_error(what: str, label: Any, name: str) -> KeyError:
    return KeyError(f"{what} {label!r} has no parameter {name!r}")


def _views_by_group(
    dsv: DataStoreView, keyed: pl.DataFrame, id_column: str, part: str
) -> list[DataStoreView]:
    """One view per value of ``keyed["_group"]``, in order of first appearance: each a
    semi-join of the input's plan with that group's ids (store order kept)."""
    recordings, ads = dsv._recordings(), dsv._ads()
    ids = (keyed.select("_group", id_column).with_row_index("_r")
           .with_columns(pl.col("_r").min().over("_group").alias("_first"))
           .sort("_first", "_r").select("_first", id_column))
    lengths = ids["_first"].rle().struct.field("len").to_list()
    ids = ids.select(id_column)
    # One sorted id frame; each view's plan slices it on first use (a partition can make
    # thousands of views, most never looked at: no frame per group is built up front).
    out = []
    start = 0
    for n in lengths:
        if part == "recordings":
            out.append(dsv._with(recordings=_semi(recordings, ids, start, n, id_column), ads=ads))
        else:
            out.append(dsv._with(recordings=recordings, ads=_semi(ads, ids, start, n, id_column)))
        start += n
    return out


def _ads_groups(dsv: DataStoreView, frame: pl.DataFrame, order: Any, lengths: Any
                ) -> list[DataStoreView]:
    """One view per group of rows of ``frame`` (``order``: positions group after group),
    each taking its rows on first use."""
    recordings = dsv._selected() or dsv._recordings()
    bounds = np.concatenate([[0], np.cumsum(lengths)]).tolist()

    def rows(a: int, b: int) -> Callable[[], pl.LazyFrame]:
        return lambda: frame[order[a:b]].lazy()

    return [dsv._with(recordings=recordings, ads=rows(a, b))
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _semi(plan: pl.LazyFrame, ids: pl.DataFrame, start: int, n: int,
          column: str) -> Callable[[], pl.LazyFrame]:
    return lambda: plan.join(ids.slice(start, n).lazy(), on=column, how="semi", maintain_order="left")
