"""The operations of the benchmark suite: what each means, its target, its expected result.

Every system (mozaik_arrow and each baseline) implements the operations it can as
:class:`Op` objects; the suite times them and, with checks on, compares what each returns
(normalised by ``Op.norm``) with :func:`expected`, computed from the generated model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mozaik_arrow.parametrized import MozaikParametrized

from .generator import SHEETS, Model, SegmentData
from .mozaik_pickle import filter_ads, partition_ads

__all__ = ["Op", "OpInfo", "OPS", "Probe", "make_probe", "binned_counts", "expected",
           "same"]


@dataclass
class Op:
    """One operation as a system implements it.

    ``fn(*setup())`` runs it; ``each`` (a list) makes it a per-item operation ``fn(item)``
    timed once per item; ``norm`` turns its value into the form :func:`expected` gives.
    """

    fn: Callable[..., Any]
    setup: Callable[[], Any] | None = None
    after: Callable[[Any], Any] | None = None
    norm: Callable[[Any], Any] | None = None
    each: Sequence[Any] | None = None
    repeat: int | None = None
    warmup: int | None = None
    note: str = ""
    check_as: str | None = None  # compare with the expected result of another operation


@dataclass(frozen=True)
class OpInfo:
    """How an operation is reported: label, unit, whether it reads data, its target."""

    key: str
    label: str
    unit: str  # "ms", "s", "M/s", "B", "MB"
    lower_is_better: bool = True
    target: float | None = None
    read: bool = True  # a read operation (the >= 100x pickle target applies)


OPS: list[OpInfo] = [
    OpInfo("write_s", "write whole model from neo segments", "s", read=False),
    OpInfo("write_spikes_mps", "  = spikes / write time", "M/s", False, read=False),
    OpInfo("write_samples_mps", "  = samples / write time", "M/s", False, read=False),
    OpInfo("write_spikes_only_mps", "write spikes only (one stimulus), spikes/s", "M/s", False,
           5.0, read=False),
    OpInfo("write_signals_only_mps", "write signals only (one stimulus), samples/s", "M/s",
           False, 30.0, read=False),
    OpInfo("write_ads_s", "write every ADS (add + save)", "s", read=False),
    OpInfo("size_mb", "size on disk", "MB", read=False),
    OpInfo("bytes_per_spike", "bytes per spike (spike data only)", "B", target=8.0, read=False),
    OpInfo("bytes_per_sample", "bytes per signal sample", "B", read=False),
    OpInfo("open_ms", "open the store (+ list recordings)", "ms", target=50.0),
    OpInfo("open_small_ms", "open a one-stimulus store (flatness)", "ms", target=50.0),
    OpInfo("query_stimulus_ms", "param_filter_query(st_orientation, st_contrast)", "ms"),
    OpInfo("first_spiketrain_ms", "open + first spike train (cold)", "ms"),
    OpInfo("one_spiketrain_ms", "one neuron's spike train, warm", "ms", target=2.0),
    OpInfo("one_spiketrain_sparse_ms", "  the same, no file decoded whole (a row group each)",
           "ms", target=2.0),
    OpInfo("one_vm_ms", "one neuron's Vm, warm", "ms", target=5.0),
    OpInfo("one_vm_sparse_ms", "  the same, no file decoded whole (a row group each)", "ms",
           target=5.0),
    OpInfo("trains_stimulus_s", "all spike trains of one stimulus as neo objects", "s",
           target=2.0),
    OpInfo("rates_stimulus_ms", "mean rates, every neuron of one stimulus", "ms", target=50.0),
    OpInfo("rates_all_ms", "mean rates, every neuron of every recording", "ms"),
    OpInfo("cv_stimulus_ms", "CV(ISI), every neuron of one stimulus", "ms", target=400.0),
    OpInfo("cv_all_ms", "CV(ISI), every neuron of every recording", "ms"),
    OpInfo("psth_ms", "PSTH matrix of one sheet over the trials of a condition", "ms"),
    OpInfo("ads_query_ms", "param_filter_query over every ADS (keys)", "ms", target=10.0),
    OpInfo("ads_get_ms", "get_analysis_result (objects)", "ms"),
    OpInfo("ads_partition_ms", "partition_analysis_results_by_parameters_query", "ms"),
    OpInfo("ads_partition_stim_ms", "partition_analysis_results_by_stimulus_parameters_query",
           "ms"),
    OpInfo("sql_ms", "duckdb SQL: mean rate by sheet and orientation", "ms"),
]
INFO = {o.key: o for o in OPS}


@dataclass
class Probe:
    """What the operations ask for: which sheet, stimulus, neurons, parameters."""

    sheet: str
    stimulus: int
    neuron_ids: np.ndarray
    vm_ids: np.ndarray
    query: dict[str, Any]
    psth_stimuli: list[int]
    bin_ms: float
    ads_query: dict[str, Any]
    ads_get: dict[str, Any]
    ads_partition: list[str] = field(default_factory=lambda: ["stimulus_id", "neuron"])
    ads_partition_stim: list[str] = field(default_factory=lambda: ["orientation"])


def make_probe(model: Model, n_ids: int = 300, seed: int = 1) -> Probe:
    """The probe of a model: sheet ``V1_Exc_L4``, stimulus 0, random neurons (seeded)."""
    rng = np.random.default_rng(seed)
    sheet = model.sheet("V1_Exc_L4")
    stim0 = model.stimuli[0]
    o1 = model.stimuli[min(1, len(model.stimuli) - 1)].orientation
    c = max(s.contrast for s in model.stimuli)
    psth = [k for k, s in enumerate(model.stimuli)
            if s.orientation == stim0.orientation and s.contrast == stim0.contrast]
    return Probe(
        sheet=sheet.name, stimulus=0,
        neuron_ids=rng.choice(sheet.ids, n_ids),
        vm_ids=rng.choice(sheet.ids[sheet.recorded], n_ids),
        query={"st_orientation": o1, "st_contrast": c},
        psth_stimuli=psth, bin_ms=10.0,
        ads_query={"identifier": "PerNeuronValue", "sheet_name": sheet.name,
                   "st_orientation": o1},
        ads_get={"identifier": "PerNeuronValue", "value_name": "Firing rate",
                 "sheet_name": sheet.name},
    )


def binned_counts(values: np.ndarray, offsets: np.ndarray, t0: float, width: float,
                  n_bins: int, rows: np.ndarray | None = None, n_rows: int | None = None
                  ) -> np.ndarray:
    """Spike counts of each train in ``n_bins`` bins of ``width`` from ``t0``.

    ``rows`` (optional) gives the output row of each train (trains of one neuron from
    several recordings add up in one row); ``n_rows`` the number of output rows.

    Returns
    -------
    int64 array (n_trains or n_rows, n_bins)
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    n = len(offsets) - 1
    if rows is None:
        rows, n_rows = np.arange(n, dtype=np.int64), n
    v = np.asarray(values[offsets[0]:offsets[-1]])
    row = np.repeat(np.asarray(rows, dtype=np.int64), np.diff(offsets))
    b = np.floor((v - t0) / width).astype(np.int64)
    ok = (b >= 0) & (b < n_bins)
    return np.bincount(row[ok] * n_bins + b[ok],
                       minlength=n_rows * n_bins).reshape(n_rows, n_bins)


