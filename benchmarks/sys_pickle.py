"""mozaik's PickledDataStore protocol (:mod:`.mozaik_pickle`) in the benchmark suite."""

from __future__ import annotations

import math
import pickle
import time
from pathlib import Path
from typing import Any

import numpy as np

from .generator import Model, neo_segments, write_ads, write_recordings
from .mozaik_pickle import (
    PickledDataStore,
    filter_ads,
    filter_segments,
    partition_ads,
    partition_ads_by_stimulus,
)
from .operations import Op, Probe, order_key

#: above this many spike trains per stimulus, unpickling ops run once (no warm-up)
SLOW_TRAINS = 20_000
#: above this many spike trains in the model, "every recording" ops are extrapolated
MAX_ALL_TRAINS = 10_000


def write_model(model: Model, path: Path, ads: list | None = None) -> dict[str, float]:
    """Write ``model`` as mozaik would: a pickle per segment, then the index (and ADS)."""
    t = time.perf_counter()
    store = PickledDataStore(path, load=False)
    spent = time.perf_counter() - t + write_recordings(store, model)
    t = time.perf_counter()
    store.save()
    out = {"write_s": spent + time.perf_counter() - t}
    if ads is not None:
        out["write_ads_s"] = write_ads(store, ads)
    return out


def sizes(model: Model, path: Path) -> dict[str, float]:
    """Total size; bytes per spike and per sample from one stimulus' segments pickled
    without their signals, and with them (the pickles' own overheads included)."""
    segs = neo_segments(model, 0)
    whole = sum(len(pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL)) for s in segs)
    for s in segs:
        s.analogsignals = []
    spikes_only = sum(len(pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL)) for s in segs)
    rec = model.segments_of(0)
    total = sum(p.stat().st_size for p in Path(path).iterdir())
    return {"size_mb": total / 1e6,
            "bytes_per_spike": spikes_only / max(1, sum(s.n_spikes for s in rec)),
            "bytes_per_sample": (whole - spikes_only) / max(1, sum(s.n_samples for s in rec))}


def ops(model: Model, probe: Probe, path: Path, small_path: Path | None = None,
        ads: list | None = None) -> dict[str, Op]:
    """mozaik's operations on the pickled store at ``path``."""
    store = PickledDataStore(path, load=True)
    stim = str(model.stimuli[probe.stimulus])
    segs = sorted([s for s in store.get_segments() if s.annotations["stimulus"] == stim],
                  key=lambda s: order_key(s.annotations["sheet_name"], 0))
    seg = next(s for s in segs if s.annotations["sheet_name"] == probe.sheet)
    per_stim = sum(len(s.ids) for s in model.segments_of(probe.stimulus))
    slow = {"repeat": 1, "warmup": 0} if per_stim > SLOW_TRAINS else {"repeat": 3}
    once = {"repeat": 1, "warmup": 0}  # Python loops over neo objects: slow and steady
    order = {str(st): k for k, st in enumerate(model.stimuli)}
    all_sorted = sorted(store.get_segments(), key=lambda s: order_key(
        s.annotations["sheet_name"], order[s.annotations["stimulus"]]))
    n_bins = int(math.ceil(model.scale.duration / probe.bin_ms))
    bins = np.arange(n_bins + 1) * probe.bin_ms

    def open_first() -> Any:
        s = PickledDataStore(path, load=True)
        one = next(x for x in s.get_segments() if x.path == seg.path)
        return one.get_spiketrain(int(probe.neuron_ids[0]))

    def trains() -> list:
        for s in segs:
            s.release()
        return [s.get_spiketrains() for s in segs]

    def psth() -> np.ndarray:
        chosen = filter_segments(store.get_segments(), sheet_name=probe.sheet,
                                 st_orientation=model.stimuli[probe.stimulus].orientation,
                                 st_contrast=model.stimuli[probe.stimulus].contrast)
        total = 0
        for s in chosen:
            total = total + np.array([np.histogram(st.magnitude, bins)[0]
                                      for st in s.get_spiketrains()])
        return total / len(chosen) / (probe.bin_ms / 1000.0)

    def cat(xs: list) -> np.ndarray:
        return np.concatenate([np.asarray([np.nan if v is None else v for v in x], dtype=float)
                               for x in xs])

    out = {
        "open_ms": Op(lambda: PickledDataStore(path, load=True).get_segments(), repeat=3),
        "query_stimulus_ms": Op(lambda: filter_segments(store.get_segments(), **probe.query),
                                norm=len),
        "first_spiketrain_ms": Op(open_first, norm=np.asarray, **slow),
        "one_spiketrain_ms": Op(lambda i: seg.get_spiketrain(int(i)), each=probe.neuron_ids,
                                norm=np.asarray),
        "one_vm_ms": Op(lambda i: seg.get_vm(int(i)), each=probe.vm_ids,
                        norm=lambda v: np.asarray(v).ravel()),
        "trains_stimulus_s": Op(trains, norm=lambda ts: (
            sum(len(t) for t in ts), sum(len(x) for t in ts for x in t)), **slow),
        "rates_stimulus_ms": Op(lambda: [s.mean_rates() for s in segs], norm=np.concatenate,
                                **once),
        "cv_stimulus_ms": Op(lambda: [s.cv_isi() for s in segs], norm=cat, **once),
        "psth_ms": Op(psth, **({"repeat": 1} if per_stim > SLOW_TRAINS else {})),
    }
    if model.n_neurons * len(model.stimuli) <= MAX_ALL_TRAINS:
        out["rates_all_ms"] = Op(lambda: [s.mean_rates() for s in all_sorted],
                                 norm=np.concatenate, **once)
        out["cv_all_ms"] = Op(lambda: [s.cv_isi() for s in all_sorted], norm=cat, **once)
    if small_path is not None:
        out["open_small_ms"] = Op(lambda: PickledDataStore(small_path, load=True).get_segments(),
                                  repeat=3)
    if ads is not None:
        loaded = store.analysis_results
        out.update({
            "ads_query_ms": Op(lambda: filter_ads(loaded, **probe.ads_query), norm=len),
            "ads_get_ms": Op(lambda: filter_ads(loaded, **probe.ads_get), norm=len),
            "ads_partition_ms": Op(lambda: partition_ads(loaded, probe.ads_partition),
                                   norm=lambda g: sorted(len(x) for x in g), repeat=3),
            "ads_partition_stim_ms": Op(
                lambda: partition_ads_by_stimulus(loaded, probe.ads_partition_stim),
                norm=lambda g: sorted(len(x) for x in g), repeat=1),
        })
    return out


def derive(model: Model, res: dict[str, dict]) -> dict[str, dict]:
    """'Every recording' figures extrapolated from one stimulus' (unpickling it + the
    loop), times the number of stimuli, when they were not measured."""
    out = {}
    n = len(model.stimuli)
    load = res.get("trains_stimulus_s", {}).get("median")
    for key, base in (("rates_all_ms", "rates_stimulus_ms"), ("cv_all_ms", "cv_stimulus_ms")):
        if key not in res and load is not None and base in res:
            out[key] = {"median": (load + res[base]["median"]) * n,
                        "extrapolated": True,
                        "note": f"unpickling + loop of one stimulus x {n} stimuli"}
    return out
