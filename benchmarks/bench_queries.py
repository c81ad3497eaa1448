"""Queries over many analysis results and stimuli: mozaik_arrow against mozaik's Python loops.

    python -m benchmarks.bench_queries [--ads 100000] [--stimuli 10000]

Builds ``--stimuli`` grating stimuli (orientation x contrast x trial) with one tiny recording
each, and ``--ads`` analysis results (PerNeuronValue per stimulus and sheet, plus
SingleValues), then times, side by side in one run:

- ``add_analysis_result`` rate (with the O(1) uniqueness check) and ``save()``, against
  mozaik's rule (compare each new ADS with every stored one: O(n^2), timed on a prefix and
  extrapolated — marked as such);
- ``param_filter_query`` by ADS parameters and by stimulus parameters, ``get_analysis_result``,
  ``partition_analysis_results_by_parameters_query`` and
  ``partition_by_stimulus_paramter_query``: warm (repeated) and on a freshly opened store;
- the same filters as naive mozaik-style Python loops over the objects.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import quantities as pq

import mozaik_arrow as ma
from mozaik_arrow import queries as q
from mozaik_arrow.ads import PerNeuronValue, SingleValue
from mozaik_arrow.neo_convert import Recording
from mozaik_arrow.parametrized import MozaikParametrized, canonical_stimulus

from .common import once, peak_rss_mb, timeit, write_results

SHEETS = ("V1_Exc_L4", "V1_Inh_L4", "V1_Exc_L2/3", "V1_Inh_L2/3")


def stimuli(n: int) -> list[dict]:
    out = []
    orients = [i * math.pi / 8 for i in range(8)]
    contrasts = [5.0, 10.0, 20.0, 40.0, 80.0, 100.0]
    trial = 0
    while len(out) < n:
        for c in contrasts:
            for o in orients:
                if len(out) < n:
                    out.append({"name": "FullfieldDriftingSinusoidalGrating",
                                "module_path": "mozaik.stimuli.vision.topographica_based",
                                "orientation": o, "contrast": c, "trial": trial,
                                "duration": 300.0, "frame_duration": 7.0,
                                "direct_stimulation_name": None,
                                "direct_stimulation_parameters": None})
        trial += 1
    return out


def make_ads(strings: list[str], n: int) -> list:
    ids = np.arange(100)
    out = []
    i = 0
    while len(out) < n:
        s = strings[i % len(strings)]
        sheet = SHEETS[(i // len(strings)) % len(SHEETS)]
        value_name = f"Firing rate {i // (len(strings) * len(SHEETS))}"
        if i % 10 == 9:
            out.append(SingleValue(float(i), pq.Hz, value_name=value_name, sheet_name=sheet,
                                   stimulus_id=s, tags=["summary"]))
        else:
            out.append(PerNeuronValue(np.full(100, float(i)), ids, pq.Hz, value_name=value_name,
                                      sheet_name=sheet, stimulus_id=s, tags=["rates"]))
        i += 1
    return out


def naive_filter(objs: list, **kwargs) -> list:
    """mozaik's filter_query: a Python loop comparing getParams of every object."""
    out = []
    for o in objs:
        p = o.getParams()
        if all(k in p and (p[k] in v if isinstance(v, list) else p[k] == v) for k, v in kwargs.items()):
            out.append(o)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ads", type=int, default=100_000)
    ap.add_argument("--stimuli", type=int, default=10_000)
    ap.add_argument("--no-results", action="store_true")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench_queries_", dir=os.environ.get("BENCH_DIR")))
    res: dict[str, float] = {}
    try:
        path = work / "store"
        stims = stimuli(args.stimuli)
        rec = Recording.from_arrays("V1_Exc_L4", np.arange(2), np.array([1.0, 2.0]),
                                    np.array([0, 1, 2]), t_stop=300.0)
        with ma.open(path, "w") as store:
            dt, _ = once(lambda: [store.add_recording(rec, s) for s in stims])
            res["add_recording_per_s"] = len(stims) / dt
        strings = [canonical_stimulus(s)[0] for s in stims]
        dt, objs = once(lambda: make_ads(strings, args.ads))
        res["build_ads_objects_s"] = dt
        with ma.open(path, "a") as store:
            dt, _ = once(lambda: [store.add_analysis_result(a) for a in objs])
            res["add_ads_per_s"] = len(objs) / dt
            dt, _ = once(store.save)
            res["save_s"] = dt
        # mozaik's uniqueness rule: compare with every stored ADS (O(n^2)); timed on a prefix
        prefix = objs[: min(2000, len(objs))]
        stored: list = []

        def mozaik_add():
            for a in prefix:
                for b in stored:
                    if a.equalParams(b):
                        raise ValueError
                stored.append(a)

        dt, _ = once(mozaik_add)
        per_pair = dt / (len(prefix) * (len(prefix) - 1) / 2)
        res["mozaik_add_all_s_extrapolated"] = per_pair * len(objs) * (len(objs) - 1) / 2

        def fresh(fn):
            def run():
                s = ma.open(path, "r")
                return fn(s)
            return run

        ops = {
            "param_filter_query ADS (value_name, sheet_name)":
                lambda s: q.param_filter_query(s, value_name="Firing rate 0", sheet_name="V1_Exc_L4")._ads().collect(),
            "param_filter_query stimulus (st_orientation, st_contrast)":
                lambda s: q.param_filter_query(s, st_orientation=0.0, st_contrast=[10.0, 20.0]).get_stimuli(),
            "get_analysis_result (one ADS, objects)":
                lambda s: s.get_analysis_result(value_name="Firing rate 0", sheet_name="V1_Exc_L4",
                                                stimulus_id=strings[0]),
            "partition_analysis_results_by_parameters_query (sheet_name)":
                lambda s: q.partition_analysis_results_by_parameters_query(
                    q.param_filter_query(s, identifier="SingleValue"), ["sheet_name"]),
            "partition_by_stimulus_paramter_query (orientation)":
                lambda s: q.partition_by_stimulus_paramter_query(s, ["orientation"]),
        }
        warm_store = ma.open(path, "r")
        rows = []
        for label, fn in ops.items():
            warm = timeit(lambda fn=fn: fn(warm_store), repeat=5)["median"]
            cold = timeit(fresh(fn), repeat=3, warmup=0)["median"]
            rows.append((label, warm, cold))
        # naive Python loops over the same objects (already in memory: mozaik's best case)
        stim_objs = [MozaikParametrized.idd(s) for s in strings]
        naive = {
            "param_filter_query ADS (value_name, sheet_name)":
                lambda: naive_filter(objs, value_name="Firing rate 0", sheet_name="V1_Exc_L4"),
            "param_filter_query stimulus (st_orientation, st_contrast)":
                lambda: naive_filter(stim_objs, orientation=0.0, contrast=[10.0, 20.0]),
            "get_analysis_result (one ADS, objects)":
                lambda: naive_filter(objs, value_name="Firing rate 0", sheet_name="V1_Exc_L4",
                                     stimulus_id=strings[0]),
        }
        naive_t = {k: timeit(f, repeat=2)["median"] for k, f in naive.items()}
        n_ads = len(objs)
        lines = [
            f"{n_ads:,} analysis results over {len(stims):,} stimuli "
            f"({len(stims):,} recordings), one run.",
            "",
            "| operation | mozaik_arrow warm (ms) | freshly opened (ms) | mozaik-style loop (ms) | ratio |",
            "|---|---|---|---|---|",
        ]
        for label, warm, cold in rows:
            nv = naive_t.get(label)
            ratio = f"{nv / warm:.0f}×" if nv else "–"
            lines.append(f"| {label} | {warm * 1e3:.1f} | {cold * 1e3:.1f} | "
                         f"{nv * 1e3:.0f} |" if nv else f"| {label} | {warm * 1e3:.1f} | "
                         f"{cold * 1e3:.1f} | – |")
            lines[-1] += f" {ratio} |"
        lines += [
            "",
            f"- add_analysis_result: {res['add_ads_per_s']:,.0f} ADS/s, then save() "
            f"{res['save_s']:.2f} s; mozaik's O(n²) equalParams check for the same "
            f"{n_ads:,} ADS: ~{res['mozaik_add_all_s_extrapolated']:,.0f} s "
            f"(**extrapolated** from {len(prefix):,} ADS).",
            f"- add_recording (tiny recordings, one commit each): {res['add_recording_per_s']:,.0f}/s.",
            f"- building the ADS objects themselves: {res['build_ads_objects_s']:.1f} s; "
            f"peak RSS {peak_rss_mb():.0f} MB.",
        ]
        table = "\n".join(lines) + "\n"
        print(table)
        if not args.no_results:
            write_results("bench_queries", "python -m benchmarks.bench_queries " + " ".join(argv or []),
                          table, {"results": res, "ops": {k: {"warm_s": w, "fresh_s": c} for k, w, c in rows},
                                  "naive_s": naive_t})
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
