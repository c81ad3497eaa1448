"""The benchmark suite: one model, every store written from it, every operation timed.

:func:`run` generates a model (:mod:`.generator`), writes it with mozaik_arrow and each
baseline (mozaik's pickle protocol, NWB through pynwb, a plain-pyarrow floor; NixIO on a
subset, beside mozaik_arrow on the same subset), times each system's operations
(:mod:`.operations`) and, with ``check``, compares what every operation returns with what
the model holds. :mod:`.report` renders the result; ``python -m benchmarks`` does both.
"""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from . import sys_arrow
from .generator import Model, Scale, generate, make_ads
from .measure import durable_write_mbps, loadavg, measure, measure_each, memcpy_gbps, rss_mb
from .operations import Op, Probe, expected, make_probe, same

__all__ = ["SYSTEMS", "available", "run"]

#: every system the suite knows, in the order it runs them
SYSTEMS = ("mozaik_arrow", "pickle", "nwb", "floor", "nixio")
_NEEDS = {"nwb": "pynwb", "nixio": "nixio"}
PACKAGES = ("mozaik-arrow", "pyarrow", "polars", "numpy", "neo", "quantities", "duckdb",
            "pynwb", "hdmf", "h5py", "nixio", "scipy")


def available(name: str) -> bool:
    """Whether the library a system needs is installed."""
    return name not in _NEEDS or importlib.util.find_spec(_NEEDS[name]) is not None


def _run_op(op: Op, repeat: int, check: bool) -> tuple[dict[str, float], Any]:
    """Time one operation; with ``check``, also return its (normalised) value."""
    norm = op.norm or (lambda x: x)
    if op.each is not None:
        items = list(op.each)
        warm = op.warmup if op.warmup is not None else 10
        stats = measure_each(op.fn, items, warmup=min(warm, len(items) - 1))
        return stats, (norm(op.fn(items[0])) if check else None)
    kept: list[Any] = []

    def keep(out: Any) -> None:
        if check:
            kept[:] = [out]
        if op.after is not None:
            op.after(out)

    stats = measure(op.fn, repeat=op.repeat or repeat,
                    warmup=1 if op.warmup is None else op.warmup, setup=op.setup, after=keep)
    got = norm(kept[0]) if kept else None
    kept.clear()
    return stats, got


def _module(name: str) -> Any:
    """The module of a system (NWB and NixIO imported only when asked for)."""
    return importlib.import_module(f".{_MODULES[name]}", __package__)


_MODULES = {"mozaik_arrow": "sys_arrow", "pickle": "sys_pickle", "nwb": "sys_nwb",
            "floor": "sys_floor", "nixio": "sys_nix"}


def _suffix(name: str) -> str:
    return {"nwb": ".nwb", "nixio": ".nix"}.get(name, "")


def run_system(name: str, model: Model, probe: Probe, work: Path, want: dict[str, Any],
               ads: list | None = None, small: Model | None = None, check: bool = True,
               log: Callable[[str], None] = print) -> dict[str, Any]:
    """Write ``model`` with system ``name``, time its operations, check their results.

    Returns
    -------
    dict
        ``figures`` (write times, sizes, rates), ``ops`` (timings, seconds), ``checks``
        (operation -> bool), ``errors`` (operation -> message).
    """
    path = work / (name + _suffix(name))
    small_path = work / (name + "_small" + _suffix(name)) if small is not None else None
    res: dict[str, Any] = {"figures": {}, "ops": {}, "checks": {}, "errors": {}}
    t = time.perf_counter()
    try:
        mod = _module(name)
        res["figures"] = {**mod.write_model(model, path, ads), **mod.sizes(model, path)}
        res["figures"]["write_spikes_mps"] = model.n_spikes / res["figures"]["write_s"] / 1e6
        if model.n_samples:
            res["figures"]["write_samples_mps"] = (model.n_samples / res["figures"]["write_s"]
                                                   / 1e6)
        if name == "mozaik_arrow" and small is not None:
            parts = work / "arrow_parts"
            parts.mkdir()
            res["figures"].update(sys_arrow.write_parts(model, parts, model.scale.repeat))
            shutil.rmtree(parts)
        if small_path is not None and name != "floor":
            mod.write_model(small, small_path)
        log(f"  {name}: written in {time.perf_counter() - t:.1f} s")
        ops = mod.ops(model, probe, path, small_path, ads)
    except Exception:  # report, and let the other systems run
        res["errors"]["write"] = traceback.format_exc(limit=6)
        log(f"  {name}: FAILED to write\n{res['errors']['write']}")
        return res
    for key, op in ops.items():
        try:
            t = time.perf_counter()
            stats, got = _run_op(op, model.scale.repeat, check)
            if op.note:
                stats["note"] = op.note
            res["ops"][key] = stats
            want_key = op.check_as or key
            if check and want_key in want:
                res["checks"][key] = bool(same(key, got, want[want_key]))
            log(f"  {name}.{key}: {stats['median'] * 1e3:.3g} ms "
                f"({time.perf_counter() - t:.1f} s){'' if res['checks'].get(key, True) else ' CHECK FAILED'}")
        except Exception:
            res["errors"][key] = traceback.format_exc(limit=6)
            log(f"  {name}.{key}: FAILED\n{res['errors'][key]}")
    if hasattr(mod, "derive"):
        res["ops"].update(mod.derive(model, res["ops"]))
    del ops
    return res


