"""neo's NixIO (the ``nixio`` package) in the benchmark suite.

NixIO writes a whole ``neo.Block`` and reads it back whole (it has no lazy loading), at a
few thousand spikes per second here; so it is benchmarked on a subset of the model (the first
stimulus and its blank, ``Scale.nix_trains`` spike trains spread over the sheets), beside
mozaik_arrow on the very same subset.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import neo
import numpy as np
from neo.io import NixIO

from .generator import Model, neo_segments
from .mozaik_pickle import filter_segments
from .operations import Op, Probe, order_key


def write_model(model: Model, path: Path, ads: list | None = None) -> dict[str, float]:
    """Write ``model``'s recordings as one neo Block with NixIO; return the timing
    (``ads`` is ignored)."""
    block = neo.Block(name="model")
    block.annotations["neuron_ids"] = {s.name: s.ids for s in model.sheets}
    for k in range(len(model.stimuli)):
        for null in (True, False):
            for seg in neo_segments(model, k, null):
                seg.annotations["null"] = null
                block.segments.append(seg)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with NixIO(str(path), mode="ow") as io:
            io.write_block(block)
    return {"write_s": time.perf_counter() - t}


def sizes(model: Model, path: Path) -> dict[str, float]:
    """File size and bytes per spike (of the whole file: NixIO's is not separable)."""
    size = Path(path).stat().st_size
    return {"size_mb": size / 1e6, "bytes_per_spike": size / model.n_spikes}


def read(path: Path) -> neo.Block:
    """The whole block (NixIO reads everything)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with NixIO(str(path), mode="ro") as io:
            return io.read_block()


def _stimulus_counts(block: neo.Block, stim: str) -> tuple[int, int]:
    trains = [st for s in block.segments if s.annotations["stimulus"] == stim
              and not s.annotations["null"] for st in s.spiketrains]
    return len(trains), sum(len(t) for t in trains)


def ops(model: Model, probe: Probe, path: Path, small_path: Path | None = None,
        ads: list | None = None) -> dict[str, Op]:
    """The operations on the NixIO file: ``open`` reads it whole (NixIO's only way), the
    others work on the block that read returned (read once more if ``open`` did not run)."""
    stim = str(model.stimuli[probe.stimulus])
    state: dict[str, Any] = {}

    def opened() -> Any:
        b = read(path)
        state.clear()
        state["block"] = b
        return b

    def parts() -> dict[str, Any]:
        if "segs" not in state:
            block = state.get("block") or opened()
            recs = [s for s in block.segments if not s.annotations["null"]]
            segs = sorted([s for s in recs if s.annotations["stimulus"] == stim],
                          key=lambda s: order_key(s.annotations["sheet_name"], 0))
            seg = next(s for s in segs if s.annotations["sheet_name"] == probe.sheet)
            vm = next(a for a in seg.analogsignals if a.name == "v")
            state.update(recs=recs, segs=segs, seg=seg, vm=vm,
                         ids=[st.annotations["source_id"] for st in seg.spiketrains],
                         vm_ids=np.atleast_1d(vm.annotations["source_ids"]).tolist(),
                         dur={id(s): float((s.spiketrains[0].t_stop - s.spiketrains[0].t_start)
                                           .rescale("s")) for s in segs})
        return state

    def one(i: int) -> neo.SpikeTrain:
        p = parts()
        return p["seg"].spiketrains[p["ids"].index(i)]

    def one_vm(i: int) -> neo.AnalogSignal:
        p = parts()
        return p["vm"][:, p["vm_ids"].index(i)]

    def cv(s: neo.Segment) -> list:
        out = []
        for st in s.spiketrains:
            d = np.diff(st.magnitude)
            out.append(float(np.std(d) / np.mean(d)) if len(d) > 4 else np.nan)
        return out

    n_ids = len(probe.neuron_ids)
    return {
        "open_ms": Op(opened, repeat=1, warmup=0, note="whole-file read",
                      norm=lambda b: _stimulus_counts(b, stim), check_as="trains_stimulus_s"),
        "query_stimulus_ms": Op(lambda: filter_segments(parts()["recs"], **probe.query),
                                norm=len),
        "one_spiketrain_ms": Op(one, each=probe.neuron_ids.tolist(), norm=np.asarray,
                                warmup=min(10, n_ids // 2)),
        "one_vm_ms": Op(one_vm, each=probe.vm_ids.tolist(), warmup=min(10, n_ids // 2),
                        norm=lambda v: np.asarray(v).ravel()),
        "rates_stimulus_ms": Op(lambda: [np.array([len(st) for st in s.spiketrains])
                                         / parts()["dur"][id(s)] for s in parts()["segs"]],
                                norm=np.concatenate),
        "cv_stimulus_ms": Op(lambda: [cv(s) for s in parts()["segs"]], norm=np.concatenate),
    }


def derive(model: Model, res: dict[str, dict]) -> dict[str, dict]:
    """Open + the first spike train, and all trains of a stimulus, cost NixIO one
    whole-file read each: the ``open`` figure (measured once, not three times)."""
    if "open_ms" not in res:
        return {}
    return {k: {**res["open_ms"], "note": "= open: NixIO reads the whole file"}
            for k in ("first_spiketrain_ms", "trains_stimulus_s")}
