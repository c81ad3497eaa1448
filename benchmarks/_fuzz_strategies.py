"""Hostile inputs for fuzzing mozaik_arrow: hypothesis strategies, builders and comparisons.

Shared by ``tests/test_fuzz.py`` (a bounded run in CI) and ``benchmarks/stress_fuzz.py`` (the
>= 10 000-case stress run). Strategies draw plain data ("specs": str, int, float, None, bools,
lists, tuples, dicts) that the ``build_*`` functions turn into neo segments, analysis results
or stimuli, so a failing case prints as a spec that ``eval`` (with :data:`REPR_NAMESPACE`)
reads back and :func:`benchmarks.stress_fuzz.run_one` replays.
"""

from __future__ import annotations

import math
import os
from typing import Any

import neo
import numpy as np
import quantities as pq
from hypothesis import strategies as st

REPR_NAMESPACE = {"nan": math.nan, "inf": math.inf}
PWNED = "/tmp/mozaik_arrow_fuzz_pwned"


def tree(root: str | os.PathLike[str]) -> dict[str, int]:
    """Every path under ``root`` with its size (-1 for directories)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            out[p] = os.path.getsize(p) if n in filenames else -1
    return out


def listing(root: str | os.PathLike[str]) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` (symlinks not followed): files and links with (size,
    mtime_ns), directories with (-1, 0) (their mtime moves with temp files that come and go)."""
    out: dict[str, tuple[int, int]] = {}
    stack = [os.fspath(root)]
    while stack:
        d = stack.pop()
        try:
            entries = list(os.scandir(d))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for e in entries:
            st_ = e.stat(follow_symlinks=False)
            if e.is_dir(follow_symlinks=False):
                out[e.path] = (-1, 0)
                stack.append(e.path)
            else:
                out[e.path] = (st_.st_size, st_.st_mtime_ns)
    return out


def changed(before: dict, after: dict) -> list[str]:
    """Paths added, removed or modified between two :func:`listing` results."""
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


# ----------------------------------------------------------------------------- stimuli

BAIT = [
    f"__import__('os').system('touch {PWNED}')",
    f"{{'name': __import__('os').system('touch {PWNED}')}}",
    "{'name': __import__('os').getcwd()}", "{'name': (lambda: 1)()}", "{'name': 'x'.upper()}",
    "{'name': f'{1}'}", "[{'name': 'X'}]", "{'name': 'X', **{}}", "{1: 'X'}", "{'name': 'X'",
    "{'name': 'X'} or 1", "MozaikExtendedParameterSet({'name': 'X'})", "{'name': b'X'}",
    "{" * 200 + "}" * 200, "{'name': 'X', 'v': " + "[" * 100 + "]" * 100 + "}",
    "{'name': 'X', 'v': ().__class__.__bases__[0].__subclasses__()}",
    "{'name': open('/etc/passwd').read()}", "{'name': exec('x=1')}", "{'name': eval('1')}",
    "{'name': 'X', 'v': 9**9**9**9}", "{'name': 'X', 'v': 'a' * 10**10}",
    "{'name': 'X', 'v': [x for x in range(10**9)]}", "{'name': 'X', 'v': {1, 2}}",
    "{'name': 'X', 'v': 1j}", "{'name': 'X', 'v': ...}", "{'name': 'X', 'v': float('nan')}",
    "{'name': 'X', 'v': nan}", "{'name': 'X', 'v': inf}", "{'name': 'X', 'v': -inf}",
    "{'name': 'X', 'v': 1e999}", "{'name': 'X', 'v': -0.0}", "{'name': 'X', 'v': np.float64(1)}",
    "{'name': 'X', 'v': numpy.float64(1)}", "{'name': 'X', 'v': float64(1)}",
    "{'name': 'X', 'v': MozaikExtendedParameterSet({'a': __import__('os')})}",
    "{'name': 'X', 'v': ParameterSet({'a': 1})}", "{'name': 'X', 'name': 'Y'}",
    "{'name': 'X', 'v': (yield)}", "{'name': 'X', 'v': x := 1}", "{'name': 'X', 'v': 1 if 1 else 2}",
    "{'name': 'X', 'v': 'a' 'b'}", "{'name': 'X', 'v': u'a'}", "{'name': 'X', 'v': r'\\x'}",
    "{'name': 'X', 'v': '\\ud800'}", "{'name': 'X', 'v': '\\x00'}", "{'name': '\\x00'}",
    "{'name': 'X', 'trial': 0} # comment", "\n{'name': 'X'}\n", "{'name': 'X',}",
    "{'name': 'X', 'v': True_}", "{'name': 'X', 'v': np.True_}", "{'name': 'X', '': 1}",
    "{'name': 'X', 'a b': 1}", "{'name': 'X', 'v': None, 'w': True, 'z': (1, 2)}",
    "{\"module_path\" :\"mozaik.stimuli\",\"name\":'EndOfSimulationBlank', \"trial\":0}",
    "", " ", "None", "{}", "{'name': ''}", "{'name': None}", "{'name': 5}",
]
EXPRESSIONS = [
    "1+1", "-1", "+1", "~1", "not True", "x", "x.y", "f()", "[i for i in ()]", "lambda: 0",
    "a if b else c", "*a", "{**a}", "f'{x}'", "b'x'", "...", "(1,)", "()", "[]", "{}", "set()",
    "1 < 2", "a[0]", "[1][0]", "'a' * 3", "2 ** 8", "0x10", "1_000", "1e-5", "-(-1)", "--1",
    "(1, [2, {'a': 3}])", "{'a': {'b': {'c': None}}}", "True", "None", "'\\N{SNOWMAN}'",
]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
names = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
stimulus_dicts = st.dictionaries(names, st.one_of(scalars, st.lists(scalars, max_size=3)),
                                 max_size=6).map(lambda d: {**d, "name": "Fuzz", "trial": 0})
