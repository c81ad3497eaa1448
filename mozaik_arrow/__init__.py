"""mozaik_arrow: a columnar, crash-safe, lazy store for mozaik / PyNN simulation output.

Open a store with :func:`open` (or mozaik's ``ArrowDataStore(load, parameters)``), add
recordings as neo Segments, and read them back as lazy :class:`MozaikSegment` objects or as
polars LazyFrames (``store.spikes()``, ``store.signals()``, ``store.segments_frame()``).
"""

from . import ads, parametrized, queries
from ._version import __version__
from .ads_payload import register_ads_type
from .collection import Collection, open_collection
from .errors import (
    CorruptFileError,
    DuplicateError,
    FormatVersionError,
    MissingFileError,
    MozaikArrowError,
    NotAStoreError,
    ReadOnlyError,
    StoreExistsError,
    ValidationError,
)
from .objectstore import StorageError
from .parametrized import MozaikParametrized
from .pickled import PickledDataStore, PickledDataStoreNeoWrapper
from .schema import FORMAT_VERSION
from .segment import MozaikSegment
from .store import ArrowDataStore, DataStore, Hdf5DataStore, open
from .vacuum import vacuum
from .validation import Problem, ValidationReport, validate
from .view import DataStoreView

__all__ = [
    "__version__",
    "FORMAT_VERSION",
    "ArrowDataStore",
    "Collection",
    "open_collection",
    "DataStore",
    "DataStoreView",
    "Hdf5DataStore",
    "MozaikParametrized",
    "MozaikSegment",
    "PickledDataStore",
    "PickledDataStoreNeoWrapper",
    "open",
    "parametrized",
    "queries",
    "ads",
    "register_ads_type",
    "CorruptFileError",
    "DuplicateError",
    "FormatVersionError",
    "MissingFileError",
    "MozaikArrowError",
    "NotAStoreError",
    "ReadOnlyError",
    "StoreExistsError",
    "ValidationError",
    "StorageError",
    "vacuum",
    "validate",
    "ValidationReport",
    "Problem",
]
