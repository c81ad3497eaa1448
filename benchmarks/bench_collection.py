"""Collections of stores (a parameter search): open, cross-run queries, Dask, S3.

    python -m benchmarks.bench_collection [--stores 1000] [--s3-stores 50] [--no-results]

Generates ``--stores`` small local stores (one run each of a parameter search: model
parameters ``sheets.V1_Exc_L4.density`` in five values and ``seed``; sheets ``V1_Exc_L4`` and
``V1_Inh_L4`` x four drifting-grating orientations, 50 neurons x 2 s per recording, rates
depending on density, sheet and orientation) and times, for issue 8 ("Beyond one machine"):

1. ``open_collection(directory)`` + ``runs()`` (target <= 2 s for 1000 stores);
2. a cross-run query, mean firing rate by density x sheet x orientation, from the metadata
   (``segments`` joined with ``runs()`` and ``stimuli_frame()``) in polars and through
   duckdb (``coll.sql``) (target <= 1 s each), and the same rates from the spike data
   (``coll.spikes()``, the length of every spike train);
3. ``coll.map(fn)`` (mean rate from the spike trains of one segment per store) in this process
   and on a 2-worker ``dask.distributed.LocalCluster`` (processes), with equal results;
4. the same on ``--s3-stores`` stores written through the API to a moto S3 server started
   here (``tests/s3_servers.py``), and the requests of a one-neuron read on S3, cold (first
   read after open) and warm (target <= 3 on the spikes file).

Generation (not part of any figure) writes one template store per density through the API,
copies its directory per run (``shutil.copytree``) and gives each copy its own model
parameters with one more commit (``set_model_parameters``), so every run is a real store whose
log has five commits; runs of one density share their recording data. Scratch space is a
temporary directory under ``$BENCH_DIR`` (default the system's), removed at the end.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

import mozaik_arrow as ma
from mozaik_arrow.neo_convert import Recording

from .common import once, peak_rss_mb, write_results

DENSITIES = (25.0, 50.0, 100.0, 200.0, 400.0)
SHEETS = ("V1_Exc_L4", "V1_Inh_L4")
ORIENTATIONS = tuple(i * math.pi / 4 for i in range(4))
N_NEURONS = 50  # per sheet and recording
DURATION = 2000.0  # ms
DENSITY = "sheets.V1_Exc_L4.density"

TARGETS = {  # figure -> (target, unit); smaller is better
    "open_s": 2.0,
    "query_polars_s": 1.0,
    "query_duckdb_s": 1.0,
    "s3_one_neuron_cold_requests": 3,
    "s3_one_neuron_warm_requests": 3,
}


# -- generation ----------------------------------------------------------------------------------
def stimulus(orientation: float) -> dict[str, Any]:
    return {"name": "FullfieldDriftingSinusoidalGrating", "module_path": "mozaik.stimuli",
            "orientation": orientation, "contrast": 100.0, "trial": 0}


def rate_hz(sheet: str, density: float, orientation: float) -> float:
    """The generated mean rate: denser networks fire more, inhibitory cells ~3x more than
    excitatory ones, and both prefer orientation 0."""
    base = 5.0 if sheet == "V1_Exc_L4" else 15.0
    return base * math.sqrt(density / 100.0) * (1.5 + math.cos(2 * orientation))


def model_parameters(density: float, seed: int) -> dict[str, Any]:
    return {"sheets": {"V1_Exc_L4": {"density": density}, "V1_Inh_L4": {"density": density / 4}},
            "seed": seed}


def poisson_arrays(n: int, rate: float, duration: float, seed: int, dt: float = 0.1,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Sorted Poisson spike times (ms, on a ``dt`` grid) of ``n`` neurons of one rate, as
    flat values + offsets (one rate for all, so the query's means are close to ``rate``)."""
    rng = np.random.default_rng(seed)
    n_bins = int(round(duration / dt))
    counts = np.minimum(rng.poisson(rate * duration / 1000.0, n), n_bins)
    bins = [np.sort(rng.choice(n_bins, c, replace=False)) for c in counts]
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return np.round(np.concatenate(bins) * dt, 10), offsets