stimuli = st.one_of(stimulus_dicts, st.sampled_from(BAIT), st.text(max_size=60),
                    stimulus_dicts.map(lambda d: repr(d)))
NON_STRINGS = [42, None, b"{'name': 'X'}", ["X"], ("X",), {"name": 5}, {"name": None},
               {"name": ""}, {"trial": 0}, {1: "X"}, {"name": "X", 1: 2}, {"name": "X", "a b": 1},
               {"name": "X", "v": {1, 2}}, {"name": "X", "v": b"x"}, {"name": "X", "v": 1j},
               {"name": "X", "v": {"k": {"k": {"k": [None, (1.5, "s")]}}}},
               {"name": "X", "v": 2**20000}, {"name": "\ud800"}, {"name": "X", "\ud800": 1},
               {"name": "X", "v": ["\x00", "\u202e", "😀"]}, 3.5, True, {"name": ("X",)}]

stimulus_specs = st.one_of(
    st.tuples(st.just("value"), stimuli),
    st.tuples(st.just("value"), st.sampled_from(NON_STRINGS)),
    st.tuples(st.just("huge"), st.sampled_from(["digits", "string", "list", "float", "key",
                                                "name"]),
              st.integers(1, 100_000)),
    # A parameter set becomes one typed column per key: 3 000 keys take ~2 s to store, and the
    # cost grows faster than quadratically (33 541 keys: 575 s), so the run keeps them small.
    st.tuples(st.just("huge"), st.just("dict"), st.integers(1, 3_000)),
    st.tuples(st.just("deep"), st.sampled_from(["list", "dict", "tuple", "paren", "pset",
                                                "obj_list", "obj_dict"]),
              st.integers(1, 3000)),
    st.tuples(st.just("expr"), st.sampled_from(EXPRESSIONS), names),
    st.tuples(st.just("value"), st.dictionaries(
        st.text(max_size=6), st.one_of(scalars, st.text(), st.lists(st.text(max_size=3))),
        max_size=4).map(lambda d: {**d, "name": "Fuzz"})),
)


def build_stimulus(spec: tuple) -> Any:
    """The stimulus (a string, mapping or other object) a :data:`stimulus_specs` spec names."""
    kind = spec[0]
    if kind == "value":
        return spec[1]
    if kind == "expr":
        return f"{{'name': 'Fuzz', 'trial': 0, {spec[2]!r}: {spec[1]}}}"
    if kind == "huge":
        what, n = spec[1], spec[2]
        head = "{'name': 'Fuzz', 'trial': 0, "
        if what == "digits":
            return head + "'v': " + "9" * n + "}"
        if what == "string":
            return head + "'v': '" + "a" * n + "'}"
        if what == "list":
            return head + "'v': [" + ", ".join(str(i * 0.5) for i in range(n)) + "]}"
        if what == "dict":
            return head + "'v': {" + ", ".join(f"'k{i}': {i}" for i in range(n)) + "}}"
        if what == "float":
            return head + "'v': 1." + "1" * n + "e" + str(n) + "}"
        if what == "key":
            return head + "'" + "k" * n + "': 1}"
        return "{'name': '" + "N" * n + "', 'trial': 0}"
    if kind == "deep":
        what, d = spec[1], spec[2]
        head = "{'name': 'Fuzz', 'trial': 0, 'v': "
        if what == "list":
            return head + "[" * d + "]" * d + "}"
        if what == "tuple":
            return head + "(" * d + "1," + ")" * d + "}"
        if what == "paren":
            return head + "(" * d + "1" + ")" * d + "}"
        if what == "dict":
            return head + "{'a': " * d + "1" + "}" * d + "}"
        if what == "pset":
            return head + "MozaikExtendedParameterSet({'a': " * d + "1" + "})" * d + "}"
        v: Any = 1
        for _ in range(d):
            v = [v] if what == "obj_list" else {"a": v}
        return {"name": "Fuzz", "trial": 0, "v": v}
    raise ValueError(f"unknown stimulus spec {spec!r}")


# ----------------------------------------------------------------------------- segments

