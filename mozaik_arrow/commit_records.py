"""The names in a store's log and staging directories, and the checks on a commit record.

The layout these names describe:

- ``_log/<version:020d>.json``: one JSON record per commit (:func:`_log_name`), parsed by
  :func:`json_record` and checked by :func:`_check_record`;
- ``_log/<version:020d>.checkpoint.<...>``: the whole state at a version, written every
  ``CHECKPOINT_EVERY`` commits (:func:`_checkpoint_name`), and ``_log/_last_checkpoint``
  naming the latest;
- ``_staging/<writer>/``: each writer's private staging directory, locked through its
  ``.alive`` file for the writer's lifetime; ``_lock``: the store lock.

Only names and checks live here: reading and writing these files is the job of
:mod:`mozaik_arrow.commit` and :mod:`mozaik_arrow.commit_transaction`.
"""

from __future__ import annotations

import json
from typing import Any

from . import schema
from .errors import CorruptFileError, FormatVersionError

__all__ = ["LOG_DIR", "STAGING_DIR", "LOCK_FILE", "json_record"]

LOG_DIR = "_log"
STAGING_DIR = "_staging"
LOCK_FILE = "_lock"
_ALIVE = ".alive"
_LAST_CHECKPOINT = f"{LOG_DIR}/_last_checkpoint"


def _log_name(version: int) -> str:
    return f"{LOG_DIR}/{version:020d}.json"


def _checkpoint_name(version: int, suffix: str) -> str:
    # "<version>.checkpoint.<...>": never mistaken for a commit record "<version>.json".
    return f"{LOG_DIR}/{version:020d}.checkpoint.{suffix}"


def json_record(raw: bytes, path: str) -> dict[str, Any]:
    """Parse a commit record; CorruptFileError naming ``path`` when it is not JSON."""
    try:
        record = json.loads(raw)
    except ValueError as e:
        raise CorruptFileError(path, f"unreadable commit record: {e}") from None
    if not isinstance(record, dict):
        raise CorruptFileError(path, "commit record is not a JSON object")
    return record


def _check_record(record: dict[str, Any], version: int, path: str) -> dict[str, Any]:
    """Refuse a record of another version, a newer format, or malformed entries."""
    if record.get("version") != version:
        raise CorruptFileError(path, "commit record has the wrong version")
    fmt = record.get("format_version")
    if not isinstance(fmt, int) or fmt > schema.FORMAT_VERSION:
        raise FormatVersionError(
            f"{path}: commit record of format version {fmt!r}; this mozaik_arrow reads up to "
            f"{schema.FORMAT_VERSION}: upgrade mozaik_arrow"
        )
    files = record.get("files", [])
    if not isinstance(files, list) or not all(
        isinstance(f, dict) and isinstance(f.get("path"), str) and isinstance(f.get("bytes"), int)
        for f in files
    ):
        raise CorruptFileError(path, "commit record has malformed file entries")
    return record
