"""``validate``: every kind of damage of arrow_engineering.md §3 is reported with the file's path,
the store is left byte-identical, and the read API names the damaged file.

Each test copies a small real store (several recordings, null recordings, sensory arrays,
neuron metadata, checkpoints) and damages one file of it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import quantities

import mozaik_arrow as ma
from mozaik_arrow import commit, commit_transaction, schema, validation_files
from mozaik_arrow import validation as validate_mod
from mozaik_arrow.errors import CorruptFileError, FormatVersionError, MissingFileError
from mozaik_arrow.synthetic import synthetic_segment
from mozaik_arrow.validation import KINDS, Problem, ValidationReport, validate

from ._util import tree

ROOT = Path(__file__).resolve().parent.parent
STIM = {"name": "FullfieldDriftingSinusoidalGrating", "module_path": "mozaik.stimuli",
        "orientation": 0.0, "trial": 0}
EXC, INH = "V1_Exc_L4", "V1_Inh_L4"
CHECKPOINT_EVERY = 3
# commits: 1-2 recordings, 3 null recording (checkpoint), 4-5 sensory, 6 ids (checkpoint),
# 7 positions, 8 annotations: records 7 and 8 come after the last checkpoint.
N_COMMITS = 8


def _stim(trial: int) -> dict:
    return dict(STIM, trial=trial)


def _segments(trial: int) -> list:
    return [synthetic_segment(EXC, 300, n_signals=2, duration=500.0, seed=trial, first_id=1),
            synthetic_segment(INH, 60, duration=500.0, seed=100 + trial, first_id=1000)]


@pytest.fixture(scope="module")
def healthy(tmp_path_factory) -> Path:
    """A store with every kind of file; tests copy it before damaging anything."""
    path = tmp_path_factory.mktemp("validate") / "store"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(commit_transaction, "CHECKPOINT_EVERY", CHECKPOINT_EVERY)
        with ma.open(path, "w") as store:
            store.add_recording(_segments(0), _stim(0))
            store.add_recording(_segments(1), _stim(1))
            store.add_null_recording([synthetic_segment(EXC, 50, duration=500.0, seed=7)],
                                     _stim(0))
            store.add_stimulus(np.arange(12.0).reshape(3, 4), _stim(0))
            store.add_stimulus(np.ones((2, 2), dtype=np.float32), _stim(1))
            store.set_neuron_ids({EXC: np.arange(1, 301), INH: np.arange(1000, 1060)})
            store.set_neuron_positions({EXC: np.zeros((2, 300)), INH: np.ones((2, 60))})
            store.set_neuron_annotations({EXC: [{"k": i} for i in range(300)],
                                          INH: [{} for _ in range(60)]})
    assert (path / "_log" / "_last_checkpoint").read_text() == "6"
    return path


@pytest.fixture
def store(healthy, tmp_path) -> Path:
    dst = tmp_path / "store"
    shutil.copytree(healthy, dst)
    return dst


def _spikes_file(store: Path) -> str:
    """Relative path of the excitatory spikes file of recording 0 (300 neurons, 3 groups)."""
    with ma.open(store, "r") as s:
        seg = [g for g in s.get_segments() if g.annotations["sheet_name"] == EXC][0]
        (rel,) = seg._row["spikes_files"]
    return rel


def _exc_segment(s: ma.ArrowDataStore, rel: str):
    return [g for g in s.get_segments() if rel in g._row["spikes_files"]][0]


def _flip(path: Path, offset: int, mask: int = 0xFF) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= mask
    path.write_bytes(bytes(data))


def _chunk(path: Path, column: str, row_group: int = 0) -> pq.ColumnChunkMetaData:
    md = pq.read_metadata(path)
    names = [md.schema.column(j).path for j in range(md.num_columns)]
    return md.row_group(row_group).column(names.index(column))


# -- the damage -----------------------------------------------------------------------------------


def truncate_half(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def truncate_tail(p: Path) -> None:
    p.write_bytes(p.read_bytes()[:-8])


def zero_length(p: Path) -> None:
    p.write_bytes(b"")


def garble_footer_length(p: Path) -> None:
    data = bytearray(p.read_bytes())
    data[-8:-4] = (10**8).to_bytes(4, "little")
    p.write_bytes(bytes(data))


def flip_zstd_frame(p: Path) -> None:
    """A byte a few bytes into the first zstd frame of ``times`` (a compressed page)."""
    c = _chunk(p, "times.list.element")
    assert c.compression == "ZSTD"
    data = p.read_bytes()
    magic = data.find(b"\x28\xb5\x2f\xfd", c.data_page_offset)  # the frame after the header
    assert 0 < magic - c.data_page_offset < 64
    _flip(p, magic + 8)


def flip_zstd_payload(p: Path) -> None:
    """A byte in the middle of a compressed ``times`` page (raw literals: may decode)."""
    c = _chunk(p, "times.list.element")
    _flip(p, c.data_page_offset + c.total_compressed_size // 2)


def flip_bit_n_spikes(p: Path) -> None:
    """One bit of the last dictionary value of ``n_spikes`` (an uncompressed page)."""
    c = _chunk(p, "n_spikes")
    assert c.compression == "UNCOMPRESSED" and c.dictionary_page_offset is not None
    _flip(p, c.data_page_offset - 8, 0x01)


def flip_bit_t_stop(p: Path) -> None:
    """The lowest mantissa bit of t_stop (2000.0 → 2000.0000000000002), uncompressed."""
    c = _chunk(p, "t_stop")
    assert c.compression == "UNCOMPRESSED"
    _flip(p, c.data_page_offset - 8, 0x01)


def delete(p: Path) -> None:
    p.unlink()


def newer_format_in_footer(p: Path) -> None:
    """mozaik_arrow.format_version '1' → '2' in the footer's key/value metadata (same size)."""
    key = schema.FORMAT_KEY
    data = p.read_bytes()
    old = key + b"\x18\x01" + str(schema.FORMAT_VERSION).encode()
    assert data.count(old) == 1
    p.write_bytes(data.replace(old, key + b"\x18\x01" + str(schema.FORMAT_VERSION + 1).encode()))