# A recording is built valid from the spec, then its mutations (none in about half of the
# cases) make it hostile: each names one way a segment can be malformed.
SEGMENT_MUTATIONS = [
    "missing_id", "source_id_only", "duplicate_id", "float_id", "integral_float_id", "huge_id",
    "str_id", "bool_id", "disagree_id", "unsorted", "nan_time", "inf_time", "before_t_start",
    "after_t_stop", "t_start_after_t_stop", "nan_t_stop", "inf_t_stop", "mixed_units",
    "non_time_units", "empty_trains", "int_times", "f2_times", "zero_length_signal",
    "zero_channel_signal", "channels_vs_ids", "signal_no_name", "signal_empty_name",
    "signal_no_ids", "signal_ids_disagree", "signal_array_ids", "signal_units_mixed",
    "signal_period_zero", "signal_period_negative", "signal_period_nan", "signal_t_start_nan",
    "signal_t_start_inf", "signal_nan_values", "signal_int_dtype", "signal_rate_khz",
    "signal_period_seconds", "duplicate_signal_neuron", "signal_huge_ids", "no_sheet",
    "int_sheet", "empty_sheet", "same_sheet_twice", "event", "epoch", "irregular",
    "empty_segment", "no_segments", "not_a_segment", "junk_annotation", "name_annotations",
]
recording_specs = st.fixed_dictionaries({
    "sheets": st.lists(st.sampled_from(["V1_Exc_L4", "V1_Inh_L4", "X_ON", "a/b", "é"]),
                       min_size=1, max_size=2, unique=True),
    "trains": st.lists(st.lists(st.floats(0.0, 100.0), max_size=6), max_size=5),
    "units": st.sampled_from(["ms", "ms", "s", "us"]),
    "dtype": st.sampled_from(["f8", "f8", "f4"]),
    "t_start": st.sampled_from([0.0, 0.0, -5.0]),
    "t_stop": st.sampled_from([100.0, 150.0]),
    "first_id": st.one_of(st.integers(-5, 50), st.integers(-2**62, 2**62)),
    "signals": st.lists(st.sampled_from(["v", "gsyn_exc", "gsyn_inh", "w"]), max_size=3,
                        unique=True),
    "samples": st.integers(0, 6),
    "channels": st.integers(1, 3),
    "signal_units": st.sampled_from(["mV", "mV", "nS", "dimensionless"]),
    "signal_t_start": st.sampled_from([0.0, 10.0, -2.5]),
    "period": st.sampled_from([0.1, 1.0, 0.025]),
    "signal_dtype": st.sampled_from(["f8", "f8", "f4"]),
    "mutations": st.one_of(st.just([]), st.lists(st.sampled_from(SEGMENT_MUTATIONS),
                                                 min_size=1, max_size=2)),
    "trial": st.integers(0, 400),
    "fresh": st.sampled_from([True, True, True, False]),  # unique trial (the case number)
    "null": st.booleans(),
    "as_list": st.booleans(),
})


def _q(value: float, units: str) -> pq.Quantity:
    return pq.Quantity(value, units)


def _train(times: list[float], units: str, dtype: str, t_start: float, t_stop: float,
           **annotations: Any) -> neo.SpikeTrain:
    """A spike train with neo's window check bypassed (window set after construction)."""
    arr = np.asarray(times, dtype=np.float64)
    arr = arr.astype(np.int64) if dtype == "i8" else arr.astype(dtype)
    st_ = neo.SpikeTrain(arr, units=units, t_start=0.0, t_stop=0.0, **annotations) \
        if arr.size == 0 else neo.SpikeTrain(arr, units=units, t_start=arr.min(),
                                             t_stop=arr.max(), **annotations)
    st_.t_start = _q(t_start, units)
    st_.t_stop = _q(t_stop, units)
    return st_


