"""neo <-> Arrow conversion (mozaik_arrow.neo_convert), on real PyNN/NEST output and on
synthetic neo segments: bit-exact round trips, equality of the fast-path objects to
constructor-built ones, and one test per validation error."""

from __future__ import annotations

import copy
import io
import math
import os
import pickle
import time
import warnings

import neo
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import quantities as pq_units
from hypothesis import given, settings
from hypothesis import strategies as st
from neo.core.dataobject import ArrayDict
from neo.core.spiketrainlist import SpikeTrainList

from mozaik_arrow import neo_convert as nc
from mozaik_arrow import schema
from mozaik_arrow.errors import ValidationError

ms = pq_units.ms
SHEETS = ("V1_Exc_L4", "V1_Inh_L4")


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def bits(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64).view(np.int64)


def same_bits(a, b) -> bool:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and np.array_equal(a.view(np.int64), b.view(np.int64))


def via_parquet(table: pa.Table, name: str) -> pa.Table:
    """Write with the store's writer options and read back (one chunk per row group)."""
    buf = io.BytesIO()
    opts = schema.writer_options(name)
    rows = schema.SPIKES_ROWS_PER_GROUP if name == "spikes" else 4
    pq.write_table(table, buf, row_group_size=rows, **opts)
    buf.seek(0)
    return pq.read_table(buf)


def assert_same_train(fast: neo.SpikeTrain, ref: neo.SpikeTrain) -> None:
    """Attribute-by-attribute equality of a fast-path train and a constructor-built one."""
    assert type(fast) is type(ref) is neo.SpikeTrain
    assert fast.dtype == ref.dtype and fast.shape == ref.shape
    assert same_bits(fast.magnitude, ref.magnitude)
    assert list(fast.__dict__) == list(ref.__dict__)
    assert fast._dimensionality == ref._dimensionality
    assert fast.dimensionality.string == ref.dimensionality.string
    for name in ("t_start", "t_stop"):
        a, b = getattr(fast, name), getattr(ref, name)
        assert type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape
        assert same_bits(a.magnitude, b.magnitude)
        assert a.dimensionality.string == b.dimensionality.string
    assert fast.sampling_rate is ref.sampling_rate  # neo's shared default object
    for name in (
        "waveforms",
        "left_sweep",
        "segment",
        "unit",
        "name",
        "file_origin",
        "description",
    ):
        assert getattr(fast, name) == getattr(ref, name)
    assert fast.annotations == ref.annotations
    assert all(type(v) is int for k, v in fast.annotations.items() if k.endswith("_id"))
    assert type(fast.array_annotations) is ArrayDict
    assert dict(fast.array_annotations) == dict(ref.array_annotations) == {}
    assert fast.array_annotations.length == ref.array_annotations.length
    assert vars(fast.array_annotations) == vars(ref.array_annotations)  # check_function too


def assert_same_signal(a: neo.AnalogSignal, b: neo.AnalogSignal, *, skip=("segment",)) -> None:
    assert type(a) is type(b) is neo.AnalogSignal
    assert a.shape == b.shape and a.dtype == b.dtype
    assert same_bits(a.magnitude, b.magnitude)
    assert a.name == b.name
    assert a.dimensionality.string == b.dimensionality.string
    assert same_bits(a.t_start.magnitude, b.t_start.magnitude)
    assert a.t_start.dimensionality.string == b.t_start.dimensionality.string
    assert same_bits(a.sampling_period.magnitude, b.sampling_period.magnitude)
    assert same_bits(a.sampling_rate.magnitude, b.sampling_rate.magnitude)
    assert a.sampling_rate.dimensionality.string == b.sampling_rate.dimensionality.string
    assert a.t_stop == b.t_stop
    assert set(a.__dict__) == set(b.__dict__)
    for k in a.__dict__:
        if k in skip or k in ("annotations", "array_annotations", "_t_start", "_sampling_rate"):
            continue
        assert a.__dict__[k] == b.__dict__[k], k
    assert_same_annotations(a.annotations, b.annotations)
    assert_same_annotations(a.array_annotations, b.array_annotations)


def assert_same_annotations(a, b) -> None:
    assert set(a) == set(b)
    for k in a:
        if isinstance(a[k], np.ndarray) or isinstance(b[k], np.ndarray):
            assert np.array_equal(a[k], b[k]), k
            assert np.asarray(a[k]).dtype == np.asarray(b[k]).dtype, k
        else:
            assert a[k] == b[k], k


def train(times, units="ms", t_start=0.0, t_stop=100.0, **ann) -> neo.SpikeTrain:
    return neo.SpikeTrain(np.asarray(times), units=units, t_start=t_start, t_stop=t_stop, **ann)


def segment(trains=(), signals=(), **ann) -> neo.Segment:
    seg = neo.Segment(**ann)
    for t in trains:
        seg.spiketrains.append(t)
    for s in signals:
        seg.analogsignals.append(s)
    return seg


def signal(data, name="v", ids=(1,), units="mV", **kw) -> neo.AnalogSignal:
    kw.setdefault("sampling_period", 0.1 * ms)
    kw.setdefault("t_start", 0.0 * ms)
    return neo.AnalogSignal(
        np.asarray(data), units=units, name=name, channel_ids=np.asarray(ids), **kw
    )


def read_back(rec: nc.Recording, *, parquet: bool = True):
    sp, sg = rec.tables("g0123456789abcdef")
    if parquet:
        sp = via_parquet(sp, "spikes") if sp is not None else None
        sg = via_parquet(sg, "signals") if sg is not None else None
    trains = nc.spiketrains_from_table(sp) if sp is not None else []
    sigs = nc.analogsignals_from_table(sg) if sg is not None else []
    return sp, sg, trains, sigs


def expect_error(seg, *fragments):
    with pytest.raises(ValidationError) as ei:
        nc.recording_from_segment(seg)
    msg = str(ei.value)
    for f in fragments:
        assert f in msg, (f, msg)
    assert isinstance(ei.value, ValueError)  # callers catching ValueError keep working
    return msg


