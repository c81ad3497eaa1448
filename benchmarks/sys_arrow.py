"""mozaik_arrow in the benchmark suite: writes a model through its API, and its operations."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl

import mozaik_arrow as ma
from mozaik_arrow import hot_files
from mozaik_arrow import queries as q
from mozaik_arrow.neo_convert import list_parts

from .generator import Model, neo_segments, write_ads, write_recordings
from .measure import durable_writes
from .operations import Op, Probe, binned_counts, order_key

SQL = """
SELECT sp.sheet_name AS sheet, st.orientation AS orientation,
       avg(sp.n_spikes / (sp.t_stop - sp.t_start) * 1000) AS rate_hz
FROM read_parquet('{root}/spikes/sheet=*/stimulus=*/*.parquet', hive_partitioning = 1,
                  hive_types = {{'sheet': VARCHAR, 'stimulus': VARCHAR}}) sp
JOIN read_parquet('{root}/stimuli/*.parquet', union_by_name = true) st USING (stimulus)
WHERE NOT sp."null"
GROUP BY ALL
"""


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def write_model(model: Model, path: Path, ads: list | None = None) -> dict[str, float]:
    """Write ``model`` (and ``ads``) into a new store at ``path``; return the timings.

    Neo segments are built (as views of the model's arrays) before each timed
    ``add_null_recording`` + ``add_recording`` pair; neuron ids and positions are timed too.
    """
    with ma.open(path, "w") as store:
        out = {"write_s": write_recordings(store, model)}
        if ads is not None:
            out["write_ads_s"] = write_ads(store, ads)
    return out


def write_parts(model: Model, work: Path, repeat: int) -> dict[str, float]:
    """Spikes-only and signals-only writes of one stimulus' recordings (median of
    ``repeat`` fresh stimuli, after one warm-up): the two write rates of the targets.

    After each, the same number of bytes in as many files is written raw and fsynced: the
    disk's speed at that moment (``disk_*`` figures), since this VM's durable write
    bandwidth varies several-fold from one minute to the next.
    """
    n = min(repeat + 1, len(model.stimuli))
    times: dict[str, list[float]] = {"spikes": [], "signals": [], "disk_spikes": [],
                                     "disk_signals": []}
    with ma.open(work / "spikes_only", "w") as a, ma.open(work / "signals_only", "w") as b:
        for k in range(n):
            # the spikes-only store gets segments without signals, and the other way round
            for store, kept, dropped in ((a, "spikes", "analogsignals"),
                                         (b, "signals", "spiketrains")):
                segs = neo_segments(model, k)
                for s in segs:
                    setattr(s, dropped, [])
                before = _dir_files(Path(store.root) / kept)
                t = time.perf_counter()
                store.add_recording(segs, model.stimuli[k])
                dt = time.perf_counter() - t
                new = _dir_files(Path(store.root) / kept) - before
                # the disk's cost of what the commit wrote, measured right after it
                raw = sum(durable_writes(work, sum(p.stat().st_size for p in new) // len(new),
                                         len(new)))
                if k or n == 1:
                    times[kept].append(dt)
                    times["disk_" + kept].append(raw)
        n_spikes = sum(s.n_spikes for s in model.segments_of(0))
        n_samples = sum(s.n_samples for s in model.segments_of(0))

    def rate(count: int, key: str) -> float:
        return count / float(np.median(times[key])) / 1e6

    return {"write_spikes_only_mps": rate(n_spikes, "spikes"),
            "write_signals_only_mps": rate(n_samples, "signals"),
            "disk_spikes_only_mps": rate(n_spikes, "disk_spikes"),
            "disk_signals_only_mps": rate(n_samples, "disk_signals")}


def _dir_files(path: Path) -> set[Path]:
    return set(path.rglob("*.parquet")) if path.exists() else set()


def sizes(model: Model, path: Path) -> dict[str, float]:
    """Size on disk, bytes per spike (``spikes/``) and per sample (``signals/``)."""
    return {"size_mb": _dir_bytes(path) / 1e6,
            "bytes_per_spike": _dir_bytes(path / "spikes") / model.n_spikes,
            "bytes_per_sample": _dir_bytes(path / "signals") / max(1, model.n_samples)}


def _by_sheet(segs: list) -> list:
    return sorted(segs, key=lambda s: order_key(s.annotations["sheet_name"], 0))


def ops(model: Model, probe: Probe, path: Path, small_path: Path | None = None,
        ads: list | None = None) -> dict[str, Op]:
    """The operations on the store at ``path`` (``small_path``: a one-stimulus store)."""
    store = ma.open(path)
    stim = str(model.stimuli[probe.stimulus])
    all_segs = store.get_segments()
    segs = _by_sheet([s for s in all_segs if s.annotations["stimulus"] == stim])
    seg = next(s for s in segs if s.annotations["sheet_name"] == probe.sheet)
    order = {str(st): k for k, st in enumerate(model.stimuli)}
    all_sorted = sorted(all_segs, key=lambda s: order_key(
        s.annotations["sheet_name"], order[s.annotations["stimulus"]]))
    n_bins = int(math.ceil(model.scale.duration / probe.bin_ms))

    sparse_seg = next(s for s in ma.open(path).get_segments() if s.identifier == seg.identifier)

    def sparse(read: Callable[[int], Any]) -> Callable[[Any], Any]:
        # A store of its own with whole-file decoding off: every read decodes (or finds in
        # the row-group LRU) the neuron's row group, as reads too sparse to promote do.
        def one(i: Any) -> Any:
            limit, hot_files.HOT_FILES.limit = hot_files.HOT_FILES.limit, 0
            try:
                return read(int(i))
            finally:
                hot_files.HOT_FILES.limit = limit
        return one

    def open_store(p: Path) -> Any:
        s = ma.open(p)
        s.get_segments()
        return s

    def open_first() -> tuple[Any, Any]:
        s = ma.open(path)
        one = next(x for x in s.get_segments() if x.identifier == seg.identifier)
        return s, one.get_spiketrain(int(probe.neuron_ids[0]))

    def trains() -> list:
        out = []
        for s in segs:
            s.release()
            out.append(s.get_spiketrains())
        return out

    def psth() -> np.ndarray:
        dsv = q.param_filter_query(store, sheet_name=probe.sheet,
                                   st_orientation=model.stimuli[probe.stimulus].orientation,
                                   st_contrast=model.stimuli[probe.stimulus].contrast)
        frame = dsv.spikes().filter(~pl.col("null")).select("neuron_id", "times").collect()
        values, offsets = list_parts(frame["times"].to_arrow())
        sheet_ids = model.sheet(probe.sheet).ids
        rows = np.searchsorted(sheet_ids, frame["neuron_id"].to_numpy())
        total = binned_counts(values, offsets, 0.0, probe.bin_ms, n_bins, rows, len(sheet_ids))
        return total / len(probe.psth_stimuli) / (probe.bin_ms / 1000.0)

    def sql() -> Any:
        return duckdb.sql(SQL.format(root=path)).fetchall()

    def cat(xs: list) -> np.ndarray:
        return np.concatenate([np.asarray([np.nan if v is None else v for v in x], dtype=float)
                               for x in xs])

    out = {
        "open_ms": Op(lambda: open_store(path), after=lambda s: s.close()),
        "query_stimulus_ms": Op(lambda: q.param_filter_query(store, **probe.query).get_segments(),
                                norm=len),
        "first_spiketrain_ms": Op(open_first, after=lambda r: r[0].close(),
                                  norm=lambda r: np.asarray(r[1]), warmup=0),
        "one_spiketrain_ms": Op(lambda i: seg.get_spiketrain(int(i)), each=probe.neuron_ids,
                                norm=np.asarray),
        "one_spiketrain_sparse_ms": Op(sparse(sparse_seg.get_spiketrain), each=probe.neuron_ids,
                                       norm=np.asarray, check_as="one_spiketrain_ms"),
        "one_vm_ms": Op(lambda i: seg.get_vm(int(i)), each=probe.vm_ids,
                        norm=lambda v: np.asarray(v).ravel()),
        "one_vm_sparse_ms": Op(sparse(sparse_seg.get_vm), each=probe.vm_ids,
                               norm=lambda v: np.asarray(v).ravel(), check_as="one_vm_ms"),
        "trains_stimulus_s": Op(trains, repeat=3, norm=lambda ts: (
            sum(len(t) for t in ts), sum(len(x) for t in ts for x in t))),
        "rates_stimulus_ms": Op(lambda: [s.mean_rates() for s in segs], norm=np.concatenate),
        "rates_all_ms": Op(lambda: [s.mean_rates() for s in all_sorted], norm=np.concatenate),
        "cv_stimulus_ms": Op(lambda: [s.cv_isi() for s in segs], norm=cat),
        "cv_all_ms": Op(lambda: [s.cv_isi() for s in all_sorted], norm=cat, repeat=3),
        "psth_ms": Op(psth),
        "ads_query_ms": Op(lambda: q.param_filter_query(store, **probe.ads_query)
                           .ads_frame().select("ads_key").collect(), norm=len),
        "ads_get_ms": Op(lambda: store.get_analysis_result(**probe.ads_get), norm=len),
        "ads_partition_ms": Op(lambda: q.partition_analysis_results_by_parameters_query(
            store, probe.ads_partition), norm=_group_sizes),
        "ads_partition_stim_ms": Op(
            lambda: q.partition_analysis_results_by_stimulus_parameters_query(
                store, probe.ads_partition_stim), norm=_group_sizes),
        "sql_ms": Op(sql, norm=lambda rows: {(r[0], round(r[1], 9)): r[2] for r in rows}),
    }
    if small_path is not None:
        out["open_small_ms"] = Op(lambda: open_store(small_path), after=lambda s: s.close())
    return out


def _group_sizes(views: list) -> list[int]:
    return sorted(v.ads_frame().select("ads_key").collect().height
                  for v in views)
