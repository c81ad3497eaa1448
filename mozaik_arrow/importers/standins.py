"""Stand-ins for mozaik's own classes, and their conversion to mozaik_arrow objects.

A mozaik pickle references classes of mozaik (segment wrappers, analysis data structures,
parameter declarations, stimuli), of ``param`` and of ``parameters``. The importer never
imports them: the restricted unpickler (:mod:`.unpickler`) maps each admitted name onto one
of the inert classes here, which only *capture* what the pickle holds (constructor arguments
and the state ``BUILD`` hands to ``__setstate__``). Nothing here runs code from the pickle;
the captured values are themselves objects the allow-list admitted. Conversion to our objects
(:func:`stimulus_string`, :func:`to_ads`) happens afterwards, validated by our constructors.

How mozaik keeps parameter values (``mozaik/tools/mozaik_parametrized.py`` on ``param``):

- param 1.x: each value in the instance ``__dict__`` as ``_<name>_param_value``;
- param 2.x: in ``_param__private.values`` (a ``param.parameterized._InstancePrivate``);
- mozaik's own cache ``cached_get_param_values``: a list of ``(name, value)`` pairs.

All three are read (later ones override earlier ones where they overlap).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from .. import ads as ads_module
from .. import ads_payload
from ..errors import ValidationError
from ..parametrized import canonical_stimulus, format_parametrized

__all__ = [
    "Captured",
    "SegmentShell",
    "ADSShell",
    "StimulusShell",
    "DeclarationShell",
    "ParamPrivateShell",
    "ParameterSetShell",
    "InertShell",
    "identity_hook",
    "mozaik_params",
    "stimulus_string",
    "to_ads",
]

_PARAM_KEY = re.compile(r"^_([A-Za-z_][A-Za-z0-9_]*)_param_value$")


class Captured:
    """Base of the stand-ins: keeps constructor arguments and pickled state, runs nothing.

    ``NEWOBJ``/``REDUCE`` create one with whatever arguments the pickle gives (kept in
    ``captured_args``); ``BUILD`` hands its state to :meth:`__setstate__` (kept in
    ``captured_state``). Attributes of the pickled object are never set on the stand-in, so
    a pickle cannot shadow its methods.
    """

    mozaik_module: ClassVar[str] = ""
    mozaik_name: ClassVar[str] = ""

    def __new__(cls, *args: Any, **kwargs: Any) -> Captured:
        obj = object.__new__(cls)
        object.__setattr__(obj, "captured_args", args)
        object.__setattr__(obj, "captured_state", {})
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        # BUILD passes the __dict__ state, or a (dict state, slot state) pair.
        merged: dict[str, Any] = {}
        parts = state if isinstance(state, tuple) and len(state) == 2 else (state,)
        for part in parts:
            if isinstance(part, Mapping):
                merged.update((str(k), v) for k, v in part.items())
        object.__setattr__(self, "captured_state", merged)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} stand-ins are read-only")

    @property
    def qualified_name(self) -> str:
        """``module.Class`` of the mozaik class this stands for."""
        return f"{self.mozaik_module}.{self.mozaik_name}"

    def __repr__(self) -> str:
        return f"<stand-in for {self.qualified_name}>"


class SegmentShell(Captured):
    """mozaik's ``PickledDataStoreNeoWrapper`` / ``MozaikSegment``: a data-less segment shell.

    Its data is in ``<identifier>.pickle`` beside ``datastore.recordings.pickle``.
    """

    @property
    def identifier(self) -> Any:
        """The name of the segment's pickle file, without ``.pickle`` (unchecked)."""
        return self.captured_state.get("identifier")

    @property
    def null(self) -> bool:
        """Whether this is a null (blank) recording."""
        return bool(self.captured_state.get("null", False))

    @property
    def annotations(self) -> dict[str, Any]:
        """The segment annotations (``stimulus``, ``sheet_name``)."""
        ann = self.captured_state.get("annotations")
        return dict(ann) if isinstance(ann, Mapping) else {}


class ParamPrivateShell(Captured):
    """param 2.x's ``_InstancePrivate``: holds an object's parameter ``values``."""

    @property
    def values(self) -> dict[str, Any]:
        """Parameter values by name."""
        vals = self.captured_state.get("values")
        return dict(vals) if isinstance(vals, Mapping) else {}


class DeclarationShell(Captured):
    """A parameter declaration (``SNumber``, ``SString``, ...): kept inert, never used."""


class InertShell(Captured):
    """An object the importer admits but ignores (neo's removed ``ChannelIndex``, ``Unit``)."""


