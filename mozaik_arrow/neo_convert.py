"""Conversion between neo objects and the store's Arrow tables, in both directions.

This module and those it builds on (:mod:`.spike_columns`, :mod:`.signal_columns`,
:mod:`.recording`, :mod:`.spike_read`, :mod:`.signal_read`, :mod:`.neo_views`) are the only
ones that know both neo and the on-disk columns (:mod:`.schema`).

Write direction (columns in :mod:`.spike_columns` / :mod:`.signal_columns`,
:class:`Recording` in :mod:`.recording`, re-exported here)
    :func:`recording_from_segment` validates one ``neo.Segment`` (one sheet) and builds its
    columns once, vectorised; :meth:`Recording.tables` then only adds the ``segment_id``
    column and returns the ``spikes`` and ``signals`` tables (schemas ``SPIKES`` and
    ``SIGNALS``, field docs stripped). Signal samples stay in the segment's (T x N) arrays
    until :meth:`Recording.signals_table` copies the rows asked for, so that a writer can
    transpose a file a few rows at a time. Nothing is rescaled: spike times, ``t_start``,
    ``t_stop`` and samples are kept bit for bit in the units they came in (float32 is widened
    to float64, which is exact).

Read direction (in :mod:`.spike_read` / :mod:`.signal_read`, over :mod:`.neo_views`,
re-exported here)
    :func:`spiketrains_from_arrow` builds ``neo.SpikeTrain`` objects as numpy views over the
    Arrow values buffer (no per-spike Python, no copy) that equal constructor-built ones
    attribute by attribute; :func:`analogsignal_from_arrow` builds the 2-D (T x N)
    ``neo.AnalogSignal`` PyNN produces, as a zero-copy (Fortran-ordered) view.
    :func:`spiketrains_from_table` / :func:`analogsignals_from_table` do the same from an
    Arrow table of the store (any chunking), :func:`analogsignal_column` is mozaik's
    single-neuron indexing of a 2-D signal, :func:`list_parts` the (values, offsets) of a
    list column.

Read-only results
    Objects built over Arrow buffers are read-only numpy views. Everything that returns a new
    object works (slicing, ``time_slice``, ``rescale``, ``np.diff``, arithmetic, ``merge``,
    ``time_shift``, ``copy``, pickling, iteration); what writes *in place* raises
    ``ValueError: assignment destination is read-only`` instead (``st.sort()``,
    ``st += 1*ms``, ``st.units = "s"``, ``st[0] = ...``). Call ``.copy()`` first for those
    (not ``copy.deepcopy``: neo 0.14.6's deepcopy of a SpikeTrain shares the data of the
    original, so it is read-only too).
    The ``t_start`` / ``t_stop`` Quantity scalars of returned spike trains (and ``t_start`` /
    ``sampling_rate`` of returned signals) are cached, shared between objects with equal
    values, and read-only for the same reason: an in-place change of one must not silently
    move every other (``st.t_start += x`` raises; rebinding, ``st.t_start = x``, is fine).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import neo
import numpy as np

from .errors import ValidationError

# The read direction lives in .spike_read / .signal_read (over .neo_views); re-exported so
# that this stays the one import.
from .neo_views import list_parts  # noqa: F401 - re-export
from .recording import SIGNALS_SCHEMA, SPIKES_SCHEMA, Recording
from .signal_columns import _signals_from_list
from .signal_read import (  # noqa: F401 - re-exports
    analogsignal_column,
    analogsignal_from_arrow,
    analogsignals_from_table,
)
from .spike_columns import _multiplexed_parts, _spikes_from_multiplexed, _spikes_from_trains
from .spike_read import spiketrains_from_arrow, spiketrains_from_table  # noqa: F401 - re-exports

__all__ = [
    "Recording",
    "SPIKES_SCHEMA",
    "SIGNALS_SCHEMA",
    "recording_from_segment",
    "spiketrains_from_arrow",
    "spiketrains_from_table",
    "analogsignal_from_arrow",
    "analogsignals_from_table",
    "analogsignal_column",
    "list_parts",
]


# ---------------------------------------------------------------------------------------------
# Write direction
# ---------------------------------------------------------------------------------------------


def recording_from_segment(segment: neo.Segment, *, null: bool = False) -> Recording:
    """Validate one sheet's ``neo.Segment`` and build its columns.

    Parameters
    ----------
    segment : neo.Segment
        One sheet's recording, as PyNN's ``Population.get_data().segments[0]`` or mozaik's
        segments give it: ``spiketrains`` (a list or a ``SpikeTrainList``, also the
        multiplexed form PyNN 0.13 builds from NEST, which is read without materialising it)
        and ``analogsignals``.
    null : bool
        Value of the ``null`` column (a null/blank recording).

    Neuron ids come from ``channel_id`` (PyNN 0.13) or ``source_id`` (older PyNN, mozaik)
    annotations of the spike trains, and from ``channel_ids`` / ``source_ids`` (annotations
    or array_annotations) of the signals. The sheet is the segment's ``sheet_name``
    annotation, else the ``source_population`` of its trains and signals (all must agree).
    A signal's sampling period is kept as ``1/sampling_rate`` in the units of its ``t_start``;
    only when neo reports it in other units (``sampling_rate`` given in kHz with ``t_start`` in
    ms: period in ``1/kHz``) is it rescaled into the units of ``t_start``.

    Raises
    ------
    ValidationError
        Naming the problem: not a Segment, nothing recorded, no sheet, a train without id,
        duplicate ids, NaN / unsorted / out-of-range spike times, mixed time units among
        trains, unnamed signal, channel count != number of ids, signals of one name in
        different units, duplicate (signal, neuron), unsupported contents.
    """
    if not isinstance(segment, neo.Segment):
        raise ValidationError(f"expected a neo.Segment, got {type(segment).__name__}")
    for attr in ("irregularlysampledsignals", "events", "epochs", "imagesequences"):
        if len(getattr(segment, attr, None) or ()):
            raise ValidationError(
                f"segment holds {attr}, which the store does not keep (they would be lost); "
                "remove them before adding the recording"
            )
    trains = segment.spiketrains if segment.spiketrains is not None else []
    signals = [_load_proxy(s) for s in (segment.analogsignals or [])]
    multiplexed = _multiplexed_parts(trains)
    if multiplexed is None:
        trains = [st if type(st) is neo.SpikeTrain else _load_proxy(st) for st in trains]
        n_trains = len(trains)
    else:
        n_trains = len(multiplexed["all_ids"])
    if n_trains == 0 and not signals:
        raise ValidationError("nothing recorded: the segment has no spike trains and no signals")

    sheet = _sheet_of(segment, trains, signals, multiplexed)
    where = f"(sheet {sheet!r})"
    if multiplexed is not None:
        spikes = _spikes_from_multiplexed(multiplexed, where) if n_trains else None
    else:
        spikes = _spikes_from_trains(trains, where) if n_trains else None
    sigcols = _signals_from_list(signals, where) if signals else None

    if spikes is not None:
        time_units: str | None = spikes.units
        t_start: float | None = float(spikes.t_start.min())
        t_stop: float | None = float(spikes.t_stop.max())
        n_spikes = int(spikes.offsets[-1] - spikes.offsets[0])
    else:
        n_spikes = 0
        tus = set(sigcols.time_units)
        if len(tus) == 1:
            time_units = tus.pop()
            ends = sigcols.t_start + np.diff(sigcols.offsets) * sigcols.sampling_period
            t_start, t_stop = float(sigcols.t_start.min()), float(ends.max())
        else:
            time_units = t_start = t_stop = None
    annotations, dropped = _literal_annotations(segment.annotations)
    return Recording(
        sheet_name=sheet,
        time_units=time_units,
        t_start=t_start,
        t_stop=t_stop,
        n_neurons=n_trains,
        n_spikes=n_spikes,
        signal_names=tuple(sorted(set(sigcols.name))) if sigcols is not None else (),
        name=_opt_str(segment.name),
        description=_opt_str(segment.description),
        annotations=annotations,
        null=bool(null),
        dropped_annotations=dropped,
        _spikes=spikes,
        _signals=sigcols,
    )


def _opt_str(x: Any) -> str | None:
    return None if x is None else str(x)


def _load_proxy(obj: Any) -> Any:
    """neo's lazy proxies (``SpikeTrainProxy``, ``AnalogSignalProxy``) load themselves."""
    if getattr(obj, "proxy_for", None) is not None and hasattr(obj, "load"):
        return obj.load()
    return obj


