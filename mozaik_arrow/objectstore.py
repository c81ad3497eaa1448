"""A store on S3-compatible object storage: the object-store face of :mod:`.filesystem`.

Object storage has no rename, no directories, no ``flock`` and no ``fsync``; it has whole
objects that appear atomically when their upload completes, and — on S3 and the servers
that follow it — *conditional writes*: ``PutObject`` with ``If-None-Match: *`` creates an
object only if none exists under that key (put-if-absent). The commit protocol
(:mod:`.commit`) builds on exactly that: data files are uploaded under unique names, then
the log record of the next version is created with put-if-absent; a writer that loses the
race reads the log again and retries.

Every request goes through one fsspec filesystem (``s3fs``), built from the URL and the
``storage_options`` the user gave (s3fs's own keys: ``key``, ``secret``, ``token``,
``endpoint_url``, ``client_kwargs``...). The same options are translated for polars
(object_store keys) and given to duckdb as the registered filesystem, so that every reader
sees the store through the same credentials. Secrets never appear in an error message.
"""

from __future__ import annotations

import functools
import io
import os
import posixpath
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, BinaryIO

from .errors import MozaikArrowError, ValidationError
from .filesystem import StoreFileSystem

__all__ = ["ObjectFileSystem", "StorageError"]


class StorageError(MozaikArrowError, OSError):
    """Object storage refused or failed a request (names the URL, never a secret)."""


def _split(url: str) -> tuple[str, str]:
    protocol, sep, rest = url.partition("://")
    if not sep or not rest.strip("/"):
        raise ValidationError(f"not an object-storage URL: {url!r} (expected s3://bucket/prefix)")
    return protocol, rest.strip("/")


def _frozen(value: Any) -> Any:
    """A hashable copy of nested options (dicts and lists)."""
    if isinstance(value, Mapping):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


def _thawed(value: Any) -> Any:
    if isinstance(value, tuple) and all(isinstance(i, tuple) and len(i) == 2 and isinstance(i[0], str)
                                        for i in value):
        return {k: _thawed(v) for k, v in value}
    return value


@functools.lru_cache(maxsize=32)
def _client(pid: int, options: Any) -> Any:
    """The boto3 client of these (frozen) options in process ``pid`` (a forked child makes
    its own: clients do not survive a fork)."""
    import boto3
    from botocore.config import Config

    o = _thawed(options) if options else {}
    client_kwargs = dict(o.get("client_kwargs") or {})
    config = dict(o.get("config_kwargs") or {})
    config.setdefault("retries", {"max_attempts": 3, "mode": "standard"})
    return boto3.session.Session().client(
        "s3",
        aws_access_key_id=o.get("key"), aws_secret_access_key=o.get("secret"),
        aws_session_token=o.get("token"),
        endpoint_url=o.get("endpoint_url") or client_kwargs.pop("endpoint_url", None),
        region_name=client_kwargs.pop("region_name", None),
        config=Config(**config), **client_kwargs)


def polars_options(storage_options: Mapping[str, Any]) -> dict[str, str]:
    """s3fs-style ``storage_options`` as polars' (object_store's) ``storage_options``."""
    client = dict(storage_options.get("client_kwargs") or {})
    endpoint = storage_options.get("endpoint_url") or client.get("endpoint_url")
    region = client.get("region_name") or storage_options.get("region_name")
    out: dict[str, str] = {}
    for ours, theirs in (("key", "aws_access_key_id"), ("secret", "aws_secret_access_key"),
                         ("token", "aws_session_token")):
        if storage_options.get(ours):
            out[theirs] = str(storage_options[ours])
    if endpoint:
        out["aws_endpoint_url"] = str(endpoint)
        if str(endpoint).startswith("http://"):
            out["aws_allow_http"] = "true"
    out["aws_region"] = str(region or "us-east-1")
    return out


