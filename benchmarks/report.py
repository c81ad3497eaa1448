"""Markdown tables of a suite run: every figure, the best baseline, the floors, the targets."""

from __future__ import annotations

import math
from typing import Any

from .operations import INFO, OPS, OpInfo

__all__ = ["render", "value", "verdicts"]

BASELINES = ("pickle", "nwb")
NAMES = {"mozaik_arrow": "mozaik_arrow", "pickle": "pickle (mozaik)", "nwb": "NWB (pynwb)",
         "floor": "pyarrow floor", "nixio": "NixIO"}
SCALE_OF = {"ms": 1e3, "s": 1.0}


def value(res: dict[str, Any] | None, key: str) -> tuple[float | None, bool]:
    """(figure in the operation's display unit, extrapolated?) of one system, or None."""
    if not res:
        return None, False
    if key in res.get("figures", {}):
        return float(res["figures"][key]), False
    op = res.get("ops", {}).get(key)
    if op is None:
        return None, False
    return op["median"] * SCALE_OF.get(INFO[key].unit, 1.0), bool(op.get("extrapolated"))


def _fmt(v: float | None, extrapolated: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    text = f"{v:.3g}" if abs(v) < 1e5 else f"{v:,.0f}"
    return ("≈" + text) if extrapolated else text


def _speedup(info: OpInfo, ours: float | None, other: float | None) -> float | None:
    """How many times better ours is (> 1: ours better)."""
    if ours is None or other is None or ours <= 0 or other <= 0:
        return None
    return other / ours if info.lower_is_better else ours / other


def _x(r: float | None, extrapolated: bool = False) -> str:
    if r is None:
        return "–"
    return ("≈" if extrapolated else "") + (f"{r:.3g}×" if r < 1e5 else f"{r:,.0f}×")


def _memcpy_bytes(key: str, model: dict[str, Any], data: dict[str, Any]) -> float | None:
    per_stim = data.get("stimulus_spikes")
    return {
        "write_s": 8.0 * (model["spikes"] + model["samples"]),
        "trains_stimulus_s": 8.0 * per_stim if per_stim else None,
        "cv_stimulus_ms": 8.0 * per_stim if per_stim else None,
    }.get(key)


def _disk_floor(key: str, ours: dict[str, Any] | None, data: dict[str, Any]) -> float | None:
    """What the disk allows for a write of the bytes mozaik_arrow wrote: for the two write
    rates (M/s), the same bytes in as many files written raw and fsynced right after each
    commit; for the whole model (s), its size at the sustained bandwidth measured at start."""
    fig = (ours or {}).get("figures", {})
    paired = {"write_spikes_only_mps": "disk_spikes_only_mps",
              "write_signals_only_mps": "disk_signals_only_mps"}.get(key)
    if paired:  # the same bytes written raw right after each commit: the disk at that time
        return fig.get(paired)
    bw = (data.get("disk_write_mbps") or {}).get("sustained")
    if not bw:
        return None
    return fig["size_mb"] / bw if key == "write_s" and fig.get("size_mb") else None


def verdicts(info: OpInfo, results: dict[str, Any]) -> dict[str, Any]:
    """Best baseline, ours vs it, vs pickle and NWB, and the target, for one operation."""
    ours, _ = value(results.get("mozaik_arrow"), info.key)
    base = {b: value(results.get(b), info.key) for b in BASELINES}
    measured = {b: v for b, (v, ex) in base.items() if v is not None and not ex}
    best = None
    if measured:
        pick = min if info.lower_is_better else max
        best = pick(measured, key=lambda b: measured[b])
    out: dict[str, Any] = {"ours": ours, "best": best,
                           "vs_best": _speedup(info, ours, measured.get(best)) if best else None,
                           "vs_pickle": _speedup(info, ours, base["pickle"][0]),
                           "vs_nwb": _speedup(info, ours, base["nwb"][0])}
    if info.target is not None and ours is not None:
        out["target_met"] = ours <= info.target if info.lower_is_better else ours >= info.target
    return out


def _main_table(data: dict[str, Any]) -> list[str]:
    results, model = data["results"], data["model"]
    shown = [s for s in ("mozaik_arrow", "pickle", "nwb", "floor") if s in results]
    head = ["operation", "unit", "target (medium)", *[NAMES[s] for s in shown],
            "best baseline", "ours vs best", "ours vs pickle", "ours ÷ floor", "memcpy floor",
            "disk floor", "target"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for info in OPS:
        vals = {s: value(results.get(s), info.key) for s in shown}
        if all(v is None for v, _ in vals.values()):
            continue
        v = verdicts(info, results)
        target = "–"
        if info.target is not None:
            target = ("≤ " if info.lower_is_better else "≥ ") + f"{info.target:g}"
        floor, _ = vals.get("floor", (None, False))
        ratio_floor = None
        if v["ours"] is not None and floor:
            ratio_floor = (v["ours"] / floor) if info.lower_is_better else (floor / v["ours"])
        mb = _memcpy_bytes(info.key, model, data)
        memcpy = None
        if mb and data.get("memcpy_gbps"):
            memcpy = mb / (data["memcpy_gbps"] * 1e9) * SCALE_OF.get(info.unit, 1.0)
        met = "–"
        if "target_met" in v:
            met = "met" if v["target_met"] else "**missed**"
        cells = [info.label.strip(), info.unit, target,
                 *[_fmt(*vals[s]) for s in shown],
                 NAMES.get(v["best"], "–") if v["best"] else "–",
                 _x(v["vs_best"]), _x(v["vs_pickle"], vals.get("pickle", (0, False))[1]),
                 _x(ratio_floor).replace("×", "") if ratio_floor else "–", _fmt(memcpy),
                 _fmt(_disk_floor(info.key, results.get("mozaik_arrow"), data)), met]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _nix_table(sub: dict[str, Any]) -> list[str]:
    m = sub["model"]
    lines = [f"NixIO has no lazy loading and writes slowly, so it runs on a subset: the first "
             f"stimulus and its blank, {m['neurons']:,} neurons "
             f"({m['spikes']:,} spikes, {m['samples']:,} samples), mozaik_arrow on the same "
             "subset beside it.", "",
             "| operation | unit | mozaik_arrow | NixIO | ours vs NixIO |", "|---|---|---|---|---|"]
    for info in OPS:
        a, _ = value(sub.get("mozaik_arrow"), info.key)
        n, _ = value(sub.get("nixio"), info.key)
        if n is None:
            continue
        lines.append(f"| {info.label.strip()} | {info.unit} | {_fmt(a)} | {_fmt(n)} | "
                     f"{_x(_speedup(info, a, n))} |")
    return lines


def _ratio_targets(data: dict[str, Any]) -> list[str]:
    """The issue's ratio targets over the read operations: >= 100x pickle, ahead of NWB
    (and of NixIO on its subset)."""
    results = data["results"]
    reads = [i for i in OPS if i.read and value(results.get("mozaik_arrow"), i.key)[0]]
    out = []
    for name, key, rule in (("pickle", "vs_pickle", 100.0), ("nwb", "vs_nwb", 1.0)):
        judged = [(i, verdicts(i, results)[key]) for i in reads]
        judged = [(i, r) for i, r in judged if r is not None]
        if not judged:
            continue
        bad = [f"{i.label.strip()} ({_x(r)})" for i, r in judged if r < rule]
        want = "≥ 100× mozaik's pickle protocol" if name == "pickle" else "ahead of NWB"
        out.append(f"- {want}: {len(judged) - len(bad)} of {len(judged)} read operations"
                   + (f"; **not on**: {'; '.join(bad)}" if bad else "."))
    sub = data.get("nix_subset") or {}
    if sub.get("nixio"):
        judged = []
        for i in OPS:
            a, n = value(sub.get("mozaik_arrow"), i.key)[0], value(sub["nixio"], i.key)[0]
            r = _speedup(i, a, n)
            if i.read and r is not None:
                judged.append((i, r))
        bad = [f"{i.label.strip()} ({_x(r)})" for i, r in judged if r < 1.0]
        out.append(f"- ahead of NixIO (on its subset): {len(judged) - len(bad)} of {len(judged)}"
                   " read operations" + (f"; **not on**: {'; '.join(bad)}" if bad else "."))
    return out


def _memory_table(data: dict[str, Any]) -> list[str]:
    results = data["results"]
    shown = [s for s in ("mozaik_arrow", "pickle", "nwb", "floor") if s in results]
    lines = ["| operation | " + " | ".join(NAMES[s] for s in shown) + " |",
             "|---|" + "---|" * len(shown)]
    for info in OPS:
        cells = []
        for s in shown:
            op = results[s].get("ops", {}).get(info.key)
            rss = op.get("peak_rss_mb") if op and not op.get("extrapolated") else None
            cells.append(f"{max(rss, 0.0):.0f}" if rss is not None and not math.isnan(rss) else "–")
        if any(c != "–" for c in cells):
            lines.append(f"| {info.label.strip()} | " + " | ".join(cells) + " |")
    return lines


def _problems(data: dict[str, Any]) -> list[str]:
    out = []
    groups = dict(data["results"])
    for k, v in (data.get("nix_subset") or {}).items():
        if k != "model":
            groups[f"{k} (NixIO subset)"] = v
    for name, res in groups.items():
        bad = [k for k, ok in res.get("checks", {}).items() if not ok]
        if bad:
            out.append(f"- **{name}: read-back differs from the generated data** in {bad}")
        for k, err in res.get("errors", {}).items():
            out.append(f"- **{name}.{k} failed**: `{err.strip().splitlines()[-1]}`")
    return out


def render(data: dict[str, Any]) -> str:
    """The markdown of a suite run (``suite.run`` output)."""
    m, sc = data["model"], data["scale"]
    disk = data.get("disk_write_mbps")
    checks = sum(len(r.get("checks", {})) for r in data["results"].values())
    lines = [
        f"Scale `{sc['name']}`: {m['neurons']:,} neurons in 4 sheets "
        f"({', '.join(f'{k} {v:,}' for k, v in m['sheets'].items())}), {m['stimuli']} "
        f"drifting gratings (+ a blank before each), {m['spikes']:,} spikes, "
        f"{m['samples']:,} signal samples (v and gsyn_exc of "
        f"{sum(m['recorded_neurons'].values()):,} neurons, {sc['signal_samples']:,} samples "
        f"each), {m['ads']:,} ADS.",
        f"Load average (1/5/15 min) at start {data['loadavg']['start']}, at end "
        f"{data['loadavg']['end']}; memcpy {data['memcpy_gbps']:.1f} GB/s"
        + (f"; disk (write + fsync, files of 32 MB) {disk['burst']:.0f} MB/s for the first "
           f"quarter, {disk['sustained']:.0f} MB/s sustained." if disk else "."),
        "",
        *_main_table(data),
        "",
        "- Times are medians of warm repetitions (one warm-up) unless marked; ≈ marks a figure "
        "extrapolated, not measured. 'ours vs X' > 1 means mozaik_arrow is better; 'ours ÷ "
        "floor' is how many times the plain-pyarrow floor's time ours takes; 'disk floor' is "
        "what the disk allows for the bytes mozaik_arrow wrote: for the two write rates the "
        "same bytes in as many files written raw with fsync right after each commit (the "
        "disk's speed at that moment), for the whole model its size at the sustained "
        "bandwidth measured at start.",
        "- Reads: mozaik_arrow and pickle return neo objects; NWB's one spike train and one Vm "
        "are raw arrays (in s for spikes); the floor decodes only. NWB keeps times in seconds: "
        "they come back within float rounding of the ms written.",
        "- pickle: mozaik's protocol; its per-neuron reads are warm (segment already "
        "unpickled), its first spike train costs the whole segment's unpickle; opening it "
        "unpickles the shells and every ADS. Its ADS write is one pickle, without mozaik's "
        "O(n²) uniqueness check (see bench_queries).",
        "- 'open + first spike train' is the latency of a cold read: NWB and NixIO parse the "
        "file at open, mozaik_arrow parses the footer of the one file it reads on first "
        "access, the pickle unpickles the shells at open and the segment on first access.",
        f"- Read-back checks (every operation's result against the generated data): {checks} "
        "run" + ("; all equal." if not _problems(data) else ":"),
        *_problems(data),
    ]
    lines += ["", "Ratio targets (every read operation measured for both):", "",
              *_ratio_targets(data)]
    pk = data.get("packages", {})
    lines += ["", "Baseline libraries: " + ", ".join(
        f"{k} {pk[k]}" for k in ("pynwb", "hdmf", "h5py", "nixio", "scipy") if k in pk) + "."]
    if data.get("skipped"):
        lines.append(f"- Skipped (library not installed): {', '.join(data['skipped'])}")
    if data.get("nix_subset"):
        lines += ["", "### NixIO", "", *_nix_table(data["nix_subset"])]
    lines += ["", "### Peak memory added by each operation (MiB, above the resident set before "
              "it)", "", *_memory_table(data)]
    return "\n".join(lines) + "\n"
