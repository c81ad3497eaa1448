"""Malformed input gets a clear error naming the problem, and nothing on disk changes."""

from __future__ import annotations

import neo
import numpy as np
import pytest
import quantities as pq

import mozaik_arrow as ma
from mozaik_arrow.synthetic import synthetic_segment

from ._util import tree

STIM = {"name": "FullfieldDriftingSinusoidalGrating", "module_path": "mozaik.stimuli", "orientation": 0.0, "trial": 0}


@pytest.fixture
def store(store_path):
    s = ma.open(store_path, "w")
    s.add_recording(synthetic_segment("V1_Exc_L4", 12, n_signals=3, seed=1), STIM)
    s.add_stimulus(np.zeros((2, 3, 3)), STIM)
    s.set_neuron_ids({"V1_Exc_L4": np.arange(1, 13)})
    yield s
    s.close()


def _train(times, t_stop=100.0, units="ms", **ann):
    return neo.SpikeTrain(times, units=units, t_stop=t_stop, **ann)


def _seg(*trains, sheet="V1_Exc_L4", signals=()):
    seg = neo.Segment(sheet_name=sheet) if sheet else neo.Segment()
    seg.spiketrains = list(trains)
    for s in signals:
        seg.analogsignals.append(s)
    return seg


def _sig(n_channels, ids, name="v", units="mV"):
    return neo.AnalogSignal(np.zeros((5, n_channels)), units=units, sampling_period=0.1 * pq.ms,
                            name=name, channel_ids=np.asarray(ids))


BAD_SEGMENTS = {
    "no sheet": (_seg(_train([1.0], channel_id=1), sheet=None), "sheet"),
    "no neuron id": (_seg(_train([1.0])), "id"),
    "duplicate ids": (_seg(_train([1.0], channel_id=1), _train([2.0], channel_id=1)), "duplicate"),
    "unsorted": (_seg(_train([3.0, 1.0], channel_id=1)), "sorted"),
    "outside": (_seg(_train([1.0, 150.0], t_stop=200.0, channel_id=1),
                     _train([1.0, 150.0], t_stop=100.0, channel_id=2) if False else
                     _train([5.0], channel_id=2)), None),
    "mixed units": (_seg(_train([1.0], channel_id=1), _train([0.001], units="s", t_stop=0.1, channel_id=2)), "units"),
    "channels vs ids": (_seg(_train([1.0], channel_id=1), signals=[_sig(3, [1, 2])]), "3"),
    "mixed signal units": (_seg(_train([1.0], channel_id=1),
                                signals=[_sig(1, [1]), _sig(1, [2], units="V")]), "units"),
    "empty": (_seg(), "nothing"),
}


def _outside_segment():
    st = _train([1.0, 50.0], t_stop=100.0, channel_id=1)
    # neo refuses times outside [t_start, t_stop] at construction: widen the window after.
    st.t_stop = 40.0 * pq.ms
    return _seg(st)


@pytest.mark.parametrize("case", [k for k in BAD_SEGMENTS if k != "outside"] + ["outside"])
def test_bad_segments_are_refused_and_store_unchanged(store, case):
    seg, match = BAD_SEGMENTS[case]
    if case == "outside":
        seg, match = _outside_segment(), "t_stop|outside"
    before = tree(store.root)
    with pytest.raises(ValueError, match=match):
        store.add_recording(seg, dict(STIM, trial=7))
    assert tree(store.root) == before
    assert len(store.get_segments()) == 1


@pytest.mark.parametrize("stimulus", [
    "__import__('os').system('touch /tmp/mozaik_arrow_pwned')",
    "{'name': __import__('os').getcwd()}",
    "{'name': 'X'",
    "[1, 2]",
    b"{'name': 'X'}",
    42,
    {"orientation": 0.0},  # no name
])
def test_bad_stimuli_are_refused(store, stimulus, tmp_path):
    before = tree(store.root)
    with pytest.raises(ValueError):
        store.add_recording(synthetic_segment("V1_Inh_L4", 3, seed=2), stimulus)
    assert tree(store.root) == before
    import os
    assert not os.path.exists("/tmp/mozaik_arrow_pwned")


def test_duplicate_recording_is_refused(store):
    before = tree(store.root)
    with pytest.raises(ValueError, match="already has a recording"):
        store.add_recording(synthetic_segment("V1_Exc_L4", 5, seed=3), STIM)
    # the same stimulus spelled differently is the same stimulus
    respelled = {k: STIM[k] for k in reversed(list(STIM))}
    respelled["orientation"] = 0  # int spelling of 0.0
    with pytest.raises(ValueError, match="already has a recording"):
        store.add_recording(synthetic_segment("V1_Exc_L4", 5, seed=3), respelled)
    # two segments of one call for the same sheet
    with pytest.raises(ValueError, match="share a sheet"):
        store.add_recording([synthetic_segment("V1_Inh_L4", 2, seed=4),
                             synthetic_segment("V1_Inh_L4", 2, seed=5)], dict(STIM, trial=9))
    with pytest.raises(ValueError, match="already has a sensory"):
        store.add_stimulus(np.ones(3), respelled)
    assert tree(store.root) == before
    # a null recording of the same sheet and stimulus is a different recording
    store.add_null_recording(synthetic_segment("V1_Exc_L4", 5, seed=3), STIM)
    with pytest.raises(ValueError, match="already has a null recording"):
        store.add_null_recording(synthetic_segment("V1_Exc_L4", 5, seed=3), STIM)


