"""Dask tasks of :class:`mozaik_arrow.collection.Collection`: what runs on the workers.

Functions here travel to ``dask.distributed`` workers by reference (pickled by module and
name), so they import nothing heavy at module level beyond what a worker has anyway.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from . import queries
from .store import open as open_store

if TYPE_CHECKING:
    import pandas

    from .view import DataStoreView

__all__ = ["call_on_run", "limit_worker_threads", "limit_default_client", "to_pandas",
           "FileReader"]

_RUN = pl.String


def call_on_run(fn: Callable[[Any], Any], run: str, path: str, filters: Sequence[Mapping[str, Any]],
          storage_options: Mapping[str, Any] | None, view: DataStoreView | None = None) -> Any:
    """``fn`` on one run; opens (and closes) the store here when no view is given (a task)."""
    store = None
    try:
        if view is None:
            view = store = open_store(path, "r", storage_options=storage_options)
            for kwargs in filters:
                view = queries.param_filter_query(view, **kwargs)
        return fn(view)
    except Exception as e:
        if hasattr(e, "add_note"):  # Python >= 3.11
            e.add_note(f"in run {run!r} of a mozaik_arrow collection ({path})")
        raise
    finally:
        if store is not None:
            store.close()


def limit_worker_threads(client: Any) -> None:
    """Cap pyarrow's and (where not imported yet) polars' thread pools on every worker of
    ``client`` at the worker's thread count."""

    # A local function travels by value: running it imports nothing of ours (nor polars).
    def limit(dask_worker: Any) -> bool:
        import os
        import sys

        import pyarrow

        n = max(1, int(dask_worker.state.nthreads))
        pyarrow.set_cpu_count(n)
        if "polars" in sys.modules:
            return False
        os.environ["POLARS_MAX_THREADS"] = str(n)
        return True

    client.run(limit)


def limit_default_client() -> None:
    """:func:`limit_worker_threads` on the default ``dask.distributed`` client, if any."""
    if "distributed" not in sys.modules:  # then there is no client (and no 1 s import)
        return
    try:
        from distributed import default_client
    except ImportError:
        return
    try:
        client = default_client()
    except ValueError:  # no client: dask's local schedulers
        return
    limit_worker_threads(client)


def to_pandas(df: pl.DataFrame) -> pandas.DataFrame:
    return df.to_pandas(use_pyarrow_extension_array=True)


class FileReader:
    """A dask task: one spikes or signals file as the collection frame's columns (pickled
    by reference, holding only an empty frame of the target schema)."""

    def __init__(self, empty: pl.DataFrame, storage_options: Mapping[str, Any] | None = None) -> None:
        self.empty = empty
        self.storage_options = storage_options

    def __call__(self, part: tuple[str, str, str]) -> pandas.DataFrame:
        import pyarrow.parquet as pq

        run, path, stimulus = part
        in_file = [c for c in self.empty.columns if c not in ("run", "stimulus")]
        source: Any = path
        if "://" in path:  # object storage: the worker reads through its own client
            from .filesystem import open_filesystem

            fs = open_filesystem(path.rsplit("/", 1)[0], self.storage_options)
            source = fs.parquet_source(path.rsplit("/", 1)[1])
        table = pq.ParquetFile(source, page_checksum_verification=True).read(columns=in_file)
        df = pl.from_arrow(table).with_columns(  # type: ignore[union-attr]
            pl.lit(run, _RUN).alias("run"), pl.lit(stimulus, pl.String).alias("stimulus"))
        return to_pandas(df.select(self.empty.columns).cast(self.empty.schema))