def write_recordings(store: Any, density: float, seed: int) -> None:
    """Four commits: one per orientation, both sheets' recordings of it in each."""
    for k, o in enumerate(ORIENTATIONS):
        recs = []
        for j, sheet in enumerate(SHEETS):
            values, offsets = poisson_arrays(N_NEURONS, rate_hz(sheet, density, o), DURATION,
                                             seed=seed * 100 + k * len(SHEETS) + j)
            ids = np.arange(1 + 1000 * j, 1 + 1000 * j + N_NEURONS)
            recs.append(Recording.from_arrays(sheet, ids, values, offsets, t_stop=DURATION))
        store.add_recording(recs, stimulus(o))


def run_name(i: int) -> str:
    return f"run_{i:05d}"


def density_of(i: int) -> float:
    return DENSITIES[i % len(DENSITIES)]


def generate_local(work: Path, n: int, threads: int) -> tuple[Path, dict[str, float]]:
    """``n`` stores in ``work/sweep``: templates through the API, then copy + one commit."""
    templates = work / "templates"
    sweep = work / "sweep"
    templates.mkdir()
    sweep.mkdir()
    t0 = time.perf_counter()
    for k, d in enumerate(DENSITIES):
        with ma.open(templates / f"d{k}", "w") as store:
            write_recordings(store, d, seed=k)
    t1 = time.perf_counter()

    def make(i: int) -> None:
        path = sweep / run_name(i)
        shutil.copytree(templates / f"d{i % len(DENSITIES)}", path)
        with ma.open(path, "a") as store:
            store.set_model_parameters(model_parameters(density_of(i), i))

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(make, range(n)))
    t2 = time.perf_counter()
    shutil.rmtree(templates)
    return sweep, {"templates_s": t1 - t0, "copies_s": t2 - t1, "total_s": t2 - t0}


def generate_s3(ep: Any, n: int, threads: int) -> tuple[str, dict[str, float]]:
    """``n`` stores under one prefix of the moto bucket, each written through the API."""
    prefix = ep.url(ep.unique_prefix("sweep")).rstrip("/")

    def make(i: int) -> None:
        with ma.open(f"{prefix}/{run_name(i)}", "w", storage_options=ep.storage_options) as store:
            write_recordings(store, density_of(i), seed=i)
            store.set_model_parameters(model_parameters(density_of(i), i))

    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(make, range(n)))
    return prefix, {"total_s": time.perf_counter() - t0}


# -- the queries ---------------------------------------------------------------------------------
def query_polars(coll: Any) -> pl.DataFrame:
    """Mean rate (Hz) by density x sheet x orientation from the recordings' metadata."""
    return (coll.segments_frame().filter(~pl.col("null"))
            .join(coll.runs().lazy().select("run", DENSITY), on="run")
            .join(coll.stimuli_frame().select("run", "stimulus", "orientation"),
                  on=["run", "stimulus"])
            .group_by(DENSITY, "sheet_name", "orientation")
            .agg((pl.col("n_spikes").sum()
                  / (pl.col("n_neurons") * (pl.col("t_stop") - pl.col("t_start"))).sum()
                  * 1000.0).alias("rate_hz"))
            .sort(DENSITY, "sheet_name", "orientation")
            .collect())


