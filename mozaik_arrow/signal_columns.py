"""Validated signal columns from neo AnalogSignals (the signal side of :mod:`.neo_convert`).

:func:`_signals_from_list` checks a segment's ``neo.AnalogSignal`` objects (names, neuron ids
from ``channel_ids`` / ``source_ids``, units, sampling) and orders their rows by
``(name, neuron_id)`` in one :class:`_SignalColumns`. The samples are not copied here: they
stay in the caller's (T x N) signals until a writer asks for some rows
(:meth:`_SignalColumns.values`), which :func:`_copy_rows` then transposes tile by tile, so that
a file can be written a few rows at a time without a second copy of the recording. The id,
dtype and unit helpers are shared with the spike side, from :mod:`.spike_columns`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import neo
import numpy as np

from .errors import ValidationError
from .spike_columns import _check_dtype, _ids_array, _unit_string

_SIGNAL_ID_KEYS = ("channel_ids", "source_ids")


@dataclass(frozen=True, eq=False)
class _SignalColumns:
    neuron_id: np.ndarray  # int64, rows sorted by (name, neuron_id)
    name: list[str]
    units: list[str]
    time_units: list[str]
    t_start: np.ndarray
    sampling_period: np.ndarray
    offsets: np.ndarray
    # The samples stay in the caller's signals until written: run k covers rows
    # run_starts[k] .. run_starts[k] + len(run_sources[k]), a (rows x T) view of one signal.
    run_starts: np.ndarray
    run_sources: tuple[np.ndarray, ...]

    def values(self, start: int, stop: int) -> np.ndarray:
        """The samples of rows ``start .. stop`` as one flat float64 array (a fresh copy)."""
        off = self.offsets
        out = np.empty(int(off[stop] - off[start]), dtype=np.float64)
        k = int(np.searchsorted(self.run_starts, start, side="right")) - 1
        row = start
        while row < stop:
            r0, src = int(self.run_starts[k]), self.run_sources[k]
            r1 = min(stop, r0 + len(src))
            a, b = int(off[row] - off[start]), int(off[r1] - off[start])
            _copy_rows(out[a:b].reshape(r1 - row, src.shape[1]), src[row - r0 : r1 - r0])
            row, k = r1, k + 1
        return out


def _signal_ids(sig: Any, what: str) -> np.ndarray:
    found = []
    for source in (sig.annotations, getattr(sig, "array_annotations", None) or {}):
        for key in _SIGNAL_ID_KEYS:
            if key in source and source[key] is not None:
                found.append((key, _ids_array(source[key], f"{what}, {key}")))
    if not found:
        raise ValidationError(
            f"{what}: no neuron ids (annotation or array_annotation 'channel_ids' or 'source_ids')"
        )
    key0, ids = found[0]
    for key, other in found[1:]:
        if not np.array_equal(other, ids):
            raise ValidationError(f"{what}: neuron ids in {key0!r} and {key!r} disagree")
    return ids


def _signals_from_list(signals: list, where: str) -> _SignalColumns:
    units_of: dict[str, str] = {}
    blocks: list[np.ndarray] = []  # per signal: (N x T) view of the samples
    row_name: list[str] = []
    row_id: list[np.ndarray] = []
    row_block: list[np.ndarray] = []
    meta: list[tuple[str, str, float, float, int]] = []  # per signal
    for j, sig in enumerate(signals):
        if not isinstance(sig, neo.AnalogSignal):
            raise ValidationError(
                f"analogsignals[{j}] {where} is a {type(sig).__name__}, not a neo.AnalogSignal"
            )
        name = sig.name
        if not isinstance(name, str) or not name:
            raise ValidationError(
                f"analog signal #{j} {where} has no name (expected 'v', 'gsyn_exc', ...)"
            )
        what = f"signal {name!r} {where}"
        mag = sig.view(np.ndarray)
        if mag.ndim == 1:
            mag = mag[:, None]
        elif mag.ndim != 2:
            raise ValidationError(f"{what}: expected a 1-D or 2-D signal, got shape {mag.shape}")
        _check_dtype(mag.dtype, what)
        ids = _signal_ids(sig, what)
        if len(ids) != mag.shape[1]:
            raise ValidationError(f"{what}: {mag.shape[1]} channels but {len(ids)} neuron ids")
        if mag.shape[1] == 0:
            raise ValidationError(f"{what}: the signal has no channels (no neuron recorded)")
        units = _unit_string(sig)
        prev = units_of.setdefault(name, units)
        if prev != units:
            raise ValidationError(
                f"{what}: signals of one name in different units ({prev} and {units})"
            )
        t0q = sig.t_start
        if getattr(t0q, "_dimensionality", None) is None:
            raise ValidationError(f"{what}: t_start has no units")
        time_units = _unit_string(t0q)
        period = sig.sampling_period
        if _unit_string(period) != time_units:
            try:
                period = period.rescale(t0q.units)
            except ValueError as e:
                raise ValidationError(f"{what}: sampling period is not a time ({e})") from None
        t0, p = float(t0q), float(period)
        if not math.isfinite(t0):
            raise ValidationError(f"{what}: t_start is {t0}")
        if not (math.isfinite(p) and p > 0):
            raise ValidationError(f"{what}: sampling period {p} {time_units} is not positive")
        blocks.append(mag.T)
        meta.append((units, time_units, t0, p, mag.shape[0]))
        row_name.extend([name] * len(ids))
        row_id.append(ids)
        row_block.append(np.full(len(ids), j, dtype=np.int64))
    names = sorted(units_of)
    code_of = {nm: k for k, nm in enumerate(names)}
    codes = np.array([code_of[nm] for nm in row_name], dtype=np.int64)
    ids = np.concatenate(row_id)
    block = np.concatenate(row_block)
    within = np.concatenate([np.arange(len(r), dtype=np.int64) for r in row_id])
    order = np.lexsort((ids, codes))
    codes, ids, block, within = codes[order], ids[order], block[order], within[order]
    if len(ids) > 1:
        dup = (codes[1:] == codes[:-1]) & (ids[1:] == ids[:-1])
        if dup.any():
            k = int(np.argmax(dup))
            raise ValidationError(
                f"signal {names[codes[k]]!r} {where}: neuron {ids[k]} recorded twice"
            )
    bl, wl = block.tolist(), within.tolist()
    lengths = np.array([meta[b][4] for b in bl], dtype=np.int64)
    offsets = np.zeros(len(bl) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    # Rows taken in order from one signal (the usual case: ids already sorted) form a run,
    # later copied as one (rows x samples) block; anything else is a run of one row.
    breaks = np.flatnonzero((block[1:] != block[:-1]) | (within[1:] != within[:-1] + 1)) + 1
    edges = [0, *breaks.tolist(), len(bl)]
    run_sources = tuple(
        blocks[bl[r0]][wl[r0] : wl[r0] + r1 - r0]
        for r0, r1 in zip(edges[:-1], edges[1:], strict=True)
    )
    return _SignalColumns(
        neuron_id=ids,
        name=[names[c] for c in codes.tolist()],
        units=[meta[b][0] for b in bl],
        time_units=[meta[b][1] for b in bl],
        t_start=np.array([meta[b][2] for b in bl], dtype=np.float64),
        sampling_period=np.array([meta[b][3] for b in bl], dtype=np.float64),
        offsets=offsets,
        run_starts=np.array(edges[:-1], dtype=np.int64),
        run_sources=run_sources,
    )


# Tile of the blocked transpose: 32 channels x 256 samples (64 KiB of float64, in L2 cache).
_TILE_ROWS, _TILE_COLS = 32, 256


def _copy_rows(out: np.ndarray, src: np.ndarray) -> None:
    """``out[...] = src`` (both R x T; ``out`` C-contiguous float64), fast for strided ``src``.

    PyNN's signals are (T x N) row-major, so ``src`` (a transposed view) walks memory with a
    stride of a whole time step along each row: copied directly, every sample is a cache
    miss. Copying tile by tile keeps both sides in cache (2-3x faster). Values are converted
    exactly as ``np.concatenate(..., dtype=float64)`` would (same casts, bit for bit).
    """
    n_rows, n_t = src.shape
    if n_rows < 2 or n_t < 2 or abs(src.strides[1]) <= abs(src.strides[0]):
        out[...] = src  # rows already (nearly) contiguous: one pass in memory order
        return
    tr, tc = _TILE_ROWS, _TILE_COLS
    for r in range(0, n_rows, tr):
        o, s = out[r : r + tr], src[r : r + tr]
        for c in range(0, n_t, tc):
            o[:, c : c + tc] = s[:, c : c + tc]
