"""Timing helpers and machine description shared by the benchmark scripts."""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def timeit(fn: Callable[[], Any], repeat: int = 5, warmup: int = 1) -> dict[str, float]:
    """Run ``fn`` ``warmup`` + ``repeat`` times; median/min/max seconds of the timed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "n": repeat}


def once(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def drop_caches() -> bool:
    """Drop the page cache when allowed (root); returns whether it happened."""
    try:
        subprocess.run(["sync"], check=True)
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def machine() -> dict[str, Any]:
    mem = 0
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) // 1024
    except OSError:
        pass
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    pkgs = {}
    for name in ("mozaik-arrow", "pyarrow", "polars", "numpy", "neo", "quantities", "duckdb"):
        try:
            pkgs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    disk = subprocess.run(["df", "-h", str(HERE)], capture_output=True, text=True).stdout.splitlines()
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_mb": mem,
        "disk": disk[-1] if disk else "",
        "packages": pkgs,
    }


def write_results(name: str, command: str, markdown: str, data: dict[str, Any],
                  directory: Path | None = None) -> None:
    """Replace this benchmark's section of RESULTS.md and write ``<name>.json`` beside it
    (in ``directory``, default this folder: tests write elsewhere)."""
    here = HERE if directory is None else Path(directory)
    (here / f"{name}.json").write_text(json.dumps({"command": command, "machine": machine(), **data}, indent=2) + "\n")
    path = here / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Benchmark results\n\nEach section is written by the command it names.\n"
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    m = machine()
    block = (
        f"{begin}\n## {name}\n\nCommand: `{command}`  \n"
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['ram_mb']} MiB RAM, Python {m['python']}, "
        f"{', '.join(f'{k} {v}' for k, v in m['packages'].items())}  \n"
        f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n{markdown}\n{end}"
    )
    if begin in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)
