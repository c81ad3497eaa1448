"""The files a store writes match `schemas/`, and `schemas/` matches the code."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import mozaik_arrow as ma
from mozaik_arrow import schema
from mozaik_arrow.ads_payload import PAYLOAD_SCHEMAS

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"


def test_schema_files_are_current(tmp_path):
    schema.write_schema_files(tmp_path, PAYLOAD_SCHEMAS)
    for p in sorted(tmp_path.iterdir()):
        assert (SCHEMAS / p.name).read_text() == p.read_text(), (
            f"schemas/{p.name} is stale: run `python -m mozaik_arrow.schema schemas`"
        )


@pytest.mark.parametrize("table", sorted(schema.TABLES))
def test_written_files_match_schema_files(filled_store, table):
    spec = json.loads((SCHEMAS / f"{table}.json").read_text())
    files = sorted((filled_store / table).glob(spec["glob"].split("/", 1)[1]))
    assert files, f"the filled store has no {table} files"
    for f in files:
        # partition directories are exactly the documented ones
        parts = [p.split("=")[0] for p in f.relative_to(filled_store / table).parts[:-1]]
        assert parts == spec["partitioning"]
        arrow = pq.read_schema(f)
        fields = [(fl.name, str(fl.type), fl.nullable) for fl in arrow]
        want = [(d["name"], d["type"], d["nullable"]) for d in spec["fields"]]
        if spec["open_columns"]:  # fixed columns first, then one per parameter
            fields = fields[: len(want)]
        assert fields == want
        kv = pq.read_metadata(f).metadata
        for key in spec["metadata_keys"]:
            assert key.encode() in kv
        assert int(kv[b"mozaik_arrow.format_version"]) == spec["format_version"]
        assert kv[b"mozaik_arrow.table"].decode() == table


def test_spike_files_use_small_row_groups_and_checksummed_bss_pages(filled_store):
    for f in (filled_store / "spikes").rglob("*.parquet"):
        md = pq.read_metadata(f)
        assert all(md.row_group(i).num_rows <= schema.SPIKES_ROWS_PER_GROUP
                   for i in range(md.num_row_groups))
        paths = [md.schema.column(i).path for i in range(md.num_columns)]
        times = paths.index("times.list.element")
        col = md.row_group(0).column(times)
        assert "BYTE_STREAM_SPLIT" in col.encodings and col.compression == "ZSTD"
        # page checksums: a verified read succeeds
        pq.ParquetFile(f, page_checksum_verification=True).read()


def test_format_file(filled_store):
    info = json.loads((filled_store / schema.FORMAT_FILE).read_text())
    assert info["format"] == "mozaik_arrow" and info["format_version"] == ma.FORMAT_VERSION


def test_ads_payload_files_match_their_type_schema(filled_store):
    spec = json.loads((SCHEMAS / "ads_payloads.json").read_text())
    files = sorted((filled_store / "ads_payloads").glob("identifier=*/*.parquet"))
    assert {f.parent.name.split("=", 1)[1] for f in files} == {"PerNeuronValue", "SingleValue"}
    for f in files:
        ident = f.parent.name.split("=", 1)[1]
        arrow = pq.read_schema(f)
        assert [(fl.name, str(fl.type), fl.nullable) for fl in arrow] == [
            (d["name"], d["type"], d["nullable"]) for d in spec["types"][ident]
        ]
