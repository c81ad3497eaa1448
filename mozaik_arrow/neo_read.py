"""neo objects from the store's Arrow buffers (the read direction of :mod:`.neo_convert`).

:func:`spiketrains_from_arrow` builds ``neo.SpikeTrain`` objects as numpy views over the
Arrow values buffer (no per-spike Python, no copy) that equal constructor-built ones
attribute by attribute; :func:`analogsignal_from_arrow` builds the 2-D (T x N)
``neo.AnalogSignal`` PyNN produces, as a zero-copy (Fortran-ordered) view.
:func:`spiketrains_from_table` / :func:`analogsignals_from_table` do the same from an Arrow
table of the store (any chunking), :func:`analogsignal_column` is mozaik's single-neuron
indexing of a 2-D signal, :func:`list_parts` the (values, offsets) of a list column.
See :mod:`.neo_convert` for what "read-only results" means for the objects returned.
"""

from __future__ import annotations

import bisect
import functools
import gc
import inspect
import math
from collections.abc import Mapping, Sequence
from typing import Any

import neo
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import quantities as pq
from neo.core.dataobject import ArrayDict

__all__ = [
    "SignalRows",
    "SpikeRows",
    "spiketrains_from_arrow",
    "spiketrains_from_table",
    "analogsignal_from_arrow",
    "analogsignals_from_table",
    "analogsignal_column",
    "list_parts",
]

_F64 = np.dtype(np.float64)
# The very object neo's SpikeTrain constructor uses as default sampling_rate (shared by every
# constructed train), so that fast-path trains are indistinguishable from constructed ones.
_DEFAULT_SAMPLING_RATE = (
    inspect.signature(neo.SpikeTrain.__new__).parameters["sampling_rate"].default
)


_MISSING = object()


def _row_of(offsets: np.ndarray, spike_index: int) -> int:
    return int(np.searchsorted(offsets, spike_index, side="right") - 1)



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