def _describe(model: Model) -> dict[str, Any]:
    return {"neurons": model.n_neurons, "stimuli": len(model.stimuli),
            "recordings": sum(1 for s in model.segments if not s.null),
            "null_recordings": sum(1 for s in model.segments if s.null),
            "spikes": model.n_spikes, "samples": model.n_samples,
            "sheets": {s.name: len(s.ids) for s in model.sheets},
            "recorded_neurons": {s.name: len(s.recorded) for s in model.sheets}}


def run(scale: Scale, work: Path, systems: tuple[str, ...] = SYSTEMS, check: bool = True,
        seed: int = 0, log: Callable[[str], None] = print, keep: bool = False) -> dict[str, Any]:
    """Run the suite at ``scale`` in the directory ``work`` (stores are deleted as soon as
    their operations are measured, unless ``keep``: then the stores and the model's arrays
    stay in ``work`` for profiling).

    Returns
    -------
    dict
        ``scale``, ``model`` (sizes), ``results`` (system -> :func:`run_system` output),
        ``nix_subset`` (mozaik_arrow and NixIO on the subset), ``skipped`` (systems whose
        library is missing), ``memcpy_gbps``, ``disk_write_mbps`` (burst, sustained),
        ``loadavg`` (start, end), ``packages``,
        ``setup_s``.
    """
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"scale": asdict(scale), "loadavg": {"start": loadavg()},
                           "skipped": [s for s in systems if not available(s)]}
    systems = tuple(s for s in systems if available(s))
    t = time.perf_counter()
    big = scale.neurons * scale.n_stimuli > 500_000
    model = generate(scale, seed, work / "model" if big else None)
    for s in model.segments:  # fault the memory maps in: every system then reads warm pages
        float(np.asarray(s.values).sum())
        for a in s.signals.values():
            float(np.asarray(a).sum())
    out["setup_s"] = {"generate": time.perf_counter() - t}
    t = time.perf_counter()
    ads = make_ads(model) if {"mozaik_arrow", "pickle"} & set(systems) else None
    out["setup_s"]["build_ads"] = time.perf_counter() - t
    probe = make_probe(model)
    t = time.perf_counter()
    want = expected(model, probe, ads)
    out["setup_s"]["expected"] = time.perf_counter() - t
    out["model"] = {**_describe(model), "ads": len(ads or [])}
    out["stimulus_spikes"] = sum(s.n_spikes for s in model.segments_of(probe.stimulus))
    out["memcpy_gbps"] = memcpy_gbps()
    out["disk_write_mbps"] = durable_write_mbps(work, total_mb=1024 if big else 256)
    log(f"model: {out['model']}; setup {out['setup_s']}; RSS {rss_mb():.0f} MiB")
    small = model.subset(1)
    out["results"] = {}
    for name in systems:
        if name == "nixio":
            continue
        log(f"{name}:")
        out["results"][name] = run_system(name, model, probe, work, want, ads, small, check, log)
        for p in work.glob(name + "*") if not keep else ():
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    if "nixio" in systems:
        sub = model.nix_subset(scale.nix_trains)
        sprobe = make_probe(sub, n_ids=min(300, 4 * len(sub.sheet("V1_Exc_L4").ids)))
        swant = expected(sub, sprobe, None)
        out["nix_subset"] = {"model": _describe(sub)}
        for name in ("mozaik_arrow", "nixio"):
            log(f"{name} (NixIO subset):")
            sw = work / "nix_subset"
            sw.mkdir(exist_ok=True)
            out["nix_subset"][name] = run_system(name, sub, sprobe, sw, swant, check=check,
                                                 log=log)
            if not keep:
                shutil.rmtree(sw)
    if not keep:
        shutil.rmtree(work / "model", ignore_errors=True)
    out["loadavg"]["end"] = loadavg()
    pk = {}
    for p in PACKAGES:
        try:
            pk[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            pass
    out["packages"] = pk
    return out
