"""Parametrized objects (stimuli, analysis results): canonical strings, keys, a small model.

A stimulus is identified by the string mozaik's ``MozaikParametrized.__str__`` writes
(``mozaik/tools/mozaik_parametrized.py``): ``module_path`` first, then every parameter sorted
by name, each ``"key":repr(value)``, a ParameterSet as ``MozaikExtendedParameterSet(<repr>)``::

    {"module_path" :"mozaik.stimuli","direct_stimulation_name":None, "duration":300.0, ...}

Neither ``MozaikExtendedParameterSet`` (``mozaik/tools/distribution_parametrization.py``) nor
``parameters.ParameterSet`` (parameters 0.2.1, a dict subclass) defines ``__repr__``: ``<repr>``
is ``dict.__repr__`` (insertion order, nested sets as bare ``{...}``; checked by running
parameters 0.2.1). The string and its key (:func:`stimulus_key`) are part of the on-disk format.
Strings are read with a literal parser (``ast``), never ``eval``; no class is ever imported.
"""

from __future__ import annotations

import ast
import collections
import functools
import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np
import quantities as pq

from .errors import ValidationError

MAX_DEPTH = 32  # deepest nesting of containers in a value or a parsed string
MAX_STRING_BYTES = 1 << 20  # longest string parse_stimulus_string accepts

_WRAPPERS = frozenset({"MozaikExtendedParameterSet", "ParameterSet"})
_FLOAT_NAMES = {"nan": math.nan, "inf": math.inf}  # repr(float("nan")) == "nan"
# numpy >= 2 reprs scalars as ``np.float64(0.5)``, and mozaik writes ``repr(val)``, so a
# parameter computed with numpy (``numpy.linspace``, ...) is stored that way. These exact
# spellings, with a literal argument, read as the Python scalar ``.item()`` gives.
_NUMPY_NAMES = ["float16", "float32", "float64", "str_"]
_NUMPY_NAMES += [f"{u}int{bits}" for u in ("", "u") for bits in (8, 16, 32, 64)]
_NUMPY_CALLS = {name: getattr(np, name) for name in _NUMPY_NAMES}
_NUMPY_CONSTANTS = {"True_": True, "False_": False}
_SURROGATE = re.compile("[\ud800-\udfff]")  # not valid Unicode: cannot be written to Arrow


class ParameterSetValue(dict):
    """A parameter set (mozaik's ``MozaikExtendedParameterSet``) held as a dict."""

    def __repr__(self) -> str:
        return f"MozaikExtendedParameterSet({_render(self)})"


def _clean_value(value: Any, where: str, depth: int = 0, pset: bool = True) -> Any:
    """Check one value; return a copy of builtins (numpy scalars too); mappings become
    ParameterSetValue if ``pset`` (as ParameterSet converts nested dicts), dicts in lists."""
    if depth > MAX_DEPTH:
        raise ValidationError(f"{where}: nested deeper than {MAX_DEPTH} levels")
    kind = type(value)
    if kind is float or value is None or kind is bool:  # fast paths: exact builtins
        return value
    if kind is str and value.isascii():  # no surrogates possible
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if value.bit_length() > 14_000:  # repr() refuses ints over 4300 digits
            raise ValidationError(f"{where}: integer too large")
        return int.__index__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        if _SURROGATE.search(value):
            raise ValidationError(f"{where}: string holds a lone surrogate (not valid Unicode)")
        return str.__str__(value)
    if isinstance(value, (list, tuple)):
        items = [_clean_value(v, f"{where}[{i}]", depth + 1, False) for i, v in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, Mapping):
        out = ParameterSetValue() if pset else {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValidationError(f"{where}: key {k!r} is not a string")
            out[str.__str__(k)] = _clean_value(v, f"{where}[{k!r}]", depth + 1, pset)
        return out
    raise ValidationError(
        f"{where}: a value of type {type(value).__name__} is not allowed (only None, bool, "
        "int, float, str, lists/tuples of them and nested parameter sets)"
    )


def _clean_params(params: Any) -> dict[str, Any]:
    """Check a top-level parameter mapping; a missing ``module_path`` becomes ``""``."""
    if not isinstance(params, Mapping):
        raise ValidationError(f"parameters must be a mapping, not {type(params).__name__}")
    out: dict[str, Any] = {}
    for key, value in params.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise ValidationError(f"parameter name {key!r} is not an identifier")
        out[str.__str__(key)] = _clean_value(value, f"parameter {key!r}")
    module_path = out.setdefault("module_path", "")
    if not isinstance(module_path, str) or not all(
        p.isidentifier() for p in module_path.split(".") if module_path
    ):
        raise ValidationError(f"module_path {module_path!r} is not a dotted module name")
    if not isinstance(out.get("name", ""), str):
        raise ValidationError(f"name must be a string, not {type(out['name']).__name__}")
    return out


def _render(value: Any) -> str:
    """``repr()`` of a cleaned value, spelled as Python writes it."""
    if isinstance(value, list):
        return "[" + ", ".join(map(_render, value)) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(map(_render, value)) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k!r}: {_render(v)}" for k, v in value.items()) + "}"
    return repr(value)


