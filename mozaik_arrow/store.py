"""``DataStore`` and ``ArrowDataStore``: opening stores and writing recordings into them.

Writes flow one way: input objects are validated and converted to Arrow tables
(:mod:`~mozaik_arrow.neo_convert`), cut into files (:mod:`~mozaik_arrow.write_plan`), encoded
into staged files and published by one commit (:mod:`~mozaik_arrow.commit`). When
``add_recording`` or ``add_stimulus`` returns, the data is durable. Reads go through the view
(:mod:`~mozaik_arrow.view`) over the latest committed snapshot.

The write calls are in :mod:`~mozaik_arrow.store_write` (a mixin of ``ArrowDataStore``); here
a store is opened (or created), its committed state handed to the view, and closed.
"""

from __future__ import annotations

import errno
import functools
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from . import schema
from ._version import __version__
from .ads_index import PairIndex
from .analysis_store import AnalysisResults
from .commit import Log, create_store, read_format
from .errors import (
    NotAStoreError,
    ReadOnlyError,
    StoreExistsError,
    ValidationError,
)
from .filesystem import StoreFileSystem, is_empty_dir, open_filesystem
from .neurons import NeuronState, read_neurons
from .parametrized import canonical_stimulus
from .reader import FileCache
from .run_parameters import (
    RunParameters,
    flat_parameters,
    read_run,
)
from .snapshot import ROW_SCHEMAS, Snapshot
from .store_write import _StoreWrites
from .view import DataStoreView, Selected
from .write_plan import segment_id  # noqa: F401 - re-exported: the id of a recording

__all__ = ["DataStore", "ArrowDataStore", "Hdf5DataStore", "open"]

_MODES = ("r", "a", "w", "r+")