def _segment_of(spec: dict, sheet: Any, mu: set[str], first: bool) -> neo.Segment:
    """One sheet's segment of the recording ``spec``; mutations apply to the first."""
    m = mu if first else set()
    units, dtype = spec["units"], spec["dtype"]
    t0, t1 = spec["t_start"], spec["t_stop"]
    if "int_times" in m:
        dtype = "i8"
    if "f2_times" in m:
        dtype = "f2"
    ids: list[Any] = [spec["first_id"] + i for i in range(len(spec["trains"]))]
    trains = []
    for i, times in enumerate(spec["trains"]):
        times = sorted(times)
        ts, tp, u = t0, t1, units
        if i == 0:
            if "unsorted" in m and len(set(times)) > 1:
                times = times[::-1]
            if "nan_time" in m:
                times = [*times, math.nan]
            if "inf_time" in m:
                times = [*times, math.inf]
            if "before_t_start" in m and times:
                ts = times[0] + 1.0
            if "after_t_stop" in m and times:
                tp = times[-1] - 1.0
            if "t_start_after_t_stop" in m:
                ts = tp + 1.0
            if "nan_t_stop" in m:
                tp = math.nan
            if "inf_t_stop" in m:
                tp = math.inf
            if "mixed_units" in m:
                u = {"ms": "s", "s": "ms", "us": "ms"}[units]
            if "non_time_units" in m:
                u = "mV"
        if "empty_trains" in m:
            times = []
        ann: dict[str, Any] = {"channel_id": ids[i]}
        if i == 0:
            for name, value in (("float_id", ids[0] + 0.5), ("integral_float_id", float(ids[0])),
                                ("huge_id", 2**63), ("str_id", str(ids[0])), ("bool_id", True)):
                if name in m:
                    ann["channel_id"] = value
            if "missing_id" in m:
                ann = {}
            if "source_id_only" in m:
                ann = {"source_id": ids[0]}
            if "disagree_id" in m:
                ann["source_id"] = ids[0] + 1
        if i == 1 and "duplicate_id" in m:
            ann["channel_id"] = ids[0]
        trains.append(_train(times, u, dtype, ts, tp, **ann))
    seg = neo.Segment(name="seg", description="fuzz", trial=spec["trial"])
    if "name_annotations" in m:
        seg.annotations.update({"label": "a/b=c", "count": 3, "ratio": math.nan})
    if "junk_annotation" in m:
        seg.annotations["junk"] = object()
    seg.annotations["sheet_name"] = sheet
    if "no_sheet" in m:
        del seg.annotations["sheet_name"]
    if "int_sheet" in m:
        seg.annotations["sheet_name"] = 5
    if "empty_sheet" in m:
        seg.annotations["sheet_name"] = ""
    seg.spiketrains = trains
    c = spec["channels"]
    sig_ids = (ids[:c] if len(ids) >= c else [spec["first_id"] + 100 + i for i in range(c)])
    for j, name in enumerate(spec["signals"]):
        n = 0 if "zero_length_signal" in m else spec["samples"]
        cols = 0 if "zero_channel_signal" in m else c
        data = (np.arange(n * cols, dtype=np.float64).reshape(n, cols) * 0.25 - 60.0)
        if "signal_nan_values" in m and data.size:
            data[0, 0] = math.nan
        data = data.astype(np.int32 if "signal_int_dtype" in m else spec["signal_dtype"])
        period, pu = spec["period"], "ms"
        for mut, value in (("signal_period_zero", 0.0), ("signal_period_negative", -0.1),
                           ("signal_period_nan", math.nan)):
            if mut in m:
                period = value
        t_start = spec["signal_t_start"]
        if "signal_t_start_nan" in m:
            t_start = math.nan
        if "signal_t_start_inf" in m:
            t_start = math.inf
        kw: dict[str, Any] = {"sampling_period": _q(period, pu)}
        if "signal_rate_khz" in m:
            kw = {"sampling_rate": _q(1.0 / period if period else math.inf, "kHz")}
        if "signal_period_seconds" in m:
            kw = {"sampling_period": _q(period / 1000.0, "s")}
        sname: Any = name
        if j == 0 and "signal_no_name" in m:
            sname = None
        if j == 0 and "signal_empty_name" in m:
            sname = ""
        sunits = spec["signal_units"]
        if j == 1 and "signal_units_mixed" in m:
            sname, sunits = spec["signals"][0], "V"
        sig = neo.AnalogSignal(data, units=sunits, t_start=_q(t_start, "ms"), name=sname, **kw)
        these = list(sig_ids[:cols])
        if "channels_vs_ids" in m:
            these = [*these, spec["first_id"] + 999]
        if "signal_huge_ids" in m and these:
            these[0] = 2**64
        if j == 1 and "signal_units_mixed" in m:
            these = [x + 1000 for x in these]
        if j == 1 and "duplicate_signal_neuron" in m:
            sname = spec["signals"][0]
            sig.name = sname
            sig = sig.rescale(spec["signal_units"]) if sunits != spec["signal_units"] else sig
        if "signal_no_ids" in m:
            pass
        elif "signal_array_ids" in m and len(these) == sig.shape[1]:
            sig.array_annotate(channel_ids=np.asarray(these))
        else:
            sig.annotations["channel_ids"] = np.asarray(these)
            if "signal_ids_disagree" in m:
                sig.annotations["source_ids"] = np.asarray(these) + 1
        seg.analogsignals.append(sig)
    if "event" in m:
        seg.events.append(neo.Event(np.array([1.0]) * pq.ms))
    if "epoch" in m:
        seg.epochs.append(neo.Epoch(np.array([1.0]) * pq.ms, durations=np.array([1.0]) * pq.ms))
    if "irregular" in m:
        seg.irregularlysampledsignals.append(neo.IrregularlySampledSignal(
            [1.0, 2.0], [1.0, 2.0], units="mV", time_units="ms"))
    if "empty_segment" in m:
        seg.spiketrains = []
        seg.analogsignals.clear()
    return seg


def build_recording(spec: dict) -> Any:
    """The ``segments`` argument of ``add_recording`` a :data:`recording_specs` spec describes
    (a Segment, a list of them, or something that is not); may raise if neo refuses a part."""
    mu = set(spec["mutations"])
    if "no_segments" in mu:
        return []
    sheets = list(spec["sheets"])
    if "same_sheet_twice" in mu:
        sheets = [sheets[0], sheets[0]]
    segs: list[Any] = [_segment_of(spec, s, mu, i == 0) for i, s in enumerate(sheets)]
    if "not_a_segment" in mu:
        segs[0] = segs[0].spiketrains[0] if segs[0].spiketrains else {"sheet_name": sheets[0]}
    return segs if spec["as_list"] or len(segs) != 1 else segs[0]


def segment(times, t_stop, ids, sheet, units="ms", signal_shape=None) -> neo.Segment:
    """A plain segment through neo's constructors (tests/test_fuzz.py's original builder)."""
    trains = [neo.SpikeTrain(np.asarray(t, dtype=np.float64), units=units, t_stop=t_stop,
                             channel_id=i) for t, i in zip(times, ids, strict=False)]
    seg = neo.Segment(sheet_name=sheet) if sheet is not None else neo.Segment()
    seg.spiketrains = trains
    if signal_shape is not None:
        seg.analogsignals.append(neo.AnalogSignal(np.zeros(signal_shape), units="mV",
                                                  sampling_period=0.1 * pq.ms, name="v",
                                                  channel_ids=np.asarray(ids[:2])))
    return seg