# ---------------------------------------------------------------------------------------------
# a real PyNN/NEST run
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pynn():
    """Two IF_cond_exp sheets driven by Poisson input, 200 ms. Yields a function giving a
    fresh ``get_data()`` segment of a sheet (fresh, because iterating PyNN 0.13's
    multiplexed SpikeTrainList materialises it)."""
    os.environ.setdefault("PYNEST_QUIET", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim = pytest.importorskip("pyNN.nest")
        sim.setup(timestep=0.1, min_delay=0.1)
        exc = sim.Population(16, sim.IF_cond_exp(), label=SHEETS[0])
        inh = sim.Population(8, sim.IF_cond_exp(), label=SHEETS[1])
        noise = sim.Population(20, sim.SpikeSourcePoisson(rate=250.0), label="input")
        syn = sim.StaticSynapse(weight=0.012, delay=0.5)
        sim.Projection(
            noise, exc, sim.FixedProbabilityConnector(0.5), syn, receptor_type="excitatory"
        )
        sim.Projection(
            noise, inh, sim.FixedProbabilityConnector(0.5), syn, receptor_type="excitatory"
        )
        sim.Projection(
            inh,
            exc,
            sim.AllToAllConnector(),
            sim.StaticSynapse(weight=0.02, delay=0.5),
            receptor_type="inhibitory",
        )
        exc.record("spikes")
        exc[3:9].record(["v", "gsyn_exc", "gsyn_inh"])  # a subset: channel_index != arange
        inh.record(["spikes", "v", "gsyn_exc", "gsyn_inh"])
        sim.run(200.0)
    pops = {p.label: p for p in (exc, inh)}

    def get(sheet):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pops[sheet].get_data(clear=False).segments[0]

    get.pops = pops
    yield get
    sim.end()


@pytest.mark.parametrize("sheet", SHEETS)
@pytest.mark.parametrize("multiplexed", [True, False], ids=["multiplexed", "materialised"])
def test_pynn_round_trip_bit_exact(pynn, sheet, multiplexed):
    seg = pynn(sheet)
    if multiplexed:
        # PyNN 0.13 + NEST hands out a lazy multiplexed list; the fast path must read it as is
        assert nc._multiplexed_parts(seg.spiketrains) is not None
    else:
        list(seg.spiketrains)  # materialise: the generic path
        assert nc._multiplexed_parts(seg.spiketrains) is None
    rec = nc.recording_from_segment(seg)
    ref = pynn(sheet)
    ref_trains = sorted(ref.spiketrains, key=lambda t: int(t.annotations["channel_id"]))
    pop = pynn.pops[sheet]

    assert rec.sheet_name == sheet  # from source_population: PyNN sets no sheet_name
    assert rec.time_units == "ms"
    assert rec.n_neurons == len(ref_trains) == pop.size
    assert rec.n_spikes == sum(len(t) for t in ref_trains) > 0
    assert rec.t_start == 0.0 and rec.t_stop == 200.0
    assert rec.signal_names == ("gsyn_exc", "gsyn_inh", "v")
    assert rec.name == ref.name and rec.description == ref.description

    sp, sg, trains, sigs = read_back(rec)
    assert sp.num_rows == pop.size
    assert sp.column("neuron_id").to_pylist() == [int(i) for i in pop.all_cells]
    assert sp.column("n_spikes").to_pylist() == [len(t) for t in ref_trains]
    for got, want in zip(trains, ref_trains, strict=True):
        assert same_bits(got.magnitude, want.magnitude)
        assert got.dimensionality.string == want.dimensionality.string == "ms"
        assert same_bits(got.t_start.magnitude, want.t_start.magnitude)
        assert same_bits(got.t_stop.magnitude, want.t_stop.magnitude)
        assert got.annotations == {
            "source_id": int(want.annotations["channel_id"]),
            "channel_id": int(want.annotations["channel_id"]),
        }

    by_name = {s.name: s for s in sigs}
    assert sorted(by_name) == ["gsyn_exc", "gsyn_inh", "v"]
    for want in ref.analogsignals:
        got = by_name[want.name]
        ids = want.annotations["channel_ids"]
        assert np.array_equal(got.annotations["channel_ids"], ids)
        assert np.array_equal(got.annotations["source_ids"], ids)
        # what PyNN builds, rebuilt with the caller-supplied parts (population index, sheet)
        rebuilt = nc.analogsignal_from_arrow(
            want.name,
            ids,
            got.magnitude.T.ravel(),
            np.arange(len(ids) + 1) * want.shape[0],
            got.dimensionality.string,
            got.t_start.dimensionality.string,
            float(got.t_start),
            float(got.sampling_period),
            annotations={"source_population": sheet},
            channel_index=pop.id_to_index(ids),
        )
        want_ann = dict(want.annotations, source_ids=ids)
        assert_same_annotations(rebuilt.annotations, want_ann)
        assert_same_signal(rebuilt, _with(want, annotations=want_ann), skip=("segment",))
        assert got.flags.f_contiguous and got.shape == want.shape


def _with(sig: neo.AnalogSignal, **attrs) -> neo.AnalogSignal:
    out = sig.copy()
    out.__dict__.update(attrs)
    return out


def test_pynn_signal_annotations_and_mozaik_indexing(pynn):
    """What PyNN 0.13 produces, and what mozaik's get_vm indexing gives in neo 0.14.6."""
    seg = pynn(SHEETS[0])
    v = next(s for s in seg.analogsignals if s.name == "v")
    ids = v.annotations["channel_ids"]
    assert set(v.annotations) == {"channel_ids", "source_population"}
    assert ids.dtype == np.int64 and v.annotations["source_population"] == SHEETS[0]
    assert set(v.array_annotations) == {"channel_index"}
    assert np.array_equal(
        v.array_annotations["channel_index"], pynn.pops[SHEETS[0]].id_to_index(ids)
    )
    assert v.array_annotations["channel_index"].tolist() == [3, 4, 5, 6, 7, 8]
    assert v.shape == (2001, 6) and v.flags.f_contiguous
    assert same_bits(v.sampling_period.magnitude, 0.1)
    assert v.sampling_rate.dimensionality.string == "1/ms"

    rec = nc.recording_from_segment(seg)
    _, _, _, sigs = read_back(rec)
    stored = next(s for s in sigs if s.name == "v")
    nid = int(ids[2])
    col = nc.analogsignal_column(stored, nid)
    mozaik = stored[:, stored.annotations["source_ids"].tolist().index(nid)]
    assert_same_signal(col, mozaik)
    assert col.shape == (2001, 1)
    assert col.annotations is stored.annotations  # neo shares the parent's dict
    assert col.array_annotations["channel_index"].tolist() == [2]
    assert same_bits(col.magnitude[:, 0], v.magnitude[:, 2])
    # a lazy one-row read can produce exactly the same object
    row = nc.analogsignal_from_arrow(
        "v",
        [nid],
        v.magnitude[:, 2].copy(),
        [0, v.shape[0]],
        "mV",
        "ms",
        0.0,
        0.1,
        channel_index=[2],
        annotations={
            "source_ids": stored.annotations["source_ids"],
            "channel_ids": stored.annotations["channel_ids"],
        },
    )
    assert_same_signal(row, col)
    with pytest.raises(ValueError, match="neuron 999999"):
        nc.analogsignal_column(stored, 999999)


# ---------------------------------------------------------------------------------------------
# synthetic segments
# ---------------------------------------------------------------------------------------------


def test_tables_match_schema_and_are_sorted():
    trains = [train([1.0, 2.5], channel_id=9), train([], channel_id=3), train([4.0], channel_id=5)]
    sig_a = signal(np.arange(6.0).reshape(3, 2), ids=[8, 2])
    sig_b = signal(np.ones((3, 1)), name="gsyn_exc", ids=[2], units="uS")
    rec = nc.recording_from_segment(segment(trains, [sig_a, sig_b], sheet_name="V1"))
    sp, sg = rec.tables("gabc")
    assert sp.schema.equals(nc.SPIKES_SCHEMA, check_metadata=True)
    assert sg.schema.equals(nc.SIGNALS_SCHEMA, check_metadata=True)
    assert nc.SPIKES_SCHEMA.equals(schema.strip_field_docs(schema.SPIKES), check_metadata=True)
    assert [f.name for f in sp.schema] == [f.name for f in schema.SPIKES]
    assert [f.name for f in sg.schema] == [f.name for f in schema.SIGNALS]
    assert sp.column("segment_id").to_pylist() == ["gabc"] * 3
    assert sp.column("sheet_name").to_pylist() == ["V1"] * 3
    assert sp.column("null").to_pylist() == [False] * 3
    assert sp.column("neuron_id").to_pylist() == [3, 5, 9]
    assert sp.column("n_spikes").to_pylist() == [0, 1, 2]
    assert sp.column("times").to_pylist() == [[], [4.0], [1.0, 2.5]]
    assert list(
        zip(sg.column("name").to_pylist(), sg.column("neuron_id").to_pylist(), strict=True)
    ) == [("gsyn_exc", 2), ("v", 2), ("v", 8)]
    assert sg.column("samples").to_pylist() == [[1.0] * 3, [1.0, 3.0, 5.0], [0.0, 2.0, 4.0]]
    assert sg.column("units").to_pylist() == ["uS", "mV", "mV"]
    assert sg.column("n_samples").to_pylist() == [3, 3, 3]
    assert rec.spike_neuron_ids.tolist() == [3, 5, 9]
    assert rec.signal_neuron_ids("v").tolist() == [2, 8]
    assert rec.signal_neuron_ids("nope").tolist() == []
    # tables() only adds the id column: calling it twice shares the heavy buffers
    sp2, _ = rec.tables("other")
    assert (
        sp2.column("times").chunk(0).values.buffers()[1].address
        == sp.column("times").chunk(0).values.buffers()[1].address
    )
    with pytest.raises(ValidationError, match="segment_id"):
        rec.tables("")


def test_null_flag_and_segment_metadata():
    seg = segment(
        [train([1.0], channel_id=1)],
        sheet_name="V1",
        stimulus="{'name': 'X'}",
        trial=np.int64(2),
        ratio=np.float64(0.5),
        arr=np.zeros(3),
        nan=float("nan"),
        nested={"a": (1, 2), "b": [None, True]},
        name="seg",
        description="d",
    )
    rec = nc.recording_from_segment(seg, null=True)
    assert rec.null is True
    sp, _ = rec.tables("g1")
    assert sp.column("null").to_pylist() == [True]
    assert rec.annotations == {
        "stimulus": "{'name': 'X'}",
        "trial": 2,
        "ratio": 0.5,
        "nested": {"a": (1, 2), "b": [None, True]},
    }
    assert type(rec.annotations["trial"]) is int
    assert set(rec.dropped_annotations) == {"arr", "nan"}
    assert "sheet_name" not in rec.annotations
    assert (rec.name, rec.description) == ("seg", "d")


def test_float32_trains_widen_exactly():
    t32 = np.sort(np.random.default_rng(3).uniform(0, 100, 40).astype(np.float32))
    st32 = train(t32, t_start=np.float32(0.0) * ms, t_stop=np.float32(100.0) * ms, channel_id=1)
    assert st32.dtype == np.float32
    rec = nc.recording_from_segment(segment([st32], sheet_name="V1"))
    _, _, (got,), _ = read_back(rec)
    assert got.dtype == np.float64
    assert same_bits(got.magnitude, t32.astype(np.float64))
    assert np.array_equal(got.magnitude.astype(np.float32), t32)


@pytest.mark.parametrize("units", ["s", "us", "ms"])
def test_units_are_never_rescaled(units):
    rng = np.random.default_rng(5)
    times = np.sort(rng.uniform(0.0, 2.0, 200))  # arbitrary doubles: a ms<->s trip changes them
    st_ = train(times, units=units, t_start=0.0, t_stop=2.0, channel_id=4)
    rec = nc.recording_from_segment(segment([st_], sheet_name="V1"))
    assert rec.time_units == units
    sp, _, (got,), _ = read_back(rec)
    assert sp.column("units").to_pylist() == [units]
    assert got.dimensionality.string == units
    assert same_bits(got.magnitude, times)
    if units == "s":  # why rescaling is forbidden: a s -> ms -> s trip changes the values
        trip = pq_units.Quantity(times, "s").rescale("ms").rescale("s").magnitude
        assert not same_bits(trip, times)


def test_old_source_id_annotations_and_population_sheet():
    trains = [
        train([1.0, 2.0], source_id=7, source_population="LGN_On"),
        train([3.0], source_id=6, source_population="LGN_On"),
    ]
    sig = neo.AnalogSignal(
        np.arange(4.0).reshape(2, 2),
        units="mV",
        sampling_period=1 * ms,
        name="v",
        source_ids=np.array([6, 7]),
        source_population="LGN_On",
    )
    rec = nc.recording_from_segment(segment(trains, [sig]))
    assert rec.sheet_name == "LGN_On"
    sp, sg, got, sigs = read_back(rec)
    assert [t.annotations for t in got] == [
        {"source_id": 6, "channel_id": 6},
        {"source_id": 7, "channel_id": 7},
    ]
    assert sg.column("neuron_id").to_pylist() == [6, 7]
    assert np.array_equal(sigs[0].annotations["source_ids"], [6, 7])


def test_ids_from_array_annotations():
    sig = neo.AnalogSignal(
        np.zeros((3, 2)),
        units="mV",
        sampling_period=1 * ms,
        name="v",
        array_annotations={"channel_ids": np.array([11, 10])},
    )
    rec = nc.recording_from_segment(segment([], [sig], sheet_name="V1"))
    _, sg = rec.tables("g")
    assert sg.column("neuron_id").to_pylist() == [10, 11]


def test_empty_trains():
    trains = [train([], channel_id=i) for i in (3, 1, 2)]
    rec = nc.recording_from_segment(segment(trains, sheet_name="V1"))
    assert rec.n_spikes == 0 and rec.n_neurons == 3
    sp, _, got, _ = read_back(rec)
    assert sp.column("n_spikes").to_pylist() == [0, 0, 0]
    assert [len(t) for t in got] == [0, 0, 0]
    for g, i in zip(got, (1, 2, 3), strict=True):
        assert_same_train(g, train([], channel_id=i, source_id=i))


def test_signals_split_across_objects():
    rng = np.random.default_rng(11)
    a = rng.normal(size=(50, 2))
    b = rng.normal(size=(50, 2)).astype(np.float32)
    sa = signal(a, ids=[1, 3])
    sb = signal(np.asfortranarray(b), ids=[4, 2])
    rec = nc.recording_from_segment(segment([], [sa, sb], sheet_name="V1"))
    assert rec.n_neurons == 0 and rec.signal_names == ("v",)
    assert (rec.time_units, rec.t_start, rec.t_stop) == ("ms", 0.0, 5.0)
    sp, sg, _, (sig,) = read_back(rec)
    assert sp is None
    assert sg.column("neuron_id").to_pylist() == [1, 2, 3, 4]
    assert sig.shape == (50, 4)
    expect = np.stack([a[:, 0], b[:, 1].astype(np.float64), a[:, 1], b[:, 0]], axis=1)
    assert same_bits(sig.magnitude, expect)
    assert np.array_equal(sig.annotations["channel_ids"], [1, 2, 3, 4])


def test_signals_with_different_lengths_become_separate_signals():
    sa = signal(np.ones((5, 1)), ids=[1])
    sb = signal(np.ones((7, 1)), ids=[2], t_start=2.0 * ms)
    rec = nc.recording_from_segment(segment([], [sa, sb], sheet_name="V1"))
    _, sg, _, sigs = read_back(rec)
    assert [s.shape for s in sigs] == [(5, 1), (7, 1)]
    assert [float(s.t_start) for s in sigs] == [0.0, 2.0]
    values = sg.column("samples").combine_chunks()
    with pytest.raises(ValueError, match="different lengths"):
        nc.analogsignal_from_arrow(
            "v", [1, 2], values.values.to_numpy(), values.offsets.to_numpy(), "mV", "ms", 0.0, 0.1
        )


def test_sampling_rate_in_khz_is_stored_as_period_in_t_start_units():
    sig = neo.AnalogSignal(
        np.zeros((4, 1)),
        units="mV",
        sampling_rate=10 * pq_units.kHz,
        t_start=5.0 * ms,
        name="v",
        channel_ids=[1],
    )
    assert sig.sampling_period.dimensionality.string == "1/kHz"
    rec = nc.recording_from_segment(segment([], [sig], sheet_name="V1"))
    _, sg, _, (back,) = read_back(rec)
    assert sg.column("time_units").to_pylist() == ["ms"]
    assert sg.column("sampling_period").to_pylist() == [0.1]
    assert back.sampling_period.dimensionality.string == "ms"
    assert float(back.sampling_period) == 0.1 and float(back.t_start) == 5.0


def test_sampling_period_round_trips_bit_exactly():
    rng = np.random.default_rng(0)
    for period in np.concatenate([[0.1, 0.05, 1.0, 0.025, 1 / 3], rng.uniform(1e-3, 10, 300)]):
        sig = neo.AnalogSignal(
            np.zeros((2, 1)), units="mV", sampling_period=period * ms, name="v", channel_ids=[1]
        )
        p = float(sig.sampling_period)
        back = nc.analogsignal_from_arrow("v", [1], [0.0, 0.0], [0, 2], "mV", "ms", 0.0, p)
        assert same_bits(back.sampling_period.magnitude, p)
    pynn_like = neo.AnalogSignal(np.zeros((2, 1)), units="mV", sampling_period=0.1 * ms)
    back = nc.analogsignal_from_arrow("v", [1], [0.0, 0.0], [0, 2], "mV", "ms", 0.0, 0.1)
    assert same_bits(back.sampling_rate.magnitude, pynn_like.sampling_rate.magnitude)


def test_multiplexed_spiketrainlist_matches_materialised():
    rng = np.random.default_rng(2)
    ids = np.array([40, 12, 33, 7, 21])  # unsorted, not contiguous
    times = np.round(np.sort(rng.uniform(0, 100, 60)), 1)
    owner = rng.choice(ids[:4], size=60)  # neuron 21 stays silent

    def make():
        stl = SpikeTrainList.from_spike_time_array(
            times,
            owner,
            ids,
            t_stop=100.0 * ms,
            units="ms",
            t_start=0.0 * ms,
            source_population="V2",
        )
        seg = neo.Segment()
        seg.spiketrains = stl
        return seg

    fast_seg = make()
    assert nc._multiplexed_parts(fast_seg.spiketrains) is not None
    fast = nc.recording_from_segment(fast_seg)
    slow_seg = make()
    list(slow_seg.spiketrains)
    slow = nc.recording_from_segment(slow_seg)
    assert fast.sheet_name == slow.sheet_name == "V2"
    a, _ = fast.tables("g")
    b, _ = slow.tables("g")
    assert a.equals(b)
    assert a.column("neuron_id").to_pylist() == sorted(ids.tolist())
    assert a.column("n_spikes").to_pylist()[sorted(ids.tolist()).index(21)] == 0


def test_multiplexed_contiguous_ids_and_unknown_channel():
    stl = SpikeTrainList.from_spike_time_array(
        np.array([1.0, 2.0, 3.0]),
        np.array([5, 3, 5]),
        np.array([3, 4, 5]),
        t_stop=10.0 * ms,
        units="ms",
        t_start=0.0 * ms,
    )
    seg = neo.Segment(sheet_name="V1")
    seg.spiketrains = stl
    sp, _ = nc.recording_from_segment(seg).tables("g")
    assert sp.column("times").to_pylist() == [[2.0], [], [1.0, 3.0]]
    stl = SpikeTrainList.from_spike_time_array(
        np.array([1.0, 2.0]),
        np.array([5, 9]),
        np.array([3, 4, 5]),
        t_stop=10.0 * ms,
        units="ms",
        t_start=0.0 * ms,
    )
    seg = neo.Segment(sheet_name="V1")
    seg.spiketrains = stl
    expect_error(seg, "channel 9", "(sheet 'V1')")


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(0, 30), min_size=1, max_size=12),
    units=st.sampled_from(["ms", "s", "us"]),
    dtype=st.sampled_from([np.float64, np.float32]),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_round_trips(counts, units, dtype, seed):
    rng = np.random.default_rng(seed)
    ids = rng.permutation(10_000)[: len(counts)] + 1
    trains = []
    for i, c in zip(ids, counts, strict=True):
        t = np.sort(rng.uniform(1.0, 9.0, c)).astype(dtype)
        trains.append(
            neo.SpikeTrain(
                t,
                units=units,
                t_start=rng.uniform(0, 1),
                t_stop=rng.uniform(9, 10),
                channel_id=int(i),
            )
        )
    rec = nc.recording_from_segment(segment(trains, sheet_name="S"))
    _, _, got, _ = read_back(rec)
    want = sorted(trains, key=lambda t: t.annotations["channel_id"])
    for g, w in zip(got, want, strict=True):
        assert same_bits(g.magnitude, w.magnitude.astype(np.float64))
        assert same_bits(g.t_start.magnitude, w.t_start.magnitude.astype(np.float64))
        assert same_bits(g.t_stop.magnitude, w.t_stop.magnitude.astype(np.float64))
        assert g.dimensionality.string == units


