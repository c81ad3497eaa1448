"""mozaik's ``PickledDataStore``, opened read-only without mozaik and without trusting pickles.

Opening converts the directory once, segment by segment (bounded memory), into a temporary
Arrow store through the importer's restricted unpickler (:mod:`mozaik_arrow.importers`), and
then answers mozaik's DataStore interface from it: queries, lazy segments
(:class:`PickledDataStoreNeoWrapper`, mozaik's name), analysis results. The temporary store
is deleted by :meth:`PickledDataStore.close` (or when the object is collected). To keep the
converted store, use ``mozaik-arrow import-mozaik SRC DEST`` instead.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ReadOnlyError, ValidationError
from .segment import MozaikSegment
from .store import ArrowDataStore

__all__ = ["PickledDataStore", "PickledDataStoreNeoWrapper"]


class PickledDataStoreNeoWrapper(MozaikSegment):
    """A recording of a :class:`PickledDataStore` (mozaik's name for its lazy segments)."""


class PickledDataStore(ArrowDataStore):
    """A mozaik ``PickledDataStore`` directory, read-only.

    Parameters
    ----------
    load : bool
        Must be True: this class only reads existing mozaik stores (write new stores with
        :class:`~mozaik_arrow.ArrowDataStore`).
    parameters : mapping
        Holds ``root_directory``, the mozaik directory (``datastore.recordings.pickle``...).
    replace : bool
        Accepted for mozaik's signature.

    Raises
    ------
    mozaik_arrow.importers.UnsafePickleError
        A pickle names a global the importer does not admit; nothing of it ran.
    ValidationError
        Some item of the directory could not be read (the message lists them).
    """

    _segment_class = PickledDataStoreNeoWrapper

    def __init__(self, load: bool, parameters: Mapping[str, Any], replace: bool = False) -> None:
        from .importers import import_mozaik

        if not load:
            raise ReadOnlyError("PickledDataStore only opens existing mozaik stores (load=True); "
                                "create new stores with ArrowDataStore or mozaik_arrow.open")
        try:
            source = Path(parameters["root_directory"])
        except (KeyError, TypeError):
            raise ValidationError("parameters must be a mapping holding 'root_directory'") from None
        tmp = Path(tempfile.mkdtemp(prefix="mozaik_pickled_"))
        cleanup = weakref.finalize(self, shutil.rmtree, tmp, True)
        try:
            report = import_mozaik(source, tmp / "store")
            if not report.ok:
                raise ValidationError(f"cannot read {source}: {report.summary()}")
            super().__init__(True, {"root_directory": str(tmp / "store")}, replace, mode="r")
        except BaseException:
            cleanup()
            raise
        self._cleanup = cleanup
        self.source = str(source)
        self.import_report = report

    def close(self) -> None:
        """Close the store and delete its temporary conversion."""
        super().close()
        self._cleanup()

    def __repr__(self) -> str:
        return f"PickledDataStore({self.source!r})"
