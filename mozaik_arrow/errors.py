"""Exceptions raised by mozaik_arrow.

Every error a user can cause by bad input is a subclass of a builtin they would already
catch (``ValueError``, ``PermissionError``, ``FileNotFoundError``, ``OSError``), so code written
against mozaik's own datastore keeps working.
"""

from __future__ import annotations


class MozaikArrowError(Exception):
    """Base class of every error raised by mozaik_arrow itself."""


class NotAStoreError(MozaikArrowError, FileNotFoundError):
    """The path does not hold a mozaik_arrow store (no format file)."""


class StoreExistsError(MozaikArrowError, FileExistsError):
    """A new store was requested where a store (or other files) already exist."""


class FormatVersionError(MozaikArrowError, ValueError):
    """The store was written by a newer format version than this library reads."""


class ReadOnlyError(MozaikArrowError, PermissionError):
    """A write was attempted on a store opened read-only."""


class ValidationError(MozaikArrowError, ValueError):
    """Input (a segment, stimulus, array, ...) is malformed; nothing was written."""


class DuplicateError(MozaikArrowError, ValueError):
    """The store already holds an object with the same identity; nothing was written."""


class CorruptFileError(MozaikArrowError, OSError):
    """A file of the store is truncated, damaged or missing; the message names it."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class MissingFileError(CorruptFileError, FileNotFoundError):
    """A file the store's log names is not on disk."""
