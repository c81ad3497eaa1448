"""Import a mozaik ``PickledDataStore`` directory into a mozaik_arrow store.

The directory, as mozaik's ``PickledDataStore`` writes it:

- ``datastore.recordings.pickle``: a neo Block whose segments are data-less shells
  (``PickledDataStoreNeoWrapper``: ``identifier`` names the data file, ``null`` marks blank
  recordings, annotations ``stimulus`` and ``sheet_name``); block annotations
  ``neuron_ids``, ``neuron_positions`` (and ``neuron_annotations``, run-level parameters);
- ``<identifier>.pickle`` (``Segment<N>.pickle``): one neo Segment each, with the data;
- ``datastore.analysis.pickle``: a list of analysis data structures;
- ``datastore.sensory.stimulus.pickle``: an OrderedDict stimulus string → array.

Every pickle is checked without executing it (:func:`.unpickler.scan_pickle`) before anything
is written, then read with the restricted unpickler. Recordings are imported one segment at a
time (one segment's data in memory at once; each is durable when its ``add_recording``
returns), so an interrupted import is resumed by running it again: recordings are identified
by (sheet, stimulus, null), sensory stimuli by stimulus and analysis results by their
parameters, and what the store already holds is skipped. The wrappers' ``datastore_path`` (the
directory the store was written in, often on another machine) is ignored.
"""

from __future__ import annotations

import json
import os
import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import neo
import numpy as np

from ..errors import DuplicateError, ValidationError
from ..parametrized import canonical_stimulus
from ..store import ArrowDataStore
from ..store import open as open_store
from . import standins
from .report import ImportItem, ImportProgress, ImportReport, ProgressCallback
from .unpickler import UnsafePickleError, load_pickle, scan_pickle

__all__ = ["import_mozaik", "RECORDINGS_FILE", "ANALYSIS_FILE", "SENSORY_FILE"]

RECORDINGS_FILE = "datastore.recordings.pickle"
ANALYSIS_FILE = "datastore.analysis.pickle"
SENSORY_FILE = "datastore.sensory.stimulus.pickle"
_IDENTIFIER = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")  # a file name in src, never a path
# What makes one item fail (reported) rather than stop the import; UnsafePickleError stops it.
_UNREADABLE = (ValidationError, ValueError, TypeError, OSError, pickle.UnpicklingError)
# Block annotations mozaik writes, and the store methods that would keep the run-level ones.
_NEURON_KEYS = ("neuron_ids", "neuron_positions", "neuron_annotations")
_RUN_METADATA = {"model_parameters": "set_model_parameters",
                 "sheet_parameters": "set_sheet_parameters",
                 "experiment_parameters": "set_experiment_parametrization_list"}


class _Run:
    """The state of one import: source, store, report and progress reporting."""

    def __init__(self, src: Path, store: ArrowDataStore, report: ImportReport,
                 progress: ProgressCallback | None) -> None:
        self.src, self.store, self.report, self._progress = src, store, report, progress

    def tick(self, phase: str, done: int, total: int, item: str = "") -> None:
        if self._progress is not None:
            self._progress(ImportProgress(phase, done, total, item))

    def add(self, outcome: str, kind: str, name: str, reason: str = "") -> None:
        getattr(self.report, outcome).append(ImportItem(kind, name, reason))


def _plan(src: Path, progress: ProgressCallback | None) -> tuple[list[Any], Mapping[str, Any]]:
    """Check every pickle of ``src`` and read the block of shells; write nothing."""
    block = load_pickle(src / RECORDINGS_FILE)
    if not isinstance(block, neo.Block):
        raise ValidationError(f"{src / RECORDINGS_FILE} holds a {type(block).__name__}, "
                              "not a neo Block of segments")
    entries = list(block.segments)
    paths = [src / name for name in (ANALYSIS_FILE, SENSORY_FILE)]
    for entry in entries:
        if isinstance(entry, standins.SegmentShell) and isinstance(entry.identifier, str) \
                and _IDENTIFIER.match(entry.identifier):
            paths.append(src / f"{entry.identifier}.pickle")
    paths = [p for p in paths if p.is_file()]
    for i, path in enumerate(paths):
        if progress is not None:
            progress(ImportProgress("check", i, len(paths), path.name))
        try:
            scan_pickle(path)
        except UnsafePickleError:
            raise
        except pickle.UnpicklingError:
            pass  # malformed, not hostile: reported as failed when its turn comes
    if progress is not None:
        progress(ImportProgress("check", len(paths), len(paths), ""))
    annotations = block.annotations if isinstance(block.annotations, Mapping) else {}
    return entries, annotations