# damage → the kinds validate must report for the file (at least these)
FILE_DAMAGE: dict[str, tuple[Callable[[Path], None], set[str]]] = {
    "truncated-50%": (truncate_half, {"size", "corrupt"}),
    "truncated-8-bytes": (truncate_tail, {"size", "corrupt"}),
    "zero-length": (zero_length, {"size", "corrupt"}),
    "footer-length-garbled": (garble_footer_length, {"corrupt"}),
    "zstd-frame-byte": (flip_zstd_frame, {"corrupt"}),
    "zstd-payload-byte": (flip_zstd_payload, {"corrupt"}),
    "bit-in-uncompressed-n_spikes": (flip_bit_n_spikes, {"corrupt"}),
    "bit-in-uncompressed-t_stop": (flip_bit_t_stop, {"corrupt"}),
    "deleted": (delete, {"missing"}),
    "newer-format-in-footer": (newer_format_in_footer, {"format"}),
}


def _report_of(store: Path) -> ValidationReport:
    """validate, asserting it changed nothing on disk."""
    before = tree(store)
    report = validate(store)
    assert tree(store) == before, "validate changed the store"
    assert all(p.kind in KINDS for p in report.problems)
    return report


@pytest.mark.parametrize("damage", list(FILE_DAMAGE))
def test_validate_reports_damaged_file(store, damage):
    fn, kinds = FILE_DAMAGE[damage]
    rel = _spikes_file(store)
    fn(store / rel)
    report = _report_of(store)
    assert not report.ok
    full = str(store / rel)
    found = {p.kind for p in report.problems if p.path == full}
    assert kinds <= found, report
    # nothing else is blamed
    assert {p.path for p in report.problems} == {full}, report
    assert all(p.severity == "error" for p in report.problems)
    assert full in str(report)


def test_checksums_catch_what_every_reader_returns_silently(store):
    """A flipped bit in an uncompressed page: pyarrow, polars and duckdb return wrong data;
    validate, which verifies page checksums, detects it."""
    rel = _spikes_file(store)
    path = store / rel
    good = pq.read_table(path).column("n_spikes").to_pylist()
    flip_bit_n_spikes(path)
    bad = pq.read_table(path).column("n_spikes").to_pylist()  # no error without checksums
    assert bad != good
    assert pl.read_parquet(path)["n_spikes"].to_list() == bad
    with pytest.raises(OSError, match="CRC checksum verification failed"):
        pq.ParquetFile(path, page_checksum_verification=True).read(columns=["n_spikes"])
    (problem,) = _report_of(store).problems
    assert problem.kind == "corrupt" and "CRC" in problem.message and "n_spikes" in problem.message


