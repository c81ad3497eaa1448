"""A view as an NWB 2 file (pynwb), for DANDI and NWB tools.

**Timeline.** NWB puts every time of a file in seconds on one session clock. A store's
recordings each have their own clock (PyNN's simulation time, or 0 for each recording when
mozaik shifted them), so the file lays the view's recordings end to end in store order (the
order of ``dsv.segments_frame()``, null recordings included): recording ``k`` occupies
``[start_k, stop_k)`` with ``start_0 = 0``, ``stop_k = start_k + (t_stop_k - t_start_k) * f_k``
and ``start_{k+1} = stop_k``, where ``f_k`` is the number of seconds in the recording's time
unit (``ms`` → 0.001). A time ``t`` of recording ``k`` (in its own unit) is written as
``start_k + (t - t_start_k) * f_k`` and read back as ``t_start_k + (T - start_k) / f_k`` (equal
up to float rounding; the conversion to seconds is not exact in binary floating point).
Recordings of different sheets made during one presentation therefore sit one after the
other, not on top of each other.

**Tables.**

- ``trials``: one row per recording, ``id`` = ``k``: ``start_time``, ``stop_time``,
  ``segment_id``, ``sheet_name``, ``null``, ``stimulus`` (canonical string),
  ``stimulus_key``, the original ``t_start`` / ``t_stop`` / ``time_units``, ``n_neurons``,
  and every stimulus parameter as ``st_<name>`` (mozaik's query spelling; ``st_name`` is the
  stimulus class; a parameter a stimulus lacks is NaN for numbers, ``""`` for strings; a
  value that is not a number, string or bool is written as its ``repr``).
- ``units``: one row per neuron (``sheet_name``, ``neuron_id``; sheets in order of first
  appearance, ids ascending) with all its spike times on the timeline above (its recordings
  in store order, so the times ascend), ``obs_intervals`` = the ``[start_k, stop_k]`` of the
  recordings that hold it, and ``x``, ``y``, ``z`` (μm, as stored) when the store has positions.
- ``acquisition``: one ``TimeSeries`` per signal name per recording, named
  ``<signal>_rec<k>`` (``v_rec0003``), data ``(samples, neurons)`` with the stored samples
  unchanged (``unit`` the SI unit and ``conversion`` the factor to it, ``mV`` → ``volts`` ×
  0.001), ``starting_time`` on the timeline, ``rate`` in Hz; and the table ``signal_columns``:
  one row per TimeSeries with its ``recording`` (the trial id), ``sheet_name``, ``signal``,
  original ``units``, ``time_units``, ``t_start``, ``sampling_period`` and ``neuron_ids`` (the
  neuron of each data column, in order).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import quantities as pq

from .._version import __version__
from ..analytics import seconds_per_unit

if TYPE_CHECKING:
    from ..view import DataStoreView

__all__ = ["to_nwb", "recording_timeline"]

#: SI units NWB names, tried in order for a signal's unit (else the unit is kept as written).
_SI = (("volts", pq.V), ("siemens", pq.S), ("amperes", pq.A), ("seconds", pq.s), ("hertz", pq.Hz))
_RECORDING_COLUMNS = ["segment_id", "sheet_name", "stimulus", "stimulus_string", "null",
                      "t_start", "t_stop", "time_units", "n_neurons"]


def _require_pynwb() -> Any:
    try:
        import pynwb
    except ImportError as exc:  # the `nwb` extra
        raise ImportError("to_nwb needs pynwb: pip install 'mozaik-arrow[nwb]'") from exc
    return pynwb


def recording_timeline(dsv: DataStoreView, null: bool | None = None) -> pl.DataFrame:
    """The recordings of a view with their interval on the NWB timeline (module docstring).

    Parameters
    ----------
    dsv : DataStoreView
        The view.
    null : bool or None
        None: every recording; False / True: only stimulus / only null recordings.

    Returns
    -------
    polars.DataFrame
        One row per recording in store order: ``recording`` (k), the columns
        ``segment_id``, ``sheet_name``, ``stimulus``, ``stimulus_string``, ``null``,
        ``t_start``, ``t_stop``, ``time_units``, ``n_neurons``, then ``to_seconds`` (``f_k``),
        ``start_time`` and ``stop_time`` (seconds).
    """
    frame = dsv.segments_frame()
    if null is not None:
        frame = frame.filter(pl.col("null") == null)
    rec = frame.select(_RECORDING_COLUMNS).collect()
    factor = np.array([seconds_per_unit(u) for u in rec["time_units"].to_list()], dtype=np.float64)
    duration = (rec["t_stop"].to_numpy() - rec["t_start"].to_numpy()) * factor
    stop = np.cumsum(duration)  # sequential: stop_k = stop_{k-1} + duration_k exactly
    start = np.concatenate([[0.0], stop[:-1]])[: len(stop)]
    return rec.with_columns(
        pl.Series("to_seconds", factor), pl.Series("start_time", start),
        pl.Series("stop_time", stop)).with_row_index("recording").with_columns(
        pl.col("recording").cast(pl.Int64))


def _nwb_column(series: pl.Series) -> np.ndarray:
    """A stimulus-parameter column as an array NWB can store (see the module docstring)."""
    dtype = series.dtype
    if dtype.is_numeric():
        if series.null_count():
            return series.cast(pl.Float64).fill_null(float("nan")).to_numpy()
        return series.to_numpy()
    if dtype == pl.Boolean and not series.null_count():
        return series.to_numpy()
    if dtype == pl.String:
        return np.array(series.fill_null("").to_list(), dtype=object)
    return np.array([repr(v) for v in series.to_list()], dtype=object)


def _trials(pynwb: Any, rec: pl.DataFrame, stimuli: pl.DataFrame) -> Any:
    from hdmf.common import ElementIdentifiers, VectorData

    params = rec.select("stimulus").join(stimuli, on="stimulus", how="left", maintain_order="left")
    columns = [
        ("start_time", rec["start_time"].to_numpy(), "start of the recording on the timeline (s)"),
        ("stop_time", rec["stop_time"].to_numpy(), "end of the recording on the timeline (s)"),
        ("segment_id", rec["segment_id"].to_list(), "the recording's segment_id in the store"),
        ("sheet_name", rec["sheet_name"].to_list(), "sheet (neuron population) recorded"),
        ("null", rec["null"].to_numpy(), "True for a null (blank) recording of the stimulus"),
        ("stimulus", rec["stimulus_string"].to_list(), "canonical mozaik stimulus string"),
        ("stimulus_key", rec["stimulus"].to_list(), "the stimulus key in the store"),
        ("t_start", rec["t_start"].to_numpy(), "original t_start, in time_units"),
        ("t_stop", rec["t_stop"].to_numpy(), "original t_stop, in time_units"),
        ("time_units", rec["time_units"].to_list(), "units of the original times"),
        ("n_neurons", rec["n_neurons"].to_numpy(), "number of neurons recorded"),
    ]
    for name in params.columns:
        if name in ("stimulus", "stimulus_string"):
            continue
        columns.append((f"st_{name}", _nwb_column(params[name]), f"stimulus parameter {name}"))
    return pynwb.epoch.TimeIntervals(
        name="trials",
        description="one row per recording (mozaik_arrow export; see to_nwb's documentation)",
        id=ElementIdentifiers(name="id", data=rec["recording"].to_numpy()),
        columns=[VectorData(name=n, description=d, data=v) for n, v, d in columns],
    )


def _positions(dsv: DataStoreView) -> pl.DataFrame | None:
    """(sheet_name, neuron_id, x, y, z) of the sheets with both ids and positions."""
    frames = []
    for sheet, pos in dsv.get_neuron_positions().items():
        try:
            ids = dsv.get_sheet_ids(sheet)
        except KeyError:
            continue
        pos = np.asarray(pos, dtype=np.float64)
        data = {"sheet_name": [sheet] * len(ids), "neuron_id": np.asarray(ids, dtype=np.int64)}
        for axis, row in zip("xyz", pos, strict=False):
            data[axis] = row
        frames.append(pl.DataFrame(data))
    return pl.concat(frames, how="diagonal_relaxed") if frames else None


def _data(values: np.ndarray, compression: str | None) -> Any:
    if compression is None:
        return values
    from hdmf.backends.hdf5 import H5DataIO

    return H5DataIO(values, compression=compression)


def _units(pynwb: Any, dsv: DataStoreView, rec: pl.DataFrame, compression: str | None,
           resolution: float | None) -> Any:
    from hdmf.common import ElementIdentifiers, VectorData, VectorIndex

    timeline = rec.select("segment_id", "recording", "to_seconds", "start_time", "stop_time")
    first = rec.group_by("sheet_name", maintain_order=True).agg(pl.col("recording").min())
    order = {s: i for i, s in enumerate(first.sort("recording")["sheet_name"].to_list())}
    nwb_times = (pl.col("times") - pl.col("t_start")) * pl.col("to_seconds") + pl.col("start_time")
    rows = (
        dsv.spikes()
        .join(timeline.lazy(), on="segment_id", how="inner")
        .select("sheet_name", "neuron_id", "recording", "n_spikes", "start_time", "stop_time",
                nwb_times.alias("spike_times"),
                pl.col("sheet_name").replace_strict(order, return_dtype=pl.Int64).alias("_sheet"))
        .sort("_sheet", "neuron_id", "recording")
        .collect()
    )
    units = rows.group_by("_sheet", "neuron_id", maintain_order=True).agg(
        pl.col("sheet_name").first(), pl.col("n_spikes").sum(), pl.len().alias("n_recordings"))
    spike_times = rows.select(pl.col("spike_times").explode()).drop_nulls().to_series().to_numpy()
    obs = np.column_stack([rows["start_time"].to_numpy(), rows["stop_time"].to_numpy()])
    columns: list[Any] = []
    st = VectorData(name="spike_times", data=_data(spike_times, compression),
                    description="spike times (s) on the file's timeline: recordings end to end "
                                "in store order (see the trials table and to_nwb's docs)")
    obs_vd = VectorData(name="obs_intervals", data=obs,
                        description="the [start_time, stop_time] of each recording of the unit")
    columns += [st, VectorIndex(name="spike_times_index", target=st,
                                data=np.cumsum(units["n_spikes"].to_numpy())),
                obs_vd, VectorIndex(name="obs_intervals_index", target=obs_vd,
                                    data=np.cumsum(units["n_recordings"].to_numpy()))]
    columns.append(VectorData(name="sheet_name", description="sheet of the neuron",
                              data=units["sheet_name"].to_list()))
    columns.append(VectorData(name="neuron_id", description="the neuron's id in the store (PyNN id)",
                              data=units["neuron_id"].to_numpy()))
    positions = _positions(dsv)
    if positions is not None:
        placed = units.join(positions, on=["sheet_name", "neuron_id"], how="left",
                            maintain_order="left")
        for axis in "xyz":
            if axis in placed.columns:
                columns.append(VectorData(
                    name=axis, description=f"{axis} position of the neuron (as stored, μm)",
                    data=placed[axis].cast(pl.Float64).fill_null(float("nan")).to_numpy()))
    extra = {} if resolution is None else {"resolution": float(resolution)}
    return pynwb.misc.Units(
        name="units", description="one row per neuron (sheet_name, neuron_id) of the view",
        id=ElementIdentifiers(name="id", data=np.arange(units.height)), columns=columns, **extra)


def _si(units: str) -> tuple[str, float]:
    """NWB's ``unit`` and ``conversion`` for samples stored in ``units``."""
    for name, target in _SI:
        try:
            return name, float(pq.Quantity(1.0, units).rescale(target).magnitude)
        except ValueError:
            continue
    return units, 1.0


