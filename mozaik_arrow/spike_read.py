"""neo SpikeTrains from the store's Arrow buffers (the spike side of the read direction of
:mod:`.neo_convert`).

:func:`spiketrains_from_arrow` builds ``neo.SpikeTrain`` objects as numpy views over the
Arrow values buffer (no per-spike Python, no copy) that equal constructor-built ones
attribute by attribute; :func:`spiketrains_from_table` does the same from an Arrow spikes
table of the store (any chunking), and :class:`SpikeRows` serves one neuron at a time from a
file decoded whole. The views and time-unit caches shared with the signal side
(:mod:`.signal_read`) are in :mod:`.neo_views`.
See :mod:`.neo_convert` for what "read-only results" means for the objects returned.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import neo
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import quantities as pq
from neo.core.spiketrainlist import SpikeTrainList

from .neo_views import (
    _array_dict,
    _ListRows,
    _rows,
    _time_dim,
    _time_scalar,
    _time_scalar_of,
    _View,
    gc_paused,
    list_parts,
)

__all__ = [
    "SpikeRows",
    "spiketrains_from_arrow",
    "spiketrain_list",
    "spiketrains_from_table",
]

# The very object neo's SpikeTrain constructor uses as default sampling_rate (shared by every
# constructed train), so that fast-path trains are indistinguishable from constructed ones.
_DEFAULT_SAMPLING_RATE = (
    inspect.signature(neo.SpikeTrain.__new__).parameters["sampling_rate"].default
)


def _per_row(x: Any, n: int, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 0:
        return np.full(n, float(a))
    if a.shape != (n,):
        raise ValueError(f"{what} must be a scalar or have one value per row ({n}), got {a.shape}")
    return a


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
    segment: neo.Segment | None = None,
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
    segment : neo.Segment, optional
        The ``segment`` every train links to (set here rather than by a loop afterwards).

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

    ts_q, tp_q = _scalars(ts, ukey, dim), _scalars(tp, ukey, dim)
    if ids.dtype.kind not in "iu":
        raise ValueError(f"neuron_ids must be integers, got dtype {ids.dtype}")
    id_list = ids.astype(np.int64, copy=False).tolist()
    off = o.tolist()
    extra = dict(annotations) if annotations else None
    train, view = _train, v.view(_View)
    trains: list[neo.SpikeTrain] = []
    append = trains.append
    with gc_paused():
        for i in range(n):
            k = id_list[i]
            ann = {"source_id": k, "channel_id": k} if extra is None else {
                **extra, "source_id": k, "channel_id": k}
            append(train(view, off[i], off[i + 1], dim.copy(), ts_q[i], tp_q[i], ann, segment))
    return trains


def _scalars(arr: np.ndarray, units: str, dim: Any) -> list[pq.Quantity]:
    """The shared Quantity scalar of each value of ``arr`` (t_start or t_stop per row)."""
    bits = arr.view(np.int64)
    if not len(bits):
        return []
    if (bits == bits[0]).all():  # every table the store writes: one value, no loop
        return [_time_scalar_of(units, arr[0], dim)] * len(bits)
    uniq, first, inverse = np.unique(bits, return_index=True, return_inverse=True)
    qs = [_time_scalar(units, b, x, dim)
          for b, x in zip(uniq.tolist(), arr[first].tolist(), strict=True)]
    return [qs[j] for j in inverse.tolist()]


def spiketrain_list(trains: list[neo.SpikeTrain], segment: neo.Segment) -> SpikeTrainList:
    """``SpikeTrainList(items=trains, parent=segment)`` without neo's type check of every
    item (a Python loop, ~10 ms at 1e5 trains): these trains are SpikeTrains by construction."""
    out = SpikeTrainList(parent=segment)
    out._items = trains
    return out


def _train(values: _View, a: int, b: int, dim: Any, t_start: pq.Quantity,
           t_stop: pq.Quantity, annotations: dict[str, Any],
           segment: neo.Segment | None = None) -> neo.SpikeTrain:
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
        "segment": segment,
        "unit": None,
        "annotations": annotations,
        "array_annotations": _array_dict(b - a),
        "name": None,
        "file_origin": None,
        "description": None,
    }
    return st


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


def _batches(table: pa.Table | pa.RecordBatch) -> list[pa.RecordBatch]:
    if isinstance(table, pa.RecordBatch):
        return [table]
    return [b for b in table.to_batches() if b.num_rows]


def spiketrains_from_table(
    table: pa.Table | pa.RecordBatch,
    *,
    annotations: Mapping[str, Any] | None = None,
    check: bool = True,
    segment: neo.Segment | None = None,
) -> list[neo.SpikeTrain]:
    """SpikeTrains of every row of a spikes table, in row order (zero-copy per chunk).

    Needs the columns ``neuron_id``, ``units``, ``t_start``, ``t_stop`` and ``times``; any
    chunking (one chunk per row group, slices) is handled without ``combine_chunks``.
    ``annotations``, ``check`` and ``segment`` are as in :func:`spiketrains_from_arrow`.
    """
    with gc_paused():  # over every batch: the collector would rescan the trains made so far
        return _spiketrains_of_batches(table, annotations, check, segment)


def _spiketrains_of_batches(table: pa.Table | pa.RecordBatch,
                            annotations: Mapping[str, Any] | None, check: bool,
                            segment: neo.Segment | None) -> list[neo.SpikeTrain]:
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
                    segment=segment,
                )
            )
    return out
