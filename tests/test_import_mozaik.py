"""Import of mozaik PickledDataStore directories (mozaik_arrow.importers).

- the store mozaik itself wrote (tests/data/mozaik_pickled_store_small, a copy of
  ../shared/fixtures/, so that a clean clone has it) is imported and everything mozaik reads
  back from it (the ``.expected.json`` beside it) is compared with what our store reads back;
- resumability: a second import skips everything and changes no file; an interrupted import
  finishes when run again;
- hostile pickles are refused naming the global, nothing is executed or written;
- synthetic stores with null recordings (EndOfSimulationBlank), other ADS classes and both
  ``param`` layouts, written by a fake ``mozaik`` package in a subprocess (the importer never
  imports mozaik, and this test process never does either).
"""

from __future__ import annotations

import gc
import hashlib
import io
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import neo
import numpy as np
import polars as pl
import pytest

import mozaik_arrow as ma
from mozaik_arrow.importers import (
    ImportProgress,
    RestrictedUnpickler,
    UnsafePickleError,
    from_neo,
    import_mozaik,
    load_pickle,
    read_neo_file,
    scan_pickle,
)

from ._util import tree

HERE = Path(__file__).parent
NAME = "mozaik_pickled_store_small"
SHARED = HERE.parents[1] / "shared" / "fixtures"


def _fixture_dir() -> Path:
    for base in (HERE / "data", SHARED):
        if (base / NAME / "datastore.recordings.pickle").is_file():
            return base
    pytest.skip(f"fixture {NAME} not found in tests/data or ../shared/fixtures")


@pytest.fixture(scope="module")
def fixture_src() -> Path:
    return _fixture_dir() / NAME


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((_fixture_dir() / f"{NAME}.expected.json").read_text())


@pytest.fixture(scope="module")
def imported(fixture_src, tmp_path_factory):
    dest = tmp_path_factory.mktemp("imported") / "store"
    events: list[ImportProgress] = []
    report = import_mozaik(fixture_src, dest, progress=events.append)
    return dest, report, events


def test_copy_of_fixture_matches_shared():
    if not (SHARED / NAME).is_dir():
        pytest.skip("../shared/fixtures is not here (a clean clone): nothing to compare")
    for f in sorted((SHARED / NAME).iterdir()) + [SHARED / f"{NAME}.expected.json"]:
        ours = HERE / "data" / f.relative_to(SHARED)
        assert hashlib.sha256(ours.read_bytes()).digest() == \
            hashlib.sha256(f.read_bytes()).digest(), f"tests/data copy of {f.name} differs"


# -- the store mozaik wrote -----------------------------------------------------------------
def test_fixture_report(imported):
    _, report, events = imported
    assert report.ok, report.summary()
    assert report.counts()["imported"] == {"recording": 4, "sensory": 2, "analysis": 2,
                                           "neuron_ids": 1, "neuron_positions": 1}
    assert report.skipped == [] and report.failed == []
    phases = [e.phase for e in events]
    assert phases.index("check") < phases.index("recordings") < phases.index("analysis")
    last = [e for e in events if e.phase == "recordings"][-1]
    assert (last.done, last.total) == (4, 4)


def test_fixture_neurons(imported, expected):
    store = ma.open(imported[0])
    for sheet, ids in expected["neuron_ids"].items():
        assert store.get_sheet_ids(sheet).tolist() == ids
    positions = store.get_neuron_positions()
    assert set(positions) == set(expected["neuron_positions"])
    for sheet, pos in expected["neuron_positions"].items():
        assert positions[sheet].tolist() == pos  # bit for bit


