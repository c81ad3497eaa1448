"""Elephant and the store's vectorised statistics agree on real PyNN/NEST recordings.

Elephant runs on the ``neo.SpikeTrain`` objects the store returns; the store's figures come
from its Arrow data (``MozaikSegment.mean_rates``/``isi``/``cv_isi`` and the polars frame
functions of ``mozaik_arrow.analytics``).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import polars as pl
import pytest
import quantities as pq

import mozaik_arrow as ma
from mozaik_arrow import analytics

elephant = pytest.importorskip("elephant")
from elephant.conversion import BinnedSpikeTrain  # noqa: E402
from elephant.statistics import cv, isi, mean_firing_rate, time_histogram  # noqa: E402


@pytest.fixture(autouse=True)
def _quiet_elephant():
    """Elephant warns about every rounding correction and discarded spike (expected here)
    and about quantities' deprecated ``copy`` argument (its own business)."""
    logging.getLogger("elephant").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture(scope="module")
def store(filled_store):
    return ma.open(filled_store, "r")


def _segments(store):
    return store.get_segments() + store.get_segments(null=True)


def test_rates_isi_and_cv_agree_with_elephant(store):
    stats = analytics.spike_statistics(store, with_isi=True).collect()
    n_cv = 0
    for seg in _segments(store):
        trains = list(seg.get_spiketrains())
        mine = stats.filter(pl.col("segment_id") == seg.identifier)
        assert mine["neuron_id"].to_list() == [st.annotations["source_id"] for st in trains]
        want = np.array([float(mean_firing_rate(st).rescale(pq.Hz)) for st in trains])
        assert np.allclose(seg.mean_rates(), want, rtol=1e-12, atol=0)
        assert np.allclose(mine["rate_hz"].to_numpy(), want, rtol=1e-12, atol=0)
        seg_isi, seg_cv = seg.isi(), seg.cv_isi()
        for st, got_isi, got_cv, frame_isi, frame_cv in zip(
                trains, seg_isi, seg_cv, mine["isi"].to_list(), mine["cv_isi"].to_list(),
                strict=True):
            ref = isi(st)
            assert np.array_equal(np.asarray(got_isi), ref.magnitude)
            assert got_isi.units == ref.units
            assert np.array_equal(np.asarray(frame_isi, dtype=np.float64), ref.magnitude)
            if len(ref) > 4:  # mozaik's rule: CV defined for more than four intervals
                want_cv = float(cv(ref.magnitude))  # scipy.stats.variation: std (ddof=0) / mean
                assert got_cv == pytest.approx(want_cv, rel=1e-9)
                assert frame_cv == pytest.approx(want_cv, rel=1e-9)
                n_cv += 1
            else:
                assert got_cv is None and frame_cv is None
    assert n_cv > 20  # the comparison really ran


@pytest.mark.parametrize("bin_size", [5.0 * pq.ms, 7.0 * pq.ms, 0.003 * pq.s, 2.5])
def test_binned_counts_equal_binned_spike_train_and_time_histogram(store, bin_size):
    frame = analytics.binned_counts(store, bin_size).collect()
    q = bin_size if isinstance(bin_size, pq.Quantity) else bin_size * pq.ms
    for seg in _segments(store):
        trains = list(seg.get_spiketrains())
        mine = frame.filter(pl.col("segment_id") == seg.identifier)
        counts = np.array(mine["counts"].to_list(), dtype=np.int64)
        binned = BinnedSpikeTrain(trains, bin_size=q)
        assert counts.shape == binned.shape
        assert np.array_equal(counts, binned.to_array())
        assert mine["n_bins"].unique().to_list() == [binned.n_bins]
        hist = time_histogram(trains, bin_size=q, output="counts")
        assert np.array_equal(counts.sum(axis=0), hist.magnitude[:, 0])
        rate = time_histogram(trains, bin_size=q, output="rate").rescale(pq.Hz)
        width_s = float(q.rescale(pq.s))
        assert np.allclose(counts.sum(axis=0) / len(trains) / width_s, rate.magnitude[:, 0],
                           rtol=1e-12)


def test_binned_counts_long_format_matches_the_lists(store):
    lists = analytics.binned_counts(store, 10.0).collect()
    long = analytics.binned_counts(store, 10.0, long=True).collect()
    assert long.height == int(lists["n_bins"].sum())
    again = long.group_by("segment_id", "neuron_id", maintain_order=True).agg(
        pl.col("count").alias("counts"), pl.col("bin"))
    assert again["counts"].to_list() == lists["counts"].to_list()
    assert all(b == list(range(len(b))) for b in again["bin"].to_list())
    assert again.select("segment_id", "neuron_id").equals(lists.select("segment_id", "neuron_id"))


def test_binning_edge_cases_follow_elephant(store_path):
    """Spikes on bin edges, at t_stop, float rounding next to an edge, empty trains, and a
    window that is not a whole number of bins."""
    from mozaik_arrow.neo_convert import Recording

    edges = np.arange(0, 40) * 0.1  # 0.1 * k is often just below the intended edge
    trains = [edges, np.array([0.0, 0.5, 1.0, 3.9, 4.0]), np.array([]),
              np.cumsum(np.full(30, 0.1)), np.array([3.95, 3.999999999999])]
    values = np.concatenate(trains)
    offsets = np.concatenate([[0], np.cumsum([len(t) for t in trains])])
    with ma.open(store_path, "w") as s:
        s.add_recording([Recording.from_arrays("V1_Exc_L4", np.arange(len(trains)), values,
                                               offsets, t_stop=4.0)],
                        {"name": "Blank", "trial": 0})
        s.add_recording([Recording.from_arrays("V1_Exc_L4", np.arange(len(trains)), values,
                                               offsets, t_start=-0.05, t_stop=4.0)],
                        {"name": "Blank", "trial": 1})
    with ma.open(store_path, "r") as s:
        for bin_size in (0.1, 0.3, 1.0):
            frame = analytics.binned_counts(s, bin_size).collect()
            for seg in s.get_segments():
                sts = list(seg.get_spiketrains())
                want = BinnedSpikeTrain(sts, bin_size=bin_size * pq.ms).to_array()
                got = frame.filter(pl.col("segment_id") == seg.identifier)["counts"].to_list()
                assert np.array_equal(np.array(got, dtype=np.int64), want), (bin_size, seg)
            # without Elephant's rounding tolerance: plain floor
            plain = analytics.binned_counts(s, bin_size, tolerance=None).collect()
            for seg in s.get_segments():
                sts = list(seg.get_spiketrains())
                want = BinnedSpikeTrain(sts, bin_size=bin_size * pq.ms,
                                        tolerance=None).to_array()
                got = plain.filter(pl.col("segment_id") == seg.identifier)["counts"].to_list()
                assert np.array_equal(np.array(got, dtype=np.int64), want), (bin_size, seg)


def test_binned_counts_rejects_bad_bins(store):
    for bad in (0.0, -1.0, float("nan"), 3 * pq.mV):
        with pytest.raises(ValueError):
            analytics.binned_counts(store, bad)