def _sheet_of(segment: neo.Segment, trains: Any, signals: list, multiplexed: Any) -> str:
    sheet = segment.annotations.get("sheet_name")
    if sheet is None:
        pops: set[Any] = set()
        sources = [sig.annotations for sig in signals if hasattr(sig, "annotations")]
        if multiplexed is not None:
            sources.append(multiplexed["annotations"])
        else:
            sources.extend(st.annotations for st in trains if hasattr(st, "annotations"))
        for ann in sources:
            pop = ann.get("source_population")
            if pop is not None:
                try:
                    pops.add(pop)
                except TypeError:
                    raise ValidationError(
                        f"source_population annotation {pop!r} is not a sheet name"
                    ) from None
        if not pops:
            raise ValidationError(
                "segment has no sheet: no 'sheet_name' annotation on the segment and no "
                "'source_population' annotation on its spike trains or signals"
            )
        if len(pops) > 1:
            raise ValidationError(
                "segment has no 'sheet_name' annotation and its spike trains and signals come "
                f"from several populations: {sorted(map(str, pops))}"
            )
        sheet = pops.pop()
    if not isinstance(sheet, str) or not sheet:
        raise ValidationError(f"sheet name must be a non-empty string, got {sheet!r}")
    return sheet


class _NotLiteral(Exception):
    pass


def _literal(v: Any) -> Any:
    """``v`` as a plain Python literal (numpy scalars converted), or raise _NotLiteral."""
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, int | np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        return float(v)
    if isinstance(v, str):
        return str(v)
    if isinstance(v, bytes):
        return bytes(v)
    if isinstance(v, list):
        return [_literal(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_literal(x) for x in v)
    if isinstance(v, set) and v:
        return {_literal(x) for x in v}
    if isinstance(v, dict):
        return {_literal(k): _literal(x) for k, x in v.items()}
    raise _NotLiteral


def _literal_annotations(ann: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    for k, v in ann.items():
        if k == "sheet_name":
            continue
        try:
            lv = _literal(v)
            if ast.literal_eval(repr(lv)) != lv:  # NaN, inf, ...
                raise _NotLiteral
        except (_NotLiteral, ValueError, SyntaxError, TypeError, RecursionError):
            dropped.append(str(k))
            continue
        kept[str(k)] = lv
    return kept, tuple(dropped)
