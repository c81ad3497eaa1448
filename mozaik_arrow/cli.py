"""The ``mozaik-arrow`` command line (also ``python -m mozaik_arrow``).

Subcommands:

``demo DIR``
    Run a small real PyNN/NEST network (two sheets, drifting gratings at several
    orientations, blanks), record it into a new store at DIR and print a summary.
``info STORE``
    Print the summary of an existing store.
``validate STORE...``
    Check every file of a store (exists, size, page checksums, schema); exit 1 when damaged.

User mistakes (a missing store, a non-empty target) are one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import polars as pl

from . import analytics
from .errors import MozaikArrowError
from .parametrized import parse_stimulus_string
from .store import ArrowDataStore
from .store import open as open_store

__all__ = ["main", "summary"]


def summary(store: ArrowDataStore) -> pl.DataFrame:
    """One row per recording, in store order: sheet, stimulus, neurons, spikes, mean rate (Hz).

    Rates come from the stored per-neuron spike counts (no spike times are decoded).
    """
    spikes = store.spikes().select("segment_id", "units", "t_start", "t_stop", "n_spikes")
    units = spikes.select("units").unique().collect()["units"].to_list()
    factor = pl.DataFrame({"units": units, "to_s": [analytics.seconds_per_unit(u) for u in units]},
                          schema={"units": pl.String, "to_s": pl.Float64})
    duration = (pl.col("t_stop") - pl.col("t_start")) * pl.col("to_s")
    rates = (
        spikes.join(factor.lazy(), on="units")
        .group_by("segment_id")
        .agg(mean_rate_hz=(pl.col("n_spikes") / duration).mean())
    )
    out = (
        store.segments_frame()
        .join(rates, on="segment_id", how="left", maintain_order="left")
        .collect()
    )
    described = [_describe(s) for s in out["stimulus_string"].to_list()]
    return out.with_columns(pl.Series("stimulus_params", described)).select(
        "sheet_name", "stimulus_params", "null", pl.col("n_neurons").alias("neurons"),
        pl.col("n_spikes").alias("spikes"), pl.col("mean_rate_hz").round(2),
    )


def _describe(stimulus_string: str) -> str:
    p = parse_stimulus_string(stimulus_string)
    keys = [k for k in ("orientation", "contrast", "trial") if k in p]
    shown = [f"{k}={round(p[k], 3) if isinstance(p[k], float) else p[k]!r}" for k in keys]
    return f"{p.get('name')}(" + ", ".join(shown) + ")"


def _print_store(store: ArrowDataStore) -> None:
    segs = store.segments_frame().collect()
    print(f"store {store.root}")
    print(f"  sheets: {', '.join(store.sheets())}")
    print(f"  stimuli: {segs.filter(~pl.col('null'))['stimulus'].n_unique()}   "
          f"recordings: {int((~segs['null']).sum())}   null recordings: {int(segs['null'].sum())}   "
          f"spikes: {int(segs['n_spikes'].sum())}")
    with pl.Config(tbl_rows=100, tbl_cols=10, fmt_str_lengths=90, tbl_width_chars=170):
        print(summary(store))


def _demo(args: argparse.Namespace) -> int:
    from .simulate import run_network

    t0 = time.perf_counter()
    result = run_network(n_exc=args.n_exc, n_inh=args.n_inh, duration=args.duration,
                         orientations=tuple(args.orientations), seed=args.seed)
    t1 = time.perf_counter()
    with open_store(args.dir, "w") as store:
        result.write_to(store)
    t2 = time.perf_counter()
    print(f"simulated {sum(len(v) for v in result.neuron_ids.values())} neurons, "
          f"{len(result.recordings)} stimuli with PyNN/NEST in {t1 - t0:.1f} s; "
          f"stored in {t2 - t1:.2f} s")
    with open_store(args.dir, "r") as store:
        _print_store(store)
    return 0


def _info(args: argparse.Namespace) -> int:
    with open_store(args.store, "r") as store:
        _print_store(store)
    return 0


def _validate(args: argparse.Namespace) -> int:
    from .validation import validate

    status = 0
    for path in args.store:
        report = validate(path)
        print(report)
        status |= 0 if report.ok else 1
    return status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mozaik-arrow", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="simulate a small PyNN/NEST network into a new store")
    demo.add_argument("dir", help="directory of the new store (missing or empty)")
    demo.add_argument("--n-exc", type=int, default=80)
    demo.add_argument("--n-inh", type=int, default=20)
    demo.add_argument("--duration", type=float, default=300.0, help="ms per stimulus")
    demo.add_argument("--orientations", type=float, nargs="+",
                      default=[0.0, 0.7853981633974483, 1.5707963267948966, 2.356194490192345])
    demo.add_argument("--seed", type=int, default=1234)
    demo.set_defaults(run=_demo)
    info = sub.add_parser("info", help="summarise a store")
    info.add_argument("store")
    info.set_defaults(run=_info)
    check = sub.add_parser("validate", help="check every file of a store; changes nothing")
    check.add_argument("store", nargs="+")
    check.set_defaults(run=_validate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``mozaik-arrow``; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (MozaikArrowError, ImportError, ValueError, PermissionError) as e:
        print(f"mozaik-arrow: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