def test_counts_that_disagree_with_lists_are_reported(store):
    """A file rewritten with valid checksums but wrong n_spikes is still caught."""
    rel = _spikes_file(store)
    path = store / rel
    pf = pq.ParquetFile(path)
    table = pf.read()
    n = table.column("n_spikes").to_numpy().copy()
    n[5] += 1
    i = table.schema.get_field_index("n_spikes")
    table = table.set_column(i, table.schema.field(i), pa.array(n))
    pq.write_table(table, path, **schema.writer_options("spikes"))
    problems = _report_of(store).problems
    assert any(p.kind == "corrupt" and "row 5" in p.message for p in problems), problems


def test_wrong_schema_is_reported(store):
    rel = _spikes_file(store)
    path = store / rel
    table = pq.read_table(path)
    f32 = pa.large_list(pa.field("element", pa.float32(), nullable=False))
    table = table.set_column(table.schema.get_field_index("times"),
                             pa.field("times", f32, nullable=False),
                             table.column("times").cast(f32))
    pq.write_table(table, path)
    problems = _report_of(store).problems
    assert {p.kind for p in problems} >= {"schema", "size"}
    assert all(p.path == str(path) for p in problems)
    assert any("times is large_list<element: float not null>" in p.message for p in problems)


# -- the read API on the same damage ---------------------------------------------------------------

_READS = {  # API call → (columns it reads, the call)
    "get_spiketrains": ({"t_stop", "times"}, lambda seg: seg.get_spiketrains()),
    "get_spiketrain": ({"t_stop", "times"}, lambda seg: seg.get_spiketrain(2)),
    "get_spiketrain-list": ({"t_stop", "times"}, lambda seg: seg.get_spiketrain([300, 1])),
    "mean_rates": ({"n_spikes"}, lambda seg: seg.mean_rates()),  # one window: counts only
    "mean_rates-window": ({"t_stop", "times"},
                          lambda seg: seg.mean_rates(start=0.0 * quantities.ms,
                                                     end=100.0 * quantities.ms)),
}
_DAMAGED_COLUMN = {"zstd-frame-byte": "times", "zstd-payload-byte": "times",
                   "bit-in-uncompressed-n_spikes": "n_spikes",
                   "bit-in-uncompressed-t_stop": "t_stop"}


def _api_calls(damage: str) -> list[str]:
    """API calls that read the damaged data: each must raise an error naming the file."""
    col = _DAMAGED_COLUMN.get(damage)
    return [name for name, (cols, _) in _READS.items() if col is None or col in cols]


_API_CASES = [(d, name) for d in FILE_DAMAGE for name in _api_calls(d)]


@pytest.mark.parametrize(("damage", "call"), _API_CASES)
def test_api_names_the_damaged_file(store, damage, call):
    rel = _spikes_file(store)
    FILE_DAMAGE[damage][0](store / rel)
    fn = _READS[call][1]
    expected = {"deleted": MissingFileError,
                "newer-format-in-footer": FormatVersionError}.get(damage, CorruptFileError)
    with ma.open(store, "r") as s:
        seg = _exc_segment(s, rel)
        with pytest.raises(expected) as info:
            fn(seg)
    assert str(store / rel) in str(info.value)
    if isinstance(info.value, CorruptFileError):
        assert info.value.path == str(store / rel)


# Frames check each file's existence and size against its commit before polars reads it, so
# a missing or truncated file is named. Damage that keeps the size is left to polars, which
# reads pages without verifying their checksums and reports errors without the file's path
# (or panics): validate() finds these. A known limitation, asserted as such.
_SAME_SIZE = ("footer-length-garbled", "zstd-frame-byte", "zstd-payload-byte",
              "bit-in-uncompressed-n_spikes", "bit-in-uncompressed-t_stop", "newer-format-in-footer")
_POLARS_UNNAMED = pytest.mark.xfail(
    reason="same-size damage read by polars: no checksum verification, errors without the path",
    strict=True,
)


@pytest.mark.parametrize(
    "damage",
    [pytest.param(d, marks=_POLARS_UNNAMED) if d in _SAME_SIZE else d for d in FILE_DAMAGE],
)
def test_polars_frames_name_the_damaged_file(store, damage):
    rel = _spikes_file(store)
    FILE_DAMAGE[damage][0](store / rel)
    with ma.open(store, "r") as s:
        with pytest.raises(BaseException) as info:  # noqa: B017 - polars may panic
            s.spikes().collect()
    assert not isinstance(info.value, (KeyboardInterrupt, SystemExit))
    # polars shortens long paths ('.../spikes/...'): the file's name must be there at least
    assert os.path.basename(rel) in str(info.value)
    assert isinstance(info.value, OSError)