def _time_units(units: pq.Quantity) -> str:
    return units.dimensionality.string


def check_recording_round_trip(given: neo.Segment, got: neo.Segment) -> None:
    """``got`` (read back) holds exactly ``given``'s spike trains and signals (AssertionError)."""
    def nid(st_: Any) -> int:
        a = st_.annotations
        return int(a["channel_id"] if "channel_id" in a else a["source_id"])

    want = {nid(t): t for t in given.spiketrains}
    have = {int(t.annotations["channel_id"]): t for t in got.spiketrains}
    assert sorted(want) == sorted(have), f"neuron ids {sorted(want)} != {sorted(have)}"
    for i, w in want.items():
        h = have[i]
        assert _time_units(h.units) == _time_units(w.units), f"neuron {i}: units"
        wv = np.asarray(w.magnitude, dtype=np.float64)
        assert np.array_equal(h.magnitude, wv), f"neuron {i}: spike times differ"
        assert h.magnitude.dtype == np.float64
        for attr in ("t_start", "t_stop"):
            x, y = float(getattr(w, attr).rescale(w.units)), float(getattr(h, attr))
            assert x == y, f"neuron {i}: {attr} {x} != {y}"
    by_name: dict[str, dict[int, tuple[neo.AnalogSignal, int]]] = {}
    for sig in given.analogsignals:
        a = dict(sig.annotations)
        a.update(sig.array_annotations or {})
        ids = a.get("channel_ids", a.get("source_ids"))
        for col, i in enumerate(np.asarray(ids).reshape(-1).tolist()):
            by_name.setdefault(sig.name, {})[int(i)] = (sig, col)
    stored = {s.name: s for s in got.analogsignals}
    assert sorted(stored) == sorted(by_name), f"signals {sorted(by_name)} != {sorted(stored)}"
    for name, cols in by_name.items():
        s = stored[name]
        ids = np.asarray(s.annotations["channel_ids"]).tolist()
        assert sorted(ids) == sorted(cols), f"signal {name!r}: ids {sorted(cols)} != {ids}"
        for i, (w, col) in cols.items():
            wm = w.magnitude if w.magnitude.ndim == 2 else w.magnitude[:, None]
            hv = np.asarray(s.magnitude[:, ids.index(i)])
            assert np.array_equal(hv, wm[:, col].astype(np.float64), equal_nan=True), \
                f"signal {name!r} of neuron {i}: samples differ"
            assert w.dimensionality.string == s.dimensionality.string, f"signal {name!r}: units"
            assert float(w.t_start) == float(s.t_start.rescale(w.t_start.units)), \
                f"signal {name!r}: t_start"
            if w.sampling_period.dimensionality.string == w.t_start.dimensionality.string:
                assert _time_units(s.sampling_period.units) == _time_units(w.t_start.units)
                assert float(s.sampling_period) == float(w.sampling_period), \
                    f"signal {name!r}: sampling period {s.sampling_period} != {w.sampling_period}"
            else:
                assert math.isclose(float(s.sampling_period.rescale(pq.s)),
                                    float(w.sampling_period.rescale(pq.s)), rel_tol=1e-12)


# ----------------------------------------------------------------------------- ADS

ADS_TYPE_NAMES = ["SingleValue", "SingleValueList", "PerNeuronValue", "PerNeuronPairValue",
                  "PerAreaValue", "AnalysisDataStructure1D", "AnalogSignal", "AnalogSignalList",
                  "PerNeuronPairAnalogSignalList", "PerAreaAnalogSignalList",
                  "ConductanceSignalList", "Connections"]
# An analysis result is built valid from the spec, then its mutations (none in about half of
# the cases) make it hostile.
ADS_MUTATIONS = [
    "missing_payload", "missing_second", "values_vs_ids", "pair_not_square", "dup_ids",
    "float_ids", "2d_ids", "str_ids", "huge_ids", "neg_ids", "pair_triples", "object_dtype",
    "str_dtype", "complex_dtype", "bad_units", "units_bomb", "scaled_units", "units_int",
    "units_big_exp", "units_injection", "units_empty", "undeclared_param", "reserved_param",
    "identifier_param", "wrong_param_type", "nan_param", "inf_param", "huge_int_param",
    "surrogate_param", "nul_param", "bytes_param", "list_param", "tag_not_str", "tags_str",
    "tag_surrogate", "tag_none", "tags_tuple", "tag_bytes", "bad_stimulus_id",
    "bait_stimulus_id", "int_stimulus_id", "signal_name_not_str", "signal_no_channels",
    "signal_nan_t_start", "signals_vs_ids", "empty_asl", "not_a_signal", "grid_ragged",
    "weights_1d", "free_dict", "free_str", "mixed_q", "free_none", "e_i_units_differ",
]
VALID_STIM_IDS = [None, None, "{'name': 'Fuzz', 'trial': 0}",
                  "{\"module_path\" :\"mozaik.stimuli\",\"name\":'Blank', \"trial\":1}",
                  "{'trial': 0, 'name': 'Fuzz'}"]