def _signals(pynwb: Any, nwbfile: Any, dsv: DataStoreView, rec: pl.DataFrame,
             compression: str | None) -> None:
    """One TimeSeries per signal name (and sampling) per recording, read one recording at a
    time; plus the ``signal_columns`` table."""
    from hdmf.common import DynamicTable, VectorData, VectorIndex

    from ..neo_convert import list_parts

    keys = ["name", "units", "time_units", "t_start", "sampling_period", "n_samples"]
    meta: dict[str, list[Any]] = {k: [] for k in ("series", "recording", "sheet_name", "signal",
                                                   "units", "time_units", "t_start",
                                                   "sampling_period")}
    ids: list[np.ndarray] = []
    scan = dsv.signals()
    for r in rec.iter_rows(named=True):
        frame = scan.filter(pl.col("segment_id") == r["segment_id"]).collect()
        groups = frame.partition_by(keys, maintain_order=True)
        for j, g in enumerate(groups):
            name, units, time_units, t_start, period, n = (g[k][0] for k in keys)
            values, offsets = list_parts(g["samples"].to_arrow())
            data = values[offsets[0]:offsets[-1]].reshape(g.height, n).T.copy()
            clash = sum(1 for h in groups if h["name"][0] == name) > 1
            series = f"{name}_rec{r['recording']:04d}" + (f"_{j}" if clash else "")
            si, conversion = _si(units)
            to_s = seconds_per_unit(time_units)
            nwbfile.add_acquisition(pynwb.TimeSeries(
                name=series, data=_data(data, compression), unit=si, conversion=conversion,
                starting_time=r["start_time"] + (t_start - r["t_start"]) * to_s,
                rate=1.0 / (period * to_s), continuity="continuous",
                description=(f"{name} of {g.height} neurons of sheet {r['sheet_name']}, recording "
                             f"{r['recording']} (trials row); samples as stored, in {units}; "
                             f"columns are the neurons of signal_columns.neuron_ids"),
                comments=(f"original t_start {t_start!r} {time_units}, sampling period "
                          f"{period!r} {time_units}")))
            for k, v in (("series", series), ("recording", r["recording"]),
                         ("sheet_name", r["sheet_name"]), ("signal", name), ("units", units),
                         ("time_units", time_units), ("t_start", t_start),
                         ("sampling_period", period)):
                meta[k].append(v)
            ids.append(g["neuron_id"].to_numpy())
    if not ids:
        return
    doc = {"series": "name of the TimeSeries in acquisition", "recording": "trials id",
           "sheet_name": "sheet", "signal": "signal name (v, gsyn_exc, gsyn_inh, ...)",
           "units": "original units of the samples", "time_units": "units of t_start and "
           "sampling_period", "t_start": "original t_start of the signal",
           "sampling_period": "original sampling period"}
    cols: list[Any] = [VectorData(name=k, description=doc[k], data=v) for k, v in meta.items()]
    neuron_ids = VectorData(name="neuron_ids", description="neuron id of each data column",
                            data=np.concatenate(ids))
    cols += [neuron_ids, VectorIndex(name="neuron_ids_index", target=neuron_ids,
                                     data=np.cumsum([len(i) for i in ids]))]
    nwbfile.add_acquisition(DynamicTable(
        name="signal_columns", description="which recording and neurons each signal TimeSeries "
        "holds, with its original units and times", columns=cols))


