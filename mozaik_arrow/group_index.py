"""Which neurons (and, for signals, which signal) each row group of a Parquet file holds.

A store's files are sorted by ``neuron_id`` and cut into row groups; the footer's statistics
give each row group's ``neuron_id`` range (and a signals file's one signal ``name``), kept
here as numpy arrays, so that a request for some neurons can pick the row groups that hold
them without reading any data (:class:`~mozaik_arrow.reader.FileCache` builds one per file,
once). A footer without those statistics is a :class:`CorruptFileError`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pyarrow.parquet as pq

from .errors import CorruptFileError

__all__ = ["GroupIndex"]


@dataclass(frozen=True)
class GroupIndex:
    """Which neurons (and, for signals, which signal) each row group of a file holds."""

    first_row: np.ndarray  # int64, row offset of each group
    id_min: np.ndarray  # int64
    id_max: np.ndarray  # int64
    name: np.ndarray | None  # object array of signal names (signals files only)
    num_rows: int

    @functools.cached_property
    def one_kind(self) -> bool:
        """Whether every row group holds the same kind of rows (a spikes file, or a signals
        file of one signal): then the file can be decoded whole for one-neuron reads."""
        return self.name is None or bool((self.name == self.name[0]).all())

    @classmethod
    def from_footer(cls, md: pq.FileMetaData, path: str) -> GroupIndex:
        """The index of a file from its footer ``md`` (``path`` names the file in errors)."""
        names = md.schema.names
        id_col = names.index("neuron_id")
        name_col = names.index("name") if "name" in names else None
        n = md.num_row_groups
        first = np.zeros(n, dtype=np.int64)
        lo = np.zeros(n, dtype=np.int64)
        hi = np.zeros(n, dtype=np.int64)
        sig = np.empty(n, dtype=object) if name_col is not None else None
        row = 0
        for i in range(n):
            rg = md.row_group(i)
            first[i] = row
            row += rg.num_rows
            st = rg.column(id_col).statistics
            if st is None or not st.has_min_max:
                raise CorruptFileError(path, "row group without neuron_id statistics")
            lo[i], hi[i] = st.min, st.max
            if sig is not None:
                sst = rg.column(name_col).statistics
                if sst is None or not sst.has_min_max or sst.min != sst.max:
                    raise CorruptFileError(path, "signal row group spans two signals")
                sig[i] = sst.min
        return cls(first, lo, hi, sig, row)
