"""``MozaikSegment``: a lazy ``neo.Segment`` over one recording of the store.

A segment holds its metadata row (sheet, stimulus, file paths, counts) and a reference to the
store's :class:`~mozaik_arrow.reader.FileCache` — no recording data. Asking for one neuron
reads the row group that holds it; asking for every spike train reads the file once and builds
the ``neo.SpikeTrain`` objects as views of the decoded Arrow buffer.
"""

from __future__ import annotations

import ast
import copy
import functools
from collections.abc import Sequence
from typing import Any

import neo
import numpy as np
import pyarrow as pa
import quantities as pq
from neo.core.baseneo import BaseNeo
from neo.core.objectlist import ObjectList
from neo.core.spiketrainlist import SpikeTrainList

from . import analytics
from .neo_convert import analogsignals_from_table, list_parts, spiketrains_from_table
from .reader import FileCache
from .signal_read import SignalRows
from .spike_read import SpikeRows, spiketrain_list

__all__ = ["MozaikSegment"]

_SPIKE_COLUMNS = ("neuron_id", "units", "t_start", "t_stop", "times")
_SIGNAL_COLUMNS = ("neuron_id", "units", "time_units", "t_start", "sampling_period", "samples")
VM, ESYN, ISYN = "v", "gsyn_exc", "gsyn_inh"
# neo.Segment's child containers other than spike trains, by attribute: made on first use.
_CONTAINERS = {"_analogsignals": neo.AnalogSignal,
               "_irregularlysampledsignals": neo.IrregularlySampledSignal,
               "_events": neo.Event, "_epochs": neo.Epoch, "_channelviews": neo.ChannelView,
               "_imagesequences": neo.ImageSequence}


_ATOMS = (str, int, float, bool, type(None))