def mozaik_params(state: Mapping[str, Any]) -> dict[str, Any]:
    """Parameter values of a pickled mozaik ``MozaikParametrized`` object, by name.

    Parameters
    ----------
    state : mapping
        The object's pickled ``__dict__`` (see the module docstring for the three layouts).

    Returns
    -------
    dict
        ``name`` → value, ``name`` and ``identifier`` included when the pickle holds them.
    """
    params: dict[str, Any] = {}
    cached = state.get("cached_get_param_values")
    if isinstance(cached, (list, tuple)):
        for pair in cached:
            if isinstance(pair, (list, tuple)) and len(pair) == 2 and isinstance(pair[0], str):
                params[pair[0]] = pair[1]
    private = state.get("_param__private")
    if isinstance(private, ParamPrivateShell):
        params.update((str(k), v) for k, v in private.values.items())
    for key, value in state.items():
        m = _PARAM_KEY.match(key)
        if m:
            params[m.group(1)] = value
    return params


class StimulusShell(Captured):
    """A mozaik stimulus object (a class of ``mozaik.stimuli`` or one of its modules)."""

    def to_string(self) -> str:
        """The stimulus string mozaik's ``str(stimulus)`` writes for it."""
        params = mozaik_params(self.captured_state)
        module = self.captured_state.get("module_path")
        params["module_path"] = module if isinstance(module, str) else self.mozaik_module
        params.setdefault("name", self.mozaik_name)
        return format_parametrized(params)


class ADSShell(Captured):
    """A mozaik analysis data structure (a class of ``mozaik.analysis.data_structures``)."""


class ParameterSetShell(dict):
    """``parameters.ParameterSet`` / mozaik's ``MozaikExtendedParameterSet``: a plain dict.

    Pickled attributes (``label``, ``names``, ...) are kept in ``captured_state`` only.
    """

    mozaik_module: ClassVar[str] = ""
    mozaik_name: ClassVar[str] = ""

    def __setstate__(self, state: Any) -> None:
        self.captured_state = dict(state) if isinstance(state, Mapping) else {}


def identity_hook(obj: Any, val: Any) -> Any:
    """Stand-in for ``param.identity_hook`` (a Number's default ``set_hook``)."""
    return val


def stimulus_string(value: Any) -> str:
    """The stimulus string of a mozaik segment annotation or sensory-stimulus key.

    Parameters
    ----------
    value : str or StimulusShell
        What mozaik stored: the string of ``str(stimulus)``, or (in some stores) the
        stimulus object itself.

    Returns
    -------
    str
        A string mozaik wrote comes back byte-identical; an object is written in mozaik's
        format from its parameters.

    Raises
    ------
    ValidationError
        Neither, or a string our literal parser refuses.
    """
    if isinstance(value, str):
        text = str.__str__(value)
    elif isinstance(value, StimulusShell):
        text = value.to_string()
    else:
        raise ValidationError(f"stimulus must be a string or a stimulus object, got "
                              f"{type(value).__name__}")
    canonical_stimulus(text)  # parses (literal parser) or raises
    return text


def to_ads(shell: ADSShell) -> tuple[ads_module.AnalysisDataStructure, list[str]]:
    """Our ADS equal to a pickled mozaik ADS, and notes about what had to be corrected.

    Parameters
    ----------
    shell : ADSShell
        The stand-in the unpickler built for it.

    Returns
    -------
    (AnalysisDataStructure, list of str)
        The object of the same class in :mod:`mozaik_arrow.ads` (parameters, tags and payload
        taken from the pickled state and checked by its constructor), and notes.

    Raises
    ------
    ValidationError
        An abstract or unknown class, a parameter our class does not declare, or a payload
        its constructor refuses.
    """
    name = shell.mozaik_name
    cls = ads_payload.ADS_TYPES.get(name)
    if cls is None or name == "AnalysisDataStructure":
        raise ValidationError(f"{shell.qualified_name} has no counterpart in mozaik_arrow.ads")
    state = shell.captured_state
    params = mozaik_params(state)
    params.pop("name", None)
    notes: list[str] = []
    ident = params.get("identifier")
    if ident is not None and ident != name:
        # mozaik's PerNeuronPairAnalogSignalList passes identifier='AnalogSignalList' to its
        # parent; our types are identified by their class.
        notes.append(f"{name}: identifier {ident!r} in the pickle replaced by {name!r}")
    params["identifier"] = name
    declared = set(ads_payload.declared_params(name))
    unknown = sorted(set(params) - declared)
    if unknown:
        raise ValidationError(f"{name}: parameter(s) {', '.join(unknown)} are not declared by "
                              f"mozaik_arrow.ads.{name}")
    payload = {f.arg: state.get(f.attr) for f in cls._payload}
    tags = state.get("tags")
    tags = [] if tags is None else tags
    if not isinstance(tags, (list, tuple)):
        raise ValidationError(f"{name}: tags must be a list, got {type(tags).__name__}")
    return cls(tags=list(tags), **payload, **params), notes