def import_mozaik(src: str | os.PathLike[str], dest: str | os.PathLike[str], *,
                  progress: ProgressCallback | None = None) -> ImportReport:
    """Import a mozaik ``PickledDataStore`` directory into a mozaik_arrow store.

    Parameters
    ----------
    src : str or PathLike
        The mozaik directory (holding ``datastore.recordings.pickle``). Read only.
    dest : str or PathLike
        The store: created if missing or empty, appended to (resumed) if it is a store.
    progress : callable, optional
        Called with an :class:`~.report.ImportProgress` after each item of each phase.

    Returns
    -------
    ImportReport
        What was imported, skipped (already in the store) and could not be imported.

    Raises
    ------
    UnsafePickleError
        A pickle names a global the importer does not admit (named in the message); found
        before anything is written, and nothing of the pickle is executed.
    FileNotFoundError
        ``src`` is not a mozaik store directory.
    pickle.UnpicklingError, ValidationError
        ``datastore.recordings.pickle`` cannot be read as a mozaik block of segments.

    Examples
    --------
    >>> report = import_mozaik("old_run", "old_run.arrow")        # doctest: +SKIP
    >>> print(report.summary())                                   # doctest: +SKIP
    """
    src = Path(src)
    if not (src / RECORDINGS_FILE).is_file():
        raise FileNotFoundError(f"{src} is not a mozaik PickledDataStore directory "
                                f"(no {RECORDINGS_FILE})")
    entries, annotations = _plan(src, progress)
    report = ImportReport(str(src), os.fspath(dest))
    with open_store(dest, "a") as store:
        run = _Run(src, store, report, progress)
        _import_neurons(run, annotations)
        _import_recordings(run, entries)
        del entries
        _import_sensory(run)
        _import_analysis(run)
    return report


# -- neurons and run-level metadata ---------------------------------------------------------------
def _json(value: Any) -> str:
    def default(x: Any) -> Any:
        if isinstance(x, np.generic):
            return x.item()
        if isinstance(x, np.ndarray):
            return x.tolist()
        return repr(x)
    return json.dumps(value, default=default, sort_keys=True, allow_nan=True)


def _stored_neurons(store: ArrowDataStore, kind: str, sheets: list[Any]) -> dict[str, Any]:
    if kind == "neuron_positions":
        return store.get_neuron_positions()
    if kind == "neuron_annotations":
        return store.get_neuron_annotations()
    out = {}
    for sheet in sheets:
        try:
            out[sheet] = store.get_sheet_ids(sheet)
        except (KeyError, TypeError):
            pass
    return out


def _same(kind: str, old: Any, new: Any) -> bool:
    if old is None:
        return False
    if kind == "neuron_annotations":
        return _json(list(old)) == _json(list(new))
    try:
        a, b = np.asarray(old), np.asarray(new)
        return a.shape == b.shape and bool(np.array_equal(a, b))
    except (TypeError, ValueError):
        return False


def _import_neurons(run: _Run, annotations: Mapping[str, Any]) -> None:
    setters = {"neuron_ids": run.store.set_neuron_ids,
               "neuron_positions": run.store.set_neuron_positions,
               "neuron_annotations": run.store.set_neuron_annotations}
    present = [k for k in _NEURON_KEYS if annotations.get(k) is not None]
    run.tick("neurons", 0, len(present))
    for i, kind in enumerate(present):
        value = annotations[kind]
        name = f"block annotation {kind}"
        if not isinstance(value, Mapping):
            run.add("failed", kind, name, f"not a mapping sheet -> values "
                                          f"({type(value).__name__})")
        else:
            stored = _stored_neurons(run.store, kind, list(value))
            changed = {s: v for s, v in value.items() if not _same(kind, stored.get(s), v)}
            if not changed:
                run.add("skipped", kind, name, "already in the store")
            else:
                try:
                    setters[kind](changed)
                    run.add("imported", kind, name, f"sheets {sorted(map(str, changed))}")
                except (ValidationError, ValueError, TypeError) as exc:
                    run.add("failed", kind, name, str(exc))
        run.tick("neurons", i + 1, len(present), kind)
    for key, value in annotations.items():
        if key in _NEURON_KEYS or value is None:
            continue
        method = getattr(run.store, _RUN_METADATA.get(key, ""), None)
        name = f"block annotation {key}"
        if method is None:
            why = (f"the store has no {_RUN_METADATA[key]}() yet" if key in _RUN_METADATA
                   else "not a block annotation mozaik_arrow keeps")
            run.add("skipped", "metadata", name, why)
            continue
        value = dict(value) if isinstance(value, Mapping) else value
        if _metadata_unchanged(run.store, key, value):
            run.add("skipped", "metadata", name, "already in the store")
            continue
        try:
            method(value)
            run.add("imported", "metadata", name)
        except (ValidationError, ValueError, TypeError) as exc:
            run.add("failed", "metadata", name, str(exc))


