"""NWB through pynwb in the benchmark suite.

The model becomes one NWB session, laid out as NWB's documentation recommends: stimuli are
presented one after another (each preceded by its blank), so each neuron is one row of the
``units`` table holding all of its spikes (in seconds, session time), built from whole
``VectorData``/``VectorIndex`` columns (not ``add_unit`` one by one); the stimuli are the
``trials`` table (orientation, contrast, trial, the mozaik stimulus string), the blanks
``epochs``; each recorded signal of each sheet and stimulus is a ``TimeSeries`` (time x
recorded neurons; the column of each neuron is the units table's ``signal_column``).

Reads use pynwb's API where it has one (``get_unit_spike_times``, ``trials``) and whole-array
numpy otherwise, as a competent user would; results are raw arrays in seconds unless the
operation asks for neo objects (then ``neo.SpikeTrain``'s constructor builds them). NWB
keeps times in seconds: a time in ms comes back within float rounding, not bit for bit.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import h5py
import neo
import numpy as np
from hdmf.common import ElementIdentifiers, VectorData, VectorIndex
from pynwb import NWBHDF5IO, NWBFile, TimeSeries
from pynwb.misc import Units

from .generator import DT, SIGNAL_UNITS, Model, neo_segments
from .operations import Op, Probe, binned_counts

EPS = 0.5 * DT / 1000.0  # half a grid step (s): closes intervals on the left only


def _excl_cumsum(x: np.ndarray) -> np.ndarray:
    out = np.zeros(len(x) + 1, dtype=np.int64)
    np.cumsum(x, out=out[1:])
    return out


def period(model: Model) -> float:
    """Session time (ms) from one stimulus' blank to the next's."""
    return model.scale.blank + model.scale.duration


def interval(model: Model, k: int, null: bool = False) -> tuple[float, float]:
    """Session interval (s) of stimulus ``k``'s recording (or of its blank)."""
    start = k * period(model) + (0.0 if null else model.scale.blank)
    length = model.scale.blank if null else model.scale.duration
    return start / 1000.0, (start + length) / 1000.0


def ts_name(signal: str, sheet: str, k: int) -> str:
    """Name of the TimeSeries of one signal of one sheet and stimulus."""
    return f"{signal}__{sheet.replace('/', '_')}__{k:04d}"


def write_model(model: Model, path: Path, ads: list | None = None) -> dict[str, float]:
    """Write ``model`` from its neo segments into one NWB file; return the timing (NWB has
    no analysis results: ``ads`` is ignored)."""
    spent = 0.0
    chunks: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {s.name: [] for s in model.sheets}
    series = []
    for k in range(len(model.stimuli)):
        for null in (True, False):
            segs = neo_segments(model, k, null, source_ids=False)
            t = time.perf_counter()
            t0 = interval(model, k, null)[0]
            for seg in segs:
                trains = seg.spiketrains
                counts = np.fromiter((len(st) for st in trains), np.int64, len(trains))
                vals = np.concatenate([st.magnitude for st in trains]) / 1000.0 + t0
                chunks[seg.annotations["sheet_name"]].append((counts, vals))
                for sig in seg.analogsignals:
                    series.append(TimeSeries(
                        name=ts_name(sig.name, seg.annotations["sheet_name"], k),
                        data=sig.magnitude, unit=SIGNAL_UNITS[sig.name],
                        rate=float(sig.sampling_rate.rescale("Hz").magnitude),
                        starting_time=t0, description="columns: units.signal_column"))
            spent += time.perf_counter() - t
            del segs
    t = time.perf_counter()
    total = sum(int(c.sum()) for ch in chunks.values() for c, _ in ch)
    times = np.empty(total)
    ends, base = [], 0
    for sheet in model.sheets:  # unit-major: each neuron's spikes of every segment in turn
        counts = np.stack([c for c, _ in chunks[sheet.name]])
        per_unit = counts.sum(axis=0)
        unit_start = base + _excl_cumsum(per_unit)[:-1]
        before = np.cumsum(counts, axis=0) - counts
        for j, (c, v) in enumerate(chunks[sheet.name]):
            pos = np.repeat(unit_start + before[j] - _excl_cumsum(c)[:-1], c)
            times[pos + np.arange(len(v))] = v
        base += int(per_unit.sum())
        ends.append(base - int(per_unit.sum()) + np.cumsum(per_unit))
    ids = np.concatenate([s.ids for s in model.sheets])
    signal_col = np.full(len(ids), -1)
    sheet_col = np.concatenate([np.full(len(s.ids), s.name) for s in model.sheets])
    first = 0
    for s in model.sheets:
        signal_col[first + s.recorded] = np.arange(len(s.recorded))
        first += len(s.ids)
    st = VectorData(name="spike_times", description="spike times (s)", data=times)
    nwb = NWBFile(session_description="mozaik model", identifier="bench",
                  session_start_time=datetime(2026, 1, 1, tzinfo=timezone.utc))
    nwb.units = Units(name="units", description="one row per neuron", columns=[
        st, VectorIndex(name="spike_times_index", data=np.concatenate(ends), target=st),
        VectorData(name="sheet", description="sheet", data=sheet_col),
        VectorData(name="x", description="position", data=np.concatenate(
            [s.positions[0] for s in model.sheets])),
        VectorData(name="y", description="position", data=np.concatenate(
            [s.positions[1] for s in model.sheets])),
        VectorData(name="signal_column", description="column in the signal TimeSeries",
                   data=signal_col)], id=ElementIdentifiers(name="id", data=ids))
    for name in ("orientation", "contrast", "trial", "stimulus"):
        nwb.add_trial_column(name, name)
    for k, stim in enumerate(model.stimuli):
        a, b = interval(model, k)
        nwb.add_trial(start_time=a, stop_time=b, orientation=stim.orientation,
                      contrast=stim.contrast, trial=stim.trial, stimulus=str(stim))
        nwb.add_epoch(*interval(model, k, True), tags=["blank"])
    for ts in series:
        nwb.add_acquisition(ts)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return {"write_s": spent + time.perf_counter() - t}