def format_parametrized(params: Mapping) -> str:
    """Write parameters exactly as mozaik's ``MozaikParametrized.__str__`` does.

    Parameters
    ----------
    params : Mapping
        ``module_path`` (``""`` if missing), ``name`` and the other parameters: None, bool,
        int, float, str, lists/tuples of these, or mappings (parameter sets). Numbers keep
        their type (``0`` vs ``0.0``); numpy scalars are written as Python scalars.

    Returns
    -------
    str
        e.g. ``{"module_path" :"mozaik.stimuli","duration":300.0, "name":'X', "trial":0}``.

    Raises
    ------
    ValidationError
        A name is not an identifier, or a value has a type mozaik does not store.
    """
    clean = _clean_params(params)
    head = '{"module_path" :"' + clean.pop("module_path") + '",'
    settings = (
        f'"{k}":{repr(v) if isinstance(v, ParameterSetValue) else _render(v)}'
        for k, v in sorted(clean.items())
    )
    return head + ", ".join(settings) + "}"


def _reject(node: ast.AST, what: str = "is not allowed") -> ValidationError:
    kinds = {ast.Call: "a call to", ast.Attribute: "attribute access", ast.Name: "the name"}
    if type(node) in kinds:
        text = f"{kinds[type(node)]} {ast.unparse(getattr(node, 'func', node))[:60]!r}"
    elif isinstance(node, ast.Constant):
        text = f"a constant of type {type(node.value).__name__}"
    else:
        text = (
            "an f-string"
            if isinstance(node, ast.JoinedStr)
            else f"a {type(node).__name__} expression"
        )
    line = getattr(node, "lineno", 1)
    col = getattr(node, "col_offset", 0) + 1
    return ValidationError(f"stimulus string: {text} (line {line}, column {col}) {what}")


def _number(node: ast.AST) -> int | float:
    """A number literal, optionally signed, ``nan`` or ``inf``."""
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign, node = (-1 if isinstance(node.op, ast.USub) else 1), node.operand
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value if sign == 1 else -node.value
    if isinstance(node, ast.Name) and node.id in _FLOAT_NAMES:
        return sign * _FLOAT_NAMES[node.id]
    raise _reject(node)


