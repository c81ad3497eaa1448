"""One big segment, written and read: mozaik_arrow against a mozaik-style pickle.

    python -m benchmarks.bench_store [--neurons 100000] [--rate 25] [--quick]

Builds one sheet's recording of ``--neurons`` neurons over 2 s (log-normal rates, mean
``--rate`` Hz, times on NEST's 0.1 ms grid: ~5 M spikes at the defaults) and measures, in one
run, side by side:

- mozaik_arrow: write from a neo Segment and from arrays (``Recording.from_arrays``), both
  durable (fsynced); open + ``get_segments()``; the first neuron after open; one neuron warm
  (random ids, footers cached); mean rates of every neuron; CV(ISI) of every neuron; every
  spike train as neo objects;
- the mozaik way (``PickledDataStore``: one pickle of the whole neo Segment, loaded whole on
  first access; ``get_spiketrain`` by a list index over ids; rates by a Python loop);
- a plain-pyarrow floor: the same arrays written and read with ``pyarrow.parquet`` and no
  store logic (no fsync, no validation, no neo objects).

``--quick`` skips the pickle load (minutes at 1e5 neurons). Results go to RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import mozaik_arrow as ma
from mozaik_arrow.neo_convert import Recording
from mozaik_arrow.synthetic import spike_arrays, synthetic_segment

from .common import once, peak_rss_mb, timeit, write_results

STIM = {"name": "FullfieldDriftingSinusoidalGrating", "module_path": "mozaik.stimuli.vision",
        "orientation": 0.0, "contrast": 100.0, "trial": 0}


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*.parquet"))


def bench_store(work: Path, n: int, rate: float, seg, values, offsets) -> dict[str, float]:
    n_spikes = int(offsets[-1])
    out: dict[str, float] = {}
    path = work / "store"
    with ma.open(path, "w") as store:
        # Each write is one durable add_recording of the whole segment under a new stimulus
        # (another trial); the median of three is reported (this VM's timings vary by ~30%).
        neo_times, array_times = [], []
        for trial in range(3):
            stim = dict(STIM, trial=trial)
            neo_times.append(once(lambda stim=stim: store.add_recording(seg, stim))[0])

            def from_arrays(stim=stim):
                rec = Recording.from_arrays("V1_Inh_L4", np.arange(1, n + 1), values, offsets,
                                            units="ms", t_stop=2000.0)
                store.add_recording(rec, stim)

            array_times.append(once(from_arrays)[0])
        out["write_neo_s"] = float(np.median(neo_times))
        out["write_arrays_s"] = float(np.median(array_times))
        out["write_arrays_best_s"] = min(array_times)
    out["bytes_per_spike"] = _dir_bytes(path / "spikes") / (6 * n_spikes)

    def open_store():
        s = ma.open(path, "r")
        s.get_segments()
        return s

    out["open_ms"] = timeit(open_store, repeat=7)["median"] * 1e3
    store = open_store()
    seg0 = next(s for s in store.get_segments() if s.annotations["sheet_name"] == "V1_Exc_L4")
    assert len(store.get_segments()) == 6
    dt, _ = once(lambda: seg0.get_spiketrain(n // 2))
    out["first_neuron_ms"] = dt * 1e3
    rng = np.random.default_rng(0)
    ids = rng.integers(1, n + 1, 400)
    for i in ids[:50]:  # warm every file's footer and index
        seg0.get_spiketrain(int(i))
    times = []
    for i in ids[50:]:
        t = time.perf_counter()
        seg0.get_spiketrain(int(i))
        times.append(time.perf_counter() - t)
    out["one_neuron_warm_ms"] = float(np.median(times)) * 1e3
    out["one_neuron_warm_p90_ms"] = float(np.percentile(times, 90)) * 1e3
    out["rates_ms"] = timeit(seg0.mean_rates)["median"] * 1e3
    out["cv_isi_ms"] = timeit(seg0.cv_isi, repeat=3)["median"] * 1e3

    def materialise():
        seg0.release()
        return seg0.get_spiketrains()

    out["materialise_s"] = timeit(materialise, repeat=3)["median"]
    return out


def bench_pickle(work: Path, n: int, seg, load: bool) -> dict[str, float]:
    """mozaik's PickledDataStore protocol for one segment: pickle the whole neo Segment."""
    out: dict[str, float] = {}
    path = work / "Segment0.pickle"
    with open(path, "wb") as f:
        dt, _ = once(lambda: pickle.dump(seg, f, protocol=pickle.HIGHEST_PROTOCOL))
    out["write_neo_s"] = dt
    out["bytes_per_spike"] = path.stat().st_size / sum(len(s) for s in seg.spiketrains)
    # "open": mozaik unpickles the block of segment shells; nothing of the data.
    out["open_ms"] = float("nan")
    if not load:
        return out
    with open(path, "rb") as f:
        dt, loaded = once(lambda: pickle.load(f))
    out["materialise_s"] = dt
    out["first_neuron_ms"] = dt * 1e3  # the first access loads the whole segment

    def one_neuron(i: int):
        ids = [s.annotations["source_id"] for s in loaded.spiketrains]
        return loaded.spiketrains[ids.index(i)]

    rng = np.random.default_rng(0)
    out["one_neuron_warm_ms"] = timeit(lambda: one_neuron(int(rng.integers(1, n + 1))), repeat=20)["median"] * 1e3

    def rates():
        return [len(s) / (s.t_stop - s.t_start).rescale("s") for s in loaded.spiketrains]

    out["rates_ms"] = timeit(rates, repeat=1, warmup=0)["median"] * 1e3

    def cv():
        isis = [np.diff(s) for s in loaded.spiketrains]
        return [np.std(x) / np.mean(x) if len(x) > 4 else None for x in isis]

    out["cv_isi_ms"] = timeit(cv, repeat=1, warmup=0)["median"] * 1e3
    return out


