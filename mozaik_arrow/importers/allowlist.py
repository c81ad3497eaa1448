"""The importer's allow-list: which globals a pickle may name, and what it gets for them.

:func:`lookup_global` admits, by exact ``module.name``:

- numpy's array, dtype and scalar reconstruction (``_reconstruct``, ``_frombuffer`` checked);
- quantities' ``Quantity``, ``Dimensionality`` and unit classes; a unit is looked up by name
  in quantities' registry (a copy of the registered unit; a pickle cannot redefine ``ms``),
  an unknown one is built without being registered;
- neo's data classes and their pickle helpers (``_new_spiketrain``, ...; each checks that it
  builds the class it is meant to);
- a few standard-library names: ``collections.OrderedDict``, ``collections.defaultdict``
  (plain factories only), ``datetime`` types, ``copyreg._reconstructor`` (checked), the
  builtin container and number types, ``_codecs.encode`` (latin-1 only, for protocol 2);
- mozaik's own classes and ``param``/``parameters`` helpers, each mapped onto an inert
  stand-in of :mod:`.standins` (mozaik is never imported).

Everything else is refused with :class:`UnsafePickleError` naming ``module.name``. Python 2
names (``copy_reg``, ``__builtin__``) are read as their Python 3 equivalents. Admitted
callables are never anything that runs code beyond building the data object it names.
"""

from __future__ import annotations

import _compat_pickle
import ast
import collections
import datetime
import functools
import os
import pickle
from collections.abc import Callable
from typing import Any

import neo
import numpy as np
import quantities as pq
from neo.core import analogsignal, dataobject, epoch, event, irregularlysampledsignal, spiketrain
from neo.core.dataobject import ArrayDict
from neo.core.objectlist import ObjectList
from neo.core.spiketrainlist import SpikeTrainList
from quantities import quantity as pq_quantity
from quantities import unitquantity as uq

from . import standins

try:  # numpy >= 2
    from numpy._core import multiarray as _multiarray
    from numpy._core import numeric as _numeric
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _multiarray  # type: ignore[no-redef]
    from numpy.core import numeric as _numeric  # type: ignore[no-redef]

