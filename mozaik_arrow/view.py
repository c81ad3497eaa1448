"""``DataStoreView``: an immutable, lazy selection of a store's recordings.

A view is a value, like a polars ``LazyFrame``: it holds its full datastore and a polars plan
over the datastore's segments table (a snapshot of the commit log), and nothing else. Creating
or chaining views reads no recording data; frames (``spikes()``, ``signals()``) are
``LazyFrame`` scans over exactly the files of the view's recordings; segments are lazy
:class:`~mozaik_arrow.segment.MozaikSegment` objects.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from . import schema
from .errors import CorruptFileError, MissingFileError
from .pair_match import _any_of, pairs_filter
from .segment import MozaikSegment
from .snapshot import Snapshot, frame_rows

if TYPE_CHECKING:  # the store imports this module; the view only needs its type
    from .ads_index import PairIndex
    from .filesystem import StoreFileSystem
    from .store import DataStore

__all__ = ["DataStoreView"]

_HIVE = {"sheet": pl.String, "stimulus": pl.String}


class Selected:
    """Recordings picked by position from one snapshot's segments table.

    The fast form of a view's recordings, made by queries on a store and on views made so:
    segments are built from the snapshot's cached rows with no polars plan collected (each
    collect costs ~0.3 ms, more than the rest of a query). A plan is made only when one is
    asked for (:meth:`plan`).

    Parameters
    ----------
    snap : Snapshot
        The committed state the positions refer to.
    positions : tuple of int, optional
        Rows of ``snap.rows("segments")`` in store order; None means every row.
    """

    __slots__ = ("snap", "positions")

    def __init__(self, snap: Snapshot, positions: tuple[int, ...] | None = None) -> None:
        self.snap, self.positions = snap, positions

    def rows(self, null: bool | None = None) -> list[dict[str, Any]]:
        """The selected rows (shared, read-only dicts), those with ``null`` only if given."""
        picked = self.snap.rows("segments") if self.positions is None else (
            self.snap.rows_at("segments", self.positions))
        return picked if null is None else [r for r in picked if r["null"] == null]

    def plan(self) -> pl.LazyFrame:
        frame = self.snap.frame("segments")
        if self.positions is None:
            return frame.lazy()
        return frame[np.asarray(self.positions, dtype=np.int64)].lazy()


# A view's plan, or a function building it on first use: a partition query makes thousands
# of views, most of which are never looked at.
_Plan = pl.LazyFrame | Callable[[], pl.LazyFrame] | Selected


def _polars_schema(table: str) -> pl.Schema:
    return pl.from_arrow(schema.empty_table(schema.strip_field_docs(schema.TABLES[table]))).schema


def _check_files(fs: StoreFileSystem, paths: list[str], size_of: Callable[[str], int | None]) -> None:
    """Fail early, naming the file, when a local file is missing or not the size its commit
    wrote (polars' own errors do not say which file); a stat each, no read. On object
    storage nothing is checked: it would cost a request per file."""
    if not fs.renames:
        return
    for p in paths:
        full = fs.full(p)
        try:
            size = os.stat(full).st_size
        except FileNotFoundError:
            raise MissingFileError(full, "file named by the store's log is missing") from None
        want = size_of(p)
        if want is not None and size != want:
            raise CorruptFileError(full, f"file is {size} bytes, its commit wrote {want}")


def _scan(root: str, table: str, paths: list[str],
          storage_options: dict[str, str] | None = None) -> pl.LazyFrame:
    """Scan explicit files of one partitioned table (never a glob: see arrow_engineering §2);
    ``storage_options`` for a store on object storage."""
    file_schema = _polars_schema(table)
    if not paths:
        empty = pl.DataFrame(schema=file_schema).lazy()
        return empty.with_columns(
            pl.lit(None, pl.String).alias("sheet"), pl.lit(None, pl.String).alias("stimulus")
        )
    return pl.scan_parquet(
        [f"{root}/{p}" for p in paths],
        schema=file_schema,
        hive_partitioning=True,
        hive_schema=_HIVE,
        missing_columns="insert",
        glob=False,  # explicit names: a store under "run[1]/" must not be read as a pattern
        storage_options=storage_options,
    )


class DataStoreView:
    """A subset of the recordings (and, later, analysis results) of a :class:`DataStore`.

    Parameters
    ----------
    parameters : mapping, optional
        Accepted for compatibility with mozaik's signature; unused by views.
    full_datastore : DataStore
        The store this view selects from; results computed on a view are added there.
    replace : bool
        Accepted for compatibility with mozaik's signature.
    """

    def __init__(
        self,
        parameters: Mapping[str, Any] | None = None,
        full_datastore: DataStore | None = None,
        replace: bool = False,
        *,
        recordings: _Plan | None = None,
        ads: _Plan | None = None,
    ) -> None:
        self.parameters = dict(parameters or {})
        self.full_datastore = full_datastore if full_datastore is not None else self  # type: ignore[assignment]
        self.replace = replace
        if full_datastore is not None and full_datastore is not self:
            recordings = full_datastore._recordings() if recordings is None else recordings
            ads = full_datastore._ads() if ads is None else ads
        self._recordings_plan = recordings
        self._ads_plan = ads

    # -- plans -----------------------------------------------------------------------------
    def _recordings(self) -> pl.LazyFrame:
        """Plan over the segments table rows of this view (store order)."""
        if self._recordings_plan is None:
            return pl.DataFrame(schema=_polars_schema("segments")).lazy()
        if isinstance(self._recordings_plan, Selected):
            return self._recordings_plan.plan()
        if callable(self._recordings_plan):
            self._recordings_plan = self._recordings_plan()
        return self._recordings_plan

    def _selected(self) -> Selected | None:
        """The view's recordings as positions in a snapshot, when it was made so (else None:
        its recordings are a polars plan)."""
        plan = self._recordings_plan
        return plan if isinstance(plan, Selected) else None

    def _ads(self, snap: Snapshot | None = None) -> pl.LazyFrame:
        """Plan over the ADS metadata rows of this view (store order). ``snap``: the store's
        latest snapshot, when the caller has just read it (stores use it, views need not)."""
        if self._ads_plan is None:
            return pl.from_arrow(schema.empty_table(schema.strip_field_docs(schema.ADS))).lazy()
        if callable(self._ads_plan):
            self._ads_plan = self._ads_plan()
        return self._ads_plan

    def _ads_pushdown(self, where: Mapping[str, Any]) -> Callable[[], pl.LazyFrame] | None:
        """A plan scanning the ADS metadata with pushdown of ``where`` (stores only: see
        :meth:`AnalysisResults.pushdown_plan`); None for views, whose plans are built."""
        return None

    def _ads_stimulus_strings(self, snap: Snapshot | None = None) -> dict[str, str] | None:
        """Stimulus key -> string of every ADS, when known without reading (stores only:
        see :meth:`AnalysisResults.stimulus_strings`; ``snap``: the store's latest
        snapshot, when just read); None otherwise."""
        return None

    def _ads_indexed(self, snap: Snapshot | None = None) -> tuple[pl.DataFrame, PairIndex] | None:
        """Every ADS row and their pair index, when the store has them (stores only: see
        :meth:`AnalysisResults.indexed`); None for views, whose ADS are plans."""
        return None

    def _with(self, recordings: _Plan | None = None, ads: _Plan | None = None) -> DataStoreView:
        if recordings is None:
            recordings = self._selected() or self._recordings()
        return DataStoreView(
            self.parameters, self.full_datastore, self.replace,
            recordings=recordings,
            ads=self._ads() if ads is None else ads,
        )

    def _rows(self, null: bool | None) -> list[dict[str, Any]]:
        selected = self._selected()
        if selected is not None:
            return selected.rows(null)
        plan = self._recordings()
        if null is not None:
            plan = plan.filter(pl.col("null") == null)
        return frame_rows(plan.collect())

    # -- recordings ------------------------------------------------------------------------
    def get_segments(self, null: bool = False) -> list[MozaikSegment]:
        """Recordings of the view as lazy segments; ``null=True`` gives the null (blank) ones."""
        files = self.full_datastore._files
        cls = getattr(self.full_datastore, "_segment_class", MozaikSegment)
        return [cls(row, files) for row in self._rows(null)]

    def get_stimuli(self, null: bool = False) -> list[str]:
        """Stimulus strings of the recordings, in the order of ``get_segments(null)``."""
        selected = self._selected()
        if selected is not None:
            return [r["stimulus_string"] for r in selected.rows(null)]
        plan = self._recordings().filter(pl.col("null") == null)
        return plan.select("stimulus_string").collect().to_series().to_list()

    def sheets(self) -> list[str]:
        """Sheets with at least one recording in the view, in order of first appearance."""
        selected = self._selected()
        if selected is not None:
            return list(dict.fromkeys(r["sheet_name"] for r in selected.rows()))
        df = self._recordings().select("sheet_name").collect()
        return df.to_series().unique(maintain_order=True).to_list()

    def recordings_copy(self) -> DataStoreView:
        """A new view with the same recordings (views are immutable, so this is cheap)."""
        return self._with()

    def fromDataStoreView(self) -> DataStoreView:  # noqa: N802 - mozaik's name
        """An empty view linked to the same full datastore."""
        return self._with(self._recordings().head(0), self._ads().head(0))

    def stimuli_frame(self) -> pl.LazyFrame:
        """One row per stimulus of the view's recordings and analysis results: ``stimulus``
        (key), ``stimulus_string``, ``name``, ``module_path`` and each parameter as a typed
        column under its own name (``orientation``, not ``st_orientation``)."""
        keys = pl.concat([self._recordings().select("stimulus"),
                          self._ads().select("stimulus").drop_nulls()])
        frame = self.full_datastore._stimuli_typed().lazy()
        return frame.join(keys.unique(), on="stimulus", how="semi", maintain_order="left").select(
            pl.exclude("^_.*$", "version"))

    # -- analysis results --------------------------------------------------------------------
    def ads_frame(self) -> pl.LazyFrame:
        """One row per analysis result: ``ads_key``, ``identifier``, every parameter as a
        column (``stimulus_id`` the stimulus string, ``stimulus`` its key), ``tags``."""
        plan = self._ads()
        return plan.select(pl.exclude("^_.*$"))

    def get_analysis_result(self, **kwargs: Any) -> list[Any]:
        """The analysis results whose parameters match ``kwargs`` (mozaik's rules: a list
        means any of; an ADS lacking a queried parameter does not match), in store order."""
        indexed = self._ads_indexed()
        if indexed is not None:  # a store whose ADS rows are read: set lookups, no plan
            frame, index = indexed
            return self.full_datastore._ads_results.materialise(
                frame[index.rows_matching(kwargs, _any_of)])
        # One key at a time on a shrinking frame: after the first filter the rest is cheap
        # (a combined predicate scans every ADS's pairs once per key).
        scan = self._ads_pushdown(kwargs) if kwargs and self is self.full_datastore else None
        rows = (self._ads() if scan is None else scan()).collect()
        for name in sorted(kwargs, key=lambda k: k != "stimulus_id"):  # most selective first
            rows = rows.filter(pairs_filter({name: kwargs[name]}))
        return self.full_datastore._ads_results.materialise(rows)

    def analysis_result_copy(self) -> list[Any]:
        """Every analysis result of the view (a new list)."""
        return self.full_datastore._ads_results.materialise(self._ads().collect())

    # -- export and analytics ------------------------------------------------------------------
    def to_neo_block(self, **kwargs: Any) -> Any:
        """The view's recordings as a ``neo.Block`` (see :func:`mozaik_arrow.export.to_neo_block`)."""
        from .export import to_neo_block

        return to_neo_block(self, **kwargs)

    def to_nwb(self, path: str | os.PathLike[str], **kwargs: Any) -> Any:
        """Write the view as an NWB file (see :func:`mozaik_arrow.export.to_nwb`)."""
        from .export import to_nwb

        return to_nwb(self, path, **kwargs)

    def binned_counts(self, bin_size: Any, **kwargs: Any) -> pl.LazyFrame:
        """Spike counts per bin of every train of the view, as Elephant's BinnedSpikeTrain
        bins them (see :func:`mozaik_arrow.analytics.binned_counts`)."""
        from .analytics import binned_counts

        return binned_counts(self, bin_size, **kwargs)

    # -- frames ----------------------------------------------------------------------------
    def segments_frame(self) -> pl.LazyFrame:
        """One row per recording of the view (null recordings included, see ``null``)."""
        return self._recordings()

    def _files_of(self, column: str) -> list[str]:
        df = self._recordings().select(pl.col(column).explode()).drop_nulls().collect()
        return df.to_series().to_list()

    def _frame_files(self, column: str) -> list[str]:
        paths = self._files_of(column)
        store = self.full_datastore
        _check_files(store.fs, paths, store._snapshot().size_of)
        return paths

    def _scan_files(self, table: str) -> pl.LazyFrame:
        fs = self.full_datastore.fs
        return _scan(fs.root, table, self._frame_files(f"{table}_files"), fs.polars_options())

    def spikes(self) -> pl.LazyFrame:
        """One row per neuron per recording: ids, units, t_start, t_stop, times, n_spikes.

        Times are in the units each recording came in (the ``units`` column).
        """
        lf = self._scan_files("spikes")
        cols = ["segment_id", "sheet_name", "stimulus", "null", "neuron_id", "units",
                "t_start", "t_stop", "n_spikes", "times"]
        return lf.select(cols)

    def signals(self, name: str | None = None) -> pl.LazyFrame:
        """One row per neuron per recorded signal per recording (``name`` filters signals)."""
        lf = self._scan_files("signals")
        if name is not None:
            lf = lf.filter(pl.col("name") == name)
        cols = ["segment_id", "sheet_name", "stimulus", "null", "neuron_id", "name", "units",
                "time_units", "t_start", "sampling_period", "n_samples", "samples"]
        return lf.select(cols)

    # -- neurons (model-wide, held by the full datastore) ------------------------------------
    def _neurons(self) -> dict[str, dict[str, Any]]:
        return self.full_datastore._neuron_state()

    def get_neuron_postions(self) -> dict[str, np.ndarray]:
        """Positions of every neuron, sheet → array (rows x, y[, z]; columns = sheet index)."""
        return {s: d["positions"] for s, d in self._neurons().items() if d.get("positions") is not None}

    def get_neuron_positions(self) -> dict[str, np.ndarray]:
        """Correctly spelled alias of :meth:`get_neuron_postions`."""
        return self.get_neuron_postions()

    def get_neuron_annotations(self) -> dict[str, list[dict[str, Any]]]:
        """Per-neuron annotations, sheet → list of dicts (in sheet index order)."""
        return {s: d["annotations"] for s, d in self._neurons().items() if d.get("annotations") is not None}

    def _sheet_ids(self, sheet_name: str) -> np.ndarray:
        state = self._neurons().get(sheet_name)
        if state is None or state.get("ids") is None:
            raise KeyError(f"no neuron ids stored for sheet {sheet_name!r}")
        return state["ids"]

    def get_sheet_ids(self, sheet_name: str, indexes: Any = None) -> np.ndarray:
        """Neuron ids of a sheet, or of the given sheet indexes."""
        ids = self._sheet_ids(sheet_name)
        return ids if indexes is None else ids[indexes]

    def get_sheet_indexes(self, sheet_name: str, neuron_id: Any) -> Any:
        """Indexes within the sheet of the given neuron id(s) (an int, or a list for a list)."""
        ids = self._sheet_ids(sheet_name)
        order = np.argsort(ids, kind="stable")
        want = np.atleast_1d(np.asarray(neuron_id, dtype=np.int64))
        pos = np.searchsorted(ids[order], want)
        pos_c = np.minimum(pos, len(ids) - 1) if len(ids) else pos
        ok = (pos < len(ids)) & (ids[order][pos_c] == want) if len(ids) else np.zeros(len(want), bool)
        if not ok.all():
            raise ValueError(f"neuron id {want[~ok][0]} is not in sheet {sheet_name!r}")
        idx = order[pos_c]
        return int(idx[0]) if np.ndim(neuron_id) == 0 else idx.tolist()

    # -- sensory stimuli -------------------------------------------------------------------
    def get_sensory_stimulus(self, stimuli: Sequence[Any] | None = None) -> list[np.ndarray]:
        """Raw sensory arrays: all in insertion order, or those of ``stimuli`` in that order.

        A stimulus without stored data is skipped.
        """
        return self.full_datastore._sensory(stimuli)

    def sensory_stimulus_copy(self) -> dict[str, np.ndarray]:
        """Stimulus string → raw sensory array, for every stored sensory stimulus."""
        return self.full_datastore._sensory_dict()

    # -- printing --------------------------------------------------------------------------
    def print_content(self, full_recordings: bool = False, full_ADS: bool = False) -> None:  # noqa: N803
        """Print an overview of the view: recordings by stimulus type and ADS by identifier
        (with ``full_recordings`` / ``full_ADS``, every one of them)."""
        rec = self._recordings().collect()
        n_null = int(rec["null"].sum()) if rec.height else 0
        print(f"Recordings: {rec.height - n_null} (and {n_null} null recordings)")
        if full_recordings:
            for row in rec.iter_rows(named=True):
                kind = "null " if row["null"] else ""
                print(f"  {kind}{row['sheet_name']}: {row['stimulus_string']}")
        elif rec.height:
            names = rec.select(
                pl.col("stimulus_string").str.extract(r"\"name\":'([^']*)'").alias("type")
            )
            for t, n in names.group_by("type", maintain_order=True).len().iter_rows():
                print(f"  {t}: {n}")
        ads = self._ads().collect()
        print(f"ADS: {ads.height}")
        if full_ADS:
            for ident, pairs in ads.select("identifier", "_pairs").iter_rows():
                print(f"  {ident}: {', '.join(pairs)}")
        elif ads.height:
            for t, n in ads.group_by("identifier", maintain_order=True).len().iter_rows():
                print(f"  {t}: {n}")