class ObjectFileSystem(StoreFileSystem):
    """A store under ``s3://bucket/prefix`` (or another fsspec protocol with conditional
    writes).

    Parameters
    ----------
    url : str
        ``s3://bucket/prefix`` of the store.
    storage_options : mapping, optional
        Passed to ``s3fs.S3FileSystem`` (credentials, ``endpoint_url``, ``client_kwargs``).
    """

    renames = False

    def __init__(self, url: str, storage_options: Mapping[str, Any] | None = None) -> None:
        import fsspec

        self.protocol, self._prefix = _split(url)
        self.root = f"{self.protocol}://{self._prefix}"
        self.storage_options = dict(storage_options or {})
        try:
            cls = fsspec.get_filesystem_class(self.protocol)
        except (ImportError, ValueError) as e:
            raise ValidationError(f"cannot open {self.root}: {e}") from None
        # No listings cache: another process's commit must be seen at the next read.
        self.fsspec = cls(**{"use_listings_cache": False, "skip_instance_cache": True,
                             **self.storage_options})
        self._client: Any = None

    def __reduce__(self) -> tuple[Any, ...]:
        # fsspec and boto clients hold sockets and locks: another process makes its own.
        return type(self), (self.root, self.storage_options)

    # -- paths ---------------------------------------------------------------------------
    def key(self, rel: str) -> str:
        """``bucket/prefix/rel``: the path fsspec and pyarrow take; refuses leaving the store."""
        path = posixpath.normpath(posixpath.join(self._prefix, rel)) if rel else self._prefix
        if path != self._prefix and not path.startswith(self._prefix + "/"):
            raise ValueError(f"path {rel!r} leaves the store {self.root}")
        return path

    def full(self, rel: str) -> str:
        """The URL of ``rel`` (what polars and duckdb read, and what errors name)."""
        return f"{self.protocol}://{self.key(rel)}"

    @contextmanager
    def _request(self, what: str, rel: str) -> Iterator[None]:
        """Turn the storage client's errors into ours, naming the URL (never a secret)."""
        try:
            yield
        except (FileNotFoundError, FileExistsError, IsADirectoryError):
            raise
        except PermissionError as e:
            raise StorageError(f"{what} {self.full(rel)}: access denied ({_reason(e)})") from None
        except OSError as e:
            raise StorageError(f"{what} {self.full(rel)} failed: {_reason(e)}") from None

    @property
    def client(self) -> Any:
        """A boto3 S3 client from the same options, for the small objects of the log: one
        request per read, write, conditional put or listing page. Shared by every store
        opened with equal options in this process (building one costs 0.1-0.3 s: a
        collection opens hundreds of stores); boto3 clients are thread-safe."""
        pid = os.getpid()
        if self._client is None or self._client[0] != pid:
            self._client = (pid, _client(pid, _frozen(self.storage_options)))
        return self._client[1]

    def _bucket_key(self, rel: str) -> tuple[str, str]:
        bucket, _, key = self.key(rel).partition("/")
        return bucket, key

    @contextmanager
    def _boto(self, what: str, rel: str) -> Iterator[None]:
        """botocore's errors as ours: a missing key is FileNotFoundError, a refused
        conditional put FileExistsError, anything else a StorageError naming the URL."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", ""))
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise FileNotFoundError(self.full(rel)) from None
            if code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412):
                raise FileExistsError(self.full(rel)) from None
            if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"):
                raise StorageError(f"{what} {self.full(rel)}: access denied ({code}); check the "
                                   "credentials in storage_options") from None
            raise StorageError(f"{what} {self.full(rel)} failed: {code or status} "
                               f"({_reason(e)})") from None
        except BotoCoreError as e:  # connection refused, timeouts, no credentials...
            raise StorageError(f"{what} {self.full(rel)} failed: {_reason(e)}") from None

    # -- reads ---------------------------------------------------------------------------
    def exists(self, rel: str) -> bool:
        bucket, key = self._bucket_key(rel)
        try:
            with self._boto("cannot look up", rel):
                self.client.head_object(Bucket=bucket, Key=key)
        except FileNotFoundError:
            return False
        return True

    def names_after(self, rel: str, name: str) -> list[str]:
        """Names in the directory ``rel`` sorting after ``name``: one listing request (per
        1000 names), however long the directory."""
        bucket, key = self._bucket_key(rel)
        out: list[str] = []
        with self._boto("cannot list", rel):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=key + "/", StartAfter=f"{key}/{name}", Delimiter="/")
            for page in pages:
                out += [c["Key"][len(key) + 1:] for c in page.get("Contents", ())]
        return out

    def is_dir(self, rel: str = "") -> bool:
        # No directories on object storage: a prefix "is" one when it holds an object.
        return bool(self.listdir(rel))

    def listdir(self, rel: str = "") -> list[str]:
        bucket, key = self._bucket_key(rel)
        prefix = f"{key}/" if key else ""
        names: set[str] = set()
        with self._boto("cannot list", rel):
            for page in self.client.get_paginator("list_objects_v2").paginate(
                    Bucket=bucket, Prefix=prefix, Delimiter="/"):
                names.update(c["Key"][len(prefix):] for c in page.get("Contents", ()))
                names.update(p["Prefix"][len(prefix):].rstrip("/") for p in page.get("CommonPrefixes", ()))
        return sorted(names)

    def read_bytes(self, rel: str) -> bytes:
        bucket, key = self._bucket_key(rel)
        with self._boto("cannot read", rel):
            return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()

    def read_range(self, rel: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of ``rel``: one ranged GET."""
        bucket, key = self._bucket_key(rel)
        with self._boto("cannot read", rel):
            return self.client.get_object(Bucket=bucket, Key=key,
                                          Range=f"bytes={start}-{end - 1}")["Body"].read()

    def size(self, rel: str) -> int:
        bucket, key = self._bucket_key(rel)
        with self._boto("cannot look up", rel):
            return int(self.client.head_object(Bucket=bucket, Key=key)["ContentLength"])

    def parquet_source(self, rel: str, size: int | None = None) -> BinaryIO:
        """A seekable file over ranged GETs: no HEAD when ``size`` is known (the commit
        recorded it), one GET per range pyarrow asks for (it coalesces a row group's column
        chunks into one with ``pre_buffer``)."""
        return _RangeFile(self, rel, self.size(rel) if size is None else size)

    # -- writes --------------------------------------------------------------------------
    def open_output(self, rel: str) -> BinaryIO:
        """A new object written as one upload (visible only once closed)."""
        with self._request("cannot write", rel):
            return self.fsspec.open(self.key(rel), "wb")

    def put(self, rel: str, data: bytes) -> None:
        bucket, key = self._bucket_key(rel)
        with self._boto("cannot write", rel):
            self.client.put_object(Bucket=bucket, Key=key, Body=data)

    def put_if_absent(self, rel: str, data: bytes) -> bool:
        """Create ``rel`` holding ``data`` unless an object exists there (one conditional
        ``PutObject``, ``If-None-Match: *``: the server decides, atomically); False when
        one does."""
        bucket, key = self._bucket_key(rel)
        try:
            with self._boto("cannot write", rel):
                self.client.put_object(Bucket=bucket, Key=key, Body=data, IfNoneMatch="*")
        except FileExistsError:
            return False
        return True

    def remove(self, rel: str) -> bool:
        bucket, key = self._bucket_key(rel)
        if not self.exists(rel):  # S3 deletes are idempotent: ask first to answer truly
            return False
        with self._boto("cannot remove", rel):
            self.client.delete_object(Bucket=bucket, Key=key)
        return True

    def walk_files(self, top: str = "") -> list[tuple[str, int, float]]:
        """Every object under ``top``: (store-relative path, size, modification time)."""
        bucket, key = self._bucket_key(top)
        prefix = f"{key}/" if key else ""
        root = self._bucket_key("")[1]
        out = []
        with self._boto("cannot list", top):
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                out += [(c["Key"][len(root) + 1:], int(c["Size"]), c["LastModified"].timestamp())
                        for c in page.get("Contents", ())]
        return out

    def polars_options(self) -> dict[str, str]:
        """``storage_options`` for polars' readers."""
        return polars_options(self.storage_options)


class _RangeFile(io.RawIOBase):
    """A read-only, seekable object: each ``read`` is one ranged GET."""

    def __init__(self, fs: ObjectFileSystem, rel: str, size: int) -> None:
        super().__init__()
        self._fs, self._rel, self._size, self._pos = fs, rel, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, n: int | None = -1) -> bytes:
        end = self._size if n is None or n < 0 else min(self._size, self._pos + n)
        if end <= self._pos:
            return b""
        data = self._fs.read_range(self._rel, self._pos, end)
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _reason(exc: BaseException) -> str:
    """The error's own words, without anything that looks like a credential."""
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]