def bench_floor(work: Path, n: int, values, offsets) -> dict[str, float]:
    """Plain pyarrow: the same spikes written and read with no store logic."""
    table = pa.table({"neuron_id": np.arange(1, n + 1),
                      "times": pa.LargeListArray.from_arrays(offsets, values)})
    path = work / "floor.parquet"
    out = {}
    out["write_arrays_s"] = timeit(lambda: pq.write_table(
        table, path, row_group_size=128, compression="zstd", use_dictionary=False,
        use_byte_stream_split=["times.list.element"]), repeat=3)["median"]
    out["bytes_per_spike"] = path.stat().st_size / len(values)
    pf = pq.ParquetFile(path)
    out["one_neuron_warm_ms"] = timeit(lambda: pf.read_row_group(pf.num_row_groups // 2), repeat=50)["median"] * 1e3
    out["full_read_ms"] = timeit(lambda: pq.read_table(path), repeat=3)["median"] * 1e3
    return out


ROWS = [
    ("write from neo Segment (M spikes/s)", "write_neo_s", "rate"),
    ("write from arrays (M spikes/s)", "write_arrays_s", "rate"),
    ("write from arrays, best of 3 (M spikes/s)", "write_arrays_best_s", "rate"),
    ("bytes per spike on disk", "bytes_per_spike", "value"),
    ("open + get_segments (ms)", "open_ms", "value"),
    ("first neuron after open (ms)", "first_neuron_ms", "value"),
    ("one neuron, warm, median (ms)", "one_neuron_warm_ms", "value"),
    ("mean rates, all neurons (ms)", "rates_ms", "value"),
    ("CV(ISI), all neurons (ms)", "cv_isi_ms", "value"),
    ("all spike trains as neo objects (s)", "materialise_s", "value"),
]


def render(n: int, n_spikes: int, ours: dict, pickle_: dict, floor: dict) -> str:
    def fmt(d: dict, key: str, kind: str) -> str:
        v = d.get(key)
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return "–"
        return f"{n_spikes / v / 1e6:.1f}" if kind == "rate" else f"{v:.3g}"

    def ratio(key: str, kind: str) -> str:
        a, b = ours.get(key), pickle_.get(key)
        if a is None or b is None or np.isnan(b) or a == 0:
            return "–"
        return f"{b / a:.3g}×" if key != "bytes_per_spike" else f"{b / a:.2f}× smaller"

    lines = [
        f"One segment of {n:,} neurons, {n_spikes:,} spikes (2 s, times on a 0.1 ms grid).",
        "",
        "| operation | mozaik_arrow | pickle (mozaik) | ours vs pickle | plain pyarrow floor |",
        "|---|---|---|---|---|",
    ]
    for label, key, kind in ROWS:
        lines.append(f"| {label} | {fmt(ours, key, kind)} | {fmt(pickle_, key, kind)} | "
                     f"{ratio(key, kind)} | {fmt(floor, key, kind)} |")
    lines.append(f"| one neuron, warm, p90 (ms) | {ours['one_neuron_warm_p90_ms']:.3g} | | | |")
    lines.append(f"| peak RSS of the run (MB) | {peak_rss_mb():.0f} | | | |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--neurons", type=int, default=100_000)
    p.add_argument("--rate", type=float, default=25.0)
    p.add_argument("--quick", action="store_true", help="skip loading the pickle (slow)")
    p.add_argument("--no-results", action="store_true", help="do not write RESULTS.md")
    args = p.parse_args(argv)
    n = args.neurons
    work = Path(tempfile.mkdtemp(prefix="bench_store_", dir=os.environ.get("BENCH_DIR")))
    try:
        values, offsets = spike_arrays(n, args.rate, 2000.0, seed=1)
        seg = synthetic_segment("V1_Exc_L4", n, mean_rate=args.rate, duration=2000.0, seed=1)
        for st in seg.spiketrains:  # mozaik's pickles carry source_id
            st.annotations["source_id"] = st.annotations["channel_id"]
        n_spikes = int(offsets[-1])
        ours = bench_store(work, n, args.rate, seg, values, offsets)
        floor = bench_floor(work, n, values, offsets)
        pick = bench_pickle(work, n, seg, load=not args.quick)
        table = render(n, n_spikes, ours, pick, floor)
        print(table)
        if not args.no_results:
            cmd = "python -m benchmarks.bench_store " + " ".join(argv or [])
            note = (
                "\nThe pickle's one-neuron time is warm (segment already unpickled), as in mozaik "
                "after its first access; its first neuron costs the whole unpickle. Writes of "
                "mozaik_arrow include validation, encoding and fsync; the pickle write has no "
                "fsync (as in mozaik).\n"
            )
            write_results("bench_store", cmd.strip(), table + note,
                          {"neurons": n, "spikes": n_spikes, "mozaik_arrow": ours,
                           "pickle": pick, "pyarrow_floor": floor})
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
