"""The payload codec of the ADS types: their payloads as Arrow tables and back, bit for bit,
and the registry of types it knows.

Each type has ONE payload schema (:data:`PAYLOAD_SCHEMAS`), one row per ADS, built from the
column groups of its payload fields (:mod:`mozaik_arrow.ads_fields`), declared here per type.
:func:`register_ads_type` adds a user's type. The identity of an ADS by its parameters
(:func:`ads_params`, :func:`ads_key`, :func:`declared_params`), which the store's metadata
rows hold next to the place of the payload row, is here too. Above the classes
(:mod:`mozaik_arrow.ads`), which know nothing of it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from .ads import (
    AnalogSignal,
    AnalogSignalList,
    AnalysisDataStructure,
    AnalysisDataStructure1D,
    ConductanceSignalList,
    Connections,
    PerAreaAnalogSignalList,
    PerAreaValue,
    PerNeuronPairAnalogSignalList,
    PerNeuronPairValue,
    PerNeuronValue,
    SingleValue,
    SingleValueList,
    _stimulus_key,
)
from .ads_fields import _Field
from .errors import ValidationError
from .parametrized import normalise

_F = _Field
SingleValue._payload = (_F("free", "value"), _F("units", "value_units"))
SingleValueList._payload = (_F("free", "values"), _F("units", "values_unit"))
PerNeuronValue._payload = (_F("array", "values"), _F("ids", "idds", "ids"),
                           _F("units", "value_units"))
PerNeuronPairValue._payload = PerNeuronValue._payload
PerAreaValue._payload = (_F("array", "values"), _F("units", "value_units"),
                         _F("array", "x_coords"), _F("array", "y_coords"))
AnalysisDataStructure1D._payload = (_F("units", "x_axis_units"), _F("units", "y_axis_units"))
AnalogSignal._payload = (_F("signal", "analog_signal"), _F("units", "y_axis_units"))
AnalogSignalList._payload = (_F("signals", "asl"), _F("ids", "ids"), _F("units", "y_axis_units"))
PerNeuronPairAnalogSignalList._payload = (_F("signals", "asl"), _F("pairs", "ids"),
                                          _F("units", "y_axis_units"))
PerAreaAnalogSignalList._payload = (_F("grid", "asl"), _F("array", "x_coords"),
                                    _F("array", "y_coords"), _F("units", "y_axis_units"))
ConductanceSignalList._payload = (_F("signals", "e_con"), _F("signals", "i_con"),
                                  _F("ids", "ids"))
Connections._payload = (_F("array", "weights"), _F("array", "delays"),
                        _F("free", "source_size"), _F("free", "target_size"))

ADS_TYPES: dict[str, type[AnalysisDataStructure]] = {}
PAYLOAD_SCHEMAS: dict[str, pa.Schema] = {}


def register_ads_type(cls: type[AnalysisDataStructure], replace: bool = False) -> None:
    """Register an ADS class under its identifier (its name) with the schema of its
    ``_payload`` (inherited: a subclass keeping its parent's constructor needs nothing more).

    Raises
    ------
    ValidationError
        Not an AnalysisDataStructure class with a payload, or the name is registered to
        another class (unless ``replace``).
    """
    if not (isinstance(cls, type) and issubclass(cls, AnalysisDataStructure) and cls._payload):
        raise ValidationError(f"{cls!r} is not an AnalysisDataStructure class with a payload")
    known = ADS_TYPES.get(cls.__name__)
    if known is not None and known is not cls and not replace:
        raise ValidationError(f"ADS type {cls.__name__!r} is already registered ({known!r})")
    columns = [c for f in cls._payload for c in f.columns()]
    if len({c.name for c in columns}) != len(columns):
        raise ValidationError(f"{cls.__name__}: payload column names clash")
    ADS_TYPES[cls.__name__] = cls
    PAYLOAD_SCHEMAS[cls.__name__] = pa.schema(
        columns, metadata={"mozaik_arrow.ads_identifier": cls.__name__})


for _cls in (SingleValue, SingleValueList, PerNeuronValue, PerNeuronPairValue, PerAreaValue,
             AnalysisDataStructure1D, AnalogSignal, AnalogSignalList,
             PerNeuronPairAnalogSignalList, PerAreaAnalogSignalList, ConductanceSignalList,
             Connections):
    register_ads_type(_cls)


def _type_of(identifier: Any) -> type[AnalysisDataStructure]:
    cls = ADS_TYPES.get(identifier) if isinstance(identifier, str) else None
    if cls is None:
        raise ValidationError(f"unknown ADS type {identifier!r} (known: {sorted(ADS_TYPES)}; "
                              "register others with register_ads_type)")
    return cls


def declared_params(identifier: str) -> tuple[str, ...]:
    """Sorted names of the parameters type ``identifier`` declares (``name`` and
    ``identifier`` too): a type without ``period`` must not match a ``period=None`` filter."""
    return tuple(sorted(_type_of(identifier)._declared))


def ads_params(ads: AnalysisDataStructure) -> dict[str, Any]:
    """The parameters identifying ``ads``: every declared one, None values too, sorted by
    name; plain Python values (``stimulus_id`` the string as given), JSON-serialisable."""
    if not isinstance(ads, AnalysisDataStructure):
        raise ValidationError(f"expected an AnalysisDataStructure, not {type(ads).__name__}")
    return dict(sorted(ads._values.items()))


def ads_key(ads: AnalysisDataStructure | Mapping[str, Any]) -> str:
    """The identity of an ADS (or of its :func:`ads_params`), for O(1) uniqueness checks.

    ``"a" + sha256(json(normalise(params)))[:32]``, ``stimulus_id`` replaced by its
    stimulus key: equal for the same values in any spelling (``1``/``1.0``, numpy scalars,
    the order of a stimulus string's keys), different otherwise (``True`` vs ``1``, None vs
    missing). Tags and payload are not part of it.
    """
    params = ads_params(ads) if isinstance(ads, AnalysisDataStructure) else dict(ads)
    if not isinstance(params.get("identifier"), str):
        raise ValidationError("ads_key: the parameters hold no 'identifier'")
    if params.get("stimulus_id") is not None:
        params["stimulus_id"] = _stimulus_key(params["stimulus_id"])
    text = json.dumps(normalise(params), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=True)
    return "a" + hashlib.sha256(text.encode()).hexdigest()[:32]


def payload_row(ads: AnalysisDataStructure) -> dict[str, Any]:
    """The payload of ``ads`` as one row of ``PAYLOAD_SCHEMAS[ads.identifier]``.

    Numeric list cells are numpy arrays (``(n, 2)`` for pairs; per-signal lists of arrays
    for signals), not Python lists: pass rows to :func:`table_from_rows` (as
    :func:`payload_table` does), which concatenates them into columns with offsets.
    """
    cls = _type_of(getattr(ads, "identifier", None))
    if type(ads) is not cls:
        raise ValidationError(f"{type(ads).__name__} is not the registered {cls.__name__}")
    row: dict[str, Any] = {}
    for f in cls._payload:
        row.update(f.encode(ads, f"{cls.__name__}.{f.attr}"))
    return row


def _column(rows: Sequence[Any], typ: pa.DataType) -> pa.Array:
    """Column ``typ`` from per-row cells; numeric lists by concatenation and offsets."""
    if not pa.types.is_large_list(typ):
        return pa.array(rows, type=typ)
    item, present = typ.value_type, [r for r in rows if r is not None]
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([0 if r is None else len(r) for r in rows], out=offsets[1:])
    if pa.types.is_large_list(item):
        child = _column(list(itertools.chain.from_iterable(present)), item)
    elif pa.types.is_fixed_size_list(item) or pa.types.is_floating(item) or \
            pa.types.is_integer(item):
        leaf = item.value_type if pa.types.is_fixed_size_list(item) else item
        dt = leaf.to_pandas_dtype()
        parts = [np.asarray(r, dtype=dt).reshape(-1) for r in present]
        child = pa.array(np.concatenate(parts) if parts else np.empty(0, dt), type=leaf)
        if leaf is not item:
            child = pa.FixedSizeListArray.from_arrays(child, item.list_size)
    else:
        child = pa.array(list(itertools.chain.from_iterable(present)), type=item)
    mask = None if len(present) == len(rows) else pa.array([r is None for r in rows])
    return pa.LargeListArray.from_arrays(pa.array(offsets), child, type=typ, mask=mask)


def table_from_rows(identifier: str, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Payload rows of one type (:func:`payload_row`, or ``Table.to_pylist()``) as a table."""
    schema = PAYLOAD_SCHEMAS[_type_of(identifier).__name__]
    cols = [_column([r.get(f.name) for r in rows], f.type) for f in schema]
    return pa.Table.from_arrays(cols, schema=schema)


def payload_table(ads_list: Sequence[AnalysisDataStructure],
                  identifier: str | None = None) -> pa.Table:
    """The payloads of ADS of one type, in order, as one ``PAYLOAD_SCHEMAS[identifier]``
    table (``identifier`` is needed only for an empty list); ValidationError for mixed types."""
    idents = {getattr(a, "identifier", None) for a in ads_list} | ({identifier} - {None})
    if len(idents) != 1:
        raise ValidationError(f"payload_table needs ADS of one type, got {idents or 'none'}")
    return table_from_rows(idents.pop(), [payload_row(a) for a in ads_list])


def _reader(arr: pa.Array) -> Callable[[int], Any]:
    """Per-row access to a column read once: numeric lists as numpy slices."""
    typ = arr.type
    if not (pa.types.is_large_list(typ) or pa.types.is_list(typ)):
        return arr.to_pylist().__getitem__
    offsets, item, child = arr.offsets.to_numpy(), typ.value_type, arr.values
    nulls = (np.zeros(len(arr), dtype=bool) if arr.null_count == 0
             else arr.is_null().to_numpy(zero_copy_only=False))
    if pa.types.is_fixed_size_list(item):
        flat = child.flatten().to_numpy(zero_copy_only=False).reshape(-1, item.list_size)
    elif pa.types.is_floating(item) or pa.types.is_integer(item):
        flat = child.to_numpy(zero_copy_only=False)
    else:
        inner = _reader(child)
        return lambda i: None if nulls[i] else [inner(j) for j in range(offsets[i],
                                                                         offsets[i + 1])]
    return lambda i: None if nulls[i] else flat[offsets[i]:offsets[i + 1]]


def ads_from_table(identifier: str, params_list: Sequence[Mapping[str, Any]],
                   tags_list: Sequence[Sequence[str] | None] | None,
                   table: pa.Table) -> list[AnalysisDataStructure]:
    """Rebuild ADS from a payload table: the inverse of :func:`payload_table`.

    Parameters
    ----------
    identifier : str
        The type of every row.
    params_list : sequence of mapping
        Per row, the parameters (as :func:`ads_params` gives them).
    tags_list : sequence of (list of str or None), or None
        Per row, the tags.
    table : pyarrow.Table
        Holding the columns of ``PAYLOAD_SCHEMAS[identifier]`` (others are ignored).

    Returns
    -------
    list of AnalysisDataStructure
        Arrays bit-exact in their dtype, units as quantities units, ids as ints (tuples for
        pairs), neo AnalogSignals with their units, t_start and sampling rate.

    Raises
    ------
    ValidationError
        Unknown type, missing columns, lengths that disagree, or a row that does not decode
        or fails its constructor's checks.
    """
    cls, schema = _type_of(identifier), PAYLOAD_SCHEMAS[identifier]
    missing = [n for n in schema.names if n not in table.column_names]
    if missing:
        raise ValidationError(f"{identifier} payload table lacks columns {missing}")
    tags_list = [None] * table.num_rows if tags_list is None else tags_list
    if not len(params_list) == len(tags_list) == table.num_rows:
        raise ValidationError(f"{table.num_rows} payload rows, {len(params_list)} parameter "
                              f"sets and {len(tags_list)} tag lists")
    out: list[AnalysisDataStructure] = []
    for batch in table.select(schema.names).to_batches():  # no copy of multi-chunk columns
        readers = {n: _reader(batch.column(n)) for n in schema.names}
        for j in range(batch.num_rows):
            i, row = len(out), {n: r(j) for n, r in readers.items()}
            try:
                args = {f.arg: f.decode(row) for f in cls._payload}
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                raise ValidationError(f"{identifier} payload row {i}: {exc}") from None
            tags = tags_list[i]
            out.append(cls(tags=None if tags is None else list(tags), **args, **params_list[i]))
    return out


def ads_from_payload(identifier: str, params: Mapping[str, Any], tags: Sequence[str] | None,
                     row: Mapping[str, Any] | pa.Table | pa.RecordBatch) -> AnalysisDataStructure:
    """Rebuild one ADS from a payload row: a mapping (:func:`payload_row`, an item of
    ``Table.to_pylist()``) or a one-row table or batch. See :func:`ads_from_table`."""
    if isinstance(row, pa.RecordBatch):
        row = pa.Table.from_batches([row])
    if not isinstance(row, pa.Table):
        row = table_from_rows(identifier, [row])
    if row.num_rows != 1:
        raise ValidationError(f"ads_from_payload needs one row, got {row.num_rows}")
    return ads_from_table(identifier, [params], [tags], row)[0]