def _numpy_scalar(node: ast.AST) -> Any:
    """``np.float64(1.5)``, ``np.int64(3)``, ``np.True_``, ...; anything else is refused."""
    func = node.func if isinstance(node, ast.Call) else node
    if not (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id in ("np", "numpy")
        and (func.attr in _NUMPY_CALLS if func is not node else func.attr in _NUMPY_CONSTANTS)
    ):
        raise _reject(node)
    if func is node:
        return _NUMPY_CONSTANTS[func.attr]
    if len(node.args) != 1 or node.keywords:
        raise _reject(node)
    kind, arg = _NUMPY_CALLS[func.attr], node.args[0]
    if kind is np.str_:
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            raise _reject(arg)
        return arg.value
    value = _number(arg)
    if issubclass(kind, np.integer) and not isinstance(value, int):
        raise _reject(arg)
    try:
        return kind(value).item()
    except (OverflowError, ValueError) as exc:
        raise ValidationError(f"stimulus string: {ast.unparse(node)[:60]}: {exc}") from None


def _literal(node: ast.AST, depth: int, pset: bool) -> Any:
    if depth > MAX_DEPTH:
        raise ValidationError(f"stimulus string: nested deeper than {MAX_DEPTH} levels")
    if isinstance(node, ast.Constant):
        if node.value is None or type(node.value) in (bool, int, float, str):
            return node.value
        raise _reject(node)
    if isinstance(node, (ast.UnaryOp, ast.Name)):
        return _number(node)
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_literal(e, depth + 1, False) for e in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Dict):
        return _literal_dict(node, depth + 1, pset)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _WRAPPERS
        and len(node.args) == 1
        and not node.keywords
        and isinstance(node.args[0], ast.Dict)
    ):
        return _literal_dict(node.args[0], depth + 1, True)
    return _numpy_scalar(node)


def _literal_dict(node: ast.Dict, depth: int, pset: bool, top: bool = False) -> dict:
    # Values of the top-level dict are parameters: a dict there is a parameter set.
    out: dict = {} if top or not pset else ParameterSetValue()
    for key, value in zip(node.keys, node.values, strict=True):
        if key is None:
            raise ValidationError("stimulus string: '**' unpacking is not allowed")
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            raise _reject(key, "is not allowed as a key (keys are strings)")
        if key.value in out:
            raise ValidationError(f"stimulus string: duplicate key {key.value!r}")
        out[key.value] = _literal(value, depth, pset)
    return out


