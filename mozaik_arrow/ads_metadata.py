"""The ADS metadata table (``ads/<uuid>.parquet``): its rows, built from ADS, and conditions
on its typed parameter columns with which polars prunes row groups.

One row per ADS: the fixed columns of :data:`mozaik_arrow.schema.ADS` (identity key,
identifier, stimulus key, tags, parameters as JSON, declared names, ``_pairs``, store order,
where the payload is), then one column per parameter, typed by the values of the file
(:func:`mozaik_arrow.flatten.append_param_columns`). Building the rows and translating a
query into a condition on those columns both follow that layout; they are functions of
values only (no file is read or written here), apart from
:mod:`mozaik_arrow.analysis_store`, which owns the pending batch, the commits and the reads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from . import schema
from .ads import AnalysisDataStructure
from .ads_payload import ads_params, declared_params
from .flatten import append_param_columns, param_pairs
from .parametrized import canonical_stimulus, value_text


def _meta_table(
    items: list[tuple[str, AnalysisDataStructure]],
    version: int,
    positions: list[int],
    locations: list[tuple[str | None, int | None]],
) -> pa.Table:
    """The metadata rows of ``items``: fixed columns, then one column per parameter."""
    params = [ads_params(a) for _, a in items]
    cols: dict[str, Any] = {
        "ads_key": [k for k, _ in items],
        "identifier": [p["identifier"] for p in params],
        "stimulus": [
            None if p.get("stimulus_id") is None else canonical_stimulus(p["stimulus_id"])[1]
            for p in params
        ],
        "tags": [list(a.tags) for _, a in items],
        "_params": [json.dumps(p, allow_nan=True) for p in params],
        "_declared": [list(declared_params(p["identifier"])) for p in params],
        "_pairs": [param_pairs(p) for p in params],
        "_version": [version] * len(items),
        "_position": positions,
        "_payload_file": [f for f, _ in locations],
        "_payload_row": [r for _, r in locations],
    }
    fixed = pa.Table.from_pydict(cols, schema=schema.strip_field_docs(schema.ADS))
    return append_param_columns(fixed, params)


def _necessary(where: Mapping[str, Any], file_schema: pa.Schema) -> pl.Expr:
    """A condition on one metadata file's typed parameter columns that every row matching
    ``where`` (exactly, through ``_pairs``) satisfies; polars prunes row groups with it.

    A file without a parameter's column holds no ADS with that parameter. Only plain
    strings and finite numbers are translated (see :func:`flatten.append_param_columns`: a
    string column holds strings verbatim, or as JSON text when no column type held the
    file's values; a float64/int64 column numbers; a mix of both is text): anything else
    gives no condition. ``stimulus_id`` is compared by stimulus key, as ``_pairs`` do.
    """
    expr = pl.lit(True)
    for name, value in where.items():
        column = "stimulus" if name == "stimulus_id" else name
        if column not in file_schema.names:
            return pl.lit(False)
        dtype = file_schema.field(column).type
        text = pa.types.is_string(dtype) or pa.types.is_large_string(dtype)
        number = pa.types.is_floating(dtype) or pa.types.is_integer(dtype)
        alternatives = []
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, str):
                if number:
                    continue  # no row of a numeric column holds a string
                if not text:
                    break
                if name == "stimulus_id":
                    try:
                        alternatives.append(pl.col(column) == canonical_stimulus(v)[1])
                    except ValueError:
                        break
                else:
                    alternatives.append(pl.col(column).is_in([v, value_text(v)]))
            elif isinstance(v, (int, float)) and not isinstance(v, bool) and name != "stimulus_id" \
                    and np.isfinite(v) and abs(v) < 2**53 and number:
                alternatives.append(pl.col(name) == float(v))
            else:
                break  # a value not translated: no condition for this parameter
        else:
            expr = expr & (pl.any_horizontal(alternatives) if alternatives else pl.lit(False))
    return expr
