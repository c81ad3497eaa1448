"""Analysis data structures (ADS), as mozaik's ``mozaik/analysis/data_structures.py``, and
the codec that turns their payloads into Arrow tables and back, bit for bit.

Every class mirrors mozaik's: constructor signature, declared parameters and payload
attributes. Each concrete type has ONE Arrow schema (:data:`PAYLOAD_SCHEMAS`), one row per
ADS. Column groups, by the kind of payload argument (``<a>`` = the attribute's name):

- units: ``<a>: string``, quantities' ``dimensionality.string`` (null for None).
- numeric array: ``<a>: large_list<float64>`` (flattened, row-major) when float64 holds
  every value exactly, else ``<a>_raw: large_binary`` (the array's bytes); ``<a>_dtype``
  (numpy dtype name) and ``<a>_shape: large_list<int64>``. Free values (a number, list,
  tuple, numpy scalar or array, Quantity) add ``<a>_kind`` and ``<a>_units``.
- ids: ``<a>: large_list<int64>``; pairs ``large_list<fixed_size_list<int64, 2>>``.
- neo AnalogSignals: per row a list with one entry per signal: ``<a>`` (samples, row-major
  (T, C), null when ``<a>_raw`` holds them), ``<a>_raw``, ``<a>_dtype``, ``<a>_shape``
  ((T, C)), ``<a>_units``, ``<a>_t_start``/``<a>_time_units`` and
  ``<a>_sampling_rate``/``<a>_rate_units`` (neo's stored attributes, so ``sampling_period``
  comes back bit-exact), ``<a>_name``; a grid adds ``<a>_grid`` (its row lengths).
  Annotations of the signals are not stored.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import neo
import numpy as np
import pyarrow as pa
import quantities as pq

from .errors import ValidationError
from .parametrized import MozaikParametrized, SInteger, SNumber, SString, canonical_stimulus, normalise

_MOZAIK_MODULE = "mozaik.analysis.data_structures"
_F64, _I64 = pa.float64(), pa.int64()
_KINDS = ("none", "python", "scalar", "ndarray", "quantity", "list", "tuple",
          "list_of_quantities", "tuple_of_quantities")


# ----------------------------------------------------------------------------- units, arrays

@functools.lru_cache(maxsize=1024)
def _unit(text: str) -> pq.Quantity:
    """The unit a dimensionality string names (quantities' whitelisting parser; powers
    with a non-literal or huge exponent are refused first: they could run unbounded)."""
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
                raise ValidationError(f"units {text!r}: exponents are small literal numbers")
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
    if not isinstance(units, pq.Quantity) or units.size != 1 or float(units.magnitude) != 1.0:
        raise ValidationError(f"{what} must be None or a quantities unit, not {units!r:.80}")
    return units.dimensionality.string


def _as_units(units: Any, what: str) -> Any:
    """Check ``units`` (None, a unit, or a unit string, which becomes the unit)."""
    _units_text(units, what)
    return _unit(units) if isinstance(units, str) else units


def _numeric(value: Any, what: str) -> np.ndarray:
    try:
        a = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what}: not an array of numbers ({exc})") from None
    if a.dtype.kind not in "biuf":
        raise ValidationError(f"{what}: dtype {a.dtype} cannot be stored (bool, int, float only)")
    return a


def _dtype_name(dt: np.dtype) -> str:
    return dt.name if dt.isnative or dt.itemsize == 1 else dt.str


def _split_exact(a: np.ndarray) -> tuple[np.ndarray | None, bytes | None]:
    """``a`` flattened as float64 when that is lossless (bit for bit), else its raw bytes."""
    flat = np.ascontiguousarray(a).reshape(-1)
    f64 = flat.astype(np.float64, copy=False)
    if f64 is flat or np.array_equal(f64.astype(flat.dtype).view(np.uint8), flat.view(np.uint8)):
        return f64, None
    return None, flat.tobytes()


def _restore(flat: Any, raw: bytes | None, dtype: str, shape: Any, copy: bool) -> np.ndarray:
    dt = np.dtype(dtype)
    if dt.kind not in "biuf":
        raise ValidationError(f"stored dtype {dtype!r} is not numeric")
    shape = tuple(int(s) for s in np.asarray(shape, dtype=np.int64))
    if raw is not None:
        a = np.frombuffer(raw, dtype=dt).copy()
    else:
        a = np.asarray(flat, dtype=np.float64).astype(dt, copy=copy)
    return a.reshape(shape)


def _free_encode(value: Any, what: str) -> tuple[str, np.ndarray | None, str | None]:
    """(kind, array, units) of a free payload value."""
    if value is None:
        return "none", None, None
    if isinstance(value, pq.Quantity):
        return "quantity", _numeric(value.magnitude, what), value.dimensionality.string
    if isinstance(value, (bool, int, float)):
        return "python", _numeric(value, what), None
    if isinstance(value, (np.generic, np.ndarray)):
        return ("ndarray" if isinstance(value, np.ndarray) else "scalar"), _numeric(value, what), None
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        n_q = sum(isinstance(v, pq.Quantity) for v in value)
        if n_q == 0:
            return kind, _numeric(value, what), None
        units = {v.dimensionality.string for v in value if isinstance(v, pq.Quantity)}
        if n_q != len(value) or len(units) != 1:
            raise ValidationError(f"{what}: mixes quantities in units {sorted(units)} and numbers")
        return f"{kind}_of_quantities", _numeric([v.magnitude for v in value], what), units.pop()
    raise ValidationError(f"{what}: a {type(value).__name__} cannot be stored "
                          "(a number, list, tuple, numpy array or Quantity)")


def _free_decode(kind: str, a: np.ndarray, units: str | None) -> Any:
    if kind == "python":
        return a.item()
    if kind in ("list", "tuple"):
        return a.tolist() if kind == "list" else tuple(a.tolist())
    if kind == "scalar":
        return a[()]
    if kind == "ndarray":
        return a
    if kind == "quantity":
        return pq.Quantity(a, _unit(units))
    if kind in ("list_of_quantities", "tuple_of_quantities"):
        items = [pq.Quantity(x, _unit(units)) for x in a]
        return items if kind.startswith("list") else tuple(items)
    raise ValidationError(f"unknown value kind {kind!r}")


def _id_array(ids: Any, pairs: bool, what: str) -> np.ndarray:
    want = "a list of (int, int) pairs" if pairs else "a 1-D list of integers"
    try:
        a = np.asarray(ids)
        if a.dtype == object:  # int subclasses (PyNN ID) or mixed: convert one by one
            a = np.array([[int(x) for x in p] if pairs else int(p) for p in ids], dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise ValidationError(f"{what} must be {want}, got {ids!r:.80}") from None
    if a.size == 0 and a.ndim == 1:
        return np.empty((0, 2) if pairs else 0, dtype=np.int64)
    shape_ok = a.ndim == (2 if pairs else 1) and (not pairs or a.shape[1] == 2)
    if a.dtype.kind not in "iu" or not shape_ok or (a.dtype.kind == "u" and a.max() >> 63):
        raise ValidationError(f"{what} must be {want}, got {ids!r:.80}")
    return a.astype(np.int64)


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


class _IdIndex:
    """Positions of ids by binary search (first occurrence of duplicates, as list.index)."""

    def __init__(self, ids: Sequence[Any]) -> None:
        self.source, self.n = ids, len(ids)
        keys = _id_array(ids, False, "ids")
        self.order = np.argsort(keys, kind="stable")
        self.sorted = keys[self.order]

    def find(self, wanted: Any) -> np.ndarray:
        w = np.asarray(wanted).reshape(-1)
        pos = np.minimum(np.searchsorted(self.sorted, w), max(self.n - 1, 0))
        ok = self.sorted[pos] == w if self.n else np.zeros(len(w), bool)
        if not np.all(ok):
            raise ValueError(f"id(s) {w[~ok][:10].tolist()} not among the {self.n} ids")
        return self.order[pos]


def _positions(obj: Any, idds: Any) -> tuple[np.ndarray, bool]:
    """Positions of ``idds`` in ``obj.ids`` and whether a list was asked (as mozaik tests)."""
    index = obj.__dict__.get("_id_index")
    if index is None or index.source is not obj.ids or index.n != len(obj.ids):
        index = _IdIndex(obj.ids)
        object.__setattr__(obj, "_id_index", index)
    many = isinstance(idds, (list, np.ndarray))
    return index.find(idds if many else [idds]), many


def _signal_stat(signals: list, fn: Callable, ignore_invalid: bool, what: str) -> np.ndarray:
    ref = signals[0]
    for s in signals:
        if s.units != ref.units or s.sampling_rate != ref.sampling_rate or s.t_start != ref.t_start:
            raise ValueError(f"{what}: units, sampling_rate or t_start of the signals differ")
    if ignore_invalid:
        return fn(np.ma.masked_invalid(np.array(signals, dtype=float)), axis=0)
    return fn(signals, axis=0)


@functools.lru_cache(maxsize=4096)
def _check_stimulus(text: str) -> str:
    return canonical_stimulus(text)[1]


# ----------------------------------------------------------------------------- the classes

def _fixed(params: dict, owner: str, **fixed: Any) -> None:
    for key, value in fixed.items():
        if params.setdefault(key, value) != value:
            raise ValidationError(f"{owner}: {key} is always {value!r}, got {params[key]!r}")


def _need(value: Any, owner: str, what: str) -> Any:
    if value is None:
        raise ValidationError(f"{owner}: missing payload {what!r}")
    return value


class AnalysisDataStructure(MozaikParametrized):
    """Data an analysis produces (mozaik's ``AnalysisDataStructure``).

    Parameters
    ----------
    tags : list of str, optional
        Free labels (a plain attribute, not a parameter).
    **params
        ``analysis_algorithm``, ``neuron``, ``sheet_name``, ``stimulus_id`` (a stimulus
        string, checked to parse) and the parameters the subclass declares. ``identifier``
        is the class name (given, it must equal it).

    Raises
    ------
    ValidationError
        An undeclared parameter, a value of the wrong type, a tag that is not a string, an
        unparsable ``stimulus_id``, or a payload that is missing or inconsistent.
    """

    identifier = SString(doc="The identifier of the analysis data structure")
    analysis_algorithm = SString(doc="The identifier of the analysis data structure")
    neuron = SInteger(default=None, doc="Neuron id to which the datastructure belongs.")
    sheet_name = SString(default=None, doc="The sheet for which the results were computed.")
    stimulus_id = SString(default=None, doc="The stimulus for which they were computed.")
    _module_path: ClassVar[str | None] = _MOZAIK_MODULE
    _payload: ClassVar[tuple[_Field, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__module__ != __name__ and "_module_path" not in vars(cls):
            cls._module_path = None  # a user's class names its own module

    def __init__(self, tags: list[str] | None = None, **params: Any) -> None:
        owner = type(self).__name__
        _fixed(params, owner, identifier=owner)
        super().__init__(**params)
        if tags is None:
            tags = []
        if isinstance(tags, str) or not isinstance(tags, (list, tuple)):
            raise ValidationError(f"{owner}: tags must be a list of strings, not {tags!r:.60}")
        for tag in tags:
            if not isinstance(tag, str):
                raise ValidationError(f"{owner}: tag {tag!r:.60} is not a string")
            try:
                tag.encode("utf-8")
            except UnicodeError:
                raise ValidationError(f"{owner}: tag {tag!r:.60} is not valid Unicode") from None
        self.tags = list(tags)
        if self.stimulus_id is not None:
            _check_stimulus(self.stimulus_id)


class SingleValue(AnalysisDataStructure):
    """A single value (per model, sheet or neuron), in ``value_units``."""

    value_name = SString(doc="The name of the value.")
    period = SNumber(units=None, default=None, doc="The period of the value (None: not periodic).")

    def __init__(self, value: Any = None, value_units: Any = None, **params: Any) -> None:
        super().__init__(**params)
        self.value = _need(value, "SingleValue", "value")
        _free_encode(value, "SingleValue.value")
        self.value_units = _as_units(value_units, "SingleValue.value_units")


class SingleValueList(AnalysisDataStructure):
    """A list of single values, all in ``values_unit``."""

    value_name = SString(doc="The name of the value.")

    def __init__(self, values: Any = None, values_unit: Any = None, **params: Any) -> None:
        super().__init__(**params)
        self.values = _need(values, "SingleValueList", "values")
        _free_encode(values, "SingleValueList.values")
        self.values_unit = _as_units(values_unit, "SingleValueList.values_unit")


class PerNeuronValue(AnalysisDataStructure):
    """One value per neuron: ``values`` (an array, first axis along ``ids``), ``ids``."""

    value_name = SString(doc="The name of the value.")
    period = SNumber(units=None, default=None, doc="The period of the value (None: not periodic).")

    def __init__(self, values: Any = None, idds: Any = None, value_units: Any = None,
                 **params: Any) -> None:
        owner = type(self).__name__
        super().__init__(**params)
        self.value_units = _as_units(value_units, f"{owner}.value_units")
        self.values = np.array(_numeric(_need(values, owner, "values"), f"{owner}.values"))
        self.ids = list(_need(idds, owner, "idds"))
        _id_array(self.ids, False, f"{owner}.ids")
        self._check_shape()

    def _check_shape(self) -> None:
        if self.values.ndim == 0 or len(self.values) != len(self.ids):
            raise ValidationError(f"PerNeuronValue: {self.values.shape[:1] or 'no'} values for "
                                  f"{len(self.ids)} ids (one value per id)")

    def get_value_by_id(self, idds: Any) -> Any:
        """The value of id ``idds``, or a list of values for a list/array of ids.

        Raises
        ------
        ValueError
            An id that is not in ``ids`` (named).
        """
        pos, many = _positions(self, idds)
        return list(self.values[pos]) if many else self.values[pos[0]]


class PerNeuronPairValue(PerNeuronValue):
    """A value per pair of neurons: ``values`` is len(ids) x len(ids)."""

    def _check_shape(self) -> None:
        n = len(self.ids)
        if self.values.shape[:2] != (n, n):
            raise ValidationError(f"PerNeuronPairValue: values of shape {self.values.shape}, "
                                  f"need (len(ids), len(ids)) = ({n}, {n})")

    def get_value_by_id(self, idds: Any) -> Any:  # noqa: D102 (not a PerNeuronValue method)
        raise AttributeError("PerNeuronPairValue has get_value_by_ids(idds1, idds2)")

    def get_value_by_ids(self, idds1: Any, idds2: Any) -> Any:
        """Values of the pairs: a 2-D array for two lists, a scalar for two ids."""
        (p1, many1), (p2, many2) = _positions(self, idds1), _positions(self, idds2)
        out = self.values[np.ix_(p1, p2)]
        return out[:, :] if many1 and many2 else out[:, 0] if many1 else out[0] if many2 else (
            out[0, 0])


class PerAreaValue(AnalysisDataStructure):
    """A value per sub-area of the cortical plane: ``values`` is len(y_coords) x len(x_coords)."""

    value_name = SString(doc="The name of the value.")
    period = SNumber(units=None, default=None, doc="The period of the value (None: not periodic).")

    def __init__(self, values: Any = None, value_units: Any = None, x_coords: Any = None,
                 y_coords: Any = None, **params: Any) -> None:
        super().__init__(**params)
        self.value_units = _as_units(value_units, "PerAreaValue.value_units")
        self.values = np.array(_numeric(_need(values, "PerAreaValue", "values"), "values"))
        self.x_coords = np.array(_numeric(_need(x_coords, "PerAreaValue", "x_coords"), "x"))
        self.y_coords = np.array(_numeric(_need(y_coords, "PerAreaValue", "y_coords"), "y"))
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
    """One neo AnalogSignal (``analog_signal``); x_axis_units is its sampling period's."""

    def __init__(self, analog_signal: Any = None, y_axis_units: Any = None, **params: Any) -> None:
        _check_signal(_need(analog_signal, "AnalogSignal", "analog_signal"), "analog_signal")
        super().__init__(analog_signal.sampling_period.units, y_axis_units, **params)
        self.analog_signal = analog_signal


class AnalogSignalList(AnalysisDataStructure1D):
    """neo AnalogSignals (``asl``), one per id of ``ids``."""

    _pairs: ClassVar[bool] = False

    def __init__(self, asl: Any = None, ids: Any = None, y_axis_units: Any = None,
                 **params: Any) -> None:
        owner = type(self).__name__
        asl = _signal_list(asl, f"{owner}.asl")
        super().__init__(asl[0].sampling_period.units, y_axis_units, **params)
        self.asl = asl
        self.ids = list(_need(ids, owner, "ids"))
        if self._pairs:
            self.ids = [tuple(p) for p in _id_array(self.ids, True, f"{owner}.ids").tolist()]
        _id_array(self.ids, self._pairs, f"{owner}.ids")
        if len(asl) != len(self.ids):
            raise ValidationError(f"{owner}: {len(asl)} signals for {len(self.ids)} ids")

    def get_asl_by_id(self, idds: Any) -> Any:
        """The signal of id ``idds``, or a list of signals for a list/array of ids."""
        pos, many = _positions(self, idds)
        return [self.asl[p] for p in pos] if many else self.asl[pos[0]]

    def mean(self, ignore_invalid: bool = False) -> np.ndarray:
        """Mean of the signals (equal units, sampling rate and t_start, else ValueError)."""
        return _signal_stat(self.asl, np.mean, ignore_invalid, f"{type(self).__name__}.mean")

    def var(self, ignore_invalid: bool = False) -> np.ndarray:
        """Variance of the signals (population, ``numpy.var``)."""
        return _signal_stat(self.asl, np.var, ignore_invalid, f"{type(self).__name__}.var")


class PerNeuronPairAnalogSignalList(AnalogSignalList):
    """neo AnalogSignals, one per pair of neuron ids ``ids`` ((int, int) tuples)."""

    _pairs = True

    def get_asl_by_id(self, idds: Any) -> Any:  # noqa: D102
        raise AttributeError("PerNeuronPairAnalogSignalList has get_asl_by_id_pair(pair)")

    def get_asl_by_id_pair(self, idd_pair: Any) -> Any:
        """The signal of the pair ``idd_pair``, or a list of signals for a list of pairs."""
        index = self.__dict__.get("_pair_index")
        if index is None or index[0] is not self.ids or len(index[1]) > len(self.ids):
            index = (self.ids, {})
            for i, p in enumerate(self.ids):
                index[1].setdefault(tuple(p), i)
            object.__setattr__(self, "_pair_index", index)
        many = isinstance(idd_pair, list)
        out = []
        for p in idd_pair if many else [idd_pair]:
            if tuple(p) not in index[1]:
                raise ValueError(f"id pair {tuple(p)} not among the {len(self.ids)} pairs")
            out.append(self.asl[index[1][tuple(p)]])
        return out if many else out[0]


class PerAreaAnalogSignalList(AnalysisDataStructure1D):
    """A grid of neo AnalogSignals: ``asl[i][j]`` for area (x_coords[j], y_coords[i])."""

    def __init__(self, asl: Any = None, x_coords: Any = None, y_coords: Any = None,
                 y_axis_units: Any = None, **params: Any) -> None:
        owner = "PerAreaAnalogSignalList"
        rows = [_signal_list(r, f"{owner}.asl[{i}]") for i, r in enumerate(_need(asl, owner, "asl"))]
        x = np.array(_numeric(_need(x_coords, owner, "x_coords"), "x_coords"))
        y = np.array(_numeric(_need(y_coords, owner, "y_coords"), "y_coords"))
        if len(rows) != len(y) or any(len(r) != len(x) for r in rows):
            raise ValidationError(f"{owner}: asl must be len(y_coords) x len(x_coords) = "
                                  f"{len(y)} x {len(x)} signals")
        super().__init__(rows[0][0].sampling_period.units, y_axis_units, **params)
        self.asl, self.x_coords, self.y_coords = rows, x, y

    def get_space(self) -> list[np.ndarray]:
        """``numpy.meshgrid(x_coords, y_coords)``."""
        return np.meshgrid(self.x_coords, self.y_coords)

    def mean(self) -> np.ndarray:
        """Mean of all signals of the grid."""
        return _signal_stat([s for r in self.asl for s in r], np.mean, False, "mean")


class ConductanceSignalList(AnalysisDataStructure1D):
    """Excitatory (``e_con``) and inhibitory (``i_con``) conductances, one pair per id."""

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
        self.ids = list(_need(ids, owner, "ids"))
        _id_array(self.ids, False, f"{owner}.ids")
        if not len(e_con) == len(i_con) == len(self.ids):
            raise ValidationError(f"{owner}: {len(e_con)} e_con and {len(i_con)} i_con "
                                  f"signals for {len(self.ids)} ids")

    def get_econ_by_id(self, idd: Any) -> Any:
        """Excitatory conductance of id ``idd`` (a list for a list of ids)."""
        pos, many = _positions(self, idd)
        return [self.e_con[p] for p in pos] if many else self.e_con[pos[0]]

    def get_icon_by_id(self, idd: Any) -> Any:
        """Inhibitory conductance of id ``idd`` (a list for a list of ids)."""
        pos, many = _positions(self, idd)
        return [self.i_con[p] for p in pos] if many else self.i_con[pos[0]]

    def mean(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean excitatory, mean inhibitory) conductance."""
        return (_signal_stat(self.e_con, np.mean, False, "e_con mean"),
                _signal_stat(self.i_con, np.mean, False, "i_con mean"))


class Connections(AnalysisDataStructure):
    """Connections of a projection: ``weights`` and ``delays`` as 2-D arrays of (i, j, w)
    and (i, j, d) rows (PyNN's ``format='list'``); ``source_size``/``target_size``."""

    proj_name = SString(doc="Projection name.")
    source_name = SString(doc="The name of the source sheet.")
    target_name = SString(doc="The name of the target sheet.")

    def __init__(self, weights: Any = None, delays: Any = None, source_size: Any = None,
                 target_size: Any = None, **params: Any) -> None:
        super().__init__(**params)
        for name, value in (("weights", weights), ("delays", delays)):
            a = np.array(_numeric(_need(value, "Connections", name), f"Connections.{name}"))
            a = a.reshape(0, 3) if a.shape == (0,) else a
            if a.ndim != 2:
                raise ValidationError(f"Connections.{name} must be 2-D, got shape {a.shape}")
            setattr(self, name, a)
        for name, value in (("source_size", source_size), ("target_size", target_size)):
            _free_encode(value, f"Connections.{name}")
        self.source_size, self.target_size = source_size, target_size


# ----------------------------------------------------------------------------- the codec

class _Field:
    """One payload argument: the constructor's ``arg``, the object's ``attr``, its columns."""

    def __init__(self, arg: str, attr: str | None = None) -> None:
        self.arg, self.attr = arg, attr or arg

    def columns(self) -> list[pa.Field]:
        raise NotImplementedError

    def encode(self, value: Any, what: str) -> dict[str, Any]:
        raise NotImplementedError

    def decode(self, row: Mapping[str, Any]) -> Any:
        raise NotImplementedError


class _Units(_Field):
    def columns(self) -> list[pa.Field]:
        return [pa.field(self.attr, pa.string())]

    def encode(self, value: Any, what: str) -> dict[str, Any]:
        return {self.attr: _units_text(value, what)}

    def decode(self, row: Mapping[str, Any]) -> Any:
        text = row[self.attr]
        return None if text is None else _unit(text)


class _Array(_Field):
    def __init__(self, arg: str, free: bool = False) -> None:
        super().__init__(arg)
        self.free = free

    def columns(self) -> list[pa.Field]:
        a = self.attr
        cols = [pa.field(a, pa.large_list(_F64)), pa.field(f"{a}_raw", pa.large_binary()),
                pa.field(f"{a}_dtype", pa.string()), pa.field(f"{a}_shape", pa.large_list(_I64))]
        return cols + ([pa.field(f"{a}_kind", pa.string()), pa.field(f"{a}_units", pa.string())]
                       if self.free else [])

    def encode(self, value: Any, what: str) -> dict[str, Any]:
        a = self.attr
        kind, arr, units = _free_encode(value, what) if self.free else (
            "ndarray", _numeric(value, what), None)
        out: dict[str, Any] = dict.fromkeys(f.name for f in self.columns())
        if arr is not None:
            out[a], out[f"{a}_raw"] = _split_exact(arr)
            out[f"{a}_dtype"] = _dtype_name(arr.dtype)
            out[f"{a}_shape"] = np.asarray(arr.shape, dtype=np.int64)
        if self.free:
            out[f"{a}_kind"], out[f"{a}_units"] = kind, units
        return out

    def decode(self, row: Mapping[str, Any]) -> Any:
        a = self.attr
        kind = row[f"{a}_kind"] if self.free else "ndarray"
        if kind == "none":
            return None
        arr = _restore(row[a], row[f"{a}_raw"], row[f"{a}_dtype"], row[f"{a}_shape"], self.free)
        return _free_decode(kind, arr, row[f"{a}_units"]) if self.free else arr


class _Ids(_Field):
    def __init__(self, arg: str, attr: str | None = None, pairs: bool = False) -> None:
        super().__init__(arg, attr)
        self.pairs = pairs

    def columns(self) -> list[pa.Field]:
        item = pa.list_(_I64, 2) if self.pairs else _I64
        return [pa.field(self.attr, pa.large_list(item))]

    def encode(self, value: Any, what: str) -> dict[str, Any]:
        return {self.attr: _id_array(value, self.pairs, what)}

    def decode(self, row: Mapping[str, Any]) -> Any:
        ids = np.asarray(row[self.attr], dtype=np.int64).tolist()
        return [tuple(p) for p in ids] if self.pairs else ids


_SIGNAL_COLUMNS = {"": pa.large_list(_F64), "_raw": pa.large_binary(), "_dtype": pa.string(),
                   "_shape": pa.list_(_I64, 2), "_units": pa.string(), "_t_start": _F64,
                   "_time_units": pa.string(), "_sampling_rate": _F64,
                   "_rate_units": pa.string(), "_name": pa.string()}


class _Signals(_Field):
    def __init__(self, arg: str, single: bool = False, grid: bool = False) -> None:
        super().__init__(arg)
        self.single, self.grid = single, grid

    def columns(self) -> list[pa.Field]:
        cols = [pa.field(self.attr + s, pa.large_list(t)) for s, t in _SIGNAL_COLUMNS.items()]
        return cols + ([pa.field(f"{self.attr}_grid", pa.large_list(_I64))] if self.grid else [])

    def encode(self, value: Any, what: str) -> dict[str, Any]:
        signals = [value] if self.single else (
            [s for r in value for s in r] if self.grid else list(value))
        cols: dict[str, list] = {s: [] for s in _SIGNAL_COLUMNS}
        for i, sig in enumerate(signals):
            _check_signal(sig, f"{what}[{i}]")
            data, t0, rate = sig.magnitude, sig.t_start, sig.sampling_rate
            for s, v in zip(_SIGNAL_COLUMNS, (*_split_exact(data), _dtype_name(data.dtype),
                                              data.shape, sig.dimensionality.string,
                                              float(t0.magnitude), t0.dimensionality.string,
                                              float(rate.magnitude), rate.dimensionality.string,
                                              sig.name), strict=True):
                cols[s].append(v)
        out = {self.attr + s: v for s, v in cols.items()}
        out[f"{self.attr}_shape"] = np.asarray(cols["_shape"], dtype=np.int64).reshape(-1, 2)
        if self.grid:
            out[f"{self.attr}_grid"] = np.asarray([len(r) for r in value], dtype=np.int64)
        return out

    def decode(self, row: Mapping[str, Any]) -> Any:
        c = {s: row[self.attr + s] for s in _SIGNAL_COLUMNS}
        signals = [
            neo.AnalogSignal(
                _restore(c[""][j], c["_raw"][j], c["_dtype"][j], c["_shape"][j], True),
                units=_unit(c["_units"][j]),
                t_start=pq.Quantity(c["_t_start"][j], _unit(c["_time_units"][j])),
                sampling_rate=pq.Quantity(c["_sampling_rate"][j], _unit(c["_rate_units"][j])),
                name=c["_name"][j])
            for j in range(len(c["_dtype"]))]
        if self.single:
            return signals[0]
        if not self.grid:
            return signals
        ends = np.cumsum(np.asarray(row[f"{self.attr}_grid"], dtype=np.int64)).tolist()
        return [signals[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]


SingleValue._payload = (_Array("value", free=True), _Units("value_units"))
SingleValueList._payload = (_Array("values", free=True), _Units("values_unit"))
PerNeuronValue._payload = (_Array("values"), _Ids("idds", "ids"), _Units("value_units"))
PerAreaValue._payload = (_Array("values"), _Units("value_units"), _Array("x_coords"),
                         _Array("y_coords"))
AnalysisDataStructure1D._payload = (_Units("x_axis_units"), _Units("y_axis_units"))
AnalogSignal._payload = (_Signals("analog_signal", single=True), _Units("y_axis_units"))
AnalogSignalList._payload = (_Signals("asl"), _Ids("ids"), _Units("y_axis_units"))
PerNeuronPairAnalogSignalList._payload = (_Signals("asl"), _Ids("ids", pairs=True),
                                          _Units("y_axis_units"))
PerAreaAnalogSignalList._payload = (_Signals("asl", grid=True), _Array("x_coords"),
                                    _Array("y_coords"), _Units("y_axis_units"))
ConductanceSignalList._payload = (_Signals("e_con"), _Signals("i_con"), _Ids("ids"))
Connections._payload = (_Array("weights"), _Array("delays"), _Array("source_size", free=True),
                        _Array("target_size", free=True))

ADS_TYPES: dict[str, type[AnalysisDataStructure]] = {}
PAYLOAD_SCHEMAS: dict[str, pa.Schema] = {}


def register_ads_type(cls: type[AnalysisDataStructure], replace: bool = False) -> None:
    """Register an ADS class under its identifier (its name), with the payload schema of its
    ``_payload`` (inherited: a subclass keeping its parent's constructor needs nothing else).

    Raises
    ------
    ValidationError
        Not an AnalysisDataStructure subclass, no payload, or the name is taken by another
        class (unless ``replace``).
    """
    if not (isinstance(cls, type) and issubclass(cls, AnalysisDataStructure)) or not getattr(
            cls, "_payload", ()):
        raise ValidationError(f"{cls!r} is not an AnalysisDataStructure class with a payload")
    known = ADS_TYPES.get(cls.__name__)
    if known is not None and known is not cls and not replace:
        raise ValidationError(f"ADS type {cls.__name__!r} is already registered ({known!r})")
    ADS_TYPES[cls.__name__] = cls
    PAYLOAD_SCHEMAS[cls.__name__] = pa.schema(
        [c for f in cls._payload for c in f.columns()],
        metadata={"mozaik_arrow.ads_identifier": cls.__name__})


for _cls in (SingleValue, SingleValueList, PerNeuronValue, PerNeuronPairValue, PerAreaValue,
             AnalysisDataStructure1D, AnalogSignal, AnalogSignalList,
             PerNeuronPairAnalogSignalList, PerAreaAnalogSignalList, ConductanceSignalList,
             Connections):
    register_ads_type(_cls)


def _type_of(identifier: str) -> type[AnalysisDataStructure]:
    cls = ADS_TYPES.get(identifier) if isinstance(identifier, str) else None
    if cls is None:
        raise ValidationError(f"unknown ADS type {identifier!r} (register it with "
                              f"register_ads_type; known: {sorted(ADS_TYPES)})")
    return cls


def declared_params(identifier: str) -> tuple[str, ...]:
    """Names of the parameters type ``identifier`` declares (``name`` and ``identifier``
    included), sorted: a type lacking ``period`` must not match a ``period=None`` filter."""
    return tuple(sorted(_type_of(identifier)._declared))


def ads_params(ads: AnalysisDataStructure) -> dict[str, Any]:
    """The parameters identifying ``ads``: every declared one (None values too), sorted by
    name; plain Python values (``stimulus_id`` the string as given), JSON-serialisable."""
    if not isinstance(ads, AnalysisDataStructure):
        raise ValidationError(f"expected an AnalysisDataStructure, not {type(ads).__name__}")
    return dict(sorted(ads._values.items()))


def ads_key(ads: AnalysisDataStructure | Mapping[str, Any]) -> str:
    """The identity of an ADS (or of its :func:`ads_params`) for O(1) uniqueness checks.

    ``"a" + sha256(JSON of normalise(params))[:32]`` where ``stimulus_id`` is replaced by
    its stimulus key: equal for equal parameters in any spelling (``1``/``1.0``, numpy
    scalars, key order of the stimulus string), different otherwise (``True`` vs ``1``,
    None vs missing). Tags and payload are not part of it.
    """
    params = ads_params(ads) if isinstance(ads, AnalysisDataStructure) else dict(ads)
    if not isinstance(params.get("identifier"), str):
        raise ValidationError("ads_key: the parameters hold no 'identifier'")
    if params.get("stimulus_id") is not None:
        params["stimulus_id"] = _check_stimulus(params["stimulus_id"])
    text = json.dumps(normalise(params), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=True)
    return "a" + hashlib.sha256(text.encode()).hexdigest()[:32]


def payload_row(ads: AnalysisDataStructure) -> dict[str, Any]:
    """The payload of ``ads`` as one row of ``PAYLOAD_SCHEMAS[ads.identifier]``.

    List columns hold numpy arrays (``(n, 2)`` for pairs) and lists of them for signals,
    not Python lists of numbers: give rows to :func:`table_from_rows` (or use
    :func:`payload_table`), which concatenates them into Arrow columns with offsets.
    """
    cls = _type_of(getattr(ads, "identifier", None))
    if type(ads) is not cls:
        raise ValidationError(f"{type(ads).__name__} is not the registered {cls.__name__}")
    row: dict[str, Any] = {}
    for f in cls._payload:
        row.update(f.encode(getattr(ads, f.attr), f"{cls.__name__}.{f.attr}"))
    return row


def _column(rows: Sequence[Any], typ: pa.DataType) -> pa.Array:
    """An Arrow column of ``typ`` from per-row values, numeric lists by concatenation."""
    if not pa.types.is_large_list(typ):
        if pa.types.is_fixed_size_list(typ):
            flat = [np.asarray(r, dtype=np.int64).reshape(-1) for r in rows]
            return pa.FixedSizeListArray.from_arrays(
                pa.array(np.concatenate(flat) if flat else np.empty(0, np.int64)), typ.list_size)
        return pa.array(rows, type=typ)
    item, present = typ.value_type, [r for r in rows if r is not None]
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([0 if r is None else len(r) for r in rows], out=offsets[1:])
    if pa.types.is_large_list(item) or pa.types.is_fixed_size_list(item):
        child = _column(list(itertools.chain.from_iterable(present)), item)
    elif pa.types.is_floating(item) or pa.types.is_integer(item):
        dt = item.to_pandas_dtype()
        parts = [np.asarray(r, dtype=dt).reshape(-1) for r in present]
        child = pa.array(np.concatenate(parts) if parts else np.empty(0, dt), type=item)
    else:
        child = pa.array(list(itertools.chain.from_iterable(present)), type=item)
    mask = None if len(present) == len(rows) else pa.array([r is None for r in rows])
    return pa.LargeListArray.from_arrays(pa.array(offsets), child, type=typ, mask=mask)


def table_from_rows(identifier: str, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Payload rows (of :func:`payload_row`, or ``Table.to_pylist()``) of one type as a table."""
    schema = PAYLOAD_SCHEMAS[_type_of(identifier).__name__]
    cols = [_column([r.get(f.name) for r in rows], f.type) for f in schema]
    return pa.Table.from_arrays(cols, schema=schema)


def payload_table(ads_list: Sequence[AnalysisDataStructure],
                  identifier: str | None = None) -> pa.Table:
    """The payloads of ADS of one type as one table (``PAYLOAD_SCHEMAS[identifier]``), in
    order; ``identifier`` is needed only for an empty list."""
    ids = {getattr(a, "identifier", None) for a in ads_list} | (
        {identifier} if identifier else set())
    if len(ids) != 1:
        raise ValidationError(f"payload_table needs ADS of one type, got {sorted(map(str, ids))}")
    return table_from_rows(ids.pop(), [payload_row(a) for a in ads_list])


def _reader(arr: pa.Array) -> Callable[[int], Any]:
    """Per-row access to a column read once (numeric lists as numpy views, no Python per
    element)."""
    typ = arr.type
    if not (pa.types.is_large_list(typ) or pa.types.is_list(typ)):
        return arr.to_pylist().__getitem__
    offsets = arr.offsets.to_numpy()
    nulls = arr.is_null().to_numpy(zero_copy_only=False)
    item, child = typ.value_type, arr.values
    if pa.types.is_fixed_size_list(item):
        flat = child.flatten().to_numpy(zero_copy_only=False).reshape(-1, item.list_size)
        get: Callable[[int, int], Any] = lambda a, b: flat[a:b]  # noqa: E731
    elif pa.types.is_floating(item) or pa.types.is_integer(item):
        values = child.to_numpy(zero_copy_only=False)
        get = lambda a, b: values[a:b]  # noqa: E731
    else:
        inner = _reader(child)
        get = lambda a, b: [inner(j) for j in range(a, b)]  # noqa: E731
    return lambda i: None if nulls[i] else get(offsets[i], offsets[i + 1])


def ads_from_table(identifier: str, params_list: Sequence[Mapping[str, Any]],
                   tags_list: Sequence[Sequence[str] | None] | None,
                   table: pa.Table) -> list[AnalysisDataStructure]:
    """Rebuild the ADS of a payload table (the inverse of :func:`payload_table`).

    Parameters
    ----------
    identifier : str
        The type of every row.
    params_list : sequence of mapping
        Per row, the parameters (:func:`ads_params`).
    tags_list : sequence of list of str, or None
        Per row, the tags (None: no tags).
    table : pyarrow.Table
        Holding (at least) the columns of ``PAYLOAD_SCHEMAS[identifier]``.

    Returns
    -------
    list of AnalysisDataStructure
        Arrays bit-exact with their dtype, units as quantities units, ids as ints (tuples
        for pairs), neo AnalogSignals with their units, t_start and sampling rate.

    Raises
    ------
    ValidationError
        Unknown type, missing columns, lengths that disagree, or a row that does not
        decode or fails the constructor's checks (the row is named).
    """
    cls = _type_of(identifier)
    schema = PAYLOAD_SCHEMAS[identifier]
    missing = [n for n in schema.names if n not in table.column_names]
    if missing:
        raise ValidationError(f"{identifier} payload table lacks columns {missing}")
    tags_list = [None] * table.num_rows if tags_list is None else tags_list
    if not len(params_list) == len(tags_list) == table.num_rows:
        raise ValidationError(f"{table.num_rows} payload rows, {len(params_list)} parameter "
                              f"sets and {len(tags_list)} tag lists")
    readers = {n: _reader(table.column(n).combine_chunks()) for n in schema.names}
    out = []
    for i, (params, tags) in enumerate(zip(params_list, tags_list, strict=True)):
        row = {n: r(i) for n, r in readers.items()}
        try:
            args = {f.arg: f.decode(row) for f in cls._payload}
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ValidationError(f"{identifier} payload row {i}: {exc}") from None
        out.append(cls(tags=None if tags is None else list(tags), **args, **dict(params)))
    return out


def ads_from_payload(identifier: str, params: Mapping[str, Any], tags: Sequence[str] | None,
                     row: Mapping[str, Any] | pa.Table | pa.RecordBatch) -> AnalysisDataStructure:
    """Rebuild one ADS from its payload: a row mapping (:func:`payload_row`, or one of
    ``Table.to_pylist()``) or a one-row table. See :func:`ads_from_table`."""
    if isinstance(row, pa.RecordBatch):
        row = pa.Table.from_batches([row])
    if not isinstance(row, pa.Table):
        row = table_from_rows(identifier, [row])
    if row.num_rows != 1:
        raise ValidationError(f"ads_from_payload needs one row, got {row.num_rows}")
    return ads_from_table(identifier, [params], [tags], row)[0]


__all__ = [
    "ADS_TYPES", "PAYLOAD_SCHEMAS", "AnalogSignal", "AnalogSignalList", "AnalysisDataStructure",
    "AnalysisDataStructure1D", "ConductanceSignalList", "Connections", "PerAreaAnalogSignalList",
    "PerAreaValue", "PerNeuronPairAnalogSignalList", "PerNeuronPairValue", "PerNeuronValue",
    "SingleValue", "SingleValueList", "ads_from_payload", "ads_from_table", "ads_key",
    "ads_params", "declared_params", "payload_row", "payload_table", "register_ads_type",
    "table_from_rows",
]
