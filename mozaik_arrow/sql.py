"""SQL over a store with duckdb: views of its committed state, never a glob.

:func:`connect` returns a duckdb connection holding the views ``spikes``, ``signals``,
``segments``, ``stimuli`` and ``ads`` of one store (or of one :class:`DataStoreView`): the
Parquet tables are read from the explicit file lists of the view's commit, so files of a
crashed or unfinished write are never seen (arrow_engineering §2), and the small metadata
tables come from the snapshot already in memory. Columns starting with ``_`` (the store's
own bookkeeping) are left out; the column ``null`` must be quoted in SQL (``"null"``).

Examples
--------
>>> con = connect(mozaik_arrow.open("run1"))                                # doctest: +SKIP
>>> con.sql('SELECT sheet_name, avg(n_spikes) FROM spikes GROUP BY 1').pl()  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from . import schema

if TYPE_CHECKING:
    import duckdb

    from .view import DataStoreView

__all__ = ["connect", "file_view", "VIEWS"]

VIEWS = ("spikes", "signals", "segments", "stimuli", "ads")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _public(table: pa.Table) -> pa.Table:
    return table.select([n for n in table.column_names if not n.startswith("_")])


def _empty_table(name: str, runs: bool) -> pa.Table:
    empty = schema.empty_table(schema.strip_field_docs(schema.TABLES[name]))
    for col in ("sheet", "stimulus"):
        empty = empty.append_column(col, pa.array([], pa.string()))
    return empty.add_column(0, "run", pa.array([], pa.string())) if runs else empty


def file_view(con: Any, name: str, files: list[str] | pl.DataFrame) -> None:
    """Create the view ``name`` (``spikes`` or ``signals``) over exactly ``files``, with the
    hive columns ``sheet`` and ``stimulus``.

    ``files`` is a list of full paths, or a frame with columns ``file`` and ``run`` (a
    collection): then the view starts with the ``run`` of each row's file.
    """
    runs = isinstance(files, pl.DataFrame)
    paths = files.unique("file", maintain_order=True)["file"].to_list() if runs else files
    if not paths:
        con.register(f"_{name}_empty", _empty_table(name, runs))
        con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM "_{name}_empty"')
        return
    listing = ", ".join(_quote(f) for f in paths)
    # Every spikes/signals file has the format's one schema: no union_by_name, so duckdb
    # binds the view on one footer instead of reading every file's when it is created.
    if not runs:
        con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM read_parquet([{listing}], '
                    "hive_partitioning=true)")
        return
    by_file = files.unique("file", maintain_order=True).select(
        pl.col("file").alias("_file"), "run")
    con.register(f"_{name}_runs", by_file.to_arrow())
    con.execute(
        f'CREATE VIEW "{name}" AS SELECT r.run, p.* EXCLUDE (_file) FROM read_parquet('
        f"[{listing}], hive_partitioning=true, filename='_file') AS p "
        f'JOIN "_{name}_runs" AS r ON p._file = r._file')


def connect(dsv: DataStoreView, con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
    """A duckdb connection with the views ``spikes``, ``signals``, ``segments``, ``stimuli``
    and ``ads`` over the recordings and analysis results of ``dsv`` (a store or a view).

    Parameters
    ----------
    dsv : DataStoreView
        A store (all of it) or a query's view (only its recordings and ADS).
    con : duckdb.DuckDBPyConnection, optional
        Where to create the views (default: a new in-memory connection).

    Returns
    -------
    duckdb.DuckDBPyConnection
        ``spikes``/``signals`` carry the hive columns ``sheet`` and ``stimulus``;
        ``segments`` one row per recording; ``stimuli`` one row per stimulus with every
        parameter as a typed column; ``ads`` one row per analysis result with its parameters.
    """
    try:
        import duckdb
    except ImportError:  # pragma: no cover - an extra
        raise ImportError("SQL needs duckdb: pip install 'mozaik-arrow[sql]'") from None
    con = duckdb.connect() if con is None else con
    store = dsv.full_datastore
    fsspec_fs = getattr(store.fs, "fsspec", None)
    if fsspec_fs is not None:  # object storage: duckdb reads through the store's client
        con.register_filesystem(fsspec_fs)
    for name, column in (("spikes", "spikes_files"), ("signals", "signals_files")):
        file_view(con, name, [store.fs.full(p) for p in dsv._frame_files(column)])
    segments = dsv.segments_frame().collect().to_arrow()
    con.register("_segments", _public(segments))
    con.execute('CREATE VIEW segments AS SELECT * FROM "_segments"')
    stimuli = dsv.stimuli_frame().collect().to_arrow()
    con.register("_stimuli", _public(stimuli))
    con.execute('CREATE VIEW stimuli AS SELECT * FROM "_stimuli"')
    ads = dsv.ads_frame().collect()
    # The ADS frame holds the parameter columns of every metadata file (typed as polars
    # unifies them) and, unlike the files, the ADS still pending in this process.
    con.register("_ads", _public(ads.to_arrow()) if ads.width else pl.DataFrame().to_arrow())
    con.execute('CREATE VIEW ads AS SELECT * FROM "_ads"')
    return con
