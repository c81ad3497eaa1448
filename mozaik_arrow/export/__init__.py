"""Export a view to other formats: a ``neo.Block`` (for any neo IO, e.g. NixIO) and NWB.

- :func:`to_neo_block` builds a real :class:`neo.Block` (one Segment per recording) from the
  store's lazy segments; needs only the core dependencies.
- :func:`to_nwb` writes an NWB 2 file with pynwb (the ``nwb`` extra: ``pynwb``; the tests also
  use ``nwbinspector``). Its timeline and tables are documented in :mod:`.nwb`.
"""

from __future__ import annotations

from .neo_block import to_neo_block
from .nwb import to_nwb

__all__ = ["to_neo_block", "to_nwb"]