# ---------------------------------------------------------------------------------------------
# read direction: the fast SpikeTrain path
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def arrow_trains():
    rows = [[0.5, 1.5, 9.0], [], [2.0], [3.0, 3.0, 4.25]]
    arr = pa.array(rows, type=pa.large_list(pa.float64()))
    ids = np.array([10, 11, 12, 13])
    ts = np.array([0.0, 0.0, -1.0, 0.0])
    tp = np.array([10.0, 10.0, 10.0, 5.0])
    return rows, arr, ids, ts, tp


def test_fast_trains_equal_constructed_ones(arrow_trains):
    rows, arr, ids, ts, tp = arrow_trains
    values = arr.values.to_numpy()
    got = nc.spiketrains_from_arrow(ids, values, arr.offsets.to_numpy(), "ms", ts, tp)
    for g, r, i, a, b in zip(got, rows, ids, ts, tp, strict=True):
        ref = neo.SpikeTrain(
            np.array(r, dtype=np.float64),
            units="ms",
            t_start=a,
            t_stop=b,
            source_id=int(i),
            channel_id=int(i),
        )
        assert_same_train(g, ref)
        if len(g):
            assert np.shares_memory(g, values)  # a view, not a copy
        assert not g.flags.writeable  # over Arrow's read-only buffer
    assert got[0].t_start is got[1].t_start  # cached scalar for equal values
    assert not got[0].t_start.flags.writeable


