"""Whole files decoded for loops of one-neuron reads, under one process-wide budget.

A file (spikes, or one signal) whose one-neuron reads have touched a quarter of its row
groups is decoded whole by its store's :class:`~mozaik_arrow.reader.FileCache`, and its
reads are then served from memory. Those whole files share one process-wide budget
(:data:`HOT_FILES`), whatever the number of stores open, so a collection of a thousand runs
cannot hold a thousand decoded files.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import pyarrow as pa

__all__ = ["HOT_FILES", "HotFiles"]


class HotFiles:
    """Whole decoded files, kept for the one-neuron reads of every store of the process
    under one memory budget (least recently used first out).

    Parameters
    ----------
    limit : int
        Bytes of decoded Arrow data kept at most; a file is kept only if it takes at most
        half of it. 0 turns the promotion of files off.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        # key -> (table, what was derived from it: e.g. numpy views for one-neuron reads)
        self._tables: OrderedDict[tuple[int, str, tuple[str, ...]],
                                  tuple[pa.Table, dict[Any, Any]]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[int, str, tuple[str, ...]]) -> tuple[pa.Table, dict[Any, Any]] | None:
        """The table kept under ``key`` and its dict of derived values, or None."""
        with self._lock:
            entry = self._tables.get(key)
            if entry is not None:
                self._tables.move_to_end(key)
            return entry

    def put(self, key: tuple[int, str, tuple[str, ...]], table: pa.Table) -> bool:
        """Keep ``table`` if it takes at most half the budget (dropping the least recently
        used); whether it is kept."""
        with self._lock:
            if key in self._tables:
                return True
            if table.nbytes > self.limit // 2:
                return False
            self._tables[key] = (table, {})
            self._size += table.nbytes
            while self._size > self.limit:
                _, (old, _) = self._tables.popitem(last=False)
                self._size -= old.nbytes
            return True

    def drop(self, owner: int) -> None:
        """Forget the files of one :class:`~mozaik_arrow.reader.FileCache` (closed or
        collected)."""
        with self._lock:
            for key in [k for k in self._tables if k[0] == owner]:
                self._size -= self._tables.pop(key)[0].nbytes

    @property
    def nbytes(self) -> int:
        """Bytes held now."""
        return self._size


#: The process-wide budget of whole decoded files (256 MiB; set ``HOT_FILES.limit``).
HOT_FILES = HotFiles(256 * 2**20)
