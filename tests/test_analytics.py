"""Vectorised statistics agree with mozaik's per-train rules on real PyNN/NEST recordings."""

from __future__ import annotations

import numpy as np
import quantities as pq

import mozaik_arrow as ma
from mozaik_arrow import analytics
from mozaik_arrow.synthetic import spike_arrays


def _mozaik_cv(isi):
    return np.std(isi) / np.mean(isi) if len(isi) > 4 else None


def test_segment_statistics_match_mozaik_rules(sim, filled_store):
    with ma.open(filled_store, "r") as store:
        for seg in store.get_segments() + store.get_segments(null=True):
            trains = list(seg.get_spiketrains())
            rates = seg.mean_rates()
            want = [len(st) / float((st.t_stop - st.t_start).rescale(pq.s)) for st in trains]
            assert np.allclose(rates, want, rtol=1e-12)
            lo, hi = trains[0].t_start + 20 * pq.ms, trains[0].t_start + 120 * pq.ms
            window = seg.mean_rates(lo, hi)
            want = [len(st.time_slice(lo, hi)) / float((hi - lo).rescale(pq.s)) for st in trains]
            assert np.allclose(window, want, rtol=1e-12)
            isis = seg.isi()
            assert len(isis) == len(trains)
            for got, st in zip(isis, trains, strict=True):
                assert np.array_equal(np.asarray(got), np.diff(st.magnitude))
                assert got.units == st.units
            cvs = seg.cv_isi()
            for got, st in zip(cvs, trains, strict=True):
                ref = _mozaik_cv(np.diff(st.magnitude))
                assert (got is None) == (ref is None)
                if ref is not None:
                    assert abs(got - ref) <= 1e-9 * ref


def test_cv_isi_array_on_many_trains_matches_numpy():
    values, offsets = spike_arrays(3000, 30.0, 2000.0, seed=5)
    cv = analytics.cv_isi_array(values, offsets)
    for i in range(0, 3000, 7):
        ref = _mozaik_cv(np.diff(values[offsets[i]:offsets[i + 1]]))
        if ref is None:
            assert np.isnan(cv[i])
        else:
            assert abs(cv[i] - ref) <= 1e-9 * ref
    # offsets that do not start at 0 (a slice of a bigger buffer)
    sub = analytics.cv_isi_array(values, offsets[100:200])
    assert np.array_equal(sub, cv[100:199], equal_nan=True)


def test_window_counts_include_both_ends():
    values = np.array([1.0, 2.0, 3.0, 5.0, 7.0])
    offsets = np.array([0, 3, 3, 5])
    assert analytics.window_counts(values, offsets, 2.0, 5.0).tolist() == [2, 0, 1]


def test_mean_rates_with_a_window_per_train(store_path):
    from mozaik_arrow.neo_convert import Recording

    values, offsets = spike_arrays(50, 20.0, 1000.0, seed=3)
    t_stop = np.full(50, 1000.0)
    t_stop[::2] = 2000.0  # half the trains were recorded twice as long
    rec = Recording.from_arrays("V1_Exc_L4", np.arange(50), values, offsets, t_stop=t_stop)
    uniform = Recording.from_arrays("V1_Inh_L4", np.arange(50), values, offsets, t_stop=1000.0)
    assert not rec.same_window and uniform.same_window
    with ma.open(store_path, "w") as store:
        store.add_recording([rec, uniform], {"name": "Blank", "trial": 0})
    with ma.open(store_path, "r") as store:
        for seg in store.get_segments():
            want = [len(st) / float(st.t_stop - st.t_start) * 1000.0 for st in seg.get_spiketrains()]
            assert np.allclose(seg.mean_rates(), want, rtol=1e-12)
