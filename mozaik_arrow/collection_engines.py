"""duckdb SQL and Dask over a collection: its plans handed to engines other than polars.

:class:`_CollectionEngines` is a mixin of :class:`~mozaik_arrow.collection.Collection` holding
the calls that give a collection to another engine, each an optional extra imported when first
used: :meth:`~_CollectionEngines.connect` / :meth:`~_CollectionEngines.sql` (duckdb views over
every run), :meth:`~_CollectionEngines.map` (a function per run, on a ``dask.distributed``
client when one is given) and :meth:`~_CollectionEngines.to_dask` (a dask DataFrame). They
read what ``Collection`` builds (its runs, filters and shared state, its frames and the
explicit list of committed files); what runs on the workers is in
:mod:`~mozaik_arrow.collection_tasks`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from .collection_state import _State
from .collection_tasks import (
    FileReader,
    call_on_run,
    limit_default_client,
    limit_worker_threads,
    to_pandas,
)
from .sql import file_view

if TYPE_CHECKING:
    import dask.dataframe
    import duckdb

__all__ = ["TABLES"]

TABLES = ("segments", "spikes", "signals", "stimuli", "ads", "runs")
"""The tables of a collection: the views of :meth:`Collection.sql`, :meth:`Collection.to_dask`."""


class _CollectionEngines:
    """The SQL and Dask calls of :class:`~mozaik_arrow.collection.Collection` (a mixin)."""

    # Set by Collection.__init__.
    _state: _State
    _runs: list[str]
    _filters: tuple[Mapping[str, Any], ...]

    # -- SQL -----------------------------------------------------------------------------------
    def connect(self, con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
        """A duckdb connection with the views ``spikes``, ``signals``, ``segments``,
        ``stimuli``, ``ads`` and ``runs`` over every run, each with a ``run`` column.

        ``spikes`` and ``signals`` read exactly the committed files of the selected
        recordings (with the hive columns ``sheet`` and ``stimulus``, as
        :func:`mozaik_arrow.sql.connect`); the others are the collection's metadata frames
        and :meth:`runs`. Columns starting with ``_`` are left out; quote ``"null"`` in SQL.
        """
        try:
            import duckdb
        except ImportError:  # pragma: no cover - an extra
            raise ImportError("SQL needs duckdb: pip install 'mozaik-arrow[sql]'") from None
        con = duckdb.connect() if con is None else con
        fsspec_fs = self._state.fsspec()
        if fsspec_fs is not None:  # object storage: duckdb reads through s3fs
            con.register_filesystem(fsspec_fs)
        for name in ("spikes", "signals"):
            file_view(con, name, self._files(name))
        for name, frame in (("segments", self.segments_frame()), ("stimuli", self.stimuli_frame()),
                            ("ads", self.ads_frame()), ("runs", self.runs().lazy())):
            table = frame.select(pl.exclude("^_.*$")).collect().to_arrow()
            con.register(f"_{name}", table)
            con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM "_{name}"')
        return con

    def sql(self, query: str) -> pl.DataFrame:
        """Run one duckdb query over the views of :meth:`connect`; the result as polars."""
        return self.connect().sql(query).pl()

    # -- Dask ----------------------------------------------------------------------------------
    def map(self, fn: Callable[[Any], Any], client: Any = None) -> dict[str, Any]:
        """``fn(store)`` for every run; ``{run: result}`` in run order.

        Parameters
        ----------
        fn : callable
            Called with the run's read-only store (``ArrowDataStore``) — or, in a filtered
            collection, with the view the filters select of it (:meth:`view`;
            ``view.full_datastore`` is the store). With a client, ``fn`` and its result
            must be picklable.
        client : dask.distributed.Client, optional
            Runs one task per run on the cluster. Workers open the stores themselves from
            their paths (only the path and the filters are sent); before the first task
            each worker's pyarrow pool, and its polars pool where polars is not imported yet
            there, are capped at the worker's thread count (``POLARS_MAX_THREADS``), so that
            tasks do not oversubscribe the cores. Without a client the runs are done one
            after another in this process.

        Raises
        ------
        Exception
            The first exception ``fn`` raised, with a note naming the run (Python >= 3.11).
        """
        if client is None:
            out = {}
            for r in self._runs:
                with self._state.reading(r):
                    out[r] = call_on_run(fn, r, self._state.paths[r], (), None, self.view(r))
            return out
        limit_worker_threads(client)
        token = uuid.uuid4().hex[:12]
        futures = [
            client.submit(call_on_run, fn, r, self._state.paths[r], self._filters,
                          self._state.storage_options, key=f"mozaik-arrow-map-{token}-{i}",
                          pure=False)
            for i, r in enumerate(self._runs)
        ]
        return dict(zip(self._runs, client.gather(futures), strict=True))

    def to_dask(self, table: str, columns: Sequence[str] | None = None) -> dask.dataframe.DataFrame:
        """One of :data:`TABLES` as a dask DataFrame, with pyarrow dtypes (list columns
        stay lists) and the columns and rows of the polars frame.

        ``spikes`` and ``signals`` have one partition per committed file (the explicit file
        list of :meth:`spikes`), read on the workers with page checksums verified; the
        metadata tables (``segments``, ``stimuli``, ``ads``, ``runs``) are small and are
        one partition built from the collection's frame. ``columns`` selects some columns
        (``run`` is always first). Under a ``dask.distributed`` default client the workers'
        thread pools are capped as in :meth:`map`.
        """
        try:
            import dask.dataframe as dd
        except ImportError:  # pragma: no cover - an extra
            raise ImportError("to_dask needs dask: pip install 'mozaik-arrow[dask]'") from None
        frames: dict[str, Callable[[], pl.LazyFrame]] = {
            "segments": self.segments_frame, "spikes": self.spikes, "signals": self.signals,
            "stimuli": self.stimuli_frame, "ads": self.ads_frame, "runs": lambda: self.runs().lazy()}
        if table not in frames:
            raise ValueError(f"table must be one of {', '.join(TABLES)} (got {table!r})")
        lf = frames[table]()
        names = lf.collect_schema().names()
        if columns is not None:
            unknown = [c for c in columns if c not in names]
            if unknown:
                raise KeyError(f"table {table!r} has no column {unknown[0]!r}")
            names = ["run", *(c for c in columns if c != "run")]
        lf = lf.select(names)
        if table not in ("spikes", "signals"):
            return dd.from_pandas(to_pandas(lf.collect()), npartitions=1, sort=False)
        limit_default_client()
        reader = FileReader(pl.DataFrame(schema=lf.collect_schema()), self._state.storage_options)
        meta = to_pandas(reader.empty)
        parts = list(self._files(table).iter_rows())
        if not parts:
            return dd.from_pandas(meta, npartitions=1, sort=False)
        return dd.from_map(reader, parts, meta=meta, label=f"mozaik-arrow-{table}",
                           enforce_metadata=False)
