"""Reading untrusted pickles: a check that runs nothing, then a restricted unpickler.

A pickle is a program: every global it names is imported and may be called. Reading a mozaik
store must not run what a (damaged or hostile) pickle asks for, so:

1. :func:`scan_pickle` parses a pickle with every global it names replaced by an inert
   object (a dry run: nothing the pickle asks for is built or called) and lists those
   globals. One not on the allow-list (:mod:`.allowlist`) is refused with
   :class:`UnsafePickleError`. The importer scans every file before it writes anything.
2. :class:`RestrictedUnpickler` then loads it; its ``find_class`` hands out only what
   :func:`~.allowlist.lookup_global` admits, so the check is enforced again while loading.
"""

from __future__ import annotations

import os
import pickle
from typing import Any, BinaryIO

from .allowlist import UnsafePickleError, lookup_global, py3_name

__all__ = ["RestrictedUnpickler", "scan_pickle", "load_pickle", "UnsafePickleError"]


class RestrictedUnpickler(pickle.Unpickler):
    """A ``pickle.Unpickler`` whose ``find_class`` admits only :func:`lookup_global`'s list.

    Parameters
    ----------
    file : binary file
        The pickle.
    path : str, optional
        Named in errors.

    Examples
    --------
    >>> with open("datastore.analysis.pickle", "rb") as f:          # doctest: +SKIP
    ...     results = RestrictedUnpickler(f).load()
    """

    def __init__(self, file: BinaryIO, path: str | os.PathLike[str] | None = None) -> None:
        # latin-1 reads Python 2 strings (numpy's array data among them) as numpy expects.
        super().__init__(file, encoding="latin1")
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        try:
            return lookup_global(module, name)
        except UnsafePickleError as exc:
            raise UnsafePickleError(exc.global_name, exc.reason, self._path) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("persistent_load", "persistent ids are not admitted",
                                self._path)


# -- the check before loading ------------------------------------------------------------------
class _Inert:
    """What a checked pickle's globals become during the dry run: accepts any call, any
    state, any item, and does nothing."""

    def __new__(cls, *args: Any, **kwargs: Any) -> _Inert:
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> _Inert:
        return _Inert()

    def __setstate__(self, state: Any) -> None:
        pass

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def append(self, item: Any) -> None:
        pass

    def extend(self, items: Any) -> None:
        pass

    def add(self, item: Any) -> None:
        pass


class _DryRun(pickle.Unpickler):
    """Parses a pickle with every admitted global replaced by :class:`_Inert`.

    The C unpickler resolves every name the pickle uses (literal or computed, through
    ``find_class``); nothing but :class:`_Inert` and builtin containers is ever built or
    called, so nothing the pickle asks for runs.
    """

    def __init__(self, file: BinaryIO) -> None:
        super().__init__(file, encoding="latin1")
        self.names: list[str] = []

    def find_class(self, module: str, name: str) -> Any:
        lookup_global(module, name)  # raises for anything not admitted
        self.names.append("{}.{}".format(*py3_name(module, name)))
        return _Inert

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("persistent_load", "persistent ids are not admitted")


def scan_pickle(path: str | os.PathLike[str]) -> list[str]:
    """Check a pickle file without running anything it asks for; list the globals it names.

    The file is parsed with every global (once checked against the allow-list) replaced by
    an inert object that ignores every call: the names checked are those the real load
    would look up, also names a pickle computes at load time.

    Parameters
    ----------
    path : str or PathLike
        The pickle.

    Returns
    -------
    list of str
        ``module.name`` of every global, in order of appearance (all admitted).

    Raises
    ------
    UnsafePickleError
        A global is not admitted (naming it and the file).
    pickle.UnpicklingError
        The file is not a well-formed pickle (also: a global whose name is not a string).
    """
    with open(path, "rb") as f:
        dry = _DryRun(f)
        try:
            dry.load()
        except UnsafePickleError as exc:
            raise UnsafePickleError(exc.global_name, exc.reason, path) from None
        except Exception as exc:  # anything else the parser raises: malformed
            raise pickle.UnpicklingError(f"{os.fspath(path)}: not a well-formed pickle "
                                         f"({type(exc).__name__}: {exc})") from None
    return dry.names


def load_pickle(path: str | os.PathLike[str], *, check: bool = True) -> Any:
    """Load a pickle file through :class:`RestrictedUnpickler`.

    Parameters
    ----------
    path : str or PathLike
        The pickle.
    check : bool
        Run :func:`scan_pickle` first (skip it only for a file already checked).

    Returns
    -------
    object
        What the pickle holds, mozaik's classes as stand-ins of :mod:`.standins`.

    Raises
    ------
    UnsafePickleError
        A global is refused (nothing was executed).
    pickle.UnpicklingError
        Malformed, or an admitted constructor refused its arguments.
    """
    if check:
        scan_pickle(path)
    with open(path, "rb") as f:
        try:
            return RestrictedUnpickler(f, path).load()
        except UnsafePickleError:
            raise
        except (pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError,
                KeyError, IndexError) as exc:
            raise pickle.UnpicklingError(
                f"{os.fspath(path)}: cannot be read ({type(exc).__name__}: {exc})") from exc
