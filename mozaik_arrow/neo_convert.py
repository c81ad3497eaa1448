"""Conversion between neo objects and the store's Arrow tables, in both directions.

This is the only module that knows both neo and the on-disk columns (:mod:`.schema`).

Write direction
    :func:`recording_from_segment` validates one ``neo.Segment`` (one sheet) and builds its
    columns once, vectorised; :meth:`Recording.tables` then only adds the ``segment_id``
    column and returns the ``spikes`` and ``signals`` tables (schemas ``SPIKES`` and
    ``SIGNALS``, field docs stripped). Signal samples stay in the segment's (T x N) arrays
    until :meth:`Recording.signals_table` copies the rows asked for, so that a writer can
    transpose a file a few rows at a time. Nothing is rescaled: spike times, ``t_start``,
    ``t_stop`` and samples are kept bit for bit in the units they came in (float32 is widened
    to float64, which is exact).

Read direction (in :mod:`.neo_read`, re-exported here)
    :func:`spiketrains_from_arrow` builds ``neo.SpikeTrain`` objects as numpy views over the
    Arrow values buffer (no per-spike Python, no copy) that equal constructor-built ones
    attribute by attribute; :func:`analogsignal_from_arrow` builds the 2-D (T x N)
    ``neo.AnalogSignal`` PyNN produces, as a zero-copy (Fortran-ordered) view.
    :func:`spiketrains_from_table` / :func:`analogsignals_from_table` do the same from an
    Arrow table of the store (any chunking), :func:`analogsignal_column` is mozaik's
    single-neuron indexing of a 2-D signal.

Read-only results
    Objects built over Arrow buffers are read-only numpy views. Everything that returns a new
    object works (slicing, ``time_slice``, ``rescale``, ``np.diff``, arithmetic, ``merge``,
    ``time_shift``, ``copy``, pickling, iteration); what writes *in place* raises
    ``ValueError: assignment destination is read-only`` instead (``st.sort()``,
    ``st += 1*ms``, ``st.units = "s"``, ``st[0] = ...``). Call ``.copy()`` first for those
    (not ``copy.deepcopy``: neo 0.14.6's deepcopy of a SpikeTrain shares the data of the
    original, so it is read-only too).
    The ``t_start`` / ``t_stop`` Quantity scalars of returned spike trains (and ``t_start`` /
    ``sampling_rate`` of returned signals) are cached, shared between objects with equal
    values, and read-only for the same reason: an in-place change of one must not silently
    move every other (``st.t_start += x`` raises; rebinding, ``st.t_start = x``, is fine).
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import neo
import numpy as np
import pyarrow as pa
import quantities as pq

from . import schema
from .errors import ValidationError

# The read direction lives in .neo_read; re-exported so that this stays the one import.
from .neo_read import (  # noqa: F401 - re-exports
    _row_of,
    analogsignal_column,
    analogsignal_from_arrow,
    analogsignals_from_table,
    list_parts,
    spiketrains_from_arrow,
    spiketrains_from_table,
)

__all__ = [
    "Recording",
    "SPIKES_SCHEMA",
    "SIGNALS_SCHEMA",
    "recording_from_segment",
    "spiketrains_from_arrow",
    "spiketrains_from_table",
    "analogsignal_from_arrow",
    "analogsignals_from_table",
    "analogsignal_column",
    "list_parts",
]

SPIKES_SCHEMA: pa.Schema = schema.strip_field_docs(schema.SPIKES)
"""Schema of the spikes tables :meth:`Recording.tables` returns (as written to files)."""
SIGNALS_SCHEMA: pa.Schema = schema.strip_field_docs(schema.SIGNALS)
"""Schema of the signals tables :meth:`Recording.tables` returns (as written to files)."""

_I64_MIN, _I64_MAX = np.iinfo(np.int64).min, np.iinfo(np.int64).max
_MISSING = object()
_SPIKE_ID_KEYS = ("channel_id", "source_id")
_SIGNAL_ID_KEYS = ("channel_ids", "source_ids")


# ---------------------------------------------------------------------------------------------
# Write direction
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _SpikeColumns:
    neuron_id: np.ndarray  # int64, sorted, unique
    units: str
    t_start: np.ndarray  # float64 per row
    t_stop: np.ndarray
    offsets: np.ndarray  # int64, n + 1
    values: np.ndarray  # float64


@dataclass(frozen=True, eq=False)
class _SignalColumns:
    neuron_id: np.ndarray  # int64, rows sorted by (name, neuron_id)
    name: list[str]
    units: list[str]
    time_units: list[str]
    t_start: np.ndarray
    sampling_period: np.ndarray
    offsets: np.ndarray
    # The samples stay in the caller's signals until written: run k covers rows
    # run_starts[k] .. run_starts[k] + len(run_sources[k]), a (rows x T) view of one signal.
    run_starts: np.ndarray
    run_sources: tuple[np.ndarray, ...]

    def values(self, start: int, stop: int) -> np.ndarray:
        """The samples of rows ``start .. stop`` as one flat float64 array (a fresh copy)."""
        off = self.offsets
        out = np.empty(int(off[stop] - off[start]), dtype=np.float64)
        k = int(np.searchsorted(self.run_starts, start, side="right")) - 1
        row = start
        while row < stop:
            r0, src = int(self.run_starts[k]), self.run_sources[k]
            r1 = min(stop, r0 + len(src))
            a, b = int(off[row] - off[start]), int(off[r1] - off[start])
            _copy_rows(out[a:b].reshape(r1 - row, src.shape[1]), src[row - r0 : r1 - r0])
            row, k = r1, k + 1
        return out


@dataclass(frozen=True, eq=False)
class Recording:
    """One validated sheet recording (one ``neo.Segment``), ready to be written.

    Built by :func:`recording_from_segment`; all validation has happened by then. The heavy
    columns are built once; :meth:`tables` only adds the ``segment_id`` column.

    Attributes
    ----------
    sheet_name : str
        The sheet (neuron population).
    time_units : str or None
        Dimensionality string of the spike trains' units (``"ms"``); without spike trains, the
        signals' time units if they all agree, else None.
    t_start, t_stop : float or None
        Segment start/end in ``time_units``: min ``t_start`` / max ``t_stop`` of the spike
        trains, or of the signals when there are no trains (None when not defined).
    n_neurons : int
        Number of spike trains.
    n_spikes : int
        Total number of spikes.
    signal_names : tuple of str
        Names of the recorded signals, sorted.
    name, description : str or None
        ``Segment.name`` / ``Segment.description`` (non-strings are converted with ``str``).
    annotations : dict
        Segment annotations other than ``sheet_name`` whose values are plain Python literals
        (``ast.literal_eval(repr(v)) == v``; numpy scalars become Python scalars).
    null : bool
        Value of the ``null`` column.
    dropped_annotations : tuple of str
        Keys of segment annotations dropped because their values are not plain literals.
    """

    sheet_name: str
    time_units: str | None
    t_start: float | None
    t_stop: float | None
    n_neurons: int
    n_spikes: int
    signal_names: tuple[str, ...]
    name: str | None
    description: str | None
    annotations: dict[str, Any]
    null: bool = False
    dropped_annotations: tuple[str, ...] = ()
    _spikes: _SpikeColumns | None = field(default=None, repr=False)
    _signals: _SignalColumns | None = field(default=None, repr=False)

    @classmethod
    def from_arrays(
        cls,
        sheet_name: str,
        neuron_ids: Any,
        values: Any,
        offsets: Any,
        *,
        units: str = "ms",
        t_start: float | Any = 0.0,
        t_stop: float | Any,
        null: bool = False,
    ) -> Recording:
        """A spikes-only recording from flat arrays, without building neo objects.

        Train ``i`` of neuron ``neuron_ids[i]`` is ``values[offsets[i]:offsets[i + 1]]``
        (sorted times in ``units``); ``t_start``/``t_stop`` are scalars or one per train.
        Validated exactly like a segment (ids unique, times sorted and within bounds);
        rows are reordered by neuron id if needed. Pass it to ``add_recording`` in place of
        a ``neo.Segment``.
        """
        if not isinstance(sheet_name, str) or not sheet_name:
            raise ValidationError(f"sheet_name must be a non-empty string, got {sheet_name!r}")
        ids = np.asarray(neuron_ids)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise ValidationError("neuron_ids must be a 1-D integer array")
        ids = ids.astype(np.int64, copy=False)
        off = np.asarray(offsets, dtype=np.int64)
        vals = np.asarray(values)
        if not np.issubdtype(vals.dtype, np.floating) or vals.ndim != 1:
            raise ValidationError("values must be a 1-D float array of spike times")
        vals = vals.astype(np.float64, copy=False)
        if len(off) != len(ids) + 1 or (len(off) and (off[0] < 0 or off[-1] > len(vals))):
            raise ValidationError("offsets must have len(neuron_ids) + 1 entries within values")
        if len(off) > 1 and np.any(off[1:] < off[:-1]):
            raise ValidationError("offsets must be non-decreasing")
        n = len(ids)
        ts = np.broadcast_to(np.asarray(t_start, dtype=np.float64), (n,)).copy()
        tp = np.broadcast_to(np.asarray(t_stop, dtype=np.float64), (n,)).copy()
        if n > 1 and np.any(ids[1:] < ids[:-1]):
            order = np.argsort(ids, kind="stable")
            lengths = np.diff(off)[order]
            starts = off[:-1][order]
            new_off = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(lengths, out=new_off[1:])
            idx = np.repeat(starts - new_off[:-1], lengths) + np.arange(new_off[-1])
            ids, vals, off, ts, tp = ids[order], vals[idx], new_off, ts[order], tp[order]
        elif len(off) and off[0] != 0:
            vals, off = vals[off[0] : off[-1]], off - off[0]
        units_str = _unit_string(pq.Quantity(1.0, units))
        cols = _SpikeColumns(ids, units_str, ts, tp, off, vals)
        _validate_spikes(cols, f"(sheet {sheet_name!r})")
        return cls(
            sheet_name=sheet_name,
            time_units=units_str,
            t_start=float(ts.min()) if n else None,
            t_stop=float(tp.max()) if n else None,
            n_neurons=n,
            n_spikes=int(off[-1] - off[0]) if n else 0,
            signal_names=(),
            name=None,
            description=None,
            annotations={},
            null=bool(null),
            _spikes=cols if n else None,
        )

    @property
    def same_window(self) -> bool:
        """Whether every spike train spans exactly the segment's ``t_start``..``t_stop``."""
        s = self._spikes
        return s is None or bool(np.all(s.t_start == self.t_start) and np.all(s.t_stop == self.t_stop))

    @property
    def spike_neuron_ids(self) -> np.ndarray:
        """Neuron ids of the spike trains, sorted (the row order of the spikes table)."""
        if self._spikes is None:
            return np.empty(0, dtype=np.int64)
        return self._spikes.neuron_id

    def signal_neuron_ids(self, name: str) -> np.ndarray:
        """Neuron ids recorded for signal ``name``, sorted (empty if not recorded)."""
        s = self._signals
        if s is None:
            return np.empty(0, dtype=np.int64)
        mask = np.fromiter((n == name for n in s.name), dtype=bool, count=len(s.name))
        return s.neuron_id[mask]

    @property
    def signal_rows(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """``(name, neuron_id, n_samples)`` of the rows of the signals table, in order
        (empty without signals)."""
        g = self._signals
        if g is None:
            return [], np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        return g.name, g.neuron_id, np.diff(g.offsets)

    def tables(self, segment_id: str) -> tuple[pa.Table | None, pa.Table | None]:
        """The ``(spikes, signals)`` tables of this recording with ``segment_id`` filled in.

        Either is None when the segment has no spike trains / no signals. Spikes rows are
        sorted by ``neuron_id``, signals rows by ``(name, neuron_id)``. The spikes table
        shares memory with this object; the signals table holds a copy of the samples
        (transposed from the (T x N) signals), see :meth:`signals_table`.
        """
        return self.spikes_table(segment_id), self.signals_table(segment_id)

    def spikes_table(self, segment_id: str) -> pa.Table | None:
        """The spikes table with ``segment_id`` filled in (no copy of spike times)."""
        _check_segment_id(segment_id)
        if self._spikes is None:
            return None
        s = self._spikes
        n = len(s.neuron_id)
        return pa.Table.from_arrays(
            [
                _repeat(segment_id, pa.string(), n),
                _repeat(self.sheet_name, pa.string(), n),
                _repeat(bool(self.null), pa.bool_(), n),
                pa.array(s.neuron_id, type=pa.int64()),
                _repeat(s.units, pa.string(), n),
                pa.array(s.t_start, type=pa.float64()),
                pa.array(s.t_stop, type=pa.float64()),
                pa.array(np.diff(s.offsets), type=pa.int64()),
                pa.LargeListArray.from_arrays(
                    pa.array(s.offsets, type=pa.int64()), pa.array(s.values, type=pa.float64())
                ),
            ],
            schema=SPIKES_SCHEMA,
        )

    def signals_table(
        self, segment_id: str, start: int = 0, stop: int | None = None
    ) -> pa.Table | None:
        """Rows ``start .. stop`` of the signals table with ``segment_id`` filled in.

        The samples of those rows are copied out of the segment's signals here, and only
        here: a writer asking for a file's rows a few at a time never holds a second copy
        of the whole recording (which would also cost fresh memory pages at every write).
        """
        _check_segment_id(segment_id)
        g = self._signals
        if g is None:
            return None
        stop = len(g.neuron_id) if stop is None else stop
        if not 0 <= start <= stop <= len(g.neuron_id):
            raise IndexError(f"rows {start}..{stop} of a {len(g.neuron_id)}-row signals table")
        n = stop - start
        offsets = g.offsets[start : stop + 1] - g.offsets[start]
        return pa.Table.from_arrays(
            [
                _repeat(segment_id, pa.string(), n),
                _repeat(self.sheet_name, pa.string(), n),
                _repeat(bool(self.null), pa.bool_(), n),
                pa.array(g.neuron_id[start:stop], type=pa.int64()),
                pa.array(g.name[start:stop], type=pa.string()),
                pa.array(g.units[start:stop], type=pa.string()),
                pa.array(g.time_units[start:stop], type=pa.string()),
                pa.array(g.t_start[start:stop], type=pa.float64()),
                pa.array(g.sampling_period[start:stop], type=pa.float64()),
                pa.array(np.diff(offsets), type=pa.int64()),
                pa.LargeListArray.from_arrays(
                    pa.array(offsets, type=pa.int64()),
                    pa.array(g.values(start, stop), type=pa.float64()),
                ),
            ],
            schema=SIGNALS_SCHEMA,
        )


def _check_segment_id(segment_id: str) -> None:
    if not isinstance(segment_id, str) or not segment_id:
        raise ValidationError(f"segment_id must be a non-empty string, got {segment_id!r}")


def _repeat(value: Any, type_: pa.DataType, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, type=type_), n)


