"""Analysis data structures (ADS), as in mozaik's ``mozaik/analysis/data_structures.py``,
and the codec turning their payloads into Arrow tables and back, bit for bit.

Each class mirrors mozaik's constructor, declared parameters and payload attributes. Each
type has ONE payload schema (:data:`PAYLOAD_SCHEMAS`), one row per ADS, built from column
groups per payload argument ``<a>``:

- units: ``<a>: string``, quantities' ``dimensionality.string`` (null for None);
- numeric array: ``<a>: large_list<float64>`` (row-major) when float64 holds every value
  bit for bit, else null and ``<a>_raw: large_binary`` (the bytes); ``<a>_dtype`` (numpy
  name) and ``<a>_shape: large_list<int64>``. Free values (number, list, tuple, numpy
  scalar/array, Quantity) add ``<a>_kind`` and ``<a>_quantity_units``;
- ids: ``<a>: large_list<int64>``, pairs ``large_list<fixed_size_list<int64, 2>>``;
- neo AnalogSignals: lists with one entry per signal: ``<a>`` (samples of the (T, C) array,
  row-major) or ``<a>_raw``, ``<a>_dtype``, ``<a>_shape``, ``<a>_units``, ``<a>_t_start``
  in ``<a>_time_units``, ``<a>_sampling_rate`` in ``<a>_rate_units`` (what neo stores, so
  ``sampling_period`` comes back bit-exact), ``<a>_name``; a grid adds ``<a>_grid`` (row
  lengths). Signal annotations are not stored.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import itertools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import neo
import numpy as np
import pyarrow as pa
import quantities as pq

from .errors import ValidationError
from .parametrized import (
    MozaikParametrized,
    SInteger,
    SNumber,
    SString,
    canonical_stimulus,
    normalise,
)

_F64, _I64 = pa.float64(), pa.int64()
_SURROGATE = re.compile("[\ud800-\udfff]")  # not valid Unicode: cannot be written to Arrow


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


def _positions(obj: Any, idds: Any) -> tuple[np.ndarray, bool]:
    """Positions in ``obj.ids`` of ``idds`` (binary search; first of duplicates, as
    ``list.index``) and whether a list or array was asked (mozaik's test)."""
    keys = _ids_of(obj)
    cache = obj.__dict__.get("_id_index")
    if cache is None or cache[0] is not keys:
        order = np.argsort(keys, kind="stable")
        cache = obj.__dict__["_id_index"] = (keys, len(keys), order, keys[order])
    many = isinstance(idds, (list, np.ndarray))
    wanted = np.asarray(idds if many else [idds]).reshape(-1)
    order, keys = cache[2], cache[3]
    pos = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
    found = keys[pos] == wanted if len(keys) else np.zeros(len(wanted), bool)
    if not np.all(found):
        raise ValueError(f"id(s) {wanted[~found][:10].tolist()} not among the {len(keys)} ids")
    return order[pos], many


def _signal_stat(signals: list, fn: Callable, ignore_invalid: bool = False) -> np.ndarray:
    ref = signals[0]
    for s in signals:
        if s.units != ref.units or s.sampling_rate != ref.sampling_rate or s.t_start != ref.t_start:
            raise ValueError("units, sampling_rate or t_start of the signals do not match")
    if ignore_invalid:
        return fn(np.ma.masked_invalid(np.array(signals, dtype=float)), axis=0)
    return fn(signals, axis=0)


@functools.lru_cache(maxsize=4096)
def _stimulus_key(text: str) -> str:
    return canonical_stimulus(text)[1]


def _fixed(params: dict, owner: str, **fixed: Any) -> None:
    for key, value in fixed.items():
        if params.setdefault(key, value) != value:
            raise ValidationError(f"{owner}: {key} is always {value!r}, got {params[key]!r}")


def _need(value: Any, owner: Any, what: str) -> Any:
    if value is None:
        raise ValidationError(f"{type(owner).__name__}: missing payload {what!r}")
    return value


def _array(value: Any, owner: Any, what: str) -> np.ndarray:
    return np.array(_numeric(_need(value, owner, what), f"{type(owner).__name__}.{what}"))


class AnalysisDataStructure(MozaikParametrized):
    """Data an analysis produces (mozaik's ``AnalysisDataStructure``).

    Parameters
    ----------
    tags : list of str, optional
        Free labels (a plain attribute, not a parameter).
    **params
        ``analysis_algorithm``, ``neuron``, ``sheet_name``, ``stimulus_id`` (a stimulus
        string; it must parse) and the parameters the subclass declares. ``identifier`` is
        the class name (if given, it must equal it).

    Raises
    ------
    ValidationError
        An undeclared parameter, a value of the wrong type, a tag that is not a string, an
        unparsable ``stimulus_id``, or a missing or inconsistent payload.
    """

    identifier = SString(doc="The identifier of the analysis data structure")
    analysis_algorithm = SString(doc="The identifier of the analysis data structure")
    neuron = SInteger(default=None, doc="Neuron id to which the datastructure belongs.")
    sheet_name = SString(default=None, doc="The sheet for which the results were computed.")
    stimulus_id = SString(default=None, doc="The stimulus for which they were computed.")
    _module_path: ClassVar[str | None] = "mozaik.analysis.data_structures"
    _payload: ClassVar[tuple[_Field, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__module__ != __name__ and "_module_path" not in vars(cls):
            cls._module_path = None  # a user's class names its own module

    def __init__(self, tags: list[str] | None = None, **params: Any) -> None:
        owner = type(self).__name__
        _fixed(params, owner, identifier=owner)
        super().__init__(**params)
        tags = [] if tags is None else tags
        if isinstance(tags, str) or not isinstance(tags, (list, tuple)):
            raise ValidationError(f"{owner}: tags must be a list of strings, not {tags!r:.60}")
        for tag in tags:
            if not isinstance(tag, str) or _SURROGATE.search(tag):
                raise ValidationError(f"{owner}: tag {tag!r:.60} is not a (valid) string")
        self.tags = list(tags)
        if self.stimulus_id is not None:
            _stimulus_key(self.stimulus_id)


class SingleValue(AnalysisDataStructure):
    """A single value (per model, sheet or neuron) in ``value_units``."""

    value_name = SString(doc="The name of the value.")
    period = SNumber(units=None, default=None, doc="The period of the value (None: not periodic).")

    def __init__(self, value: Any = None, value_units: Any = None, **params: Any) -> None:
        super().__init__(**params)
        _free_encode(_need(value, self, "value"), f"{self.name}.value")
        self.value, self.value_units = value, _as_units(value_units, "value_units")


class SingleValueList(AnalysisDataStructure):
    """A list of single values, all in ``values_unit``."""

    value_name = SString(doc="The name of the value.")

    def __init__(self, values: Any = None, values_unit: Any = None, **params: Any) -> None:
        super().__init__(**params)
        _free_encode(_need(values, self, "values"), f"{self.name}.values")
        self.values, self.values_unit = values, _as_units(values_unit, "values_unit")


class _ValuesByIds(AnalysisDataStructure):
    """PerNeuronValue and PerNeuronPairValue (distinct classes in mozaik)."""

    ids = _Ids()

    value_name = SString(doc="The name of the value.")
    period = SNumber(units=None, default=None, doc="The period of the value (None: not periodic).")

    def __init__(self, values: Any = None, idds: Any = None, value_units: Any = None,
                 **params: Any) -> None:
        super().__init__(**params)
        self.value_units = _as_units(value_units, f"{self.name}.value_units")
        self.values = _array(values, self, "values")
        _set_ids(self, idds, arg="idds")
        n = len(_ids_of(self))
        want = (n, n) if isinstance(self, PerNeuronPairValue) else (n,)
        if self.values.shape[: len(want)] != want:
            need = "len(ids) x len(ids)" if len(want) == 2 else "one per id"
            raise ValidationError(f"{self.name}: values of shape {self.values.shape} for "
                                  f"{n} ids (need {need})")


class PerNeuronValue(_ValuesByIds):
    """One value per neuron: ``values`` (array, first axis along ``ids``), ``ids``."""

    def get_value_by_id(self, idds: Any) -> Any:
        """The value of id ``idds``, or a list of them for a list or array of ids.

        Raises
        ------
        ValueError
            An id that is not in ``ids`` (named).
        """
        pos, many = _positions(self, idds)
        return list(self.values[pos]) if many else self.values[pos[0]]


class PerNeuronPairValue(_ValuesByIds):
    """A value per pair of neurons: ``values`` is len(ids) x len(ids)."""

    def get_value_by_ids(self, idds1: Any, idds2: Any) -> Any:
        """Values of pairs: a 2-D array for two lists of ids, a scalar for two ids (a 1-D
        array for one of each); ValueError naming an unknown id."""
        (p1, many1), (p2, many2) = _positions(self, idds1), _positions(self, idds2)
        out = self.values[np.ix_(p1, p2)]
        return out[:, :] if many1 and many2 else out[:, 0] if many1 else out[0] if many2 \
            else out[0, 0]


class PerAreaValue(AnalysisDataStructure):
    """A value per sub-area of the cortex: ``values`` is len(y_coords) x len(x_coords)."""

    value_name = SString(doc="The name of the value.")
    period = SNumber(units=None, default=None, doc="The period of the value (None: not periodic).")

    def __init__(self, values: Any = None, value_units: Any = None, x_coords: Any = None,
                 y_coords: Any = None, **params: Any) -> None:
        super().__init__(**params)
        self.value_units = _as_units(value_units, "PerAreaValue.value_units")
        self.values = _array(values, self, "values")
        self.x_coords = _array(x_coords, self, "x_coords")
        self.y_coords = _array(y_coords, self, "y_coords")
        want = (len(self.y_coords), len(self.x_coords))
        if self.values.shape[:2] != want:
            raise ValidationError(f"PerAreaValue: values of shape {self.values.shape}, need "
                                  f"(len(y_coords), len(x_coords)) = {want}")

    def get_space(self) -> list[np.ndarray]:
        """``numpy.meshgrid(x_coords, y_coords)``."""
        return np.meshgrid(self.x_coords, self.y_coords)


class AnalysisDataStructure1D(AnalysisDataStructure):
    """1-D data with named axes in ``x_axis_units`` and ``y_axis_units``."""

    x_axis_name = SString(doc="the name of the x axis.")
    y_axis_name = SString(doc="the name of the y axis.")

    def __init__(self, x_axis_units: Any = None, y_axis_units: Any = None, **params: Any) -> None:
        super().__init__(**params)
        self.x_axis_units = _as_units(x_axis_units, "x_axis_units")
        self.y_axis_units = _as_units(y_axis_units, "y_axis_units")


class AnalogSignal(AnalysisDataStructure1D):
    """One neo AnalogSignal (``analog_signal``); x_axis_units are its sampling period's."""

    def __init__(self, analog_signal: Any = None, y_axis_units: Any = None, **params: Any) -> None:
        if analog_signal is None:
            raise ValidationError("AnalogSignal: missing payload 'analog_signal'")
        _check_signal(analog_signal, "AnalogSignal.analog_signal")
        super().__init__(analog_signal.sampling_period.units, y_axis_units, **params)
        self.analog_signal = analog_signal


class _SignalsByIds(AnalysisDataStructure1D):
    """AnalogSignalList and PerNeuronPairAnalogSignalList (distinct classes in mozaik)."""

    ids = _Ids()

    def __init__(self, asl: Any = None, ids: Any = None, y_axis_units: Any = None,
                 **params: Any) -> None:
        owner, pairs = type(self).__name__, isinstance(self, PerNeuronPairAnalogSignalList)
        asl = _signal_list(asl, f"{owner}.asl")
        super().__init__(asl[0].sampling_period.units, y_axis_units, **params)
        self.asl = asl
        _set_ids(self, ids, pairs)
        if len(asl) != len(_ids_of(self, pairs)):
            raise ValidationError(f"{owner}: {len(asl)} signals for {len(_ids_of(self, pairs))} ids")

    def mean(self, ignore_invalid: bool = False) -> np.ndarray:
        """Mean of the signals (``numpy.mean`` along the list; ``ignore_invalid`` masks NaN
        and inf); ValueError if their units, sampling rates or t_start differ."""
        return _signal_stat(self.asl, np.mean, ignore_invalid)


class AnalogSignalList(_SignalsByIds):
    """neo AnalogSignals ``asl``, one per neuron id of ``ids``."""

    def get_asl_by_id(self, idds: Any) -> Any:
        """The signal of id ``idds``, or a list of them for a list or array of ids."""
        pos, many = _positions(self, idds)
        return [self.asl[p] for p in pos] if many else self.asl[pos[0]]

    def var(self, ignore_invalid: bool = False) -> np.ndarray:
        """Variance of the signals (``numpy.var`` along the list), as :meth:`mean`."""
        return _signal_stat(self.asl, np.var, ignore_invalid)


class PerNeuronPairAnalogSignalList(_SignalsByIds):
    """neo AnalogSignals ``asl``, one per pair of neuron ids (``ids``: (int, int) tuples)."""

    def get_asl_by_id_pair(self, idd_pair: Any) -> Any:
        """The signal of the pair ``idd_pair``, or a list of them for a list of pairs;
        ValueError naming an unknown pair."""
        cache = self.__dict__.get("_pair_index")
        if cache is None or cache[0] is not self.ids or cache[1] != len(self.ids):
            index: dict[tuple, int] = {}
            for i, p in enumerate(self.ids):
                index.setdefault(tuple(p), i)
            cache = self.__dict__["_pair_index"] = (self.ids, len(self.ids), index)
        many = isinstance(idd_pair, list)
        pairs = [tuple(p) for p in (idd_pair if many else [idd_pair])]
        unknown = [p for p in pairs if p not in cache[2]]
        if unknown:
            raise ValueError(f"id pair(s) {unknown[:10]} not among the {len(self.ids)} pairs")
        out = [self.asl[cache[2][p]] for p in pairs]
        return out if many else out[0]


class PerAreaAnalogSignalList(AnalysisDataStructure1D):
    """A grid of neo AnalogSignals: ``asl[i][j]`` is area (x_coords[j], y_coords[i])."""

    def __init__(self, asl: Any = None, x_coords: Any = None, y_coords: Any = None,
                 y_axis_units: Any = None, **params: Any) -> None:
        owner = "PerAreaAnalogSignalList"
        if asl is None or isinstance(asl, neo.AnalogSignal):
            raise ValidationError(f"{owner}: missing payload 'asl' (a grid of signals)")
        rows = [_signal_list(r, f"{owner}.asl[{i}]") for i, r in enumerate(asl)]
        if not rows:
            raise ValidationError(f"{owner}.asl is empty")
        super().__init__(rows[0][0].sampling_period.units, y_axis_units, **params)
        x, y = _array(x_coords, self, "x_coords"), _array(y_coords, self, "y_coords")
        if len(rows) != len(y) or any(len(r) != len(x) for r in rows):
            raise ValidationError(f"{owner}: asl must be len(y_coords) x len(x_coords) = "
                                  f"{len(y)} x {len(x)} signals")
        self.asl, self.x_coords, self.y_coords = rows, x, y

    def get_space(self) -> list[np.ndarray]:
        """``numpy.meshgrid(x_coords, y_coords)``."""
        return np.meshgrid(self.x_coords, self.y_coords)

    def mean(self) -> np.ndarray:
        """Mean of all signals of the grid (as :meth:`AnalogSignalList.mean`)."""
        return _signal_stat([s for r in self.asl for s in r], np.mean)


class ConductanceSignalList(AnalysisDataStructure1D):
    """Excitatory (``e_con``) and inhibitory (``i_con``) conductances, one each per id;
    ``x_axis_name`` is ``'time'``, ``y_axis_name`` ``'conductance'``."""

    ids = _Ids()

    def __init__(self, e_con: Any = None, i_con: Any = None, ids: Any = None,
                 **params: Any) -> None:
        owner = "ConductanceSignalList"
        e_con = _signal_list(e_con, f"{owner}.e_con")
        i_con = _signal_list(i_con, f"{owner}.i_con")
        if e_con[0].units != i_con[0].units:
            raise ValidationError(f"{owner}: e_con in {e_con[0].dimensionality.string}, "
                                  f"i_con in {i_con[0].dimensionality.string}")
        _fixed(params, owner, x_axis_name="time", y_axis_name="conductance")
        super().__init__(e_con[0].sampling_period.units, e_con[0].units, **params)
        self.e_con, self.i_con = e_con, i_con
        _set_ids(self, ids)
        if not len(e_con) == len(i_con) == len(_ids_of(self)):
            raise ValidationError(f"{owner}: {len(e_con)} e_con and {len(i_con)} i_con "
                                  f"signals for {len(_ids_of(self))} ids")

    def get_econ_by_id(self, idd: Any) -> Any:
        """Excitatory conductance of id ``idd`` (a list for a list of ids)."""
        pos, many = _positions(self, idd)
        return [self.e_con[p] for p in pos] if many else self.e_con[pos[0]]

    def get_icon_by_id(self, idd: Any) -> Any:
        """Inhibitory conductance of id ``idd`` (a list for a list of ids)."""
        pos, many = _positions(self, idd)
        return [self.i_con[p] for p in pos] if many else self.i_con[pos[0]]

    def mean(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean excitatory, mean inhibitory) conductance, as :meth:`AnalogSignalList.mean`."""
        return _signal_stat(self.e_con, np.mean), _signal_stat(self.i_con, np.mean)


class Connections(AnalysisDataStructure):
    """A projection's ``weights`` and ``delays``: 2-D arrays of (i, j, w) and (i, j, d) rows
    (PyNN's ``format='list'``), and ``source_size``/``target_size`` (as given)."""

    proj_name = SString(doc="Projection name.")
    source_name = SString(doc="The name of the source sheet.")
    target_name = SString(doc="The name of the target sheet.")

    def __init__(self, weights: Any = None, delays: Any = None, source_size: Any = None,
                 target_size: Any = None, **params: Any) -> None:
        super().__init__(**params)
        for name, value in (("weights", weights), ("delays", delays)):
            a = _array(value, self, name)
            a = a.reshape(0, 3) if a.shape == (0,) else a
            if a.ndim != 2:
                raise ValidationError(f"Connections.{name} must be 2-D, got shape {a.shape}")
            setattr(self, name, a)
        _free_encode(source_size, "Connections.source_size")
        _free_encode(target_size, "Connections.target_size")
        self.source_size, self.target_size = source_size, target_size


class _Field:
    """A payload argument: constructor argument ``arg``, attribute ``attr``, ``kind`` one of
    units, array, free, ids, pairs, signals, signal, grid."""

    def __init__(self, kind: str, arg: str, attr: str | None = None) -> None:
        self.kind, self.arg, self.attr = kind, arg, attr or arg

    def columns(self) -> list[pa.Field]:
        a, k = self.attr, self.kind
        if k == "units":
            return [pa.field(a, pa.string())]
        if k in ("ids", "pairs"):
            return [pa.field(a, pa.large_list(pa.list_(_I64, 2) if k == "pairs" else _I64))]
        if k in ("array", "free"):
            cols = {"": pa.large_list(_F64), "_raw": pa.large_binary(), "_dtype": pa.string(),
                    "_shape": pa.large_list(_I64)}
            if k == "free":
                cols.update({"_kind": pa.string(), "_quantity_units": pa.string()})
            return [pa.field(a + s, t) for s, t in cols.items()]
        cols = [pa.field(a + s, pa.large_list(t)) for s, t in _SIGNAL_COLUMNS.items()]
        return cols + ([pa.field(f"{a}_grid", pa.large_list(_I64))] if k == "grid" else [])

    def _names(self) -> list[str]:
        names = self.__dict__.get("_column_names")
        if names is None:
            names = self.__dict__["_column_names"] = [f.name for f in self.columns()]
        return names

    def encode(self, obj: Any, what: str) -> dict[str, Any]:
        a, k, value = self.attr, self.kind, getattr(obj, self.attr)
        if k == "units":
            return {a: _units_text(value, what)}
        if k in ("ids", "pairs"):
            return {a: _ids_of(obj, k == "pairs")}
        if k in ("array", "free"):
            kind, arr, units = _free_encode(value, what) if k == "free" else (
                "ndarray", _numeric(value, what), None)
            out: dict[str, Any] = dict.fromkeys(self._names())
            if arr is not None:
                out[a], out[f"{a}_raw"] = _split_exact(arr)
                out[f"{a}_dtype"] = _dtype_name(arr.dtype)
                out[f"{a}_shape"] = np.asarray(arr.shape, dtype=np.int64)
            if k == "free":
                out[f"{a}_kind"], out[f"{a}_quantity_units"] = kind, units
            return out
        signals = [value] if k == "signal" else [s for r in value for s in r] if k == "grid" \
            else list(value)
        cols: dict[str, list] = {s: [] for s in _SIGNAL_COLUMNS}
        for i, sig in enumerate(signals):
            _check_signal(sig, f"{what}[{i}]")
            data, t0, rate = sig.magnitude, sig.t_start, sig.sampling_rate
            parts = (*_split_exact(data), _dtype_name(data.dtype), data.shape,
                     sig.dimensionality.string, float(t0.magnitude), t0.dimensionality.string,
                     float(rate.magnitude), rate.dimensionality.string, sig.name)
            for s, v in zip(_SIGNAL_COLUMNS, parts, strict=True):
                cols[s].append(v)
        out = {a + s: v for s, v in cols.items()}
        out[f"{a}_shape"] = np.asarray(cols["_shape"], dtype=np.int64).reshape(-1, 2)
        if k == "grid":
            out[f"{a}_grid"] = np.asarray([len(r) for r in value], dtype=np.int64)
        return out

    def decode(self, row: Mapping[str, Any]) -> Any:
        a, k = self.attr, self.kind
        if k == "units":
            return _read_units(row[a])
        if k in ("ids", "pairs"):  # the constructor makes them ints (tuples for pairs)
            return np.asarray(row[a], dtype=np.int64).reshape((-1, 2) if k == "pairs" else -1)
        if k in ("array", "free"):
            kind = row[f"{a}_kind"] if k == "free" else "ndarray"
            if kind == "none":
                return None
            arr = _restore(row[a], row[f"{a}_raw"], row[f"{a}_dtype"], row[f"{a}_shape"],
                           copy=k == "free")
            return _free_decode(kind, arr, row[f"{a}_quantity_units"]) if k == "free" else arr
        c = {s: row[a + s] for s in _SIGNAL_COLUMNS}
        signals = [neo.AnalogSignal(
            _restore(c[""][j], c["_raw"][j], c["_dtype"][j], c["_shape"][j], copy=True),
            units=_unit(c["_units"][j]),
            t_start=pq.Quantity(c["_t_start"][j], _unit(c["_time_units"][j])),
            sampling_rate=pq.Quantity(c["_sampling_rate"][j], _unit(c["_rate_units"][j])),
            name=c["_name"][j]) for j in range(len(c["_dtype"]))]
        if k != "grid":
            return signals[0] if k == "signal" else signals
        ends = np.cumsum(np.asarray(row[f"{a}_grid"], dtype=np.int64)).tolist()
        return [signals[i:j] for i, j in zip([0, *ends[:-1]], ends, strict=True)]


_SIGNAL_COLUMNS = {"": pa.large_list(_F64), "_raw": pa.large_binary(), "_dtype": pa.string(),
                   "_shape": pa.list_(_I64, 2), "_units": pa.string(), "_t_start": _F64,
                   "_time_units": pa.string(), "_sampling_rate": _F64,
                   "_rate_units": pa.string(), "_name": pa.string()}
_F = _Field
SingleValue._payload = (_F("free", "value"), _F("units", "value_units"))
SingleValueList._payload = (_F("free", "values"), _F("units", "values_unit"))
PerNeuronValue._payload = (_F("array", "values"), _F("ids", "idds", "ids"),
                           _F("units", "value_units"))
PerNeuronPairValue._payload = PerNeuronValue._payload
PerAreaValue._payload = (_F("array", "values"), _F("units", "value_units"),
                         _F("array", "x_coords"), _F("array", "y_coords"))
AnalysisDataStructure1D._payload = (_F("units", "x_axis_units"), _F("units", "y_axis_units"))
AnalogSignal._payload = (_F("signal", "analog_signal"), _F("units", "y_axis_units"))
AnalogSignalList._payload = (_F("signals", "asl"), _F("ids", "ids"), _F("units", "y_axis_units"))
PerNeuronPairAnalogSignalList._payload = (_F("signals", "asl"), _F("pairs", "ids"),
                                          _F("units", "y_axis_units"))
PerAreaAnalogSignalList._payload = (_F("grid", "asl"), _F("array", "x_coords"),
                                    _F("array", "y_coords"), _F("units", "y_axis_units"))
ConductanceSignalList._payload = (_F("signals", "e_con"), _F("signals", "i_con"),
                                  _F("ids", "ids"))
Connections._payload = (_F("array", "weights"), _F("array", "delays"),
                        _F("free", "source_size"), _F("free", "target_size"))

ADS_TYPES: dict[str, type[AnalysisDataStructure]] = {}
PAYLOAD_SCHEMAS: dict[str, pa.Schema] = {}


def register_ads_type(cls: type[AnalysisDataStructure], replace: bool = False) -> None:
    """Register an ADS class under its identifier (its name) with the schema of its
    ``_payload`` (inherited: a subclass keeping its parent's constructor needs nothing more).

    Raises
    ------
    ValidationError
        Not an AnalysisDataStructure class with a payload, or the name is registered to
        another class (unless ``replace``).
    """
    if not (isinstance(cls, type) and issubclass(cls, AnalysisDataStructure) and cls._payload):
        raise ValidationError(f"{cls!r} is not an AnalysisDataStructure class with a payload")
    known = ADS_TYPES.get(cls.__name__)
    if known is not None and known is not cls and not replace:
        raise ValidationError(f"ADS type {cls.__name__!r} is already registered ({known!r})")
    columns = [c for f in cls._payload for c in f.columns()]
    if len({c.name for c in columns}) != len(columns):
        raise ValidationError(f"{cls.__name__}: payload column names clash")
    ADS_TYPES[cls.__name__] = cls
    PAYLOAD_SCHEMAS[cls.__name__] = pa.schema(
        columns, metadata={"mozaik_arrow.ads_identifier": cls.__name__})


for _cls in (SingleValue, SingleValueList, PerNeuronValue, PerNeuronPairValue, PerAreaValue,
             AnalysisDataStructure1D, AnalogSignal, AnalogSignalList,
             PerNeuronPairAnalogSignalList, PerAreaAnalogSignalList, ConductanceSignalList,
             Connections):
    register_ads_type(_cls)


def _type_of(identifier: Any) -> type[AnalysisDataStructure]:
    cls = ADS_TYPES.get(identifier) if isinstance(identifier, str) else None
    if cls is None:
        raise ValidationError(f"unknown ADS type {identifier!r} (known: {sorted(ADS_TYPES)}; "
                              "register others with register_ads_type)")
    return cls


def declared_params(identifier: str) -> tuple[str, ...]:
    """Sorted names of the parameters type ``identifier`` declares (``name`` and
    ``identifier`` too): a type without ``period`` must not match a ``period=None`` filter."""
    return tuple(sorted(_type_of(identifier)._declared))


def ads_params(ads: AnalysisDataStructure) -> dict[str, Any]:
    """The parameters identifying ``ads``: every declared one, None values too, sorted by
    name; plain Python values (``stimulus_id`` the string as given), JSON-serialisable."""
    if not isinstance(ads, AnalysisDataStructure):
        raise ValidationError(f"expected an AnalysisDataStructure, not {type(ads).__name__}")
    return dict(sorted(ads._values.items()))


def ads_key(ads: AnalysisDataStructure | Mapping[str, Any]) -> str:
    """The identity of an ADS (or of its :func:`ads_params`), for O(1) uniqueness checks.

    ``"a" + sha256(json(normalise(params)))[:32]``, ``stimulus_id`` replaced by its
    stimulus key: equal for the same values in any spelling (``1``/``1.0``, numpy scalars,
    the order of a stimulus string's keys), different otherwise (``True`` vs ``1``, None vs
    missing). Tags and payload are not part of it.
    """
    params = ads_params(ads) if isinstance(ads, AnalysisDataStructure) else dict(ads)
    if not isinstance(params.get("identifier"), str):
        raise ValidationError("ads_key: the parameters hold no 'identifier'")
    if params.get("stimulus_id") is not None:
        params["stimulus_id"] = _stimulus_key(params["stimulus_id"])
    text = json.dumps(normalise(params), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=True)
    return "a" + hashlib.sha256(text.encode()).hexdigest()[:32]


def payload_row(ads: AnalysisDataStructure) -> dict[str, Any]:
    """The payload of ``ads`` as one row of ``PAYLOAD_SCHEMAS[ads.identifier]``.

    Numeric list cells are numpy arrays (``(n, 2)`` for pairs; per-signal lists of arrays
    for signals), not Python lists: pass rows to :func:`table_from_rows` (as
    :func:`payload_table` does), which concatenates them into columns with offsets.
    """
    cls = _type_of(getattr(ads, "identifier", None))
    if type(ads) is not cls:
        raise ValidationError(f"{type(ads).__name__} is not the registered {cls.__name__}")
    row: dict[str, Any] = {}
    for f in cls._payload:
        row.update(f.encode(ads, f"{cls.__name__}.{f.attr}"))
    return row


def _column(rows: Sequence[Any], typ: pa.DataType) -> pa.Array:
    """Column ``typ`` from per-row cells; numeric lists by concatenation and offsets."""
    if not pa.types.is_large_list(typ):
        return pa.array(rows, type=typ)
    item, present = typ.value_type, [r for r in rows if r is not None]
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([0 if r is None else len(r) for r in rows], out=offsets[1:])
    if pa.types.is_large_list(item):
        child = _column(list(itertools.chain.from_iterable(present)), item)
    elif pa.types.is_fixed_size_list(item) or pa.types.is_floating(item) or \
            pa.types.is_integer(item):
        leaf = item.value_type if pa.types.is_fixed_size_list(item) else item
        dt = leaf.to_pandas_dtype()
        parts = [np.asarray(r, dtype=dt).reshape(-1) for r in present]
        child = pa.array(np.concatenate(parts) if parts else np.empty(0, dt), type=leaf)
        if leaf is not item:
            child = pa.FixedSizeListArray.from_arrays(child, item.list_size)
    else:
        child = pa.array(list(itertools.chain.from_iterable(present)), type=item)
    mask = None if len(present) == len(rows) else pa.array([r is None for r in rows])
    return pa.LargeListArray.from_arrays(pa.array(offsets), child, type=typ, mask=mask)


def table_from_rows(identifier: str, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Payload rows of one type (:func:`payload_row`, or ``Table.to_pylist()``) as a table."""
    schema = PAYLOAD_SCHEMAS[_type_of(identifier).__name__]
    cols = [_column([r.get(f.name) for r in rows], f.type) for f in schema]
    return pa.Table.from_arrays(cols, schema=schema)


def payload_table(ads_list: Sequence[AnalysisDataStructure],
                  identifier: str | None = None) -> pa.Table:
    """The payloads of ADS of one type, in order, as one ``PAYLOAD_SCHEMAS[identifier]``
    table (``identifier`` is needed only for an empty list); ValidationError for mixed types."""
    idents = {getattr(a, "identifier", None) for a in ads_list} | ({identifier} - {None})
    if len(idents) != 1:
        raise ValidationError(f"payload_table needs ADS of one type, got {idents or 'none'}")
    return table_from_rows(idents.pop(), [payload_row(a) for a in ads_list])


def _reader(arr: pa.Array) -> Callable[[int], Any]:
    """Per-row access to a column read once: numeric lists as numpy slices."""
    typ = arr.type
    if not (pa.types.is_large_list(typ) or pa.types.is_list(typ)):
        return arr.to_pylist().__getitem__
    offsets, item, child = arr.offsets.to_numpy(), typ.value_type, arr.values
    nulls = (np.zeros(len(arr), dtype=bool) if arr.null_count == 0
             else arr.is_null().to_numpy(zero_copy_only=False))
    if pa.types.is_fixed_size_list(item):
        flat = child.flatten().to_numpy(zero_copy_only=False).reshape(-1, item.list_size)
    elif pa.types.is_floating(item) or pa.types.is_integer(item):
        flat = child.to_numpy(zero_copy_only=False)
    else:
        inner = _reader(child)
        return lambda i: None if nulls[i] else [inner(j) for j in range(offsets[i],
                                                                         offsets[i + 1])]
    return lambda i: None if nulls[i] else flat[offsets[i]:offsets[i + 1]]


def ads_from_table(identifier: str, params_list: Sequence[Mapping[str, Any]],
                   tags_list: Sequence[Sequence[str] | None] | None,
                   table: pa.Table) -> list[AnalysisDataStructure]:
    """Rebuild ADS from a payload table: the inverse of :func:`payload_table`.

    Parameters
    ----------
    identifier : str
        The type of every row.
    params_list : sequence of mapping
        Per row, the parameters (as :func:`ads_params` gives them).
    tags_list : sequence of (list of str or None), or None
        Per row, the tags.
    table : pyarrow.Table
        Holding the columns of ``PAYLOAD_SCHEMAS[identifier]`` (others are ignored).

    Returns
    -------
    list of AnalysisDataStructure
        Arrays bit-exact in their dtype, units as quantities units, ids as ints (tuples for
        pairs), neo AnalogSignals with their units, t_start and sampling rate.

    Raises
    ------
    ValidationError
        Unknown type, missing columns, lengths that disagree, or a row that does not decode
        or fails its constructor's checks.
    """
    cls, schema = _type_of(identifier), PAYLOAD_SCHEMAS[identifier]
    missing = [n for n in schema.names if n not in table.column_names]
    if missing:
        raise ValidationError(f"{identifier} payload table lacks columns {missing}")
    tags_list = [None] * table.num_rows if tags_list is None else tags_list
    if not len(params_list) == len(tags_list) == table.num_rows:
        raise ValidationError(f"{table.num_rows} payload rows, {len(params_list)} parameter "
                              f"sets and {len(tags_list)} tag lists")
    out: list[AnalysisDataStructure] = []
    for batch in table.select(schema.names).to_batches():  # no copy of multi-chunk columns
        readers = {n: _reader(batch.column(n)) for n in schema.names}
        for j in range(batch.num_rows):
            i, row = len(out), {n: r(j) for n, r in readers.items()}
            try:
                args = {f.arg: f.decode(row) for f in cls._payload}
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                raise ValidationError(f"{identifier} payload row {i}: {exc}") from None
            tags = tags_list[i]
            out.append(cls(tags=None if tags is None else list(tags), **args, **params_list[i]))
    return out


def ads_from_payload(identifier: str, params: Mapping[str, Any], tags: Sequence[str] | None,
                     row: Mapping[str, Any] | pa.Table | pa.RecordBatch) -> AnalysisDataStructure:
    """Rebuild one ADS from a payload row: a mapping (:func:`payload_row`, an item of
    ``Table.to_pylist()``) or a one-row table or batch. See :func:`ads_from_table`."""
    if isinstance(row, pa.RecordBatch):
        row = pa.Table.from_batches([row])
    if not isinstance(row, pa.Table):
        row = table_from_rows(identifier, [row])
    if row.num_rows != 1:
        raise ValidationError(f"ads_from_payload needs one row, got {row.num_rows}")
    return ads_from_table(identifier, [params], [tags], row)[0]
