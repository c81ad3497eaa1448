"""Hostile input, fuzzed with hypothesis: every case is accepted and reads back exactly, or is
refused with a clear exception of an expected type and leaves the store on disk unchanged.

    python -m benchmarks.stress_fuzz --cases 10000
    python -m benchmarks.stress_fuzz --repro segments "{'segs': [...], ...}"

Four categories share the cases equally (strategies in ``benchmarks/_fuzz_strategies.py``,
also used by ``tests/test_fuzz.py``):

- ``stimulus``: stimulus strings and objects — ``eval`` bait (``__import__('os').system``),
  huge or deeply nested literals, NaN/inf, unicode and lone surrogates, non-literal
  expressions, non-string keys, objects that are not stimuli;
- ``segments``: neo segments built around neo's own checks — missing, duplicate, float,
  huge or disagreeing ids, wrong signal shapes and channel counts, unsorted, NaN or
  out-of-range spike times, mixed or non-time units, empty trains, zero-length signals,
  bad sampling periods, events/epochs the store does not keep, duplicate recordings;
- ``ads``: analysis results of every type with missing payloads, payload parts that
  disagree, unstorable dtypes, undeclared or reserved parameters, tags that are not
  strings, bad units (``10**10**10``), unparsable stimulus ids, and the same result twice;
- ``paths``: sheet, stimulus, signal, neuron-sheet and ADS names holding ``/``, ``..``,
  ``=``, NUL, ``%`` or hive-breaking characters, overlong names; a store path that is a file
  (or under one, or a non-empty directory, or holds a junk format file); a table directory
  that is a file; a store reached through a symlink; symlinks out of the store; a format
  file or log record that is a symlink (dangling, to junk, to a directory, a loop).

A case is *refused* when the call raises ``ValueError`` or ``TypeError`` (the errors of
``mozaik_arrow.errors`` derive from them), or, for path cases, an ``OSError``; the message must
not be empty and a listing of the case's directory (every path; files with size and mtime)
must be as before. A case is *accepted* when the call returns; then what it stored is read
back through the API (only what the case wrote) and must equal what went in, and nothing
outside the store may have changed. Anything else — another exception type, a changed store
after a refusal, different data, a duplicate accepted — is a FAILURE.

Each store takes ``--per-store`` cases (checks stay O(1) per case); when it is retired a
fresh read-only open must list exactly the accepted recordings and analysis results and
``validate`` must find no problem.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np

from . import _fuzz_strategies as F

CATEGORIES = ("stimulus", "segments", "ads", "paths")
EXPECTED = (ValueError, TypeError)
EXPECTED_ENV = (ValueError, TypeError, OSError)
BASE_SHEET = "V1_Exc_L4"


class CaseFailure(Exception):
    """The case broke a guarantee (message says which)."""


class Refused(Exception):
    """The store refused the case as it should (the cause is the refusal)."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(exc)
        self.exc = exc


class Skipped(Exception):
    """The input could not be built (neo refused it): nothing reached mozaik_arrow."""


class Stats:
    def __init__(self) -> None:
        self.cases = 0
        self.accepted = 0
        self.refused: collections.Counter[str] = collections.Counter()
        self.foreign: collections.Counter[str] = collections.Counter()  # not MozaikArrowError
        self.skipped = 0
        self.failures: list[dict[str, Any]] = []
        self.notes: collections.Counter[str] = collections.Counter()


def _tiny_segment(sheet: Any = BASE_SHEET, signal_name: str | None = None) -> Any:
    import neo
    import quantities as pq

    seg = neo.Segment(sheet_name=sheet)
    seg.spiketrains = [neo.SpikeTrain([1.0, 2.5], units="ms", t_stop=10.0, channel_id=1),
                       neo.SpikeTrain([], units="ms", t_stop=10.0, channel_id=2)]
    if signal_name is not None:
        sig = neo.AnalogSignal(np.array([[1.0, 2.0], [3.0, 4.0]]), units="mV",
                               sampling_period=0.1 * pq.ms, t_start=0.0 * pq.ms,
                               name=signal_name, channel_ids=np.array([1, 2]))
        seg.analogsignals.append(sig)
    return seg


_REGISTRATION = re.compile(
    r"(^|/)(_lock|_staging|_staging/[0-9a-f]{32}|_staging/[0-9a-f]{32}/\.alive)$")


