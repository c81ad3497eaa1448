"""The runs of a collection: their stores, snapshots and metadata, loaded once and shared.

A :class:`~mozaik_arrow.collection.Collection` and every collection derived from it (filters,
selections) share one :class:`_State`: the read-only store of each run, opened on first use,
the snapshot of each run as of that first use, each run's model parameters, and the metadata
tables of every run (segments, stimuli, ADS) concatenated once, with a ``run`` column first.
:class:`_Metadata` shows that state to :mod:`mozaik_arrow.queries` as a full datastore, so
that one query plan filters every run. The collection's plans, SQL and Dask tasks are built
on top of this, in :mod:`~mozaik_arrow.collection` and :mod:`~mozaik_arrow.collection_engines`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import polars as pl
import pyarrow as pa

from .flatten import append_param_columns, stimulus_params
from .neo_views import gc_paused
from .snapshot import ROW_SCHEMAS, Snapshot
from .store import ArrowDataStore
from .store import open as open_store

_RUN = pl.String


def _with_run(df: pl.DataFrame, run: str) -> pl.DataFrame:
    if "run" in df.columns:
        raise ValueError(f"run {run!r} has a parameter named 'run', the collection's run column")
    return df.select(pl.lit(run, _RUN).alias("run"), pl.all())


class _State:
    """The stores of a collection and their metadata concatenated across runs, loaded on
    first use and shared by the collections derived from it (filters, selections)."""

    def __init__(self, paths: dict[str, str], storage_options: Mapping[str, Any] | None,
                 threads: int = 1) -> None:
        self.paths = paths  # run -> store path, in collection order
        self.storage_options = storage_options
        self.threads = threads
        self.stores: dict[str, ArrowDataStore] = {}
        self._snapshots: dict[str, Snapshot] = {}
        self._frames: dict[str, pl.DataFrame] = {}
        self._params: dict[str, dict[str, Any]] = {}

    def _each(self, fn: Callable[[str], Any]) -> list[Any]:
        runs = list(self.paths)
        with gc_paused():
            if len(runs) < 2 or self.threads < 2:
                return [fn(r) for r in runs]
            with ThreadPoolExecutor(min(self.threads, len(runs))) as pool:
                return list(pool.map(fn, runs))

    def store(self, run: str) -> ArrowDataStore:
        s = self.stores.get(run)
        if s is None:
            s = open_store(self.paths[run], "r", storage_options=self.storage_options)
            self.stores.setdefault(run, s)
        return self.stores[run]

    def _remote(self) -> Any:
        """The filesystem of the first run when the stores are on object storage, else None."""
        first = next(iter(self.paths.values()))
        return self.store(next(iter(self.paths))).fs if "://" in first else None

    def polars_options(self) -> dict[str, str] | None:
        fs = self._remote()
        return None if fs is None else fs.polars_options()

    def fsspec(self) -> Any:
        fs = self._remote()
        return None if fs is None else fs.fsspec

    def snapshot(self, run: str) -> Snapshot:
        """The commit of ``run`` the collection reads (its latest at first use)."""
        snap = self._snapshots.get(run)
        if snap is None:
            snap = self._snapshots.setdefault(run, self.store(run)._snapshot())
        return snap

    @contextmanager
    def reading(self, run: str) -> Iterator[ArrowDataStore]:
        """The store of ``run``, whose open files are closed after the block: a collection of
        thousands of runs must not keep a file descriptor per run."""
        store = self.store(run)
        try:
            yield store
        finally:
            store._files.clear()

    def parameters(self) -> dict[str, dict[str, Any]]:
        """run -> the store's model parameters by dotted path ({} when none are stored)."""
        if not self._params:
            def flat_parameters(run: str) -> dict[str, Any]:
                with self.reading(run) as store:
                    return store.get_model_parameters(flat=True) or {}

            flat = self._each(flat_parameters)
            self._params = dict(zip(self.paths, flat, strict=True))
        return self._params

    def _rows(self, table: str) -> pl.DataFrame:
        """A metadata table of every run's snapshot (one schema: concatenated as Arrow)."""
        if table not in self._frames:
            snaps = self._each(self.snapshot)
            out_schema = pa.schema([pa.field("run", pa.string()), *ROW_SCHEMAS[table]])
            # Rows no one has converted yet (records replayed since a checkpoint) become
            # Arrow in one conversion for all runs (one per store costs ~0.3 ms each).
            raw: list[dict[str, Any]] = []
            tables = []
            for r, snap in zip(self.paths, snaps, strict=True):
                rows = snap.raw_rows(table)
                if rows is not None:
                    raw += [{"run": r, **row} for row in rows]
                else:
                    t = snap.table(table)
                    tables.append(t.add_column(0, "run", pa.array([r] * t.num_rows, pa.string())))
            if raw or not tables:
                tables.append(pa.Table.from_pylist(raw, schema=out_schema))
            # one chunk: polars converts 1000 small record batches ~50x slower than one
            df = pl.from_arrow(pa.concat_tables(tables).combine_chunks())
            if raw and len(tables) > 1:  # runs of both kinds: back to collection order
                order = {r: i for i, r in enumerate(self.paths)}
                df = df.sort(pl.col("run").replace_strict(order, return_dtype=pl.Int64),
                             maintain_order=True)
            self._frames[table] = df  # type: ignore[assignment]
        return self._frames[table]

    def segments(self) -> pl.DataFrame:
        return self._rows("segments")

    def stimuli(self) -> pl.DataFrame:
        """Stimulus metadata (``_pairs``, what queries compare) of every run."""
        return self._rows("stimuli")

    def _concat(self, name: str, frame: Callable[[str], pl.DataFrame]) -> pl.DataFrame:
        if name not in self._frames:
            parts = self._each(frame)
            # Empty parts only widen the schema (1000 selects and a diagonal concat of them
            # cost ~0.7 s): keep one for the columns, concatenate those holding rows.
            full = [_with_run(p, r) for r, p in zip(self.paths, parts, strict=True) if p.height]
            self._frames[name] = pl.concat(full, how="diagonal_relaxed") if full else \
                _with_run(parts[0], next(iter(self.paths)))
        return self._frames[name]

    def stimuli_typed(self) -> pl.DataFrame:
        """Every run's stimuli with one typed column per parameter, as the stimuli files
        hold them (built from the committed stimulus strings — each distinct one parsed
        once, however many runs share it — by the same function that wrote the files)."""
        if "stimuli_typed" not in self._frames:
            table = self._rows("stimuli").to_arrow()
            strings = table.column("stimulus_string").to_pylist()
            typed = append_param_columns(table.drop(["run"]), [stimulus_params(t) for t in strings])
            frame = _with_run(pl.from_arrow(typed), "")  # type: ignore[arg-type]
            self._frames["stimuli_typed"] = frame.with_columns(self._rows("stimuli")["run"])
        return self._frames["stimuli_typed"]

    def ads(self) -> pl.DataFrame:
        """Every run's ADS metadata rows (the stores are read-only: nothing is pending)."""
        def committed(run: str) -> pl.DataFrame:
            with self.reading(run) as store:
                return store._ads_results.committed_frame(self.snapshot(run))

        return self._concat("ads", committed)

    def close(self) -> None:
        for s in self.stores.values():
            s.close()
        self.stores.clear()


class _Metadata:
    """What :mod:`mozaik_arrow.queries` asks of a full datastore, over every run: lets
    ``param_filter_query`` filter all runs in one plan, with mozaik's semantics."""

    def __init__(self, state: _State) -> None:
        self._state = state

    def _stimuli_metadata(self) -> pl.LazyFrame:
        return self._state.stimuli().lazy()

    def _ads_stimulus_strings(self, snap: Any = None) -> None:
        return None  # not kept across runs: queries parse the ADS' own stimuli
