"""Importers: mozaik ``PickledDataStore`` directories and neo recordings into a store.

- :func:`import_mozaik` reads a mozaik pickle store *without mozaik installed and without
  trusting its pickles* (:mod:`.unpickler`: an allow-list, a static check before anything is
  written, a restricted unpickler mapping mozaik's classes onto inert stand-ins), segment by
  segment, resumably, and returns an :class:`ImportReport`.
- :func:`from_neo` adds neo Blocks/Segments (e.g. from :func:`read_neo_file`) to a store.

Examples
--------
>>> from mozaik_arrow.importers import import_mozaik
>>> report = import_mozaik("mozaik_run/", "run.arrow")         # doctest: +SKIP
>>> report.ok, report.counts()["imported"]                      # doctest: +SKIP
(True, {'recording': 4, 'sensory': 2, 'analysis': 2, 'neuron_ids': 1, ...})
"""

from .allowlist import UnsafePickleError, lookup_global
from .mozaik_store import ANALYSIS_FILE, RECORDINGS_FILE, SENSORY_FILE, import_mozaik
from .neo_files import from_neo, read_neo_file
from .report import ImportItem, ImportProgress, ImportReport
from .unpickler import RestrictedUnpickler, load_pickle, scan_pickle

__all__ = [
    "import_mozaik",
    "from_neo",
    "read_neo_file",
    "ImportReport",
    "ImportItem",
    "ImportProgress",
    "UnsafePickleError",
    "RestrictedUnpickler",
    "load_pickle",
    "scan_pickle",
    "lookup_global",
    "RECORDINGS_FILE",
    "ANALYSIS_FILE",
    "SENSORY_FILE",
]