# -- the log -------------------------------------------------------------------------------------


def _record(store: Path, version: int) -> Path:
    return store / "_log" / f"{version:020d}.json"


def _log_damage(store: Path, how: str) -> Path:
    rec = _record(store, N_COMMITS)
    if how == "truncated":
        rec.write_bytes(rec.read_bytes()[: rec.stat().st_size // 2])
    elif how == "not-json":
        rec.write_bytes(b"\x00garbage\xff")
    elif how == "wrong-version":
        d = json.loads(rec.read_text())
        d["version"] = 3
        rec.write_text(json.dumps(d))
    elif how == "newer-format":
        d = json.loads(rec.read_text())
        d["format_version"] = schema.FORMAT_VERSION + 1
        rec.write_text(json.dumps(d))
    elif how == "bad-files-entry":
        d = json.loads(rec.read_text())
        d["files"] = [{"path": 3}]
        rec.write_text(json.dumps(d))
    return rec


@pytest.mark.parametrize(("how", "kind"), [("truncated", "log"), ("not-json", "log"),
                                           ("wrong-version", "log"),
                                           ("newer-format", "format"),
                                           ("bad-files-entry", "log")])
def test_damaged_log_record(store, how, kind):
    rec = _log_damage(store, how)
    report = _report_of(store)
    assert not report.ok
    assert any(p.path == str(rec) and p.kind == kind for p in report.problems), report
    # the data files of the records before it are still checked
    assert report.checked_files > 0 and report.version in (N_COMMITS - 1, N_COMMITS)
    if how in ("truncated", "not-json", "wrong-version"):
        with pytest.raises(CorruptFileError) as info:
            ma.open(store, "r")
        assert info.value.path == str(rec)


@pytest.mark.parametrize("how", ["newer-format", "bad-files-entry"])
def test_api_refuses_bad_log_records(store, how):
    _log_damage(store, how)
    with pytest.raises((CorruptFileError, FormatVersionError)):
        ma.open(store, "r").get_segments()


def test_gap_in_the_log(store):
    """Record 7 missing while 8 exists: readers stop at 6 and silently lose commit 8."""
    _record(store, 7).unlink()
    report = _report_of(store)
    assert not report.ok
    (p,) = [p for p in report.problems if p.kind == "log"]
    assert p.path == str(_record(store, 7)) and "missing" in p.message
    # the files commit 8 added are orphans for the API, and reported as such
    assert any(p.kind == "orphan" for p in report.problems)


def test_api_refuses_a_gap_in_the_log(store):
    _record(store, 7).unlink()
    with pytest.raises(CorruptFileError, match="00000000000000000007"):
        ma.open(store, "r")


def test_records_before_a_checkpoint_may_be_pruned(store):
    for v in range(1, 7):
        _record(store, v).unlink()
    report = _report_of(store)
    assert report.ok and report.problems == [] and report.version == N_COMMITS


def test_unreadable_checkpoint_is_a_warning_while_the_log_is_whole(store):
    (store / "_log" / f"{6:020d}.checkpoint.files.parquet").write_bytes(b"not parquet")
    report = _report_of(store)
    assert report.ok, report
    (p,) = report.problems
    assert p.kind == "log" and p.severity == "warning" and "replay" in p.message


def test_unreadable_checkpoint_with_pruned_log_is_an_error(store):
    (store / "_log" / f"{6:020d}.checkpoint.files.parquet").write_bytes(b"not parquet")
    for v in range(1, 7):
        _record(store, v).unlink()
    report = _report_of(store)
    assert not report.ok
    assert any(p.kind == "log" and "lost" in p.message for p in report.problems), report


def test_incomplete_old_checkpoint_is_a_warning(store):
    (store / "_log" / f"{3:020d}.checkpoint.files.parquet").unlink()
    report = _report_of(store)
    assert report.ok, report
    (p,) = report.problems
    assert p.severity == "warning" and "incomplete checkpoint 3" in p.message


def test_checkpoint_that_disagrees_with_the_log(store):
    ck = store / "_log" / f"{6:020d}.checkpoint.files.parquet"
    paths = pq.read_table(ck).column("path").to_pylist()
    dropped = next(p for p in paths if p.startswith("spikes/"))
    pq.write_table(pa.table({"path": [p for p in paths if p != dropped]}), ck)
    report = _report_of(store)
    assert not report.ok
    assert any(p.kind == "log" and "disagrees" in p.message
               and p.path == str(store / "_log" / f"{6:020d}.checkpoint.json")
               for p in report.problems), report


def test_newer_store_format_and_not_a_store(store, tmp_path):
    fmt = store / schema.FORMAT_FILE
    info = json.loads(fmt.read_text())
    info["format_version"] = schema.FORMAT_VERSION + 1
    fmt.write_text(json.dumps(info))
    (p,) = _report_of(store).problems
    assert p.kind == "format" and p.path == str(fmt) and "upgrade" in p.message
    fmt.write_text("{not json")
    report = _report_of(store)
    assert not report.ok and report.problems[0].kind == "format"
    assert report.checked_files > 0  # the rest is still checked
    for path in (tmp_path / "missing", tmp_path):
        report = validate(path)
        assert not report.ok and [p.kind for p in report.problems] == ["format"]
        assert "not a mozaik_arrow store" in report.problems[0].message
    assert not (tmp_path / "missing").exists()


# -- healthy stores ------------------------------------------------------------------------------


def test_healthy_store_has_no_problems(healthy, monkeypatch):
    report = _report_of(healthy)
    assert report.ok and report.problems == [], report
    with ma.open(healthy, "r") as s:
        files = s._snapshot().files
    on_disk = {str(p.relative_to(healthy)) for t in schema.TABLES
               for p in (healthy / t).rglob("*.parquet")}
    assert report.checked_files == len(files) and set(files) == on_disk
    assert report.version == N_COMMITS
    # one row group per read: the same answer
    monkeypatch.setattr(validation_files, "_READ_BUDGET", 1)
    assert validate(healthy) == report


def test_real_simulation_store_validates(filled_store):
    report = _report_of(filled_store)
    assert report.ok and report.problems == [], report


def test_problem_and_report_api(store):
    with pytest.raises(ValueError):
        Problem("/x", "bogus", "m")
    rel = _spikes_file(store)
    delete(store / rel)
    report = validate(store)
    assert report.errors == report.problems and report.warnings == []
    assert "DAMAGED" in str(report) and "[missing]" in str(report)
    assert validate_mod.main([str(store)]) == 1


# -- orphans of a crashed writer -------------------------------------------------------------------


def _writer(store: Path, first: int, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tests._crash_writer", str(store), str(first), "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize("step", ["renamed", "renamed-one"])
def test_orphans_of_a_crashed_writer_until_a_writable_open(tmp_path, step):
    store = tmp_path / "store"
    assert _writer(store, 0).returncode == 0
    proc = _writer(store, 1, {commit.CRASH_ENV: step})
    assert proc.returncode == -signal.SIGKILL
    with ma.open(store, "r") as s:
        committed = set(s._snapshot().files)
    globbed = {str(p.relative_to(store)) for t in schema.TABLES
               for p in (store / t).rglob("*.parquet")}
    orphans = globbed - committed
    assert len(orphans) == (1 if step == "renamed-one" else 7)  # 2+3 data, segments, stimuli
    report = _report_of(store)
    assert report.ok, report  # orphans are warnings
    assert {p.path for p in report.problems} == {str(store / o) for o in orphans}
    assert all(p.kind == "orphan" and p.severity == "warning" and "writable open" in p.message
               for p in report.problems)
    ma.open(store, "a").close()  # recovery
    report = _report_of(store)
    assert report.ok and report.problems == [], report


def test_readers_probe_for_a_gap_writers_list_the_log(store):
    """A reader probes the next names after the last record (opening stays flat in the log
    length); a writer lists the whole log, so it never commits into a gap."""
    last = max(int(p.name[:20]) for p in (store / "_log").glob("*.json") if p.name[:20].isdigit())
    far = _record(store, last + 20)
    far.write_bytes(_record(store, last).read_bytes())
    ma.open(store, "r").close()  # 20 names on: beyond a reader's probe
    with pytest.raises(CorruptFileError, match=far.name):
        ma.open(store, "a")
    near = _record(store, last + 3)
    near.write_bytes(_record(store, last).read_bytes())
    with pytest.raises(CorruptFileError, match=near.name):
        ma.open(store, "r")