@pytest.mark.parametrize("t_start", [[0.0] * 4, [0.0, -0.0, 0.0, 2.0]], ids=["one", "mixed"])
def test_fast_trains_share_one_scalar_per_distinct_bits(t_start):
    """t_start scalars are shared by value bits (0.0 and -0.0 stay apart, as neo keeps
    them); a segment given to the builder is every train's parent."""
    seg = neo.Segment()
    ids, ts = np.arange(4), np.array(t_start)
    got = nc.spiketrains_from_arrow(ids, [3.0], [0, 0, 0, 1, 1], "ms", ts, 10.0, segment=seg)
    for g, a in zip(got, t_start, strict=True):
        assert g.segment is seg
        assert float(g.t_start) == a and math.copysign(1, float(g.t_start)) == math.copysign(1, a)
    for i, j in ((0, 1), (0, 2), (1, 3), (0, 3)):
        same_bits = math.copysign(1, t_start[i]) == math.copysign(1, t_start[j]) and (
            t_start[i] == t_start[j])
        assert (got[i].t_start is got[j].t_start) == same_bits
    assert all(g.t_stop is got[0].t_stop for g in got)


def test_spike_rows_give_the_trains_a_table_gives(arrow_trains):
    """SpikeRows (one-neuron reads from a file decoded whole) build the same trains as the
    table path, check the ranges once when made, and say None for what they cannot serve."""
    from mozaik_arrow.spike_read import SpikeRows

    rows, arr, ids, ts, tp = arrow_trains
    table = pa.table({"neuron_id": ids, "units": ["ms"] * 4, "t_start": ts, "t_stop": tp,
                      "times": arr})
    spike_rows = SpikeRows.from_table(table)
    for i, ref in zip(ids, nc.spiketrains_from_table(table), strict=True):
        got = spike_rows.train(int(i))
        assert_same_train(got, ref)
        assert not got.flags.writeable
    assert spike_rows.train(9) is None and spike_rows.train(14) is None
    assert SpikeRows.from_table(table.set_column(1, "units", pa.array(["ms", "s", "ms", "ms"]))) is None
    assert SpikeRows.from_table(table.slice(0, 0)) is None
    # neuron 12 spikes at 2.0, 13 has t_stop before t_start: only they are left to the table
    # path (which names them), their neighbours are served
    late = table.set_column(3, "t_stop", pa.array([10.0, 10.0, 1.5, -1.0]))
    bad_rows = SpikeRows.from_table(late)
    assert bad_rows.train(12) is None and bad_rows.train(13) is None
    assert_same_train(bad_rows.train(10), spike_rows.train(10))
    with pytest.raises(ValueError, match="neuron 12"):
        nc.spiketrains_from_table(late.slice(2, 1))
    # a file decoded whole has a chunk per row group (here also an empty one and a slice):
    # served chunk by chunk, not joined, with the bad rows found in the chunk they are in
    chunked = pa.concat_tables([late.slice(0, 1), late.slice(1, 0), late.slice(1, 2),
                                late.slice(3, 1)])
    assert chunked.column("times").num_chunks == 4
    by_chunk = SpikeRows.from_table(chunked)
    assert len(by_chunk.rows.parts) == 3
    assert by_chunk.train(12) is None and by_chunk.train(13) is None
    for i in (10, 11):
        assert_same_train(by_chunk.train(i), spike_rows.train(i))


