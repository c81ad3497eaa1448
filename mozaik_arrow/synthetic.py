"""Synthetic PyNN-like recordings at any scale, for tests and benchmarks.

Real simulations (:mod:`mozaik_arrow.simulate`) are the reference data; this module makes
segments of 1e5 neurons in a second, with the statistics that matter for storage: log-normal
rates, spike times on NEST's 0.1 ms grid, silent neurons, and an Ornstein–Uhlenbeck-like
membrane potential for a recorded subset.
"""

from __future__ import annotations

import neo
import numpy as np
import quantities as pq

from .neo_convert import spiketrains_from_arrow

__all__ = ["spike_arrays", "synthetic_segment"]


def spike_arrays(
    n_neurons: int, mean_rate: float, duration: float, seed: int, dt: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted spike times (ms, on a ``dt`` grid) of ``n_neurons`` as flat values + offsets."""
    rng = np.random.default_rng(seed)
    rates = rng.lognormal(np.log(mean_rate) - 0.5, 1.0, n_neurons)
    rates[rng.random(n_neurons) < 0.02] = 0.0  # some neurons are silent
    counts = rng.poisson(rates * duration / 1000.0)
    n_bins = int(round(duration / dt))
    counts = np.minimum(counts, n_bins)
    offsets = np.zeros(n_neurons + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    bins = rng.integers(0, n_bins, offsets[-1])
    # Sort within each neuron: sort by (row, bin) in one pass, then drop duplicate bins.
    rows = np.repeat(np.arange(n_neurons), counts)
    order = np.lexsort((bins, rows))
    rows, bins = rows[order], bins[order]
    keep = np.ones(len(bins), dtype=bool)
    keep[1:] = (rows[1:] != rows[:-1]) | (bins[1:] != bins[:-1])
    rows, bins = rows[keep], bins[keep]
    counts = np.bincount(rows, minlength=n_neurons)
    offsets[1:] = np.cumsum(counts)
    return np.round(bins * dt, 10), offsets


def synthetic_segment(
    sheet: str,
    n_neurons: int,
    *,
    mean_rate: float = 25.0,
    duration: float = 2000.0,
    first_id: int = 1,
    n_signals: int = 0,
    signal_names: tuple[str, ...] = ("v", "gsyn_exc", "gsyn_inh"),
    sampling_period: float = 0.1,
    seed: int = 0,
) -> neo.Segment:
    """A PyNN 0.13-style ``neo.Segment`` of one sheet.

    Spike trains carry ``channel_id``/``source_id`` and ``source_population``; signals are
    2-D AnalogSignals of the first ``n_signals`` neurons with ``channel_ids``.
    """
    values, offsets = spike_arrays(n_neurons, mean_rate, duration, seed)
    ids = np.arange(first_id, first_id + n_neurons, dtype=np.int64)
    trains = spiketrains_from_arrow(
        ids, values, offsets, "ms", np.zeros(n_neurons), np.full(n_neurons, float(duration))
    )
    for st in trains:
        st.annotations["source_population"] = sheet
    seg = neo.Segment(name=f"{sheet} synthetic", sheet_name=sheet)
    seg.spiketrains = trains
    if n_signals:
        rng = np.random.default_rng(seed + 1)
        n_samples = int(round(duration / sampling_period)) + 1
        units = {"v": "mV", "gsyn_exc": "uS", "gsyn_inh": "uS"}
        for name in signal_names:
            noise = rng.standard_normal((n_samples, n_signals)).cumsum(axis=0) * 0.05
            base = -65.0 if name == "v" else 0.01
            sig = neo.AnalogSignal(
                base + noise,
                units=units.get(name, "dimensionless"),
                sampling_period=sampling_period * pq.ms,
                t_start=0.0 * pq.ms,
                name=name,
                channel_ids=ids[:n_signals].copy(),
                source_population=sheet,
            )
            seg.analogsignals.append(sig)
    return seg
