"""The write calls of :class:`~mozaik_arrow.store.ArrowDataStore`: validate, stage, commit.

Each call checks its input at the edge, converts it to Arrow tables once
(:mod:`~mozaik_arrow.neo_convert`, :mod:`~mozaik_arrow.neurons`,
:mod:`~mozaik_arrow.run_parameters`), cuts it into files (:mod:`~mozaik_arrow.write_plan`),
stages them and publishes them in one commit (:mod:`~mozaik_arrow.commit`), checking again
against the snapshot the commit lands on. Recordings, sensory stimuli, neuron metadata and run
parameters are durable when their call returns; analysis results join a pending batch that
:meth:`~mozaik_arrow.store.ArrowDataStore.save` commits.

:class:`_StoreWrites` is a mixin of ``ArrowDataStore``, which opens the store and holds the
state these methods use (the log, the file cache, the analysis results) and the reads they
consult (``_snapshot``, ``_run``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import neo
import numpy as np

from . import schema
from .analysis_store import AnalysisResults
from .commit import Changes, Log
from .errors import DuplicateError, ReadOnlyError, ValidationError
from .neo_convert import Recording, recording_from_segment
from .neurons import neurons_table, read_neurons
from .parametrized import canonical_stimulus
from .reader import FileCache
from .run_parameters import (
    RunParameters,
    experiment_entries,
    parameter_text,
    run_table,
    sheet_texts,
)
from .snapshot import Snapshot
from .write_plan import (
    _metadata_tables,
    check_sheet_name,
    plan_recording,
    sensory_table,
    stimulus_row,
)


class _StoreWrites:
    """The write methods of :class:`~mozaik_arrow.store.ArrowDataStore` (a mixin)."""

    # Set by ArrowDataStore.__init__.
    root: str
    writable: bool
    _closed: bool
    _log: Log
    _files: FileCache
    _ads_results: AnalysisResults

    # -- analysis results -----------------------------------------------------------------
    def add_analysis_result(self, result: Any) -> None:
        """Add an analysis result; durable after :meth:`save` (or leaving the ``with`` block).

        Raises ``ValueError`` (nothing changes) when an ADS with the same identifier and
        parameters is stored or pending, unless the store was opened with ``replace=True``:
        then the new one replaces the old, in its place.
        """
        self._require_writable()
        self._ads_results.add(result)

    def _require_writable(self) -> None:
        if not self.writable:
            raise ReadOnlyError(f"store {self.root} is open read-only (mode 'r')")
        if self._closed:
            raise ReadOnlyError(f"store {self.root} is closed")

    def _stored_string(self, snap: Snapshot, key: str, string: str) -> str:
        row = snap.lookup("stimuli", key)
        return row["stimulus_string"] if row is not None else string

    # -- recordings -----------------------------------------------------------------------
    def add_recording(self, segments: neo.Segment | Sequence[neo.Segment], stimulus: Any) -> None:
        """Store the recordings of one stimulus presentation (one segment per sheet).

        ``segments`` is a ``neo.Segment`` or a list of them, one per sheet, as PyNN's
        ``get_data()`` gives them; a :class:`~mozaik_arrow.neo_convert.Recording` built by
        ``Recording.from_arrays`` may stand in for a segment (no neo objects needed).

        Durable when it returns. Raises ``ValueError`` (and writes nothing) when a segment
        is malformed or a sheet already has a recording of this stimulus.
        """
        self._add_recording(segments, stimulus, null=False)

    def add_null_recording(self, segments: neo.Segment | Sequence[neo.Segment], stimulus: Any) -> None:
        """Store null (blank) recordings made around ``stimulus``: ``get_segments(null=True)``."""
        self._add_recording(segments, stimulus, null=True)

    def _add_recording(self, segments: Any, stimulus: Any, null: bool) -> None:
        self._require_writable()
        segs = [segments] if isinstance(segments, (neo.Segment, Recording)) else segments
        if not isinstance(segs, (list, tuple)) or not segs:
            raise ValidationError("segments must be a neo.Segment or a non-empty list of them")
        string, key, params = canonical_stimulus(stimulus)
        recs: list[Recording] = [
            dataclasses.replace(s, null=null) if isinstance(s, Recording)
            else recording_from_segment(s, null=null)
            for s in segs
        ]
        sheets = [r.sheet_name for r in recs]
        for sheet in sheets:
            check_sheet_name(sheet)
        if len(set(sheets)) != len(sheets):
            raise ValidationError(f"two segments of one recording share a sheet: {sheets}")
        self._check_new_recordings(self._snapshot(), sheets, key, null)

        txn = self._log.transaction("add_null_recording" if null else "add_recording")
        rows, jobs = plan_recording(recs, key, null)
        try:
            # pyarrow encodes, and numpy transposes signals, without the GIL: the files of
            # a recording are made in parallel.
            workers = max(1, min(len(jobs), os.cpu_count() or 1))
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for f in [
                    pool.submit(txn.stage, t, tbl, path, group_sizes=g, metadata=m)
                    for t, tbl, path, g, m in jobs
                ]:
                    f.result()
        except BaseException:
            txn.abort()
            raise

        def build(snap: Snapshot) -> Changes:
            self._check_new_recordings(snap, sheets, key, null)
            stored = self._stored_string(snap, key, string)
            for row in rows:
                row["stimulus_string"] = stored
                row["version"] = snap.version + 1
            stim_rows = stimulus_row(snap, key, stored, params)
            return Changes(
                rows={"segments": rows, "stimuli": stim_rows},
                metadata_tables=_metadata_tables(segments=rows, stimuli=stim_rows),
            )

        txn.commit(build)

    def _check_new_recordings(self, snap: Snapshot, sheets: list[str], key: str, null: bool) -> None:
        for sheet in sheets:
            if snap.lookup("segments", (sheet, key, null)) is not None:
                kind = "a null recording" if null else "a recording"
                raise DuplicateError(
                    f"sheet {sheet!r} already has {kind} of stimulus {key} "
                    f"({snap.lookup('stimuli', key)['stimulus_string'][:120]}); a repeated "
                    "presentation is a new stimulus (another trial)"
                )

    # -- sensory stimuli --------------------------------------------------------------------
    def add_stimulus(self, data: Any, stimulus: Any) -> None:
        """Store the raw sensory stimulus array of a stimulus (durable when it returns)."""
        self._require_writable()
        string, key, params = canonical_stimulus(stimulus)
        arr = np.asarray(data)
        if arr.dtype.hasobject or arr.dtype.fields is not None:
            raise ValidationError(f"sensory stimulus must be a numeric array, not {arr.dtype}")
        if self._snapshot().lookup("sensory", key) is not None:
            raise DuplicateError(f"stimulus {key} already has a sensory stimulus")
        table = sensory_table(key, string, arr)
        txn = self._log.transaction("add_stimulus")
        path = f"sensory/stimulus={key}/{os.urandom(8).hex()}.parquet"
        try:
            txn.stage("sensory", table, path)
        except BaseException:
            txn.abort()
            raise

        def build(snap: Snapshot) -> Changes:
            if snap.lookup("sensory", key) is not None:
                raise DuplicateError(f"stimulus {key} already has a sensory stimulus")
            stored = self._stored_string(snap, key, string)
            stim_rows = stimulus_row(snap, key, stored, params)
            idx = {"stimulus": key, "stimulus_string": stored, "path": path, "version": snap.version + 1}
            return Changes(
                rows={"sensory": [idx], "stimuli": stim_rows},
                metadata_tables=_metadata_tables(stimuli=stim_rows),
            )

        txn.commit(build)

    # -- neurons -----------------------------------------------------------------------------
    def _set_neurons(self, kind: str, values: Mapping[str, Any]) -> None:
        self._require_writable()
        if not isinstance(values, Mapping):
            raise ValidationError(f"neuron {kind} must be a mapping sheet name → values")
        txn = self._log.transaction(f"set_neuron_{kind}")

        def build(snap: Snapshot) -> Changes:
            current = read_neurons(self._files, snap.neurons_file) if snap.neurons_file else {}
            table = neurons_table(current, kind, values)
            path = f"neurons/{os.urandom(8).hex()}.parquet"
            txn.stage("neurons", table, path)
            return Changes(neurons_file=path)

        txn.commit(build)

    def set_neuron_ids(self, neuron_ids: Mapping[str, Any]) -> None:
        """Store the PyNN ids of each sheet's neurons (sheet → 1-D integer array)."""
        self._set_neurons("ids", neuron_ids)

    def set_neuron_positions(self, neuron_positions: Mapping[str, Any]) -> None:
        """Store neuron positions (sheet → array of 2 or 3 rows x, y[, z] by neurons)."""
        self._set_neurons("positions", neuron_positions)

    def set_neuron_annotations(self, neuron_annotations: Mapping[str, Any]) -> None:
        """Store per-neuron annotations (sheet → list of dicts, one per neuron)."""
        self._set_neurons("annotations", neuron_annotations)

    # -- run parameters ------------------------------------------------------------------------
    def _set_run(self, operation: str, update: Callable[[RunParameters], None]) -> None:
        self._require_writable()
        txn = self._log.transaction(operation)

        def build(snap: Snapshot) -> Changes:
            run = self._run(snap)
            update(run)
            table = run_table(run)
            txn.stage("run", table, f"run/{os.urandom(8).hex()}.parquet",
                      arrow_schema=table.schema.with_metadata(schema.RUN.metadata))
            return Changes(removed=list(snap.files_under("run")))

        txn.commit(build)

    def set_model_parameters(self, parameters: Any) -> None:
        """Store the model's parameters (a mapping, a ParameterSet, or its literal string)."""
        text = parameter_text(parameters, "model parameters")
        self._set_run("set_model_parameters", lambda run: setattr(run, "model", text))

    def set_sheet_parameters(self, parameters: Any) -> None:
        """Store each sheet's parameters: sheet name → parameters (or the literal string of
        such a dict); sheets not named keep theirs."""
        texts = sheet_texts(parameters)
        self._set_run("set_sheet_parameters", lambda run: run.sheets.update(texts))

    def set_experiment_parametrization_list(self, experiments: Sequence[Any]) -> None:
        """Store the list of experiments run (each a parameter string or mapping, or a pair
        ``(experiment class name, parameters)`` as mozaik writes it); replaces the list."""
        entries = experiment_entries(experiments)
        self._set_run("set_experiment_parametrization_list",
                      lambda run: setattr(run, "experiments", entries))
