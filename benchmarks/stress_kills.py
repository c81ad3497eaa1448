"""SIGKILL a writer at random moments, N times; after each kill the store must hold every
acknowledged recording, whole.

    python -m benchmarks.stress_kills --kills 1000
    python -m benchmarks.stress_kills --at-steps --kills 70

A writer process opens the store in mode "a" (which also removes what the previous, killed
writer left) and adds recordings one after another, acknowledging each on a pipe once
``add_recording`` has returned. The driver kills it with SIGKILL after a random delay — during
open, recovery, encoding, the locked publish, or between commits — then checks, with a
read-only open:

- every acknowledged recording is present with both its sheets (a commit is atomic for the
  API) and whole: its spike trains and a membrane potential equal the data written (each
  recording is verified once: committed files are never rewritten, and the glob check below
  catches a committed file that disappears);
- every committed file exists, and files no commit names (orphans of the kill) are counted;
  the next writer's writable open must remove them;
- every ``--full-every`` kills (and when a store is retired): a writable open, then a
  ``*.parquet`` glob finds exactly the committed files, staging is empty, ``validate`` finds no
  problem, and a writer runs to completion (no deadlock after fork).

``--at-steps`` instead makes each writer kill itself at one step of the commit protocol
(``MOZAIK_ARROW_CRASH_AT``), cycling through all of them; a recording killed at ``logged`` or
``done`` must be committed, at an earlier step it must not.

Interpreter start-up and imports cost ~1 s a process, more than a kill cycle; so writers are
forked from a ``multiprocessing`` fork server that has imported mozaik_arrow once (it never
runs a query, so no polars/pyarrow thread pool exists when it forks). Stores are retired
every ``--kills-per-store`` kills so that checks stay O(1) per kill; each store still sees
several checkpoints (every 100 commits).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

STEPS = ["staged", "locked", "intent", "renamed-one", "renamed", "logged", "done"]
STIM = {"name": "FullfieldDriftingSinusoidalGrating", "module_path": "mozaik.stimuli",
        "orientation": 0.0, "trial": 0}
SHEETS = ("V1_Exc_L4", "V1_Inh_L4")
TABLES = ("spikes", "signals", "segments", "stimuli", "sensory", "neurons")


def segments(i: int) -> list:
    """Recording ``i``: two sheets (one with 3 signals of 2 neurons), seeded by ``i``."""
    from mozaik_arrow.synthetic import synthetic_segment

    return [synthetic_segment(SHEETS[0], 300, n_signals=2, duration=500.0, seed=i),
            synthetic_segment(SHEETS[1], 75, duration=500.0, seed=100_000 + i, first_id=1000)]


def stimulus(i: int) -> dict:
    return dict(STIM, trial=i)


def writer(path: str, first: int, count: int, step: str | None, conn: Connection) -> None:
    """Body of a writer process: add recordings ``first, first+1, ...``, acking each."""
    import mozaik_arrow as ma
    from mozaik_arrow.commit import CRASH_ENV

    if step is not None:
        os.environ[CRASH_ENV] = step
    with ma.open(path, "a") as store:
        for i in range(first, first + count):
            store.add_recording(segments(i), stimulus(i))
            conn.send_bytes(str(i).encode())  # one write() < PIPE_BUF: atomic under SIGKILL


class Failure(AssertionError):
    pass


class Checker:
    """What the driver knows of one store, and the checks after each kill."""

    def __init__(self, path: Path) -> None:
        from mozaik_arrow.parametrized import canonical_stimulus

        self.path = path
        self.acked: set[int] = set()
        self.verified: set[int] = set()
        self.pending_orphans: set[str] = set()
        self.orphans_seen = 0
        self.orphans_cleaned = 0
        self._key = canonical_stimulus
        self._trial_of: dict[str, int] = {}

    def key(self, trial: int) -> str:
        k = self._key(stimulus(trial))[1]
        self._trial_of[k] = trial
        return k

    def keys_upto(self, stop: int) -> None:
        for t in range(max(self._trial_of.values(), default=-1) + 1, stop):
            self.key(t)

    def glob(self) -> set[str]:
        out = set()
        for t in TABLES:
            top = self.path / t
            if top.is_dir():
                out.update(str(p.relative_to(self.path)) for p in top.rglob("*.parquet"))
        return out

    def held(self, store: Any) -> set[int]:
        """Trials committed in ``store`` (each must have both sheets)."""
        import polars as pl

        counts = (store.segments_frame().group_by("stimulus").agg(pl.len().alias("n"))
                  .collect())
        held = set()
        for k, n in counts.iter_rows():
            trial = self._trial_of.get(k)
            if trial is None:
                self.keys_upto(max(self._trial_of.values(), default=-1) + 1024)
                trial = self._trial_of.get(k)
            if trial is None:
                raise Failure(f"unknown stimulus {k} committed")
            if n != len(SHEETS):
                raise Failure(f"recording {trial} is half committed ({n} of {len(SHEETS)} sheets)")
            held.add(trial)
        return held

    def verify(self, store: Any, trials: set[int]) -> None:
        import numpy as np

        by_key = {self.key(t): t for t in trials}
        for seg in store.get_segments():
            trial = by_key.get(seg.annotations["stimulus"])
            if trial is None:
                continue
            orig = {o.annotations["sheet_name"]: o for o in segments(trial)}[
                seg.annotations["sheet_name"]]
            got = seg.get_spiketrains()
            if len(got) != len(orig.spiketrains) or any(
                not np.array_equal(a.magnitude, b.magnitude)
                for a, b in zip(got, orig.spiketrains, strict=True)
            ):
                raise Failure(f"recording {trial} ({seg.annotations['sheet_name']}): spikes differ")
            if orig.analogsignals:
                vm = np.asarray(seg.get_vm(1).magnitude).ravel()
                if not np.array_equal(vm, orig.analogsignals[0].magnitude[:, 0]):
                    raise Failure(f"recording {trial}: membrane potential differs")
            seg.release()

    def after_kill(self) -> tuple[set[int], set[str]]:
        """Read-only checks; returns the trials held and the current orphans."""
        import mozaik_arrow as ma

        with ma.open(self.path, "r") as s:
            held = self.held(s)
            lost = self.acked - held
            if lost:
                raise Failure(f"acknowledged recordings lost: {sorted(lost)[:10]}")
            self.verify(s, held - self.verified)
            self.verified |= held
            committed = set(s._snapshot().files)
        on_disk = self.glob()
        if committed - on_disk:
            raise Failure(f"committed files missing: {sorted(committed - on_disk)[:5]}")
        orphans = on_disk - committed
        self.orphans_cleaned += len(self.pending_orphans - orphans)
        self.orphans_seen += len(orphans - self.pending_orphans)
        self.pending_orphans = orphans
        return held, orphans

    def full(self, ctx: Any, first: int) -> int:
        """Writable open, glob == log, staging empty, validate, a writer runs to the end."""
        import mozaik_arrow as ma
        from mozaik_arrow.validation import validate

        ma.open(self.path, "a").close()
        with ma.open(self.path, "r") as s:
            committed = set(s._snapshot().files)
            held = self.held(s)
        on_disk = self.glob()
        if on_disk != committed:
            raise Failure(f"after a writable open, glob != log: +{sorted(on_disk - committed)[:5]} "
                          f"-{sorted(committed - on_disk)[:5]}")
        self.orphans_cleaned += len(self.pending_orphans)
        self.pending_orphans = set()
        staging = self.path / "_staging"
        left = list(staging.iterdir()) if staging.is_dir() else []
        if left:
            raise Failure(f"staging not empty after a writable open: {left[:5]}")
        report = validate(self.path)
        if not report.ok or report.problems:
            raise Failure(f"validate: {report}")
        # a writer still runs to completion (no deadlock after a kill or a fork)
        nxt = max(held | self.acked | {first - 1}) + 1
        acks = run_writer(ctx, self.path, nxt, 1, None, timeout=120)
        if acks != [nxt]:
            raise Failure(f"a clean writer did not finish its recording: {acks}")
        self.acked.add(nxt)
        return nxt + 1


def run_writer(ctx: Any, path: Path, first: int, count: int, step: str | None,
               timeout: float | None = None, kill_after: float | None = None) -> list[int]:
    """Run a writer; kill it after ``kill_after`` seconds (if given); return its acks."""
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=writer, args=(str(path), first, count, step, send))
    proc.start()
    send.close()
    acks: list[int] = []
    deadline = time.monotonic() + (kill_after if kill_after is not None else timeout or 1e9)
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not proc.is_alive() and not recv.poll():
            break
        if recv.poll(min(left, 0.05)):
            try:
                acks.append(int(recv.recv_bytes()))
            except EOFError:
                break
    if kill_after is None:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            os.kill(proc.pid, signal.SIGKILL)
            proc.join()
            raise Failure(f"writer did not finish within {timeout} s (deadlock?)")
    elif proc.is_alive():
        os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    while recv.poll():
        try:
            acks.append(int(recv.recv_bytes()))
        except EOFError:
            break
    recv.close()
    if kill_after is None and step is None and proc.exitcode != 0:
        raise Failure(f"writer failed with exit code {proc.exitcode}")
    if step is not None and proc.exitcode != -signal.SIGKILL:
        raise Failure(f"writer crashing at {step!r} exited with {proc.exitcode}")
    return acks


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=1000)
    ap.add_argument("--at-steps", action="store_true",
                    help="crash at each commit step in turn instead of at random moments")
    ap.add_argument("--max-delay", type=float, default=0.25,
                    help="kill after a uniform random delay in [0, max-delay] s")
    ap.add_argument("--full-every", type=int, default=50)
    ap.add_argument("--kills-per-store", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dir", default=None, help="where stores are made (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the stores")
    ap.add_argument("--no-results", action="store_true", help="do not write RESULTS.md")
    args = ap.parse_args(argv)

    # Writers run this module's `writer`; multiprocessing re-imports the main module in each
    # child as __mp_main__, which warns when it is already loaded (the fork server preloads it).
    sys.warnoptions.append("ignore::RuntimeWarning:runpy")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["mozaik_arrow", "mozaik_arrow.synthetic", "benchmarks.stress_kills"])
    import mozaik_arrow as ma

    rng = random.Random(args.seed)
    base = Path(args.dir or tempfile.mkdtemp(prefix="stress_kills_"))
    base.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    kills = survived = acked_total = orphans_cleaned = orphans_seen = commits = held_total = 0
    stores = 0
    checker: Checker | None = None
    nxt = 0
    step_counts: dict[str, int] = {}
    try:
        for k in range(args.kills):
            if checker is None or k % args.kills_per_store == 0:
                if checker is not None:
                    nxt = checker.full(ctx, nxt)
                    acked_total += len(checker.acked)
                    orphans_cleaned += checker.orphans_cleaned
                    orphans_seen += checker.orphans_seen
                    v, n = _summary(checker.path)
                    commits, held_total = commits + v, held_total + n
                    if not args.keep:
                        shutil.rmtree(checker.path)
                stores += 1
                checker = Checker(base / f"store{stores:03d}")
                ma.open(checker.path, "w").close()
                nxt = 0
            checker.keys_upto(nxt + 64)
            if args.at_steps:
                step = STEPS[k % len(STEPS)]
                acks = run_writer(ctx, checker.path, nxt, 1, step, timeout=120)
                step_counts[step] = step_counts.get(step, 0) + 1
            else:
                step = None
                acks = run_writer(ctx, checker.path, nxt, 10_000, None,
                                  kill_after=rng.uniform(0.0, args.max_delay))
            kills += 1
            checker.acked.update(acks)
            held, orphans = checker.after_kill()
            if step is not None:
                committed = nxt in held
                if committed != (step in ("logged", "done")):
                    raise Failure(f"crash at {step!r}: recording {'is' if committed else 'is not'}"
                                  " committed")
                if step in ("renamed-one", "renamed") and not orphans:
                    raise Failure(f"crash at {step!r} left no orphan for the glob to see")
            nxt = max(held | checker.acked | {nxt - 1}) + 1
            survived += 1
            if kills % args.full_every == 0:
                nxt = checker.full(ctx, nxt)
            if kills % 100 == 0:
                el = time.perf_counter() - t0
                print(f"  {kills} kills, {el:.0f} s ({el / kills * 1000:.0f} ms/kill)", flush=True)
        assert checker is not None
        nxt = checker.full(ctx, nxt)
        acked_total += len(checker.acked)
        orphans_cleaned += checker.orphans_cleaned
        orphans_seen += checker.orphans_seen
        v, n = _summary(checker.path)
        commits, held_total = commits + v, held_total + n
    except Failure as e:
        print(f"FAILED after {kills} kills: {e}\nstore kept at {checker.path if checker else base}",
              file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - t0
    print(f"kills survived: {survived}/{args.kills}, acknowledged recordings: {acked_total}, "
          f"orphans cleaned: {orphans_cleaned}")
    print(f"time: {elapsed:.1f} s ({elapsed / max(1, kills) * 1000:.0f} ms per kill), "
          f"{stores} stores, {commits} commits, {held_total} recordings committed (acknowledged "
          f"or not), orphans seen after kills: {orphans_seen}"
          + (f", kills per step: {step_counts}" if step_counts else ""))
    if not args.keep and args.dir is None:
        shutil.rmtree(base, ignore_errors=True)
    if not args.no_results:
        from .common import write_results

        name = "stress_kills_steps" if args.at_steps else "stress_kills"
        text = (f"- kills survived: **{survived}/{args.kills}** (SIGKILL "
                f"{'at every commit step in turn' if args.at_steps else 'at random moments'})\n"
                f"- acknowledged recordings: {acked_total}, all present and whole after every kill\n"
                f"- recordings committed (acknowledged or not): {held_total}, commits: {commits}\n"
                f"- orphan files seen by a glob after a kill: {orphans_seen}; removed by the next "
                f"writable open: {orphans_cleaned}\n"
                f"- time: {elapsed:.0f} s ({elapsed / max(1, kills) * 1000:.0f} ms per kill)\n")
        write_results(name, "python -m benchmarks.stress_kills " + " ".join(argv or sys.argv[1:]),
                      text, {"kills": args.kills, "survived": survived, "acknowledged": acked_total,
                             "orphans_cleaned": orphans_cleaned, "seconds": elapsed})
    return 0


def _summary(path: Path) -> tuple[int, int]:
    """The store's version and how many recordings (both sheets) it holds."""
    import mozaik_arrow as ma

    with ma.open(path, "r") as s:
        return s._snapshot().version, s._snapshot().num_rows("segments") // len(SHEETS)


if __name__ == "__main__":
    sys.exit(main())
