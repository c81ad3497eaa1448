"""What a write puts where: the files and row groups of a recording, and the rows written.

A recording of one sheet for one stimulus is stored under its partition directory
(``spikes/sheet=<URL-escaped name>/stimulus=<key>/<uuid>.parquet``, likewise ``signals/``),
cut into files of about equal size so that they encode in parallel (a signals file holds one
signal), each file into row groups of a fixed number of rows; its segments row lists those
files. This module plans that cut and builds the rows and tables a commit writes (segments
and stimuli rows, the small per-commit metadata tables, a sensory stimulus' table) from the
converted input (:class:`~mozaik_arrow.neo_convert.Recording`). It stages and commits
nothing: that is :mod:`~mozaik_arrow.store` (through :mod:`~mozaik_arrow.commit`), which
keeps the writing apart from deciding what is written.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import numpy as np
import pyarrow as pa

from . import schema
from .errors import ValidationError
from .flatten import append_param_columns, param_pairs, stimulus_params
from .neo_convert import Recording
from .snapshot import Snapshot

__all__ = ["segment_id", "check_sheet_name", "plan_recording", "stimulus_row", "sensory_table"]


def segment_id(sheet_name: str, stimulus_key: str, null: bool) -> str:
    """The id of the recording of ``sheet_name`` for a stimulus (``g`` + 16 hex digits)."""
    raw = f"{sheet_name}\x00{stimulus_key}\x00{int(bool(null))}".encode()
    return "g" + hashlib.sha256(raw).hexdigest()[:16]


_MAX_NAME_BYTES = 255  # one path component on every common filesystem (and S3 key part)


def check_sheet_name(sheet_name: str) -> None:
    """Refuse a sheet name that cannot become a partition directory (ValidationError)."""
    try:
        escaped = f"sheet={quote(sheet_name, safe='')}"
    except UnicodeEncodeError:
        raise ValidationError(f"sheet name {sheet_name!r} is not valid Unicode "
                              "(it holds a lone surrogate)") from None
    if len(escaped) > _MAX_NAME_BYTES:
        raise ValidationError(
            f"sheet name {sheet_name[:40]!r}... is too long: its directory name "
            f"'sheet=<URL-escaped name>' is {len(escaped)} bytes, at most {_MAX_NAME_BYTES}")


def _partition(sheet_name: str, stimulus_key: str) -> str:
    # URL-escaping keeps '/', '=', '%' and spaces of sheet names out of the path structure;
    # pyarrow, polars and duckdb all decode it back (arrow_engineering.md §2).
    return f"sheet={quote(sheet_name, safe='')}/stimulus={stimulus_key}"


def _balanced_cuts(weights: np.ndarray, per_file: int, align: int) -> list[tuple[int, int]]:
    """Split rows into ``(start, stop)`` ranges of about ``per_file`` total weight each.

    Cuts fall on multiples of ``align`` rows (row-group boundaries) and the ranges are about
    equal, so that parts encode in parallel in about the same time.
    """
    n = len(weights)
    total = int(weights.sum())
    k = max(1, min(-(-total // per_file), -(-n // align)))
    if k == 1:
        return [(0, n)]
    cum = np.cumsum(weights)
    cuts = [0]
    for j in range(1, k):
        row = int(np.searchsorted(cum, total * j / k))
        row = min(n, max(cuts[-1] + align, -(-row // align) * align))
        if row >= n:
            break
        cuts.append(row)
    cuts.append(n)
    return list(zip(cuts[:-1], cuts[1:], strict=True))


def _spike_parts(spikes: pa.Table) -> list[tuple[int, int]]:
    counts = spikes.column("n_spikes").to_numpy()
    return _balanced_cuts(counts + 1, schema.SPIKES_PER_FILE, schema.SPIKES_ROWS_PER_GROUP)


def _signal_parts(names: list[str], n_samples: np.ndarray) -> list[tuple[str, int, int, int]]:
    """``(name, start, stop, rows per group)`` of each signals file: one signal per file.

    ``names`` and ``n_samples`` describe the rows of a recording's signals table."""
    if not names:
        return []
    name_arr = np.asarray(names, dtype=object)
    # Rows are sorted by (name, neuron_id): each name is one contiguous block.
    edges = [0, *(np.flatnonzero(name_arr[1:] != name_arr[:-1]) + 1).tolist(), len(names)]
    out = []
    for start, stop in zip(edges[:-1], edges[1:], strict=True):
        per_group = max(1, schema.SIGNAL_VALUES_PER_GROUP // max(1, int(n_samples[start])))
        for a, b in _balanced_cuts(n_samples[start:stop], schema.SIGNAL_VALUES_PER_FILE, per_group):
            out.append((names[start], start + a, start + b, per_group))
    return out


# Signal samples are transposed into row groups this many values at a time: small enough to
# stay in cache for the encoder, big enough that Python's per-chunk overhead does not count.
_TRANSPOSE_VALUES = 1 << 19


def _signal_chunks(rec: Recording, sid: str, start: int, stop: int, per_group: int,
                   per_row: int) -> Iterator[pa.Table]:
    """Rows ``start .. stop`` of a recording's signals table (at most ``per_row`` samples
    each), made a few row groups at a time (in the thread that encodes them, so transposing
    overlaps with encoding)."""
    step = per_group * max(1, _TRANSPOSE_VALUES // (per_group * max(1, per_row)))
    for a in range(start, stop, step):
        yield rec.signals_table(sid, a, min(stop, a + step))


def _fixed_groups(n: int, per: int) -> list[int]:
    return [min(per, n - a) for a in range(0, n, per)] or [0]


def _segment_row(rec: Recording, sid: str, key: str, null: bool) -> dict[str, Any]:
    return {
        "segment_id": sid,
        "sheet_name": rec.sheet_name,
        "stimulus": key,
        "stimulus_string": None,
        "null": null,
        "version": None,
        "t_start": rec.t_start,
        "t_stop": rec.t_stop,
        "time_units": rec.time_units,
        "n_neurons": rec.n_neurons,
        "n_spikes": rec.n_spikes,
        "same_window": rec.same_window,
        "signal_names": list(rec.signal_names),
        "spikes_files": [],
        "spikes_first_ids": [],
        "signals_files": [],
        "signals_file_names": [],
        "signals_first_ids": [],
        "name": rec.name,
        "description": rec.description,
        "annotations": repr(rec.annotations) if rec.annotations else None,
    }


def plan_recording(
    recs: Sequence[Recording], key: str, null: bool
) -> tuple[list[dict[str, Any]], list[tuple[str, Any, str, list[int], dict[str, str]]]]:
    """The segments rows of a recording's sheets (``stimulus_string`` and ``version`` are
    left for the commit to fill in) and its files to stage: ``(table, Arrow table or
    iterator of them, path, row group sizes, file metadata)`` each."""
    rows: list[dict[str, Any]] = []
    jobs = []
    for rec in recs:
        sid = segment_id(rec.sheet_name, key, null)
        spikes = rec.spikes_table(sid)
        part = _partition(rec.sheet_name, key)
        meta = {"mozaik_arrow.segment_id": sid, "mozaik_arrow.stimulus": key}
        row = _segment_row(rec, sid, key, null)
        if spikes is not None:
            for a, b in _spike_parts(spikes):
                path = f"spikes/{part}/{os.urandom(8).hex()}.parquet"
                tbl = spikes.slice(a, b - a)
                row["spikes_files"].append(path)
                row["spikes_first_ids"].append(tbl.column("neuron_id")[0].as_py())
                groups = _fixed_groups(b - a, schema.SPIKES_ROWS_PER_GROUP)
                jobs.append(("spikes", tbl, path, groups, meta))
        names, ids, n_samples = rec.signal_rows
        for name, a, b, per_group in _signal_parts(names, n_samples):
            path = f"signals/{part}/{os.urandom(8).hex()}.parquet"
            row["signals_files"].append(path)
            row["signals_file_names"].append(name)
            row["signals_first_ids"].append(int(ids[a]))
            chunks = _signal_chunks(rec, sid, a, b, per_group, int(n_samples[a:b].max()))
            jobs.append(("signals", chunks, path, _fixed_groups(b - a, per_group), meta))
        rows.append(row)
    return rows, jobs


def stimulus_row(snap: Snapshot, key: str, string: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The stimuli row of a stimulus the store does not hold yet ([] if it does)."""
    if snap.lookup("stimuli", key) is not None:
        return []
    name = params.get("name")
    module = params.get("module_path")
    return [
        {
            "stimulus": key,
            "stimulus_string": string,
            "name": name if isinstance(name, str) else None,
            "module_path": module if isinstance(module, str) else None,
            "version": snap.version + 1,
            "_pairs": param_pairs(stimulus_params(string)),
        }
    ]


def _metadata_tables(**rows: list[dict[str, Any]]) -> dict[str, pa.Table]:
    """The small per-commit metadata files; stimuli also get a typed column per parameter."""
    out = {}
    for name, r in rows.items():
        if not r:
            continue
        table = pa.Table.from_pylist(r, schema=schema.strip_field_docs(schema.TABLES[name]))
        if name == "stimuli":
            params = [stimulus_params(row["stimulus_string"]) for row in r]
            table = append_param_columns(table, params)
        out[name] = table
    return out


def sensory_table(key: str, string: str, arr: np.ndarray) -> pa.Table:
    """The one-row table of a sensory stimulus array (its bytes, dtype and shape)."""
    arr = np.ascontiguousarray(arr)
    return pa.table(
        {
            "stimulus": [key],
            "stimulus_string": [string],
            "dtype": [arr.dtype.str],
            "shape": [list(arr.shape)],
            "data": [arr.tobytes()],
        }
    )
