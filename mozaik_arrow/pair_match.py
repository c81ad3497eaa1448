"""Parameter matching by mozaik's rules, shared by the queries and the views.

An object's parameters are compared through its ``_pairs`` (see :mod:`mozaik_arrow.flatten`):
here are the polars expressions over that column (a filter, a check that every parameter is
present, a group key, whether all rows are equal) and the same rules in Python for one
object's pairs or one parameter mapping. They know nothing of views or stores, so both
:mod:`mozaik_arrow.view` (``get_analysis_result``) and :mod:`mozaik_arrow.queries` import
them from below.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from .flatten import pair

_SEP = "\x1e"  # joins the pairs of a group key; never inside a pair


# -- building blocks ---------------------------------------------------------------------------
def _any_of(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def pairs_filter(kwargs: Mapping[str, Any]) -> pl.Expr:
    """Predicate over ``_pairs``: every key matches (a list value: any of its values)."""
    expr = pl.lit(True)
    for name, value in kwargs.items():
        wanted = [pair(name, v) for v in _any_of(value)]
        expr = expr & pl.col("_pairs").list.eval(pl.element().is_in(wanted)).list.any()
    return expr


def _has_all(params: Sequence[str]) -> pl.Expr:
    expr = pl.lit(True)
    for p in params:
        expr = expr & pl.col("_pairs").list.eval(pl.element().str.starts_with(f"{p}=")).list.any()
    return expr


def _key(params: Sequence[str], keep: bool, module: str | None = None) -> pl.Expr:
    """Group key: the pairs of ``params`` only (``keep``), or of every other parameter;
    led by the ``module`` column when given."""
    prefixes = [f"{p}=" for p in params]
    hit = pl.lit(False)
    for p in prefixes:
        hit = hit | pl.element().str.starts_with(p)
    kept = pl.element().filter(hit if keep else ~hit)
    # ``_pairs`` are sorted by name when written (flatten.param_pairs): no sort needed.
    key = pl.col("_pairs").list.eval(kept).list.join(_SEP)
    if module is None:
        return key
    # mozaik's colapse groups by the collapsed object's string, which begins with its
    # module_path: stimuli of equal parameters from two modules stay apart.
    return pl.concat_str([pl.col(module).fill_null(""), key], separator=_SEP)


def _pairs_match(pairs: Sequence[str], kwargs: Mapping[str, Any]) -> bool:
    """:func:`pairs_filter` for one object's pairs, in Python."""
    have = set(pairs)
    return all(any(pair(n, v) in have for v in _any_of(value)) for n, value in kwargs.items())


def params_match(params: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """:func:`pairs_filter`'s rules on one parameter mapping, in Python: every key matches,
    a list value means any of its values, a mapping lacking the parameter never matches,
    values compare normalised (``1 == 1.0``, ``True != 1``)."""
    return all(name in params and pair(name, params[name]) in {pair(name, v) for v in _any_of(value)}
               for name, value in wanted.items())


def _all_equal(frame: pl.DataFrame, params: Sequence[str] | None, except_params: Sequence[str] | None) -> bool:
    if frame.height < 2:
        return True
    if params is not None:
        if not frame.select(_has_all(params).all()).item():
            return False
        key = _key(params, keep=True)
    else:
        key = _key(list(except_params or ()), keep=False)
    return frame.select(key.n_unique()).item() == 1