def _rates(s: SegmentData) -> np.ndarray:
    return s.counts / ((s.t_stop - s.t_start) / 1000.0)


def _cv(s: SegmentData) -> np.ndarray:
    out = np.full(len(s.ids), np.nan)
    for i in range(len(s.ids)):
        d = np.diff(s.values[s.offsets[i]:s.offsets[i + 1]])
        if len(d) > 4:
            out[i] = np.std(d) / np.mean(d)
    return out


def psth_of(model: Model, probe: Probe) -> np.ndarray:
    """Mean rate (Hz) of every neuron of the probe sheet in each bin, over the trials."""
    n_bins = int(math.ceil(model.scale.duration / probe.bin_ms))
    total = 0
    for k in probe.psth_stimuli:
        s = next(x for x in model.segments_of(k) if x.sheet == probe.sheet)
        total = total + binned_counts(s.values, s.offsets, s.t_start, probe.bin_ms, n_bins)
    return total / len(probe.psth_stimuli) / (probe.bin_ms / 1000.0)


def order_key(sheet: str, stimulus: int) -> tuple[int, int]:
    """Order of recordings in ``*_all`` results: by stimulus, then by sheet as in SHEETS."""
    return stimulus, [n for n, _, _ in SHEETS].index(sheet)


def expected(model: Model, probe: Probe, ads: list | None) -> dict[str, Any]:
    """The normalised result of every operation, from the generated arrays."""
    recs = sorted((s for s in model.segments if not s.null),
                  key=lambda s: order_key(s.sheet, s.stimulus))
    stim = [s for s in recs if s.stimulus == probe.stimulus]
    seg = next(s for s in stim if s.sheet == probe.sheet)
    nid = int(probe.neuron_ids[0])
    i = int(np.searchsorted(seg.ids, nid))
    vcol = int(np.searchsorted(seg.signal_ids, int(probe.vm_ids[0])))
    o1, c = probe.query["st_orientation"], probe.query["st_contrast"]
    out: dict[str, Any] = {
        "query_stimulus_ms": sum(1 for s in recs if model.stimuli[s.stimulus].orientation == o1
                                 and model.stimuli[s.stimulus].contrast == c),
        "first_spiketrain_ms": seg.values[seg.offsets[i]:seg.offsets[i + 1]],
        "one_spiketrain_ms": seg.values[seg.offsets[i]:seg.offsets[i + 1]],
        "one_vm_ms": np.asarray(seg.signals["v"][:, vcol]) if seg.signals else None,
        "trains_stimulus_s": (sum(len(s.ids) for s in stim), sum(s.n_spikes for s in stim)),
        "rates_stimulus_ms": np.concatenate([_rates(s) for s in stim]),
        "rates_all_ms": np.concatenate([_rates(s) for s in recs]),
        "cv_stimulus_ms": np.concatenate([_cv(s) for s in stim]),
        "psth_ms": psth_of(model, probe),
    }
    if sum(len(s.ids) for s in recs) <= 300_000:  # a Python loop: check one stimulus above
        out["cv_all_ms"] = np.concatenate([_cv(s) for s in recs])
    sql: dict[tuple[str, float], list[float]] = {}
    for s in recs:
        sql.setdefault((s.sheet, round(model.stimuli[s.stimulus].orientation, 9)), []).append(
            _rates(s))
    out["sql_ms"] = {k: float(np.concatenate(v).mean()) for k, v in sql.items()}
    if ads is not None:
        out["ads_query_ms"] = len(filter_ads(ads, **probe.ads_query))
        out["ads_get_ms"] = len(filter_ads(ads, **probe.ads_get))
        out["ads_partition_ms"] = sorted(len(g) for g in partition_ads(ads, probe.ads_partition))
        parsed: dict[str, Any] = {}  # each stimulus string parsed once (mozaik parses each time)

        def stim_key(a: Any) -> str:
            if a.stimulus_id not in parsed:
                p = MozaikParametrized.idd(a.stimulus_id).getParams()
                parsed[a.stimulus_id] = repr(sorted(
                    (k, v) for k, v in p.items() if k not in probe.ads_partition_stim))
            return parsed[a.stimulus_id]

        groups: dict[str, int] = {}
        for a in ads:
            groups[stim_key(a)] = groups.get(stim_key(a), 0) + 1
        out["ads_partition_stim_ms"] = sorted(groups.values())
    return out


def same(key: str, got: Any, want: Any) -> bool:
    """Whether a normalised result equals the expected one (floats: to 1e-9 relative, as
    NWB's seconds cannot hold a time in ms exactly; everything else exactly)."""
    if want is None or got is None:
        return want is None and got is None
    if isinstance(want, dict):
        return set(got) == set(want) and all(
            math.isclose(got[k], want[k], rel_tol=1e-9, abs_tol=1e-9) for k in want)
    if isinstance(want, np.ndarray):
        got = np.asarray(got, dtype=np.float64)
        return got.shape == want.shape and bool(np.allclose(
            got, want, rtol=1e-9, atol=1e-9, equal_nan=True))
    return got == want