def _registration(path: str) -> bool:
    """A writer's registration (the lock file, its staging directory and ``.alive`` lock),
    which the first write of an open store creates before its commit can be refused; private
    to the writer, removed when it closes, never seen by a glob or the API."""
    return bool(_REGISTRATION.search(path))


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class Fuzzer:
    """Runs cases against a small store that is replaced every ``per_store`` cases."""

    def __init__(self, base: Path, per_store: int, keep: bool = False) -> None:
        self.base = base
        self.per_store = per_store
        self.keep = keep
        self.stats = {c: Stats() for c in CATEGORIES}
        self.stores = 0
        self.store: Any = None
        self.in_store = 0
        self.counter = 0
        self.store_failures: list[dict[str, Any]] = []
        self.slow: list[tuple[float, str, str, str]] = []  # cases over 1 s

    # -- stores -------------------------------------------------------------------------
    def _open_store(self) -> None:
        import mozaik_arrow as ma

        self.stores += 1
        self.chunk = self.base / f"chunk{self.stores:04d}"
        self.chunk.mkdir(parents=True)
        self.root = str(self.chunk / "store")
        self.store = ma.open(self.root, "w")
        # one recording registers this writer's staging directory, as any real run does
        self.store.add_recording(_tiny_segment(), {"name": "Baseline", "trial": -1})
        from mozaik_arrow.parametrized import canonical_stimulus

        self.recs: dict[tuple, Any] = {
            (BASE_SHEET, canonical_stimulus({"name": "Baseline", "trial": -1})[1], False): None}
        self.stim_strings: dict[str, str] = {}
        self.ads: dict[str, Any] = {}
        self.in_store = 0
        self.before = F.listing(self.chunk)

    def _retire(self, check: bool = True) -> None:
        """Close the store; with ``check``, verify it whole from a fresh read-only open."""
        if self.store is None:
            return
        import mozaik_arrow as ma
        from mozaik_arrow.validation import validate

        problem = None
        try:
            self.store.close()
            if check:
                with ma.open(self.root, "r") as ro:
                    frame = ro.segments_frame().collect()
                    held = set(zip(frame["sheet_name"].to_list(), frame["stimulus"].to_list(),
                                   frame["null"].to_list(), strict=True))
                    if held != set(self.recs):
                        problem = (f"recordings held {len(held)} != accepted {len(self.recs)}: "
                                   f"+{sorted(held - set(self.recs))[:3]} "
                                   f"-{sorted(set(self.recs) - held)[:3]}")
                    keys = set(ro.ads_frame().collect()["ads_key"].to_list())
                    if problem is None and keys != set(self.ads):
                        problem = f"ADS held {len(keys)} != accepted {len(self.ads)}"
                    sheets = set(ro.spikes().select("sheet_name").unique().collect()
                                 .to_series().to_list())
                    want = {k[0] for k in self.recs if k[0] is not None}
                    if problem is None and not sheets <= want:
                        problem = f"store.spikes() holds sheets {sorted(sheets - want)[:3]}"
                report = validate(self.root)
                if problem is None and (not report.ok or report.problems):
                    problem = f"validate: {str(report)[:400]}"
        except Exception as e:  # noqa: BLE001 - reported as a failure below
            problem = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=4)}"
        if problem is not None:
            self.store_failures.append({"category": "store", "spec": f"store {self.stores}",
                                        "what": f"store check at retirement: {problem[:200]}",
                                        "detail": problem})
        self.store = None
        if not self.keep:
            shutil.rmtree(self.chunk, ignore_errors=True)

    def close(self) -> None:
        self._retire()

    # -- one case -----------------------------------------------------------------------
    def run_case(self, category: str, spec: Any) -> str:
        """Run one case; returns 'accepted', 'refused', 'skipped' or 'failed'."""
        if self.store is None or self.in_store >= self.per_store:
            self._retire()
            self._open_store()
        st = self.stats[category]
        self.counter += 1
        outcome = "failed"
        t0 = time.perf_counter()
        try:
            HANDLERS[category](self, spec)
            outcome = "accepted"
            st.accepted += 1
        except Skipped:
            st.skipped += 1
            return "skipped"
        except Refused as r:
            from mozaik_arrow.errors import MozaikArrowError

            outcome = "refused"
            st.refused[type(r.exc).__name__] += 1
            if not isinstance(r.exc, MozaikArrowError):
                st.foreign[f"{type(r.exc).__name__}: {str(r.exc)[:70]}"] += 1
        except CaseFailure as e:
            st.failures.append({"category": category, "spec": spec, "what": str(e).split("\n")[0],
                                "detail": str(e)})
        except Exception as e:  # noqa: BLE001 - every crash is a failure to report
            st.failures.append({"category": category, "spec": spec,
                                "what": f"unexpected {type(e).__name__}: {str(e)[:200]}",
                                "detail": traceback.format_exc(limit=8)})
        st.cases += 1
        self.in_store += 1
        took = time.perf_counter() - t0
        if took > 1.0:
            self.slow.append((took, category, _short(spec, 200), outcome))
            if took > 5.0:
                print(f"  slow case ({took:.1f} s, {outcome}): {category} {_short(spec, 200)}",
                      flush=True)
        if os.path.exists(F.PWNED):
            st.failures.append({"category": category, "spec": spec, "what": "eval bait ran",
                                "detail": F.PWNED})
            os.remove(F.PWNED)
            outcome = "failed"
        if outcome == "failed":
            self._retire(check=False)  # state unknown: start afresh
        return outcome

    def attempt(self, op: Any, expected: tuple = EXPECTED, roots: tuple[str, ...] | None = None,
                root: Path | None = None) -> Any:
        """Run ``op``; a refusal must leave ``root`` (default: this chunk) as it was, and an
        accepted call may change nothing outside ``roots`` (default: the store)."""
        base = self.chunk if root is None else root
        before = self.before if root is None else F.listing(base)
        try:
            result = op()
        except expected as e:
            after = F.listing(base)
            diff = [p for p in F.changed(before, after) if not _registration(p)]
            if diff:
                raise CaseFailure(f"refused with {type(e).__name__}: {str(e)[:200]} -- but the "
                                  f"store changed: {[os.path.relpath(p, base) for p in diff[:6]]}"
                                  ) from e
            if not str(e).strip():
                raise CaseFailure(f"refused with an empty message: {type(e).__name__}") from e
            raise Refused(e) from e
        after = F.listing(base)
        allowed = roots if roots is not None else (self.root,)
        outside = [p for p in F.changed(before, after) if not any(_inside(p, r) for r in allowed)]
        if outside:
            raise CaseFailure(f"accepted, but changed paths outside the store: {outside[:5]}")
        if root is None:
            self.before = after
        return result

    # -- reading back ---------------------------------------------------------------------
    def recording(self, sheet: Any, key: str, null: bool) -> Any:
        import polars as pl

        s = self.store
        view = s._with(recordings=s._recordings().filter(
            (pl.col("sheet_name") == sheet) & (pl.col("stimulus") == key)
            & (pl.col("null") == null)))
        got = view.get_segments(null=null)
        if len(got) != 1:
            raise CaseFailure(f"accepted, but {len(got)} recordings of sheet {sheet!r} stimulus "
                              f"{key} read back")
        return got[0]

    def ads_back(self, key: str) -> Any:
        import polars as pl

        s = self.store
        got = s._with(ads=s._ads().filter(pl.col("ads_key") == key)).analysis_result_copy()
        if len(got) != 1:
            raise CaseFailure(f"accepted, but {len(got)} analysis results with key {key}")
        return got[0]

    def add_recording(self, segs: Any, stim: Any, null: bool = False, check: bool = True) -> None:
        """Add a recording through :meth:`attempt`; then read every segment back exactly."""
        from mozaik_arrow.parametrized import canonical_stimulus

        add = self.store.add_null_recording if null else self.store.add_recording
        self.attempt(lambda: add(segs, stim))
        try:
            string, key, _ = canonical_stimulus(stim)
        except Exception as e:
            raise CaseFailure(f"accepted a stimulus canonical_stimulus refuses: {e!r}") from e
        seglist = segs if isinstance(segs, list | tuple) else [segs]
        for seg in seglist:
            sheet = seg.annotations.get("sheet_name")
            if (sheet, key, null) in self.recs:
                raise CaseFailure(f"a second recording of sheet {sheet!r} stimulus {key} "
                                  "was accepted")
            self.recs[(sheet, key, null)] = None
            if not check:
                continue
            got = self.recording(sheet, key, null)
            if got.annotations["sheet_name"] != sheet:
                raise CaseFailure(f"sheet {sheet!r} read back as {got.annotations['sheet_name']!r}")
            stored = got.annotations["stimulus"]
            want = self.stim_strings.setdefault(key, string)  # the first spelling is kept
            if stored != want:
                raise CaseFailure(f"stimulus string read back as {stored[:80]!r}, not "
                                  f"{want[:80]!r}")
            if canonical_stimulus(stored)[1] != key:
                raise CaseFailure("the stored stimulus string has another key")
            for f in got._row.get("spikes_files") or []:
                parts = f.split("/")
                if len(parts) != 4 or unquote(parts[1][len("sheet="):]) != sheet:
                    raise CaseFailure(f"spikes file {f!r} does not name its sheet as a hive "
                                      "partition")
            try:
                F.check_recording_round_trip(seg, got)
            except AssertionError as e:
                raise CaseFailure(f"accepted, but read back differs: {e}") from e
            got.release()

    def add_ads(self, ads: Any) -> str:
        """Add and save an analysis result; read it back exactly; return its key."""
        from mozaik_arrow.ads_payload import ads_key

        store = self.store

        def op() -> None:
            try:
                store.add_analysis_result(ads)
                store.save()
            except BaseException:
                if store._ads_results._pending:
                    store._ads_results._pending.clear()
                    raise CaseFailure("a refused save() leaves the result pending: every later "
                                      "save() and close() would fail again") from None
                raise

        self.attempt(op)
        key = ads_key(ads)
        if key in self.ads:
            raise CaseFailure("an analysis result equal to a stored one was accepted")
        self.ads[key] = None
        try:
            F.assert_same_ads(ads, self.ads_back(key))
        except AssertionError as e:
            raise CaseFailure(f"accepted, but read back differs: {e}") from e
        return key