def _per_row(x: Any, n: int, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 0:
        return np.full(n, float(a))
    if a.shape != (n,):
        raise ValueError(f"{what} must be a scalar or have one value per row ({n}), got {a.shape}")
    return a


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


def spiketrains_from_arrow(
    neuron_ids: np.ndarray,
    values: np.ndarray,
    offsets: np.ndarray,
    units: str,
    t_start: np.ndarray | float,
    t_stop: np.ndarray | float,
    *,
    annotations: Mapping[str, Any] | None = None,
    check: bool = True,
) -> list[neo.SpikeTrain]:
    """One ``neo.SpikeTrain`` per row, each a zero-copy view of ``values[offsets[i]:offsets[i+1]]``.

    Parameters
    ----------
    neuron_ids : int array (n,)
    values : float64 array
        The ``values`` of a ``large_list<float64>`` column (``arr.values.to_numpy()``, offsets
        absolute) or its ``flatten()`` (offsets rebased by ``offsets[0]``); both are detected.
        A read-only buffer gives read-only trains (see the module docstring).
    offsets : int array (n + 1,)
    units : str
        Time units of values, t_start and t_stop (``"ms"``).
    t_start, t_stop : float arrays (n,) or scalars
    annotations : mapping, optional
        Extra annotations copied into every train (e.g. ``source_population``).
    check : bool
        Check, vectorised, what neo's constructor checks (``t_start <= times <= t_stop``).

    Each train equals ``neo.SpikeTrain(times, units=units, t_start=t_start[i],
    t_stop=t_stop[i], source_id=id, channel_id=id)`` attribute by attribute (``t_start`` /
    ``t_stop`` are float64 Quantity scalars shared by trains with bit-identical values, and
    read-only; ``sampling_rate`` is neo's own default object). Cost, measured on 1e5 trains:
    ~3.5-4 us per train of CPU (5-6 before the views skipped ``__array_finalize__``), more
    when the ~1.5 KB of Python objects per train lands on fresh memory (page faults);
    neo's constructor takes ~180-300 us. One call for one neuron: ~20-30 us. The garbage
    collector is paused while the objects are created (and restored after), which halves
    the cost.
    """
    ids = np.asarray(neuron_ids)
    if ids.ndim != 1:
        raise ValueError("neuron_ids must be 1-D")
    n = len(ids)
    v, o = _rows(values, offsets)
    if len(o) != n + 1:
        raise ValueError(f"{n} neuron ids need {n + 1} offsets, got {len(o)}")
    dim = _time_dim(units)
    ts = _per_row(t_start, n, "t_start")
    tp = _per_row(t_stop, n, "t_stop")
    if check and n:
        _check_range(ids, v, o, ts, tp, units)
    ukey = units if isinstance(units, str) else repr(units)

    def scalars(arr: np.ndarray) -> list[pq.Quantity]:
        local: dict[int, pq.Quantity] = {}
        out = []
        for bits, x in zip(arr.view(np.int64).tolist(), arr.tolist(), strict=True):
            q = local.get(bits)
            if q is None:
                q = local[bits] = _time_scalar(ukey, bits, x, dim)
            out.append(q)
        return out

    ts_q, tp_q = scalars(ts), scalars(tp)
    if ids.dtype.kind not in "iu":
        raise ValueError(f"neuron_ids must be integers, got dtype {ids.dtype}")
    id_list = ids.astype(np.int64, copy=False).tolist()
    off = o.tolist()
    extra = dict(annotations) if annotations else None
    train, view = _train, v.view(_View)
    trains: list[neo.SpikeTrain] = []
    append = trains.append
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for i in range(n):
            k = id_list[i]
            ann = {"source_id": k, "channel_id": k} if extra is None else {
                **extra, "source_id": k, "channel_id": k}
            append(train(view, off[i], off[i + 1], dim.copy(), ts_q[i], tp_q[i], ann))
    finally:
        if was_enabled:
            gc.enable()
    return trains


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


def _train(values: _View, a: int, b: int, dim: Any, t_start: pq.Quantity,
           t_stop: pq.Quantity, annotations: dict[str, Any]) -> neo.SpikeTrain:
    """The train of ``values[a:b]`` (a view), built without neo's constructor."""
    # slicing a _View (~0.3 us) is cheaper than ndarray.__new__ over a buffer (~1 us)
    st = values[a:b]
    st.__class__ = neo.SpikeTrain
    # exactly the attributes (and order) neo's __new__/__init__ leave on a new train
    st.__dict__ = {
        "_dimensionality": dim,
        "t_start": t_start,
        "t_stop": t_stop,
        "waveforms": None,
        "left_sweep": None,
        "sampling_rate": _DEFAULT_SAMPLING_RATE,
        "segment": None,
        "unit": None,
        "annotations": annotations,
        "array_annotations": _array_dict(b - a),
        "name": None,
        "file_origin": None,
        "description": None,
    }
    return st


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


class SpikeRows:
    """The spikes of a whole spikes table as numpy arrays, checked once, for reads of one
    neuron at a time (~10 us a train instead of ~100 through a table).

    Build with :meth:`from_table`; :meth:`train` gives one neuron's ``neo.SpikeTrain``,
    equal to what :func:`spiketrains_from_table` gives for its row.
    """

    def __init__(self, ids: np.ndarray, rows: _ListRows, units: str, t_start: np.ndarray,
                 t_stop: np.ndarray, bad: np.ndarray | None = None) -> None:
        self.ids, self.rows = ids, rows
        self.units, self._dim = units, _time_dim(units)
        self.t_start, self.t_stop = t_start, t_stop
        self._bad = bad  # rows neo's constructor would refuse (None: none)

    @classmethod
    def from_table(cls, table: pa.Table) -> SpikeRows | None:
        """From a spikes table sorted by ``neuron_id``; None when its rows have several
        units (the store writes one per file) or it is empty. Rows neo would refuse
        (``t_start <= times <= t_stop`` broken) are found here, once, and left to the
        table path, which names the neuron."""
        if table.num_rows == 0 or len(table.column("units").unique()) != 1:
            return None
        rows = _ListRows(table.column("times"))
        ids = table.column("neuron_id").to_numpy()
        units = str(table.column("units")[0].as_py())
        ts, tp = table.column("t_start").to_numpy(), table.column("t_stop").to_numpy()
        bad = ts > tp
        for (v, o), a, b in zip(rows.parts, rows.starts[:-1], rows.starts[1:], strict=True):
            bad[a + _rows_out_of_range(v, o, ts[a:b], tp[a:b])] = True
        return cls(ids, rows, units, ts, tp, bad if bad.any() else None)

    def train(self, neuron_id: int) -> neo.SpikeTrain | None:
        """The train of ``neuron_id``; None if the table has no row of it, or a row neo
        would refuse."""
        r = int(np.searchsorted(self.ids, neuron_id))
        if r == len(self.ids) or self.ids[r] != neuron_id:
            return None
        if self._bad is not None and self._bad[r]:
            return None
        return _train(*self.rows.span(r), self._dim.copy(),
                      _time_scalar_of(self.units, self.t_start[r], self._dim),
                      _time_scalar_of(self.units, self.t_stop[r], self._dim),
                      {"source_id": int(neuron_id), "channel_id": int(neuron_id)})


def _check_range(ids, v, o, ts, tp, units) -> None:
    """neo's constructor check (``t_start <= times <= t_stop``) for every row, vectorised."""
    bad_row = None
    if len(ids) <= 8:  # one neuron read: numpy's per-call overhead dominates, loop instead
        for r, (a, b, t0, t1) in enumerate(
            zip(o[:-1].tolist(), o[1:].tolist(), ts.tolist(), tp.tolist(), strict=True)
        ):
            if t0 > t1:
                raise ValueError(f"neuron {ids[r]}: t_stop ({t1}) is before t_start ({t0})")
            if b > a and (v[a:b].min() < t0 or v[a:b].max() > t1):
                bad_row = r
                break
    else:
        bad = ts > tp
        if bad.any():
            r = int(np.argmax(bad))
            raise ValueError(f"neuron {ids[r]}: t_stop ({tp[r]}) is before t_start ({ts[r]})")
        out = _rows_out_of_range(v, o, ts, tp)
        if len(out):
            bad_row = int(out[0])
    if bad_row is not None:
        r = bad_row
        raise ValueError(
            f"neuron {ids[r]}: a spike lies outside [t_start, t_stop] = [{ts[r]}, {tp[r]}] {units}"
        )


def _rows_out_of_range(v: np.ndarray, o: np.ndarray, ts: np.ndarray, tp: np.ndarray
                       ) -> np.ndarray:
    """Rows (ascending) with a spike outside their ``[t_start, t_stop]``, vectorised."""
    lo, hi = int(o[0]), int(o[-1])
    if hi <= lo:
        return np.empty(0, dtype=np.int64)
    counts = np.diff(o)
    seg = v[lo:hi]
    out = (seg < np.repeat(ts, counts)) | (seg > np.repeat(tp, counts))
    return np.unique(np.searchsorted(o - lo, np.flatnonzero(out), side="right") - 1)


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


def _batches(table: pa.Table | pa.RecordBatch) -> list[pa.RecordBatch]:
    if isinstance(table, pa.RecordBatch):
        return [table]
    return [b for b in table.to_batches() if b.num_rows]


def spiketrains_from_table(
    table: pa.Table | pa.RecordBatch,
    *,
    annotations: Mapping[str, Any] | None = None,
    check: bool = True,
) -> list[neo.SpikeTrain]:
    """SpikeTrains of every row of a spikes table, in row order (zero-copy per chunk).

    Needs the columns ``neuron_id``, ``units``, ``t_start``, ``t_stop`` and ``times``; any
    chunking (one chunk per row group, slices) is handled without ``combine_chunks``.
    """
    out: list[neo.SpikeTrain] = []
    for b in _batches(table):
        values, offsets = list_parts(b.column("times"))
        ids = b.column("neuron_id").to_numpy()
        ts = b.column("t_start").to_numpy()
        tp = b.column("t_stop").to_numpy()
        ucol = b.column("units")
        if len(pc.unique(ucol)) == 1:  # every table the store writes: no str per row
            units = [ucol[0].as_py()]
            starts, ends = [0], [b.num_rows]
        else:  # runs of equal units
            units = ucol.to_numpy(zero_copy_only=False)
            change = np.flatnonzero(units[1:] != units[:-1]) + 1
            starts = [0, *change.tolist()]
            ends = [*change.tolist(), len(units)]
        for a, e in zip(starts, ends, strict=True):
            out.extend(
                spiketrains_from_arrow(
                    ids[a:e],
                    values,
                    offsets[a : e + 1],
                    str(units[a]),
                    ts[a:e],
                    tp[a:e],
                    annotations=annotations,
                    check=check,
                )
            )
    return out


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