def recording_from_segment(segment: neo.Segment, *, null: bool = False) -> Recording:
    """Validate one sheet's ``neo.Segment`` and build its columns.

    Parameters
    ----------
    segment : neo.Segment
        One sheet's recording, as PyNN's ``Population.get_data().segments[0]`` or mozaik's
        segments give it: ``spiketrains`` (a list or a ``SpikeTrainList``, also the
        multiplexed form PyNN 0.13 builds from NEST, which is read without materialising it)
        and ``analogsignals``.
    null : bool
        Value of the ``null`` column (a null/blank recording).

    Neuron ids come from ``channel_id`` (PyNN 0.13) or ``source_id`` (older PyNN, mozaik)
    annotations of the spike trains, and from ``channel_ids`` / ``source_ids`` (annotations
    or array_annotations) of the signals. The sheet is the segment's ``sheet_name``
    annotation, else the ``source_population`` of its trains and signals (all must agree).
    A signal's sampling period is kept as ``1/sampling_rate`` in the units of its ``t_start``;
    only when neo reports it in other units (``sampling_rate`` given in kHz with ``t_start`` in
    ms: period in ``1/kHz``) is it rescaled into the units of ``t_start``.

    Raises
    ------
    ValidationError
        Naming the problem: not a Segment, nothing recorded, no sheet, a train without id,
        duplicate ids, NaN / unsorted / out-of-range spike times, mixed time units among
        trains, unnamed signal, channel count != number of ids, signals of one name in
        different units, duplicate (signal, neuron), unsupported contents.
    """
    if not isinstance(segment, neo.Segment):
        raise ValidationError(f"expected a neo.Segment, got {type(segment).__name__}")
    for attr in ("irregularlysampledsignals", "events", "epochs", "imagesequences"):
        if len(getattr(segment, attr, None) or ()):
            raise ValidationError(
                f"segment holds {attr}, which the store does not keep (they would be lost); "
                "remove them before adding the recording"
            )
    trains = segment.spiketrains if segment.spiketrains is not None else []
    signals = [_load_proxy(s) for s in (segment.analogsignals or [])]
    multiplexed = _multiplexed_parts(trains)
    if multiplexed is None:
        trains = [st if type(st) is neo.SpikeTrain else _load_proxy(st) for st in trains]
        n_trains = len(trains)
    else:
        n_trains = len(multiplexed["all_ids"])
    if n_trains == 0 and not signals:
        raise ValidationError("nothing recorded: the segment has no spike trains and no signals")

    sheet = _sheet_of(segment, trains, signals, multiplexed)
    where = f"(sheet {sheet!r})"
    if multiplexed is not None:
        spikes = _spikes_from_multiplexed(multiplexed, where) if n_trains else None
    else:
        spikes = _spikes_from_trains(trains, where) if n_trains else None
    sigcols = _signals_from_list(signals, where) if signals else None

    if spikes is not None:
        time_units: str | None = spikes.units
        t_start: float | None = float(spikes.t_start.min())
        t_stop: float | None = float(spikes.t_stop.max())
        n_spikes = int(spikes.offsets[-1] - spikes.offsets[0])
    else:
        n_spikes = 0
        tus = set(sigcols.time_units)
        if len(tus) == 1:
            time_units = tus.pop()
            ends = sigcols.t_start + np.diff(sigcols.offsets) * sigcols.sampling_period
            t_start, t_stop = float(sigcols.t_start.min()), float(ends.max())
        else:
            time_units = t_start = t_stop = None
    annotations, dropped = _literal_annotations(segment.annotations)
    return Recording(
        sheet_name=sheet,
        time_units=time_units,
        t_start=t_start,
        t_stop=t_stop,
        n_neurons=n_trains,
        n_spikes=n_spikes,
        signal_names=tuple(sorted(set(sigcols.name))) if sigcols is not None else (),
        name=_opt_str(segment.name),
        description=_opt_str(segment.description),
        annotations=annotations,
        null=bool(null),
        dropped_annotations=dropped,
        _spikes=spikes,
        _signals=sigcols,
    )