def sizes(model: Model, path: Path) -> dict[str, float]:
    """File size; bytes per spike (spike_times + index), per sample (the TimeSeries)."""
    with h5py.File(path, "r") as f:
        spikes = sum(f[f"units/{n}"].id.get_storage_size()
                     for n in ("spike_times", "spike_times_index"))
        samples = sum(g["data"].id.get_storage_size() for g in f["acquisition"].values())
    return {"size_mb": Path(path).stat().st_size / 1e6,
            "bytes_per_spike": spikes / model.n_spikes,
            "bytes_per_sample": samples / max(1, model.n_samples)}


def counts_in(times: np.ndarray, starts: np.ndarray, intervals: list[tuple[float, float]]
              ) -> tuple[np.ndarray, np.ndarray]:
    """Index ranges [lo, hi) of each unit's spikes in each interval ([t0, t1)).

    ``starts`` (n + 1) are the units' offsets into ``times``; each unit's times are sorted.
    Vectorised: unit ``u``'s times are shifted by ``u * span`` so that one ``searchsorted``
    finds every bound. Returns (len(intervals), n) arrays.
    """
    n = len(starts) - 1
    span = float(times.max() if len(times) else 0.0) + 1.0
    shift = np.arange(n) * span
    keys = times[starts[0]:starts[-1]] + np.repeat(shift, np.diff(starts))
    lo = np.stack([np.searchsorted(keys, shift + a - EPS) for a, _ in intervals])
    hi = np.stack([np.searchsorted(keys, shift + b - EPS) for _, b in intervals])
    return lo, hi


