"""Timing with peak memory, and this machine's floors, for the benchmark suite.

``common.timeit`` gives times only; the suite also wants the peak resident memory of each
operation. Linux keeps a high-water mark of the resident set (``VmHWM``) that writing ``5``
to ``/proc/self/clear_refs`` resets, so each measurement reports the peak it reached itself
(minus the resident memory before it: what the operation added).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

__all__ = ["measure", "measure_each", "rss_mb", "memcpy_gbps", "durable_writes",
           "durable_write_mbps", "loadavg"]


def _status_mb(key: str) -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def rss_mb() -> float:
    """Resident memory of this process now (MiB)."""
    return _status_mb("VmRSS")


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _stats(times: list[float], base: float) -> dict[str, float]:
    return {"median": statistics.median(times), "min": min(times), "max": max(times),
            "n": len(times), "peak_rss_mb": _status_mb("VmHWM") - base}


def measure(fn: Callable[[], Any], repeat: int = 5, warmup: int = 1,
            setup: Callable[[], Any] | None = None,
            after: Callable[[Any], Any] | None = None) -> dict[str, float]:
    """Time ``fn`` ``repeat`` times after ``warmup`` untimed runs.

    Parameters
    ----------
    fn : callable
        The operation; called with the value ``setup`` returned, if ``setup`` is given.
    repeat, warmup : int
        Timed and untimed runs.
    setup : callable, optional
        Called (untimed) before every run; its value is passed to ``fn``.
    after : callable, optional
        Called (untimed) with ``fn``'s value after every run (to close what it opened).

    Returns
    -------
    dict
        ``median``, ``min``, ``max`` (seconds), ``n`` and ``peak_rss_mb``: the peak resident
        memory reached during the runs above the resident memory before them (MiB).
    """
    base = rss_mb()
    _reset_peak()
    times = []
    for i in range(warmup + repeat):
        arg = (setup(),) if setup is not None else ()
        t = time.perf_counter()
        out = fn(*arg)
        dt = time.perf_counter() - t
        if after is not None:
            after(out)
        del out
        if i >= warmup:
            times.append(dt)
    return _stats(times, base)


def measure_each(fn: Callable[[Any], Any], args: Iterable[Any], warmup: int = 10
                 ) -> dict[str, float]:
    """Time ``fn(a)`` once for each ``a`` of ``args`` (the first ``warmup`` untimed).

    For per-item operations (one neuron's spike train): the median over many different
    items, so that no single cached item decides the figure.
    """
    base = rss_mb()
    _reset_peak()
    times = []
    for i, a in enumerate(args):
        t = time.perf_counter()
        fn(a)
        dt = time.perf_counter() - t
        if i >= warmup:
            times.append(dt)
    return _stats(times, base)


def memcpy_gbps(nbytes: int = 64 * 2**20, repeat: int = 5) -> float:
    """Copy bandwidth of this machine (GB/s): best of ``repeat`` ``numpy.copyto`` of
    ``nbytes`` into a pre-faulted destination."""
    src = np.ones(nbytes // 8)
    dst = np.zeros_like(src)
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t)
    return nbytes / best / 1e9


def durable_writes(directory: str | os.PathLike, nbytes: int, files: int) -> list[float]:
    """Seconds each of ``files`` files of ``nbytes`` random bytes took to write and fsync
    in ``directory`` (as a store commits its files); the files are removed after."""
    chunk = np.random.default_rng(0).integers(0, 256, max(1, nbytes), dtype=np.uint8).tobytes()
    paths = [os.path.join(directory, f"_durable_write_{i}.bin") for i in range(files)]
    times = []
    try:
        for p in paths:
            t = time.perf_counter()
            with open(p, "wb") as f:
                f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            times.append(time.perf_counter() - t)
    finally:
        for p in paths:
            if os.path.exists(p):
                os.remove(p)
    return times


def durable_write_mbps(directory: str | os.PathLike, total_mb: int = 1024,
                       file_mb: int = 32) -> dict[str, float]:
    """Durable write bandwidth of the disk under ``directory`` (MB/s): ``total_mb`` of
    random bytes in files of ``file_mb``, each written and fsynced (:func:`durable_writes`).

    Returns ``burst`` (the first quarter: page cache and device caches absorb it) and
    ``sustained`` (the second half): on this kind of VM the two differ several-fold, and
    a write of several hundred MB runs at the sustained rate.
    """
    n = max(4, total_mb // file_mb)
    times = durable_writes(directory, file_mb * 10**6, n)
    q = max(1, n // 4)
    return {"burst": q * file_mb / sum(times[:q]),
            "sustained": (n - n // 2) * file_mb / sum(times[n // 2:])}


def loadavg() -> list[float]:
    """1, 5 and 15 minute load averages (other work on the machine skews timings)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []
