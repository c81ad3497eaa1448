"""Collections of stores: the runs of a parameter search queried as one plan.

A parameter search yields one store per run. :func:`open_collection` gathers them — a list of
paths, a glob (``"sweep/*"``) or a directory whose sub-directories are stores — into a
:class:`Collection`. Its frames (``segments_frame()``, ``spikes()``, ``signals()``,
``stimuli_frame()``, ``ads_frame()``) are single polars ``LazyFrame`` plans over every run,
with a ``run`` column first and otherwise the columns of the single-store frames. The run id
is the store directory's name.

What each run contributes is decided by its commit log, as for one store: the metadata tables
come from each store's snapshot (concatenated once, across runs), and ``spikes()`` /
``signals()`` are one Parquet scan over the explicit list of committed files of every run —
never a recursive glob, so files of a crashed write are never seen. Opening a collection
checks that the format files exist; its first use opens the stores (their logs) and building
plans reads small metadata files only, never recording data. A collection sees each store as
of that first use: open a new one to see later commits.

Filters combine the runs' model parameters (``run={"sheets.V1_Exc_L4.density": 100.0}``) with
mozaik's ``param_filter_query`` language for recordings and analysis results; :meth:`sql` runs
duckdb over the same files; :meth:`map` runs a function per run, on a ``dask.distributed``
client when one is given, and :meth:`to_dask` gives a dask DataFrame (these calls to other
engines are in :mod:`~mozaik_arrow.collection_engines`, a mixin of :class:`Collection`).

Stores may be local or on object storage (``s3://bucket/sweep``, with ``storage_options``):
finding them is a lister's job (:mod:`~mozaik_arrow.collection_listing`), opening them
:func:`mozaik_arrow.open`'s, and the frames scan the stores' committed files with the same
options.

Examples
--------
>>> coll = open_collection("sweep/*")                                      # doctest: +SKIP
>>> coll.runs()                    # run, path, one column per model parameter  # doctest: +SKIP
>>> exc = coll.param_filter_query(run={"sheets.V1_Exc_L4.density": [50.0, 100.0]},
...                               sheet_name="V1_Exc_L4", st_orientation=0.0)  # doctest: +SKIP
>>> exc.segments_frame().group_by("run").agg(pl.col("n_spikes").sum()).collect()  # doctest: +SKIP
>>> exc.sql("SELECT run, avg(n_spikes) FROM spikes GROUP BY run")          # doctest: +SKIP
>>> coll.map(lambda store: len(store.get_segments()), client=client)       # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import polars as pl
import pyarrow as pa

from . import queries, schema
from .collection_engines import TABLES, _CollectionEngines
from .collection_listing import _lister, _local
from .collection_state import _RUN, _Metadata, _State, _with_run
from .errors import NotAStoreError
from .flatten import append_param_columns
from .store import ArrowDataStore
from .view import DataStoreView, _check_files

__all__ = ["Collection", "open_collection", "TABLES"]

_HIVE = {"sheet": pl.String, "stimulus": pl.String}


def open_collection(
    stores: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    storage_options: Mapping[str, Any] | None = None,
) -> Collection:
    """Open many stores (read-only) as one :class:`Collection`.

    Parameters
    ----------
    stores : str, PathLike or iterable of them
        A list of store paths (each must be a store; the collection keeps their order); a
        glob such as ``"sweep/run_*"`` (matches that are not stores are skipped; sorted); or a
        directory whose immediate sub-directories that are stores are the runs (sorted).
        A path that is itself a store gives a collection of one. ``file://`` URLs work.
    storage_options : mapping, optional
        For stores on object storage (``s3://bucket/sweep``, ``s3://bucket/sweep/run_*``, or
        a list of store URLs), as for :func:`mozaik_arrow.open`.

    Returns
    -------
    Collection
        Nothing of the stores is read until the collection is used.

    Raises
    ------
    NotAStoreError
        When a listed path is not a store, or a glob or directory holds none.
    ValueError
        When two stores share a directory name (the run id), naming them.
    """
    if isinstance(stores, (str, os.PathLike)):
        target = _local(stores)
        lister = _lister(target, storage_options)
        paths = lister.expand(target)
    else:
        paths = [_local(s) for s in stores]
        if not paths:
            raise ValueError("open_collection needs at least one store")
        for p in paths:
            lister = _lister(p, storage_options)
            if not lister.is_store(p):
                raise NotAStoreError(f"{p} is not a mozaik_arrow store (no {schema.FORMAT_FILE})")
    paths = [lister.canonical(p) for p in paths]
    by_run: dict[str, list[str]] = {}
    for p in paths:
        by_run.setdefault(os.path.basename(p), []).append(p)
    dups = {r: ps for r, ps in by_run.items() if len(ps) > 1}
    if dups:
        text = "; ".join(f"{r!r} ({', '.join(ps)})" for r, ps in dups.items())
        raise ValueError(f"run ids (store directory names) must be unique; repeated: {text}")
    runs = {os.path.basename(p): p for p in paths}
    return Collection(_State(runs, storage_options, lister.threads))


def _deferred(fn: Callable[[], pl.DataFrame]) -> pl.LazyFrame:
    return pl.defer(fn, schema=lambda: fn().schema)


# -- the collection ------------------------------------------------------------------------------
class Collection(_CollectionEngines):
    """Many read-only stores, one per run, queried together (see :func:`open_collection`).

    Frames are polars ``LazyFrame`` plans over all runs with a ``run`` column first and
    otherwise the single-store frame's columns; where columns differ between runs
    (stimulus and ADS parameters) they are concatenated as ``how="diagonal_relaxed"`` does
    (a column a run lacks is null there). Rows are in run order, then store order.
    """

    def __init__(self, state: _State, runs: Sequence[str] | None = None,
                 filters: tuple[Mapping[str, Any], ...] = ()) -> None:
        self._state = state
        self._runs = list(state.paths) if runs is None else list(runs)
        self._filters = filters  # param_filter_query kwargs, applied in order
        self._view: DataStoreView | None = None

    # -- runs ----------------------------------------------------------------------------------
    @property
    def run_ids(self) -> list[str]:
        """The run ids, in collection order."""
        return list(self._runs)

    def __len__(self) -> int:
        return len(self._runs)

    def __repr__(self) -> str:
        shown = ", ".join(self._runs[:5]) + (", ..." if len(self) > 5 else "")
        return f"<Collection of {len(self)} runs: {shown}>"

    def _check_run(self, run: str) -> str:
        if run not in self._runs:
            raise KeyError(f"no run {run!r} in this collection")
        return self._state.paths[run]

    def store(self, run: str) -> ArrowDataStore:
        """The read-only store of ``run`` (opened on first use, then kept)."""
        self._check_run(run)
        return self._state.store(run)

    def view(self, run: str) -> DataStoreView:
        """What this collection selects of ``run``: its store, or the view this collection's
        filters give (mozaik's ``param_filter_query`` on that store)."""
        view: DataStoreView = self.store(run)
        for kwargs in self._filters:
            view = queries.param_filter_query(view, **kwargs)
        return view

    def runs(self) -> pl.DataFrame:
        """One row per run: ``run``, ``path`` and every model parameter by its dotted path
        (``sheets.V1_Exc_L4.density``), typed as in the stores' ``run/*.parquet`` files; a
        run lacking a parameter (or without model parameters) has null there.

        Raises
        ------
        ValueError
            When a model parameter is named ``run`` or ``path`` (the first two columns).
        """
        every = self._state.parameters()
        flat = [every[r] for r in self._runs]
        for r, params in zip(self._runs, flat, strict=True):
            clash = sorted({"run", "path"} & set(params))
            if clash:
                raise ValueError(f"run {r!r} has a model parameter named {clash[0]!r}, which "
                                 "is a column of runs()")
        table = pa.table({"run": pa.array(self._runs, pa.string()),
                          "path": pa.array([self._state.paths[r] for r in self._runs], pa.string())})
        return pl.from_arrow(append_param_columns(table, flat))  # type: ignore[return-value]

    def close(self) -> None:
        """Release the files of every store this collection (or one derived from it) opened."""
        self._state.close()

    def __enter__(self) -> Collection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- filtering -----------------------------------------------------------------------------
    def param_filter_query(self, run: Mapping[str, Any] | None = None, **kwargs: Any) -> Collection:
        """The runs whose model parameters match ``run``, each restricted to the recordings
        and ADS that mozaik's ``param_filter_query`` selects with ``kwargs``.

        Parameters
        ----------
        run : mapping, optional
            Model parameters by dotted path (the columns of :meth:`runs`) → wanted value:
            ``{"sheets.V1_Exc_L4.density": 100.0}``. mozaik's rules: keys are ANDed, a list
            means any of (``[[1, 2]]`` matches the list itself), a run lacking the parameter
            does not match, values compare normalised (``1 == 1.0``, ``True != 1``).
        **kwargs
            :func:`mozaik_arrow.queries.param_filter_query`'s language, for every run:
            ``st_<name>`` stimulus parameters, ``sheet_name``, ADS parameters; and
            ``ads_unique`` / ``rec_unique``, which require exactly one ADS / recording in
            *each* run (``ValueError`` naming the first run that has not).

        Returns
        -------
        Collection
            A new collection, in the same order. A run whose recordings and ADS all fail
            ``kwargs`` stays in it, with no rows in the frames. Filters chain.
        """
        wanted = dict(run or {})
        runs = self._runs
        if wanted:
            params = self._state.parameters()
            runs = [r for r in runs if queries.params_match(params[r], wanted)]
        filters = self._filters + ((dict(kwargs),) if kwargs else ())
        out = Collection(self._state, runs, filters)
        ads_unique, rec_unique = kwargs.get("ads_unique"), kwargs.get("rec_unique")
        if ads_unique or rec_unique:
            view = out._filtered()
            if ads_unique:
                _require_one_per_run(runs, view._ads(), "ADS")
            if rec_unique:
                _require_one_per_run(runs, view._recordings().filter(~pl.col("null")), "Segment")
        return out

    filter = param_filter_query

    def select(self, runs: Iterable[str]) -> Collection:
        """The collection of these run ids (in collection order; KeyError for unknown ids)."""
        wanted = set(runs)
        for r in sorted(wanted):
            self._check_run(r)
        return Collection(self._state, [r for r in self._runs if r in wanted], self._filters)

    def _filtered(self) -> DataStoreView:
        """A view over every run's metadata with this collection's runs and filters."""
        if self._view is None:
            state = self._state
            rec, ads = _deferred(state.segments), _deferred(state.ads)
            if self._runs != list(state.paths):
                rec = rec.filter(pl.col("run").is_in(self._runs))
                ads = ads.filter(pl.col("run").is_in(self._runs))
            view = DataStoreView(None, _Metadata(state), recordings=rec, ads=ads)  # type: ignore[arg-type]
            for kwargs in self._filters:
                plain = {k: v for k, v in kwargs.items() if k not in ("ads_unique", "rec_unique")}
                view = queries.param_filter_query(view, **plain)
            self._view = view
        return self._view

    # -- frames --------------------------------------------------------------------------------
    def segments_frame(self) -> pl.LazyFrame:
        """One row per recording of every run (see ``DataStoreView.segments_frame``)."""
        return self._filtered()._recordings()

    def ads_frame(self) -> pl.LazyFrame:
        """One row per analysis result of every run (see ``DataStoreView.ads_frame``)."""
        return self._filtered()._ads().select(pl.exclude("^_.*$"))

    def stimuli_frame(self) -> pl.LazyFrame:
        """One row per stimulus of each run's recordings and ADS, every parameter a column
        (see ``DataStoreView.stimuli_frame``); the parameter columns of all runs, sorted
        by name (as within one stimuli file)."""
        view = self._filtered()
        keys = pl.concat([view._recordings().select("run", "stimulus"),
                          view._ads().select("run", "stimulus").drop_nulls()])
        typed = _deferred(self._state.stimuli_typed)
        return typed.join(keys.unique(), on=["run", "stimulus"], how="semi",
                          maintain_order="left").select(pl.exclude("^_.*$", "version"))

    def _files(self, table: str) -> pl.DataFrame:
        """``run``, ``file`` (absolute) and ``stimulus`` of every committed spikes or signals
        file of the selected recordings, in order; each file checked for existence and size
        (a stat each), as the single-store frames do."""
        column = f"{table}_files"
        rows = (self.segments_frame().select("run", column, "stimulus").explode(column)
                .drop_nulls(column).collect())
        runs, rels = rows["run"].to_list(), rows[column].to_list()
        by_run: dict[str, list[str]] = {}
        for r, p in zip(runs, rels, strict=True):
            by_run.setdefault(r, []).append(p)
        roots = {}
        for r, paths in by_run.items():
            store = self._state.store(r)
            roots[r] = store.root
            _check_files(store.fs, paths, self._state.snapshot(r).size_of)
        return pl.DataFrame(
            {"run": runs, "file": [f"{roots[r]}/{p}" for r, p in zip(runs, rels, strict=True)],
             "stimulus": rows["stimulus"]},
            schema={"run": _RUN, "file": pl.String, "stimulus": pl.String})

    def _scan(self, table: str, columns: list[str]) -> pl.LazyFrame:
        files = self._files(table)
        file_schema = pl.from_arrow(schema.empty_table(schema.strip_field_docs(schema.TABLES[table]))).schema  # type: ignore[union-attr]
        if files.height == 0:
            empty = pl.DataFrame(schema=file_schema).with_columns(
                pl.lit(None, pl.String).alias("sheet"), pl.lit(None, pl.String).alias("stimulus"))
            return _with_run(empty, "").lazy().select(["run", *columns])
        runs = files.unique("file", maintain_order=True)
        lf = pl.scan_parquet(files["file"].to_list(), schema=file_schema, hive_partitioning=True,
                             hive_schema=_HIVE, missing_columns="insert", glob=False,
                             include_file_paths="_file", storage_options=self._state.polars_options())
        run = pl.col("_file").replace_strict(runs["file"], runs["run"], return_dtype=_RUN)
        return lf.select(run.alias("run"), *columns)

    def spikes(self) -> pl.LazyFrame:
        """One row per neuron per recording of every run (see ``DataStoreView.spikes``)."""
        return self._scan("spikes", ["segment_id", "sheet_name", "stimulus", "null", "neuron_id",
                                     "units", "t_start", "t_stop", "n_spikes", "times"])

    def signals(self, name: str | None = None) -> pl.LazyFrame:
        """One row per neuron per signal per recording of every run (``name`` filters)."""
        lf = self._scan("signals", ["segment_id", "sheet_name", "stimulus", "null", "neuron_id",
                                    "name", "units", "time_units", "t_start", "sampling_period",
                                    "n_samples", "samples"])
        return lf if name is None else lf.filter(pl.col("name") == name)


def _require_one_per_run(runs: Sequence[str], plan: pl.LazyFrame, what: str) -> None:
    counts = dict(plan.group_by("run").len().collect().iter_rows())
    for r in runs:
        if counts.get(r, 0) != 1:
            raise ValueError(f"run {r!r}: Result was expected to have only single {what}, "
                             f"it contains {counts.get(r, 0)}")
