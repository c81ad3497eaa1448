"""``import-mozaik`` and ``export-nwb`` on a generated mozaik pickle store.

    python -m benchmarks.bench_import_export [--neurons 50000] [--stimuli 4] [--rate 20]

Writes a mozaik ``PickledDataStore`` directory (mozaik's layout and classes, through the
test-suite's stand-in ``mozaik`` package, in a subprocess), then times, in one run:

- ``import_mozaik`` (restricted unpickler, segment by segment) — segments/s, spikes/s, peak
  RSS — against the floor of merely ``pickle.load``-ing the same segment files with mozaik's
  classes importable (what mozaik itself pays to open them);
- ``to_nwb`` of the imported store (Units, trials, one TimeSeries per recording).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mozaik_arrow as ma
from mozaik_arrow.importers import import_mozaik

from .common import write_results

ROOT = Path(__file__).resolve().parents[1]
FAKE_MOZAIK = ROOT / "tests" / "data" / "fake_mozaik"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _pickle_floor(src: Path) -> float:
    """Seconds to pickle.load every segment file (mozaik's classes importable), in a child."""
    code = ("import pickle, sys, time, glob\nt = time.perf_counter()\n"
            "for p in sorted(glob.glob(sys.argv[1] + '/Segment*.pickle')):\n"
            "    pickle.load(open(p, 'rb'))\nprint(time.perf_counter() - t)")
    env = dict(os.environ, PYTHONPATH=str(FAKE_MOZAIK))
    out = subprocess.run([sys.executable, "-c", code, str(src)], env=env, check=True,
                         capture_output=True, text=True)
    return float(out.stdout.strip())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--neurons", type=int, default=50_000)
    ap.add_argument("--stimuli", type=int, default=4)
    ap.add_argument("--rate", type=float, default=20.0, help="mean spikes per neuron per stimulus")
    ap.add_argument("--no-results", action="store_true")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench_import_", dir=os.environ.get("BENCH_DIR")))
    try:
        src = work / "mozaik_run"
        env = dict(os.environ, PYTHONPATH=str(FAKE_MOZAIK))
        t = time.perf_counter()
        out = subprocess.run([sys.executable, str(Path(__file__).with_name("_write_mozaik_pickles.py")),
                              str(src), str(args.neurons), str(args.stimuli), str(args.rate)],
                             env=env, check=True, capture_output=True, text=True)
        spikes = int(out.stdout.strip())
        gen_s = time.perf_counter() - t
        n_seg = len(list(src.glob("Segment*.pickle")))
        pickle_bytes = sum(p.stat().st_size for p in src.iterdir())
        floor = _pickle_floor(src)
        rss0 = _rss_mb()
        t = time.perf_counter()
        report = import_mozaik(src, work / "run.arrow")
        imp = time.perf_counter() - t
        rss_import = _rss_mb()
        assert report.ok, report.summary()
        store_bytes = sum(p.stat().st_size for p in (work / "run.arrow").rglob("*") if p.is_file())
        with ma.open(work / "run.arrow", "r") as store:
            assert int(store.segments_frame().collect()["n_spikes"].sum()) == spikes
            t = time.perf_counter()
            nwb = store.to_nwb(work / "run.nwb")
            exp = time.perf_counter() - t
        nwb_bytes = Path(nwb).stat().st_size
        rss_export = _rss_mb()
        lines = [
            f"A generated mozaik PickledDataStore: {args.neurons:,} neurons in 2 sheets, "
            f"{args.stimuli} stimuli, {n_seg} segment pickles, {spikes:,} spikes, 20 Vm "
            f"traces of 10,000 samples per segment ({pickle_bytes / 1e6:.0f} MB of pickles; "
            f"written in {gen_s:.0f} s).",
            "",
            "| operation | time (s) | segments/s | M spikes/s | peak RSS (MB) | notes |",
            "|---|---|---|---|---|---|",
            f"| import-mozaik | {imp:.1f} | {n_seg / imp:.2f} | {spikes / imp / 1e6:.2f} | "
            f"{rss_import:.0f} | store {store_bytes / 1e6:.0f} MB; restricted unpickler |",
            f"| pickle.load of the segments (floor, mozaik importable) | {floor:.1f} | "
            f"{n_seg / floor:.2f} | {spikes / floor / 1e6:.2f} | – | what opening them costs mozaik |",
            f"| export-nwb (whole store) | {exp:.1f} | {n_seg / exp:.2f} | {spikes / exp / 1e6:.2f} | "
            f"{rss_export:.0f} | {nwb_bytes / 1e6:.0f} MB NWB (gzip) |",
            "",
            f"Import is {imp / floor:.2f}× the bare unpickling floor; peak RSS before the import "
            f"was {rss0:.0f} MB (the process never holds more than one segment).",
        ]
        table = "\n".join(lines) + "\n"
        print(table)
        if not args.no_results:
            write_results("bench_import_export", "python -m benchmarks.bench_import_export "
                          + " ".join(argv or sys.argv[1:]), table,
                          {"neurons": args.neurons, "segments": n_seg, "spikes": spikes,
                           "import_s": imp, "pickle_floor_s": floor, "export_nwb_s": exp,
                           "peak_rss_import_mb": rss_import, "store_bytes": store_bytes,
                           "nwb_bytes": nwb_bytes})
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