def test_trains_of_a_table_with_runs_of_units(arrow_trains):
    """A spikes table whose rows change units (the store writes one per file; a user's table
    may not) gives every train its own row's units."""
    rows, arr, ids, ts, tp = arrow_trains
    units = ["ms", "ms", "s", "ms"]
    table = pa.table({"neuron_id": ids, "units": units, "t_start": ts, "t_stop": tp,
                      "times": arr})
    got = nc.spiketrains_from_table(table)
    assert [g.dimensionality.string for g in got] == units
    for g, r, u in zip(got, rows, units, strict=True):
        assert np.array_equal(g.magnitude, np.asarray(r, dtype=float)) and g.units == pq_units.Quantity(1, u)


def test_signal_rows_give_the_signals_a_table_gives():
    """SignalRows (one-neuron signal reads from a kept table) build the (T x 1) signal the
    table path builds, attribute by attribute, and it behaves as a neo signal."""
    from mozaik_arrow.signal_read import SignalRows

    rng = np.random.default_rng(3)
    ids = np.array([4, 9, 11])
    samples = pa.array([rng.normal(size=6) for _ in ids], type=pa.large_list(pa.float64()))
    table = pa.table({"neuron_id": ids, "units": ["mV"] * 3, "time_units": ["ms"] * 3,
                      "t_start": [5.0] * 3, "sampling_period": [0.1] * 3, "samples": samples})
    rows = SignalRows.from_table(table)
    for r, i in enumerate(ids):
        one = table.slice(r, 1)
        (ref,) = nc.analogsignals_from_table(
            one.append_column("name", pa.array(["v"])), annotations={"source_population": "V1"})
        got = rows.signal(int(i), "v", {"source_population": "V1"})
        assert_same_signal(got, ref, skip=())
        assert list(got.__dict__) == list(ref.__dict__)
        assert type(got.array_annotations) is ArrayDict
        assert vars(got.array_annotations) == vars(ref.array_annotations)
        assert got.t_start is ref.t_start and got.sampling_rate is ref.sampling_rate  # shared
        assert not got.flags.writeable and np.shares_memory(got, rows.rows.parts[0][0])
        for f in (lambda x: x.time_slice(5.2 * ms, 5.45 * ms), lambda x: x.rescale("V"),
                  lambda x: x.magnitude.ravel(), lambda x: x.times, lambda x: x.t_stop,
                  lambda x: copy.deepcopy(x), lambda x: pickle.loads(pickle.dumps(x))):
            a, b = f(got), f(ref)
            assert np.array_equal(np.asarray(a), np.asarray(b))
    assert rows.signal(5, "v") is None
    # chunk by chunk (a file decoded whole: a chunk per row group), equal to the one chunk
    chunked = SignalRows.from_table(pa.concat_tables([table.slice(0, 2), table.slice(2, 1)]))
    assert len(chunked.rows.parts) == 2
    for i in ids:
        assert_same_signal(chunked.signal(int(i), "v"), rows.signal(int(i), "v"), skip=())
    assert SignalRows.from_table(table.set_column(1, "units", pa.array(["mV", "V", "mV"]))) is None
    as_f32 = table.set_column(5, "samples", samples.cast(pa.large_list(pa.float32())))
    assert SignalRows.from_table(as_f32) is None