# ----------------------------------------------------------------------------- categories

def case_stimulus(fz: Fuzzer, spec: tuple) -> None:
    stim = F.build_stimulus(spec)
    fz.add_recording(_tiny_segment(), stim)


def case_segments(fz: Fuzzer, spec: dict) -> None:
    try:
        segs = F.build_recording(spec)
    except Exception as e:  # noqa: BLE001 - neo refused to build it: not a store case
        raise Skipped(e) from e
    # hypothesis repeats values often: a "fresh" case gets a trial no other case has
    trial = 1_000_000 + fz.counter if spec.get("fresh") else spec["trial"]
    fz.add_recording(segs, {"name": "Fuzz", "trial": trial}, null=spec["null"])


def case_ads(fz: Fuzzer, spec: dict) -> None:
    try:
        cls, kwargs = F.ads_args(spec)
    except Exception as e:  # noqa: BLE001 - neo refused a signal: not a store case
        raise Skipped(e) from e
    if spec.get("fresh") and "neuron" not in kwargs:
        kwargs["neuron"] = fz.counter  # hypothesis repeats values often: make it unique
    try:
        ads = cls(**kwargs)
    except EXPECTED as e:
        if not str(e).strip():
            raise CaseFailure(f"constructor refused with an empty message: {type(e).__name__}"
                              ) from e
        raise Refused(e) from e
    fz.add_ads(ads)
    if spec["twice"]:
        try:
            fz.store.add_analysis_result(ads)
        except ValueError:
            return
        fz.store._ads_results._pending.clear()
        raise CaseFailure("the same analysis result added twice was accepted twice")