def test_fixture_recordings(imported, expected):
    store = ma.open(imported[0])
    segs = store.get_segments()
    want = expected["segments"]
    assert [s["null"] for s in want] == [False] * len(want)
    assert store.get_segments(null=True) == []
    assert len(segs) == len(want)
    assert store.get_stimuli() == [s["stimulus"] for s in want]  # byte-identical strings
    for seg, exp in zip(segs, want, strict=True):
        assert seg.annotations["stimulus"] == exp["stimulus"]
        assert seg.annotations["sheet_name"] == exp["sheet_name"]
        assert seg.get_stored_spike_train_ids() == [t["source_id"] for t in exp["spiketrains"]]
        for st, t in zip(seg.spiketrains, exp["spiketrains"], strict=True):
            assert st.annotations["source_id"] == t["source_id"]
            assert st.units.dimensionality.string == t["units"]
            assert float(st.t_start.magnitude) == t["t_start"]
            assert float(st.t_stop.magnitude) == t["t_stop"]
            assert len(st) == t["n"]
            assert float(st.magnitude.sum()) == pytest.approx(t["sum"], rel=1e-12, abs=1e-12)
            assert st.magnitude[: len(t["first"])].tolist() == t["first"]
        sigs = {s.name: s for s in seg.analogsignals}
        assert sorted(sigs) == sorted(a["name"] for a in exp["analogsignals"])
        for a in exp["analogsignals"]:
            sig = sigs[a["name"]]
            assert sig.units.dimensionality.string == a["units"]
            assert list(sig.shape) == a["shape"]
            assert float(sig.sampling_period.magnitude) == a["sampling_period"]
            assert sig.sampling_period.dimensionality.string == a["sampling_period_units"]
            assert float(sig.t_start.magnitude) == a["t_start"]
            assert list(map(int, sig.annotations["source_ids"])) == a["source_ids"]
            assert float(sig.magnitude.sum()) == pytest.approx(a["sum"], rel=1e-12)


def test_fixture_sensory_and_analysis(imported, expected):
    store = ma.open(imported[0])
    sensory = store.sensory_stimulus_copy()
    assert list(sensory) == list(expected["sensory_stimulus"])
    for stim, exp in expected["sensory_stimulus"].items():
        assert list(sensory[stim].shape) == exp["shape"]
        assert float(sensory[stim].sum()) == pytest.approx(exp["sum"], rel=1e-12)
    results = store.get_analysis_result()
    assert [str(r) for r in results] == [a["str"] for a in expected["analysis_results"]]
    assert [r.identifier for r in results] == [a["identifier"] for a in expected["analysis_results"]]
    assert [r.tags for r in results] == [a["tags"] for a in expected["analysis_results"]]
    # payloads equal what the pickle holds (read here through the restricted unpickler)
    shells = load_pickle(_fixture_dir() / NAME / "datastore.analysis.pickle")
    pnv, sv = results
    np.testing.assert_array_equal(pnv.values, shells[0].captured_state["values"])
    assert pnv.ids == list(shells[0].captured_state["ids"])
    assert pnv.value_units.dimensionality.string == "Hz"
    assert sv.value == shells[1].captured_state["value"]


def test_fixture_equals_direct_write(imported, fixture_src, tmp_path):
    """import-mozaik gives the store that writing the same segments directly gives."""
    direct = tmp_path / "direct"
    with ma.open(direct, "w") as store:
        for i in range(4):
            with open(fixture_src / f"Segment{i}.pickle", "rb") as f:
                seg = pickle.load(f)  # the trusted fixture: plain neo, no mozaik classes
            store.add_recording(seg, seg.annotations["stimulus"])
    a, b = ma.open(imported[0]), ma.open(direct)
    key = ["segment_id", "neuron_id"]
    assert a.spikes().collect().sort(key).equals(b.spikes().collect().sort(key))
    key = ["segment_id", "name", "neuron_id"]
    assert a.signals().collect().sort(key).equals(b.signals().collect().sort(key))
    cols = ["segment_id", "sheet_name", "stimulus", "stimulus_string", "null", "t_start",
            "t_stop", "time_units", "n_neurons", "n_spikes", "signal_names"]
    assert a.segments_frame().select(cols).collect().equals(
        b.segments_frame().select(cols).collect())


# -- resumability ---------------------------------------------------------------------------------
def test_second_import_skips_everything(imported, fixture_src, tmp_path):
    dest = tmp_path / "store"
    shutil.copytree(imported[0], dest)
    before = tree(dest)
    report = import_mozaik(fixture_src, dest)
    assert report.imported == [] and report.failed == []
    assert report.counts()["skipped"] == {"recording": 4, "sensory": 2, "analysis": 2,
                                          "neuron_ids": 1, "neuron_positions": 1}
    assert all(i.reason for i in report.skipped)
    assert tree(dest) == before


class _Stop(Exception):
    pass


def test_interrupted_import_resumes(fixture_src, tmp_path):
    dest = tmp_path / "store"

    def stop_after_two(ev: ImportProgress) -> None:
        if ev.phase == "recordings" and ev.done == 2:
            raise _Stop

    with pytest.raises(_Stop):
        import_mozaik(fixture_src, dest, progress=stop_after_two)
    assert len(ma.open(dest).get_segments()) == 2  # durable: each add_recording committed
    report = import_mozaik(fixture_src, dest)
    assert report.ok
    assert [i.name for i in report.skipped if i.kind == "recording"] == \
        ["Segment0.pickle", "Segment1.pickle"]
    assert [i.name for i in report.imported if i.kind == "recording"] == \
        ["Segment2.pickle", "Segment3.pickle"]
    store = ma.open(dest)
    assert len(store.get_segments()) == 4 and len(store.get_analysis_result()) == 2


