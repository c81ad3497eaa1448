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

The pieces live in modules of one job each, re-exported here (import from this module):
checked values and the string written (:mod:`.parametrized_format`), the string read with a
literal parser (:mod:`.parametrized_parse`), the normalised form and keys
(:mod:`.parametrized_keys`), the parameter declarations (:mod:`.parametrized_declarations`).
This module holds :class:`MozaikParametrized`, :class:`Stimulus` and
:func:`canonical_stimulus`.
"""

from __future__ import annotations

import collections
import functools
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import quantities as pq

from .errors import ValidationError
from .parametrized_declarations import (  # noqa: F401 - re-exports
    _RESERVED,
    Parameter,
    SInteger,
    SNumber,
    SParameterSet,
    SString,
    _collect_declarations,
    _infer_declaration,
)
from .parametrized_format import (  # noqa: F401 - re-exports
    MAX_DEPTH,
    ParameterSetValue,
    _clean_params,
    format_parametrized,
)
from .parametrized_keys import (  # noqa: F401 - re-exports
    _dumps,
    _norm,
    normalise,
    stimulus_key,
    value_text,
)
from .parametrized_parse import MAX_STRING_BYTES, parse_stimulus_string  # noqa: F401 - re-exports


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