__all__ = ["UnsafePickleError", "lookup_global", "py3_name"]


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle names a global the importer does not admit (or misuses an admitted one).

    Nothing the pickle asked for was executed. ``global_name`` is the ``module.name``
    refused, ``path`` the file (if known).
    """

    def __init__(self, global_name: str, reason: str = "not on the importer's allow-list",
                 path: str | os.PathLike[str] | None = None) -> None:
        self.global_name = global_name
        self.reason = reason
        self.path = None if path is None else os.fspath(path)
        where = f" in {self.path}" if self.path else ""
        super().__init__(f"refused global {global_name}{where}: {reason} (nothing the "
                         "pickle asked for was executed)")


def _refuse(name: str, reason: str) -> UnsafePickleError:
    return UnsafePickleError(name, reason)


# -- checked replacements for admitted callables ---------------------------------------------
def _np_reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    if not (isinstance(subtype, type) and issubclass(subtype, np.ndarray)):
        raise _refuse("numpy._core.multiarray._reconstruct", f"subtype {subtype!r:.60} is not "
                      "an ndarray class")
    return _multiarray._reconstruct(subtype, shape, dtype)


def _np_frombuffer(buf: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    if not isinstance(buf, (bytes, bytearray, pickle.PickleBuffer)) or \
            not isinstance(dtype, np.dtype) or dtype.hasobject or order not in ("C", "F"):
        raise _refuse("numpy._core.numeric._frombuffer", "arguments are not a numeric buffer")
    return _numeric._frombuffer(buf, dtype, shape, order)


def _np_scalar(dtype: Any, *args: Any) -> Any:
    if not isinstance(dtype, np.dtype):
        raise _refuse("numpy._core.multiarray.scalar", f"{dtype!r:.60} is not a dtype")
    return _multiarray.scalar(dtype, *args)


def _quantity_reconstruct(subtype: Any, baseclass: Any, baseshape: Any, basetype: Any) -> Any:
    if not (isinstance(subtype, type) and issubclass(subtype, pq.Quantity)) or \
            baseclass is not np.ndarray or not isinstance(basetype, str):
        raise _refuse("quantities.quantity._reconstruct_quantity",
                      f"subtype {subtype!r:.60} is not a Quantity class")
    return pq_quantity._reconstruct_quantity(subtype, baseclass, baseshape, basetype)


def _check_unit_expression(text: str) -> None:
    """Refuse unit expressions whose evaluation would not end (``ms**10**10**10``)."""
    try:
        tree = ast.parse(text.replace("^", "**").strip() or "1", mode="eval")
    except SyntaxError:
        raise _refuse("quantities.unitquantity", f"unit {text!r:.60} is not an expression") \
            from None
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            exp = node.right.operand if isinstance(node.right, ast.UnaryOp) else node.right
            if not (isinstance(exp, ast.Constant) and type(exp.value) in (int, float)
                    and abs(exp.value) <= 64):
                raise _refuse("quantities.unitquantity", f"unit {text!r:.60}: exponents must "
                              "be small numbers")


def _registered_unit(name: str) -> uq.UnitQuantity | None:
    if not name.isidentifier():
        return None
    try:
        unit = pq.unit_registry[name]
    except Exception:  # quantities raises LookupError, NameError, ...
        return None
    return unit if isinstance(unit, uq.UnitQuantity) else None


def _unit_factory(cls: type[uq.UnitQuantity]) -> Callable[..., uq.UnitQuantity]:
    """A unit class as the pickle calls it: ``cls(name, definition, symbol, ...)``.

    A known name gives a copy of the registered unit (the registry's definition, not the
    pickle's; a copy, so that the pickle's ``BUILD`` cannot change the registered one), as
    plain unpickling would. An unknown name gives a new, unregistered unit.
    """
    what = f"quantities.unitquantity.{cls.__name__}"

    def make(name: Any = None, *args: Any) -> uq.UnitQuantity:
        if not isinstance(name, str) or not 0 < len(name) <= 256:
            raise _refuse(what, f"unit name {name!r:.60} is not a short string")
        if cls is uq.CompoundUnit:
            _check_unit_expression(name)
            return uq.CompoundUnit(name)  # parsed by quantities' whitelisting parser
        known = _registered_unit(name)
        if known is not None:
            # As plain unpickling does (ndarray's __copy__ would lose the unit's name).
            rebuild, rebuild_args, state = known.__reduce__()
            unit = rebuild(*rebuild_args)
            unit.__setstate__(state)
            return unit
        definition = args[0] if args else None
        rest = list(args[1:5]) + [None] * (4 - len(args[1:5]))
        symbol, u_symbol, aliases, doc = rest
        if not (definition is None or isinstance(definition, pq.Quantity)) or \
                not all(x is None or isinstance(x, str) for x in (symbol, u_symbol, doc)) or \
                not (aliases is None or (isinstance(aliases, list)
                                         and all(isinstance(a, str) for a in aliases))):
            raise _refuse(what, f"unexpected arguments for unit {name!r:.60}")
        unit = uq.UnitQuantity.__new__(cls, name, definition, symbol, u_symbol,
                                       aliases or [], doc)
        if cls is uq.Dimensionless:
            unit._definition = unit
        return unit

    return make


def _checked_neo(fn: Callable[..., Any], base: type, what: str) -> Callable[..., Any]:
    @functools.wraps(fn)
    def build(cls: Any, *args: Any) -> Any:
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise _refuse(what, f"asked to build {cls!r:.60}, not a {base.__name__}")
        return fn(cls, *args)

    return build


def _reconstructor(cls: Any, base: Any, state: Any) -> Any:
    """``copyreg._reconstructor`` for admitted classes over ``object``, ``dict`` or ``list``."""
    if not (isinstance(cls, type) and base in (object, dict, list) and issubclass(cls, base)):
        raise _refuse("copyreg._reconstructor", f"cannot rebuild {cls!r:.60} over {base!r:.40}")
    if issubclass(cls, standins.Captured):
        return cls.__new__(cls)
    if base is object:
        return object.__new__(cls)
    obj = base.__new__(cls, state)
    base.__init__(obj, state)
    return obj


_PLAIN_FACTORIES = (None, list, dict, set, int, float, str, tuple, collections.OrderedDict)


def _defaultdict(factory: Any = None, *args: Any) -> collections.defaultdict:
    if factory not in _PLAIN_FACTORIES or args:
        raise _refuse("collections.defaultdict", f"factory {factory!r:.60} is not a plain type")
    return collections.defaultdict(factory)


def _codecs_encode(text: Any, encoding: Any = "utf-8") -> bytes:
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise _refuse("_codecs.encode", "only str to latin-1 bytes (protocol 2) is admitted")
    return text.encode("latin-1")


# -- the allow-list -------------------------------------------------------------------------
def _build_allowed() -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(mod, "_reconstruct")] = _np_reconstruct
        allowed[(mod, "scalar")] = _np_scalar
    for mod in ("numpy.core.numeric", "numpy._core.numeric"):
        allowed[(mod, "_frombuffer")] = _np_frombuffer
    allowed[("numpy", "ndarray")] = np.ndarray
    allowed[("numpy", "dtype")] = np.dtype

    allowed[("quantities.quantity", "Quantity")] = pq.Quantity
    allowed[("quantities.quantity", "_reconstruct_quantity")] = _quantity_reconstruct
    allowed[("quantities.dimensionality", "Dimensionality")] = pq.dimensionality.Dimensionality
    for cls in (uq.UnitQuantity, uq.IrreducibleUnit, uq.UnitMass, uq.UnitLength, uq.UnitTime,
                uq.UnitCurrent, uq.UnitLuminousIntensity, uq.UnitSubstance, uq.UnitTemperature,
                uq.UnitInformation, uq.UnitCurrency, uq.CompoundUnit, uq.Dimensionless,
                uq.UnitConstant):
        allowed[("quantities.unitquantity", cls.__name__)] = _unit_factory(cls)

    for cls in (neo.Block, neo.Segment, neo.Group, neo.SpikeTrain, neo.AnalogSignal,
                neo.IrregularlySampledSignal, neo.Event, neo.Epoch, neo.ImageSequence,
                neo.ChannelView, SpikeTrainList, ObjectList, ArrayDict,
                neo.RectangularRegionOfInterest, neo.CircularRegionOfInterest,
                neo.PolygonRegionOfInterest):
        allowed[(cls.__module__, cls.__name__)] = cls
    for mod, fn, base in ((spiketrain, "_new_spiketrain", neo.SpikeTrain),
                          (analogsignal, "_new_AnalogSignalArray", neo.AnalogSignal),
                          (irregularlysampledsignal, "_new_IrregularlySampledSignal",
                           neo.IrregularlySampledSignal),
                          (event, "_new_event", neo.Event), (epoch, "_new_epoch", neo.Epoch)):
        name = f"{mod.__name__}.{fn}"
        allowed[(mod.__name__, fn)] = _checked_neo(getattr(mod, fn), base, name)
    allowed[("neo.core.dataobject", "_normalize_array_annotations")] = \
        dataobject._normalize_array_annotations
    for mod, name in (("neo.core.channelindex", "ChannelIndex"), ("neo.core.unit", "Unit"),
                      ("neo.core.recordingchannel", "RecordingChannel"),
                      ("neo.core.recordingchannelgroup", "RecordingChannelGroup")):
        allowed[(mod, name)] = _shell(standins.InertShell, mod, name)

    allowed[("collections", "OrderedDict")] = collections.OrderedDict
    allowed[("collections", "defaultdict")] = _defaultdict
    for cls in (datetime.datetime, datetime.date, datetime.time, datetime.timedelta,
                datetime.timezone):
        allowed[("datetime", cls.__name__)] = cls
    allowed[("copyreg", "_reconstructor")] = _reconstructor
    for cls in (object, list, dict, tuple, set, frozenset, int, float, complex, str, bytes,
                bytearray, bool, slice, range):
        allowed[("builtins", cls.__name__)] = cls
    allowed[("_codecs", "encode")] = _codecs_encode

    wrappers = "mozaik.storage.neo_neurotools_wrapper"
    for name in ("PickledDataStoreNeoWrapper", "MozaikSegment", "NeoNeurotoolsWrapper"):
        allowed[(wrappers, name)] = _shell(standins.SegmentShell, wrappers, name)
    structures = "mozaik.analysis.data_structures"
    for name in ("AnalysisDataStructure", "SingleValue", "SingleValueList", "PerNeuronValue",
                 "PerNeuronPairValue", "PerAreaValue", "AnalysisDataStructure1D",
                 "AnalogSignal", "AnalogSignalList", "PerNeuronPairAnalogSignalList",
                 "PerAreaAnalogSignalList", "ConductanceSignalList", "Connections"):
        allowed[(structures, name)] = _shell(standins.ADSShell, structures, name)
    declarations = "mozaik.tools.mozaik_parametrized"
    for name in ("SNumber", "SInteger", "SString", "SParameterSet"):
        allowed[(declarations, name)] = _shell(standins.DeclarationShell, declarations, name)
    for mod, name in (("parameters", "ParameterSet"),
                      ("mozaik.tools.distribution_parametrization",
                       "MozaikExtendedParameterSet")):
        allowed[(mod, name)] = _shell(standins.ParameterSetShell, mod, name)
    for mod in ("param", "param.parameters", "param.parameterized"):
        allowed[(mod, "identity_hook")] = standins.identity_hook
    allowed[("param.parameterized", "_InstancePrivate")] = _shell(
        standins.ParamPrivateShell, "param.parameterized", "_InstancePrivate")
    return allowed


def _shell(base: type, module: str, name: str) -> type:
    return type(name, (base,), {"mozaik_module": module, "mozaik_name": name,
                                "__module__": standins.__name__,
                                "__qualname__": f"{base.__name__}[{module}.{name}]"})


_ALLOWED = _build_allowed()
_STIMULUS_SHELLS: dict[tuple[str, str], type] = {}


def _is_stimulus_class(module: str, name: str) -> bool:
    # Stimulus classes live in mozaik.stimuli and its sub-modules (one per modality and
    # library); any class name there maps onto the same inert stand-in.
    in_stimuli = module == "mozaik.stimuli" or module.startswith("mozaik.stimuli.")
    return in_stimuli and all(p.isidentifier() for p in module.split(".")) and \
        name.isidentifier() and name[:1].isupper()


def py3_name(module: str, name: str) -> tuple[str, str]:
    """Python 2 names (``copy_reg._reconstructor``, ``__builtin__.set``) as Python 3 ones."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def lookup_global(module: str, name: str) -> Any:
    """What a pickle gets for ``module.name``: the admitted object or its stand-in.

    Parameters
    ----------
    module, name : str
        As the pickle names them (Python 2 names are mapped first).

    Returns
    -------
    object
        A class, a checked function, or a stand-in class of :mod:`.standins`.

    Raises
    ------
    UnsafePickleError
        ``module.name`` is not on the allow-list.
    """
    if not isinstance(module, str) or not isinstance(name, str):
        raise UnsafePickleError(f"{module!r:.60}.{name!r:.60}", "not a name")
    module, name = py3_name(module, name)
    found = _ALLOWED.get((module, name))
    if found is not None:
        return found
    if _is_stimulus_class(module, name):
        key = (module, name)
        if key not in _STIMULUS_SHELLS:
            _STIMULUS_SHELLS[key] = _shell(standins.StimulusShell, module, name)
        return _STIMULUS_SHELLS[key]
    raise UnsafePickleError(f"{module}.{name}")
