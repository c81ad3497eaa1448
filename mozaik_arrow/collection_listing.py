"""Finding the stores of a collection, on local disk or under an object-storage prefix.

:func:`~mozaik_arrow.collection.open_collection` is given a store, a list of them, a glob
(``"sweep/run_*"``, ``"s3://bucket/sweep/run_*"``) or a directory (prefix) of stores; a lister
turns that into store paths, each holding a format file, and says how many threads open them.
Local disk and object storage differ in what checking and opening a store costs (Python work
under the GIL, or requests to wait on), so each has its lister; :func:`_lister` picks one by
the path, and :mod:`~mozaik_arrow.collection` does not care which.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import schema
from .errors import NotAStoreError

_GLOB_CHARS = frozenset("*?[")


class _LocalLister:
    """Finds stores on the local filesystem (object storage will be a second lister)."""

    # Threads that open stores and read their metadata. Opening a local store is Python
    # work under the GIL: 8 threads measured 2x slower than 1 (1000 stores, 2 cores). On
    # object storage, where each open waits on requests, a lister will want several.
    threads = 1

    @staticmethod
    def is_store(path: str) -> bool:
        return os.path.isfile(os.path.join(path, schema.FORMAT_FILE))

    def expand(self, spec: str) -> list[str]:
        """The stores ``spec`` names: a store, a glob, or a directory of stores (sorted)."""
        if any(c in spec for c in _GLOB_CHARS) and not self.is_store(spec):
            found = [p for p in sorted(glob.glob(spec)) if self.is_store(p)]
            if not found:
                raise NotAStoreError(f"no mozaik_arrow store matches {spec!r}")
            return found
        if self.is_store(spec):
            return [spec]
        if not os.path.isdir(spec):
            raise NotAStoreError(f"{spec} is neither a mozaik_arrow store nor a directory")
        found = [p for p in (os.path.join(spec, n) for n in sorted(os.listdir(spec)))
                 if self.is_store(p)]
        if not found:
            raise NotAStoreError(f"{spec} holds no mozaik_arrow store (none of its "
                                 f"sub-directories has a {schema.FORMAT_FILE})")
        return found

    @staticmethod
    def canonical(path: str) -> str:
        return os.path.abspath(path)


class _ObjectLister:
    """Finds stores under an object-storage prefix (``s3://bucket/sweep``): one listing of
    the prefix's "sub-directories", then a HEAD of each one's format file, in threads."""

    # Opening a store on object storage waits on requests, not on the GIL.
    threads = 8

    def __init__(self, storage_options: Mapping[str, Any] | None) -> None:
        self.storage_options = dict(storage_options or {})

    def is_store(self, url: str) -> bool:
        from .objectstore import ObjectFileSystem

        return ObjectFileSystem(url, self.storage_options).exists(schema.FORMAT_FILE)

    def expand(self, spec: str) -> list[str]:
        """The stores ``spec`` names: a store, a prefix holding stores, or a glob in the last
        part of the URL (``s3://bucket/sweep/run_*``), sorted."""
        from fnmatch import fnmatchcase

        from .objectstore import ObjectFileSystem

        spec = spec.rstrip("/")
        pattern = None
        parent = spec
        if any(c in spec.rsplit("/", 1)[-1] for c in _GLOB_CHARS):
            parent, pattern = spec.rsplit("/", 1)
        elif self.is_store(spec):
            return [spec]
        names = [n for n in ObjectFileSystem(parent, self.storage_options).listdir("")
                 if pattern is None or fnmatchcase(n, pattern)]
        candidates = [f"{parent}/{n}" for n in names]
        with ThreadPoolExecutor(self.threads) as pool:
            found = [c for c, ok in zip(candidates, pool.map(self.is_store, candidates), strict=True) if ok]
        if not found:
            raise NotAStoreError(f"no mozaik_arrow store under {spec!r}")
        return found

    @staticmethod
    def canonical(url: str) -> str:
        return url.rstrip("/")


def _lister(target: str, storage_options: Mapping[str, Any] | None) -> _LocalLister | _ObjectLister:
    if "://" in target:
        return _ObjectLister(storage_options)
    if storage_options:
        raise ValueError("storage_options are for object storage (s3://...), not local paths")
    return _LocalLister()


def _local(target: str | os.PathLike[str]) -> str:
    text = os.fspath(target)
    return text[len("file://"):] if text.startswith("file://") else text
