"""Analysis data structures (ADS), as in mozaik's ``mozaik/analysis/data_structures.py``:
the types users see.

Each class mirrors mozaik's constructor, declared parameters and payload attributes. Their
payload values are checked with :mod:`mozaik_arrow.ads_values`; their payloads become Arrow
tables and back in :mod:`mozaik_arrow.ads_payload`, which also keeps the registry of types.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar

import neo
import numpy as np

from .ads_fields import _Field
from .ads_values import (
    _as_units,
    _check_signal,
    _free_encode,
    _Ids,
    _ids_of,
    _need,
    _numeric,
    _set_ids,
    _signal_list,
)
from .errors import ValidationError
from .parametrized import (
    MozaikParametrized,
    SInteger,
    SNumber,
    SString,
    canonical_stimulus,
)
from .parametrized_format import _SURROGATE


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
