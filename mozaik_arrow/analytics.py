"""Vectorised spike-train statistics over ragged (values, offsets) arrays.

Every function here takes the flat float64 ``values`` of many spike trains and their
``offsets`` (train ``i`` is ``values[offsets[i]:offsets[i + 1]]``), exactly as an Arrow
``LargeListArray`` holds them, and computes one result per train with numpy reductions — no
Python loop over trains or spikes. The rules follow mozaik's ``MozaikSegment`` exactly (see
``reference/mozaik_semantics.md``).

The frame functions (:func:`isi_expr`, :func:`cv_isi_expr`, :func:`spike_statistics`,
:func:`binned_counts`) compute the same statistics as polars expressions over the ``times``
list column of a spikes frame (``dsv.spikes()``), lazily, one row per neuron per recording;
their results agree with Elephant's ``isi``, ``cv``, ``mean_firing_rate`` and
``BinnedSpikeTrain`` (``tests/test_elephant.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import quantities as pq

if TYPE_CHECKING:  # a view is only duck-typed here (it has .spikes()): no import upwards
    from .view import DataStoreView

__all__ = ["seconds_per_unit", "mean_rates", "window_counts", "isi", "cv_isi", "cv_isi_array",
           "isi_expr", "cv_isi_expr", "spike_statistics", "binned_counts"]

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
    out: list[float | None] = arr.tolist()  # 30x faster than a per-value comprehension
    for i in np.flatnonzero(np.isnan(arr)).tolist():
        out[i] = None
    return out


# -- the same statistics as polars expressions over a spikes frame ------------------------------
_META = ["segment_id", "sheet_name", "stimulus", "null", "neuron_id", "units", "t_start", "t_stop"]


def _spikes_frame(source: DataStoreView | pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    """The spikes frame of a view (``source.spikes()``), or ``source`` itself as a LazyFrame."""
    if isinstance(source, pl.DataFrame):
        return source.lazy()
    if isinstance(source, pl.LazyFrame):
        return source
    return source.spikes()


def _per_unit(spikes: pl.LazyFrame, values: Callable[[str], float]) -> pl.Expr:
    """An expression mapping the ``units`` column through ``values(unit string)``.

    Reads the distinct unit strings of the frame (one small dictionary-encoded column; in
    practice one value) so the mapping is a plain ``replace_strict``.
    """
    units = spikes.select(pl.col("units").unique()).collect().to_series().to_list()
    mapping = {u: float(values(u)) for u in units if u is not None}
    return pl.col("units").replace_strict(mapping, default=None, return_dtype=pl.Float64)


def isi_expr(times: str = "times") -> pl.Expr:
    """Inter-spike intervals of each train of a list column (``numpy.diff`` of each row).

    Parameters
    ----------
    times : str
        Name of the ``list[f64]`` column of spike times (sorted within each row).

    Returns
    -------
    polars.Expr
        A ``list[f64]`` expression: ``len - 1`` intervals per row (empty for 0 or 1 spikes),
        in the units of the times.

    Examples
    --------
    >>> dsv.spikes().select("neuron_id", isi=isi_expr()).collect()  # doctest: +SKIP
    """
    return pl.col(times).list.diff(null_behavior="drop")


def cv_isi_expr(times: str = "times") -> pl.Expr:
    """Coefficient of variation of each train's ISIs, mozaik's rule (see :func:`cv_isi_array`).

    ``std(isi) / mean(isi)`` with the population standard deviation (``ddof=0``, as
    ``numpy.std`` and Elephant's ``cv``), null for trains with four intervals or fewer.

    Parameters
    ----------
    times : str
        Name of the ``list[f64]`` column of spike times.

    Returns
    -------
    polars.Expr
        A ``f64`` expression, null where undefined.
    """
    d = isi_expr(times)
    return pl.when(d.list.len() > 4).then(d.list.std(ddof=0) / d.list.mean())


def spike_statistics(
    source: DataStoreView | pl.LazyFrame | pl.DataFrame, *, with_isi: bool = False
) -> pl.LazyFrame:
    """Per-train statistics of a view (or of a spikes frame), lazily.

    Parameters
    ----------
    source : DataStoreView or polars.LazyFrame or polars.DataFrame
        A view (its ``spikes()`` frame is used) or a frame with the columns of
        ``dsv.spikes()``.
    with_isi : bool
        Also return the intervals themselves (``isi``, a list column, in ``units``).

    Returns
    -------
    polars.LazyFrame
        One row per neuron per recording, in the frame's order: ``segment_id``,
        ``sheet_name``, ``stimulus``, ``null``, ``neuron_id``, ``units``, ``t_start``,
        ``t_stop``, ``n_spikes``, ``rate_hz`` (``n_spikes / (t_stop - t_start)`` in spikes/s, as
        ``MozaikSegment.mean_rates``), ``cv_isi`` (null where undefined), and ``isi`` if asked.
    """
    spikes = _spikes_frame(source)
    to_s = _per_unit(spikes, seconds_per_unit)
    cols = [*_META, "n_spikes",
            (pl.col("n_spikes") / ((pl.col("t_stop") - pl.col("t_start")) * to_s)).alias("rate_hz"),
            cv_isi_expr().alias("cv_isi")]
    if with_isi:
        cols.append(isi_expr().alias("isi"))
    return spikes.select(cols)


def binned_counts(
    source: DataStoreView | pl.LazyFrame | pl.DataFrame,
    bin_size: float | pq.Quantity,
    *,
    tolerance: float | None = 1e-8,
    long: bool = False,
) -> pl.LazyFrame:
    """Spike counts of every train in bins of ``bin_size`` from its recording's ``t_start``.

    The rules are Elephant's ``BinnedSpikeTrain`` (``elephant.conversion``) applied to each
    train over its own ``[t_start, t_stop]``: ``n_bins = floor((t_stop - t_start) /
    bin_size)``; a spike at ``t`` falls in bin ``floor((t - t_start) * (1 / bin_size))``; a
    value within ``tolerance`` below the next integer is rounded up (Elephant's
    ``round_binning_errors``; ``None`` turns that off); spikes beyond the last whole bin are
    dropped. Computed with polars expressions (explode, group by, join): no Python loop over
    spikes or trains.

    Parameters
    ----------
    source : DataStoreView or polars.LazyFrame or polars.DataFrame
        A view (its ``spikes()`` frame is used) or a frame with the columns of ``dsv.spikes()``.
    bin_size : float or quantities.Quantity
        Bin width: a float is in each recording's own time units (the ``units`` column, ms for
        PyNN); a Quantity is rescaled to them.
    tolerance : float or None
        Elephant's binning tolerance (default ``1e-8``, as Elephant's).
    long : bool
        False (default): one row per train with a ``counts`` list. True: one row per train per
        bin (empty bins included) with ``bin`` and ``count``.

    Returns
    -------
    polars.LazyFrame
        ``segment_id``, ``sheet_name``, ``stimulus``, ``null``, ``neuron_id``, ``units``,
        ``t_start``, ``t_stop``, ``bin_size`` (in ``units``), ``n_bins``, then ``counts``
        (``list[u32]`` of length ``n_bins``) or ``bin`` (i64) and ``count`` (u32); rows in the
        frame's order (bins ascending within a train). Bin ``k`` of a train covers
        ``[t_start + k * bin_size, t_start + (k + 1) * bin_size)``.

    Raises
    ------
    ValueError
        If ``bin_size`` is not positive and finite, or a Quantity that is not a time.

    Examples
    --------
    >>> binned_counts(dsv, 5 * pq.ms).collect()  # doctest: +SKIP
    """
    spikes = _spikes_frame(source)
    if isinstance(bin_size, pq.Quantity):
        try:
            pq.Quantity(1.0, "s").rescale(bin_size.units)
        except ValueError:
            raise ValueError(f"bin_size {bin_size} is not a time") from None
        magnitude = float(bin_size.simplified.magnitude)
        width = _per_unit(spikes, lambda u: bin_size.rescale(u).item())  # as Elephant rescales
    else:
        magnitude = float(bin_size)
        width = pl.lit(magnitude, pl.Float64)
    if not np.isfinite(magnitude) or magnitude <= 0:
        raise ValueError(f"bin_size must be positive and finite, not {bin_size}")
    tol = 0.0 if tolerance is None else float(tolerance)

    def whole(x: pl.Expr) -> pl.Expr:  # Elephant's round_binning_errors, as an expression
        up = (x % 1.0) >= (1.0 - tol) if tol > 0 else pl.lit(False)
        return (x.floor() + up.cast(pl.Float64)).cast(pl.Int64)

    rows = (
        spikes.with_row_index("_row")
        .with_columns(width.alias("bin_size"))
        .with_columns(whole((pl.col("t_stop") - pl.col("t_start")) / pl.col("bin_size"))
                      .clip(lower_bound=0).alias("n_bins"))
    )
    x = (pl.col("times") - pl.col("t_start")) * (1.0 / pl.col("bin_size"))
    hits = (
        rows.select("_row", "t_start", "t_stop", "bin_size", "n_bins", "times")
        .explode("times")
        .filter(pl.col("times").is_between(pl.col("t_start"), pl.col("t_stop")))
        .select("_row", "n_bins", whole(x).alias("bin"))
        .filter(pl.col("bin") < pl.col("n_bins"))
        .group_by("_row", "bin")
        .agg(pl.len().cast(pl.UInt32).alias("count"))
    )
    grid = (
        rows.select("_row", pl.int_ranges(0, pl.col("n_bins"), dtype=pl.Int64).alias("bin"))
        .explode("bin")
        .drop_nulls("bin")
    )
    dense = grid.join(hits, on=["_row", "bin"], how="left", maintain_order="left").with_columns(
        pl.col("count").fill_null(0))
    meta = rows.select("_row", *_META, "bin_size", "n_bins")
    if long:
        return meta.join(dense, on="_row", how="inner", maintain_order="right").drop("_row")
    lists = dense.group_by("_row", maintain_order=True).agg(pl.col("count").alias("counts"))
    return (
        meta.join(lists, on="_row", how="left", maintain_order="left")
        .with_columns(pl.col("counts").fill_null(pl.lit([], pl.List(pl.UInt32))))
        .drop("_row")
    )