def test_fast_trains_support_neo_operations(arrow_trains):
    rows, arr, ids, ts, tp = arrow_trains
    got = nc.spiketrains_from_arrow(
        ids, arr.values.to_numpy(), arr.offsets.to_numpy(), "ms", ts, tp
    )
    for g, r, i, a, b in zip(got, rows, ids, ts, tp, strict=True):
        ref = neo.SpikeTrain(
            np.array(r, dtype=np.float64),
            units="ms",
            t_start=a,
            t_stop=b,
            source_id=int(i),
            channel_id=int(i),
        )
        assert len(g) == len(ref)
        assert [float(x) for x in g] == [float(x) for x in ref]
        assert np.array_equal(np.diff(g), np.diff(ref))
        for f in (
            lambda s: s.time_slice(0.6 * ms, 4.0 * ms),
            lambda s: s.rescale("s"),
            lambda s: s[1:],
            lambda s: s + 1 * ms,
            lambda s: s.time_shift(2 * ms),
            lambda s: s.copy(),
            lambda s: pickle.loads(pickle.dumps(s)),
            lambda s: copy.deepcopy(s),
        ):
            x, y = f(g), f(ref)
            assert type(x) is type(y)
            assert same_bits(x.magnitude, y.magnitude)
            assert x.dimensionality.string == y.dimensionality.string
            assert same_bits(x.t_start.magnitude, y.t_start.magnitude)
            assert same_bits(x.t_stop.magnitude, y.t_stop.magnitude)
            assert x.annotations == y.annotations
        assert g.duration == ref.duration and repr(g) == repr(ref)
        assert np.array_equal(g.times, ref.times)
        m = g.merge(ref) if len(g) else None
        if m is not None:
            assert len(m) == 2 * len(g)
    # in-place operations need a writeable copy (documented)
    with pytest.raises(ValueError, match="read-only"):
        got[0].sort()
    c = got[0].copy()
    c.sort()
    with pytest.raises(ValueError):
        got[0].t_start += 1 * ms  # the shared cached scalar is protected
    got[0].t_start = 0.25 * ms  # rebinding is fine and touches only this train
    assert float(got[1].t_start) == 0.0