def case_paths(fz: Fuzzer, spec: tuple) -> None:
    kind = spec[0]
    fz.counter += 1
    trial = fz.counter
    if kind == "sheet":
        fz.add_recording(_tiny_segment(spec[1]), {"name": "Fuzz", "trial": trial})
    elif kind == "signal_name":
        fz.add_recording(_tiny_segment(BASE_SHEET, spec[1]), {"name": "Fuzz", "trial": trial})
    elif kind == "stimulus_name":
        fz.add_recording(_tiny_segment(), {"name": spec[1], "module_path": spec[1],
                                           "trial": trial, "label": spec[1]})
    elif kind == "neuron_sheet":
        ids = np.arange(trial, trial + 3)
        fz.attempt(lambda: fz.store.set_neuron_ids({spec[1]: ids}))
        got = fz.store.get_sheet_ids(spec[1])
        if not np.array_equal(np.asarray(got), ids):
            raise CaseFailure(f"neuron ids of sheet {spec[1]!r} read back as {got!r}")
    elif kind == "ads_names":
        from mozaik_arrow.ads import SingleValue

        name = spec[1]
        try:
            ads = SingleValue(float(trial), None, value_name=name, sheet_name=name,
                              analysis_algorithm=name, tags=[name])
        except EXPECTED as e:
            raise Refused(e) from e
        fz.add_ads(ads)
    else:
        _environment_case(fz, spec, trial)


