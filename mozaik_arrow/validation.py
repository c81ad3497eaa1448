"""``validate(path)``: check a store's files against its commit log, changing nothing on disk.

What is checked (arrow_engineering.md §3 lists the damage this is meant to find):

- the format file parses and its version is one this library reads;
- every commit record ``_log/<version>.json`` parses, carries its own version and a supported
  format version, and the versions run without gaps (records before a readable checkpoint may
  be absent); a checkpoint agrees with the replay of the records it summarises;
- every file the latest committed state names exists, has the byte size its commit record
  says, reads completely with Parquet page checksums verified (a flipped bit in an
  uncompressed page is otherwise returned silently by pyarrow, polars and duckdb), has the
  table's Arrow schema (names, types, nullability) and key/value metadata keys, a supported
  ``mozaik_arrow.format_version``, the row count of its record, and list lengths that agree
  with the stored counts (``n_spikes``, ``n_samples``);
- ``*.parquet`` files under the data directories that no commit names are reported as
  *orphans*: warnings, not errors (see :data:`KINDS`).

The store is opened read-only: no lock file, no staging directory, no recovery. Files are
read one column at a time in bounded batches of row groups, so memory stays bounded whatever
the file size.

Run from the shell: ``python -m mozaik_arrow.validation STORE`` (exit status 1 on errors).

The report types are in :mod:`~mozaik_arrow.validation_report`, the checks of the log in
:mod:`~mozaik_arrow.validation_log` and those of the files in
:mod:`~mozaik_arrow.validation_files`; here they run, in that order.
"""

from __future__ import annotations

import os
import sys

from .validation_files import _FileChecks
from .validation_log import _LogChecks
from .validation_report import KINDS, Problem, ValidationReport

__all__ = ["KINDS", "Problem", "ValidationReport", "validate"]


class _Checker(_LogChecks, _FileChecks):
    """The checks of one store, run in order by :meth:`run`."""

    # -- all ----------------------------------------------------------------------------------
    def run(self) -> ValidationReport:
        version = 0
        if self.check_format():
            snap, entries = self.check_log()
            version = snap.version
            self.check_references(snap)
            for rel in sorted(f for f in snap.files if isinstance(f, str)):
                entry = entries.get(rel)
                table = entry["table"] if entry is not None else rel.split("/", 1)[0]
                if not self.fs.exists(rel) and self._removed_since(rel):
                    continue  # removed by a commit made while we were checking
                self.check_file(rel, table, entry)
            self.check_orphans(snap)
        ok = not any(p.severity == "error" for p in self.problems)
        return ValidationReport(ok, list(self.problems), self.checked, self.root, version)


def validate(path: str | os.PathLike[str]) -> ValidationReport:
    """Check every file of a store against its commit log; change nothing on disk.

    Parameters
    ----------
    path : str or PathLike
        The store directory.

    Returns
    -------
    ValidationReport
        ``ok`` is False when any problem is an error; orphan files are warnings. Problems of
        stores that are not stores (a missing path, no format file) or of a newer format are
        reported, not raised.

    Examples
    --------
    >>> report = validate("run1")                       # doctest: +SKIP
    >>> report.ok, [str(p) for p in report.problems]    # doctest: +SKIP

    Raises
    ------
    NotImplementedError
        For a store on object storage (``s3://``): not checked yet.
    """
    text = os.fspath(path)
    if isinstance(text, str) and "://" in text and not text.startswith("file://"):
        raise NotImplementedError(f"validate checks local stores only, not yet {text}")
    return _Checker(text[len("file://"):] if isinstance(text, str) and text.startswith("file://")
                    else path).run()


def main(argv: list[str] | None = None) -> int:
    """``python -m mozaik_arrow.validation STORE...``: print reports; 1 if any has errors."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m mozaik_arrow.validation STORE [STORE...]", file=sys.stderr)
        return 2
    status = 0
    for path in args:
        report = validate(path)
        print(report)
        status |= 0 if report.ok else 1
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
