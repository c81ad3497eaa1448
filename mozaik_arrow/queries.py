"""mozaik's query language, compiled to polars expressions over the metadata tables.

So far: the parameter filter every query is built on (mozaik's ``filter_query``), used by
``get_analysis_result``. The ``Query`` classes and the partition queries build on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from .parametrized import canonical_stimulus

__all__ = ["filter_expression"]


def _value_expr(column: str, dtype: pl.DataType | None, value: Any) -> pl.Expr:
    col = pl.col(column)
    if value is None:
        return col.is_null()
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if dtype is not None and (
        (dtype == pl.String and not isinstance(value, str))
        or (dtype.is_numeric() and not numeric)
        or (dtype == pl.Boolean and not isinstance(value, bool))
    ):
        return pl.lit(False)  # a value of another type never equals
    if isinstance(value, bool):
        return col == pl.lit(value, dtype=pl.Boolean)
    return col == pl.lit(value)


def filter_expression(
    columns: Mapping[str, pl.DataType], declared: str, kwargs: Mapping[str, Any]
) -> pl.Expr:
    """The polars predicate of mozaik's ``filter_query`` rules for ``kwargs``.

    A list value means "any of"; different keys are ANDed; an object that lacks a queried
    parameter (not declared by its type: ``declared`` names the list column holding the
    declared names) does not match — lacking is not ``None``. ``stimulus_id`` is compared by
    stimulus key (column ``stimulus``), so any spelling of a stimulus finds it.

    Parameters
    ----------
    columns : mapping
        Schema of the frame the expression will filter (name → dtype).
    declared : str
        Name of the list column of declared parameter names.
    kwargs : mapping
        Parameter name → value or list of values.
    """
    expr = pl.lit(True)
    for name, value in kwargs.items():
        values = list(value) if isinstance(value, (list, tuple, set)) else [value]
        if name == "stimulus_id":
            keys = [None if v is None else canonical_stimulus(v)[1] for v in values]
            name, values = "stimulus", keys
        if name not in columns and name != "stimulus":
            return pl.lit(False)
        has = pl.col(declared).list.contains(pl.lit("stimulus_id" if name == "stimulus" else name))
        any_of = pl.lit(False)
        for v in values:
            any_of = any_of | _value_expr(name, columns.get(name), v).fill_null(False)
        expr = expr & has & any_of
    return expr
