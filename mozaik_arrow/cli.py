"""The ``mozaik-arrow`` command line (also ``python -m mozaik_arrow``), built on click and rich.

Subcommands: ``demo``, ``info``, ``ls``, ``sql``, ``validate``, ``import-mozaik``,
``export-nwb`` (extra ``nwb``), ``plot`` (extra ``plot``). Run ``mozaik-arrow COMMAND --help``.

User mistakes (a missing store, a bad query, bad SQL) are one line on stderr and exit code 2,
never a traceback; ``validate`` exits 1 when a store is damaged.
"""

from __future__ import annotations

import json
import pickle
import sys
import time
from collections.abc import Sequence
from typing import Any

import polars as pl

from ._version import __version__
from .cli_report import _listing, parse_query, store_info, summary
from .errors import MozaikArrowError
from .store import ArrowDataStore
from .store import open as open_store

try:
    import click
except ImportError:  # pragma: no cover - click is a dependency of the `cli` extra
    click = None  # type: ignore[assignment]

__all__ = ["main", "run", "summary", "parse_query", "store_info"]


# -- output -------------------------------------------------------------------------------------
def _console() -> Any:
    from rich.console import Console

    # A pipe gets whole lines (rich would otherwise wrap to 80 columns).
    return Console(width=None if sys.stdout.isatty() else 400, soft_wrap=False)


def _emit(frame: pl.DataFrame, fmt: str, title: str | None = None) -> None:
    if fmt == "csv":
        sys.stdout.write(frame.write_csv())
    elif fmt == "json":
        # duckdb sums are DECIMAL(38, 0): JSON numbers, not the strings polars would write
        decimals = {n: pl.Int128 if t.scale == 0 else pl.Float64
                    for n, t in frame.schema.items() if isinstance(t, pl.Decimal)}
        frame = frame.cast(decimals) if decimals else frame
        sys.stdout.write(json.dumps(frame.to_dicts(), default=str, allow_nan=True) + "\n")
    else:
        from rich.table import Table

        table = Table(title=title, show_lines=False)
        for name in frame.columns:
            table.add_column(name, overflow="fold")
        for row in frame.iter_rows():
            table.add_row(*("" if v is None else str(v) for v in row))
        _console().print(table)


def _print_store(store: ArrowDataStore) -> None:
    info = store_info(store)
    console = _console()
    console.print(f"[bold]store[/bold] {info['path']}  (format {info['format_version']}, "
                  f"{info['version']} commits, {info['bytes'] / 1e6:.1f} MB)")
    console.print(f"  sheets: {', '.join(info['sheets'])}")
    console.print(f"  stimuli: {info['stimuli']}   recordings: {info['segments']}   "
                  f"null recordings: {info['null_segments']}   spikes: {info['spikes']}")
    if info["ads"]:
        console.print("  ADS: " + ", ".join(f"{k} {v}" for k, v in info["ads"].items()))
    _emit(summary(store), "table", title="recordings")


# -- commands ----------------------------------------------------------------------------------
_FORMAT = None if click is None else click.Choice(["table", "csv", "json"])


