"""mozaik's parameter string, written: which values a parameter may hold, and the string.

Parameters come from users, mozaik objects and pickles, so every value is checked once at
the edge (:func:`_clean_value`, :func:`_clean_params`: builtins only, no lone surrogates,
bounded nesting) before anything is written or keyed. :func:`format_parametrized` then
writes them exactly as mozaik's ``MozaikParametrized.__str__`` does: that string is part of
the on-disk format. Reading it back is :mod:`.parametrized_parse`; keys are
:mod:`.parametrized_keys`; users import all of these from :mod:`.parametrized`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from .errors import ValidationError

MAX_DEPTH = 32  # deepest nesting of containers in a value or a parsed string
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