def test_offsets_not_starting_at_zero(arrow_trains):
    rows, arr, ids, ts, tp = arrow_trains
    sl = arr.slice(2, 2)
    assert sl.offsets.to_numpy()[0] != 0
    a = nc.spiketrains_from_arrow(
        ids[2:], sl.values.to_numpy(), sl.offsets.to_numpy(), "ms", ts[2:], tp[2:]
    )
    b = nc.spiketrains_from_arrow(
        ids[2:], sl.flatten().to_numpy(), sl.offsets.to_numpy(), "ms", ts[2:], tp[2:]
    )
    for x, y, r in zip(a, b, rows[2:], strict=True):
        assert x.tolist() == y.tolist() == r
    with pytest.raises(ValueError, match="do not fit"):
        nc.spiketrains_from_arrow(ids[2:], np.zeros(2), sl.offsets.to_numpy(), "ms", 0.0, 10.0)


def test_spiketrains_from_chunked_table():
    trains = [train(np.arange(k, dtype=float), t_stop=300.0, channel_id=k) for k in range(300)]
    rec = nc.recording_from_segment(segment(trains, sheet_name="V1"))
    sp = via_parquet(rec.tables("g")[0], "spikes")
    assert sp.column("times").num_chunks > 1  # one chunk per row group
    got = nc.spiketrains_from_table(sp.slice(5, 250))
    assert [t.annotations["channel_id"] for t in got] == list(range(5, 255))
    assert all(t.tolist() == list(range(k)) for k, t in zip(range(5, 255), got, strict=True))


def test_read_checks_like_neo():
    with pytest.raises(ValueError, match="outside"):
        nc.spiketrains_from_arrow([1], [5.0, 11.0], [0, 2], "ms", 0.0, 10.0)
    with pytest.raises(ValueError, match="before t_start"):
        nc.spiketrains_from_arrow([1], [], [0, 0], "ms", 2.0, 1.0)
    with pytest.raises(ValueError, match="not a time unit"):
        nc.spiketrains_from_arrow([1], [], [0, 0], "mV", 0.0, 1.0)
    # check=False skips the scan (data the store validated on the way in)
    (t,) = nc.spiketrains_from_arrow([1], [5.0, 11.0], [0, 2], "ms", 0.0, 10.0, check=False)
    assert t.tolist() == [5.0, 11.0]
    (t,) = nc.spiketrains_from_arrow(
        [1], [1.0], [0, 1], "ms", 0.0, 2.0, annotations={"source_population": "V1"}
    )
    assert t.annotations == {"source_population": "V1", "source_id": 1, "channel_id": 1}


def test_analogsignal_is_zero_copy_view():
    n, T = 4, 6
    arr = pa.array(
        [list(np.arange(T) + 10.0 * i) for i in range(n)], type=pa.large_list(pa.float64())
    )
    values = arr.values.to_numpy()
    sig = nc.analogsignal_from_arrow(
        "v",
        np.arange(n) + 1,
        values,
        arr.offsets.to_numpy(),
        "mV",
        "ms",
        0.0,
        0.1,
        annotations={"source_population": "X"},
    )
    assert np.shares_memory(sig, values) and sig.flags.f_contiguous
    assert sig.shape == (T, n)
    assert sig.magnitude[:, 2].tolist() == list(np.arange(T) + 20.0)
    assert sig.annotations["source_population"] == "X"
    assert sig.annotations["source_ids"].dtype == np.int64
    assert sig.array_annotations["channel_index"].tolist() == [0, 1, 2, 3]
    assert sig.time_slice(0.1 * ms, 0.3 * ms).shape == (2, n)
    assert float(sig.rescale("V")[0, 1]) == pytest.approx(0.01)


def test_analogsignal_supports_neo_operations():
    n, T = 3, 100
    data = np.stack([np.arange(T) + 100.0 * i for i in range(n)], axis=1)
    arr = pa.array([list(data[:, i]) for i in range(n)], type=pa.large_list(pa.float64()))
    sig = nc.analogsignal_from_arrow(
        "v", [1, 2, 3], arr.values.to_numpy(), arr.offsets.to_numpy(), "mV", "ms", 5.0, 0.1
    )
    ref = neo.AnalogSignal(data, units="mV", t_start=5.0 * ms, sampling_period=0.1 * ms, name="v")
    assert not sig.flags.writeable and not sig.t_start.flags.writeable
    ops = [
        lambda s: s.time_slice(6 * ms, 8 * ms),
        lambda s: s.time_shift(1 * ms),
        lambda s: s.rescale("V"),
        lambda s: s.copy(),
        lambda s: copy.deepcopy(s),
        lambda s: pickle.loads(pickle.dumps(s)),
        lambda s: s[10:20],
        lambda s: s[:, 1],
        lambda s: s.downsample(2),
        lambda s: s + 1 * pq_units.mV,
        lambda s: s.concatenate(s.time_shift(10 * ms)),
    ]
    for f in ops:
        x, y = f(sig), f(ref)
        assert x.shape == y.shape
        assert same_bits(x.magnitude, y.magnitude)
        assert x.t_start == y.t_start and x.sampling_rate == y.sampling_rate
    assert np.array_equal(sig.times, ref.times)
    assert np.array_equal(sig.mean(axis=0), ref.mean(axis=0))
    with pytest.raises(ValueError, match="read-only"):
        sig.t_start += 1 * ms  # the shared cached scalar is protected
    sig.t_start = 6.0 * ms  # rebinding is fine


# ---------------------------------------------------------------------------------------------
# validation: every error names the problem
# ---------------------------------------------------------------------------------------------


def test_error_not_a_segment():
    expect_error([train([1.0], channel_id=1)], "neo.Segment", "list")


def test_error_nothing_recorded():
    expect_error(neo.Segment(sheet_name="V1"), "nothing recorded")


def test_error_no_sheet():
    expect_error(segment([train([1.0], channel_id=1)]), "no sheet", "sheet_name")


def test_error_several_populations():
    seg = segment(
        [
            train([1.0], channel_id=1, source_population="A"),
            train([1.0], channel_id=2, source_population="B"),
        ]
    )
    expect_error(seg, "several populations", "'A'", "'B'")


def test_error_train_without_id():
    expect_error(
        segment([train([1.0], channel_id=1), train([2.0])], sheet_name="V1"),
        "spike train #1",
        "no neuron id",
        "V1",
    )


def test_error_non_integer_id():
    expect_error(segment([train([1.0], channel_id=1.5)], sheet_name="V1"), "not an integer")