# -- hostile pickles ------------------------------------------------------------------------------
def _writable_copy(src: Path, dst: Path) -> Path:
    """A copy of ``src`` (possibly a read-only tree) whose files can be replaced."""
    shutil.copytree(src, dst, copy_function=shutil.copyfile)
    dst.chmod(0o755)
    return dst


class _Reduce:
    """An object that pickles as ``fn(*args)``."""

    def __init__(self, fn, *args) -> None:
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def _hostile(kind: str, marker: Path) -> tuple[object, str]:
    cmd = f"touch {marker}"
    if kind == "os.system":
        return _Reduce(os.system, cmd), f"{os.system.__module__}.system"
    if kind == "eval":
        return _Reduce(eval, f"__import__('os').system({cmd!r})"), "builtins.eval"
    return _Reduce(subprocess.Popen, ["touch", str(marker)]), "subprocess.Popen"


@pytest.mark.parametrize(("kind", "target"), [
    ("os.system", "Segment3.pickle"),
    ("eval", "datastore.analysis.pickle"),
    ("Popen", "datastore.sensory.stimulus.pickle"),
    ("os.system", "datastore.recordings.pickle"),
])
def test_hostile_pickle_refused_nothing_written(fixture_src, tmp_path, kind, target):
    src = _writable_copy(fixture_src, tmp_path / "src")
    marker = tmp_path / "executed"
    payload, name = _hostile(kind, marker)
    # hidden deep inside otherwise legitimate content, after three good segments
    seg = neo.Segment(name="evil", sheet_name="V1_Inh_L4")
    seg.annotations["nested"] = {"a": [1, 2, {"b": payload}]}
    block = neo.Block()
    block.annotations["neuron_ids"] = {"V1_Exc_L4": payload}
    obj = {"Segment3.pickle": seg, "datastore.analysis.pickle": [payload],
           "datastore.sensory.stimulus.pickle": {"stim": payload},
           "datastore.recordings.pickle": block}[target]
    (src / target).write_bytes(pickle.dumps(obj, protocol=4))
    dest = tmp_path / "dest"
    with pytest.raises(UnsafePickleError) as info:
        import_mozaik(src, dest)
    assert name in str(info.value) and target in str(info.value)
    assert info.value.global_name == name
    assert isinstance(info.value, pickle.UnpicklingError)
    assert not marker.exists()
    assert not dest.exists()  # checked before the store was even created
    # the unpickler refuses it on its own too (no static check first)
    with pytest.raises(UnsafePickleError, match=name.replace(".", r"\.")):
        RestrictedUnpickler(io.BytesIO(pickle.dumps(obj, protocol=2))).load()
    assert not marker.exists()


def test_admitted_callable_misused_is_refused():
    # numpy's array reconstruction asked to build a dict: refused, not called
    evil = _Reduce(np._core.multiarray._reconstruct, dict, (0,), b"b")
    with pytest.raises(UnsafePickleError, match="_reconstruct"):
        RestrictedUnpickler(io.BytesIO(pickle.dumps(evil, protocol=4))).load()


def test_global_with_computed_name_is_refused(tmp_path):
    def s(text: str) -> bytes:
        return b"\x8c" + bytes([len(text)]) + text.encode()

    # builtins.str("os") then STACK_GLOBAL("os", "system"): the module name is not a literal
    data = (b"\x80\x04" + s("builtins") + s("str") + b"\x93" + s("os") + b"\x85R"
            + s("system") + b"\x93" + s("true") + b"\x85R.")
    path = tmp_path / "computed.pickle"
    path.write_bytes(data)
    with pytest.raises(pickle.UnpicklingError, match="STACK_GLOBAL"):
        scan_pickle(path)  # the dry run never calls str: the name is not a string
    with pytest.raises(UnsafePickleError, match=r"os\.system"):
        RestrictedUnpickler(io.BytesIO(data)).load()


