"""``vacuum``: remove the files of a store that no commit references.

On object storage a commit uploads its data files before it publishes its log record, and
a commit that replaces files (a replaced analysis result, a new neuron table) leaves the
old ones in place, since readers of the previous version may still be reading them. So a
store on S3 can hold files no commit names: those of a writer that crashed (or lost a
conflict) before publishing, and those replaced by a later commit. The API, ``mozaik-arrow
sql`` and the manifests never read them; an external glob does. ``vacuum`` removes them.

It never removes a file the latest commit references, nor one that may still be in use:
a file younger than ``grace_seconds`` (a writer may be about to commit it) or replaced by
a commit younger than ``grace_seconds`` (a reader may still hold the previous version).
Running it while readers and writers work is therefore safe as long as no read or write
takes longer than the grace period. On local disks commits delete replaced files and a
writable open cleans up after crashed writers, so ``vacuum`` there only finds files put
into the store's directories by something else.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from typing import Any

from . import schema
from .commit import LOG_DIR, Log, read_format
from .commit_records import _log_name
from .filesystem import StoreFileSystem, open_filesystem

__all__ = ["vacuum"]

_DATA_DIRS = (*schema.TABLES, "ads_payloads")


def vacuum(
    location: str | os.PathLike[str],
    storage_options: Mapping[str, Any] | None = None,
    *,
    grace_seconds: float = 3600.0,
    dry_run: bool = False,
) -> list[str]:
    """Remove the files of a store that no commit references.

    Parameters
    ----------
    location : str or PathLike
        The store (a path, or ``s3://bucket/prefix``).
    storage_options : mapping, optional
        For object storage, as for :func:`mozaik_arrow.open`.
    grace_seconds : float
        Files younger than this, or replaced by a commit younger than this, are kept.
    dry_run : bool
        Only return what would be removed.

    Returns
    -------
    list of str
        The store-relative paths removed (or that would be).
    """
    if grace_seconds < 0:
        raise ValueError("grace_seconds must be >= 0")
    fs = open_filesystem(location, storage_options)
    read_format(fs)
    snap = Log(fs, writable=False).snapshot()
    now = time.time()
    keep = set(snap.files) | _recently_replaced(fs, snap.version, now - grace_seconds)
    doomed = sorted(rel for rel, mtime in _data_files(fs)
                    if rel not in keep and now - mtime >= grace_seconds)
    if not dry_run:
        for rel in doomed:
            fs.remove(rel)
    return doomed


def _recently_replaced(fs: StoreFileSystem, version: int, since: float) -> set[str]:
    """Files that commits made after ``since`` replaced (newest records first)."""
    out: set[str] = set()
    for v in range(version, 0, -1):
        try:
            record = json.loads(fs.read_bytes(_log_name(v)))
        except (FileNotFoundError, ValueError):
            break  # before the checkpoint the records may be gone: those are old
        if float(record.get("time", 0.0)) < since:
            break
        out.update(p for p in record.get("removed", ()) if isinstance(p, str))
    return out


def _data_files(fs: StoreFileSystem) -> list[tuple[str, float]]:
    """Every file under the store's data directories, with its modification time."""
    out: list[tuple[str, float]] = []
    walk = getattr(fs, "walk_files", None)
    if walk is not None:  # object storage: one listing
        return [(rel, mtime) for rel, _, mtime in walk("")
                if rel.split("/", 1)[0] in _DATA_DIRS and not rel.startswith(LOG_DIR)]
    for top in _DATA_DIRS:
        base = fs.full(top)
        for dirpath, _, names in os.walk(base):
            for name in names:
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, fs.root).replace(os.sep, "/")
                try:
                    out.append((rel, os.stat(full).st_mtime))
                except FileNotFoundError:
                    continue
    return out
