"""Neuron metadata of a model: ids, positions and annotations of every sheet's neurons.

Kept as one small table (``neurons/<uuid>.parquet``, one row per neuron) that each
``set_neuron_*`` call replaces whole; validation and the conversion between mozaik's
dictionaries (sheet → array / list of dicts) and that table live here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypedDict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import schema
from .errors import ValidationError
from .parametrized_format import _SURROGATE
from .reader import FileCache

__all__ = ["NeuronState", "neurons_table", "read_neurons"]


class NeuronState(TypedDict, total=False):
    ids: np.ndarray | None
    positions: np.ndarray | None
    annotations: list[dict[str, Any]] | None


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store a {type(value).__name__}")


def _check(sheet: Any, kind: str, value: Any) -> Any:
    if not isinstance(sheet, str) or not sheet:
        raise ValidationError(f"neuron {kind}: sheet names must be non-empty strings, got {sheet!r}")
    if _SURROGATE.search(sheet):
        raise ValidationError(f"neuron {kind}: sheet name {sheet!r} is not valid Unicode "
                              "(it holds a lone surrogate)")
    if kind == "ids":
        ids = np.asarray(value)
        if ids.ndim != 1 or not (np.issubdtype(ids.dtype, np.integer) or ids.size == 0):
            raise ValidationError(f"neuron ids of sheet {sheet!r} must be a 1-D integer array")
        ids = ids.astype(np.int64)
        if len(np.unique(ids)) != len(ids):
            raise ValidationError(f"neuron ids of sheet {sheet!r} are not unique")
        return ids
    if kind == "positions":
        pos = np.asarray(value, dtype=np.float64)
        if pos.ndim != 2 or pos.shape[0] not in (2, 3):
            raise ValidationError(
                f"neuron positions of sheet {sheet!r} must have shape (2 or 3, n_neurons), "
                f"got {pos.shape}"
            )
        return pos
    if kind == "annotations":
        if isinstance(value, Mapping) or not hasattr(value, "__len__"):
            raise ValidationError(f"neuron annotations of sheet {sheet!r} must be a list of dicts")
        out = []
        for i, ann in enumerate(value):
            if not isinstance(ann, Mapping):
                raise ValidationError(f"annotation {i} of sheet {sheet!r} is not a dict")
            try:
                out.append(json.dumps(dict(ann), default=_json_default, allow_nan=True))
            except (TypeError, ValueError) as e:
                raise ValidationError(f"annotation {i} of sheet {sheet!r}: {e}") from None
        return out
    raise ValueError(kind)


def _count(state: NeuronState) -> int | None:
    for key in ("ids", "annotations"):
        v = state.get(key)
        if v is not None:
            return len(v)
    pos = state.get("positions")
    return None if pos is None else pos.shape[1]


def neurons_table(
    current: Mapping[str, NeuronState], kind: str, values: Mapping[str, Any]
) -> pa.Table:
    """The neurons table after setting ``kind`` (ids/positions/annotations) for some sheets.

    Sheets not in ``values`` keep what they had. Raises ``ValidationError`` when the arrays
    are malformed or disagree in length with what the sheet already holds.
    """
    state: dict[str, NeuronState] = {s: dict(v) for s, v in current.items()}  # type: ignore[misc]
    for sheet, value in values.items():
        checked = _check(sheet, kind, value)
        new: NeuronState = dict(state.get(sheet, {}))  # type: ignore[assignment]
        if kind == "annotations":
            new["annotations"] = checked  # JSON strings until written
        else:
            new[kind] = checked  # type: ignore[literal-required]
        n_new = len(checked) if kind != "positions" else checked.shape[1]
        n_old = _count(state.get(sheet, {}))
        if n_old is not None and n_old != n_new and any(
            k != kind and state[sheet].get(k) is not None for k in ("ids", "positions", "annotations")
        ):
            raise ValidationError(
                f"sheet {sheet!r}: {n_new} neuron {kind} but the sheet already has {n_old} neurons"
            )
        state[sheet] = new
    cols: dict[str, list[Any]] = {f.name: [] for f in schema.NEURONS}
    for sheet, st in state.items():
        n = _count(st) or 0
        ids = st.get("ids")
        pos = st.get("positions")
        ann = st.get("annotations")
        cols["sheet_name"] += [sheet] * n
        cols["index"] += list(range(n))
        cols["neuron_id"] += ids.tolist() if ids is not None else [None] * n
        for axis, name in enumerate("xyz"):
            has = pos is not None and axis < pos.shape[0]
            cols[name] += pos[axis].tolist() if has else [None] * n
        if ann is not None and ann and not isinstance(ann[0], str):
            ann = [json.dumps(a, default=_json_default, allow_nan=True) for a in ann]
        cols["annotations"] += list(ann) if ann is not None else [None] * n
    return pa.table(cols, schema=schema.strip_field_docs(schema.NEURONS))


def read_neurons(files: FileCache, path: str) -> dict[str, NeuronState]:
    """The neuron metadata of a store from its neurons file: sheet → ids/positions/annotations."""
    table = files.read_all(path, [f.name for f in schema.NEURONS])
    out: dict[str, NeuronState] = {}
    sheets = table.column("sheet_name").to_numpy(zero_copy_only=False)
    for sheet in dict.fromkeys(sheets.tolist()):
        rows = table.filter(pc.equal(table.column("sheet_name"), sheet))
        rows = rows.sort_by("index")
        ids = rows.column("neuron_id")
        xyz = [rows.column(c) for c in "xyz"]
        ann = rows.column("annotations")
        st: NeuronState = {
            "ids": ids.to_numpy() if ids.null_count == 0 else None,
            "positions": None,
            "annotations": (
                [json.loads(a) for a in ann.to_pylist()] if ann.null_count == 0 else None
            ),
        }
        dims = [c for c in xyz if c.null_count == 0]
        if dims:
            st["positions"] = np.vstack([c.to_numpy() for c in dims])
        out[sheet] = st
    return out