class DataStore(DataStoreView):
    """The mozaik datastore interface: a view over everything plus the write methods.

    Parameters
    ----------
    load : bool
        False creates a new store in ``parameters['root_directory']``; True loads one.
    parameters : mapping
        Must hold ``root_directory``.
    """

    def __init__(self, load: bool, parameters: Mapping[str, Any], **params: Any) -> None:
        super().__init__(parameters, None, params.get("replace", False))

    def set_neuron_positions(self, neuron_positions: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def set_neuron_annotations(self, neuron_annotations: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def set_neuron_ids(self, neuron_ids: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def identify_unpresented_stimuli(self, stimuli: Sequence[Any]) -> list[Any]:
        raise NotImplementedError

    def load(self) -> None:
        raise NotImplementedError

    def save(self) -> None:
        raise NotImplementedError

    def add_recording(self, segments: Any, stimulus: Any) -> None:
        raise NotImplementedError

    def add_null_recording(self, segments: Any, stimulus: Any) -> None:
        raise NotImplementedError

    def add_stimulus(self, data: Any, stimulus: Any) -> None:
        raise NotImplementedError

    def add_analysis_result(self, result: Any) -> None:
        raise NotImplementedError(
            f"{type(self).__name__} does not store analysis results yet (format v1 holds "
            "recordings, stimuli and neuron metadata)"
        )


class ArrowDataStore(_StoreWrites, DataStore):
    """A mozaik datastore kept as Parquet files, crash-safe and lazily read.

    Parameters
    ----------
    load : bool
        False creates a new store in ``parameters['root_directory']``, which must be missing
        or empty; True opens the existing store there for reading and appending.
    parameters : mapping
        A dict or ParameterSet-like mapping holding ``root_directory``.
    replace : bool
        Whether an analysis result equal to a stored one replaces it (else ``ValueError``).
    mode : {"r", "r+", "a", "w"}, optional
        Overrides ``load`` (see :func:`open`).
    storage_options : mapping, optional
        For an object-storage ``root_directory`` (``s3://bucket/prefix``), see :func:`open`.

    Examples
    --------
    >>> store = ArrowDataStore(False, {"root_directory": "run1"})        # doctest: +SKIP
    >>> store.add_recording(segments, {"name": "Blank", "trial": 0})     # doctest: +SKIP
    """

    def __init__(
        self,
        load: bool,
        parameters: Mapping[str, Any],
        replace: bool = False,
        *,
        mode: str | None = None,
        storage_options: Mapping[str, Any] | None = None,
        _fs: StoreFileSystem | None = None,
        _format_checked: bool = False,
    ) -> None:
        self._format_checked = _format_checked
        try:
            root = parameters["root_directory"]
        except (KeyError, TypeError):
            raise ValidationError("parameters must be a mapping holding 'root_directory'") from None
        mode = mode or ("r+" if load else "w")
        if mode not in _MODES:
            raise ValueError(f"mode must be one of 'r', 'a', 'w' (got {mode!r})")
        DataStoreView.__init__(self, parameters, None, replace)
        self.mode = mode
        self.fs = _fs if _fs is not None else open_filesystem(root, storage_options)
        self.root = self.fs.root
        self.writable = mode != "r"
        self._log = Log(self.fs, writable=self.writable)
        self._files = FileCache(self.fs)
        self._files.size_of = lambda rel: self._log.snapshot(refresh=False).size_of(rel)
        self._neurons_cache: tuple[str | None, dict[str, NeuronState]] | None = None
        self._ads_results = AnalysisResults(self._log, self._files, self._snapshot, replace)
        self._stimuli_files: dict[str, pl.DataFrame] = {}
        self._closed = False
        try:
            self._open_layout(mode)
            if self.writable:
                self._log.recover()
        except OSError as e:
            if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM) and self.writable:
                err = ReadOnlyError(
                    f"cannot open {self.root} for writing ({e.strerror}): open it with mode 'r'"
                )
                err.errno, err.filename = e.errno, e.filename
                raise err from e
            raise
        self._log.snapshot()

    def _open_layout(self, mode: str) -> None:
        fs = self.fs
        if mode == "r" and self._format_checked:
            return  # open() read the format file already
        is_store = fs.exists(schema.FORMAT_FILE)
        if mode == "w" or (mode == "a" and not is_store):
            if is_store:
                raise StoreExistsError(f"{self.root} already holds a mozaik_arrow store")
            if not (is_empty_dir(self.root) if fs.renames else not fs.listdir("")):
                what = "a file" if fs.renames and not fs.is_dir() else "a non-empty directory"
                if mode == "a":
                    raise NotAStoreError(
                        f"{self.root} is not a mozaik_arrow store (no {schema.FORMAT_FILE}), "
                        f"and a store cannot be created there: it is {what}"
                    )
                raise StoreExistsError(f"cannot create a store at {self.root}: it is {what}")
            create_store(fs, __version__)
        read_format(fs)

    # -- state ----------------------------------------------------------------------------
    def _snapshot(self) -> Snapshot:
        return self._log.snapshot()

    def _recordings(self) -> pl.LazyFrame:
        return _deferred(self._snapshot(), "segments")

    def _selected(self) -> Selected:
        return Selected(self._snapshot())

    def _ads_stimulus_strings(self, snap: Snapshot | None = None) -> dict[str, str] | None:
        return self._ads_results.stimulus_strings(snap)

    def _ads(self, snap: Snapshot | None = None) -> pl.LazyFrame:
        return self._ads_results.plan(snap)

    def _ads_pushdown(self, where: Mapping[str, Any]) -> Callable[[], pl.LazyFrame] | None:
        return self._ads_results.pushdown_plan(where)

    def _ads_indexed(self, snap: Snapshot | None = None) -> tuple[pl.DataFrame, PairIndex] | None:
        return self._ads_results.indexed(snap)

    def _stimuli_metadata(self) -> pl.LazyFrame:
        """Every stored stimulus: key, string, name, module_path, ``_pairs`` (store order)."""
        return _deferred(self._snapshot(), "stimuli")

    def _stimuli_typed(self) -> pl.DataFrame:
        """Every stored stimulus with one typed column per parameter (from the stimuli files,
        which are immutable: each is read once)."""
        snap = self._snapshot()
        paths = snap.files_under("stimuli")
        frames = []
        for p in paths:
            if p not in self._stimuli_files:
                t = self._files.read_all(p, self._files.file(p).schema_arrow.names)
                self._stimuli_files[p] = pl.from_arrow(t)
            frames.append(self._stimuli_files[p])
        if not frames:
            return pl.from_arrow(schema.empty_table(schema.strip_field_docs(schema.STIMULI)))
        return pl.concat(frames, how="diagonal_relaxed").sort("version")

    # -- recordings -----------------------------------------------------------------------
    def identify_unpresented_stimuli(self, stimuli: Sequence[Any]) -> list[Any]:
        """The stimuli (as given, in input order) that have no (non-null) recording."""
        seen = set(
            self._snapshot().frame("segments").filter(~pl.col("null"))["stimulus"].to_list()
        )
        return [s for s in stimuli if canonical_stimulus(s)[1] not in seen]

    # -- sensory stimuli --------------------------------------------------------------------
    def _read_sensory(self, path: str) -> np.ndarray:
        t = self._files.read_all(path, ["dtype", "shape", "data"]).to_pylist()[0]
        return np.frombuffer(t["data"], dtype=np.dtype(t["dtype"])).reshape(t["shape"])

    def _sensory(self, stimuli: Sequence[Any] | None) -> list[np.ndarray]:
        snap = self._snapshot()
        if stimuli is None:
            return [self._read_sensory(p) for p in snap.frame("sensory")["path"].to_list()]
        out = []
        for s in stimuli:
            row = snap.lookup("sensory", canonical_stimulus(s)[1])
            if row is not None:
                out.append(self._read_sensory(row["path"]))
        return out

    def _sensory_dict(self) -> dict[str, np.ndarray]:
        df = self._snapshot().frame("sensory")
        return {
            s: self._read_sensory(p)
            for s, p in zip(df["stimulus_string"].to_list(), df["path"].to_list(), strict=True)
        }

    # -- neurons -----------------------------------------------------------------------------
    def _neuron_state(self) -> dict[str, NeuronState]:
        path = self._snapshot().neurons_file
        if self._neurons_cache is None or self._neurons_cache[0] != path:
            state = read_neurons(self._files, path) if path is not None else {}
            self._neurons_cache = (path, state)
        return self._neurons_cache[1]

    # -- run parameters ------------------------------------------------------------------------
    def _run(self, snap: Snapshot | None = None) -> RunParameters:
        files = (snap or self._snapshot()).files_under("run")
        if not files:
            return RunParameters()
        return read_run(self._files.read_all(files[-1], ["_kind", "_name", "_text"]))

    def get_model_parameters(self, flat: bool = False) -> Any:
        """The model's parameters as the literal string stored (None if never set); with
        ``flat=True`` a dict of every parameter by its dotted path."""
        text = self._run().model
        return text if not flat or text is None else flat_parameters(text)

    def get_sheet_parameters(self, sheet_name: str | None = None) -> Any:
        """The parameters of ``sheet_name`` as a literal string (KeyError if none are
        stored), or of every sheet as a dict sheet name → string."""
        sheets = self._run().sheets
        if sheet_name is None:
            return dict(sheets)
        if sheet_name not in sheets:
            raise KeyError(f"no parameters stored for sheet {sheet_name!r}")
        return sheets[sheet_name]

    def get_experiment_parametrization_list(self) -> list[Any]:
        """The experiment list as stored: parameter strings, or (class name, string) pairs."""
        return list(self._run().experiments)

    # -- lifecycle -------------------------------------------------------------------------------
    def load(self) -> None:
        """Re-read the commit log (see changes committed by other processes)."""
        self._files.clear()
        self._log.snapshot()

    def save(self) -> None:
        """Make everything added durable: commits the pending analysis results (recordings,
        stimuli and neuron metadata are durable already when their call returns)."""
        if self.writable and not self._closed:
            self._ads_results.save()

    def close(self) -> None:
        """Save and release the store's files and this writer's staging area."""
        if not self._closed:
            try:
                self.save()
            finally:
                self._files.clear()
                self._log.close()
                self._closed = True

    def __enter__(self) -> ArrowDataStore:
        return self

    def __exit__(self, *exc: object) -> None:
        # What was added before an exception stays: it is committed already.
        self.close()

    def __repr__(self) -> str:
        if "_log" not in self.__dict__:
            return f"<ArrowDataStore (not opened) {self.__dict__.get('root')}>"
        snap = self._log.snapshot(refresh=False)
        return (
            f"<ArrowDataStore {self.root} mode={self.mode!r} version={snap.version} "
            f"recordings={snap.num_rows('segments')}>"
        )


@functools.cache
def _row_frame_schema(table: str) -> pl.Schema:
    # Not at import: converting starts polars' thread pool, and a process forked after
    # that deadlocks in its first parallel polars call.
    return pl.from_arrow(schema.empty_table(ROW_SCHEMAS[table])).schema


def _deferred(snap: Snapshot, table: str) -> pl.LazyFrame:
    """A metadata table of ``snap`` as a plan, converted to polars only when collected."""
    if snap.converted(table):  # no deferral cost once converted
        return snap.frame(table).lazy()
    return pl.defer(lambda: snap.frame(table), schema=_row_frame_schema(table))


class Hdf5DataStore(DataStore):
    """mozaik's HDF5 datastore: not readable any more.

    neo removed the HDF5 IO this store was written with (neo 0.10, 2021). Raises
    ``NotImplementedError`` pointing to the importer.
    """

    def __init__(self, load: bool, parameters: Mapping[str, Any], **params: Any) -> None:
        raise NotImplementedError(
            "Hdf5DataStore cannot be opened: neo removed the NeoHdf5IO it was written with "
            "in 2021. Convert old stores with an older neo, or use `mozaik-arrow import-mozaik` "
            "for PickledDataStore directories."
        )


def open(  # noqa: A001 - the package's friendly opener, like zarr.open
    path: str | os.PathLike[str],
    mode: str = "r",
    replace: bool = False,
    storage_options: Mapping[str, Any] | None = None,
) -> ArrowDataStore:
    """Open (or create) a store.

    Parameters
    ----------
    path : str or PathLike
        The store directory, a ``file://`` URL, or an object-storage URL
        (``s3://bucket/prefix``).
    mode : {"r", "a", "w"}
        ``"r"`` read-only (every write raises ``PermissionError``; nothing on disk is
        created, changed or cleaned up), ``"a"`` open or create for appending, ``"w"``
        create (an existing store or a non-empty directory is refused).
    replace : bool
        Whether an analysis result equal to a stored one replaces it.
    storage_options : mapping, optional
        For object storage: passed to the fsspec filesystem of the URL's protocol (for
        ``s3://``, ``s3fs.S3FileSystem``: ``key``, ``secret``, ``endpoint_url``,
        ``client_kwargs``...), and translated for polars and duckdb.

    Returns
    -------
    ArrowDataStore
    """
    if mode not in ("r", "a", "w"):
        raise ValueError(f"mode must be 'r', 'a' or 'w' (got {mode!r})")
    fs = open_filesystem(path, storage_options)
    if mode == "r":
        read_format(fs)  # raises the precise NotAStoreError before anything else
    return ArrowDataStore(mode != "w", {"root_directory": os.fspath(path)}, replace, mode=mode,
                          _fs=fs, _format_checked=mode == "r")
