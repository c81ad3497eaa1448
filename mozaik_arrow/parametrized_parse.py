"""mozaik's parameter string, read safely: a literal parser over ``ast``, never ``eval``.

Stimulus strings come from stores and pickles written by others, so they are data, not
code: :func:`parse_stimulus_string` accepts only the literals mozaik writes (and the numpy
>= 2 scalar spellings ``repr`` gives), bounded in size and nesting, and refuses everything
else with a message naming it. No class is ever imported. Writing the string is
:mod:`.parametrized_format`.
"""

from __future__ import annotations

import ast
import math
from typing import Any

import numpy as np

from .errors import ValidationError
from .parametrized_format import MAX_DEPTH, ParameterSetValue

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