def _metadata_unchanged(store: ArrowDataStore, key: str, value: Any) -> bool:
    """Whether the store already holds this run-level annotation (best effort: False when
    it cannot tell), so that a resumed import does not commit it again."""
    getter = getattr(store, _RUN_METADATA[key].replace("set_", "get_", 1), None)
    if getter is None:
        return False
    try:
        if key == "sheet_parameters" and isinstance(value, Mapping):
            stored: Any = {sheet: getter(sheet) for sheet in value}
        else:
            stored = getter()
        return bool(stored == value) or _json(stored) == _json(value)
    except Exception:  # a getter of another signature, a missing sheet, ...
        return False


# -- recordings ------------------------------------------------------------------------------------
def _stored_recordings(store: ArrowDataStore) -> set[tuple[str, str, bool]]:
    df = store.segments_frame().select("sheet_name", "stimulus", "null").collect()
    return set(df.iter_rows())


def _load_segment(run: _Run, entry: Any) -> neo.Segment:
    """The neo Segment of a block entry (``ValidationError`` if unusable)."""
    if isinstance(entry, neo.Segment):  # a store that kept whole segments in the block
        return entry
    ident = entry.identifier
    if not isinstance(ident, str) or not _IDENTIFIER.match(ident):
        raise ValidationError(f"segment identifier {ident!r:.80} is not a file name")
    path = run.src / f"{ident}.pickle"
    if not path.is_file():
        raise ValidationError(f"{path.name} is missing")
    seg = load_pickle(path, check=False)  # checked by _plan
    if not isinstance(seg, neo.Segment):
        raise ValidationError(f"{path.name} holds a {type(seg).__name__}, not a neo Segment")
    for name in ("spiketrains", "analogsignals"):
        # neo < 0.10 pickled these as plain attributes, which today's properties would hide
        if name in seg.__dict__:
            setattr(seg, name, seg.__dict__.pop(name))
    return seg


def _release(seg: neo.Segment) -> None:
    """Break the segment <-> data-object cycles, so that reference counting frees this
    segment's data now (a full garbage collection per segment would cost more)."""
    for key, items in list(vars(seg).items()):
        if not key.startswith("_") or isinstance(items, (str, bytes, Mapping)) or \
                not hasattr(items, "__iter__"):
            continue
        for obj in list(getattr(items, "_items", items)):
            if getattr(obj, "segment", None) is seg:
                obj.segment = None
        for attr in ("segment", "parent"):
            if getattr(items, attr, None) is seg:
                setattr(items, attr, None)


def _entry_info(entry: Any, index: int) -> tuple[str, bool, dict[str, Any]]:
    if isinstance(entry, standins.SegmentShell):
        ident = entry.identifier
        name = f"{ident}.pickle" if isinstance(ident, str) else f"segment {index}"
        return name, entry.null, entry.annotations
    if isinstance(entry, neo.Segment):
        ann = dict(entry.annotations)
        return f"segment {index} of {RECORDINGS_FILE}", bool(getattr(entry, "null", False)), ann
    raise ValidationError(f"block segment {index} is a {type(entry).__name__}, not a mozaik "
                          "segment wrapper")