@functools.lru_cache(maxsize=1024)
def _parsed(text: str) -> tuple[Any, bool]:
    """The annotations a store row holds (parsed once per distinct text: the recordings of
    one sheet usually share theirs), and whether they are a dict of atoms only."""
    # Written by the store as repr() of plain literals; literal_eval never runs code.
    value = ast.literal_eval(text)
    return value, isinstance(value, dict) and all(type(v) in _ATOMS for v in value.values())


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
        # neo.Segment.__init__ without its seven child containers, which cost ~11 of its
        # ~15 us and are made on first access instead (see __getattr__): a query returns
        # segments that are mostly never opened.
        value, atoms = _parsed(row["annotations"]) if row.get("annotations") else ({}, True)
        # Each segment gets its own copy; a dict of strings and numbers needs no deep copy,
        # nor neo's recursive type check (~14 of ~20 us a segment when annotated).
        BaseNeo.__init__(self, name=row.get("name"), description=row.get("description"),
                         **({} if atoms else copy.deepcopy(value)))
        if atoms:
            self.annotations.update(value)
        self.file_datetime = self.rec_datetime = self.index = None
        self.annotations["stimulus"] = row["stimulus_string"]
        self.annotations["sheet_name"] = row["sheet_name"]
        self.identifier = row["segment_id"]
        self.null = bool(row["null"])
        self._row = row
        self._files = files
        self._parts_memo: dict[tuple[str, str | None], tuple[list[str], np.ndarray]] = {}
        self.full = False
        self._trains_loaded = False
        self._signals_loaded = False

    def __getattr__(self, name: str) -> Any:
        # Reached only when normal lookup fails: a child container not made yet.
        if name == "_spiketrains":
            made: Any = SpikeTrainList(parent=self)
        elif name in _CONTAINERS:
            # neo's ObjectList links children through an attribute named after the parent's
            # class ("mozaiksegment" here), which neo objects lack: no parent; we set
            # .segment ourselves.
            made = ObjectList(_CONTAINERS[name], parent=None)
        else:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        self.__dict__[name] = made
        return made

    def __deepcopy__(self, memo: dict[int, Any]) -> MozaikSegment:
        # neo's Container.__deepcopy__ rebuilds through cls(**attrs), which a store segment
        # cannot take. Copy the state instead: what is loaded is copied and linked to the
        # copy (neo's children drop their parent when copied; it does create_relationship,
        # which here would load what is not loaded); the store's file cache is shared.
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        for k, v in self.__dict__.items():
            new.__dict__[k] = v if k == "_files" else copy.deepcopy(v, memo)
        for name in ("_spiketrains", *_CONTAINERS):
            for child in new.__dict__.get(name, ()):
                child.segment = new
        return new

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
        trains = spiketrains_from_table(self._read_all("spikes", _SPIKE_COLUMNS), segment=self)
        self._spiketrains = spiketrain_list(trains, self)
        self._trains_loaded = True

    def _load_signals(self) -> None:
        sigs = [self._signal(name, None) for name in self._row.get("signal_names") or ()]
        for s in sigs:
            s.segment = self
        self._analogsignals._items[:] = sigs
        self._signals_loaded = True

    # -- file access: a recording is one or more files per table ---------------------------
    def _parts(self, table: str, name: str | None = None) -> tuple[list[str], np.ndarray]:
        """Files of ``table`` (of signal ``name``) and the first neuron id of each (made
        once per segment: one-neuron reads from memory ask for them every time)."""
        got = self._parts_memo.get((table, name))
        if got is None:
            got = self._parts_memo[(table, name)] = self._find_parts(table, name)
        return got

    def _find_parts(self, table: str, name: str | None) -> tuple[list[str], np.ndarray]:
        files = self._row.get(f"{table}_files") or []
        first = np.asarray(self._row.get(f"{table}_first_ids") or [], dtype=np.int64)
        if table == "signals":
            keep = [i for i, n in enumerate(self._row.get("signals_file_names") or []) if n == name]
            files = [files[i] for i in keep]
            first = first[keep]
        return files, first

    def _file_of(self, table: str, neuron_id: int, name: str | None = None) -> str | None:
        """The file of ``table`` (of signal ``name``) that would hold ``neuron_id``."""
        files, first = self._parts(table, name)
        if not len(files):
            return None
        return files[max(0, int(np.searchsorted(first, neuron_id, side="right")) - 1)]

    def _read_all(self, table: str, columns: Sequence[str], name: str | None = None) -> pa.Table:
        files, _ = self._parts(table, name)
        tables = [self._files.read_all(f, columns) for f in files]
        if not tables:
            from .schema import TABLES, empty_table, strip_field_docs

            return empty_table(strip_field_docs(TABLES[table])).select(list(columns))
        return tables[0] if len(tables) == 1 else pa.concat_tables(tables)

    def _read_ids(
        self, table: str, ids: np.ndarray, columns: Sequence[str], name: str | None = None
    ) -> tuple[pa.Table, np.ndarray]:
        """Rows of ``ids`` in the order asked, and which ids were found."""
        files, first = self._parts(table, name)
        found = np.zeros(len(ids), dtype=bool)
        if not files:
            return pa.table({}), found
        if len(files) == 1:  # the common case: no bookkeeping across files
            return self._files.read_neurons(files[0], ids, columns)
        part = np.clip(np.searchsorted(first, ids, side="right") - 1, 0, len(files) - 1)
        pieces, where = [], []
        for p in np.unique(part):
            asked = np.flatnonzero(part == p)
            t, ok = self._files.read_neurons(files[p], ids[asked], columns)
            found[asked[ok]] = True
            pieces.append(t)
            where.append(asked[ok])
        out = pieces[0] if len(pieces) == 1 else pa.concat_tables(pieces)
        order = np.concatenate(where)
        if len(pieces) > 1 or not np.all(order[:-1] <= order[1:]):
            out = out.take(pa.array(np.argsort(order, kind="stable")))
        return out, found

    # -- per-neuron access -----------------------------------------------------------------
    def get_spiketrain(self, neuron_id: int | Sequence[int]) -> Any:
        """Spike train of one neuron id, or a list of them in the order of ``neuron_id``.

        Raises
        ------
        ValueError
            If an id has no spike train in this segment.
        """
        single = np.ndim(neuron_id) == 0
        if single:
            st = self._kept_spiketrain(neuron_id)
            if st is not None:
                return st
        ids = np.atleast_1d(np.asarray(neuron_id, dtype=np.int64))
        table, found = self._read_ids("spikes", ids, _SPIKE_COLUMNS)
        if not found.all():
            raise ValueError(
                f"neuron {ids[~found][0]} has no spike train in segment {self.identifier} "
                f"(sheet {self._row['sheet_name']!r})"
            )
        trains = spiketrains_from_table(table, segment=self)
        return trains[0] if single else trains

    def _kept_spiketrain(self, neuron_id: Any) -> neo.SpikeTrain | None:
        """One neuron's train from a table the file cache keeps decoded (its row group, or
        its file decoded whole for a loop of one-neuron reads: see :mod:`.reader`), or None
        to read it the usual way."""
        rel = self._file_of("spikes", int(neuron_id))
        rows = None if rel is None else self._files.derived_for(
            rel, int(neuron_id), _SPIKE_COLUMNS, SpikeRows.from_table)
        st = None if rows is None else rows.train(int(neuron_id))
        if st is not None:
            st.segment = self
        return st

    def _kept_signal(self, name: str, neuron_id: int) -> neo.AnalogSignal | None:
        """One neuron's signal ``name`` from a table the file cache keeps decoded (as
        :meth:`_kept_spiketrain`), or None to read it the usual way."""
        rel = self._file_of("signals", neuron_id, name)
        rows = None if rel is None else self._files.derived_for(
            rel, neuron_id, _SIGNAL_COLUMNS, SignalRows.from_table, name)
        return None if rows is None else rows.signal(
            neuron_id, name, {"source_population": self._row["sheet_name"]})

    def _signal(self, name: str, ids: np.ndarray | None) -> neo.AnalogSignal:
        if name not in (self._row.get("signal_names") or ()):
            raise ValueError(f"segment {self.identifier} has no recorded signal {name!r}")
        if ids is None:
            table = self._read_all("signals", _SIGNAL_COLUMNS, name)
        else:
            table, found = self._read_ids("signals", ids, _SIGNAL_COLUMNS, name)
            if not found.all():
                raise ValueError(
                    f"neuron {ids[~found][0]} has no {name!r} signal in segment {self.identifier}"
                )
        (sig,) = analogsignals_from_table(
            table.append_column("name", pa.repeat(pa.scalar(name), table.num_rows)),
            annotations={"source_population": self._row["sheet_name"]},
        )
        return sig

    def _signals_of(self, name: str, neuron_id: int | Sequence[int]) -> Any:
        single = np.ndim(neuron_id) == 0
        if single and name in (self._row.get("signal_names") or ()):
            sig = self._kept_signal(name, int(neuron_id))
            if sig is not None:
                return sig
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
        return self._read_all("spikes", ["neuron_id"]).column("neuron_id").to_pylist()

    def _signal_ids(self, name: str) -> list[int]:
        return self._read_all("signals", ["neuron_id"], name).column("neuron_id").to_pylist()

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
    def mean_rates(
        self, start: pq.Quantity | None = None, end: pq.Quantity | None = None
    ) -> np.ndarray:
        """Mean rate of every spike train in spikes/s, in the order of ``get_spiketrains()``.

        Without bounds only the stored spike counts are read. With ``start``/``end``
        (Quantities) it counts spikes with ``start <= t <= end`` (neo's ``time_slice``) and
        divides by ``end - start`` in seconds.
        """
        units = self._row["time_units"]
        if start is None and end is None:
            if self._row.get("same_window"):  # the usual case: one window, read counts only
                n = self._read_all("spikes", ["n_spikes"]).column("n_spikes").to_numpy()
                return analytics.mean_rates(n, self._row["t_start"], self._row["t_stop"], units)
            t = self._read_all("spikes", ["n_spikes", "t_start", "t_stop"])
            return analytics.mean_rates(
                t.column("n_spikes").to_numpy(),
                t.column("t_start").to_numpy(),
                t.column("t_stop").to_numpy(),
                units,
            )
        t = self._read_all("spikes", ["t_start", "t_stop", "times"])
        if t.num_rows == 0:
            return np.empty(0)
        lo = float(start.rescale(units).magnitude) if start is not None else self._row["t_start"]
        hi = float(end.rescale(units).magnitude) if end is not None else self._row["t_stop"]
        values, offsets = list_parts(t.column("times"))
        counts = analytics.window_counts(values, offsets, lo, hi)
        return counts / ((hi - lo) * analytics.seconds_per_unit(units))

    def _times(self) -> tuple[np.ndarray, np.ndarray]:
        return list_parts(self._read_all("spikes", ["times"]).column("times"))

    def isi(self) -> list[pq.Quantity]:
        """Inter-spike intervals of every spike train (``numpy.diff`` of each), with units."""
        units = pq.Quantity(1.0, self._row["time_units"]).units
        return [pq.Quantity(d, units) for d in analytics.isi(*self._times())]

    def cv_isi(self) -> list[float | None]:
        """Coefficient of variation of each train's ISIs (None with four ISIs or fewer)."""
        return analytics.cv_isi(*self._times())

    def __repr__(self) -> str:
        kind = "null recording" if self.null else "recording"
        return (
            f"<MozaikSegment {self.identifier}: {kind} of sheet {self._row['sheet_name']!r}, "
            f"{self.neuron_num()} neurons, stimulus {self._row['stimulus_string'][:60]!r}...>"
        )
