"""The values an ADS payload holds, checked and encoded bit for bit: units, numeric arrays,
free values, neuron ids and neo AnalogSignals.

- units: a quantities unit and its ``dimensionality.string``, parsed back by a guarded
  parser (:func:`_unit`);
- numeric arrays: float64 when that holds every value bit for bit, else the raw bytes, with
  the dtype and shape to restore them;
- free values (number, list, tuple, numpy scalar/array, Quantity): a kind, an array and the
  Quantity's units;
- ids: an int64 array, mozaik's list of Python ints made from it on first access;
- neo AnalogSignals: checked to be storable.

The ADS classes (:mod:`mozaik_arrow.ads`) check their constructor arguments with these, and
the payload fields (:mod:`mozaik_arrow.ads_fields`) write and read their columns with them:
kept below both, so that neither needs the other for them.
"""

from __future__ import annotations

import ast
import functools
from typing import Any

import neo
import numpy as np
import quantities as pq

from .errors import ValidationError


@functools.lru_cache(maxsize=1024)
def _unit(text: str) -> pq.Quantity:
    """The unit a dimensionality string names, parsed by quantities' whitelisting registry
    after refusing exponents that are not small literals (``10**10**10`` would not end)."""
    if not isinstance(text, str) or len(text) > 256:
        raise ValidationError(f"units must be a string of at most 256 characters: {text!r:.80}")
    try:
        tree = ast.parse(text.replace("^", "**").strip() or "1", mode="eval")
    except SyntaxError:
        raise ValidationError(f"units {text!r} are not a unit expression") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            exp = node.right.operand if isinstance(node.right, ast.UnaryOp) else node.right
            if not (isinstance(exp, ast.Constant) and type(exp.value) in (int, float)
                    and abs(exp.value) <= 64):
                raise ValidationError(f"units {text!r}: exponents must be small numbers")
    try:
        unit = pq.unit_registry[text]
    except Exception:  # quantities raises LookupError, NameError, TypeError, ...
        raise ValidationError(f"unknown units {text!r}") from None
    if not isinstance(unit, pq.Quantity):
        raise ValidationError(f"units {text!r} do not name a unit")
    return unit


def _units_text(units: Any, what: str) -> str | None:
    if units is None:
        return None
    if isinstance(units, str):
        units = _unit(units)
    if isinstance(units, pq.UnitQuantity):  # the usual case: pq.Hz, pq.mV... (singletons)
        hit = _UNIT_TEXTS.get(id(units))
        if hit is not None and hit[0] is units:
            return hit[1]
    if not isinstance(units, pq.Quantity) or units.size != 1 or float(units.magnitude) != 1.0:
        raise ValidationError(f"{what} must be None or a quantities unit, not {units!r:.80}")
    text = units.dimensionality.string  # ~10 us: worth caching for 1e5 ADS
    if isinstance(units, pq.UnitQuantity):
        if len(_UNIT_TEXTS) > 1024:
            _UNIT_TEXTS.clear()
        _UNIT_TEXTS[id(units)] = (units, text)  # holds the unit: its id is not reused
    return text


_UNIT_TEXTS: dict[int, tuple[Any, str]] = {}


def _as_units(units: Any, what: str) -> Any:
    """``units`` checked (None, a unit, or a unit string, which becomes that unit)."""
    _units_text(units, what)
    return _read_units(units) if isinstance(units, str) else units


def _read_units(text: str | None) -> Any:
    unit = None if text is None else _unit(text)
    return unit if unit is None or isinstance(unit, pq.UnitQuantity) else unit.copy()


def _numeric(value: Any, what: str) -> np.ndarray:
    try:
        a = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what}: not an array of numbers ({exc})") from None
    if a.dtype.kind not in "biuf":
        raise ValidationError(f"{what}: dtype {a.dtype} cannot be stored (bool, int, float only)")
    return a


@functools.lru_cache(maxsize=256)
def _dtype_name(dt: np.dtype) -> str:
    return dt.name if dt.isnative or dt.itemsize == 1 else dt.str  # dt.name is slow (~15 us)


def _split_exact(a: np.ndarray) -> tuple[np.ndarray | None, bytes | None]:
    """``a`` flattened as float64 when that is lossless bit for bit, else its raw bytes."""
    flat = np.ascontiguousarray(a).reshape(-1)
    if flat.dtype == np.float64:  # the usual case, exact as it is
        return flat, None
    with np.errstate(invalid="ignore", over="ignore"):  # signalling NaNs, huge ints
        f64 = flat.astype(np.float64, copy=False)
        back = f64 if f64 is flat else f64.astype(flat.dtype)
    if back is f64 or np.array_equal(back.view(np.uint8), flat.view(np.uint8)):
        return f64, None
    return None, flat.tobytes()


def _restore(flat: Any, raw: bytes | None, dtype: str, shape: Any, copy: bool) -> np.ndarray:
    dt = np.dtype(dtype)
    if dt.kind not in "biuf":
        raise ValidationError(f"stored dtype {dtype!r} is not numeric")
    shape = tuple(np.asarray(shape, dtype=np.int64).tolist())
    if raw is not None:
        return np.frombuffer(raw, dtype=dt).reshape(shape).copy()
    return np.asarray(flat, dtype=np.float64).astype(dt, copy=copy).reshape(shape)


