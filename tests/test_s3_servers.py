"""The local S3 servers used by object-storage tests work as the store needs them to.

Quick checks of tests/s3_servers.py: moto and SeaweedFS start, refuse a second
put-if-absent (``If-None-Match: *``) with 412 PreconditionFailed, and the client option
sets (boto3, s3fs, polars, pyarrow) all reach them.
"""

from __future__ import annotations

import io
import os

import pytest

from .s3_servers import S3Endpoint, patched_environ

boto3 = pytest.importorskip("boto3")
from botocore.exceptions import ClientError  # noqa: E402


def _put_if_absent_twice(ep: S3Endpoint) -> ClientError:
    c = ep.boto3_client()
    key = ep.unique_prefix("pia") + "_log/00000001.json"
    c.put_object(Bucket=ep.bucket, Key=key, Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as ei:
        c.put_object(Bucket=ep.bucket, Key=key, Body=b"second", IfNoneMatch="*")
    assert c.get_object(Bucket=ep.bucket, Key=key)["Body"].read() == b"first"
    return ei.value


def test_moto_put_if_absent_refused_second_time(s3_moto):
    err = _put_if_absent_twice(s3_moto)
    assert err.response["Error"]["Code"] == "PreconditionFailed"
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 412


def test_moto_s3fs_create_mode_raises_file_exists(s3_moto):
    pytest.importorskip("s3fs")
    fs = s3_moto.s3fs()
    path = f"{s3_moto.bucket}/{s3_moto.unique_prefix()}x"
    fs.pipe_file(path, b"1", mode="create")
    # moto sends <Condition>If-None-Match</Condition>, which s3fs maps to FileExistsError
    with pytest.raises(FileExistsError):
        fs.pipe_file(path, b"2", mode="create")
    assert fs.cat_file(path) == b"1"


def test_moto_records_requests_with_range(s3_moto):
    c = s3_moto.boto3_client()
    key = s3_moto.unique_prefix() + "r.bin"
    c.put_object(Bucket=s3_moto.bucket, Key=key, Body=b"0123456789")
    s3_moto.clear_requests()
    assert c.get_object(Bucket=s3_moto.bucket, Key=key, Range="bytes=2-4")["Body"].read() == b"234"
    gets = [r for r in s3_moto.requests if r.method == "GET"]
    assert [(r.range, r.status) for r in gets] == [("bytes=2-4", 206)]


def test_moto_polars_and_pyarrow_read_one_row_group_in_one_request(s3_moto):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pl = pytest.importorskip("polars")
    table = pa.table({"neuron_id": [i // 100 for i in range(1000)], "t": [0.5] * 1000})
    buf = io.BytesIO()
    pq.write_table(table, buf, row_group_size=100)
    key = s3_moto.unique_prefix() + "spikes.parquet"
    s3_moto.boto3_client().put_object(Bucket=s3_moto.bucket, Key=key, Body=buf.getvalue())

    df = pl.scan_parquet(s3_moto.url(key), storage_options=s3_moto.polars_storage_options)
    assert df.filter(pl.col("neuron_id") == 3).collect().height == 100

    pf = pq.ParquetFile(f"{s3_moto.bucket}/{key}", filesystem=s3_moto.pyarrow_fs())
    s3_moto.clear_requests()
    got = pf.read_row_group(3, columns=["neuron_id", "t"])  # footer already parsed
    assert got.column("neuron_id").to_pylist() == [3] * 100
    assert [r.method for r in s3_moto.requests] == ["GET"]  # pre_buffer: one range GET


def test_environ_is_restored(s3_moto):
    before = dict(os.environ)
    with patched_environ({"AWS_PROFILE": "should-vanish"}, clear=("AWS_ENDPOINT_URL",)):
        with s3_moto.environ() as env:
            assert os.environ["AWS_ENDPOINT_URL"] == env["AWS_ENDPOINT_URL"]
            assert "AWS_PROFILE" not in os.environ
        assert os.environ["AWS_PROFILE"] == "should-vanish"
        assert "AWS_ENDPOINT_URL" not in os.environ
    assert dict(os.environ) == before


def test_seaweed_starts_and_refuses_second_put_if_absent(s3_seaweed):
    assert s3_seaweed.process is not None and s3_seaweed.process.poll() is None
    err = _put_if_absent_twice(s3_seaweed)
    assert err.response["Error"]["Code"] == "PreconditionFailed"
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 412


def test_seaweed_s3fs_create_mode_error_shape(s3_seaweed):
    """SeaweedFS omits <Condition> in its 412, so s3fs raises OSError(EINVAL), not
    FileExistsError: code must look at ``__cause__`` (a ClientError) to tell."""
    pytest.importorskip("s3fs")
    fs = s3_seaweed.s3fs()
    path = f"{s3_seaweed.bucket}/{s3_seaweed.unique_prefix()}x"
    fs.pipe_file(path, b"1", mode="create")
    with pytest.raises(OSError) as ei:
        fs.pipe_file(path, b"2", mode="create")
    cause = ei.value.__cause__
    assert isinstance(ei.value, FileExistsError) or (
        isinstance(cause, ClientError) and cause.response["Error"]["Code"] == "PreconditionFailed")
    assert fs.cat_file(path) == b"1"


def test_seaweed_rejects_wrong_secret_without_leaking_it(s3_seaweed):
    import dataclasses

    bad = dataclasses.replace(s3_seaweed, secret_key="wrong-secret-LEAKCHECK")
    with pytest.raises(ClientError) as ei:
        bad.boto3_client().list_objects_v2(Bucket=s3_seaweed.bucket)
    assert ei.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert "LEAKCHECK" not in str(ei.value)