def _created(dsv: DataStoreView) -> _dt.datetime:
    """When the store was created (its format file), else now; timezone-aware (UTC)."""
    root = getattr(dsv.full_datastore, "root", None)
    try:
        with open(os.path.join(str(root), "mozaik_arrow.json"), encoding="utf-8") as f:
            stamp = float(json.load(f)["created"])
        return _dt.datetime.fromtimestamp(stamp, tz=_dt.timezone.utc)
    except (OSError, ValueError, KeyError, TypeError):
        return _dt.datetime.now(_dt.timezone.utc)


def to_nwb(
    dsv: DataStoreView,
    path: str | os.PathLike[str],
    *,
    session_description: str = "spiking-network simulation (mozaik / PyNN), exported by "
                               "mozaik_arrow",
    identifier: str | None = None,
    session_start_time: _dt.datetime | None = None,
    null: bool | None = None,
    signals: bool = True,
    compression: str | None = "gzip",
    overwrite: bool = False,
    spike_time_resolution: float | None = None,
    nwbfile_kwargs: Mapping[str, Any] | None = None,
) -> Path:
    """Write the recordings of a view to an NWB file (layout in the module docstring).

    Parameters
    ----------
    dsv : DataStoreView
        The view (or store) to export.
    path : str or os.PathLike
        The ``.nwb`` file to write. It is written beside the target and renamed into place.
    session_description : str
        NWB's ``session_description``.
    identifier : str, optional
        NWB's ``identifier`` (default: a new UUID4).
    session_start_time : datetime.datetime, optional
        Start of the timeline (default: when the store was created, UTC). Naive datetimes
        are taken as UTC.
    null : bool or None
        None (default): every recording; False / True: only stimulus / only null recordings.
    signals : bool
        Write the analog signals (default True); False writes spikes and trials only.
    compression : str or None
        HDF5 filter for spike times and signals (``"gzip"`` default, None for none).
    overwrite : bool
        Replace an existing file (default: refuse).
    spike_time_resolution : float, optional
        The Units table's ``resolution`` in seconds (the simulation time step, which the store
        does not record); unset by default.
    nwbfile_kwargs : mapping, optional
        More arguments for ``pynwb.NWBFile`` (``experimenter``, ``lab``, ``institution``,
        ``keywords``, ``subject``, ...). Without ``subject`` the file gets a stand-in
        :class:`pynwb.file.Subject` for the model (``subject_id`` the store's name, ``sex``
        ``"U"``, ``date_of_birth`` the session start, no species) so that nwbinspector finds
        nothing critical; DANDI also wants a ``species``: pass a real ``subject`` then.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    ValueError
        If the view selects no recording.
    ImportError
        If pynwb is not installed.

    Examples
    --------
    >>> to_nwb(queries.param_filter_query(store, sheet_name="V1_Exc_L4"), "exc.nwb")  # doctest: +SKIP
    """
    pynwb = _require_pynwb()
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists (pass overwrite=True to replace it)")
    rec = recording_timeline(dsv, null)
    if rec.height == 0:
        raise ValueError("the view selects no recording: nothing to export")
    start = session_start_time or _created(dsv)
    if start.tzinfo is None:
        start = start.replace(tzinfo=_dt.timezone.utc)
    root = getattr(dsv.full_datastore, "root", "")
    kwargs = {"notes": f"Exported by mozaik_arrow {__version__} from the store {root}. Times: "
                       "recordings end to end in store order (trials table); original times "
                       "and units in the trials and signal_columns tables.",
              **dict(nwbfile_kwargs or {})}
    if "subject" not in kwargs:
        kwargs["subject"] = pynwb.file.Subject(
            subject_id=(str(root).rstrip("/").rsplit("/", 1)[-1] or "model").replace("/", "_"),
            description="a simulated spiking network model (mozaik / PyNN), not an animal",
            sex="U", date_of_birth=start)
    nwbfile = pynwb.NWBFile(session_description=session_description,
                            identifier=identifier or str(uuid.uuid4()),
                            session_start_time=start, **kwargs)
    nwbfile.trials = _trials(pynwb, rec, dsv.stimuli_frame().collect())
    nwbfile.units = _units(pynwb, dsv, rec, compression, spike_time_resolution)
    if signals:
        _signals(pynwb, nwbfile, dsv, rec, compression)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.nwb")  # hidden until renamed
    try:
        with pynwb.NWBHDF5IO(str(tmp), "w") as io:
            io.write(nwbfile)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