ads_specs = st.fixed_dictionaries({
    "type": st.sampled_from(ADS_TYPE_NAMES),
    "n": st.integers(0, 5),
    "k": st.integers(1, 3),
    "dtype": st.sampled_from(["f8", "f8", "f4", "f2", "i8", "i4", "u8", "u1", "?"]),
    "fill": st.sampled_from(["ramp", "ramp", "nan", "inf", "big", "neg0"]),
    "units": st.sampled_from([None, "Hz", "mV", "ms", "dimensionless", "1/s", "mV*nS", "pq:Hz"]),
    "units2": st.sampled_from([None, "Hz", "mV", "ms", "pq:Hz"]),
    "free": st.sampled_from(["float", "int", "bool", "np_scalar", "ndarray", "list", "tuple",
                             "quantity", "list_q", "nan"]),
    "value_name": st.one_of(st.sampled_from(["rate", "Firing rate", "orientation"]),
                            st.text(min_size=1, max_size=8), st.text(min_size=1, max_size=8)),
    "sheet_name": st.sampled_from([None, "V1_Exc_L4", "V1_Inh_L4"]),
    "stimulus_id": st.sampled_from(VALID_STIM_IDS),
    "tags": st.lists(st.text(max_size=5), max_size=3),
    "signal": st.fixed_dictionaries({
        "samples": st.integers(0, 5), "channels": st.integers(1, 2),
        "units": st.sampled_from(["mV", "mV", "nS", "Hz"]),
        "t_start": st.sampled_from([0.0, 10.0, -1.5]),
        "rate": st.sampled_from([False, False, True]),
        "name": st.sampled_from([None, "v", ""]),
        "dtype": st.sampled_from(["f8", "f4", "i2"])}),
    "mutations": st.one_of(st.just([]), st.lists(st.sampled_from(ADS_MUTATIONS), min_size=1,
                                                 max_size=2)),
    "twice": st.booleans(),
    "fresh": st.sampled_from([True, True, True, False]),  # unique (neuron = case number)
})


def _ads_array(spec: dict, shape: tuple[int, ...], mu: set[str]) -> Any:
    n = int(np.prod(shape)) if shape else 1
    base = np.arange(n, dtype=np.float64).reshape(shape) * 0.5
    fill = {"nan": math.nan, "inf": math.inf, "big": 1e300, "neg0": -0.0}.get(spec["fill"])
    if fill is not None:
        base = np.full(shape, fill)
    if "object_dtype" in mu:
        return np.array([None] * n, dtype=object).reshape(shape)
    if "str_dtype" in mu:
        return base.astype("U3")
    with np.errstate(all="ignore"):
        return base.astype("c16" if "complex_dtype" in mu else spec["dtype"])


def _ads_ids(n: int, mu: set[str], pairs: bool = False) -> Any:
    ids: list[Any] = list(range(100, 100 + n))
    if "dup_ids" in mu and n > 1:
        ids[1] = ids[0]
    if "float_ids" in mu:
        ids = [i + 0.5 for i in ids]
    if "str_ids" in mu:
        ids = [str(i) for i in ids]
    if "huge_ids" in mu:
        ids = [2**63 + i for i in range(n)]
    if "neg_ids" in mu:
        ids = [-i - 1 for i in range(n)]
    if "2d_ids" in mu:
        ids = [[i, i] for i in ids]
    if pairs:
        return [(i, i + 1, i + 2) if "pair_triples" in mu else (i, i + 1) for i in ids]
    return ids


def _ads_units(spec: dict, key: str, mu: set[str]) -> Any:
    u = spec[key]
    for name, value in (("bad_units", "bogus"), ("units_bomb", "10**10**10"),
                        ("scaled_units", 2 * pq.ms), ("units_int", 5), ("units_big_exp", "s**65"),
                        ("units_injection", "Hz; import os"), ("units_empty", "")):
        if name in mu and key == "units":
            u = value
    return pq.Hz if u == "pq:Hz" else u


def _ads_free(spec: dict, mu: set[str]) -> Any:
    for name, value in (("free_dict", {"a": 1}), ("free_str", "x"), ("mixed_q", [1.0 * pq.s, 2.0]),
                        ("free_none", None)):
        if name in mu:
            return value
    n = spec["n"]
    return {
        "float": 3.25, "int": 7, "bool": True, "np_scalar": np.float32(0.5), "nan": math.nan,
        "ndarray": _ads_array(spec, (n,), mu), "list": [0.5 * i for i in range(n)],
        "tuple": tuple(range(n)), "quantity": 12.5 * pq.mV, "list_q": [i * pq.s for i in range(n)],
    }[spec["free"]]


def _ads_signal(spec: dict, mu: set[str], units: str | None = None) -> Any:
    s = spec["signal"]
    c = 0 if "signal_no_channels" in mu else s["channels"]
    data = np.arange(s["samples"] * c, dtype=np.float64).reshape(s["samples"], c) \
        .astype(s["dtype"])
    kw: dict[str, Any] = ({"sampling_rate": 200.0 * pq.Hz} if s["rate"]
                          else {"sampling_period": 0.1 * pq.ms})
    t0 = math.nan if "signal_nan_t_start" in mu else s["t_start"]
    sig = neo.AnalogSignal(data, units=units or s["units"], t_start=t0 * pq.ms, name=s["name"],
                           **kw)
    if "signal_name_not_str" in mu:
        sig.name = 5
    return sig


