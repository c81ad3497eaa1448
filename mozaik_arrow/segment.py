"""``MozaikSegment``: a lazy ``neo.Segment`` over one recording of the store.

A segment holds its metadata row (sheet, stimulus, file paths, counts) and a reference to the
store's :class:`~mozaik_arrow.reader.FileCache` — no recording data. Asking for one neuron
reads the row group that holds it; asking for every spike train reads the file once and builds
the ``neo.SpikeTrain`` objects as views of the decoded Arrow buffer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import neo
import numpy as np
import pyarrow as pa
import quantities as pq
from neo.core.spiketrainlist import SpikeTrainList

from . import analytics
from .neo_convert import analogsignal_from_arrow, spiketrains_from_arrow
from .reader import FileCache

__all__ = ["MozaikSegment"]

_SPIKE_COLUMNS = ("neuron_id", "units", "t_start", "t_stop", "times")
_SIGNAL_COLUMNS = ("neuron_id", "units", "time_units", "t_start", "sampling_period", "samples")
VM, ESYN, ISYN = "v", "gsyn_exc", "gsyn_inh"


def _list_parts(col: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Zero-copy (values, offsets) of a large_list<float64> column (one chunk)."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if len(arr) == 0:
        return np.empty(0), np.zeros(1, dtype=np.int64)
    offsets = arr.offsets.to_numpy()
    # .values ignores a slice offset (apache/arrow#37733): index by the offsets themselves.
    values = arr.values.to_numpy(zero_copy_only=False)
    return values, offsets


class MozaikSegment(neo.Segment):
    """One recording (one sheet, one stimulus) of a store, loaded lazily.

    Returned by :meth:`DataStoreView.get_segments`; not built by users. ``annotations``
    holds ``stimulus`` (the canonical stimulus string) and ``sheet_name``. Nothing of the
    recording is read until asked for; ``get_spiketrain(id)`` reads only that neuron's row
    group.

    Attributes
    ----------
    identifier : str
        The segment id (``segment_id`` in every table).
    null : bool
        True for a null (blank) recording.
    """

    def __init__(self, row: dict[str, Any], files: FileCache) -> None:
        super().__init__(
            name=row.get("name"),
            description=row.get("description"),
            **(json.loads(row["annotations"]) if row.get("annotations") else {}),
        )
        # neo's ObjectList links children through an attribute named after the parent's
        # class ("mozaiksegment" here), which neo objects lack; we set .segment ourselves.
        for name in ("_analogsignals", "_irregularlysampledsignals", "_events", "_epochs",
                     "_channelviews", "_imagesequences"):
            getattr(self, name).parent = None
        self.annotations["stimulus"] = row["stimulus_string"]
        self.annotations["sheet_name"] = row["sheet_name"]
        self.identifier = row["segment_id"]
        self.null = bool(row["null"])
        self._row = row
        self._files = files
        self.full = False
        self._trains_loaded = False
        self._signals_loaded = False

    # -- whole-segment access --------------------------------------------------------------
    @property
    def spiketrains(self) -> SpikeTrainList:
        """Every spike train of the recording (read on first access, kept until release)."""
        if not self._trains_loaded:
            self._load_spiketrains()
        return self._spiketrains

    @spiketrains.setter
    def spiketrains(self, value: Any) -> None:
        self._set_object_list("_spiketrains", value)

    @property
    def analogsignals(self) -> Any:
        """Every recorded signal as 2-D AnalogSignals, one per name (read on first access)."""
        if not self._signals_loaded:
            self._load_signals()
        return self._analogsignals

    @analogsignals.setter
    def analogsignals(self, value: Any) -> None:
        self._set_object_list("_analogsignals", value)

    def get_spiketrains(self) -> SpikeTrainList:
        """Return the list of SpikeTrain objects stored in this segment."""
        return self.spiketrains

    def set_spiketrains(self, s: Sequence[neo.SpikeTrain]) -> None:
        """Replace the in-memory spike trains (does not change the store)."""
        self._spiketrains = SpikeTrainList(items=list(s), parent=self)
        self._trains_loaded = True

    def load_full(self) -> None:
        """Read the whole recording into memory."""
        self._load_spiketrains()
        self._load_signals()
        self.full = True

    def release(self) -> None:
        """Drop the loaded data; the next access reads the files again."""
        self._spiketrains = SpikeTrainList(parent=self)
        self._analogsignals.clear()
        self.full = self._trains_loaded = self._signals_loaded = False

    def _load_spiketrains(self) -> None:
        path = self._row.get("spikes_file")
        if path is None:
            trains: list[neo.SpikeTrain] = []
        else:
            table = self._files.read_all(path, _SPIKE_COLUMNS)
            trains = self._trains_from_table(table)
        for st in trains:
            st.segment = self
        self._spiketrains = SpikeTrainList(items=trains, parent=self)
        self._trains_loaded = True

    def _load_signals(self) -> None:
        sigs = [self._signal(name, None) for name in self._row.get("signal_names") or ()]
        for s in sigs:
            s.segment = self
        self._analogsignals._items[:] = sigs
        self._signals_loaded = True

    # -- per-neuron access -----------------------------------------------------------------
    def _trains_from_table(self, table: pa.Table) -> list[neo.SpikeTrain]:
        if table.num_rows == 0:
            return []
        values, offsets = _list_parts(table.column("times"))
        return spiketrains_from_arrow(
            table.column("neuron_id").to_numpy(),
            values,
            offsets,
            table.column("units")[0].as_py(),
            table.column("t_start").to_numpy(),
            table.column("t_stop").to_numpy(),
        )

    def get_spiketrain(self, neuron_id: int | Sequence[int]) -> Any:
        """Spike train of one neuron id, or a list of them in the order of ``neuron_id``.

        Raises
        ------
        ValueError
            If an id has no spike train in this segment.
        """
        single = np.ndim(neuron_id) == 0
        ids = np.atleast_1d(np.asarray(neuron_id, dtype=np.int64))
        path = self._row.get("spikes_file")
        if path is None:
            raise ValueError(f"neuron {ids[0]} has no spike train in segment {self.identifier}")
        table, found = self._files.read_neurons(path, ids, _SPIKE_COLUMNS)
        if not found.all():
            missing = ids[~found][0]
            raise ValueError(
                f"neuron {missing} has no spike train in segment {self.identifier} "
                f"(sheet {self._row['sheet_name']!r})"
            )
        trains = self._trains_from_table(table)
        for st in trains:
            st.segment = self
        return trains[0] if single else trains

    def _signal(self, name: str, ids: np.ndarray | None) -> neo.AnalogSignal:
        path = self._row.get("signals_file")
        if path is None or name not in (self._row.get("signal_names") or ()):
            raise ValueError(f"segment {self.identifier} has no recorded signal {name!r}")
        if ids is None:
            table = self._files.read_all(path, _SIGNAL_COLUMNS, name=name)
        else:
            table, found = self._files.read_neurons(path, ids, _SIGNAL_COLUMNS, name=name)
            if not found.all():
                raise ValueError(
                    f"neuron {ids[~found][0]} has no {name!r} signal in segment {self.identifier}"
                )
        values, offsets = _list_parts(table.column("samples"))
        sig = analogsignal_from_arrow(
            name,
            table.column("neuron_id").to_numpy(),
            values,
            offsets,
            table.column("units")[0].as_py(),
            table.column("time_units")[0].as_py(),
            float(table.column("t_start")[0].as_py()),
            float(table.column("sampling_period")[0].as_py()),
        )
        sig.annotations["source_population"] = self._row["sheet_name"]
        return sig

    def _signals_of(self, name: str, neuron_id: int | Sequence[int]) -> Any:
        single = np.ndim(neuron_id) == 0
        ids = np.atleast_1d(np.asarray(neuron_id, dtype=np.int64))
        sig = self._signal(name, ids)
        if single:
            return sig
        return [sig[:, i : i + 1] for i in range(len(ids))]

    def get_vm(self, neuron_id: int | Sequence[int]) -> Any:
        """Membrane potential (signal ``v``) of one neuron id, or a list for a list of ids."""
        return self._signals_of(VM, neuron_id)

    def get_esyn(self, neuron_id: int | Sequence[int]) -> Any:
        """Excitatory conductance (``gsyn_exc``) of one neuron id, or a list for a list."""
        return self._signals_of(ESYN, neuron_id)

    def get_isyn(self, neuron_id: int | Sequence[int]) -> Any:
        """Inhibitory conductance (``gsyn_inh``) of one neuron id, or a list for a list."""
        return self._signals_of(ISYN, neuron_id)

    # -- ids and counts (metadata or one integer column) -------------------------------------
    def neuron_num(self) -> int:
        """Number of stored spike trains (from metadata; reads nothing)."""
        return int(self._row["n_neurons"])

    def get_stored_spike_train_ids(self) -> list[int]:
        """Ids of the neurons whose spikes are stored in this segment."""
        path = self._row.get("spikes_file")
        if path is None:
            return []
        return self._files.read_all(path, ["neuron_id"]).column("neuron_id").to_pylist()

    def _signal_ids(self, name: str) -> list[int]:
        path = self._row.get("signals_file")
        if path is None or name not in (self._row.get("signal_names") or ()):
            return []
        return self._files.read_all(path, ["neuron_id"], name=name).column("neuron_id").to_pylist()

    def get_stored_vm_ids(self) -> list[int]:
        """Ids of the neurons whose membrane potential is stored."""
        return self._signal_ids(VM)

    def get_stored_esyn_ids(self) -> list[int]:
        """Ids of the neurons whose excitatory conductance is stored."""
        return self._signal_ids(ESYN)

    def get_stored_isyn_ids(self) -> list[int]:
        """Ids of the neurons whose inhibitory conductance is stored."""
        return self._signal_ids(ISYN)

    # -- statistics, vectorised ------------------------------------------------------------
    def mean_rates(self, start: pq.Quantity | None = None, end: pq.Quantity | None = None) -> np.ndarray:
        """Mean rate of every spike train in spikes/s, in the order of ``get_spiketrains()``.

        Without bounds only the stored spike counts are read. With ``start``/``end``
        (Quantities) it counts spikes with ``start <= t <= end`` (neo's ``time_slice``) and
        divides by ``end - start`` in seconds.
        """
        path = self._row.get("spikes_file")
        if path is None:
            return np.empty(0)
        units = self._row["time_units"]
        if start is None and end is None:
            t = self._files.read_all(path, ["n_spikes", "t_start", "t_stop"])
            return analytics.mean_rates(
                t.column("n_spikes").to_numpy(),
                t.column("t_start").to_numpy(),
                t.column("t_stop").to_numpy(),
                units,
            )
        t = self._files.read_all(path, ["t_start", "t_stop", "times"])
        lo = float(start.rescale(units).magnitude) if start is not None else float(t.column("t_start")[0].as_py())
        hi = float(end.rescale(units).magnitude) if end is not None else float(t.column("t_stop")[0].as_py())
        values, offsets = _list_parts(t.column("times"))
        counts = analytics.window_counts(values, offsets, lo, hi)
        return counts / ((hi - lo) * analytics.seconds_per_unit(units))

    def _times(self) -> tuple[np.ndarray, np.ndarray]:
        path = self._row.get("spikes_file")
        if path is None:
            return np.empty(0), np.zeros(1, dtype=np.int64)
        return _list_parts(self._files.read_all(path, ["times"]).column("times"))

    def isi(self) -> list[pq.Quantity]:
        """Inter-spike intervals of every spike train (``numpy.diff`` of each), with units."""
        units = pq.Quantity(1.0, self._row["time_units"]).units
        return [pq.Quantity(d, units, copy=False) for d in analytics.isi(*self._times())]

    def cv_isi(self) -> list[float | None]:
        """Coefficient of variation of each train's ISIs (None with four ISIs or fewer)."""
        return analytics.cv_isi(*self._times())

    def __repr__(self) -> str:
        kind = "null recording" if self.null else "recording"
        return (
            f"<MozaikSegment {self.identifier}: {kind} of sheet {self._row['sheet_name']!r}, "
            f"{self.neuron_num()} neurons, stimulus {self._row['stimulus_string'][:60]!r}...>"
        )