def _environment_case(fz: Fuzzer, spec: tuple, trial: int) -> None:
    """Cases that build their own directory tree (a throwaway sandbox in the chunk)."""
    sandbox = fz.chunk / f"t{trial}"
    work = sandbox / "a" / "b" / "c"
    work.mkdir(parents=True)
    try:
        _sandboxed(fz, spec, sandbox, work)
    finally:
        shutil.rmtree(sandbox, ignore_errors=True)


WRITES = {"spikes": "recording", "signals": "recording", "segments": "recording",
          "stimuli": "recording", "sensory": "sensory", "neurons": "neurons", "ads": "ads",
          "ads_payloads": "ads", "_staging": "recording", "_log": "recording",
          "_lock": "recording"}


def _write(store: Any, what: str) -> None:
    from mozaik_arrow.ads import SingleValue

    if what == "recording":
        store.add_recording(_tiny_segment(signal_name="v"), {"name": "Fuzz", "trial": 0})
    elif what == "ads":
        store.add_analysis_result(SingleValue(1.0, None, value_name="x", tags=["t"]))
        store.save()
    elif what == "neurons":
        store.set_neuron_ids({BASE_SHEET: np.arange(1, 4)})
    else:
        store.add_stimulus(np.arange(6.0).reshape(2, 3), {"name": "Fuzz", "trial": 0})


def _read_back(store: Any, what: str) -> None:
    from mozaik_arrow.ads import SingleValue

    if what == "recording":
        segs = store.get_segments()
        if len(segs) != 1:
            raise CaseFailure(f"{len(segs)} recordings read back, not 1")
        F.check_recording_round_trip(_tiny_segment(signal_name="v"), segs[0])
    elif what == "ads":
        got = store.get_analysis_result()
        if len(got) != 1:
            raise CaseFailure(f"{len(got)} analysis results read back, not 1")
        F.assert_same_ads(SingleValue(1.0, None, value_name="x", tags=["t"]), got[0])
    elif what == "neurons":
        if not np.array_equal(store.get_sheet_ids(BASE_SHEET), np.arange(1, 4)):
            raise CaseFailure("neuron ids read back differ")
    else:
        got = store.get_sensory_stimulus()
        if len(got) != 1 or not np.array_equal(got[0], np.arange(6.0).reshape(2, 3)):
            raise CaseFailure("the sensory stimulus read back differs")


def _read_all(store: Any) -> None:
    for seg in store.get_segments() + store.get_segments(null=True):
        seg.get_spiketrains()
        seg.load_full()
    store.get_analysis_result()
    store.get_sensory_stimulus()


def _open_write_read(fz: Fuzzer, sandbox: Path, path: str | Path, mode: str,
                     roots: tuple[str, ...], what: str = "recording",
                     reopen: str | Path | None = None) -> None:
    """Open, write (mode 'a'/'w') or read everything (mode 'r'), close, read back: each call
    its own step (a refused step must leave the sandbox as it was before that step)."""
    import mozaik_arrow as ma

    held: list[Any] = []
    fz.attempt(lambda: held.append(ma.open(path, mode)), EXPECTED_ENV, roots, sandbox)
    store = held[0]
    try:
        if mode == "r":
            fz.attempt(lambda: _read_all(store), EXPECTED_ENV, roots, sandbox)
        else:
            fz.attempt(lambda: _write(store, what), EXPECTED_ENV, roots, sandbox)
    finally:
        try:
            store.close()
        except Exception:  # noqa: BLE001 - a failed save() keeps its batch pending: drop it
            store._ads_results._pending.clear()
            store.close()
            fz.stats["paths"].notes["close() re-raised the error of a failed save() (the "
                                    "batch stays pending)"] += 1
    if mode != "r":
        with ma.open(reopen or path, "r") as ro:
            _read_back(ro, what)


