"""A view as a real :class:`neo.Block`, for neo's IOs (NixIO, ...) and neo-based analyses.

Layout of the block:

- one :class:`neo.Segment` per recording of the view, in store order (null recordings too,
  unless ``null`` says otherwise), annotated with ``sheet_name``, ``stimulus`` (the canonical
  stimulus string), ``stimulus_key``, ``null`` and ``segment_id`` (plus the annotations the
  recording came with); it holds the recording's spike trains and its analog signals (one 2-D
  signal per signal name), exactly as :class:`~mozaik_arrow.segment.MozaikSegment` builds them
  from the Arrow buffers: same times, samples, units, ``t_start``, sampling period and
  neuron-id annotations;
- one :class:`neo.Group` per sheet (``block.groups``), named after the sheet, holding the
  sheet's spike trains and signals of every exported segment, annotated with ``sheet_name``
  and, where the store has them, ``neuron_ids``, ``neuron_positions_x`` / ``_y`` / ``_z`` and
  one ``neuron_<key>`` array per scalar per-neuron annotation (in sheet index order). NIX
  cannot store nested or 2-D annotations, hence flat 1-D arrays on a group per sheet;
- block annotations: ``sheets`` (names, in order of first appearance).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import neo
import numpy as np
import polars as pl

if TYPE_CHECKING:
    from ..view import DataStoreView

__all__ = ["to_neo_block"]

_SCALARS = (bool, int, float, str)


def _sheet_annotations(dsv: DataStoreView, sheet: str) -> dict[str, Any]:
    """NIX-compatible (flat, 1-D) annotations of one sheet: ids, positions, neuron annotations."""
    out: dict[str, Any] = {"sheet_name": sheet}
    try:
        out["neuron_ids"] = np.asarray(dsv.get_sheet_ids(sheet), dtype=np.int64)
    except KeyError:
        pass
    positions = dsv.get_neuron_positions().get(sheet)
    if positions is not None:
        pos = np.asarray(positions, dtype=np.float64)
        for axis, row in zip("xyz", pos, strict=False):
            out[f"neuron_positions_{axis}"] = row.copy()
    per_neuron = dsv.get_neuron_annotations().get(sheet) or []
    if per_neuron:
        keys = set.intersection(*(set(a) for a in per_neuron))
        for key in sorted(keys):
            values = [a[key] for a in per_neuron]
            kinds = {type(v) for v in values}
            if len(kinds) == 1 and kinds.pop() in _SCALARS:
                out[f"neuron_{key}"] = np.asarray(values)
    return out


def to_neo_block(
    dsv: DataStoreView,
    *,
    null: bool | None = None,
    signals: bool = True,
    name: str | None = None,
) -> neo.Block:
    """Build a :class:`neo.Block` holding the recordings of a view.

    Parameters
    ----------
    dsv : DataStoreView
        The view (or store) to export; its recordings are read here, one at a time.
    null : bool or None
        None (default): every recording, null ones flagged by the ``null`` annotation;
        False: only stimulus recordings; True: only null recordings.
    signals : bool
        Include the analog signals (``v``, ``gsyn_exc``, ``gsyn_inh``, ...); False exports
        spike trains only.
    name : str, optional
        Name of the block (default: the store's directory name).

    Returns
    -------
    neo.Block
        One Segment per recording in store order, one Group per sheet (see the module
        docstring). The spike trains and signals are those ``MozaikSegment`` returns, moved to
        plain ``neo.Segment`` objects, so any neo IO can write the block.

    Examples
    --------
    >>> from neo.io import NixIO
    >>> block = to_neo_block(queries.param_filter_query(store, sheet_name="V1_Exc_L4"))
    >>> with NixIO("run1.nix", mode="ow") as io:  # doctest: +SKIP
    ...     io.write_block(block)
    """
    frame = dsv.segments_frame()
    if null is not None:
        frame = frame.filter(pl.col("null") == null)
    order = frame.select("segment_id", "null", "stimulus").collect()
    lazy = {}
    for is_null in set(order["null"].to_list()):
        lazy.update({s.identifier: s for s in dsv.get_segments(null=is_null)})
    root = str(getattr(dsv.full_datastore, "root", ""))
    block = neo.Block(name=name if name is not None else (root.rstrip("/").rsplit("/", 1)[-1]
                                                          or None),
                      file_origin=root or None)
    groups: dict[str, neo.Group] = {}
    for segment_id, is_null, key in order.iter_rows():
        src = lazy[segment_id]
        sheet = src.annotations["sheet_name"]
        annotations: Mapping[str, Any] = {**src.annotations, "stimulus_key": key,
                                          "null": bool(is_null), "segment_id": segment_id}
        seg = neo.Segment(name=src.name, description=src.description, **annotations)
        trains = list(src.get_spiketrains())
        sigs = list(src.analogsignals) if signals else []
        src.release()  # the lazy segment lets go; the objects now belong to ``seg``
        seg.spiketrains.extend(trains)
        seg.analogsignals.extend(sigs)
        for obj in (*trains, *sigs):
            obj.segment = seg
        block.segments.append(seg)
        if sheet not in groups:
            groups[sheet] = neo.Group(name=sheet, allowed_types=[neo.SpikeTrain, neo.AnalogSignal],
                                      **_sheet_annotations(dsv, sheet))
        groups[sheet].add(*trains, *sigs)
    block.groups.extend(groups.values())
    block.annotate(sheets=list(groups))
    return block
