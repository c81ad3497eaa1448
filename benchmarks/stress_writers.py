"""N writer processes append recordings and analysis results to one store at once, while a
reader process opens it in a loop; nothing may be lost, duplicated or seen half-written.

    python -m benchmarks.stress_writers                      # N = 2, 4, 8; 50 appends each
    python -m benchmarks.stress_writers --writers 2 --appends 3

Each writer opens the store in mode ``"a"`` and makes ``--appends`` appends, acknowledging each
on a pipe once the call that made it durable has returned:

- even appends: ``add_recording`` of a recording with two sheets (spike trains of 40 + 10
  neurons, a membrane potential of two), its stimulus naming the writer and the append;
- odd appends: one ``save()`` of a batch holding an analysis result of this writer only
  (a ``PerNeuronValue``) and a *racing* one (a ``SingleValue`` whose identifier and parameters
  are the same in every writer for that append; its payload names the writer). One writer's
  racing result is stored; every other writer must get the duplicate ``ValueError`` (from
  ``add_analysis_result`` if the winner's commit is already visible, else from ``save()``,
  which commits the rest of the batch and names the dropped result).

Meanwhile the reader opens the store read-only in a loop; at every open the state must be a
committed one: the version never goes back, no recording seen before disappears, every
recording has both its sheets, every listed segment reads (spike trains and membrane
potential) and every analysis result materialises, and no racing result is there twice.

Afterwards a fresh read-only open must hold every acknowledged append, whole (spike trains and
signals equal to the data written, payloads bit for bit), nothing twice, exactly one result
per race (the one whose writer's save succeeded), one commit per append, and ``validate``
must find no problem.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import shutil
import sys
import tempfile
import time
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

SHEETS = ("V1_Exc_L4", "V1_Inh_L4")


def recording(w: int, i: int) -> list:
    from mozaik_arrow.synthetic import synthetic_segment

    seed = w * 100_000 + i
    return [synthetic_segment(SHEETS[0], 40, n_signals=2, signal_names=("v",), duration=200.0,
                              seed=seed),
            synthetic_segment(SHEETS[1], 10, duration=200.0, seed=seed + 50_000, first_id=1000)]


def stimulus(w: int, i: int) -> dict:
    return {"name": "StressWriters", "module_path": "mozaik.stimuli", "writer": w, "trial": i}


def own_ads(w: int, i: int) -> Any:
    import numpy as np
    import quantities as pq

    from mozaik_arrow.ads import PerNeuronValue

    rng = np.random.default_rng(w * 100_000 + i)
    return PerNeuronValue(rng.gamma(2.0, 5.0, 40), np.arange(1, 41), pq.Hz,
                          value_name=f"rate of writer {w}", sheet_name=SHEETS[0], neuron=i,
                          analysis_algorithm="stress_writers", tags=[f"w{w}", f"a{i}"])


def racing_ads(w: int, i: int) -> Any:
    """The same identity in every writer for append ``i``; the payload names the writer."""
    import quantities as pq

    from mozaik_arrow.ads import SingleValue

    return SingleValue(float(w), pq.dimensionless, value_name=f"race {i}",
                       analysis_algorithm="stress_writers race", tags=["race"])


def writer(path: str, w: int, appends: int, start: Any, conn: Connection) -> None:
    """Body of a writer process (see the module docstring)."""
    import mozaik_arrow as ma
    import mozaik_arrow.synthetic  # noqa: F401 - imported before the clock starts

    recording(w, 0), own_ads(w, 1), racing_ads(w, 1)  # warm the imports and caches
    conn.send(("ready", w))
    start.wait()
    with ma.open(path, "a") as store:
        for i in range(appends):
            if i % 2 == 0:
                store.add_recording(recording(w, i), stimulus(w, i))
                conn.send(("rec", w, i))
                continue
            store.add_analysis_result(own_ads(w, i))
            won: bool | None = None
            error = ""
            try:
                store.add_analysis_result(racing_ads(w, i))
            except ValueError as e:  # the winner's commit is visible already
                won, error = False, str(e)
            try:
                store.save()
            except ValueError as e:  # dropped under the lock; the rest of the batch is saved
                if won is not None or "dropped" not in str(e):
                    raise
                won, error = False, str(e)
            conn.send(("ads", w, i))
            conn.send(("race", w, i, won is None, error[:200]))
    conn.send(("done", w))


def reader(path: str, start: Any, stop: Any, conn: Connection) -> None:
    """From ``start``, open the store read-only in a loop until ``stop`` (then once more);
    report what was checked."""
    import collections as c

    import mozaik_arrow as ma

    start.wait()

    opens = segments_read = ads_read = 0
    problems: list[str] = []
    last_version = -1
    seen: set[tuple[str, str]] = set()
    checked: set[tuple[str, str]] = set()
    final = False
    while True:
        if stop.is_set():
            final = True
        try:
            with ma.open(path, "r") as s:
                version = s._snapshot().version
                if version < last_version:
                    problems.append(f"version went back from {last_version} to {version}")
                last_version = version
                segs = s.get_segments()
                keys = {(g.annotations["sheet_name"], g.identifier) for g in segs}
                if not seen <= keys:
                    problems.append(f"recordings disappeared: {sorted(seen - keys)[:3]}")
                seen = keys
                per_stim = c.Counter(g.annotations["stimulus"] for g in segs)
                half = [k for k, n in per_stim.items() if n != len(SHEETS)]
                if half:
                    problems.append(f"recordings with {per_stim[half[0]]} of {len(SHEETS)} "
                                    f"sheets visible: {half[:2]}")
                for g in segs:
                    # every listed segment's spike trains at every open, its Vm at the first
                    k = (g.annotations["sheet_name"], g.identifier)
                    trains = g.get_spiketrains()
                    if len(trains) != g.neuron_num():
                        problems.append(f"{k}: {len(trains)} spike trains of {g.neuron_num()}")
                    if k not in checked and g.annotations["sheet_name"] == SHEETS[0]:
                        g.get_vm(1)
                    checked.add(k)
                    segments_read += 1
                    g.release()
                got = s.get_analysis_result()
                ads_read += len(got)
                races = c.Counter(a.value_name for a in got if "race" in a.tags)
                twice = [k for k, n in races.items() if n > 1]
                if twice:
                    problems.append(f"racing results stored twice: {twice[:3]}")
            opens += 1
        except Exception as e:  # noqa: BLE001 - every error of a reader is a finding
            problems.append(f"{type(e).__name__}: {e}")
        if final:
            break
    conn.send({"opens": opens, "segments_read": segments_read, "ads_read": ads_read,
               "problems": problems[:20], "n_problems": len(problems)})


class Failure(AssertionError):
    pass


def run_round(ctx: Any, path: Path, n: int, appends: int, timeout: float = 900.0
              ) -> dict[str, Any]:
    """One round: ``n`` writers x ``appends`` appends and a reader on a new store."""
    import mozaik_arrow as ma

    ma.open(path, "w").close()
    start = ctx.Event()
    stop = ctx.Event()
    pipes, procs = [], []
    for w in range(n):
        recv, send = ctx.Pipe(duplex=False)
        p = ctx.Process(target=writer, args=(str(path), w, appends, start, send))
        p.start()
        send.close()
        pipes.append(recv)
        procs.append(p)
    rrecv, rsend = ctx.Pipe(duplex=False)
    rp = ctx.Process(target=reader, args=(str(path), start, stop, rsend))
    rp.start()
    rsend.close()
    ready: set[int] = set()
    deadline = time.monotonic() + timeout
    while len(ready) < n and time.monotonic() < deadline:
        for conn in wait(pipes, timeout=1.0):
            try:
                msg = conn.recv()
            except EOFError:
                raise Failure("a writer died before the start") from None
            if msg[0] != "ready":
                raise Failure(f"unexpected message before the start: {msg}")
            ready.add(msg[1])
    t0 = time.perf_counter()
    start.set()
    acks: dict[str, set[tuple[int, int]]] = {"rec": set(), "ads": set()}
    races: dict[int, list[tuple[int, bool, str]]] = collections.defaultdict(list)
    done: set[int] = set()
    open_pipes = list(pipes)
    deadline = time.monotonic() + timeout
    while open_pipes and time.monotonic() < deadline:
        for conn in wait(open_pipes, timeout=1.0):
            try:
                msg = conn.recv()
            except EOFError:
                open_pipes.remove(conn)
                continue
            if msg[0] in acks:
                acks[msg[0]].add((msg[1], msg[2]))
            elif msg[0] == "race":
                races[msg[2]].append((msg[1], msg[3], msg[4]))
            elif msg[0] == "done":
                done.add(msg[1])
    for p in procs:
        p.join(max(1.0, deadline - time.monotonic()))
    elapsed = time.perf_counter() - t0
    stop.set()
    reader_result = rrecv.recv() if rrecv.poll(600) else {"opens": 0, "problems": ["no report"],
                                                          "n_problems": 1}
    rp.join(60)
    stuck = [p.pid for p in procs + [rp] if p.is_alive()]
    for p in procs + [rp]:
        if p.is_alive():
            p.kill()
            p.join()
    failures = []
    if stuck:
        failures.append(f"processes still running after {timeout} s (deadlock?): {stuck}")
    bad = [(w, p.exitcode) for w, p in enumerate(procs) if p.exitcode != 0]
    if bad or len(done) != n:
        failures.append(f"writers failed (writer, exit code): {bad}; finished: {sorted(done)}")
    result = verify(path, n, appends, acks, races)
    failures += result.pop("failures")
    if reader_result.get("n_problems"):
        failures.append(f"reader: {reader_result['n_problems']} problems: "
                        f"{reader_result['problems'][:3]}")
    result.update(writers=n, appends=appends, seconds=elapsed, reader=reader_result,
                  acknowledged=len(acks["rec"]) + len(acks["ads"]), failures=failures)
    return result


def verify(path: Path, n: int, appends: int, acks: dict[str, set[tuple[int, int]]],
           races: dict[int, list[tuple[int, bool, str]]]) -> dict[str, Any]:
    """Everything acknowledged is there, whole, once; one result per race; one commit each."""
    import polars as pl

    import mozaik_arrow as ma
    from mozaik_arrow.ads_payload import ads_key
    from mozaik_arrow.parametrized import canonical_stimulus
    from mozaik_arrow.validation import validate

    from ._fuzz_strategies import assert_same_ads, check_recording_round_trip

    failures: list[str] = []
    lost = duplicated = 0
    with ma.open(path, "r") as s:
        version = s._snapshot().version
        frame = s.segments_frame().collect()
        counts = collections.Counter(zip(frame["sheet_name"].to_list(),
                                         frame["stimulus"].to_list(), strict=True))
        duplicated += sum(c - 1 for c in counts.values() if c > 1)
        segs = {(g.annotations["sheet_name"], canonical_stimulus(g.annotations["stimulus"])[1]): g
                for g in s.get_segments()}
        for w, i in sorted(acks["rec"]):
            key = canonical_stimulus(stimulus(w, i))[1]
            for seg in recording(w, i):
                got = segs.get((seg.annotations["sheet_name"], key))
                if got is None:
                    lost += 1
                    failures.append(f"recording ({w}, {i}) sheet {seg.annotations['sheet_name']}"
                                    " was acknowledged but is not in the store")
                    continue
                try:
                    check_recording_round_trip(seg, got)
                except AssertionError as e:
                    failures.append(f"recording ({w}, {i}) is not whole: {e}")
                got.release()
        unacked = len(counts) - len(acks["rec"]) * len(SHEETS)
        if unacked:
            failures.append(f"{unacked} recordings in the store were never acknowledged")
        ads_frame = s.ads_frame().collect()
        key_counts = collections.Counter(ads_frame["ads_key"].to_list())
        duplicated += sum(c - 1 for c in key_counts.values() if c > 1)
        by_key = {ads_key(a): a for a in s.get_analysis_result()}
        for w, i in sorted(acks["ads"]):
            want = own_ads(w, i)
            got = by_key.get(ads_key(want))
            if got is None:
                lost += 1
                failures.append(f"analysis result ({w}, {i}) was acknowledged but is missing")
                continue
            try:
                assert_same_ads(want, got)
            except AssertionError as e:
                failures.append(f"analysis result ({w}, {i}) differs: {e}")
        race_ok = 0
        lost_at = collections.Counter(("save" if "dropped" in err else "add")
                                      for entries in races.values() for _, won, err in entries
                                      if not won)
        for i, entries in sorted(races.items()):
            stored = ads_frame.filter(pl.col("value_name") == f"race {i}").height
            winners = [w for w, won, _ in entries if won]
            losers = [(w, err) for w, won, err in entries if not won]
            got = by_key.get(ads_key(racing_ads(0, i)))
            if (stored != 1 or len(entries) != n or len(winners) != 1 or got is None
                    or float(got.value) != float(winners[0])):
                failures.append(f"race {i}: {stored} stored, winners {winners}, "
                                f"{len(entries)} writers reported")
                continue
            vague = [w for w, err in losers if "same parameters" not in err
                     and "dropped" not in err]
            if vague:
                failures.append(f"race {i}: losers {vague} got an unclear error")
                continue
            race_ok += 1
    expected_commits = len(acks["rec"]) + len(acks["ads"])
    if version != expected_commits:
        failures.append(f"{version} commits for {expected_commits} acknowledged appends")
    report = validate(path)
    if not report.ok or report.problems:
        failures.append(f"validate: {str(report)[:300]}")
    return {"commits": version, "lost": lost, "duplicated": duplicated, "races": len(races),
            "races_ok": race_ok, "losers_refused_at": dict(lost_at), "failures": failures}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--writers", default="2,4,8", help="comma-separated writer counts")
    ap.add_argument("--appends", type=int, default=50, help="appends per writer")
    ap.add_argument("--dir", default=None, help="where stores are made (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the stores")
    ap.add_argument("--no-results", action="store_true", help="do not write RESULTS.md")
    ap.add_argument("--results-dir", default=None, help="where RESULTS.md is (default: here)")
    args = ap.parse_args(argv)

    # Writers run this module's functions in fresh interpreters ("spawn"): importing
    # mozaik_arrow starts polars' thread pool, and a process forked after that deadlocks in
    # its first polars call (as the ADS path makes), so no fork server can preload it.
    sys.warnoptions.append("ignore::RuntimeWarning:runpy")
    ctx = multiprocessing.get_context("spawn")
    base = Path(args.dir or tempfile.mkdtemp(prefix="stress_writers_"))
    base.mkdir(parents=True, exist_ok=True)
    rows, results, notes = [], [], []
    n_failed = 0
    for n in [int(x) for x in args.writers.split(",") if x]:
        path = base / f"store_{n}w"
        r = run_round(ctx, path, n, args.appends)
        results.append(r)
        rd = r["reader"]
        total = n * args.appends
        rows.append(f"| {n} | {args.appends} | {total} ({r['acknowledged']} acknowledged) | "
                    f"{r['commits']} | {r['lost']} | {r['duplicated']} | "
                    f"{r['races_ok']}/{r['races']} | {rd.get('opens', 0)} opens, "
                    f"{rd.get('segments_read', 0)} segments, {rd.get('ads_read', 0)} ADS read, "
                    f"{rd.get('n_problems', 0)} problems | {r['seconds']:.1f} | "
                    f"{total / r['seconds']:.0f} |")
        print(rows[-1], flush=True)
        at = r["losers_refused_at"]
        notes.append(f"{n} writers: {at.get('add', 0)} racing losers refused by "
                     f"`add_analysis_result`, {at.get('save', 0)} by `save()` under the lock")
        for f in r["failures"]:
            print(f"FAILURE ({n} writers): {f}", file=sys.stderr)
        n_failed += len(r["failures"])
        if not args.keep:
            shutil.rmtree(path, ignore_errors=True)
    if not args.keep and args.dir is None:
        shutil.rmtree(base, ignore_errors=True)
    md = "\n".join([
        "| writers | appends each | appends (all acknowledged) | commits | lost | duplicated | "
        "races with exactly one winner | reader (opens during the writes) | time (s) | "
        "appends/s |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows, "",
        "Each writer alternates `add_recording` (two sheets: 40 + 10 neurons, a membrane "
        "potential) and a `save()` of two analysis results, one of its own and one racing "
        "(identical identity in every writer). After each round a fresh read-only open holds "
        "every acknowledged append, whole (spike trains, signals and payloads equal to what was "
        "written), nothing twice, one result per race (the losers got the duplicate "
        "`ValueError`), one commit per append, and `validate` finds no problem; the reader, "
        "opening the store in a loop during the writes, never saw a version go back, a "
        "recording disappear or half of one, an unreadable segment or a race stored twice.",
        "", *(f"- {x}" for x in notes),
        f"\nFailures: **{n_failed}**", ""])
    print(md)
    if not args.no_results:
        from .common import write_results

        cmd = "python -m benchmarks.stress_writers " + " ".join(argv if argv is not None
                                                               else sys.argv[1:])
        write_results("stress_writers", cmd.strip(), md,
                      {"rounds": [{k: v for k, v in r.items()} for r in results],
                       "failures": n_failed},
                      directory=Path(args.results_dir) if args.results_dir else None)
    return 1 if n_failed else 0


if __name__ == "__main__":
    sys.exit(main())