def ads_args(spec: dict) -> tuple[type, dict[str, Any]]:
    """The ADS class and constructor arguments an :data:`ads_specs` spec describes (neo
    objects built here; the ADS constructor, which may refuse them, is not called)."""
    from mozaik_arrow import ads as A

    typ, n, k = spec["type"], spec["n"], spec["k"]
    mu = set(spec["mutations"])
    cls = getattr(A, typ)
    declared = set(cls._declared)
    params: dict[str, Any] = {}
    for p in ("value_name", "sheet_name", "stimulus_id"):
        if p in declared and spec[p] is not None:
            params[p] = spec[p]
    for p in ("analysis_algorithm", "y_axis_name", "proj_name"):  # every type has some
        if p in declared:
            params[p] = spec["value_name"]
    for mut, (p, value) in {
            "undeclared_param": ("colour", "red"), "reserved_param": ("ads_key", "x"),
            "identifier_param": ("identifier", "Other"), "wrong_param_type": ("neuron", "x"),
            "nan_param": ("period", math.nan), "inf_param": ("period", math.inf),
            "huge_int_param": ("neuron", 2**70), "surrogate_param": ("sheet_name", "\ud800"),
            "nul_param": ("sheet_name", "a\x00b"), "bytes_param": ("sheet_name", b"x"),
            "list_param": ("sheet_name", [1]), "bad_stimulus_id": ("stimulus_id", "{'name': 'X'"),
            "bait_stimulus_id": ("stimulus_id", BAIT[0]), "int_stimulus_id": ("stimulus_id", 5),
    }.items():
        if mut in mu:
            params[p] = value
    tags: Any = list(spec["tags"])
    for mut, value in (("tag_not_str", [1]), ("tags_str", "abc"), ("tag_surrogate", ["\ud800"]),
                       ("tag_none", [None]), ("tags_tuple", ("a", "b")), ("tag_bytes", [b"x"])):
        if mut in mu:
            tags = value
    u, u2 = _ads_units(spec, "units", mu), _ads_units(spec, "units2", mu)
    m = n + 1 if "values_vs_ids" in mu else n

    def signals(count: int, units: str | None = None) -> list:
        if "not_a_signal" in mu:
            return [np.zeros(3)] * count
        return [_ads_signal(spec, mu, units) for _ in range(0 if "empty_asl" in mu else count)]

    if typ == "SingleValue":
        args: dict[str, Any] = {"value": _ads_free(spec, mu), "value_units": u}
    elif typ == "SingleValueList":
        args = {"values": _ads_free(spec, mu), "values_unit": u}
    elif typ == "PerNeuronValue":
        args = {"values": _ads_array(spec, (m,), mu), "idds": _ads_ids(n, mu), "value_units": u}
    elif typ == "PerNeuronPairValue":
        shape = (m, m + 1) if "pair_not_square" in mu else (m, m)
        args = {"values": _ads_array(spec, shape, mu), "idds": _ads_ids(n, mu), "value_units": u}
    elif typ == "PerAreaValue":
        args = {"values": _ads_array(spec, (m, k), mu), "value_units": u,
                "x_coords": list(range(k)), "y_coords": list(range(n))}
    elif typ == "AnalysisDataStructure1D":
        args = {"x_axis_units": u, "y_axis_units": u2}
    elif typ == "AnalogSignal":
        sigs = signals(1)
        args = {"analog_signal": sigs[0] if sigs else None, "y_axis_units": u}
    elif typ == "AnalogSignalList":
        args = {"asl": signals(max(1, m) if "signals_vs_ids" not in mu else n + 1),
                "ids": _ads_ids(max(1, n), mu), "y_axis_units": u}
    elif typ == "PerNeuronPairAnalogSignalList":
        args = {"asl": signals(max(1, m) if "signals_vs_ids" not in mu else n + 1),
                "ids": _ads_ids(max(1, n), mu, pairs=True), "y_axis_units": u}
    elif typ == "PerAreaAnalogSignalList":
        rows = [signals(k + (1 if "grid_ragged" in mu and i == 0 else 0))
                for i in range(max(1, n))]
        args = {"asl": rows, "x_coords": list(range(k)), "y_coords": list(range(max(1, m))),
                "y_axis_units": u}
    elif typ == "ConductanceSignalList":
        cnt = max(1, n)
        args = {"e_con": signals(cnt), "ids": _ads_ids(cnt, mu),
                "i_con": signals(cnt + (1 if "signals_vs_ids" in mu else 0),
                                 "nS" if "e_i_units_differ" in mu else None)}
    else:  # Connections
        args = {"weights": _ads_array(spec, (m, 2) if "weights_1d" in mu else (m, 3), mu),
                "delays": _ads_array(spec, (n, 3), mu), "source_size": _ads_free(spec, mu),
                "target_size": (n, k)}
        if "weights_1d" in mu:
            args["weights"] = args["weights"].reshape(-1)
    payload = list(args)
    if "missing_payload" in mu:
        args[payload[0]] = None
    if "missing_second" in mu and len(payload) > 1:
        args[payload[1]] = None
    return cls, {"tags": tags, **args, **params}


