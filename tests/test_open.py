"""Opening and creating stores: modes, format version, errors, context manager."""

from __future__ import annotations

import json

import pytest

import mozaik_arrow as ma
from mozaik_arrow import schema
from mozaik_arrow.synthetic import synthetic_segment

from ._util import tree

STIM = {"name": "FullfieldDriftingSinusoidalGrating", "module_path": "mozaik.stimuli", "orientation": 0.0, "trial": 0}


def test_create_then_open_each_mode(store_path):
    with ma.open(store_path, "w") as store:
        assert store.writable
        store.add_recording(synthetic_segment("V1_Exc_L4", 20, seed=1), STIM)
    info = json.loads((store_path / schema.FORMAT_FILE).read_text())
    assert info["format_version"] == schema.FORMAT_VERSION
    with ma.open(store_path) as store:  # default "r"
        assert not store.writable
        assert len(store.get_segments()) == 1
    with ma.open(store_path, "a") as store:
        store.add_recording(synthetic_segment("V1_Exc_L4", 20, seed=2), dict(STIM, trial=1))
    with pytest.raises(ma.StoreExistsError):
        ma.open(store_path, "w")


def test_mozaik_constructor(store_path):
    store = ma.ArrowDataStore(False, {"root_directory": str(store_path)})
    store.add_recording(synthetic_segment("V1_Exc_L4", 10, seed=1), STIM)
    store.save()
    store.close()
    again = ma.ArrowDataStore(True, {"root_directory": str(store_path)})
    assert again.writable and len(again.get_segments()) == 1
    again.close()
    with pytest.raises(ma.StoreExistsError):
        ma.ArrowDataStore(False, {"root_directory": str(store_path)})
    with pytest.raises(ValueError, match="root_directory"):
        ma.ArrowDataStore(False, {"root": "x"})


def test_append_mode_creates_missing_store(store_path):
    with ma.open(store_path, "a") as store:
        assert store.get_segments() == []
    assert (store_path / schema.FORMAT_FILE).exists()


def test_not_a_store(tmp_path):
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "notes.txt").write_text("hello")
    for mode in ("r", "a"):
        with pytest.raises(ma.NotAStoreError, match="not a mozaik_arrow store"):
            ma.open(tmp_path / "plain", mode)
    with pytest.raises(ma.StoreExistsError, match="non-empty directory"):
        ma.open(tmp_path / "plain", "w")
    with pytest.raises(ma.StoreExistsError):
        ma.ArrowDataStore(False, {"root_directory": str(tmp_path / "plain")})
    with pytest.raises(ma.NotAStoreError):
        ma.ArrowDataStore(True, {"root_directory": str(tmp_path / "missing")})
    (tmp_path / "file").write_text("x")
    with pytest.raises(ma.NotAStoreError, match="not a directory"):
        ma.open(tmp_path / "file", "r")
    assert (tmp_path / "plain" / "notes.txt").read_text() == "hello"
    assert sorted(p.name for p in (tmp_path / "plain").iterdir()) == ["notes.txt"]
    assert not (tmp_path / "missing").exists()


def test_newer_format_version_is_refused(store_path):
    ma.open(store_path, "w").close()
    fmt = store_path / schema.FORMAT_FILE
    info = json.loads(fmt.read_text())
    info["format_version"] = schema.FORMAT_VERSION + 1
    fmt.chmod(0o644)
    fmt.write_text(json.dumps(info))
    for mode in ("r", "a"):
        with pytest.raises(ma.FormatVersionError, match="format version 2"):
            ma.open(store_path, mode)


def test_read_only_store_refuses_every_write_and_changes_nothing(store_path):
    with ma.open(store_path, "w") as store:
        store.add_recording(synthetic_segment("V1_Exc_L4", 10, seed=1), STIM)
    before = tree(store_path)
    with ma.open(store_path, "r") as store:
        seg = synthetic_segment("V1_Exc_L4", 10, seed=2)
        for call in (
            lambda: store.add_recording(seg, dict(STIM, trial=3)),
            lambda: store.add_null_recording(seg, dict(STIM, trial=3)),
            lambda: store.add_stimulus([[1.0]], dict(STIM, trial=3)),
            lambda: store.set_neuron_ids({"V1_Exc_L4": [1, 2]}),
            lambda: store.set_neuron_positions({"V1_Exc_L4": [[0.0, 1.0], [0.0, 1.0]]}),
            lambda: store.set_neuron_annotations({"V1_Exc_L4": [{}, {}]}),
        ):
            with pytest.raises(PermissionError, match="read-only"):
                call()
        assert len(store.get_segments()) == 1
    assert tree(store_path) == before


def test_context_manager_keeps_what_was_added_before_an_exception(store_path):
    with pytest.raises(RuntimeError, match="boom"):
        with ma.open(store_path, "w") as store:
            store.add_recording(synthetic_segment("V1_Exc_L4", 10, seed=1), STIM)
            raise RuntimeError("boom")
    with ma.open(store_path, "r") as store:
        assert len(store.get_segments()) == 1


def test_hdf5_datastore_points_to_the_importer(store_path):
    with pytest.raises(NotImplementedError, match="import-mozaik"):
        ma.Hdf5DataStore(True, {"root_directory": str(store_path)})


def test_writes_by_another_process_are_seen_after_load(store_path):
    with ma.open(store_path, "w") as writer, ma.open(store_path, "r") as reader:
        assert reader.get_segments() == []
        writer.add_recording(synthetic_segment("V1_Exc_L4", 10, seed=1), STIM)
        assert len(reader.get_segments()) == 1  # every access reads new commits


def test_store_under_a_path_with_glob_characters(tmp_path):
    """polars reads a list of paths as globs by default: '[', '*', '?' in a store's path
    must not turn its files into patterns (silently no rows)."""
    import numpy as np
    import quantities as pq

    from mozaik_arrow.ads import SingleValue
    from mozaik_arrow.neo_convert import Recording

    path = tmp_path / "sweep[1]*?" / "store"
    rec = Recording.from_arrays("V1", np.arange(3), np.array([1.0, 2.0, 3.0]),
                                np.array([0, 1, 2, 3]), t_stop=10.0)
    with ma.open(path, "w") as s:
        s.add_recording(rec, {"name": "Blank", "trial": 0})
        s.add_analysis_result(SingleValue(1.0, pq.Hz, value_name="r"))
    with ma.open(path, "r") as s:
        assert s.spikes().collect().height == 3
        assert len(s.get_analysis_result(value_name="r")) == 1

        from mozaik_arrow.sql import connect

        assert connect(s).sql("SELECT count(*) FROM spikes").fetchall() == [(3,)]
    assert ma.validate(path).ok
