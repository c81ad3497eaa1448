"""neo AnalogSignals from the store's Arrow buffers (the signal side of the read direction of
:mod:`.neo_convert`).

:func:`analogsignal_from_arrow` builds the 2-D (T x N) ``neo.AnalogSignal`` PyNN produces, as
a zero-copy (Fortran-ordered) view; :func:`analogsignals_from_table` does the same from an
Arrow signals table of the store (any chunking), :class:`SignalRows` serves one neuron's
(T x 1) signal at a time from a kept table, and :func:`analogsignal_column` is mozaik's
single-neuron indexing of a 2-D signal. The views and time-unit caches shared with the spike
side (:mod:`.spike_read`) are in :mod:`.neo_views`.
See :mod:`.neo_convert` for what "read-only results" means for the objects returned.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import neo
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import quantities as pq

from .neo_views import _array_dict, _ListRows, _rows, _time_dim, _time_scalar_of, list_parts

__all__ = [
    "SignalRows",
    "analogsignal_from_arrow",
    "analogsignals_from_table",
    "analogsignal_column",
]

_MISSING = object()


def _rate_for_period(period: float, time_units: str) -> pq.Quantity:
    """``1/period`` as neo computes it, nudged by an ulp when needed so that neo's
    ``sampling_period`` (``1/sampling_rate``) gives back ``period`` bit for bit. Cached and
    read-only (shared by the signals of equal sampling period)."""
    return _rate_cached(int(np.float64(period).view(np.int64)), time_units)


@functools.lru_cache(maxsize=1024)
def _rate_cached(period_bits: int, time_units: str) -> pq.Quantity:
    period = float(np.int64(period_bits).view(np.float64))
    rate = 1.0 / pq.Quantity(period, time_units)
    r = float(rate)
    if 1.0 / r != period:
        for c in _neighbours(r):
            if 1.0 / c == period:
                rate = pq.Quantity(c, rate._dimensionality.copy())
                break
    rate.flags.writeable = False
    return rate


def _neighbours(x: float, steps: int = 4) -> list[float]:
    """The ``steps`` floats on each side of ``x``, nearest first."""
    up, down, out = x, x, []
    for _ in range(steps):
        up, down = math.nextafter(up, math.inf), math.nextafter(down, -math.inf)
        out += [up, down]
    return out


def analogsignal_from_arrow(
    name: str,
    neuron_ids: np.ndarray,
    values: np.ndarray,
    offsets: np.ndarray,
    units: str,
    time_units: str,
    t_start: float,
    sampling_period: float,
    *,
    annotations: Mapping[str, Any] | None = None,
    channel_index: Sequence[int] | np.ndarray | None = None,
) -> neo.AnalogSignal:
    """A 2-D (T x N) ``neo.AnalogSignal`` of N rows of equal length, as PyNN builds it.

    The signal is a zero-copy view of ``values`` (the (N x T) row-major block seen
    Fortran-ordered as (T x N)); read-only if ``values`` is. Annotations are ``source_ids``
    and ``channel_ids`` (int64 arrays of ``neuron_ids``) updated with ``annotations`` (e.g.
    ``source_population``; it may also override the id arrays); array_annotations hold
    ``channel_index`` like PyNN's: the neurons' positions in their population, which the
    caller passes (the neurons table's ``index``) -- ``None`` means ``arange(N)``, PyNN's
    value when the whole population is recorded. The sampling rate is ``1/sampling_period``
    as neo computes it (nudged by an ulp in the rare case that is needed for neo's
    ``sampling_period`` to equal ``sampling_period`` exactly).

    ``t_start`` and ``sampling_period`` may be arrays (one per row) if all values are equal.

    Raises
    ------
    ValueError
        Rows of different lengths (or different t_start / sampling period): split them.
    """
    ids = np.asarray(neuron_ids)
    if ids.ndim != 1 or len(ids) == 0:
        raise ValueError("analogsignal_from_arrow needs at least one neuron id (1-D)")
    ids = ids.astype(np.int64, copy=True)
    n = len(ids)
    v, o = _rows(values, offsets)
    if len(o) != n + 1:
        raise ValueError(f"{n} neuron ids need {n + 1} offsets, got {len(o)}")
    lengths = np.diff(o)
    if np.any(lengths != lengths[0]):
        raise ValueError(
            f"signal {name!r}: rows of different lengths ({lengths.min()} to {lengths.max()} "
            "samples) cannot form one AnalogSignal"
        )
    t0 = _one_value(t_start, n, "t_start", name)
    p = _one_value(sampling_period, n, "sampling_period", name)
    T = int(lengths[0])
    start = int(o[0])
    block = v[start : start + n * T].reshape(n, T)
    if channel_index is None:
        ci = np.arange(n, dtype=np.int64)
    else:
        ci = np.asarray(channel_index)
        if ci.shape != (n,):
            raise ValueError(f"channel_index must have {n} entries, got shape {ci.shape}")
    ann: dict[str, Any] = {"source_ids": ids, "channel_ids": ids.copy()}
    if annotations:
        ann.update(annotations)
    dim = _time_dim(time_units)
    return neo.AnalogSignal(
        block.T,
        units=units,
        t_start=_time_scalar_of(time_units, t0, dim),
        sampling_rate=_rate_for_period(p, time_units),
        name=name,
        array_annotations={"channel_index": ci},
        **ann,
    )


@functools.lru_cache(maxsize=256)
def _dim_cached(units: str) -> Any:
    # quantities parses and checks a unit string on every constructor call (~30 us)
    return pq.quantity.validate_dimensionality(units)


class SignalRows:
    """The rows of a whole signals table of one signal as numpy arrays, for reads of one
    neuron at a time (~15 us a signal instead of ~150 through a table and neo's
    constructor).

    Build with :meth:`from_table`; :meth:`signal` gives one neuron's (T x 1)
    ``neo.AnalogSignal``, equal to what :func:`analogsignals_from_table` gives for its row.
    """

    def __init__(self, ids: np.ndarray, rows: _ListRows, units: str, time_units: str,
                 t_start: np.ndarray, sampling_period: np.ndarray) -> None:
        self.ids, self.rows = ids, rows
        self.units, self.time_units = units, time_units
        self.t_start, self.sampling_period = t_start, sampling_period
        self._dim = _dim_cached(units)
        self._time_dim = _time_dim(time_units)

    @classmethod
    def from_table(cls, table: pa.Table) -> SignalRows | None:
        """From a signals table of one signal sorted by ``neuron_id``; None when it is
        empty, its rows have several units or time units, or its samples are not float64
        (the table path handles those)."""
        if table.num_rows == 0 or any(len(table.column(c).unique()) != 1
                                      for c in ("units", "time_units")):
            return None
        col = table.column("samples")
        if col.type.value_type != pa.float64():
            return None
        return cls(table.column("neuron_id").to_numpy(), _ListRows(col),
                   str(table.column("units")[0].as_py()),
                   str(table.column("time_units")[0].as_py()),
                   table.column("t_start").to_numpy(), table.column("sampling_period").to_numpy())

    def signal(self, neuron_id: int, name: str,
               annotations: Mapping[str, Any] | None = None) -> neo.AnalogSignal | None:
        """The (T x 1) signal of ``neuron_id`` (a read-only view), annotated as
        :func:`analogsignal_from_arrow` annotates it; None if the table has no row of it."""
        r = int(np.searchsorted(self.ids, neuron_id))
        if r == len(self.ids) or self.ids[r] != neuron_id:
            return None
        values, a, b = self.rows.span(r)
        period = self.sampling_period[r]
        sig = values[a:b, None]
        sig.__class__ = neo.AnalogSignal
        ids = np.array([neuron_id], dtype=np.int64)
        ann = {"source_ids": ids, "channel_ids": ids.copy()}
        if annotations:
            ann.update(annotations)
        arr_ann = _array_dict(1)
        dict.__setitem__(arr_ann, "channel_index", np.zeros(1, dtype=np.int64))
        # exactly the attributes (and order) neo's __new__/__init__ leave on a new signal
        sig.__dict__ = {
            "_dimensionality": self._dim.copy(),
            "_t_start": _time_scalar_of(self.time_units, self.t_start[r], self._time_dim),
            "_sampling_rate": _rate_for_period(float(period), self.time_units),
            "annotations": ann,
            "array_annotations": arr_ann,
            "name": name,
            "file_origin": None,
            "description": None,
            "segment": None,
        }
        return sig


def _one_value(x: Any, n: int, what: str, name: str) -> float:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 0:
        return float(a)
    if a.shape != (n,) or (n and np.any(a.view(np.int64) != a.view(np.int64)[0])):
        raise ValueError(f"signal {name!r}: rows with different {what} cannot form one signal")
    return float(a[0])


def analogsignals_from_table(
    table: pa.Table | pa.RecordBatch,
    *,
    annotations: Mapping[str, Any] | None = None,
) -> list[neo.AnalogSignal]:
    """The 2-D AnalogSignals of a signals table: one per run of rows sharing ``(name, units,
    time_units, t_start, sampling_period, n_samples)``, in table order (the store sorts rows
    by (name, neuron_id), so that is one signal per name for PyNN data). Zero-copy when a
    group lies in one chunk.
    """
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    if table.num_rows == 0:
        return []
    keys = zip(
        table.column("name").to_pylist(),
        table.column("units").to_pylist(),
        table.column("time_units").to_pylist(),
        table.column("t_start").to_numpy().view(np.int64).tolist(),
        table.column("sampling_period").to_numpy().view(np.int64).tolist(),
        pc.list_value_length(table.column("samples")).to_numpy().tolist(),
        strict=True,
    )
    runs: list[list[int]] = []  # [start, stop) of runs of equal keys
    prev: Any = _MISSING
    for i, k in enumerate(keys):
        if k != prev:
            runs.append([i, i + 1])
            prev = k
        else:
            runs[-1][1] = i + 1
    out = []
    for a, e in runs:
        sub = table.slice(a, e - a)
        if sub.column("samples").num_chunks != 1:
            sub = sub.combine_chunks()
        col = sub.column("samples").chunk(0)
        values, offsets = list_parts(col)
        out.append(
            analogsignal_from_arrow(
                sub.column("name")[0].as_py(),
                sub.column("neuron_id").to_numpy(),
                values,
                offsets,
                sub.column("units")[0].as_py(),
                sub.column("time_units")[0].as_py(),
                sub.column("t_start")[0].as_py(),
                sub.column("sampling_period")[0].as_py(),
                annotations=annotations,
            )
        )
    return out


def analogsignal_column(signal: neo.AnalogSignal, neuron_id: int) -> neo.AnalogSignal:
    """mozaik's single-neuron access to a 2-D signal, exactly as mozaik does it.

    ``signal[:, signal.annotations['source_ids'].tolist().index(neuron_id)]`` (falling back
    to ``channel_ids``): with neo 0.14.6 that is a (T x 1) AnalogSignal view with the
    *parent's* annotations dict (the same object, so ``source_ids`` still lists every
    neuron) and ``array_annotations['channel_index']`` of that one column.

    Raises
    ------
    ValueError
        The neuron id is not among the signal's ids (the message names it).
    """
    ann = signal.annotations
    ids = ann.get("source_ids")
    if ids is None:
        ids = ann.get("channel_ids")
    if ids is None:
        raise ValueError(f"signal {signal.name!r} has no 'source_ids' / 'channel_ids'")
    id_list = ids.tolist() if hasattr(ids, "tolist") else list(ids)
    try:
        idx = id_list.index(neuron_id)
    except ValueError:
        raise ValueError(f"neuron {neuron_id} is not recorded in signal {signal.name!r}") from None
    return signal[:, idx]