def _commands() -> Any:
    @click.group(context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, prog_name="mozaik-arrow")
    def cli() -> None:
        """mozaik_arrow: a columnar, crash-safe store for mozaik / PyNN simulations."""

    @cli.command()
    @click.argument("directory", type=click.Path(file_okay=False))
    @click.option("--n-exc", type=int, default=80, show_default=True)
    @click.option("--n-inh", type=int, default=20, show_default=True)
    @click.option("--duration", type=float, default=300.0, show_default=True, help="ms per stimulus")
    @click.option("--orientations", type=float, multiple=True,
                  default=(0.0, 0.7853981633974483, 1.5707963267948966, 2.356194490192345),
                  help="repeat for several")
    @click.option("--seed", type=int, default=1234, show_default=True)
    def demo(directory: str, n_exc: int, n_inh: int, duration: float,
             orientations: tuple[float, ...], seed: int) -> None:
        """Simulate a small PyNN/NEST network into a new store at DIRECTORY."""
        from .simulate import run_network

        t0 = time.perf_counter()
        result = run_network(n_exc=n_exc, n_inh=n_inh, duration=duration,
                             orientations=tuple(orientations), seed=seed)
        t1 = time.perf_counter()
        with open_store(directory, "w") as store:
            result.write_to(store)
        t2 = time.perf_counter()
        click.echo(f"simulated {sum(len(v) for v in result.neuron_ids.values())} neurons, "
                   f"{len(result.recordings)} stimuli with PyNN/NEST in {t1 - t0:.1f} s; "
                   f"stored in {t2 - t1:.2f} s")
        with open_store(directory, "r") as store:
            _print_store(store)

    @cli.command()
    @click.argument("store")
    @click.option("--json", "as_json", is_flag=True, help="one JSON object")
    def info(store: str, as_json: bool) -> None:
        """Summarise STORE: sheets, stimuli, recordings, spikes, ADS, bytes."""
        with open_store(store, "r") as s:
            if as_json:
                click.echo(json.dumps(store_info(s)))
            else:
                _print_store(s)

    @cli.command(name="ls")
    @click.argument("store")
    @click.argument("args", nargs=-1)
    @click.option("--format", "fmt", type=_FORMAT, default="table", show_default=True)
    def ls_(store: str, args: tuple[str, ...], fmt: str) -> None:
        """List recordings (default), ads or stimuli of STORE matching KEY=VALUE filters.

        Filters are param_filter_query's: st_orientation=0.0, sheet_name=V1_Exc_L4,
        value_name='Firing rate', lists as a,b (any of); for stimuli the st_ prefix may be
        left out (orientation=0.0).
        """
        what, rest = "recordings", list(args)
        if rest and rest[0] in ("recordings", "ads", "stimuli"):
            what = rest.pop(0)
        query = parse_query(rest)
        with open_store(store, "r") as s:
            _emit(_listing(s, what, query), fmt, title=what)

    @cli.command()
    @click.argument("store")
    @click.argument("query")
    @click.option("--format", "fmt", type=_FORMAT, default="table", show_default=True)
    def sql(store: str, query: str, fmt: str) -> None:
        """Run QUERY with duckdb over the views spikes, signals, segments, stimuli, ads."""
        from .sql import connect

        with open_store(store, "r") as s:
            con = connect(s)
            _emit(con.sql(query).pl(), fmt)

    @cli.command()
    @click.argument("stores", nargs=-1, required=True)
    def validate(stores: tuple[str, ...]) -> None:
        """Check every file of each STORE (exists, size, checksums, schema); changes nothing.

        Exit code 1 when a store is damaged.
        """
        from .validation import validate as check

        status = 0
        for path in stores:
            report = check(path)
            click.echo(str(report))
            status |= 0 if report.ok else 1
        if status:
            sys.exit(status)

    @cli.command()
    @click.argument("store")
    @click.option("--grace", type=float, default=3600.0, show_default=True,
                  help="keep files younger than this many seconds, and files replaced by a "
                       "commit younger than that")
    @click.option("--dry-run", is_flag=True, help="only list what would be removed")
    def vacuum(store: str, grace: float, dry_run: bool) -> None:
        """Remove the files of STORE that no commit references (see mozaik_arrow.vacuum).

        Prints each removed file (store-relative); never removes a referenced one.
        """
        from .vacuum import vacuum as run

        removed = run(store, grace_seconds=grace, dry_run=dry_run)
        for rel in removed:
            click.echo(rel)
        click.echo(f"{'would remove' if dry_run else 'removed'} {len(removed)} file(s)", err=True)

    @cli.command(name="import-mozaik")
    @click.argument("src", type=click.Path(exists=True, file_okay=False))
    @click.argument("dest", type=click.Path(file_okay=False))
    @click.option("--quiet", is_flag=True, help="no progress bar")
    def import_mozaik_(src: str, dest: str, quiet: bool) -> None:
        """Import the mozaik PickledDataStore directory SRC into the store DEST.

        The pickles are checked against an allow-list before anything is written and loaded
        with a restricted unpickler (mozaik need not be installed; nothing in them runs).
        Re-running resumes: what DEST already holds is skipped. Exit 1 if an item failed.
        """
        from .importers import import_mozaik

        report = _with_progress(lambda cb: import_mozaik(src, dest, progress=cb), quiet)
        click.echo(report.summary())
        if not report.ok:
            sys.exit(1)

    @cli.command(name="export-nwb")
    @click.argument("store")
    @click.argument("out", type=click.Path(dir_okay=False))
    @click.argument("args", nargs=-1)
    @click.option("--overwrite", is_flag=True, help="replace OUT if it exists")
    @click.option("--no-signals", is_flag=True, help="spike trains only")
    def export_nwb(store: str, out: str, args: tuple[str, ...], overwrite: bool,
                   no_signals: bool) -> None:
        """Write the recordings of STORE matching KEY=VALUE filters to the NWB file OUT."""
        from .export import to_nwb
        from .queries import param_filter_query

        query = parse_query(args)
        with open_store(store, "r") as s:
            view = param_filter_query(s, **query) if query else s
            path = to_nwb(view, out, overwrite=overwrite, signals=not no_signals)
        click.echo(f"wrote {path}")

    @cli.command()
    @click.argument("store")
    @click.argument("kind", type=click.Choice(["raster", "psth", "tuning_curve"]))
    @click.argument("args", nargs=-1)
    @click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
                  help="PNG file to write")
    @click.option("--parameter", help="stimulus parameter (psth, tuning_curve)")
    @click.option("--bin", "bin_size", type=float, default=10.0, show_default=True,
                  help="psth bin, in the recordings' time units")
    @click.option("--dpi", type=int, default=100, show_default=True)
    def plot(store: str, kind: str, args: tuple[str, ...], output: str, parameter: str | None,
             bin_size: float, dpi: int) -> None:
        """Plot the recordings of STORE matching KEY=VALUE filters: raster, psth, tuning_curve."""
        from . import plot as plots
        from .queries import param_filter_query

        if kind != "raster" and not parameter:
            raise click.UsageError(f"{kind} needs --parameter (a stimulus parameter)")
        options: dict[str, Any] = {} if kind == "raster" else {"parameter": parameter}
        if kind == "psth":
            options["bin_size"] = bin_size
        query = parse_query(args)
        with open_store(store, "r") as s:
            view = param_filter_query(s, **query) if query else s
            plots.to_png(view, kind, output, dpi=dpi, **options)
        click.echo(f"wrote {output}")

    return cli


