"""The benchmark suite: ``python -m benchmarks --scale small|medium|large``.

Generates a mozaik-like model at the scale asked, writes it with mozaik_arrow, mozaik's
pickle protocol, NWB (pynwb), NixIO (on a subset) and a plain-pyarrow floor, times every
operation, checks every result against the generated data, prints a table and writes the
``suite_<scale>`` section of ``benchmarks/RESULTS.md`` and ``suite_<scale>.json`` beside it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from .common import write_results
from .generator import SCALES
from .report import render
from .suite import SYSTEMS, run


def main(argv: list[str] | None = None) -> dict:
    """Run the suite from the command line; return what it measured.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``); see ``python -m benchmarks --help``.
    """
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    p.add_argument("--scale", choices=list(SCALES), default="small")
    p.add_argument("--systems", default=",".join(SYSTEMS),
                   help=f"comma-separated subset of {','.join(SYSTEMS)}")
    p.add_argument("--work", type=Path, default=None,
                   help="scratch directory (default: a temporary one under $BENCH_DIR or /tmp)")
    p.add_argument("--keep", action="store_true",
                   help="keep the stores and the model in --work (for profiling)")
    p.add_argument("--no-check", action="store_true", help="skip the read-back checks")
    p.add_argument("--results-dir", type=Path, default=None,
                   help="where RESULTS.md and the JSON go (default: benchmarks/)")
    p.add_argument("--no-results", action="store_true", help="print only")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    args = p.parse_args(argv)
    systems = tuple(s.strip() for s in args.systems.split(",") if s.strip())
    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown:
        p.error(f"unknown systems {unknown}")
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_suite_", dir=os.environ.get("BENCH_DIR")))
    log = (lambda _msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    try:
        data = run(SCALES[args.scale], work, systems, check=not args.no_check, log=log,
                   keep=args.keep and args.work is not None)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    text = render(data)
    print(text)
    if not args.no_results:
        cmd = "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:])
        write_results(f"suite_{args.scale}", cmd.strip(), text, data, directory=args.results_dir)
    return data


if __name__ == "__main__":
    main()