SQL = f"""
SELECT r."{DENSITY}" AS "{DENSITY}", g.sheet_name, st.orientation,
       sum(g.n_spikes) / sum(g.n_neurons * (g.t_stop - g.t_start)) * 1000.0 AS rate_hz
FROM segments g
JOIN runs r USING (run)
JOIN stimuli st ON st.run = g.run AND st.stimulus = g.stimulus
WHERE NOT g."null"
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""


def query_duckdb(coll: Any) -> pl.DataFrame:
    return coll.sql(SQL)


def query_spikes(coll: Any) -> pl.DataFrame:
    """The same rates from the spike data: the length of every stored spike train."""
    return (coll.spikes().filter(~pl.col("null"))
            .select("run", "sheet_name", "stimulus",
                    pl.col("times").list.len().alias("n"), (pl.col("t_stop") - pl.col("t_start")).alias("dt"))
            .join(coll.runs().lazy().select("run", DENSITY), on="run")
            .join(coll.stimuli_frame().select("run", "stimulus", "orientation"),
                  on=["run", "stimulus"])
            .group_by(DENSITY, "sheet_name", "orientation")
            .agg((pl.col("n").sum() / pl.col("dt").sum() * 1000.0).alias("rate_hz"))
            .sort(DENSITY, "sheet_name", "orientation")
            .collect())


def same_rates(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    if a.height != b.height or a.columns != b.columns:
        return False
    keys = a.columns[:-1]
    return (a.select(keys).equals(b.select(keys))
            and np.allclose(a["rate_hz"].to_numpy(), b["rate_hz"].to_numpy(), rtol=1e-12))


def mean_rate_of_first_segment(store: Any) -> float:
    """``map``'s function: mean rate (Hz) over the spike trains of the store's first segment."""
    seg = store.get_segments()[0]
    trains = seg.get_spiketrains()
    to_s = float(trains[0].units.rescale("s").magnitude)  # units.rescale is slow: once
    return float(np.mean([len(st) / ((float(st.t_stop.magnitude) - float(st.t_start.magnitude)) * to_s)
                          for st in trains]))


def _importable(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` as an attribute of this module imported by its name, so that Dask pickles it by
    reference even when this file runs as ``__main__``."""
    return getattr(importlib.import_module("benchmarks.bench_collection"), fn.__name__)


# -- measuring -----------------------------------------------------------------------------------
def measure_open_and_queries(target: str | Path, repeat: int, storage_options: Any = None,
                             ) -> tuple[dict[str, Any], dict[str, pl.DataFrame]]:
    """For each repetition, fresh collections: open + runs(), then each query as the first
    thing after an open (polars again warm). Medians over ``repeat``."""
    so = {"storage_options": storage_options} if storage_options else {}
    times: dict[str, list[float]] = {k: [] for k in (
        "open_s", "query_polars_s", "query_polars_warm_s", "query_duckdb_s", "query_spikes_s")}
    frames: dict[str, pl.DataFrame] = {}
    n_runs = 0

    def opened() -> tuple[float, Any]:
        def go():
            coll = ma.open_collection(target, **so)
            coll.runs()
            return coll
        return once(go)

    for _ in range(repeat):
        dt, coll = opened()
        n_runs = len(coll)
        times["open_s"].append(dt)
        dt, frames["polars"] = once(lambda c=coll: query_polars(c))
        times["query_polars_s"].append(dt)
        dt, _ = once(lambda c=coll: query_polars(c))
        times["query_polars_warm_s"].append(dt)
        coll.close()
        for key, fn in (("duckdb", query_duckdb), ("spikes", query_spikes)):
            _, coll = opened()
            dt, frames[key] = once(lambda c=coll, fn=fn: fn(c))
            times[f"query_{key}_s"].append(dt)
            coll.close()
    out: dict[str, Any] = {k: float(np.median(v)) for k, v in times.items()}
    out["open_first_s"] = times["open_s"][0]
    out["runs"] = n_runs
    out["all_times"] = times
    return out, frames