def _with_progress(run: Any, quiet: bool) -> Any:
    """``run(callback)`` with a rich progress bar fed by ImportProgress-like events."""
    if quiet or not sys.stderr.isatty():
        return run(None)
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        tasks: dict[str, Any] = {}

        def show(ev: Any) -> None:
            if ev.phase not in tasks:
                tasks[ev.phase] = bar.add_task(ev.phase, total=ev.total)
            bar.update(tasks[ev.phase], completed=ev.done, total=ev.total,
                       description=f"{ev.phase} {ev.item}"[:60])

        return run(show)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``mozaik-arrow``; returns the exit code."""
    if click is None:
        print("mozaik-arrow: error: the command line needs click and rich: "
              "pip install 'mozaik-arrow[cli]'", file=sys.stderr)
        return 2
    user_errors: tuple[type[BaseException], ...] = (
        MozaikArrowError, ImportError, ValueError, KeyError, PermissionError, OSError,
        pickle.UnpicklingError)
    try:
        import duckdb

        user_errors += (duckdb.Error,)
    except ImportError:  # pragma: no cover
        pass
    try:
        rv = _commands().main(args=None if argv is None else list(argv), prog_name="mozaik-arrow",
                              standalone_mode=False)
        return int(rv or 0)
    except click.exceptions.Exit as e:
        return int(e.exit_code)
    except click.ClickException as e:  # usage mistakes: one line too (`--help` has the rest)
        print(f"mozaik-arrow: error: {_one_line(Exception(e.format_message()))}", file=sys.stderr)
        return int(e.exit_code)
    except click.exceptions.Abort:
        print("mozaik-arrow: aborted", file=sys.stderr)
        return 1
    except SystemExit as e:
        return int(e.code or 0)
    except user_errors as e:
        print(f"mozaik-arrow: error: {_one_line(e)}", file=sys.stderr)
        return 2


def run() -> None:
    """The console script: ``sys.exit(main())``."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()
