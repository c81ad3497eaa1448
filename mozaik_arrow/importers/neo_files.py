"""Import recordings that are already neo objects, or neo files (NixIO, neo pickles)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import neo

from ..errors import ValidationError
from ..store import ArrowDataStore
from .unpickler import load_pickle

__all__ = ["from_neo", "read_neo_file"]


def _segments(block_or_segments: Any) -> list[neo.Segment]:
    if isinstance(block_or_segments, neo.Block):
        return list(block_or_segments.segments)
    if isinstance(block_or_segments, neo.Segment):
        return [block_or_segments]
    if isinstance(block_or_segments, (list, tuple)):
        out: list[neo.Segment] = []
        for item in block_or_segments:
            out.extend(_segments(item))
        return out
    raise ValidationError(f"expected a neo Block, a Segment or a list of them, not "
                          f"{type(block_or_segments).__name__}")


def from_neo(block_or_segments: Any, store: ArrowDataStore, stimulus: Any,
             sheet_name: str | None = None, *, null: bool = False) -> int:
    """Add neo recordings to a store: a thin layer over ``add_recording``.

    Parameters
    ----------
    block_or_segments : neo.Block, neo.Segment or list of them
        The recordings (every segment of a Block).
    store : ArrowDataStore
        An open, writable store.
    stimulus : stimulus or sequence of stimuli
        One stimulus (a string, mapping or MozaikParametrized object) for all segments,
        which then form one recording and must be of different sheets (PyNN's
        ``get_data()`` of each population after one presentation); or a list with one
        stimulus per segment, in order (the segments of one population's Block, one per
        presentation).
    sheet_name : str, optional
        The sheet of segments that carry no ``sheet_name`` annotation (else their
        ``source_population`` annotations name it). The segments are not changed.
    null : bool
        Add them as null (blank) recordings.

    Returns
    -------
    int
        The number of segments added.

    Raises
    ------
    ValidationError
        No segments, a stimulus list of the wrong length, or a segment the store refuses
        (nothing of that call is written; earlier calls of a stimulus list stay).
    """
    segs = _segments(block_or_segments)
    if not segs:
        raise ValidationError("no segments to import")
    many = isinstance(stimulus, (list, tuple))
    if many and len(stimulus) != len(segs):
        raise ValidationError(f"{len(stimulus)} stimuli for {len(segs)} segments")
    add = store.add_null_recording if null else store.add_recording
    patched = [s for s in segs if sheet_name is not None and "sheet_name" not in s.annotations]
    for s in patched:
        s.annotations["sheet_name"] = sheet_name
    try:
        if many:
            for seg, stim in zip(segs, stimulus, strict=True):
                add(seg, stim)
        else:
            add(segs, stimulus)
    finally:
        for s in patched:  # leave the caller's objects as they were
            s.annotations.pop("sheet_name", None)
    return len(segs)


def read_neo_file(path: str | os.PathLike[str]) -> list[neo.Block]:
    """Read a neo file: NixIO (``.nix``, ``.h5``) or a pickle of neo objects.

    A pickle (``.pkl``, ``.pickle``) is read with the importer's restricted unpickler (neo's
    own ``PickleIO`` would run whatever the file asks for); it may hold a Block, a Segment
    or a list of them.

    Returns
    -------
    list of neo.Block
        Pass them (or their segments) to :func:`from_neo`.

    Raises
    ------
    UnsafePickleError
        A pickle names a global the importer does not admit.
    ValidationError
        An unknown suffix, or a pickle that holds something else.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in (".pkl", ".pickle"):
        obj = load_pickle(p)
        if isinstance(obj, neo.Segment):
            block = neo.Block()
            block.segments.append(obj)
            return [block]
        items: Sequence[Any] = obj if isinstance(obj, (list, tuple)) else [obj]
        if not all(isinstance(b, neo.Block) for b in items):
            raise ValidationError(f"{p} holds no neo Block or Segment")
        return list(items)
    if suffix in (".nix", ".h5"):
        io = neo.io.NixIO(os.fspath(p), mode="ro")
        try:
            return list(io.read_all_blocks())
        finally:
            io.close()
    raise ValidationError(f"{p}: unknown neo file type {suffix!r} (.nix, .h5, .pkl, .pickle)")
