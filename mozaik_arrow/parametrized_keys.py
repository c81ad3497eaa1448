"""Normalised parameters and the keys computed from them: stimulus keys and value texts.

Equal values must give equal keys whatever their spelling (key order, ``1``/``1.0``, numpy
scalars, list/tuple) and different values different keys (``True``/``1``), because
:func:`stimulus_key` names a store's partitions and :func:`value_text` is what queries
compare. Both are computed from one normalised form (:func:`normalise`), so they can only
agree. The key is a format commitment (see :func:`stimulus_key`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .parametrized_format import _clean_params


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