def measure_map(sweep: Path, workers: int, repeat: int = 2) -> dict[str, Any]:
    from dask.distributed import Client, LocalCluster

    fn = _importable(mean_rate_of_first_segment)
    coll = ma.open_collection(sweep)
    coll.runs()
    # best of `repeat` calls each (the machine may be shared); Dask's first call apart
    one_times, results = [], []
    for _ in range(repeat):
        dt, one = once(lambda: coll.map(fn))
        one_times.append(dt)
        results.append(one)
    t0 = time.perf_counter()
    with LocalCluster(n_workers=workers, processes=True, threads_per_worker=1,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        start_s = time.perf_counter() - t0
        dask_first_s, first = once(lambda: coll.map(fn, client=client))
        results.append(first)
        dask_times = []
        for _ in range(repeat):
            dt, dist = once(lambda: coll.map(fn, client=client))
            dask_times.append(dt)
            results.append(dist)
    coll.close()
    one_s, dask_s = min(one_times), min(dask_times)
    return {"runs": len(one), "one_process_s": one_s, "dask_cluster_start_s": start_s,
            "dask_first_s": dask_first_s, "dask_s": dask_s, "one_process_times": one_times,
            "dask_times": dask_times, "ratio_one_over_dask": one_s / dask_s,
            "equal": all(r == results[0] for r in results),
            "mean_rate_hz": float(np.mean(list(one.values())))}


def measure_s3(n: int, threads: int, repeat: int) -> tuple[dict[str, Any], dict[str, pl.DataFrame]]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's tests/
    from tests.s3_servers import moto_server

    with moto_server() as ep:
        prefix, gen = generate_s3(ep, n, threads)
        ep.clear_requests()
        out, frames = measure_open_and_queries(prefix, repeat, ep.storage_options)
        out["generation"] = gen
        # requests of one open + runs() (listing, HEADs of the format files, logs)
        ep.clear_requests()
        coll = ma.open_collection(prefix, storage_options=ep.storage_options)
        coll.runs()
        out["open_requests"] = len(ep.requests)
        coll.close()
        # one neuron: cold (first read after open) and warm (a second neuron; these stores
        # hold 50 neurons per recording, one row group, which the first read decoded)
        url = f"{prefix}/{run_name(0)}"
        with ma.open(url, "r", storage_options=ep.storage_options) as store:
            seg = store.get_segments()[0]
            ids = seg.get_stored_spike_train_ids()
            ep.clear_requests()
            cold_st = seg.get_spiketrain(ids[3])
            cold = list(ep.requests)
            ep.clear_requests()
            seg.get_spiketrain(ids[4])
            warm = list(ep.requests)
        with ma.open(url, "r", storage_options=ep.storage_options) as store:
            ep.clear_requests()
            open_and_read = store.get_segments()[0].get_spiketrain(ids[3])
            from_open = list(ep.requests)

        def spikes(reqs: list) -> list:
            return [r for r in reqs if "/spikes/" in r.path]

        out["one_neuron_cold_requests"] = len(spikes(cold))
        out["one_neuron_cold_requests_all"] = len(cold)
        out["one_neuron_warm_requests"] = len(spikes(warm))
        out["one_neuron_warm_requests_all"] = len(warm)
        out["open_get_segments_one_neuron_requests_all"] = len(from_open)
        out["one_neuron_requests_detail"] = {
            "cold": [f"{r.method} {r.range or ''}".strip() for r in spikes(cold)],
            "warm": [f"{r.method} {r.range or ''}".strip() for r in spikes(warm)]}
        out["one_neuron_equal"] = bool(np.array_equal(cold_st.magnitude, open_and_read.magnitude))
    return out, frames


# -- report --------------------------------------------------------------------------------------
def _row(label: str, value: float, unit: str, target: float | None = None) -> str:
    if unit == "requests":
        unit = "request" if value == 1 else "requests"
    shown = f"{value:.0f}" if unit.startswith("request") else f"{value:.2f}"
    if target is None:
        return f"| {label} | {shown} {unit} | – | – |"
    met = "met" if value <= target else "**missed**"
    tshown = f"{target:.0f} requests" if unit.startswith("request") else f"{target:g} {unit}"
    return f"| {label} | {shown} {unit} | ≤ {tshown} | {met} |"


def rate_table(frame: pl.DataFrame) -> list[str]:
    """Mean rate by density (rows) x sheet and orientation (columns)."""
    cols = [(s, o) for s in SHEETS for o in ORIENTATIONS]
    head = "| density | " + " | ".join(f"{s[3:6]} {math.degrees(o):.0f}°" for s, o in cols) + " |"
    lines = [head, "|---" * (len(cols) + 1) + "|"]
    rates = {(r[DENSITY], r["sheet_name"], r["orientation"]): r["rate_hz"]
             for r in frame.iter_rows(named=True)}
    for d in sorted({k[0] for k in rates}):
        lines.append(f"| {d:g} | " + " | ".join(
            f"{rates[(d, s, o)]:.1f}" if (d, s, o) in rates else "–" for s, o in cols) + " |")
    return lines


def report(args: argparse.Namespace, res: dict[str, Any]) -> str:
    loc, mp, s3 = res["local"], res["map"], res["s3"]
    n, ns = loc["runs"], s3["runs"]
    lines = [
        f"A parameter search of {n:,} local stores and {ns:,} on S3 (moto, in this process): "
        f"density ∈ {{{', '.join(f'{d:g}' for d in DENSITIES)}}} x seed; each store 2 sheets x "
        f"4 orientations, {N_NEURONS} neurons x {DURATION / 1000:g} s per recording, 5 commits. "
        f"Times are medians of {args.repeat} fresh collections ({args.s3_repeat} on S3; the first open: "
        f"{loc['open_first_s']:.3f} s); each query is the first use of a freshly opened "
        "collection (it builds the concatenated metadata), polars warm is the same query again.",
        "",
        "| figure | measured | target | |",
        "|---|---|---|---|",
        _row(f"open_collection + runs(), {n:,} local stores", loc["open_s"], "s", TARGETS["open_s"]),
        _row("cross-run query (metadata), polars", loc["query_polars_s"], "s",
             TARGETS["query_polars_s"]),
        _row("cross-run query (metadata), polars, warm", loc["query_polars_warm_s"], "s"),
        _row("cross-run query (metadata), duckdb `coll.sql`", loc["query_duckdb_s"], "s",
             TARGETS["query_duckdb_s"]),
        _row(f"cross-run query over the spike data ({n * 8:,} files), polars",
             loc["query_spikes_s"], "s"),
        _row(f"`coll.map(fn)`, one process ({mp['runs']:,} runs, best of "
             f"{len(mp['one_process_times'])})", mp["one_process_s"], "s"),
        _row(f"`coll.map(fn)`, Dask LocalCluster {args.workers} workers x 1 thread (best of "
             f"{len(mp['dask_times'])} after the first)", mp["dask_s"], "s"),
        _row("`coll.map(fn)`, Dask, first call", mp["dask_first_s"], "s"),
        _row(f"open_collection + runs(), {ns:,} stores on S3", s3["open_s"], "s"),
        _row("cross-run query (metadata) on S3, polars", s3["query_polars_s"], "s"),
        _row("cross-run query (metadata) on S3, duckdb", s3["query_duckdb_s"], "s"),
        _row(f"cross-run query over the spike data on S3 ({ns * 8:,} files)",
             s3["query_spikes_s"], "s"),
        _row("requests to the spikes file, one neuron on S3, cold (first read after open)",
             s3["one_neuron_cold_requests"], "requests", TARGETS["s3_one_neuron_cold_requests"]),
        _row("requests to the spikes file, one neuron on S3, warm",
             s3["one_neuron_warm_requests"], "requests", TARGETS["s3_one_neuron_warm_requests"]),
        "",
        f"- **Dask vs one process:** one process / Dask = {mp['ratio_one_over_dask']:.2f} "
        f"({'Dask faster' if mp['ratio_one_over_dask'] > 1 else 'Dask slower'}); results "
        f"{'equal' if mp['equal'] else '**differ**'} (mean of the per-run rates "
        f"{mp['mean_rate_hz']:.2f} Hz). `fn` lists the store's segments and reads the "
        f"{N_NEURONS} spike trains of the first one: a few ms of Python per run, local disk. "
        f"In one process the stores are those `runs()` already opened; each Dask task opens "
        f"its store again from the path and pays scheduling and pickling, and on "
        f"{os.cpu_count()} cores the two workers share them with the scheduler and this "
        "process, so Dask has little to gain here. It wins when each task waits on I/O "
        "(stores on object storage, where opening one is ~15 requests) or computes for "
        "seconds, and with many cores or nodes. Cluster start "
        f"{mp['dask_cluster_start_s']:.1f} s (not in the figures).",
        f"- **S3:** opening the collection made {s3['open_requests']:,} requests "
        f"({s3['open_requests'] / ns:.1f} per store); a one-neuron read after open made "
        f"{s3['one_neuron_cold_requests']} request(s) to the spikes file "
        f"({', '.join(s3['one_neuron_requests_detail']['cold'])}; "
        f"{s3['one_neuron_cold_requests_all']} in all), warm "
        f"{s3['one_neuron_warm_requests']} ({s3['one_neuron_warm_requests_all']} in all); "
        f"open + `get_segments()` + one neuron: {s3['open_get_segments_one_neuron_requests_all']} "
        "requests in all.",
        f"- polars, duckdb and the spike-data query agree: local "
        f"{'yes' if res['agree_local'] else '**no**'}, S3 {'yes' if res['agree_s3'] else '**no**'}.",
        f"- Generation (not timed above): local {loc['generation']['total_s']:.1f} s "
        f"(templates {loc['generation']['templates_s']:.1f} s, {n:,} copies + parameter "
        f"commits {loc['generation']['copies_s']:.1f} s); S3 {s3['generation']['total_s']:.1f} s "
        f"({ns} stores through the API). Peak RSS {res['peak_rss_mb']:.0f} MB.",
        f"- Load average (1 min) at start {res['load'][0]:.1f}, at end {res['load'][1]:.1f} "
        f"on {os.cpu_count()} cores: figures taken on a busy machine are not comparable. "
        "The S3 figures include the moto server's own work: it runs in this process (one "
        "GIL), as `tests/s3_servers.moto_server` does.",
        "",
        "Mean rate (Hz) by density, sheet and orientation (the query's result, local):",
        "",
        *rate_table(res["rates"]),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stores", type=int, default=1000, help="local stores (default 1000)")
    ap.add_argument("--s3-stores", type=int, default=50, help="stores on S3 (default 50)")
    ap.add_argument("--repeat", type=int, default=3, help="fresh local collections per figure")
    ap.add_argument("--s3-repeat", type=int, default=1,
                    help="fresh S3 collections per figure (default 1: an open takes seconds)")
    ap.add_argument("--workers", type=int, default=2, help="Dask workers (default 2)")
    ap.add_argument("--no-results", action="store_true", help="do not write RESULTS.md")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench_collection_", dir=os.environ.get("BENCH_DIR")))
    res: dict[str, Any] = {}
    t_start = time.perf_counter()
    load_start = os.getloadavg()[0]
    try:
        sweep, gen = generate_local(work, args.stores, threads=4)
        local, frames = measure_open_and_queries(sweep, args.repeat)
        local["generation"] = gen
        res["local"] = local
        res["agree_local"] = (same_rates(frames["polars"], frames["duckdb"])
                              and same_rates(frames["polars"], frames["spikes"]))
        res["rates"] = frames["polars"]
        res["map"] = measure_map(sweep, args.workers, repeat=2)
        s3, s3_frames = measure_s3(args.s3_stores, threads=8, repeat=args.s3_repeat)
        res["s3"] = s3
        res["agree_s3"] = (same_rates(s3_frames["polars"], s3_frames["duckdb"])
                           and same_rates(s3_frames["polars"], s3_frames["spikes"]))
        res["peak_rss_mb"] = peak_rss_mb()
        res["load"] = (load_start, os.getloadavg()[0])
        res["wall_s"] = time.perf_counter() - t_start
        table = report(args, res)
        print(table)
        print(f"wall time {res['wall_s']:.0f} s")
        if not args.no_results:
            data = {k: v for k, v in res.items() if k != "rates"}
            data["rates"] = res["rates"].to_dicts()
            data["targets"] = TARGETS
            write_results("bench_collection",
                          "python -m benchmarks.bench_collection " + " ".join(argv or sys.argv[1:]),
                          table, data)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return res


if __name__ == "__main__":
    main()