def test_error_conflicting_ids():
    expect_error(
        segment([train([1.0], channel_id=1, source_id=2)], sheet_name="V1"),
        "channel_id=1",
        "source_id=2",
        "disagree",
    )


def test_error_duplicate_ids():
    seg = segment([train([1.0], channel_id=3), train([2.0], channel_id=3)], sheet_name="V1")
    expect_error(seg, "duplicate neuron id 3", "'V1'")


def test_error_unsorted_times():
    seg = segment(
        [train([1.0], channel_id=4), train([5.0, 2.0], channel_id=17)], sheet_name="V1_Exc_L4"
    )
    msg = expect_error(seg, "times not sorted")
    assert msg.startswith("spike train of neuron 17 (sheet 'V1_Exc_L4'): times not sorted")


def test_unsorted_check_ignores_row_boundaries():
    seg = segment(
        [train([8.0, 9.0], channel_id=1), train([1.0, 2.0], channel_id=2)], sheet_name="V1"
    )
    assert nc.recording_from_segment(seg).n_spikes == 4


def test_error_spike_after_t_stop():
    st_ = train([1.0, 50.0], channel_id=8)
    st_.t_stop = 20.0 * ms  # neo's constructor would refuse it; rebinding does not check
    expect_error(segment([st_], sheet_name="V1"), "neuron 8", "after t_stop", "50.0")


def test_error_spike_before_t_start():
    st_ = train([1.0, 50.0], channel_id=8)
    st_.t_start = 5.0 * ms
    expect_error(segment([st_], sheet_name="V1"), "neuron 8", "before t_start")


def test_error_t_start_after_t_stop():
    st_ = train([], channel_id=8)
    st_.t_start = 500.0 * ms
    expect_error(segment([st_], sheet_name="V1"), "neuron 8", "t_start", "after t_stop")


def test_error_nan_time():
    expect_error(segment([train([1.0, np.nan], channel_id=2)], sheet_name="V1"), "neuron 2", "NaN")


def test_error_mixed_time_units():
    seg = segment(
        [train([1.0], channel_id=1), train([0.001], units="s", t_stop=0.1, channel_id=2)],
        sheet_name="V1",
    )
    expect_error(seg, "different time units", "ms", "s")


def test_t_start_in_other_units_is_converted_boundary_only():
    st_ = train([1.0, 2.0], channel_id=1)
    st_.t_start = 0.0005 * pq_units.s  # user-assigned in seconds: only the boundary converts
    rec = nc.recording_from_segment(segment([st_], sheet_name="V1"))
    sp, _ = rec.tables("g")
    assert sp.column("t_start").to_pylist() == [0.5]
    assert sp.column("times").to_pylist() == [[1.0, 2.0]]


def test_error_signal_channel_count():
    sig = neo.AnalogSignal(
        np.zeros((3, 3)), units="mV", sampling_period=1 * ms, name="v", channel_ids=np.array([1, 2])
    )
    expect_error(segment([], [sig], sheet_name="V1"), "signal 'v'", "3 channels but 2")


def test_error_signal_without_ids():
    sig = neo.AnalogSignal(np.zeros((3, 1)), units="mV", sampling_period=1 * ms, name="v")
    expect_error(segment([], [sig], sheet_name="V1"), "signal 'v'", "no neuron ids")


def test_error_unnamed_signal():
    sig = neo.AnalogSignal(np.zeros((3, 1)), units="mV", sampling_period=1 * ms, channel_ids=[1])
    expect_error(segment([], [sig], sheet_name="V1"), "analog signal #0", "no name")


def test_error_signal_units_disagree():
    a = signal(np.zeros((3, 1)), ids=[1], units="mV")
    b = signal(np.zeros((3, 1)), ids=[2], units="V")
    expect_error(segment([], [a, b], sheet_name="V1"), "signal 'v'", "different units", "mV", "V")


def test_error_signal_neuron_twice():
    a = signal(np.zeros((3, 2)), ids=[1, 2])
    b = signal(np.zeros((3, 1)), ids=[2])
    expect_error(segment([], [a, b], sheet_name="V1"), "signal 'v'", "neuron 2", "recorded twice")


def test_error_signal_not_2d():
    sig = neo.AnalogSignal(
        np.zeros((2, 2, 2)), units="mV", sampling_period=1 * ms, name="v", channel_ids=[1, 2]
    )
    expect_error(segment([], [sig], sheet_name="V1"), "signal 'v'", "1-D or 2-D")


def test_error_unsupported_contents():
    seg = segment([train([1.0], channel_id=1)], sheet_name="V1")
    seg.irregularlysampledsignals.append(
        neo.IrregularlySampledSignal([1.0, 2.0] * ms, [1.0, 2.0], units="mV")
    )
    expect_error(seg, "irregularlysampledsignals")


# ---------------------------------------------------------------------------------------------
# rough timing (printed, not asserted)
# ---------------------------------------------------------------------------------------------


def test_timing_100k_trains():
    rng = np.random.default_rng(0)
    n = 100_000
    counts = np.minimum(rng.lognormal(np.log(40), 0.6, n).astype(np.int64), 400)
    counts[rng.random(n) < 0.02] = 0
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    row = np.repeat(np.arange(n), counts)
    values = np.round(rng.uniform(0, 2000, offsets[-1]), 1)
    values = values[np.lexsort((values, row))]  # sorted within each neuron
    ids = np.arange(n, dtype=np.int64) + 1
    seg = neo.Segment(sheet_name="V1_Exc_L4")
    seg.spiketrains = nc.spiketrains_from_arrow(ids, values, offsets, "ms", 0.0, 2000.0)

    t0 = time.perf_counter()
    rec = nc.recording_from_segment(seg)
    t1 = time.perf_counter()
    sp, _ = rec.tables("g0")
    t2 = time.perf_counter()
    trains = nc.spiketrains_from_table(sp)
    t3 = time.perf_counter()
    assert len(trains) == n and rec.n_spikes == int(offsets[-1])
    print(
        f"\n[neo_convert timing] {n} trains, {offsets[-1]} spikes: "
        f"recording_from_segment {t1 - t0:.3f} s, tables {t2 - t1:.4f} s, "
        f"spiketrains_from_table {t3 - t2:.3f} s ({(t3 - t2) / n * 1e6:.1f} us/train)"
    )