def test_bad_neuron_metadata(store):
    before = tree(store.root)
    with pytest.raises(ValueError, match="1-D integer"):
        store.set_neuron_ids({"V1_Exc_L4": [[1, 2]]})
    with pytest.raises(ValueError, match="not unique"):
        store.set_neuron_ids({"V1_Exc_L4": [1, 1]})
    with pytest.raises(ValueError, match="shape"):
        store.set_neuron_positions({"V1_Exc_L4": np.zeros((5, 12))})
    with pytest.raises(ValueError, match="12 neurons"):
        store.set_neuron_positions({"V1_Exc_L4": np.zeros((2, 11))})
    with pytest.raises(ValueError, match="not a dict"):
        store.set_neuron_annotations({"V1_Exc_L4": [1] * 12})
    with pytest.raises(ValueError, match="annotation 0"):
        store.set_neuron_annotations({"V1_Exc_L4": [{"f": object()}] * 12})
    with pytest.raises(ValueError, match="sheet names"):
        store.set_neuron_ids({"": [1]})
    assert tree(store.root) == before


def test_bad_sensory_stimulus(store):
    before = tree(store.root)
    with pytest.raises(ValueError, match="numeric"):
        store.add_stimulus(np.array([object()]), dict(STIM, trial=3))
    assert tree(store.root) == before


def test_sheet_names_that_break_paths_are_escaped(store):
    for sheet in ("V1 Exc/L4", "a=b", "..", "50%"):
        store.add_recording(synthetic_segment(sheet, 3, seed=8), dict(STIM, trial=11))
    sheets = set(store.sheets())
    assert {"V1 Exc/L4", "a=b", "..", "50%"} <= sheets
    df = store.spikes().collect()
    assert set(df["sheet_name"].to_list()) == sheets
    for seg in store.get_segments():
        assert len(seg.get_spiketrains()) == seg.neuron_num()


def _one_train_segment(sheet: str):
    import neo

    seg = neo.Segment(sheet_name=sheet)
    seg.spiketrains = [neo.SpikeTrain([1.0], units="ms", t_stop=10.0, channel_id=1)]
    return seg


def _everything(path):
    """Every path in the store but this writer's own registration (``_staging/<w>/``)."""
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")
                  if not str(p.relative_to(path)).startswith("_staging"))


def test_over_long_or_invalid_sheet_names_are_refused_cleanly(tmp_path):
    with ma.open(tmp_path / "s", "w") as s:
        before = _everything(tmp_path / "s")
        with pytest.raises(ValueError, match="too long"):
            s.add_recording(_one_train_segment("V" * 300), {"name": "X"})
        with pytest.raises(ValueError, match="surrogate"):
            s.add_recording(_one_train_segment("V1\ud800"), {"name": "X"})
        with pytest.raises(ValueError, match="surrogate"):
            s.set_neuron_ids({"V1\ud800": [1, 2]})
        assert _everything(tmp_path / "s") == before


def test_a_commit_failing_while_publishing_leaves_nothing(tmp_path):
    """The spikes directory is a file: publishing fails after the intent was written; the
    refusal takes back the intent and every directory the attempt made."""
    path = tmp_path / "s"
    ma.open(path, "w").close()
    (path / "spikes").write_text("not a directory")
    with ma.open(path, "a") as s:
        before = _everything(path)
        with pytest.raises(OSError):
            s.add_recording(_one_train_segment("V1"), {"name": "X"})
        assert _everything(path) == before
        left = [p.name for p in (path / "_staging").rglob("*") if p.name.startswith(("intent-", "log-"))]
        assert left == []
    assert ma.validate(path).ok


@pytest.mark.parametrize("name", ["a/\ud800", "b/x\0y"])
def test_invalid_store_paths_create_nothing(tmp_path, name):
    with pytest.raises(ValueError):
        ma.open(tmp_path / "root" / name, "w")
    assert not (tmp_path / "root").exists()


def test_importing_does_not_start_polars_threads_before_a_fork(tmp_path):
    """A process forked after `import mozaik_arrow` must be able to use polars."""
    import subprocess
    import sys

    code = ("import os, polars as pl, pyarrow as pa, pyarrow.parquet as pq\n"
            f"p = {str(tmp_path / 'x.parquet')!r}\n"
            "pq.write_table(pa.table({'a': list(range(100000))}), p)\n"
            "import mozaik_arrow\n"
            "pid = os.fork()\n"
            "if pid == 0:\n    pl.read_parquet(p); os._exit(0)\n"
            "assert os.waitpid(pid, 0)[1] == 0\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