def build_ads(spec: dict) -> Any:
    """The analysis result an :data:`ads_specs` spec describes (its constructor may refuse it)."""
    cls, kwargs = ads_args(spec)
    return cls(**kwargs)


def _same_units(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.dimensionality.string == b.dimensionality.string and float(a) == float(b)


def _same_array(a: Any, b: Any) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def assert_same(a: Any, b: Any, where: str = "payload") -> None:
    """Deep, bit-exact equality of payload values (types, dtypes, units, signals)."""
    if isinstance(a, neo.AnalogSignal):
        assert isinstance(b, neo.AnalogSignal), where
        assert _same_array(a.magnitude, b.magnitude), where
        assert a.dimensionality.string == b.dimensionality.string, where
        for attr in ("t_start", "sampling_rate", "sampling_period", "t_stop"):
            x, y = getattr(a, attr), getattr(b, attr)
            assert x.dimensionality.string == y.dimensionality.string, f"{where}.{attr}"
            xm, ym = float(x.magnitude), float(y.magnitude)
            assert xm == ym or (math.isnan(xm) and math.isnan(ym)), f"{where}.{attr}"
        assert a.name == b.name, where
    elif isinstance(a, pq.Quantity):
        assert type(b) is type(a) and _same_array(a.magnitude, b.magnitude), where
        assert a.dimensionality.string == b.dimensionality.string, where
    elif isinstance(a, (np.ndarray, np.generic)):
        assert type(b) is type(a) and _same_array(a, b), where
    elif isinstance(a, (list, tuple)):
        assert type(b) is type(a) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), where
    else:
        assert type(b) is type(a) and a == b, where


def assert_same_ads(a: Any, b: Any) -> None:
    """Two analysis results are equal: type, parameters, tags, key and payload bit for bit."""
    from mozaik_arrow.ads_payload import ads_key, ads_params

    assert type(a) is type(b), f"{type(a).__name__} != {type(b).__name__}"
    pa_, pb = ads_params(a), ads_params(b)
    assert pa_.keys() == pb.keys(), "parameter names"
    for key in pa_:
        assert_same(pa_[key], pb[key], f"parameter {key}")
    assert a.tags == b.tags, "tags"
    assert ads_key(a) == ads_key(b), "ads_key"
    assert str(a) == str(b), "str"
    for f in type(a)._payload:
        x, y = getattr(a, f.attr), getattr(b, f.attr)
        if f.kind == "units":
            assert _same_units(x, y), f.attr
        else:
            assert_same(x, y, f.attr)
    for attr in ("x_axis_units", "y_axis_units", "value_units"):
        if hasattr(a, attr):
            assert _same_units(getattr(a, attr), getattr(b, attr)), attr


# ----------------------------------------------------------------------------- paths, names

HOSTILE_PIECES = ["/", "..", ".", "=", "\x00", "%", "%2F", "\\", "\n", "*", "?", "#", "[", "]",
                  ":", " ", "'", '"', "{", "}", "é", "\u202e", "😀", "\ud800", "sheet=",
                  "stimulus=", "a", "b", "_log", "~", "$HOME", "|", ";"]
hostile_names = st.one_of(
    st.sampled_from(["V1_Exc_L4", "a/b", "..", ".", "../..", "/abs", "/", "x=y",
                     "sheet=a/stimulus=b", "50%", "%2F", "%00", "a\x00b", "\n", "é", "", " ",
                     "../../outside", "..\\..\\x", "_log", "_staging", "spikes", "CON", "nul",
                     "a" * 200, "a" * 255, "a" * 256, "é" * 100, "%" * 90]),
    st.lists(st.sampled_from(HOSTILE_PIECES), min_size=1, max_size=12).map("".join),
    st.text(max_size=20),
    st.integers(1, 600).map(lambda n: "s" * n),
)
TABLE_DIRS = ["spikes", "signals", "segments", "stimuli", "sensory", "neurons", "ads",
              "ads_payloads", "_staging", "_log", "_lock"]
path_specs = st.one_of(
    st.tuples(st.sampled_from(["sheet", "stimulus_name", "neuron_sheet", "ads_names",
                               "signal_name", "store_path"]), hostile_names),
    st.tuples(st.just("file_not_dir"), st.sampled_from(["r", "a", "w"]),
              st.sampled_from(["file", "file/sub", "nonempty_dir", "missing/deep/path",
                               "empty_format", "junk_format"])),
    st.tuples(st.just("table_is_file"), st.sampled_from(TABLE_DIRS), st.sampled_from(["a", "r"])),
    st.tuples(st.just("symlink_root"), st.booleans()),
    st.tuples(st.just("symlink_out"), st.sampled_from(["spikes", "signals", "segments",
                                                       "stimuli", "_staging", "ads"])),
    st.tuples(st.just("symlink_format"), st.sampled_from(["junk", "dir", "dangling", "loop",
                                                          "other_store"]),
              st.sampled_from(["r", "a", "w"])),
    st.tuples(st.just("symlink_log"), st.sampled_from(["dangling", "junk", "dir", "other"])),
)