def _opt_str(x: Any) -> str | None:
    return None if x is None else str(x)


def _load_proxy(obj: Any) -> Any:
    """neo's lazy proxies (``SpikeTrainProxy``, ``AnalogSignalProxy``) load themselves."""
    if getattr(obj, "proxy_for", None) is not None and hasattr(obj, "load"):
        return obj.load()
    return obj


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


def _sheet_of(segment: neo.Segment, trains: Any, signals: list, multiplexed: Any) -> str:
    sheet = segment.annotations.get("sheet_name")
    if sheet is None:
        pops: set[Any] = set()
        sources = [sig.annotations for sig in signals if hasattr(sig, "annotations")]
        if multiplexed is not None:
            sources.append(multiplexed["annotations"])
        else:
            sources.extend(st.annotations for st in trains if hasattr(st, "annotations"))
        for ann in sources:
            pop = ann.get("source_population")
            if pop is not None:
                try:
                    pops.add(pop)
                except TypeError:
                    raise ValidationError(
                        f"source_population annotation {pop!r} is not a sheet name"
                    ) from None
        if not pops:
            raise ValidationError(
                "segment has no sheet: no 'sheet_name' annotation on the segment and no "
                "'source_population' annotation on its spike trains or signals"
            )
        if len(pops) > 1:
            raise ValidationError(
                "segment has no 'sheet_name' annotation and its spike trains and signals come "
                f"from several populations: {sorted(map(str, pops))}"
            )
        sheet = pops.pop()
    if not isinstance(sheet, str) or not sheet:
        raise ValidationError(f"sheet name must be a non-empty string, got {sheet!r}")
    return sheet


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