def gather(times: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The spikes of ranges [lo, hi) as flat values + offsets."""
    lengths = hi - lo
    offsets = _excl_cumsum(lengths)
    idx = np.repeat(lo - offsets[:-1], lengths) + np.arange(offsets[-1])
    return times[idx], offsets


def cv_ranges(times: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """CV(ISI) of the spikes in each range [lo, hi) (NaN with four ISIs or fewer); the
    ranges must be in increasing order. Sums of squared ISIs by one ``reduceat``."""
    n = hi - lo - 1
    out = np.full(len(lo), np.nan)
    ok = np.flatnonzero(n > 4)
    if len(ok) == 0:
        return out
    d = np.zeros(len(times))  # one spare slot: every bound is a valid index
    np.subtract(times[1:], times[:-1], out=d[:-1])
    d *= d
    a, b, m = lo[ok], hi[ok] - 1, n[ok]
    bounds = np.empty(2 * len(ok), dtype=np.int64)
    bounds[0::2], bounds[1::2] = a, b
    sumsq = np.add.reduceat(d, bounds)[0::2]
    mean = (times[b] - times[a]) / m
    out[ok] = np.sqrt(np.maximum(sumsq / m - mean * mean, 0.0)) / mean
    return out


def ops(model: Model, probe: Probe, path: Path, small_path: Path | None = None,
        ads: list | None = None) -> dict[str, Op]:
    """The operations on the NWB file at ``path``."""
    io = NWBHDF5IO(str(path), "r")
    f = io.read()
    units = f.units
    ids = units.id.data[:]
    row = {int(i): r for r, i in enumerate(ids)}
    sheet_rows, first = {}, 0
    for s in model.sheets:
        sheet_rows[s.name] = (first, first + len(s.ids))
        first += len(s.ids)
    sig_col = units["signal_column"].data[:]
    win = interval(model, probe.stimulus)
    dur_s = model.scale.duration / 1000.0
    recs = [(s, k) for k in range(len(model.stimuli)) for s in sheet_rows]
    n_bins = int(math.ceil(model.scale.duration / probe.bin_ms))
    slow = {"repeat": 1, "warmup": 0} if len(ids) > 20_000 else {"repeat": 3}

    def spikes(sheets: list[str]) -> tuple[np.ndarray, np.ndarray, dict[str, tuple[int, int]]]:
        """Every spike of the units of ``sheets`` (contiguous rows) and their offsets."""
        r0, r1 = sheet_rows[sheets[0]][0], sheet_rows[sheets[-1]][1]
        index = units["spike_times_index"].data
        starts = np.concatenate([[index[r0 - 1] if r0 else 0], index[r0:r1]]).astype(np.int64)
        times = units["spike_times"].target.data[starts[0]:starts[-1]]
        return times, starts - starts[0], {s: (sheet_rows[s][0] - r0, sheet_rows[s][1] - r0)
                                           for s in sheets}

    def rates(which: list[tuple[str, int]]) -> np.ndarray:
        times, starts, local = spikes(list(sheet_rows))
        ks = sorted({k for _, k in which})
        lo, hi = counts_in(times, starts, [interval(model, k) for k in ks])
        return np.concatenate([(hi[ks.index(k)] - lo[ks.index(k)])[slice(*local[s])] / dur_s
                               for s, k in which])

    def cvs(which: list[tuple[str, int]]) -> np.ndarray:
        times, starts, local = spikes(list(sheet_rows))
        ks = sorted({k for _, k in which})
        lo, hi = counts_in(times, starts, [interval(model, k) for k in ks])
        return np.concatenate([cv_ranges(times, lo[ks.index(k)][slice(*local[s])],
                                         hi[ks.index(k)][slice(*local[s])]) for s, k in which])

    def trains() -> list:
        times, starts, local = spikes(list(sheet_rows))
        lo, hi = counts_in(times, starts, [win])
        lo, hi = lo[0].tolist(), hi[0].tolist()
        t0, t1 = win
        return [neo.SpikeTrain(times[a:b], units="s", t_start=t0, t_stop=t1, source_id=int(i))
                for a, b, i in zip(lo, hi, ids.tolist(), strict=True)]

    def psth() -> np.ndarray:
        times, starts, _ = spikes([probe.sheet])
        total = 0
        for k in probe.psth_stimuli:
            w = interval(model, k)
            lo, hi = counts_in(times, starts, [w])
            vals, offsets = gather(times, lo[0], hi[0])
            # back to ms; rounded to the ns, else float rounding of the s moves bin edges
            rel = np.round((vals - w[0]) * 1000.0, 6)
            total = total + binned_counts(rel, offsets, 0.0, probe.bin_ms, n_bins)
        return total / len(probe.psth_stimuli) / (probe.bin_ms / 1000.0)

    def query() -> Any:
        df = f.trials.to_dataframe()
        return df[(df.orientation == probe.query["st_orientation"])
                  & (df.contrast == probe.query["st_contrast"])]

    def one(u: Any, i: int) -> np.ndarray:
        return u.get_unit_spike_times(row[i], in_interval=(win[0], win[1] - EPS))

    def open_first() -> tuple[Any, np.ndarray]:
        h = NWBHDF5IO(str(path), "r")
        return h, one(h.read().units, int(probe.neuron_ids[0]))

    def to_ms(t: np.ndarray) -> np.ndarray:
        return (np.asarray(t) - win[0]) * 1000.0

    vm = f.acquisition[ts_name("v", probe.sheet, probe.stimulus)]

    def open_file(p: Path) -> Any:
        h = NWBHDF5IO(str(p), "r")
        h.read()
        return h

    out = {
        "open_ms": Op(lambda: open_file(path), after=lambda h: h.close()),
        "query_stimulus_ms": Op(query, norm=lambda df: len(df) * len(sheet_rows)),
        "first_spiketrain_ms": Op(open_first, after=lambda r: r[0].close(), warmup=0,
                                  norm=lambda r: to_ms(r[1])),
        "one_spiketrain_ms": Op(lambda i: one(units, int(i)), each=probe.neuron_ids,
                                norm=to_ms, note="raw array in s (no neo object)"),
        "one_vm_ms": Op(lambda i: vm.data[:, int(sig_col[row[int(i)]])], each=probe.vm_ids,
                        note="raw array (no neo object)"),
        "trains_stimulus_s": Op(trains, norm=lambda ts: (len(ts), sum(len(t) for t in ts)),
                                **slow),
        "rates_stimulus_ms": Op(lambda: rates([(s, probe.stimulus) for s in sheet_rows])),
        "rates_all_ms": Op(lambda: rates(recs), repeat=3),
        "cv_stimulus_ms": Op(lambda: cvs([(s, probe.stimulus) for s in sheet_rows])),
        "cv_all_ms": Op(lambda: cvs(recs), repeat=3),
        "psth_ms": Op(psth),
    }
    if small_path is not None:
        out["open_small_ms"] = Op(lambda: open_file(small_path), after=lambda h: h.close())
    return out
