"""Parameters of stimuli and analysis results, flattened for the metadata tables.

Every parameter is kept twice, for two readers:

- one typed column per parameter name (``orientation``, ``value_name``, ...), for people
  querying the files with polars or duckdb; its type is inferred from the values of one file;
- the list column ``_pairs`` of ``"<name>=<normalised JSON value>"`` strings
  (:func:`mozaik_arrow.parametrized.value_text`), one per parameter the object has. Queries
  compare these texts: exact whatever a column's inferred type (``1`` equals ``1.0``, ``True``
  does not equal ``1``), and a parameter the object lacks has no entry, so it never matches —
  lacking is not ``None``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl
import pyarrow as pa

from .parametrized import MozaikParametrized, canonical_stimulus, value_text
from .parametrized_keys import _SCALARS

__all__ = ["pair", "param_pairs", "append_param_columns", "stimulus_params"]


def stimulus_params(string: str) -> dict[str, Any]:
    """A stimulus's parameters as mozaik compares them (``getParams``: nested parameter sets
    expanded with ``_``)."""
    return dict(_stimulus_params(string))


@functools.lru_cache(maxsize=1 << 16)
def _stimulus_params(string: str) -> dict[str, Any]:
    return MozaikParametrized.idd(string).getParams()


def pair(name: str, value: Any) -> str:
    """The ``_pairs`` entry of one parameter (``stimulus_id`` is compared by stimulus key)."""
    if type(value) in _SCALARS:  # the same few (name, value) recur across 1e5 objects
        return _scalar_pair(name, type(value), value)
    return _pair(name, value)



@functools.lru_cache(maxsize=1 << 16)
def _scalar_pair(name: str, kind: type, value: Any) -> str:
    return _pair(name, value)


def _pair(name: str, value: Any) -> str:
    if name == "stimulus_id" and value is not None:
        value = canonical_stimulus(value)[1]
    return f"{name}={value_text(value)}"


def param_pairs(params: Mapping[str, Any]) -> list[str]:
    """The ``_pairs`` of an object's parameters, sorted by name."""
    return [pair(n, params[n]) for n in sorted(params)]


def append_param_columns(
    table: pa.Table, params_list: list[Mapping[str, Any]], exclude: Iterable[str] = ()
) -> pa.Table:
    """``table`` with one typed column per parameter name of ``params_list`` appended.

    Types are inferred over all rows (ints and floats give float64, a mix with strings gives
    strings); a name the row lacks, or a None value, is null.
    """
    skip = set(exclude) | set(table.column_names)
    names = sorted({n for p in params_list for n in p} - skip)
    if not names:
        return table
    columns = list(table.columns)
    fields = list(table.schema)
    for name in names:
        values = [p.get(name) for p in params_list]
        try:
            column = pl.Series(name, values, strict=False).to_arrow()
        except (TypeError, ValueError, pl.exceptions.PolarsError):
            # values no column type holds (e.g. nested mappings): keep their JSON text
            column = pa.array([None if v is None else value_text(v) for v in values], pa.string())
        columns.append(column)
        fields.append(pa.field(name, column.type))
    # one table at the end: append_column per name copies the schema each time (quadratic
    # in the number of parameters; a stimulus may have thousands)
    return pa.Table.from_arrays(columns, schema=pa.schema(fields, metadata=table.schema.metadata))
