"""Validated spike columns from neo SpikeTrains (the spike side of :mod:`.neo_convert`).

:func:`_spikes_from_trains` reads a list of ``neo.SpikeTrain`` and
:func:`_spikes_from_multiplexed` the arrays of a not-yet-materialised multiplexed
``SpikeTrainList`` (PyNN 0.13/NEST, found by :func:`_multiplexed_parts`), both into one
:class:`_SpikeColumns`: neuron ids sorted, spike times concatenated into one float64 array
with offsets, all checked once by :func:`_validate_spikes` (vectorised; no per-spike Python).
Kept apart from the :class:`~.recording.Recording` that holds these columns and from the
signal side (:mod:`.signal_columns`) so that each job reads on its own. The neuron id, dtype
and unit helpers (:func:`_ids_array`, :func:`_check_dtype`, :func:`_unit_string`) live here,
the lower of the two sides, and :mod:`.signal_columns` imports them.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

import neo
import numpy as np
import quantities as pq

from .errors import ValidationError

_I64_MIN, _I64_MAX = np.iinfo(np.int64).min, np.iinfo(np.int64).max
_MISSING = object()


def _row_of(offsets: np.ndarray, spike_index: int) -> int:
    return int(np.searchsorted(offsets, spike_index, side="right") - 1)


@dataclass(frozen=True, eq=False)
class _SpikeColumns:
    neuron_id: np.ndarray  # int64, sorted, unique
    units: str
    t_start: np.ndarray  # float64 per row
    t_stop: np.ndarray
    offsets: np.ndarray  # int64, n + 1
    values: np.ndarray  # float64


def _multiplexed_parts(trains: Any) -> dict[str, Any] | None:
    """The arrays of a not-yet-materialised multiplexed ``SpikeTrainList`` (PyNN 0.13/NEST).

    Iterating such a list builds every SpikeTrain with a boolean mask over all spikes
    (O(neurons x spikes)); reading its arrays directly keeps the conversion linear. Relies
    on neo's private attributes, so anything unexpected falls back to iteration (None).
    """
    if not isinstance(trains, neo.core.spiketrainlist.SpikeTrainList):
        return None
    d = trains.__dict__
    if d.get("_items", _MISSING) is not None or d.get("_spike_time_array") is None:
        return None
    if not isinstance(d.get("_all_channel_ids"), list | tuple | np.ndarray):
        return None  # e.g. a set after neo's list addition: iterate instead
    if d.get("_channel_id_array") is None:
        return None
    meta = d.get("_spiketrain_metadata") or {}
    if "t_start" not in meta or "t_stop" not in meta:
        return None
    return {
        "times": d["_spike_time_array"],
        "channel": d["_channel_id_array"],
        "all_ids": d["_all_channel_ids"],
        "t_start": meta["t_start"],
        "t_stop": meta["t_stop"],
        "annotations": d.get("_annotations") or {},
    }


def _as_id(x: Any) -> int:
    """An integral neuron id (int, numpy integer, PyNN ID, 0-d/1-element integer array)."""
    if isinstance(x, bool | np.bool_):
        raise TypeError("a boolean is not a neuron id")
    if isinstance(x, np.ndarray) and x.size == 1 and x.dtype.kind in "iu":
        x = x.reshape(()).item()
    v = operator.index(x)
    if not _I64_MIN <= v <= _I64_MAX:
        raise OverflowError(f"neuron id {v} does not fit in int64")
    return v


def _ids_array(ids: Any, what: str) -> np.ndarray:
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise ValidationError(f"{what}: neuron ids must be a 1-D sequence, got shape {arr.shape}")
    if arr.dtype.kind == "i":
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind == "u":
        if arr.size and arr.max() > _I64_MAX:
            raise ValidationError(f"{what}: neuron id {arr.max()} does not fit in int64")
        return arr.astype(np.int64)
    if arr.dtype.kind == "O" or arr.size == 0:
        try:
            return np.array([_as_id(x) for x in arr.tolist()], dtype=np.int64)
        except (TypeError, OverflowError) as e:
            raise ValidationError(f"{what}: neuron ids must be integers ({e})") from None
    raise ValidationError(f"{what}: neuron ids must be integers, got dtype {arr.dtype}")


def _check_dtype(dtype: np.dtype, what: str) -> None:
    if dtype.kind in "iu" or (dtype.kind == "f" and dtype.itemsize <= 8):
        return
    raise ValidationError(f"{what}: values of dtype {dtype} cannot be stored as float64 exactly")


def _unit_string(q: Any) -> str:
    return q._dimensionality.string


def _scalar(q: Any, dim: Any, units: Any, what: str) -> float:
    """``q`` (a Quantity scalar or plain number) as a float in the units of ``dim``."""
    if q is None:
        raise ValidationError(f"{what} is None")
    qd = getattr(q, "_dimensionality", None)
    if qd is not None and not dict.__eq__(qd, dim):
        if qd.string != dim.string:
            try:
                q = q.rescale(units)
            except ValueError as e:
                raise ValidationError(f"{what} is in {qd.string}, not a time unit ({e})") from None
    try:
        return float(q)
    except (TypeError, ValueError) as e:
        raise ValidationError(f"{what} is not a number: {q!r}") from e


def _spikes_from_trains(trains: list, where: str) -> _SpikeColumns:
    n = len(trains)
    for i, st in enumerate(trains):
        if not isinstance(st, neo.SpikeTrain):
            raise ValidationError(
                f"spiketrains[{i}] {where} is a {type(st).__name__}, not a neo.SpikeTrain"
            )
    ref = trains[0]._dimensionality
    ref_units = trains[0].units
    ref_string = ref.string
    deq = dict.__eq__
    ids: list[Any] = []
    arrs: list[np.ndarray] = []
    t_start: list[float] = []
    t_stop: list[float] = []
    for i, st in enumerate(trains):
        ann = st.annotations
        nid = ann.get("channel_id", _MISSING)
        sid = ann.get("source_id", _MISSING)
        if nid is _MISSING:
            nid = sid
        elif sid is not _MISSING and not _same_id(sid, nid):
            raise ValidationError(
                f"spike train #{i} {where}: annotations channel_id={nid!r} and "
                f"source_id={sid!r} disagree"
            )
        if nid is _MISSING or nid is None:
            raise ValidationError(
                f"spike train #{i} {where}: no neuron id (annotation 'channel_id' or 'source_id')"
            )
        ids.append(nid)
        d = st._dimensionality
        if not deq(d, ref) and d.string != ref_string:
            raise ValidationError(
                f"spike trains {where} in different time units: {ref_string} and {d.string} "
                f"(spike train #{i}); convert them to one unit before adding"
            )
        arrs.append(st.view(np.ndarray))
        ts, tp = st.t_start, st.t_stop
        if ts is None or tp is None:
            raise ValidationError(f"spike train #{i} {where}: t_start or t_stop is None")
        td = getattr(ts, "_dimensionality", None)
        t_start.append(
            float(ts)
            if td is not None and deq(td, d)
            else _scalar(ts, d, ref_units, f"t_start of spike train #{i} {where}")
        )
        td = getattr(tp, "_dimensionality", None)
        t_stop.append(
            float(tp)
            if td is not None and deq(td, d)
            else _scalar(tp, d, ref_units, f"t_stop of spike train #{i} {where}")
        )
    id_arr = _train_ids(ids, where)
    for dt in {a.dtype for a in arrs}:
        _check_dtype(dt, f"spike times {where}")
    for nd in {a.ndim for a in arrs}:
        if nd != 1:
            raise ValidationError(f"spike times {where}: a spike train is not 1-D")
    order = np.argsort(id_arr, kind="stable")
    if np.any(order != np.arange(n)):
        id_arr = id_arr[order]
        ol = order.tolist()
        arrs = [arrs[k] for k in ol]
        t_start = [t_start[k] for k in ol]
        t_stop = [t_stop[k] for k in ol]
    counts = np.fromiter((a.shape[0] for a in arrs), dtype=np.int64, count=n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    if offsets[-1]:
        values = np.concatenate(arrs, dtype=np.float64, casting="same_kind")
    else:
        values = np.empty(0, dtype=np.float64)
    cols = _SpikeColumns(
        neuron_id=id_arr,
        units=ref_string,
        t_start=np.array(t_start, dtype=np.float64),
        t_stop=np.array(t_stop, dtype=np.float64),
        offsets=offsets,
        values=values,
    )
    _validate_spikes(cols, where)
    return cols


def _train_ids(ids: list[Any], where: str) -> np.ndarray:
    types = set(map(type, ids))
    if all(issubclass(t, int | np.integer) and not issubclass(t, bool | np.bool_) for t in types):
        try:
            return np.array(ids, dtype=np.int64)
        except OverflowError:
            pass
    try:
        return np.array([_as_id(x) for x in ids], dtype=np.int64)
    except (TypeError, OverflowError, ValueError):
        bad = next(i for i, x in enumerate(ids) if not _is_id(x))
        raise ValidationError(
            f"spike train #{bad} {where}: neuron id {ids[bad]!r} is not an integer "
            "(that fits in int64)"
        ) from None


def _same_id(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # e.g. arrays
        return False


def _is_id(x: Any) -> bool:
    try:
        _as_id(x)
    except (TypeError, OverflowError, ValueError):
        return False
    return True


def _spikes_from_multiplexed(m: dict[str, Any], where: str) -> _SpikeColumns:
    times = m["times"]
    dim = getattr(times, "_dimensionality", None)
    if dim is None:
        raise ValidationError(f"multiplexed spike times {where} have no units")
    units = times.units
    mag = np.asarray(times.view(np.ndarray) if isinstance(times, pq.Quantity) else times)
    if mag.ndim != 1:
        raise ValidationError(f"multiplexed spike times {where} are not 1-D")
    _check_dtype(mag.dtype, f"spike times {where}")
    all_ids = _ids_array(m["all_ids"], f"spike trains {where}")
    n = len(all_ids)
    sort_ids = np.argsort(all_ids, kind="stable")
    ids = all_ids[sort_ids]
    channel = _ids_array(m["channel"], f"spike channel ids {where}")
    if len(channel) != len(mag):
        raise ValidationError(
            f"multiplexed spike trains {where}: {len(mag)} spike times but {len(channel)} "
            "channel ids"
        )
    if n == 0:
        if len(mag):
            raise ValidationError(f"multiplexed spike trains {where}: spikes but no channels")
        pos = channel
    else:
        if int(ids[-1]) - int(ids[0]) == n - 1:  # contiguous ids (PyNN): no search needed
            pos = channel - ids[0]
            unknown = (pos < 0) | (pos >= n)
        else:
            pos = np.searchsorted(ids, channel)
            unknown = ids[np.minimum(pos, n - 1)] != channel
        if unknown.any():
            raise ValidationError(
                f"multiplexed spike trains {where}: spike of channel {channel[unknown][0]}, "
                "which is not among the spike trains' channel ids"
            )
    if len(pos) > 1 and np.any(pos[1:] < pos[:-1]):
        order = _stable_argsort(pos)
        values = mag[order].astype(np.float64, copy=False)
    else:
        values = mag.astype(np.float64)  # a copy: the table must not alias the caller's array
    counts = np.bincount(pos, minlength=n).astype(np.int64) if n else np.zeros(0, np.int64)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    t0 = _scalar(m["t_start"], dim, units, f"t_start of spike trains {where}")
    t1 = _scalar(m["t_stop"], dim, units, f"t_stop of spike trains {where}")
    cols = _SpikeColumns(
        neuron_id=ids,
        units=dim.string,
        t_start=np.full(n, t0, dtype=np.float64),
        t_stop=np.full(n, t1, dtype=np.float64),
        offsets=offsets,
        values=values,
    )
    _validate_spikes(cols, where)
    return cols


def _stable_argsort(keys: np.ndarray) -> np.ndarray:
    """Stable argsort of int64 keys; polars' sort is ~2x faster than numpy's timsort here."""
    try:
        import polars as pl
    except ImportError:  # pragma: no cover - polars is a dependency
        return np.argsort(keys, kind="stable")
    df = pl.DataFrame({"k": keys}).with_row_index("i")
    return df.sort("k", maintain_order=True)["i"].to_numpy().astype(np.int64, copy=False)


def _validate_spikes(c: _SpikeColumns, where: str) -> None:
    """Every check on the concatenated arrays (vectorised; no per-spike Python)."""
    ids, v, off, u = c.neuron_id, c.values, c.offsets, c.units
    if len(ids) > 1:
        dup = ids[1:] == ids[:-1]
        if dup.any():
            raise ValidationError(
                f"duplicate neuron id {ids[1:][dup][0]} among the spike trains {where}"
            )
    for name, arr in (("t_start", c.t_start), ("t_stop", c.t_stop)):
        bad = np.isnan(arr)
        if bad.any():
            r = int(np.argmax(bad))
            raise ValidationError(f"spike train of neuron {ids[r]} {where}: {name} is NaN")
    bad = c.t_start > c.t_stop
    if bad.any():
        r = int(np.argmax(bad))
        raise ValidationError(
            f"spike train of neuron {ids[r]} {where}: t_start {c.t_start[r]} {u} is after "
            f"t_stop {c.t_stop[r]} {u}"
        )
    if not len(v):
        return
    nan = np.isnan(v)
    if nan.any():
        r = _row_of(off, int(np.argmax(nan)))
        raise ValidationError(f"spike train of neuron {ids[r]} {where}: NaN spike time")
    if len(v) > 1:
        down = v[1:] < v[:-1]  # down[k]: v[k+1] < v[k]
        bounds = off[1:-1] - 1  # k where v[k] ends one row and v[k+1] starts the next
        bounds = bounds[(bounds >= 0) & (bounds < len(down))]
        down[bounds] = False
        if down.any():
            k = int(np.argmax(down))
            r = _row_of(off, k)
            raise ValidationError(
                f"spike train of neuron {ids[r]} {where}: times not sorted "
                f"({v[k + 1]!r} {u} after {v[k]!r} {u})"
            )
    # sorted within rows: the first and last spike of each row bound it
    nonempty = off[1:] > off[:-1]
    rows = np.flatnonzero(nonempty)
    first = v[off[:-1][nonempty]]
    last = v[off[1:][nonempty] - 1]
    early = first < c.t_start[nonempty]
    if early.any():
        j = int(np.argmax(early))
        r = rows[j]
        raise ValidationError(
            f"spike train of neuron {ids[r]} {where}: spike at {first[j]!r} {u} before "
            f"t_start {c.t_start[r]!r} {u}"
        )
    late = last > c.t_stop[nonempty]
    if late.any():
        j = int(np.argmax(late))
        r = rows[j]
        raise ValidationError(
            f"spike train of neuron {ids[r]} {where}: spike at {last[j]!r} {u} after "
            f"t_stop {c.t_stop[r]!r} {u}"
        )