def _free_encode(value: Any, what: str) -> tuple[str, np.ndarray | None, str | None]:
    """(kind, array, Quantity units) of a free payload value."""
    if value is None:
        return "none", None, None
    if isinstance(value, pq.Quantity):
        return "quantity", _numeric(value.magnitude, what), value.dimensionality.string
    if isinstance(value, (bool, int, float)):
        return "python", _numeric(value, what), None
    if isinstance(value, (np.generic, np.ndarray)):
        kind = "ndarray" if isinstance(value, np.ndarray) else "scalar"
        return kind, _numeric(value, what), None
    if not isinstance(value, (list, tuple)):
        raise ValidationError(f"{what}: a {type(value).__name__} cannot be stored "
                              "(a number, list, tuple, numpy array or Quantity)")
    kind = "list" if isinstance(value, list) else "tuple"
    units = {v.dimensionality.string for v in value if isinstance(v, pq.Quantity)}
    if not units:
        return kind, _numeric(value, what), None
    if len(units) > 1 or not all(isinstance(v, pq.Quantity) for v in value):
        raise ValidationError(f"{what}: mixes quantities in units {sorted(units)} and numbers")
    return f"{kind}_of_quantities", _numeric([v.magnitude for v in value], what), units.pop()


def _free_decode(kind: str, a: np.ndarray, units: str | None) -> Any:
    if kind in ("python", "scalar", "ndarray"):
        return a.item() if kind == "python" else a[()] if kind == "scalar" else a
    if kind in ("list", "tuple"):
        return a.tolist() if kind == "list" else tuple(a.tolist())
    if kind == "quantity":
        return pq.Quantity(a, _unit(units))
    if kind in ("list_of_quantities", "tuple_of_quantities"):
        items = [pq.Quantity(x, _unit(units)) for x in a]
        return items if kind[0] == "l" else tuple(items)
    raise ValidationError(f"unknown value kind {kind!r}")


def _id_array(ids: Any, pairs: bool, what: str) -> np.ndarray:
    want = "a list of (int, int) pairs" if pairs else "a 1-D list of integers"
    try:
        a = np.asarray(ids)
        if a.dtype == object:  # int subclasses (PyNN's ID) or a mix: one by one
            a = np.array([[int(x) for x in p] if pairs else int(p) for p in ids], dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise ValidationError(f"{what} must be {want}, got {ids!r:.80}") from None
    if a.size == 0 and a.ndim == 1:
        return np.empty((0, 2) if pairs else 0, dtype=np.int64)
    shape_ok = a.ndim == 1 + pairs and (not pairs or a.shape[1] == 2)
    if a.dtype.kind not in "iu" or not shape_ok or (a.dtype.kind == "u" and a.max() >> 63):
        raise ValidationError(f"{what} must be {want}, got {ids!r:.80}")
    # A read-only int64 array (a payload read from the store) cannot change under us: kept
    # as it is. Anything else is copied, so that editing the caller's array changes nothing.
    return a if a.dtype == np.int64 and not a.flags.writeable else a.astype(np.int64)


class _Ids:
    """``ids`` of an ADS: mozaik's list of Python ints (tuples for pairs), built from the
    int64 array on first access. Reading 20 PerNeuronValues of 40 000 neurons spent ~17 ms
    making lists that the vectorised lookups (:func:`_ids_of`) never use."""

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        d = obj.__dict__
        if "ids" not in d:
            if "_ids_array" not in d:
                raise AttributeError(f"{type(obj).__name__!r} object has no attribute 'ids'")
            arr = d["_ids_array"][1]
            d["ids"] = [tuple(p) for p in arr.tolist()] if arr.ndim == 2 else arr.tolist()
            d["_ids_array"] = (d["ids"], arr)
        return d["ids"]

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__["ids"] = value


def _set_ids(obj: Any, ids: Any, pairs: bool = False, arg: str = "ids") -> None:
    """Set ``obj.ids`` (Python ints, tuples for pairs; made on first access), keeping their
    int64 array."""
    arr = _id_array(_need(ids, obj, arg), pairs, f"{type(obj).__name__}.ids")
    obj.__dict__.pop("ids", None)
    obj.__dict__["_ids_array"] = (None, arr)


def _ids_of(obj: Any, pairs: bool = False) -> np.ndarray:
    """The int64 array of ``obj.ids``, cached while ``ids`` is the same list of the same
    length (ids are not meant to be edited in place)."""
    d = obj.__dict__
    cache = d.get("_ids_array")
    if cache is not None and "ids" not in d:  # the list was never made: the array is current
        return cache[1]
    ids = obj.ids
    if cache is None or cache[0] is not ids or len(cache[1]) != len(ids):
        arr = _id_array(ids, pairs, f"{type(obj).__name__}.ids")
        cache = d["_ids_array"] = (ids, arr)
    return cache[1]


def _check_signal(sig: Any, what: str) -> None:
    if not isinstance(sig, neo.AnalogSignal):
        raise ValidationError(f"{what} must be a neo.AnalogSignal, not {type(sig).__name__}")
    for name in ("t_start", "sampling_rate"):
        q = getattr(sig, name)
        if not isinstance(q, pq.Quantity) or q.size != 1:
            raise ValidationError(f"{what}.{name} must be a scalar Quantity, not {q!r:.60}")
    if sig.name is not None and not isinstance(sig.name, str):
        raise ValidationError(f"{what}.name must be a string or None")
    _numeric(sig.magnitude, what)


def _signal_list(signals: Any, what: str) -> list:
    if signals is None:
        raise ValidationError(f"missing payload {what!r}")
    if isinstance(signals, neo.AnalogSignal) or not isinstance(signals, (list, tuple, np.ndarray)):
        raise ValidationError(f"{what} must be a list of neo.AnalogSignal")
    if len(signals) == 0:
        raise ValidationError(f"{what} is empty (mozaik needs at least one signal)")
    for i, sig in enumerate(signals):
        _check_signal(sig, f"{what}[{i}]")
    return list(signals)


def _need(value: Any, owner: Any, what: str) -> Any:
    if value is None:
        raise ValidationError(f"{type(owner).__name__}: missing payload {what!r}")
    return value