def _sandboxed(fz: Fuzzer, spec: tuple, sandbox: Path, work: Path) -> None:
    import mozaik_arrow as ma

    kind = spec[0]
    sb = str(sandbox)

    def new_store(path: Path, recordings: int = 0) -> None:
        with ma.open(path, "w") as s:
            for i in range(recordings):
                s.add_recording(_tiny_segment(), {"name": "Fuzz", "trial": 100 + i})

    if kind == "store_path":
        target = str(work) + "/" + spec[1]
        if "\x00" not in target and not _inside(os.path.normpath(target), sb):
            raise Skipped("the path leaves the sandbox")
        inside = os.path.normpath(target) if "\x00" not in target else sb
        # creating a store creates its missing parents (like mkdir -p)
        _open_write_read(fz, sandbox, target, "w", (inside, str(work)))
        return
    if kind == "file_not_dir":
        mode, what = spec[1], spec[2]
        f = work / "f"
        f.write_text("hello, not a store")
        d = work / "d"
        d.mkdir()
        (d / "x.txt").write_text("x")
        target = {"file": f, "file/sub": f / "sub", "nonempty_dir": d,
                  "missing/deep/path": work / "missing" / "deep" / "path"}.get(what)
        if what in ("empty_format", "junk_format"):
            target = work / "s"
            target.mkdir()
            (target / "mozaik_arrow.json").write_text(
                "" if what == "empty_format" else '{"format_version": 999}')
        assert target is not None
        _open_write_read(fz, sandbox, target, mode, (str(work / "missing"), str(target)))
        return
    if kind == "table_is_file":
        table, mode = spec[1], spec[2]
        s = work / "s"
        new_store(s)
        p = s / table
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
        if table == "_lock":
            p.mkdir()
        else:
            p.write_text("I am a file, not a directory")
        _open_write_read(fz, sandbox, s, mode, (str(s),), WRITES[table])
        return
    if kind == "symlink_root":
        real = work / "real"
        real.mkdir()
        link = work / "link"
        link.symlink_to(real if spec[1] else "real")  # absolute or relative link
        _open_write_read(fz, sandbox, link, "w", (str(real),), reopen=real)
        return
    if kind == "symlink_out":
        s = work / "s"
        new_store(s)
        outside = sandbox / "outside"
        outside.mkdir()
        p = s / spec[1]
        if p.is_dir():
            shutil.rmtree(p)
        p.symlink_to(outside)
        what = "ads" if spec[1] == "ads" else "recording"
        _open_write_read(fz, sandbox, s, "a", (str(s), str(outside)), what)
        if any(outside.iterdir()):
            fz.stats["paths"].notes[f"writes followed a symlink out of the store ({spec[1]}), "
                                    "accepted and read back exactly"] += 1
        return
    if kind == "symlink_format":
        what, mode = spec[1], spec[2]
        s = work / "s"
        s.mkdir()
        fmt = s / "mozaik_arrow.json"
        junk = work / "junk.json"
        junk.write_text("not json {")
        other = work / "other"
        new_store(other)
        (work / "adir").mkdir()
        target = {"junk": junk, "dir": work / "adir", "dangling": work / "missing.json",
                  "loop": fmt, "other_store": other / "mozaik_arrow.json"}[what]
        fmt.symlink_to(target)
        _open_write_read(fz, sandbox, s, mode, (str(s),))
        return
    if kind == "symlink_log":
        s = work / "s"
        new_store(s, recordings=2)
        other = work / "other"
        new_store(other, recordings=3)
        junk = work / "junk.json"
        junk.write_text("{not json")
        (work / "adir").mkdir()
        rec = s / "_log" / f"{2:020d}.json"
        rec.unlink()
        rec.symlink_to({"dangling": work / "missing.json", "junk": junk, "dir": work / "adir",
                        "other": other / "_log" / f"{2:020d}.json"}[spec[1]])
        _open_write_read(fz, sandbox, s, "r", ())
        return
    raise ValueError(f"unknown path case {spec!r}")


HANDLERS = {"stimulus": case_stimulus, "segments": case_segments, "ads": case_ads,
            "paths": case_paths}
SPECS = {"stimulus": F.stimulus_specs, "segments": F.recording_specs, "ads": F.ads_specs,
         "paths": F.path_specs}


