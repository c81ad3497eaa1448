"""The validated recording of one sheet and the Arrow tables it writes (:class:`Recording`).

A :class:`Recording` holds the columns built once by :mod:`.spike_columns` and
:mod:`.signal_columns`, from a ``neo.Segment`` by :func:`~.neo_convert.recording_from_segment`
or from flat arrays by :meth:`Recording.from_arrays`; :meth:`Recording.tables` then only adds
the ``segment_id`` column and returns the ``spikes`` and ``signals`` tables (schemas ``SPIKES``
and ``SIGNALS`` of :mod:`.schema`, field docs stripped). Kept apart from
:mod:`.neo_convert`, which reads a neo segment, because this is the value a store writes: it
knows the on-disk columns, not neo. Re-exported by :mod:`.neo_convert`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import quantities as pq

from . import schema
from .errors import ValidationError
from .signal_columns import _SignalColumns
from .spike_columns import _SpikeColumns, _unit_string, _validate_spikes

SPIKES_SCHEMA: pa.Schema = schema.strip_field_docs(schema.SPIKES)
"""Schema of the spikes tables :meth:`Recording.tables` returns (as written to files)."""
SIGNALS_SCHEMA: pa.Schema = schema.strip_field_docs(schema.SIGNALS)
"""Schema of the signals tables :meth:`Recording.tables` returns (as written to files)."""


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
