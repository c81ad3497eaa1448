"""Parameter declarations: the typed descriptors (SNumber, SInteger, ...) a class declares.

Mozaik's classes declare their parameters as class attributes (``SNumber(units)``, ...);
ours do the same so that an object checks its values where it is built. This module holds
the descriptors, their collection through a class's MRO, and the declarations guessed for
shells read from data; the class that uses them is
:class:`~mozaik_arrow.parametrized.MozaikParametrized`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .errors import ValidationError
from .parametrized_format import _clean_value


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