def _import_recordings(run: _Run, entries: list[Any]) -> None:
    stored = _stored_recordings(run.store)
    total = len(entries)
    run.tick("recordings", 0, total)
    for i, entry in enumerate(entries):
        name, kind = f"segment {i}", "recording"
        try:
            name, null, ann = _entry_info(entry, i)
            kind = "null_recording" if null else "recording"
            stimulus = standins.stimulus_string(ann.get("stimulus"))
            key = canonical_stimulus(stimulus)[1]
            sheet = ann.get("sheet_name")
            if isinstance(sheet, str) and (sheet, key, null) in stored:
                run.add("skipped", kind, name, f"already in the store ({sheet})")
                continue
            seg = _load_segment(run, entry)
            seg_sheet = seg.annotations.get("sheet_name")
            if sheet is None:
                sheet = seg_sheet
            elif seg_sheet is not None and seg_sheet != sheet:
                raise ValidationError(f"the wrapper says sheet {sheet!r}, the segment "
                                      f"{seg_sheet!r}")
            elif seg_sheet is None:
                seg.annotations["sheet_name"] = sheet
            seg.annotations["stimulus"] = stimulus  # the string, also where mozaik kept an object
            if isinstance(sheet, str) and (sheet, key, null) in stored:
                run.add("skipped", kind, name, f"already in the store ({sheet})")
                continue
            try:
                add = run.store.add_null_recording if null else run.store.add_recording
                add(seg, stimulus)
            except DuplicateError as exc:
                run.add("skipped", kind, name, f"already in the store: {exc}")
                continue
            finally:
                _release(seg)
                del seg
            sheet = str(sheet) if sheet is not None else "?"
            stored.add((sheet, key, null))
            run.add("imported", kind, name, sheet)
        except UnsafePickleError:
            raise
        except _UNREADABLE as exc:
            run.add("failed", kind, name, str(exc))
        finally:
            run.tick("recordings", i + 1, total, name)


# -- sensory stimuli and analysis results ------------------------------------------------------------
def _import_sensory(run: _Run) -> None:
    path = run.src / SENSORY_FILE
    if not path.is_file():
        run.tick("sensory", 0, 0)
        return
    try:
        data = load_pickle(path, check=False)
    except UnsafePickleError:
        raise
    except _UNREADABLE as exc:
        run.add("failed", "sensory", SENSORY_FILE, str(exc))
        return
    if not isinstance(data, Mapping):
        run.add("failed", "sensory", SENSORY_FILE, f"holds a {type(data).__name__}, not a "
                                                   "mapping stimulus -> array")
        return
    total = len(data)
    run.tick("sensory", 0, total)
    for i, (stim, array) in enumerate(list(data.items())):
        name = stim if isinstance(stim, str) else f"sensory stimulus {i}"
        try:
            run.store.add_stimulus(array, standins.stimulus_string(stim))
            run.add("imported", "sensory", name)
        except DuplicateError:
            run.add("skipped", "sensory", name, "already in the store")
        except (ValidationError, ValueError, TypeError) as exc:
            run.add("failed", "sensory", name, str(exc))
        run.tick("sensory", i + 1, total, name)


def _import_analysis(run: _Run) -> None:
    path = run.src / ANALYSIS_FILE
    if not path.is_file():
        run.tick("analysis", 0, 0)
        return
    try:
        results = load_pickle(path, check=False)
    except UnsafePickleError:
        raise
    except _UNREADABLE as exc:
        run.add("failed", "analysis", ANALYSIS_FILE, str(exc))
        return
    if not isinstance(results, (list, tuple)):
        run.add("failed", "analysis", ANALYSIS_FILE, f"holds a {type(results).__name__}, "
                                                     "not a list of analysis results")
        return
    total = len(results)
    run.tick("analysis", 0, total)
    for i, shell in enumerate(results):
        name = f"analysis result {i}"
        try:
            if not isinstance(shell, standins.ADSShell):
                raise ValidationError(f"a {type(shell).__name__}, not a mozaik analysis data "
                                      "structure")
            name = f"{shell.mozaik_name} {i}"
            result, notes = standins.to_ads(shell)
            name = str(result)
            run.report.notes.extend(notes)
            run.store.add_analysis_result(result)
            run.add("imported", "analysis", name)
        except DuplicateError:
            run.add("skipped", "analysis", name, "an analysis result with the same "
                                                 "parameters is already in the store")
        except (ValidationError, ValueError, TypeError) as exc:
            run.add("failed", "analysis", name, str(exc))
        run.tick("analysis", i + 1, total, name)
    run.store.save()