def run_category(fz: Fuzzer, category: str, n: int, seed: int, progress: int = 500) -> None:
    """Run ``n`` cases of ``category`` drawn by hypothesis (topped up if it stops early)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    st = fz.stats[category]
    target = st.cases + n
    t0 = time.perf_counter()
    for round_ in range(20):
        left = target - st.cases
        if left <= 0:
            break

        @hseed(seed * 1000 + round_)
        @settings(max_examples=left + st.skipped, database=None, deadline=None,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(spec=SPECS[category])
        def body(spec: Any) -> None:
            if st.cases >= target:
                return
            fz.run_case(category, spec)
            if progress and st.cases % progress == 0:
                el = time.perf_counter() - t0
                print(f"  {category}: {st.cases} cases, {st.accepted} accepted, "
                      f"{sum(st.refused.values())} refused, {len(st.failures)} failures, "
                      f"{el:.0f} s", flush=True)

        body()


def run(cases: int, seed: int = 0, per_store: int = 200, base: Path | None = None,
        keep: bool = False, categories: tuple[str, ...] = CATEGORIES,
        progress: int = 500) -> tuple[Fuzzer, float]:
    own = base is None
    base = Path(tempfile.mkdtemp(prefix="stress_fuzz_")) if base is None else base
    base.mkdir(parents=True, exist_ok=True)
    fz = Fuzzer(base, per_store, keep)
    t0 = time.perf_counter()
    try:
        per = [cases // len(categories) + (i < cases % len(categories))
               for i in range(len(categories))]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # hostile values make numpy and neo warn by design
            for i, (cat, n) in enumerate(zip(categories, per, strict=True)):
                run_category(fz, cat, n, seed + i, progress)
                fz._retire()  # each category ends with a checked store
    finally:
        fz.close()
        if own and not keep:
            shutil.rmtree(base, ignore_errors=True)
    return fz, time.perf_counter() - t0


def run_one(category: str, spec: Any, base: Path | None = None) -> str:
    """Replay one case in a fresh store; prints and returns its outcome."""
    if isinstance(spec, str):
        spec = eval(spec, {"__builtins__": {}}, dict(F.REPR_NAMESPACE))  # noqa: S307 - our own repro
    base = Path(tempfile.mkdtemp(prefix="stress_fuzz_repro_")) if base is None else base
    fz = Fuzzer(base, 1)
    fz._open_store()
    out = fz.run_case(category, spec)
    st = fz.stats[category]
    for f in st.failures:
        print(f"FAILURE ({category}): {f['what']}\n{f['detail']}")
    if out == "refused":
        print(f"refused: {dict(st.refused)}")
    print(f"outcome: {out}")
    fz.close()
    shutil.rmtree(base, ignore_errors=True)
    return out


def _kind(f: dict[str, Any]) -> str:
    """A failure's kind: the case kind and which guarantee broke, without paths."""
    spec, what = f["spec"], f["what"]
    label = spec[0] if isinstance(spec, tuple) and spec and isinstance(spec[0], str) else ""
    if label in ("table_is_file", "symlink_out", "symlink_format", "symlink_log", "file_not_dir"):
        label = f"{label} {spec[1]}"
    m = re.match(r"refused with (\w+).*but the store changed", what, re.S)
    if m:
        return f"{label}: refused with {m[1]}, but the store changed".strip()
    m = re.match(r"unexpected (\w+): (\[Errno \d+\] [^:']*)?", what)
    if m:
        return f"{label}: unexpected {m[1]} {m[2] or ''}".strip()
    return f"{label}: {what[:80]}".strip()


