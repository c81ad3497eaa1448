"""Hostile and malformed input, fuzzed: each case is accepted and reads back exactly, or is
refused with a clear ``ValueError`` and leaves the store on disk unchanged.

CI runs a bounded number of examples (``MOZAIK_ARROW_FUZZ_EXAMPLES=N`` for more); the
strategies are shared with ``python -m benchmarks.stress_fuzz --cases 10000``, the stress run
(a fresh small store every few hundred cases), which writes its figures to RESULTS.md.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mozaik_arrow as ma
from benchmarks._fuzz_strategies import PWNED, stimuli, tree
from benchmarks._fuzz_strategies import segment as _segment
from mozaik_arrow.parametrized import canonical_stimulus, parse_stimulus_string

N = int(os.environ.get("MOZAIK_ARROW_FUZZ_EXAMPLES", "60"))
SETTINGS = settings(max_examples=N, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
COUNTS = {"accepted": 0, "refused": 0}


@pytest.fixture
def store(tmp_path):
    s = ma.open(tmp_path / "store", "w")
    yield s
    s.close()


def _try(store, fn) -> bool:
    before = tree(store.root)
    try:
        fn()
    except ValueError:
        assert tree(store.root) == before, "a refused input changed the store"
        COUNTS["refused"] += 1
        return False
    COUNTS["accepted"] += 1
    return True


@SETTINGS
@given(stimulus=stimuli)
def test_fuzz_stimuli(store, stimulus):
    seg = _segment([[1.0]], 10.0, [1], "V1_Exc_L4")
    n_before = len(store.get_segments())
    if _try(store, lambda: store.add_recording(seg, stimulus)):
        got = store.get_stimuli()[-1]
        assert len(store.get_segments()) == n_before + 1
        assert canonical_stimulus(got)[1] == canonical_stimulus(stimulus)[1]
        if isinstance(stimulus, str):
            assert got == stimulus  # strings come back byte-identical
        assert parse_stimulus_string(got)["name"]
    assert not os.path.exists(PWNED)


trains_st = st.lists(st.lists(st.one_of(st.floats(-5.0, 120.0), st.just(math.nan)), max_size=6),
                     min_size=0, max_size=4)


@SETTINGS
@given(times=trains_st, ids=st.lists(st.integers(-3, 5), min_size=0, max_size=4),
       sheet=st.one_of(st.none(), st.sampled_from(["V1_Exc_L4", "a/b", "..", "x=y", "50%", "é"]),
                       st.text(max_size=8)),
       shape=st.one_of(st.none(), st.tuples(st.integers(0, 4), st.integers(0, 3))),
       trial=st.integers(0, 10**6))
def test_fuzz_segments(store, times, ids, sheet, shape, trial):
    try:
        seg = _segment(times, 100.0, ids, sheet, signal_shape=shape)
    except (ValueError, TypeError):
        return  # neo itself refuses it: nothing reaches the store
    stim = {"name": "Fuzz", "trial": trial}
    if _try(store, lambda: store.add_recording(seg, stim)):
        got = next(s for s in store.get_segments()
                   if canonical_stimulus(s.annotations["stimulus"])[1] == canonical_stimulus(stim)[1])
        by_id = {st_.annotations["channel_id"]: st_ for st_ in seg.spiketrains}
        for train in got.get_spiketrains():
            want = by_id[train.annotations["channel_id"]]
            assert np.array_equal(train.magnitude, want.magnitude)
            assert not any(math.isnan(x) for x in train.magnitude)


def test_fuzz_counts_reported():
    # A record of how many cases ran (printed with -s).
    print(f"fuzz cases: {COUNTS}")