def _signal_ids(sig: Any, what: str) -> np.ndarray:
    found = []
    for source in (sig.annotations, getattr(sig, "array_annotations", None) or {}):
        for key in _SIGNAL_ID_KEYS:
            if key in source and source[key] is not None:
                found.append((key, _ids_array(source[key], f"{what}, {key}")))
    if not found:
        raise ValidationError(
            f"{what}: no neuron ids (annotation or array_annotation 'channel_ids' or 'source_ids')"
        )
    key0, ids = found[0]
    for key, other in found[1:]:
        if not np.array_equal(other, ids):
            raise ValidationError(f"{what}: neuron ids in {key0!r} and {key!r} disagree")
    return ids


def _signals_from_list(signals: list, where: str) -> _SignalColumns:
    units_of: dict[str, str] = {}
    blocks: list[np.ndarray] = []  # per signal: (N x T) view of the samples
    row_name: list[str] = []
    row_id: list[np.ndarray] = []
    row_block: list[np.ndarray] = []
    meta: list[tuple[str, str, float, float, int]] = []  # per signal
    for j, sig in enumerate(signals):
        if not isinstance(sig, neo.AnalogSignal):
            raise ValidationError(
                f"analogsignals[{j}] {where} is a {type(sig).__name__}, not a neo.AnalogSignal"
            )
        name = sig.name
        if not isinstance(name, str) or not name:
            raise ValidationError(
                f"analog signal #{j} {where} has no name (expected 'v', 'gsyn_exc', ...)"
            )
        what = f"signal {name!r} {where}"
        mag = sig.view(np.ndarray)
        if mag.ndim == 1:
            mag = mag[:, None]
        elif mag.ndim != 2:
            raise ValidationError(f"{what}: expected a 1-D or 2-D signal, got shape {mag.shape}")
        _check_dtype(mag.dtype, what)
        ids = _signal_ids(sig, what)
        if len(ids) != mag.shape[1]:
            raise ValidationError(f"{what}: {mag.shape[1]} channels but {len(ids)} neuron ids")
        if mag.shape[1] == 0:
            raise ValidationError(f"{what}: the signal has no channels (no neuron recorded)")
        units = _unit_string(sig)
        prev = units_of.setdefault(name, units)
        if prev != units:
            raise ValidationError(
                f"{what}: signals of one name in different units ({prev} and {units})"
            )
        t0q = sig.t_start
        if getattr(t0q, "_dimensionality", None) is None:
            raise ValidationError(f"{what}: t_start has no units")
        time_units = _unit_string(t0q)
        period = sig.sampling_period
        if _unit_string(period) != time_units:
            try:
                period = period.rescale(t0q.units)
            except ValueError as e:
                raise ValidationError(f"{what}: sampling period is not a time ({e})") from None
        t0, p = float(t0q), float(period)
        if not math.isfinite(t0):
            raise ValidationError(f"{what}: t_start is {t0}")
        if not (math.isfinite(p) and p > 0):
            raise ValidationError(f"{what}: sampling period {p} {time_units} is not positive")
        blocks.append(mag.T)
        meta.append((units, time_units, t0, p, mag.shape[0]))
        row_name.extend([name] * len(ids))
        row_id.append(ids)
        row_block.append(np.full(len(ids), j, dtype=np.int64))
    names = sorted(units_of)
    code_of = {nm: k for k, nm in enumerate(names)}
    codes = np.array([code_of[nm] for nm in row_name], dtype=np.int64)
    ids = np.concatenate(row_id)
    block = np.concatenate(row_block)
    within = np.concatenate([np.arange(len(r), dtype=np.int64) for r in row_id])
    order = np.lexsort((ids, codes))
    codes, ids, block, within = codes[order], ids[order], block[order], within[order]
    if len(ids) > 1:
        dup = (codes[1:] == codes[:-1]) & (ids[1:] == ids[:-1])
        if dup.any():
            k = int(np.argmax(dup))
            raise ValidationError(
                f"signal {names[codes[k]]!r} {where}: neuron {ids[k]} recorded twice"
            )
    bl, wl = block.tolist(), within.tolist()
    lengths = np.array([meta[b][4] for b in bl], dtype=np.int64)
    offsets = np.zeros(len(bl) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    # Rows taken in order from one signal (the usual case: ids already sorted) form a run,
    # later copied as one (rows x samples) block; anything else is a run of one row.
    breaks = np.flatnonzero((block[1:] != block[:-1]) | (within[1:] != within[:-1] + 1)) + 1
    edges = [0, *breaks.tolist(), len(bl)]
    run_sources = tuple(
        blocks[bl[r0]][wl[r0] : wl[r0] + r1 - r0]
        for r0, r1 in zip(edges[:-1], edges[1:], strict=True)
    )
    return _SignalColumns(
        neuron_id=ids,
        name=[names[c] for c in codes.tolist()],
        units=[meta[b][0] for b in bl],
        time_units=[meta[b][1] for b in bl],
        t_start=np.array([meta[b][2] for b in bl], dtype=np.float64),
        sampling_period=np.array([meta[b][3] for b in bl], dtype=np.float64),
        offsets=offsets,
        run_starts=np.array(edges[:-1], dtype=np.int64),
        run_sources=run_sources,
    )


# Tile of the blocked transpose: 32 channels x 256 samples (64 KiB of float64, in L2 cache).
_TILE_ROWS, _TILE_COLS = 32, 256


def _copy_rows(out: np.ndarray, src: np.ndarray) -> None:
    """``out[...] = src`` (both R x T; ``out`` C-contiguous float64), fast for strided ``src``.

    PyNN's signals are (T x N) row-major, so ``src`` (a transposed view) walks memory with a
    stride of a whole time step along each row: copied directly, every sample is a cache
    miss. Copying tile by tile keeps both sides in cache (2-3x faster). Values are converted
    exactly as ``np.concatenate(..., dtype=float64)`` would (same casts, bit for bit).
    """
    n_rows, n_t = src.shape
    if n_rows < 2 or n_t < 2 or abs(src.strides[1]) <= abs(src.strides[0]):
        out[...] = src  # rows already (nearly) contiguous: one pass in memory order
        return
    tr, tc = _TILE_ROWS, _TILE_COLS
    for r in range(0, n_rows, tr):
        o, s = out[r : r + tr], src[r : r + tr]
        for c in range(0, n_t, tc):
            o[:, c : c + tc] = s[:, c : c + tc]


class _NotLiteral(Exception):
    pass


def _literal(v: Any) -> Any:
    """``v`` as a plain Python literal (numpy scalars converted), or raise _NotLiteral."""
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, int | np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        return float(v)
    if isinstance(v, str):
        return str(v)
    if isinstance(v, bytes):
        return bytes(v)
    if isinstance(v, list):
        return [_literal(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_literal(x) for x in v)
    if isinstance(v, set) and v:
        return {_literal(x) for x in v}
    if isinstance(v, dict):
        return {_literal(k): _literal(x) for k, x in v.items()}
    raise _NotLiteral


def _literal_annotations(ann: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    for k, v in ann.items():
        if k == "sheet_name":
            continue
        try:
            lv = _literal(v)
            if ast.literal_eval(repr(lv)) != lv:  # NaN, inf, ...
                raise _NotLiteral
        except (_NotLiteral, ValueError, SyntaxError, TypeError, RecursionError):
            dropped.append(str(k))
            continue
        kept[str(k)] = lv
    return kept, tuple(dropped)
