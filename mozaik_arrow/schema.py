"""The on-disk format: every table's Arrow schema, writer settings and the format version.

This module is the single definition of the format. ``schemas/*.json`` at the top of the
repository is generated from it (``python -m mozaik_arrow.schema schemas/``) and the test-suite
checks both that the JSON files are current and that every file the store writes matches them.

Layout of a store (``<root>`` is the store directory)::

    <root>/mozaik_arrow.json                      format file (format version, created, ...)
    <root>/_log/<version:020d>.json               commit log (the truth about what exists)
    <root>/_staging/<writer>/...                  temp files, outside every documented glob
    <root>/spikes/sheet=<s>/stimulus=<k>/<uuid>.parquet    one row per neuron
    <root>/signals/sheet=<s>/stimulus=<k>/<uuid>.parquet   one row per neuron per signal
    <root>/segments/<uuid>.parquet                one row per recording
    <root>/stimuli/<uuid>.parquet                 one row per stimulus
    <root>/sensory/stimulus=<k>/<uuid>.parquet    raw sensory stimulus arrays
    <root>/neurons/<uuid>.parquet                 neuron ids, positions, annotations
    <root>/ads/<uuid>.parquet                     one row per analysis result
    <root>/ads_payloads/identifier=<t>/<uuid>.parquet   analysis results' payloads
    <root>/run/<uuid>.parquet                     model, sheet and experiment parameters

Partition columns (``sheet``, ``stimulus``) live only in the directory names; files carry the
sheet as ``sheet_name`` so a single file read without hive partitioning still says which
sheet it holds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa

FORMAT_VERSION = 1
"""Version of the on-disk format written by this library; newer stores are refused."""

FORMAT_FILE = "mozaik_arrow.json"
FORMAT_KEY = b"mozaik_arrow.format_version"
TABLE_KEY = b"mozaik_arrow.table"

# Row-group sizes chosen from measurements (see ../shared/reference/arrow_engineering.md §1.2):
# 128 neurons per group makes one neuron a ~0.3 ms read; signals aim at ~32 k samples per
# group (4 neurons of 10 k samples) so a single Vm trace stays a small read.
SPIKES_ROWS_PER_GROUP = 128
SIGNAL_VALUES_PER_GROUP = 32_768
METADATA_ROWS_PER_GROUP = 65_536
ADS_ROWS_PER_GROUP = 4_096  # reading one ADS's exact parameters decodes at most this many
# Files are bounded in size so that one recording encodes on several cores at once and no
# single file grows with the sheet (a 1e6-neuron sheet is several files, not one).
SPIKES_PER_FILE = 2_500_000
SIGNAL_VALUES_PER_FILE = 16_000_000



def _list(value_type: pa.DataType) -> pa.DataType:
    # Parquet names list elements "element" (the compliant nested layout pyarrow writes);
    # declaring the same name here makes written and read schemas identical.
    return pa.large_list(pa.field("element", value_type, nullable=False))


TIME_LIST = _list(pa.float64())


def _field(name: str, type_: pa.DataType, nullable: bool = False, doc: str = "") -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={b"doc": doc.encode()} if doc else None)


SPIKES = pa.schema(
    [
        _field("segment_id", pa.string(), doc="recording id, joins to segments.segment_id"),
        _field("sheet_name", pa.string(), doc="sheet (neuron population) of the recording"),
        _field("null", pa.bool_(), doc="True for null (blank) recordings"),
        _field("neuron_id", pa.int64(), doc="PyNN id of the neuron (channel_id / source_id)"),
        _field("units", pa.string(), doc="time units of times, t_start and t_stop, as given"),
        _field("t_start", pa.float64(), doc="start of the spike train, in `units`"),
        _field("t_stop", pa.float64(), doc="end of the spike train, in `units`"),
        _field("n_spikes", pa.int64(), doc="number of spikes (rates without decoding times)"),
        _field("times", TIME_LIST, doc="sorted spike times, float64, in `units`"),
    ],
    metadata={FORMAT_KEY: str(FORMAT_VERSION).encode(), TABLE_KEY: b"spikes"},
)

SIGNALS = pa.schema(
    [
        _field("segment_id", pa.string(), doc="recording id, joins to segments.segment_id"),
        _field("sheet_name", pa.string(), doc="sheet (neuron population) of the recording"),
        _field("null", pa.bool_(), doc="True for null (blank) recordings"),
        _field("neuron_id", pa.int64(), doc="PyNN id of the neuron (channel_ids / source_ids)"),
        _field("name", pa.string(), doc="signal name: v, gsyn_exc, gsyn_inh, ..."),
        _field("units", pa.string(), doc="units of the samples, as given"),
        _field("time_units", pa.string(), doc="units of t_start and sampling_period"),
        _field("t_start", pa.float64(), doc="time of the first sample, in time_units"),
        _field("sampling_period", pa.float64(), doc="sampling period, in time_units"),
        _field("n_samples", pa.int64(), doc="number of samples"),
        _field("samples", TIME_LIST, doc="the samples, float64, in `units`"),
    ],
    metadata={FORMAT_KEY: str(FORMAT_VERSION).encode(), TABLE_KEY: b"signals"},
)

SEGMENTS = pa.schema(
    [
        _field("segment_id", pa.string(), doc="recording id: g + 16 hex of (sheet, stimulus, null)"),
        _field("sheet_name", pa.string()),
        _field("stimulus", pa.string(), doc="stimulus key: s + 16 hex digits"),
        _field("stimulus_string", pa.string(), doc="canonical mozaik string of the stimulus"),
        _field("null", pa.bool_()),
        _field("version", pa.int64(), doc="commit version that added the recording"),
        _field("t_start", pa.float64(), nullable=True, doc="segment start in time_units"),
        _field("t_stop", pa.float64(), nullable=True, doc="segment end in time_units"),
        _field("time_units", pa.string(), nullable=True),
        _field("n_neurons", pa.int64(), doc="number of spike trains"),
        _field("n_spikes", pa.int64(), doc="total number of spikes"),
        _field("same_window", pa.bool_(),
               doc="every spike train has the segment's t_start and t_stop"),
        _field("signal_names", _list(pa.string()), doc="names of recorded signals"),
        _field("spikes_files", _list(pa.string()),
               doc="spike files (paths relative to the root), by ascending neuron id"),
        _field("spikes_first_ids", _list(pa.int64()), doc="first neuron id of each spike file"),
        _field("signals_files", _list(pa.string()),
               doc="signal files, each one signal name and a range of neuron ids"),
        _field("signals_file_names", _list(pa.string()), doc="signal name of each signal file"),
        _field("signals_first_ids", _list(pa.int64()), doc="first neuron id of each signal file"),
        _field("name", pa.string(), nullable=True, doc="neo Segment.name"),
        _field("description", pa.string(), nullable=True, doc="neo Segment.description"),
        _field("annotations", pa.string(), nullable=True, doc="other annotations, a literal dict"),
    ],
    metadata={FORMAT_KEY: str(FORMAT_VERSION).encode(), TABLE_KEY: b"segments"},
)

STIMULI = pa.schema(
    [
        _field("stimulus", pa.string(), doc="stimulus key: s + 16 hex digits"),
        _field("stimulus_string", pa.string(), doc="canonical mozaik string"),
        _field("name", pa.string(), nullable=True, doc="stimulus class name"),
        _field("module_path", pa.string(), nullable=True, doc="module of the stimulus class"),
        _field("version", pa.int64(), doc="commit version that first stored the stimulus"),
        _field("_pairs", _list(pa.string()),
               doc="every parameter as name=normalised JSON value (what queries compare)"),
    ],
    metadata={FORMAT_KEY: str(FORMAT_VERSION).encode(), TABLE_KEY: b"stimuli"},
)
"""Fixed columns of the stimuli table; every stimulus parameter (``orientation``, ``trial``,
nested parameter sets expanded with ``_``) follows in the files as a typed column of its own."""

SENSORY = pa.schema(
    [
        _field("stimulus", pa.string(), doc="stimulus key"),
        _field("stimulus_string", pa.string()),
        _field("dtype", pa.string(), doc="numpy dtype string (byte order explicit)"),
        _field("shape", _list(pa.int64())),
        _field("data", pa.large_binary(), doc="raw array bytes, C order"),
    ],
    metadata={FORMAT_KEY: str(FORMAT_VERSION).encode(), TABLE_KEY: b"sensory"},
)

NEURONS = pa.schema(
    [
        _field("sheet_name", pa.string()),
        _field("index", pa.int64(), doc="position of the neuron within its sheet"),
        _field("neuron_id", pa.int64(), nullable=True),
        _field("x", pa.float64(), nullable=True),
        _field("y", pa.float64(), nullable=True),
        _field("z", pa.float64(), nullable=True),
        _field("annotations", pa.string(), nullable=True, doc="per-neuron literal dict"),
    ],
    metadata={FORMAT_KEY: str(FORMAT_VERSION).encode(), TABLE_KEY: b"neurons"},
)

ADS = pa.schema(
    [
        _field("ads_key", pa.string(), doc="identity: a + 32 hex of the normalised parameters"),
        _field("identifier", pa.string(), doc="ADS type (class name)"),
        _field("stimulus", pa.string(), nullable=True, doc="stimulus key of stimulus_id"),
        _field("tags", _list(pa.string()), doc="the ADS's tags"),
        _field("_params", pa.string(), doc="every declared parameter, JSON (exact values)"),
        _field("_declared", _list(pa.string()), doc="parameter names the ADS type declares"),
        _field("_pairs", _list(pa.string()),
               doc="every parameter as name=normalised JSON value (what queries compare)"),
        _field("_version", pa.int64(), doc="commit version that added the ADS"),
        _field("_position", pa.int64(), doc="order within that commit"),
        _field("_payload_file", pa.string(), doc="payload file, relative to the root"),
        _field("_payload_row", pa.int64(), doc="row of the payload file"),
    ],
    metadata={FORMAT_KEY: str(FORMAT_VERSION).encode(), TABLE_KEY: b"ads"},
)
"""Fixed columns of the ADS metadata table. Every parameter of the ADS (``sheet_name``,
``value_name``, ``period``, ``stimulus_id``, ...) follows as a column of its own, typed by its
values; files of different ADS types hold different parameter columns (read them with
duckdb's ``union_by_name = true`` or polars' ``how="diagonal_relaxed"``)."""

RUN = pa.schema(
    [
        _field("_kind", pa.string(), doc="model, sheet or experiment"),
        _field("_name", pa.string(), nullable=True,
               doc="the sheet (sheet rows) or the experiment's class (experiment rows)"),
        _field("_position", pa.int64(), doc="order of the experiment in the list; 0 otherwise"),
        _field("_text", pa.string(), doc="the parameters as a Python-literal string"),
    ],
    metadata={FORMAT_KEY: str(FORMAT_VERSION).encode(), TABLE_KEY: b"run"},
)
"""Run-level parameters: the model's, each sheet's and the experiments'. The model row also
holds every model parameter as a typed column named by its dotted path
(``sheets.V1_Exc_L4.density``), so the runs of a parameter search can be compared in SQL."""

TABLES: dict[str, pa.Schema] = {
    "spikes": SPIKES,
    "signals": SIGNALS,
    "segments": SEGMENTS,
    "stimuli": STIMULI,
    "sensory": SENSORY,
    "neurons": NEURONS,
    "ads": ADS,
    "run": RUN,
}

# Partition columns per table (directory names, hive style); files never hold them.
PARTITIONS: dict[str, tuple[str, ...]] = {
    "spikes": ("sheet", "stimulus"),
    "signals": ("sheet", "stimulus"),
    "sensory": ("stimulus",),
    "segments": (),
    "stimuli": (),
    "neurons": (),
    "ads": (),
    "run": (),
    "ads_payloads": ("identifier",),
}

# Globs for ad-hoc use by polars / duckdb; documented in the README.
GLOBS: dict[str, str] = {
    name: name + "/" + "".join(f"{p}=*/" for p in parts) + "*.parquet"
    for name, parts in PARTITIONS.items()
}


def empty_table(arrow_schema: pa.Schema) -> pa.Table:
    """A table of no rows with ``arrow_schema`` (``Schema.empty_table()`` imports pandas,
    ~0.3 s on a first query)."""
    return pa.Table.from_batches([], schema=arrow_schema)


def writer_options(table: str, arrow_schema: pa.Schema | None = None) -> dict[str, Any]:
    """Keyword arguments for ``pyarrow.parquet.ParquetWriter`` for one table.

    Payload columns (lists of floats: spike times, samples; raw bytes) are zstd-compressed,
    floats with BYTE_STREAM_SPLIT (2.5 B/spike, the fastest encoder measured), except signal
    samples: noisy float64 barely compresses (6.5 of 8 B/sample with zstd, 6.7 with lz4), so
    they use lz4 (LZ4_RAW), ~20% less encoding CPU and faster to decode. The small
    per-row columns stay uncompressed and dictionary/RLE or delta encoded: they cost ~1 byte
    a neuron, and skipping a zstd frame per tiny page makes per-neuron and whole-column reads
    of them (ids, counts, t_start/t_stop) 2-3x faster. Every page has a CRC, so a flipped
    bit is detected instead of returned. Statistics only where they select row groups:
    neuron ids, signal names, the recording's keys and ``null`` (a frame filtered to real
    recordings then skips the null ones' row groups unread).
    """
    schema = arrow_schema if arrow_schema is not None else TABLES[table]
    if table not in ("spikes", "signals"):
        # Metadata and analysis results: read whole or by large row groups, so plain zstd
        # with dictionary-encoded strings (the per-neuron tuning below does not apply).
        floats = [f"{f.name}.list.element" for f in schema
                  if pa.types.is_large_list(f.type) and pa.types.is_floating(f.type.value_type)]
        return {"compression": "zstd", "compression_level": 1, "use_byte_stream_split": floats,
                "write_page_checksum": True}
    compression: dict[str, str] = {}
    encoding: dict[str, str] = {}
    dictionary: list[str] = []
    for f in schema:
        if pa.types.is_large_list(f.type):
            leaf = f"{f.name}.list.element"
            compression[leaf] = "lz4" if table == "signals" else "zstd"
            if pa.types.is_floating(f.type.value_type):
                encoding[leaf] = "BYTE_STREAM_SPLIT"
            else:
                dictionary.append(leaf)
        elif pa.types.is_large_binary(f.type):
            compression[f.name] = "zstd"
            encoding[f.name] = "PLAIN"
        elif pa.types.is_list(f.type) or pa.types.is_fixed_size_list(f.type) or pa.types.is_struct(f.type):
            compression[f.name] = "zstd"  # nested payload columns of analysis results
        elif f.name in ("neuron_id", "index"):
            compression[f.name] = "none"
            encoding[f.name] = "DELTA_BINARY_PACKED"
        else:
            compression[f.name] = "none"
            dictionary.append(f.name)
    return {
        "compression": compression,
        "use_dictionary": dictionary,
        "column_encoding": encoding,
        "write_page_checksum": True,
        "write_statistics": ["neuron_id", "name", "segment_id", "stimulus", "sheet_name", "index",
                             "null"],
    }


def compliant(type_: pa.DataType) -> pa.DataType:
    """``type_`` as a Parquet file gives it back: list elements named ``element``."""
    if pa.types.is_large_list(type_) or pa.types.is_list(type_) or pa.types.is_fixed_size_list(type_):
        f = type_.value_field
        inner = pa.field("element", compliant(f.type), nullable=f.nullable)
        if pa.types.is_fixed_size_list(type_):
            return pa.list_(inner, type_.list_size)
        return pa.large_list(inner) if pa.types.is_large_list(type_) else pa.list_(inner)
    if pa.types.is_struct(type_):
        return pa.struct([pa.field(f.name, compliant(f.type), f.nullable) for f in type_])
    return type_


def describe(schema: pa.Schema) -> dict[str, Any]:
    """Machine-readable description of one table schema (the content of ``schemas/*.json``)."""
    meta = schema.metadata or {}
    return {
        "table": meta[TABLE_KEY].decode(),
        "format_version": FORMAT_VERSION,
        "partitioning": list(PARTITIONS[meta[TABLE_KEY].decode()]),
        "glob": GLOBS[meta[TABLE_KEY].decode()],
        # The ADS and stimuli tables add one typed column per parameter after their fixed ones.
        "open_columns": meta[TABLE_KEY] in (b"ads", b"stimuli", b"run"),
        "metadata_keys": sorted(k.decode() for k in meta),
        "fields": [
            {
                "name": f.name,
                "type": str(f.type),
                "nullable": f.nullable,
                "doc": (f.metadata or {}).get(b"doc", b"").decode(),
            }
            for f in schema
        ],
    }


def write_schema_files(
    directory: str | Path, payloads: dict[str, pa.Schema] | None = None
) -> list[Path]:
    """Write ``<table>.json`` for every table and ``format.json`` into ``directory``.

    ``payloads`` (``mozaik_arrow.ads_payload.PAYLOAD_SCHEMAS``) adds ``ads_payloads.json``:
    the payload schema of each analysis-result type, stored under
    ``ads_payloads/identifier=<type>/``.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if payloads is not None:
        p = out / "ads_payloads.json"
        doc = {
            "table": "ads_payloads",
            "format_version": FORMAT_VERSION,
            "partitioning": list(PARTITIONS["ads_payloads"]),
            "glob": GLOBS["ads_payloads"],
            "types": {
                ident: [
                    {"name": f.name, "type": str(compliant(f.type)), "nullable": f.nullable}
                    for f in sch
                ]
                for ident, sch in sorted(payloads.items())
            },
        }
        p.write_text(json.dumps(doc, indent=2) + "\n")
        written.append(p)
    for name, schema in TABLES.items():
        p = out / f"{name}.json"
        p.write_text(json.dumps(describe(schema), indent=2) + "\n")
        written.append(p)
    p = out / "format.json"
    p.write_text(json.dumps({"format_version": FORMAT_VERSION, "format_file": FORMAT_FILE}, indent=2) + "\n")
    written.append(p)
    return written


def strip_field_docs(schema: pa.Schema) -> pa.Schema:
    """The schema as written to files: field docs live in ``schemas/``, not in every footer."""
    return pa.schema([f.remove_metadata() for f in schema], metadata=schema.metadata)


if __name__ == "__main__":  # pragma: no cover - a maintenance command
    from mozaik_arrow.ads_payload import PAYLOAD_SCHEMAS

    for path in write_schema_files(sys.argv[1] if len(sys.argv) > 1 else "schemas", PAYLOAD_SCHEMAS):
        print(path)
