"""What :func:`~mozaik_arrow.validation.validate` reports, and the state every check of it
shares.

A validation is a list of :class:`Problem` (a path, a kind of :data:`KINDS`, a message and a
severity) gathered into a :class:`ValidationReport`. :class:`_Checks` holds what the checks of
one store share: the store opened read-only, the list they add problems to, and the count of
files checked. The checks themselves are in :mod:`~mozaik_arrow.validation_log` (the log and
the state it commits) and :mod:`~mozaik_arrow.validation_files` (the files on disk), kept below
:mod:`~mozaik_arrow.validation`, which runs them; the report types are here, below both, so
that neither needs the other for them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .filesystem import LocalFileSystem
from .reader import FileCache

__all__ = ["KINDS", "Problem", "ValidationReport"]

KINDS = ("missing", "size", "corrupt", "schema", "format", "orphan", "log")
"""Kinds of problem.

``missing``
    a file the log names is not on disk;
``size``
    a file's byte size differs from the size its commit record gives;
``corrupt``
    a file does not read completely (footer, pages, checksums) or disagrees with itself or
    its record (row count, list lengths, row-group statistics);
``schema``
    a file's Arrow schema or key/value metadata is not its table's;
``format``
    the format file is missing or unreadable, or a store, record or file is of a newer
    format version;
``orphan``
    (a warning) a ``*.parquet`` file under a data directory that no commit names: left by a
    writer that crashed between renaming its files and logging its commit, or by a commit
    still in progress. Invisible to the API; visible to ``*.parquet`` globs until the next
    writable open removes it;
``log``
    a commit record or checkpoint is unreadable, out of sequence or disagrees with the log.
"""

_SEVERITIES = ("error", "warning")


@dataclass(frozen=True)
class Problem:
    """One problem found by :func:`validate`.

    Attributes
    ----------
    path : str
        Absolute path of the file concerned (the store directory for store-wide problems).
    kind : str
        One of :data:`KINDS`.
    message : str
        What is wrong, in words.
    severity : str
        ``"error"`` (the store is damaged) or ``"warning"`` (e.g. an orphan file).
    """

    path: str
    kind: str
    message: str
    severity: str = "error"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown problem kind {self.kind!r}")
        if self.severity not in _SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")

    def __str__(self) -> str:
        return f"{self.severity} [{self.kind}] {self.path}: {self.message}"


@dataclass(frozen=True)
class ValidationReport:
    """What :func:`validate` found.

    Attributes
    ----------
    ok : bool
        True when no problem is an error (orphans are warnings).
    problems : list of Problem
        Every problem found, errors and warnings, in the order found.
    checked_files : int
        Number of data files (Parquet files the latest commit names) that were checked.
    root : str
        The store directory.
    version : int
        The latest committed version that was checked (0 for an empty store).
    """

    ok: bool
    problems: list[Problem] = field(default_factory=list)
    checked_files: int = 0
    root: str = ""
    version: int = 0

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def __str__(self) -> str:
        head = (
            f"{self.root}: {'ok' if self.ok else 'DAMAGED'} at version {self.version}, "
            f"{self.checked_files} files checked, {len(self.errors)} errors, "
            f"{len(self.warnings)} warnings"
        )
        return "\n".join([head, *(f"  {p}" for p in self.problems)])


# -- helpers -------------------------------------------------------------------------------------


def _describe_exc(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def _is_interrupt(exc: BaseException) -> bool:
    return isinstance(exc, (KeyboardInterrupt, SystemExit))


class _Checks:
    """One check of one store in progress: the store read, and the problems found so far."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.fs = LocalFileSystem(path)
        self.root = self.fs.root
        self.problems: list[Problem] = []
        self.checked = 0
        self.files = FileCache(self.fs, max_open=1)
        self._removed: set[str] = set()

    def add(self, rel: str | None, kind: str, message: str, severity: str = "error") -> None:
        where = self.fs.full(rel) if rel else self.root
        self.problems.append(Problem(where, kind, message, severity))