def parse_stimulus_string(s: str) -> dict:
    """Parse a mozaik parameter string (``str()`` of a MozaikParametrized) without ``eval``.

    Parameters
    ----------
    s : str
        A dict literal with string keys and values None, bool, int, float, str, ``nan``,
        ``inf``, lists/tuples/dicts of these, ``MozaikExtendedParameterSet({...})`` or
        ``ParameterSet({...})``, or numpy >= 2 scalar spellings (``np.float64(0.5)``).

    Returns
    -------
    dict
        The parameters in the order written; parameter sets are :class:`ParameterSetValue`.

    Raises
    ------
    ValidationError
        Not a str, over 1 MiB, nested over 32 levels, not a dict literal, or holding anything
        else (other calls or names, attribute access, lambdas, f-strings, operators, bytes,
        sets, duplicate keys, ...); the message names the problem.
    """
    if not isinstance(s, str):
        raise ValidationError(f"a stimulus string must be str, not {type(s).__name__}")
    if len(s) > MAX_STRING_BYTES or len(s.encode("utf-8", "surrogatepass")) > MAX_STRING_BYTES:
        raise ValidationError(f"stimulus string is longer than {MAX_STRING_BYTES} bytes")
    try:
        tree = ast.parse(s.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        reason = exc.msg if isinstance(exc, SyntaxError) else type(exc).__name__
        raise ValidationError(f"stimulus string is not a Python literal: {reason}") from None
    if not isinstance(tree.body, ast.Dict):
        raise _reject(tree.body, "is at the top level, not a dict")
    return _literal_dict(tree.body, 0, True, top=True)


def _norm(value: Any) -> Any:
    if type(value) is str or value is None:
        return value
    if isinstance(value, bool):
        # A tuple: sequences normalise to lists, so no parameter value can mimic the tag, and
        # its JSON (["__bool__",true]) differs from that of 1 and of every list.
        return ("__bool__", value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)  # 1.0 -> 1, -0.0 -> 0; nan and inf stay floats
    if isinstance(value, Mapping):
        return {k: _norm(value[k]) for k in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [_norm(v) for v in value]
    return value


def normalise(params: Mapping) -> object:
    """The normalised form of parameters, from which :func:`stimulus_key` is computed.

    Keys sorted at every level; integral floats as ints (``-0.0 -> 0``; nan, inf stay floats);
    numpy scalars as Python ones; a bool as ``("__bool__", value)``, never equal to ``1``;
    tuples as lists; None values kept; a missing ``module_path`` as ``""``.

    Parameters
    ----------
    params : Mapping
        Parameters as :func:`format_parametrized` takes them.

    Returns
    -------
    object
        A JSON-serialisable dict.
    """
    return _norm(_clean_params(params))


def _dumps(normalised: object) -> str:
    return json.dumps(
        normalised, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True
    )


def _plain(value: Any) -> Any:
    if type(value) in _SCALARS:  # fast path: most parameter values (isinstance of ABCs is slow)
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


_SCALARS = frozenset({str, int, float, bool, type(None)})


@functools.lru_cache(maxsize=1 << 16)
def _scalar_text(kind: type, value: Any) -> str:
    return _dumps(_norm(value))


def value_text(value: Any) -> str:
    """The normalised JSON text of one parameter value: equal texts ⇔ equal values.

    ``1`` and ``1.0`` give ``"1"``; ``True`` gives ``["__bool__",true]`` (never ``1``);
    numpy scalars count as the Python ones. Queries compare these texts, so filters are
    exact whatever type a column would have been inferred as.
    """
    value = _plain(value)
    if type(value) in _SCALARS:
        return _scalar_text(type(value), value)  # the same few values recur across objects
    return _dumps(_norm(value))


def stimulus_key(params: Mapping) -> str:
    """The key of a stimulus: its ``stimulus=<key>`` partition value and join column.

    FORMAT COMMITMENT (changing it renames every store's partitions)::

        "s" + sha256(json.dumps(normalise(params), sort_keys=True, separators=(",", ":"),
                                ensure_ascii=False, allow_nan=True).encode()).hexdigest()[:16]

    Parameters
    ----------
    params : Mapping
        ``module_path``, ``name`` and the other parameters, parameter sets unexpanded.

    Returns
    -------
    str
        ``"s"`` and 16 hex digits; equal for spellings of the same values (key order,
        ``1``/``1.0``, numpy scalars, list/tuple), not for ``True``/``1`` or None/missing.
    """
    return "s" + hashlib.sha256(_dumps(normalise(params)).encode()).hexdigest()[:16]


def _object_params(obj: Any) -> dict[str, Any]:
    """Parameters of a MozaikParametrized object (ours or mozaik's), parameter sets unexpanded."""
    if isinstance(obj, MozaikParametrized):
        return {"module_path": obj.module_path, **obj._values}
    try:
        if callable(getattr(obj, "params", None)):  # mozaik: params() gives declarations
            values = {k: getattr(obj, k) for k in obj.params()}
        elif callable(getattr(obj, "getParams", None)):
            values = dict(obj.getParams())
        else:
            raise ValidationError(
                "expected a string, a mapping or a MozaikParametrized object, "
                f"not {type(obj).__name__}"
            )
        values.setdefault("name", getattr(obj, "name", None))
    except AttributeError as exc:
        raise ValidationError(
            f"cannot read the parameters of {type(obj).__name__}: {exc}"
        ) from None
    return {**values, "module_path": getattr(obj, "module_path", "")}


@functools.lru_cache(maxsize=1 << 16)
def _parsed_string(text: str) -> tuple[str, dict]:
    # Strings are immutable and the same few stimulus strings are parsed again and again
    # (every ADS names its stimulus): parse each once.
    params = _clean_params(parse_stimulus_string(text))
    if not params.get("name"):
        raise ValidationError("a stimulus must have a non-empty 'name' (its class name)")
    return stimulus_key(params), params


def canonical_stimulus(stimulus: object) -> tuple[str, str, dict]:
    """Canonical string, key and parameters of a stimulus.

    Parameters
    ----------
    stimulus : str, Mapping or MozaikParametrized
        A string (kept byte-identical: a string mozaik wrote is canonical), a mapping holding
        ``name`` (``module_path`` defaults to ``""``), or an object with ``params()`` or
        ``getParams()`` and ``name``/``module_path`` attributes.

    Returns
    -------
    tuple of (str, str, dict)
        The string (:func:`format_parametrized` for mappings and objects), the key of the
        values, and the parameters (``module_path`` included).

    Raises
    ------
    ValidationError
        A malformed string, no ``name``, or a value mozaik does not store.
    """
    text = str.__str__(stimulus) if isinstance(stimulus, str) else None
    if text is not None:
        key, params = _parsed_string(text)
        return text, key, dict(params)
    else:
        raw = stimulus if isinstance(stimulus, Mapping) else _object_params(stimulus)
        params = _clean_params(raw)
    if not params.get("name"):
        raise ValidationError("a stimulus must have a non-empty 'name' (its class name)")
    return text or format_parametrized(params), stimulus_key(params), params


class Parameter:
    """Declaration of a parameter (base class): a descriptor reading the object's value.

    Every parameter allows None; subclasses accept instances of ``_types`` (never bool).
    """

    _types: tuple[type, ...] = ()

    def __init__(self, default: Any = None, doc: str = "", units: Any = None, period: Any = None):
        self.name: str | None = None
        self.units, self.period, self.doc = units, period, doc
        self.default = self.validate(default)

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        try:
            return obj.__dict__["_values"][self.name]
        except KeyError:
            raise AttributeError(self.name) from None

    def validate(self, value: Any) -> Any:
        """Return ``value`` checked and converted (numpy scalars to Python ones), or raise."""
        plain = value.item() if isinstance(value, np.generic) else value
        if self._types and plain is not None:
            if isinstance(plain, bool) or not isinstance(plain, self._types):
                wanted = " or ".join(t.__name__ for t in self._types)
                raise ValidationError(
                    f"parameter {self.name!r} ({type(self).__name__}) wants {wanted}, "
                    f"got {type(value).__name__} {value!r:.80}"
                )
        return _clean_value(plain, f"parameter {self.name!r}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(units={self.units}, period={self.period})"


class SNumber(Parameter):
    """A number (int or float) with ``units`` (a quantities unit) and ``period``."""

    _types = (int, float)

    def __init__(self, units: Any, period: Any = None, default: Any = None, doc: str = ""):
        super().__init__(default, doc, units, period)


class SInteger(Parameter):
    """An integer, with an optional ``period``."""

    _types = (int,)

    def __init__(self, period: Any = None, default: Any = None, doc: str = ""):
        super().__init__(default, doc, None, period)


class SString(Parameter):
    """A string."""

    _types = (str,)

    def __init__(self, default: Any = None, doc: str = ""):
        super().__init__(default, doc)


class SParameterSet(Parameter):
    """A parameter set (a mapping); ``getParams()`` expands its entries."""

    _types = (Mapping,)

    def __init__(self, default: Any = None, doc: str = ""):
        super().__init__(default, doc)


_DECLARABLE = (SNumber, SInteger, SString, SParameterSet)
_RESERVED = frozenset({"module_path", "_values", "_declared"})
_PARAMETER_SET_NAMES: set[str] = set()  # every name some class declares an SParameterSet


def _collect_declarations(cls: type) -> dict[str, Parameter]:
    declared: dict[str, Parameter] = {}
    for klass in reversed(cls.__mro__):
        for attr, value in vars(klass).items():
            if not isinstance(value, Parameter):
                continue
            if not isinstance(value, _DECLARABLE) or attr in _RESERVED:
                raise ValidationError(
                    f"{cls.__name__}.{attr}: parameters are SNumber, SInteger, SString or "
                    f"SParameterSet, not named {sorted(_RESERVED)}"
                )
            declared[attr] = value
            if isinstance(value, SParameterSet):
                _PARAMETER_SET_NAMES.add(attr)
    return dict(sorted(declared.items()))


def _infer_declaration(name: str, value: Any) -> Parameter:
    """A shell's declaration, guessed from the value. None is a parameter set when a known
    class declares that name one (``direct_stimulation_parameters``), so that getParams() of
    a shell equals that of the object it was written from."""
    if isinstance(value, Mapping) or (value is None and name in _PARAMETER_SET_NAMES):
        decl: Parameter = SParameterSet()
    elif isinstance(value, bool) or not isinstance(value, (int, float, str)):
        decl = Parameter()
    else:
        decl = {int: SInteger(), float: SNumber(None), str: SString()}[type(value)]
    decl.name = name
    return decl


def _expand(ps: Mapping, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in ps.items():
        if isinstance(value, Mapping):
            yield from _expand(value, f"{prefix}{key}_")
        else:
            yield prefix + key, value


class MozaikParametrized:
    """An object identified by typed parameters, like mozaik's ``MozaikParametrized``.

    Subclasses declare parameters as class attributes (:class:`SNumber`, :class:`SInteger`,
    :class:`SString`, :class:`SParameterSet`), collected through the MRO. Every object has
    the parameter ``name`` (its class name) and the attribute ``module_path``: the class's
    ``_module_path`` if set (a class standing for a mozaik class names mozaik's module, so
    that its string is mozaik's), else its ``__module__``.
    """

    name = SString(doc="The class name of the object (set automatically).")
    _declared: ClassVar[dict[str, Parameter]] = {}
    _module_path: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._declared = _collect_declarations(cls)

    def __init__(self, **params: Any) -> None:
        cls = type(self)
        module_path = cls.__module__ if cls._module_path is None else cls._module_path
        for fixed, expected in (("name", cls.__name__), ("module_path", module_path)):
            if params.pop(fixed, expected) != expected:
                raise ValidationError(f"{cls.__name__}: {fixed} is always {expected!r}")
        unknown = sorted(set(params) - set(self._declared))
        if unknown:
            raise ValidationError(f"{cls.__name__}: unknown parameter(s) {', '.join(unknown)}")
        values = {k: d.validate(params.get(k, d.default)) for k, d in self._declared.items()}
        self.__dict__.update(_values={**values, "name": cls.__name__}, module_path=module_path)
        self._expanded()  # refuse clashing parameter-set entries now

    def __getattr__(self, attr: str) -> Any:
        # Reached only when normal lookup fails: the parameters of shells (no descriptor).
        values = self.__dict__.get("_values", {})
        if attr in values:
            return values[attr]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}")

    def __setattr__(self, attr: str, value: Any) -> None:
        decl = self._declared.get(attr)
        if decl is None:
            object.__setattr__(self, attr, value)
        else:
            self._values[attr] = decl.validate(value)

    def _expanded(self) -> list[tuple[str, Any]]:
        """Entries of the SParameterSet parameters, nested keys joined with ``_``, sorted."""
        out = sorted(
            item
            for key, decl in self._declared.items()
            if isinstance(decl, SParameterSet) and self._values[key] is not None
            for item in _expand(self._values[key])
        )
        counts = collections.Counter(k for k, _ in out)  # not list.count: O(n^2) for 1e4 keys
        clash = sorted(k for k, n in counts.items() if n > 1 or k in self._declared)
        if clash:
            raise ValidationError(f"{self.name}: parameter-set entries clash with {clash}")
        return out

    def params(self) -> dict[str, Parameter]:
        """The parameter declarations by name (SParameterSet parameters included)."""
        return dict(self._declared)

    def getParams(self) -> dict[str, Any]:  # noqa: N802 (mozaik's name)
        """Parameter values plus the expanded entries of the SParameterSet parameters, minus
        those parameters themselves, sorted by name: the view comparisons and filters use."""
        values = self._values
        plain = [
            (k, values[k]) for k, d in self._declared.items() if not isinstance(d, SParameterSet)
        ]
        return dict(sorted(plain + self._expanded()))

    def _identity(self) -> str:
        return _dumps(_norm(self.getParams()))

    def equalParams(self, other: Any) -> bool:  # noqa: N802 (mozaik's name)
        """Whether ``other`` (an object, or a string or mapping read with :meth:`idd`) has the
        same :meth:`getParams` (``1 == 1.0``, ``True != 1``); ``module_path`` is not compared.
        """
        if not isinstance(other, MozaikParametrized):
            other = MozaikParametrized.idd(other)
        return self._identity() == other._identity()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MozaikParametrized):
            return NotImplemented
        return self.module_path == other.module_path and self._identity() == other._identity()

    def __hash__(self) -> int:
        # Hashes what __eq__ compares (stimulus_key hashes the unexpanded parameters, which
        # can differ for equal objects: a parameter set None vs {}).
        return hash((self.module_path, self._identity()))

    def __str__(self) -> str:
        return format_parametrized({"module_path": self.module_path, **self._values})

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._values.items() if k != "name")
        return f"{self.name}({args})"

    @classmethod
    def idd(cls, obj: Any) -> MozaikParametrized:
        """A shell object whose parameters are readable as attributes; never imports a class.

        From a string (parsed without ``eval``) or a mapping holding ``name``: a plain
        ``MozaikParametrized`` whose ``name`` and ``module_path`` come from the data. From
        one of our objects: an uninitialised copy of its class; from a mozaik-like object:
        a shell of what ``params()``/``getParams()`` give.
        """
        if isinstance(obj, MozaikParametrized):
            shell = object.__new__(type(obj))
            values = _clean_params(obj._values)  # a deep copy
            del values["module_path"]
            shell.__dict__.update(_values=values, module_path=obj.module_path)
            if "_declared" in obj.__dict__:
                shell.__dict__["_declared"] = dict(obj._declared)
            return shell
        if isinstance(obj, str):
            obj = parse_stimulus_string(obj)
        values = _clean_params(obj if isinstance(obj, Mapping) else _object_params(obj))
        module_path = values.pop("module_path")
        if not isinstance(values.get("name"), str):
            raise ValidationError("idd: the parameters hold no 'name'")
        if _RESERVED & set(values):
            raise ValidationError(f"idd: reserved parameter names {sorted(_RESERVED)}")
        shell = object.__new__(MozaikParametrized)
        declared = {k: _infer_declaration(k, v) for k, v in sorted(values.items())}
        shell.__dict__.update(_declared=declared, _values=values, module_path=module_path)
        shell._expanded()
        return shell


MozaikParametrized._declared = _collect_declarations(MozaikParametrized)


class Stimulus(MozaikParametrized):
    """Base of stimuli: mozaik's ``BaseStimulus`` parameters (``mozaik/stimuli/__init__.py``)."""

    frame_duration = SNumber(pq.ms, doc="The duration of a single frame.")
    duration = SNumber(pq.ms, doc="The duration of the stimulus.")
    trial = SInteger(doc="The trial of the stimulus.")
    direct_stimulation_name = SString(doc="The name of the artificial stimulation protocol.")
    direct_stimulation_parameters = SParameterSet(
        doc="The parameters with which the direct stimulation protocol was initialised."
    )
