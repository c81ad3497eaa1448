"""The payload fields of the ADS types: one constructor argument of an ADS, its Arrow
columns, and its values encoded into them and decoded back, bit for bit.

Column groups per payload argument ``<a>``:

- units: ``<a>: string``, quantities' ``dimensionality.string`` (null for None);
- numeric array: ``<a>: large_list<float64>`` (row-major) when float64 holds every value
  bit for bit, else null and ``<a>_raw: large_binary`` (the bytes); ``<a>_dtype`` (numpy
  name) and ``<a>_shape: large_list<int64>``. Free values (number, list, tuple, numpy
  scalar/array, Quantity) add ``<a>_kind`` and ``<a>_quantity_units``;
- ids: ``<a>: large_list<int64>``, pairs ``large_list<fixed_size_list<int64, 2>>``;
- neo AnalogSignals: lists with one entry per signal: ``<a>`` (samples of the (T, C) array,
  row-major) or ``<a>_raw``, ``<a>_dtype``, ``<a>_shape``, ``<a>_units``, ``<a>_t_start``
  in ``<a>_time_units``, ``<a>_sampling_rate`` in ``<a>_rate_units`` (what neo stores, so
  ``sampling_period`` comes back bit-exact), ``<a>_name``; a grid adds ``<a>_grid`` (row
  lengths). Signal annotations are not stored.

A field knows nothing of the ADS classes (it reads and sets attributes by name): the classes
(:mod:`mozaik_arrow.ads`) name the type of their ``_payload`` with it, and the payload codec
(:mod:`mozaik_arrow.ads_payload`) declares each type's fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import neo
import numpy as np
import pyarrow as pa
import quantities as pq

from .ads_values import (
    _check_signal,
    _dtype_name,
    _free_decode,
    _free_encode,
    _ids_of,
    _numeric,
    _read_units,
    _restore,
    _split_exact,
    _unit,
    _units_text,
)

_F64, _I64 = pa.float64(), pa.int64()


class _Field:
    """A payload argument: constructor argument ``arg``, attribute ``attr``, ``kind`` one of
    units, array, free, ids, pairs, signals, signal, grid."""

    def __init__(self, kind: str, arg: str, attr: str | None = None) -> None:
        self.kind, self.arg, self.attr = kind, arg, attr or arg

    def columns(self) -> list[pa.Field]:
        a, k = self.attr, self.kind
        if k == "units":
            return [pa.field(a, pa.string())]
        if k in ("ids", "pairs"):
            return [pa.field(a, pa.large_list(pa.list_(_I64, 2) if k == "pairs" else _I64))]
        if k in ("array", "free"):
            cols = {"": pa.large_list(_F64), "_raw": pa.large_binary(), "_dtype": pa.string(),
                    "_shape": pa.large_list(_I64)}
            if k == "free":
                cols.update({"_kind": pa.string(), "_quantity_units": pa.string()})
            return [pa.field(a + s, t) for s, t in cols.items()]
        cols = [pa.field(a + s, pa.large_list(t)) for s, t in _SIGNAL_COLUMNS.items()]
        return cols + ([pa.field(f"{a}_grid", pa.large_list(_I64))] if k == "grid" else [])

    def _names(self) -> list[str]:
        names = self.__dict__.get("_column_names")
        if names is None:
            names = self.__dict__["_column_names"] = [f.name for f in self.columns()]
        return names

    def encode(self, obj: Any, what: str) -> dict[str, Any]:
        a, k, value = self.attr, self.kind, getattr(obj, self.attr)
        if k == "units":
            return {a: _units_text(value, what)}
        if k in ("ids", "pairs"):
            return {a: _ids_of(obj, k == "pairs")}
        if k in ("array", "free"):
            kind, arr, units = _free_encode(value, what) if k == "free" else (
                "ndarray", _numeric(value, what), None)
            out: dict[str, Any] = dict.fromkeys(self._names())
            if arr is not None:
                out[a], out[f"{a}_raw"] = _split_exact(arr)
                out[f"{a}_dtype"] = _dtype_name(arr.dtype)
                out[f"{a}_shape"] = np.asarray(arr.shape, dtype=np.int64)
            if k == "free":
                out[f"{a}_kind"], out[f"{a}_quantity_units"] = kind, units
            return out
        signals = [value] if k == "signal" else [s for r in value for s in r] if k == "grid" \
            else list(value)
        cols: dict[str, list] = {s: [] for s in _SIGNAL_COLUMNS}
        for i, sig in enumerate(signals):
            _check_signal(sig, f"{what}[{i}]")
            data, t0, rate = sig.magnitude, sig.t_start, sig.sampling_rate
            parts = (*_split_exact(data), _dtype_name(data.dtype), data.shape,
                     sig.dimensionality.string, float(t0.magnitude), t0.dimensionality.string,
                     float(rate.magnitude), rate.dimensionality.string, sig.name)
            for s, v in zip(_SIGNAL_COLUMNS, parts, strict=True):
                cols[s].append(v)
        out = {a + s: v for s, v in cols.items()}
        out[f"{a}_shape"] = np.asarray(cols["_shape"], dtype=np.int64).reshape(-1, 2)
        if k == "grid":
            out[f"{a}_grid"] = np.asarray([len(r) for r in value], dtype=np.int64)
        return out

    def decode(self, row: Mapping[str, Any]) -> Any:
        a, k = self.attr, self.kind
        if k == "units":
            return _read_units(row[a])
        if k in ("ids", "pairs"):  # the constructor makes them ints (tuples for pairs)
            return np.asarray(row[a], dtype=np.int64).reshape((-1, 2) if k == "pairs" else -1)
        if k in ("array", "free"):
            kind = row[f"{a}_kind"] if k == "free" else "ndarray"
            if kind == "none":
                return None
            arr = _restore(row[a], row[f"{a}_raw"], row[f"{a}_dtype"], row[f"{a}_shape"],
                           copy=k == "free")
            return _free_decode(kind, arr, row[f"{a}_quantity_units"]) if k == "free" else arr
        c = {s: row[a + s] for s in _SIGNAL_COLUMNS}
        signals = [neo.AnalogSignal(
            _restore(c[""][j], c["_raw"][j], c["_dtype"][j], c["_shape"][j], copy=True),
            units=_unit(c["_units"][j]),
            t_start=pq.Quantity(c["_t_start"][j], _unit(c["_time_units"][j])),
            sampling_rate=pq.Quantity(c["_sampling_rate"][j], _unit(c["_rate_units"][j])),
            name=c["_name"][j]) for j in range(len(c["_dtype"]))]
        if k != "grid":
            return signals[0] if k == "signal" else signals
        ends = np.cumsum(np.asarray(row[f"{a}_grid"], dtype=np.int64)).tolist()
        return [signals[i:j] for i, j in zip([0, *ends[:-1]], ends, strict=True)]


_SIGNAL_COLUMNS = {"": pa.large_list(_F64), "_raw": pa.large_binary(), "_dtype": pa.string(),
                   "_shape": pa.list_(_I64, 2), "_units": pa.string(), "_t_start": _F64,
                   "_time_units": pa.string(), "_sampling_rate": _F64,
                   "_rate_units": pa.string(), "_name": pa.string()}