def test_units_come_from_the_registry():
    import quantities as pq
    from quantities.dimensionality import Dimensionality
    from quantities.unitquantity import UnitTime

    # a pickle whose 'millisecond' is 1000 s and whose format order differs from quantities'
    fake = UnitTime.__new__(UnitTime, "millisecond", 1000 * pq.s, "ms")
    fake._format_order = (99, 99)
    q = pq.Quantity(1.0)
    q._dimensionality = Dimensionality({fake: 1})
    data = pickle.dumps(q, protocol=4)
    order = pq.ms._format_order
    got = RestrictedUnpickler(io.BytesIO(data)).load()
    assert got.dimensionality.string == "ms"
    assert float(got.rescale(pq.s).magnitude) == 0.001  # quantities' definition, not 1000 s
    assert pq.ms._format_order == order  # the registered unit is untouched


# -- synthetic stores: null recordings, other ADS classes, param 2 ---------------------------------
FAKE_MOZAIK = HERE / "data" / "fake_mozaik"


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> tuple[Path, dict]:
    """A store written by the fake mozaik of tests/data/fake_mozaik, in a subprocess."""
    root = tmp_path_factory.mktemp("fake_mozaik")
    env = {**os.environ, "PYTHONPATH": str(FAKE_MOZAIK), "PYTHONDONTWRITEBYTECODE": "1"}
    src = root / "src"
    subprocess.run([sys.executable, str(FAKE_MOZAIK / "write_store.py"), str(src)],
                   check=True, env=env, cwd=root, timeout=120)
    return src, json.loads((src / "expected.json").read_text())


def _live_segments() -> int:
    return sum(type(o) is neo.Segment for o in gc.get_objects())


