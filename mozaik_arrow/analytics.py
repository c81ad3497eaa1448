"""Vectorised spike-train statistics over ragged (values, offsets) arrays.

Every function here takes the flat float64 ``values`` of many spike trains and their
``offsets`` (train ``i`` is ``values[offsets[i]:offsets[i + 1]]``), exactly as an Arrow
``LargeListArray`` holds them, and computes one result per train with numpy reductions — no
Python loop over trains or spikes. The rules follow mozaik's ``MozaikSegment`` exactly (see
``reference/mozaik_semantics.md``).
"""

from __future__ import annotations

import numpy as np
import quantities as pq

__all__ = ["seconds_per_unit", "mean_rates", "window_counts", "isi", "cv_isi"]

_SECONDS: dict[str, float] = {}


def seconds_per_unit(units: str) -> float:
    """How many seconds one ``units`` is (``"ms"`` → 0.001), cached per unit string."""
    try:
        return _SECONDS[units]
    except KeyError:
        factor = float(pq.Quantity(1.0, units).rescale(pq.s).magnitude)
        _SECONDS[units] = factor
        return factor


def mean_rates(
    n_spikes: np.ndarray, t_start: np.ndarray, t_stop: np.ndarray, units: str
) -> np.ndarray:
    """Spikes per second of each train: ``n / (t_stop - t_start)`` with the duration in s.

    This needs only the stored spike counts, never the spike times.
    """
    duration = (np.asarray(t_stop, dtype=np.float64) - np.asarray(t_start, dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(n_spikes, dtype=np.float64) / (duration * seconds_per_unit(units))


def _row_index(offsets: np.ndarray) -> np.ndarray:
    """Train index of every value (``repeat(arange(n), lengths)``)."""
    lengths = np.diff(offsets)
    return np.repeat(np.arange(len(lengths)), lengths)


def window_counts(
    values: np.ndarray, offsets: np.ndarray, start: float, end: float
) -> np.ndarray:
    """Number of spikes of each train with ``start <= t <= end`` (neo's ``time_slice`` rule)."""
    offsets = np.asarray(offsets, dtype=np.int64)
    base = offsets[0]
    vals = values[base : offsets[-1]]
    inside = (vals >= start) & (vals <= end)
    return np.bincount(_row_index(offsets - base)[inside], minlength=len(offsets) - 1)


def isi(values: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    """Inter-spike intervals of each train (``numpy.diff`` of each), as views of one array."""
    offsets = np.asarray(offsets, dtype=np.int64)
    base = offsets[0]
    vals = np.asarray(values[base : offsets[-1]], dtype=np.float64)
    diffs = np.diff(vals) if len(vals) else np.empty(0)
    # Train i's intervals are diffs[o_i : o_{i+1} - 1]; empty trains give empty arrays.
    starts = offsets[:-1] - base
    stops = np.maximum(offsets[1:] - base - 1, starts)
    return [diffs[a:b] for a, b in zip(starts.tolist(), stops.tolist(), strict=True)]


def cv_isi_array(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Coefficient of variation of the ISIs of each train, NaN where undefined.

    mozaik's rule: ``std(isi) / mean(isi)`` (population std) for trains with more than
    four intervals; the others are undefined. The sum of a train's intervals telescopes to
    ``last - first``; the sums of squares come from one ``reduceat`` over the squared
    differences, between each train's bounds.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    base = offsets[0]
    vals = np.asarray(values[base : offsets[-1]], dtype=np.float64)
    off = offsets - base
    n_isi = np.maximum(np.diff(off) - 1, 0)
    out = np.full(len(n_isi), np.nan)
    ok = np.flatnonzero(n_isi > 4)
    if len(ok) == 0:
        return out
    # Squared differences, with one spare slot so every bound is a valid reduceat index.
    d = np.zeros(len(vals))
    np.subtract(vals[1:], vals[:-1], out=d[:-1])
    np.multiply(d, d, out=d)
    first, last = off[:-1][ok], off[1:][ok] - 1
    bounds = np.empty(2 * len(ok), dtype=np.int64)
    bounds[0::2], bounds[1::2] = first, last
    sumsq = np.add.reduceat(d, bounds)[0::2]  # d[first:last] of each train
    n = n_isi[ok]
    mean = (vals[last] - vals[first]) / n
    var = np.maximum(sumsq / n - mean * mean, 0.0)
    out[ok] = np.sqrt(var) / mean
    return out


def cv_isi(values: np.ndarray, offsets: np.ndarray) -> list[float | None]:
    """Like :func:`cv_isi_array` but as mozaik returns it: a list with ``None`` where undefined."""
    arr = cv_isi_array(values, offsets)
    return [None if np.isnan(v) else float(v) for v in arr.tolist()]
