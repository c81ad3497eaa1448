"""Where a test's store lives: a local directory or an S3 prefix, with the few raw file
operations tests use to damage or inspect a store behind the API's back."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any


class LocalLocation:
    """A store directory on disk."""

    kind = "local"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.url = self.path

    def read(self, rel: str) -> bytes:
        return (self.path / rel).read_bytes()

    def write(self, rel: str, data: bytes) -> None:
        target = self.path / rel
        target.chmod(0o644)
        target.write_bytes(data)

    def remove(self, rel: str) -> None:
        (self.path / rel).unlink()

    def remove_tree(self, top: str) -> None:
        shutil.rmtree(self.path / top)

    def copy(self, other: LocalLocation) -> LocalLocation:
        shutil.copytree(self.path, other.path)
        for p in other.path.rglob("*"):
            p.chmod(0o755 if p.is_dir() else 0o644)
        return other


class S3Location:
    """A store under ``s3://bucket/prefix`` of a test server (credentials from the
    session's environment, see conftest's ``s3_env``)."""

    kind = "s3"

    def __init__(self, ep: Any, prefix: str) -> None:
        self.ep, self.prefix = ep, prefix.strip("/")
        self.url = ep.url(self.prefix)
        self._client = ep.boto3_client()

    def _keys(self, top: str) -> list[str]:
        out = []
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.ep.bucket, Prefix=f"{self.prefix}/{top}")
        for page in pages:
            out += [o["Key"] for o in page.get("Contents", ())]
        return out

    def read(self, rel: str) -> bytes:
        return self._client.get_object(Bucket=self.ep.bucket, Key=f"{self.prefix}/{rel}")["Body"].read()

    def write(self, rel: str, data: bytes) -> None:
        self._client.put_object(Bucket=self.ep.bucket, Key=f"{self.prefix}/{rel}", Body=data)

    def remove(self, rel: str) -> None:
        self._client.delete_object(Bucket=self.ep.bucket, Key=f"{self.prefix}/{rel}")

    def remove_tree(self, top: str) -> None:
        for key in self._keys(top + "/"):
            self._client.delete_object(Bucket=self.ep.bucket, Key=key)

    def copy(self, other: S3Location) -> S3Location:
        for key in self._keys(""):
            self._client.copy_object(Bucket=self.ep.bucket, CopySource={"Bucket": self.ep.bucket, "Key": key},
                                     Key=other.prefix + key[len(self.prefix):])
        return other