@pytest.fixture(scope="module")
def synthetic_imported(synthetic, tmp_path_factory):
    src, _ = synthetic
    dest = tmp_path_factory.mktemp("synthetic") / "store"
    gc.collect()
    baseline, most = _live_segments(), [0]

    def watch(ev: ImportProgress) -> None:
        # counted (without collecting garbage) half way and at the end: segments must be
        # freed as soon as written, else they pile up
        if ev.phase == "recordings" and ev.done in (ev.total // 2, ev.total):
            most[0] = max(most[0], _live_segments() - baseline)

    report = import_mozaik(src, dest, progress=watch)
    report.most_segments_in_memory = most[0]  # for test_synthetic_report
    return dest, report


def test_synthetic_report(synthetic_imported):
    _, report = synthetic_imported
    assert report.ok, report.summary()
    counts = report.counts()
    assert counts["imported"] == {"recording": 4, "null_recording": 6, "analysis": 9,
                                  "sensory": 2, "neuron_ids": 1, "neuron_positions": 1,
                                  "neuron_annotations": 1} | (
        {"metadata": 1} if hasattr(ma.ArrowDataStore, "set_model_parameters") else {})
    assert any("PerNeuronPairAnalogSignalList: identifier 'AnalogSignalList'" in n
               for n in report.notes)
    assert "mozaik" not in sys.modules and "param" not in sys.modules
    assert report.most_segments_in_memory <= 1  # one segment's data at a time


def test_synthetic_recordings(synthetic_imported, synthetic):
    dest, _ = synthetic_imported
    _, exp = synthetic
    store = ma.open(dest)
    for null in (False, True):
        segs = store.get_segments(null=null)
        want = [s for s in exp["segments"] if s["null"] == null]
        assert [(s.annotations["sheet_name"], s.annotations["stimulus"]) for s in segs] == \
            [(w["sheet"], w["stimulus"]) for w in want]
        for seg, w in zip(segs, want, strict=True):
            assert seg.null is null
            got = [[int(st.annotations["source_id"]), len(st), float(st.magnitude.sum())]
                   for st in seg.spiketrains]
            assert got == w["trains"]
            sigs = {s.name: [list(s.shape), float(s.magnitude.sum())] for s in seg.analogsignals}
            assert sigs.keys() == w["signals"].keys()
            for name, (shape, total) in w["signals"].items():
                assert sigs[name][0] == shape
                assert sigs[name][1] == pytest.approx(total, rel=1e-12)
    blanks = store.get_stimuli(null=True)
    assert blanks[-2:] == [exp["end_blank"]] * 2  # object and string give the same string
    assert '"name":\'EndOfSimulationBlank\'' in exp["end_blank"]
    assert exp["end_blank"].startswith('{"module_path" :"mozaik.stimuli",')
    frame = store.segments_frame().collect()
    assert frame.filter(pl.col("null")).height == 6


def test_synthetic_analysis_results(synthetic_imported, synthetic):
    dest, _ = synthetic_imported
    _, exp = synthetic
    store = ma.open(dest)
    results = store.get_analysis_result()
    assert [type(r).__name__ for r in results] == [a["class"] for a in exp["ads"]]
    by_class = {type(r).__name__: r for r in results}
    for r, a in zip(results, exp["ads"], strict=True):
        if a["class"] == "PerNeuronPairAnalogSignalList":  # identifier corrected
            assert str(r) == a["str"].replace("'AnalogSignalList'", "'PerNeuronPairAnalogSignalList'")
        else:
            assert str(r) == a["str"]
        assert r.tags == a["tags"]
    pair = by_class["PerNeuronPairValue"]
    assert pair.values.shape == (4, 4) and pair.ids == [3, 4, 5, 6]
    assert by_class["SingleValueList"].value_name == "latencies"  # param 2.x layout
    assert by_class["SingleValueList"].values == [1.0, 2.0, 3.5]
    asl = by_class["AnalogSignalList"]
    assert len(asl.asl) == 2 and asl.ids == [3, 4] and asl.y_axis_name == "trial-averaged vm"
    csl = by_class["ConductanceSignalList"]
    assert len(csl.e_con) == len(csl.i_con) == 2
    assert csl.e_con[0].units.dimensionality.string == "uS"
    assert by_class["PerNeuronPairAnalogSignalList"].ids == [(3, 4), (4, 5)]
    conn = by_class["Connections"]
    assert conn.weights.shape == (2, 3) and conn.source_size == 8
    assert store.get_analysis_result(identifier="PerNeuronPairAnalogSignalList")


def test_synthetic_neurons_and_sensory(synthetic_imported, synthetic):
    dest, _ = synthetic_imported
    _, exp = synthetic
    store = ma.open(dest)
    assert store.get_sheet_ids("V1_Inh_L4").tolist() == [405, 406, 407, 408]
    assert {k: v.tolist() for k, v in store.get_neuron_positions().items()} == exp["neurons"]
    assert store.get_neuron_annotations()["V1_Exc_L4"][2] == {"type": "Exc", "index": 2}
    sensory = store.sensory_stimulus_copy()
    assert {k: [list(v.shape), float(v.sum())] for k, v in sensory.items()} == exp["sensory"]


def test_synthetic_resume_skips_everything(synthetic_imported, synthetic):
    dest, _ = synthetic_imported
    src, _ = synthetic
    before = tree(dest)
    report = import_mozaik(src, dest)
    assert report.imported == [] and report.ok
    assert tree(dest) == before


def test_bad_entries_are_reported_not_fatal(synthetic, tmp_path):
    src = _writable_copy(synthetic[0], tmp_path / "src")
    (src / "Segment2.pickle").unlink()
    data = (src / "Segment5.pickle").read_bytes()
    (src / "Segment5.pickle").write_bytes(data[: len(data) // 2])  # truncated: not hostile
    report = import_mozaik(src, tmp_path / "store")
    assert not report.ok
    assert [(i.kind, i.name) for i in report.failed] == [
        ("recording", "Segment2.pickle"), ("null_recording", "Segment5.pickle")]
    assert "missing" in report.failed[0].reason
    assert "cannot be read" in report.failed[1].reason
    assert len(report.imported) > 10
    assert "FAILED recording Segment2.pickle" in report.summary()


def test_wrapper_identifier_outside_the_store_is_refused(synthetic, tmp_path):
    src = synthetic[0].parent / "src_bad_identifier"
    report = import_mozaik(src, tmp_path / "store")
    assert [(i.kind, i.name) for i in report.failed] == [("recording", "../src/Segment2.pickle")]
    assert "not a file name" in report.failed[0].reason
    assert ma.open(tmp_path / "store").get_segments() == []


def test_not_a_mozaik_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a mozaik"):
        import_mozaik(tmp_path, tmp_path / "store")
    assert not (tmp_path / "store").exists()


# -- neo objects and files ------------------------------------------------------------------------
def test_from_neo_and_neo_pickles(fixture_src, tmp_path):
    with open(fixture_src / "Segment0.pickle", "rb") as f:
        seg = pickle.load(f)
    stim = seg.annotations.pop("stimulus")
    del seg.annotations["sheet_name"]
    path = tmp_path / "seg.pkl"
    block = neo.Block()
    block.segments.append(seg)
    path.write_bytes(pickle.dumps(block))
    (blk,) = read_neo_file(path)  # through the restricted unpickler
    with ma.open(tmp_path / "store", "w") as store:
        assert from_neo(blk, store, [stim], sheet_name="Exc") == 1
        assert "sheet_name" not in blk.segments[0].annotations  # caller's object unchanged
    got = ma.open(tmp_path / "store").get_segments()
    assert [(s.annotations["sheet_name"], s.annotations["stimulus"]) for s in got] == \
        [("Exc", stim)]
    assert got[0].neuron_num() == len(seg.spiketrains)


def test_neo_nix_file(fixture_src, tmp_path):
    pytest.importorskip("nixio")
    with open(fixture_src / "Segment1.pickle", "rb") as f:
        full = pickle.load(f)
    seg = neo.Segment(name="small", sheet_name="V1_Inh_L4")
    seg.spiketrains.extend(full.spiketrains[:5])
    seg.analogsignals.append(full.analogsignals[2])
    block = neo.Block()
    block.segments.append(seg)
    path = tmp_path / "run.nix"
    io_ = neo.io.NixIO(str(path), mode="ow")
    io_.write_block(block)
    io_.close()
    blocks = read_neo_file(path)
    with ma.open(tmp_path / "store", "w") as store:
        from_neo(blocks, store, full.annotations["stimulus"])
    (got,) = ma.open(tmp_path / "store").get_segments()
    assert got.annotations["sheet_name"] == "V1_Inh_L4"
    assert got.get_stored_spike_train_ids() == [405, 406, 407, 408, 409]
    np.testing.assert_array_equal(got.get_spiketrain(407).magnitude,
                                  full.spiketrains[2].magnitude)


@pytest.mark.parametrize("name", [
    "builtins.getattr", "builtins.eval", "builtins.__import__", "os.system", "posix.system",
    "subprocess.Popen", "numpy.load", "numpy.testing._private.utils.runstring",
    "pickle.loads", "copyreg._extension_registry", "neo.io.PickleIO",
    "mozaik.analysis.data_structures.SomethingElse", "mozaik.tools.misc.run",
    "mozaik.stimuli.lowercase_function", "__builtin__.eval", "quantities.unitquantity.os",
])
def test_allow_list_refuses(name):
    from mozaik_arrow.importers import lookup_global

    module, _, attr = name.rpartition(".")
    with pytest.raises(UnsafePickleError):
        lookup_global(module, attr)


def test_allow_list_maps_mozaik_onto_stand_ins():
    from mozaik_arrow.importers import lookup_global, standins

    shell = lookup_global("mozaik.stimuli.vision.visual_stimulus_library",
                          "FullfieldDriftingSinusoidalGrating")
    assert issubclass(shell, standins.StimulusShell)
    assert issubclass(lookup_global("mozaik.analysis.data_structures", "Connections"),
                      standins.ADSShell)
    assert issubclass(lookup_global("mozaik.storage.neo_neurotools_wrapper",
                                    "PickledDataStoreNeoWrapper"), standins.SegmentShell)
    assert lookup_global("copy_reg", "_reconstructor") is \
        lookup_global("copyreg", "_reconstructor")  # Python 2 names
    assert lookup_global("neo.core.spiketrain", "SpikeTrain") is neo.SpikeTrain


def test_pickled_datastore_reads_a_mozaik_directory(fixture_src, expected):
    """SPEC: PickledDataStore opens a mozaik directory read-only through the restricted
    unpickler; its segments are PickledDataStoreNeoWrapper; queries work on it."""
    import mozaik_arrow as ma

    store = ma.PickledDataStore(True, {"root_directory": str(fixture_src)})
    tmp = Path(store.root)
    try:
        segs = store.get_segments()
        assert segs and all(isinstance(s, ma.PickledDataStoreNeoWrapper) for s in segs)
        want = [g for g in expected["segments"] if not g["null"]]
        assert sorted((s.annotations["sheet_name"], s.annotations["stimulus"]) for s in segs) == \
            sorted((g["sheet_name"], g["stimulus"]) for g in want)
        view = ma.queries.param_filter_query(store, sheet_name="V1_Inh_L4")
        assert {s.annotations["sheet_name"] for s in view.get_segments()} == {"V1_Inh_L4"}
        with pytest.raises(ma.ReadOnlyError):
            store.add_analysis_result(store.get_analysis_result()[0])
    finally:
        store.close()
    assert not tmp.exists()
    with pytest.raises(ma.ReadOnlyError):
        ma.PickledDataStore(False, {"root_directory": str(fixture_src)})