def _short(spec: Any, limit: int = 600) -> str:
    text = repr(spec)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def report(fz: Fuzzer, elapsed: float, show: int = 5) -> tuple[str, dict[str, Any], int]:
    """Markdown table, JSON data and the number of failures."""
    rows = []
    total = {"cases": 0, "accepted": 0, "refused": 0, "failures": 0, "skipped": 0}
    data: dict[str, Any] = {"categories": {}}
    failures = []
    for cat in CATEGORIES:
        st = fz.stats[cat]
        refused = sum(st.refused.values())
        kinds = ", ".join(f"{k} {v}" for k, v in st.refused.most_common())
        rows.append(f"| {cat} | {st.cases} | {st.accepted} | {refused} | {kinds or '–'} | "
                    f"{len(st.failures)} |")
        for k, v in (("cases", st.cases), ("accepted", st.accepted), ("refused", refused),
                     ("failures", len(st.failures)), ("skipped", st.skipped)):
            total[k] += v
        data["categories"][cat] = {"cases": st.cases, "accepted": st.accepted,
                                   "refused": dict(st.refused), "failures": len(st.failures),
                                   "not_built": st.skipped, "foreign_refusals": dict(st.foreign),
                                   "notes": dict(st.notes)}
        failures += st.failures
    failures += fz.store_failures
    total["failures"] += len(fz.store_failures)
    md = ["| category | cases | accepted (read back exactly) | refused (store unchanged) | "
          "refused by exception type | failures |", "|---|---|---|---|---|---|", *rows,
          f"| **total** | **{total['cases']}** | {total['accepted']} | {total['refused']} | | "
          f"**{total['failures']}** |", ""]
    md.append(f"- time: {elapsed:.0f} s ({elapsed / max(1, total['cases']) * 1000:.1f} ms per "
              f"case), {fz.stores} stores of at most {fz.per_store} cases, each checked when "
              "retired (a fresh read-only open lists exactly the accepted recordings and "
              "analysis results; `validate` finds no problem)")
    md.append(f"- inputs neo itself refused to build (never reached the store, not counted): "
              f"{total['skipped']}")
    foreign = collections.Counter()
    for cat in CATEGORIES:
        foreign.update(fz.stats[cat].foreign)
    if foreign:
        md.append("- refusals raised by an exception that is not a `mozaik_arrow.errors` class "
                  "(most frequent): " + "; ".join(f"`{k}` ×{v}" for k, v in foreign.most_common(6)))
    notes = collections.Counter()
    for cat in CATEGORIES:
        notes.update(fz.stats[cat].notes)
    for k, v in sorted(notes.items()):
        md.append(f"- {k}: {v}")
    slow = sorted(fz.slow, reverse=True)
    if slow:
        md.append(f"- cases slower than 1 s: {len(slow)}; slowest: " + "; ".join(
            f"{t:.1f} s {cat} `{spec[:70]}` ({out})" for t, cat, spec, out in slow[:3]))
    kinds = collections.Counter(f"{f['category']}: {_kind(f)}" for f in failures)
    if failures:
        md.append("")
        md.append("Failures by kind (case kind: what broke):")
        md += [f"- {n} × {k}" for k, n in kinds.most_common()]
        md.append("")
        md.append("First failure of each kind:")
        seen = set()
        for f in failures:
            kind = (f["category"], _kind(f))
            if kind in seen:
                continue
            seen.add(kind)
            md.append(f"- {f['category']}: {f['what'][:240]} — spec `{_short(f['spec'], 120)}`")
            if len(seen) >= show * 2:
                break
    data.update(total)
    data["seconds"] = elapsed
    data["slowest_cases"] = [list(x) for x in slow[:10]]
    data["failure_kinds"] = dict(kinds)
    data["failure_examples"] = [{"category": f["category"], "what": f["what"],
                                 "spec": _short(f["spec"], 2000)} for f in failures[:20]]
    return "\n".join(md) + "\n", data, total["failures"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=10_000, help="total cases (split equally)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-store", type=int, default=200, help="cases per fresh store")
    ap.add_argument("--categories", default=",".join(CATEGORIES))
    ap.add_argument("--dir", default=None, help="where stores are made (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the stores")
    ap.add_argument("--show", type=int, default=5, help="failures to print in full")
    ap.add_argument("--no-results", action="store_true", help="do not write RESULTS.md")
    ap.add_argument("--results-dir", default=None, help="where RESULTS.md is (default: here)")
    ap.add_argument("--repro", nargs=2, metavar=("CATEGORY", "SPEC"),
                    help="replay one case printed by a failing run")
    args = ap.parse_args(argv)
    if args.repro:
        return 0 if run_one(*args.repro) != "failed" else 1
    cats = tuple(c for c in args.categories.split(",") if c)
    fz, elapsed = run(args.cases, args.seed, args.per_store,
                      Path(args.dir) if args.dir else None, args.keep, cats)
    md, data, n_failed = report(fz, elapsed, args.show)
    print(md)
    shown = 0
    for cat in (*CATEGORIES, "store"):
        for f in (fz.store_failures if cat == "store" else fz.stats[cat].failures):
            if shown >= args.show:
                break
            shown += 1
            print(f"--- FAILURE {shown} ({f['category']}): {f['what']}\n{f['detail']}\n"
                  f"repro: python -m benchmarks.stress_fuzz --repro {f['category']} "
                  f"{_shell_quote(repr(f['spec']))}\n", file=sys.stderr)
    if not args.no_results:
        from .common import write_results

        cmd = "python -m benchmarks.stress_fuzz " + " ".join(argv if argv is not None
                                                             else sys.argv[1:])
        write_results("stress_fuzz", cmd.strip(), md, {"seed": args.seed, **data},
                      directory=Path(args.results_dir) if args.results_dir else None)
    if n_failed:
        print(f"FAILED: {n_failed} failures", file=sys.stderr)
    return 1 if n_failed else 0


def _shell_quote(text: str) -> str:
    if len(text) > 4000:
        return "'<spec too long to print: see the JSON>'"
    return "'" + text.replace("'", "'\"'\"'") + "'"


if __name__ == "__main__":
    sys.exit(main())

