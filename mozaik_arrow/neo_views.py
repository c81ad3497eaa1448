"""The shared machinery of the read direction (:mod:`.spike_read`, :mod:`.signal_read`):
Arrow list columns as numpy views, and the cached pieces of the neo objects built over them.

:func:`list_parts` gives the (values, offsets) of a list column and :func:`_rows` checks and
normalises them; :class:`_ListRows` keeps a chunked column's rows chunk by chunk for reads of
one neuron at a time. :class:`_View` is the ndarray subclass whose slices become
``neo.SpikeTrain`` / ``neo.AnalogSignal`` objects by ``__class__`` assignment, and
:func:`_array_dict` their empty array annotations; :func:`_time_dim` and :func:`_time_scalar`
cache the Dimensionality of time units and the read-only Quantity scalars (``t_start``,
``t_stop``) shared by objects with equal values; :func:`gc_paused` keeps the cyclic collector
out of the loops that make objects by the thousand.
"""

from __future__ import annotations

import bisect
import functools
import gc
import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pyarrow as pa
import quantities as pq
from neo.core.dataobject import ArrayDict

__all__ = ["gc_paused", "list_parts"]

_F64 = np.dtype(np.float64)


def _rows(values: Any, offsets: Any) -> tuple[np.ndarray, np.ndarray]:
    """Contiguous float64 ``values`` and int64 ``offsets`` indexing into them.

    ``offsets`` may index ``values`` absolutely (``list_array.values``, which ignores a slice
    of the list array, apache/arrow#37733, with ``list_array.offsets``) or relative to the
    first row (``list_array.flatten()``); which one is unambiguous from the lengths.
    """
    v = np.asarray(values)
    if v.ndim != 1:
        raise ValueError(f"values must be 1-D, got shape {v.shape}")
    if v.dtype != _F64:
        v = v.astype(np.float64)  # a copy; Arrow float64 columns never take this path
    if not v.flags.c_contiguous:
        v = np.ascontiguousarray(v)
    o = np.asarray(offsets)
    if o.ndim != 1 or len(o) < 1:
        raise ValueError("offsets must be a 1-D array of n + 1 positions")
    o = o.astype(np.int64, copy=False)
    if len(o) > 1 and np.any(o[1:] < o[:-1]):
        raise ValueError("offsets must be non-decreasing")
    base, end = int(o[0]), int(o[-1])
    if base < 0:
        raise ValueError("offsets must be non-negative")
    if end <= len(v):
        return v, o
    if end - base == len(v):
        return v, o - base
    raise ValueError(f"offsets [{base}, {end}] do not fit {len(v)} values")


def _time_dim(units: Any) -> Any:
    """A fresh Dimensionality for time ``units`` (a string); ValueError if not a time."""
    if isinstance(units, bytes):
        units = units.decode()
    if not isinstance(units, str):
        units = pq.quantity.validate_dimensionality(units).string
    return _time_dim_cached(units).copy()


@functools.lru_cache(maxsize=256)
def _time_dim_cached(units: str) -> Any:
    # quantities' unit parsing and simplification cost ~1 ms: done once per units string
    try:
        dim = pq.quantity.validate_dimensionality(units)
    except (KeyError, LookupError, TypeError, ValueError) as e:
        raise ValueError(f"unknown units {units!r}") from e
    if pq.Quantity(1.0, dim).simplified._dimensionality.string != "s":
        raise ValueError(f"units {units!r} are not a time unit")
    return dim


# Read-only float64 Quantity scalars (t_start / t_stop), shared by every train with the same
# bits and units, across calls: building one costs ~40 us, a single-neuron read needs two.
_SCALARS: dict[tuple[str, int], pq.Quantity] = {}
_SCALARS_MAX = 4096


def _time_scalar_of(units: str, value: float, dim: Any) -> pq.Quantity:
    """:func:`_time_scalar` of one value (its bits taken here)."""
    x = np.float64(value)
    return _time_scalar(units, int(x.view(np.int64)), float(x), dim)


def _time_scalar(units: str, bits: int, value: float, dim: Any) -> pq.Quantity:
    key = (units, bits)
    q = _SCALARS.get(key)
    if q is None:
        q = pq.Quantity(value, units=dim.copy())
        q.flags.writeable = False
        if len(_SCALARS) >= _SCALARS_MAX:
            _SCALARS.clear()
        _SCALARS[key] = q
    return q


class _View(np.ndarray):
    """A bare ndarray subclass with the memory layout of neo's data objects (a
    ``__dict__``), so that a view can become a SpikeTrain or AnalogSignal by ``__class__``
    assignment: creating the view as one runs neo's and quantities' ``__array_finalize__``
    (~1 us), whose every attribute is then overwritten."""


_NEW_DICT = dict.__new__
_CHECK_ARRAY_ANNOTATIONS = inspect.signature(ArrayDict.__init__).parameters[
    "check_function"].default


def _array_dict(length: int) -> ArrayDict:
    """``ArrayDict(length)`` without its Python ``__init__`` (same attributes)."""
    d = _NEW_DICT(ArrayDict)
    d.__dict__ = {"check_function": _CHECK_ARRAY_ANNOTATIONS, "length": length}
    return d


class _ListRows:
    """A list column's rows as numpy ``(values, offsets)`` chunk by chunk: a file decoded
    whole has a chunk per row group, and joining them would copy the file's data (and
    hold both copies for a moment)."""

    def __init__(self, col: pa.ChunkedArray) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray]] = []
        self._views: list[_View] = []  # each part's values, to slice objects out of
        self.starts = [0]  # first row of each part, and the number of rows last
        for chunk in col.chunks:
            if len(chunk):
                v, o = _rows(*list_parts(chunk))
                self.parts.append((v, o))
                self._views.append(v.view(_View))
                self.starts.append(self.starts[-1] + len(chunk))

    def span(self, r: int) -> tuple[_View, int, int]:
        """(values, start, stop) of row ``r``."""
        k = bisect.bisect_right(self.starts, r) - 1
        o = self.parts[k][1]
        r -= self.starts[k]
        return self._views[k], int(o[r]), int(o[r + 1])


def list_parts(arr: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(values, offsets) of a list column as numpy (zero-copy for one float64 chunk).

    Offsets are used as they are (a sliced array's need not start at 0), because ``.values``
    ignores a slice offset (apache/arrow#37733).
    """
    if isinstance(arr, pa.ChunkedArray):
        # combine_chunks copies even a single chunk (pyarrow 26): a whole column's worth
        arr = arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
    if arr.null_count:
        raise ValueError("a list column holds nulls")
    offsets = arr.offsets.to_numpy(zero_copy_only=False)
    child = arr.values
    if child.null_count:
        raise ValueError("a list column holds null values")
    values = child.to_numpy(zero_copy_only=len(child) > 0 and child.type == pa.float64())
    return values, offsets


@contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic collector paused while many long-lived objects are made (neo objects
    by the 1e5, the stores of a collection): each collection that runs meanwhile rescans
    every container made so far, and they all stay alive. Measured: 1e5 SpikeTrains cost about
    half as much with it paused; opening 1000 stores 1.8-1.9 s with the collector, 1.2-1.4 s
    without. Cyclic
    garbage made meanwhile waits for the collector's next run after the block; nesting is
    safe (the state found on entry is restored)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
