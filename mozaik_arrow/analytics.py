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
    four intervals; the others are undefined.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    base = offsets[0]
    vals = np.asarray(values[base : offsets[-1]], dtype=np.float64)
    lengths = np.diff(offsets)
    n_isi = np.maximum(lengths - 1, 0)
    out = np.full(len(lengths), np.nan)
    if len(vals) < 2:
        return out
    diffs = np.diff(vals)
    # Drop the differences that straddle two trains, then reduce per train with bincount.
    rows = _row_index(offsets - base)
    keep = rows[1:] == rows[:-1]
    d = diffs[keep]
    r = rows[1:][keep]
    n = len(lengths)
    s1 = np.bincount(r, weights=d, minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = s1 / n_isi
        # Two-pass variance: subtract each train's mean before squaring (stable for long trains).
        dev = d - mean[r]
        var = np.bincount(r, weights=dev * dev, minlength=n) / n_isi
        cv = np.sqrt(var) / mean
    ok = n_isi > 4
    out[ok] = cv[ok]
    return out


def cv_isi(values: np.ndarray, offsets: np.ndarray) -> list[float | None]:
    """Like :func:`cv_isi_array` but as mozaik returns it: a list with ``None`` where undefined."""
    arr = cv_isi_array(values, offsets)
    return [None if np.isnan(v) else float(v) for v in arr.tolist()]
