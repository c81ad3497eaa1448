"""A store's format file: laying out a new store, and checking that a path is a readable one.

The format file (``schema.FORMAT_FILE``) is what makes a directory (or object prefix) a
store. :func:`create_store` publishes it last (by link, or put-if-absent on object storage),
so a crash during creation leaves a directory that is not yet a store, never a half store;
:func:`read_format` refuses a path that is not a store or a store of a newer format.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

from . import schema
from .commit_records import LOG_DIR, STAGING_DIR
from .errors import CorruptFileError, FormatVersionError, NotAStoreError, StoreExistsError
from .filesystem import StoreFileSystem

__all__ = ["read_format", "create_store"]


def read_format(fs: StoreFileSystem) -> dict[str, Any]:
    """Read and check the store's format file; raise if this is not a (readable) store."""
    if fs.renames and not fs.is_dir():
        what = "does not exist" if not fs.exists("") else "is not a directory"
        raise NotAStoreError(f"{fs.root} is not a mozaik_arrow store: the path {what}")
    try:
        raw = fs.read_bytes(schema.FORMAT_FILE)
    except FileNotFoundError:
        raise NotAStoreError(
            f"{fs.root} is not a mozaik_arrow store (no {schema.FORMAT_FILE})"
        ) from None
    try:
        info = json.loads(raw)
        version = int(info["format_version"])
    except (ValueError, KeyError, TypeError):
        raise CorruptFileError(fs.full(schema.FORMAT_FILE), "unreadable format file") from None
    if version > schema.FORMAT_VERSION:
        raise FormatVersionError(
            f"{fs.root} was written in mozaik_arrow format version {version}; this version "
            f"of mozaik_arrow reads formats up to {schema.FORMAT_VERSION}: upgrade mozaik_arrow"
        )
    return info


def create_store(fs: StoreFileSystem, library_version: str) -> None:
    """Lay out a new, empty store in a missing or empty directory (or object prefix).

    The format file is published last (by link, or put-if-absent on object storage), so a
    crash during creation leaves a directory that is not yet a store, never a half store.
    """
    if not fs.renames:  # no directories to make on object storage
        _publish_format(fs, library_version)
        return
    missing = []  # directories this call creates, deepest first: removed if it fails
    cur = os.path.abspath(fs.root)
    while not os.path.lexists(cur):
        missing.append(cur)
        cur = os.path.dirname(cur)
    try:
        os.makedirs(fs.root, exist_ok=True)
        for d in (LOG_DIR, STAGING_DIR):
            missing[:0] = [fs.full(c) for c in reversed(fs.makedirs_durable(d))]
        _publish_format(fs, library_version)
    except BaseException as e:
        # Leave no directory behind a refused creation — unless a store now exists there
        # (another process created it meanwhile: those directories are its own).
        if not isinstance(e, StoreExistsError) and not os.path.lexists(fs.full(schema.FORMAT_FILE)):
            for d in missing:
                try:
                    os.rmdir(d)
                except (OSError, ValueError):  # ValueError: a name the OS cannot encode
                    pass
        raise


def _publish_format(fs: StoreFileSystem, library_version: str) -> None:
    info = {
        "format": "mozaik_arrow",
        "format_version": schema.FORMAT_VERSION,
        "created": time.time(),
        "created_by": f"mozaik_arrow {library_version}",
    }
    if not fs.renames:
        if not fs.put_if_absent(schema.FORMAT_FILE, (json.dumps(info, indent=2) + "\n").encode()):
            raise StoreExistsError(f"{fs.root} already holds a mozaik_arrow store")
        return
    tmp = f"{STAGING_DIR}/format-{uuid.uuid4().hex}.tmp"
    fs.write_bytes_durable(tmp, (json.dumps(info, indent=2) + "\n").encode())
    if not fs.link_exclusive(tmp, schema.FORMAT_FILE):
        fs.remove(tmp)
        raise StoreExistsError(f"{fs.root} already holds a mozaik_arrow store")
    fs.remove(tmp)
    fs.fsync_dir("")
    parent = os.path.dirname(fs.root)
    fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
