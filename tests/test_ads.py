"""Tests of mozaik_arrow.ads: mozaik's analysis data structures and their payload codec.

Every type goes payload_table -> Parquet file -> ads_from_table and must come back bit-exact
(dtype, bytes, units strings, neo signal t_start / sampling rate / sampling period).
"""

from __future__ import annotations

import io
import json
import math
import time

import neo
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq_io
import pytest
import quantities as pq
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# one bit-exact comparison for these tests and the fuzz stress run
from benchmarks._fuzz_strategies import (  # noqa: F401 - re-exported for test_ads_store
    _same_array,
    _same_units,
    assert_same,
    assert_same_ads,
)
from mozaik_arrow import register_ads_type  # the package's face for user ADS classes
from mozaik_arrow.ads import (
    AnalogSignal,
    AnalogSignalList,
    AnalysisDataStructure,
    AnalysisDataStructure1D,
    ConductanceSignalList,
    Connections,
    PerAreaAnalogSignalList,
    PerAreaValue,
    PerNeuronPairAnalogSignalList,
    PerNeuronPairValue,
    PerNeuronValue,
    SingleValue,
    SingleValueList,
)
from mozaik_arrow.ads_payload import (
    ADS_TYPES,
    PAYLOAD_SCHEMAS,
    ads_from_payload,
    ads_from_table,
    ads_key,
    ads_params,
    declared_params,
    payload_row,
    payload_table,
)
from mozaik_arrow.errors import ValidationError

# A stimulus string written by mozaik itself, and the same stimulus with its keys reordered.
STIM = (
    '{"module_path" :"mozaik.stimuli","direct_stimulation_name":None, '
    '"direct_stimulation_parameters":None, "duration":300.0, "frame_duration":300.0, '
    '"name":\'EndOfSimulationBlank\', "trial":0}'
)
STIM_REORDERED = (
    "{'name': 'EndOfSimulationBlank', 'trial': 0, 'duration': 300, 'frame_duration': 300.0, "
    "'direct_stimulation_name': None, 'direct_stimulation_parameters': None, "
    "'module_path': 'mozaik.stimuli'}"
)
RNG = np.random.default_rng(42)


def vm(n=400, channels=1, dtype=np.float64, t0=0.0 * pq.ms, units=pq.mV, name="v", **kw):
    """A membrane-potential-like trace (PyNN: ms, 0.1 ms sampling)."""
    data = (-65.0 + 5.0 * RNG.standard_normal((n, channels))).astype(dtype)
    if "sampling_rate" not in kw:
        kw["sampling_period"] = 0.1 * pq.ms
    return neo.AnalogSignal(data, units=units, t_start=t0, name=name, **kw)


def conductance(n=300, dtype=np.float32):
    return neo.AnalogSignal(np.abs(RNG.standard_normal((n, 1))).astype(dtype), units=pq.nS,
                            t_start=100.0 * pq.ms, sampling_period=0.1 * pq.ms)


def psth(n=60):
    """A PSTH-like rate signal given by its sampling *rate* in Hz (period in 1/Hz)."""
    return neo.AnalogSignal(RNG.poisson(20.0, (n, 1)).astype(np.float64), units=pq.Hz,
                            t_start=0.0 * pq.s, sampling_rate=200.0 * pq.Hz)


def examples() -> dict[str, list[AnalysisDataStructure]]:
    """Realistic ADS of every type, several per type (sizes, units, dtypes differ)."""
    ids = np.arange(1000, 1040, dtype=np.int64)
    base = {"sheet_name": "V1_Exc_L4", "analysis_algorithm": "TrialAveragedFiringRate"}
    return {
        "PerNeuronValue": [
            PerNeuronValue(RNG.gamma(2.0, 5.0, 40), ids, pq.Hz, value_name="Firing rate",
                           stimulus_id=STIM, tags=["rates", "exc"], **base),
            PerNeuronValue(RNG.uniform(0, np.pi, 40).astype(np.float32), list(ids), pq.rad,
                           value_name="orientation preference", period=math.pi, **base),
            PerNeuronValue(RNG.integers(0, 50, 40), ids.tolist(), pq.dimensionless,
                           value_name="spike count", **base),
            PerNeuronValue(np.array([], dtype=np.float64), [], None, value_name="empty"),
            PerNeuronValue(np.array([True, False, True]), [3, 1, 2], None, value_name="flag"),
        ],
        "PerNeuronPairValue": [
            PerNeuronPairValue(RNG.standard_normal((5, 5)), [5, 6, 7, 8, 9], None,
                               value_name="correlation", **base),
            PerNeuronPairValue(RNG.integers(-3, 3, (2, 2)).astype(np.int32), [1, 2], pq.ms,
                               value_name="lag", period=None),
        ],
        "SingleValue": [
            SingleValue(3.25, pq.Hz, value_name="mean rate", sheet_name="V1_Inh_L4"),
            SingleValue(7, None, value_name="count"),
            SingleValue(np.float32(0.5), pq.dimensionless, value_name="ratio", period=1.0),
            SingleValue(12.5 * pq.mV, pq.mV, value_name="amplitude", stimulus_id=STIM),
            SingleValue(pq.Quantity(np.float32(2.0), "ms"), pq.ms, value_name="lag"),
            SingleValue(np.arange(6, dtype=np.int16).reshape(2, 3), None, value_name="grid"),
            SingleValue(True, None, value_name="flag"),
        ],
        "SingleValueList": [
            SingleValueList([1.0, 2.5, 3.0], pq.Hz, value_name="rates"),
            SingleValueList((1, 2, 3), None, value_name="counts"),
            SingleValueList([1.0 * pq.s, 2.0 * pq.s], pq.s, value_name="times"),
            SingleValueList(np.linspace(0, 1, 7), pq.dimensionless, value_name="ramp"),
        ],
        "AnalysisDataStructure1D": [
            AnalysisDataStructure1D(pq.ms, pq.mV, x_axis_name="time", y_axis_name="Vm"),
            AnalysisDataStructure1D(None, 1 / pq.s, x_axis_name="t", y_axis_name="rate"),
        ],
        "AnalogSignal": [
            AnalogSignal(vm(), pq.mV, x_axis_name="time", y_axis_name="Vm", neuron=1003,
                         **base),
            AnalogSignal(psth(), pq.Hz, y_axis_name="PSTH", stimulus_id=STIM),
            AnalogSignal(vm(50, 3, np.float32, t0=0.25 * pq.s, name=None), pq.mV),
        ],
        "AnalogSignalList": [
            AnalogSignalList([vm(t0=10.0 * pq.ms) for _ in range(6)], ids[:6], pq.mV,
                             x_axis_name="time", y_axis_name="Vm (trial averaged)", **base),
            AnalogSignalList([psth(), psth(80)], [7, 8], pq.Hz, y_axis_name="psth",
                             tags=["psth"]),
            AnalogSignalList([vm(20, dtype=np.float32)], np.array([3], dtype=np.int32), None),
        ],
        "PerNeuronPairAnalogSignalList": [
            PerNeuronPairAnalogSignalList([vm(30), vm(30), vm(30)], [(1, 2), (1, 3), (2, 3)],
                                          pq.mV, y_axis_name="cross-correlation", **base),
            PerNeuronPairAnalogSignalList([psth()], [np.array([10, 11])], pq.Hz),
        ],
        "ConductanceSignalList": [
            ConductanceSignalList([conductance() for _ in range(4)],
                                  [conductance() for _ in range(4)], ids[:4], **base),
            ConductanceSignalList([conductance(10, np.float64)], [conductance(10, np.float64)],
                                  [5], x_axis_name="time", y_axis_name="conductance"),
        ],
        "Connections": [
            Connections([(i, j, float(RNG.uniform())) for i in range(4) for j in range(3)],
                        [(i, j, 1.0 + 0.1 * i) for i in range(4) for j in range(3)],
                        (1000.0, 1000.0), (500.0, 500.0), proj_name="V1L4ExcL4ExcConnection",
                        source_name="V1_Exc_L4", target_name="V1_Exc_L4",
                        analysis_algorithm="connection storage"),
            Connections(np.empty((0, 3)), [], None, [3, 4], proj_name="empty"),
        ],
        "PerAreaAnalogSignalList": [
            PerAreaAnalogSignalList([[vm(40, units=pq.mV * pq.nS) for _ in range(3)]
                                     for _ in range(2)],
                                    [-100.0, 0.0, 100.0], [-50.0, 50.0], pq.mV * pq.nS,
                                    x_axis_name="time", y_axis_name="LFP", **base),
        ],
        "PerAreaValue": [
            PerAreaValue(RNG.uniform(0, np.pi, (2, 3)), pq.rad, [-1.0, 0.0, 1.0], [-1.0, 1.0],
                         value_name="orientation", period=math.pi),
        ],
    }


# ----------------------------------------------------------------------------- comparison

def parquet_roundtrip(table: pa.Table, path, row_group_size=None) -> pa.Table:
    pq_io.write_table(table, path, row_group_size=row_group_size)
    return pq_io.read_table(path)


# ----------------------------------------------------------------------------- round trips

@pytest.mark.parametrize("identifier", sorted(examples()))
def test_every_type_round_trips_through_parquet(identifier, tmp_path):
    objs = examples()[identifier]
    table = payload_table(objs)
    assert table.schema.equals(PAYLOAD_SCHEMAS[identifier]) and table.num_rows == len(objs)
    back_table = parquet_roundtrip(table, tmp_path / f"{identifier}.parquet", row_group_size=2)
    for field in PAYLOAD_SCHEMAS[identifier]:
        assert back_table.schema.field(field.name).type == field.type, field.name
    back = ads_from_table(identifier, [ads_params(o) for o in objs], [o.tags for o in objs],
                          back_table)
    for a, b in zip(objs, back, strict=True):
        assert_same_ads(a, b)
    # the single-row forms: a payload_row, a Table.to_pylist() row, a one-row table or batch
    for i, obj in enumerate(objs):
        for row in (payload_row(obj), back_table.to_pylist()[i], back_table.slice(i, 1),
                    back_table.slice(i, 1).to_batches()[0]):
            assert_same_ads(obj, ads_from_payload(identifier, ads_params(obj), obj.tags, row))


def test_every_registered_type_has_an_example():
    assert set(ADS_TYPES) == set(examples()) == set(PAYLOAD_SCHEMAS)


def test_all_types_in_one_parquet_file_each(tmp_path):
    """What the store will do: one file per identifier, every ADS of that type in it."""
    for identifier, objs in examples().items():
        path = tmp_path / f"{identifier}.parquet"
        back = ads_from_table(identifier, [ads_params(o) for o in objs], None,
                              parquet_roundtrip(payload_table(objs), path))
        assert [ads_key(o) for o in back] == [ads_key(o) for o in objs]
        assert all(b.tags == [] for b in back)


def test_signals_come_back_as_real_neo_signals():
    sig = vm(100, 2, np.float32, t0=12.5 * pq.ms)
    asl = AnalogSignalList([sig, psth()], [1, 2], pq.mV)
    back = ads_from_payload("AnalogSignalList", ads_params(asl), [], payload_row(asl))
    b = back.get_asl_by_id(1)
    assert isinstance(b, neo.AnalogSignal) and b.dtype == np.float32 and b.shape == (100, 2)
    assert b.sampling_period == sig.sampling_period and b.t_start == 12.5 * pq.ms
    assert b.t_stop == sig.t_stop and b.flags.writeable
    p = back.get_asl_by_id(2)
    assert p.sampling_rate.dimensionality.string == "Hz"
    assert p.sampling_period == psth().sampling_period
    assert back.x_axis_units.dimensionality.string == "ms"


def test_column_views_of_a_signal_and_unusual_dtypes_are_exact(tmp_path):
    big = neo.AnalogSignal(np.arange(40.0).reshape(10, 4), units="mV", sampling_period=1 * pq.ms)
    column = big[:, 2:3]  # a strided view
    values = {
        "int64 beyond 2**53": np.array([2**62 + 1, -(2**60) - 3, 5], dtype=np.int64),
        "uint64": np.array([2**64 - 1, 0, 7], dtype=np.uint64),
        "big-endian": np.array([1.5, -2.25, np.inf], dtype=">f8"),
        "float16": np.array([0.5, np.nan, -0.0], dtype=np.float16),
        "signalling nan": np.array([0x7F800001, 0x7FC00000, 0], dtype=np.uint32).view(np.float32),
        "uint8": np.array([0, 255, 3], dtype=np.uint8),
        "bool": np.array([True, False, True]),
    }
    objs = [PerNeuronValue(v, [1, 2, 3], None, value_name=k) for k, v in values.items()]
    table = payload_table(objs)
    raw_rows = table.column("values").is_null().to_pylist()
    assert raw_rows == [True, True, False, False, True, False, False]  # float64 when lossless
    back = ads_from_table("PerNeuronValue", [ads_params(o) for o in objs], None,
                          parquet_roundtrip(table, tmp_path / "v.parquet"))
    for a, b in zip(objs, back, strict=True):
        assert_same_ads(a, b)
        assert b.values.dtype == a.values.dtype
    s = AnalogSignal(column, pq.mV)
    assert_same_ads(s, ads_from_payload("AnalogSignal", ads_params(s), None, payload_row(s)))


def test_float64_payloads_are_plain_list_columns():
    """Lossless payloads are readable as numbers by polars/duckdb, not only by this codec."""
    pnv = examples()["PerNeuronValue"][0]
    table = payload_table([pnv])
    assert table.column("values").to_pylist()[0] == pnv.values.tolist()
    assert table.column("ids").to_pylist()[0] == pnv.ids
    assert table.column("value_units").to_pylist() == ["Hz"]
    assert table.column("values_raw").to_pylist() == [None]
    pairs = payload_table(examples()["PerNeuronPairAnalogSignalList"][:1])
    assert pairs.column("ids").to_pylist()[0] == [[1, 2], [1, 3], [2, 3]]
    assert pairs.column("asl_t_start").to_pylist()[0] == [0.0, 0.0, 0.0]


def test_units_come_back_as_quantities_units():
    pnv = PerNeuronValue([1.0], [1], "Hz", value_name="r")  # a unit string becomes the unit
    assert pnv.value_units is pq.Hz
    for units in (pq.Hz, pq.dimensionless, 1 / pq.s, pq.mV * pq.nS, pq.um**2, None):
        obj = PerNeuronValue([1.0], [1], units, value_name="r")
        back = ads_from_payload("PerNeuronValue", ads_params(obj), None, payload_row(obj))
        assert _same_units(back.value_units, units)
        if units is not None:
            assert back.value_units == units


def test_ids_come_back_as_python_ints_and_tuples():
    pnv = PerNeuronValue([1.0, 2.0], np.array([7, 9], dtype=np.uint16), None, value_name="r")
    back = ads_from_payload("PerNeuronValue", ads_params(pnv), None, payload_row(pnv))
    assert back.ids == [7, 9] and all(type(i) is int for i in back.ids)
    pair = examples()["PerNeuronPairAnalogSignalList"][1]
    back = ads_from_payload(pair.identifier, ads_params(pair), None, payload_row(pair))
    assert back.ids == [(10, 11)] and type(back.ids[0][0]) is int


def test_payload_table_is_vectorised():
    """10,000 neurons x 200 ADS in well under a second (no Python per element)."""
    objs = [PerNeuronValue(RNG.standard_normal(10_000), np.arange(10_000), pq.Hz,
                           value_name=f"v{i}") for i in range(200)]
    t0 = time.perf_counter()
    table = payload_table(objs)
    back = ads_from_table("PerNeuronValue", [ads_params(o) for o in objs], None, table)
    assert time.perf_counter() - t0 < 5.0
    assert _same_array(back[-1].values, objs[-1].values)


# ----------------------------------------------------------------------------- hypothesis

DTYPES = [np.float64, np.float32, np.float16, np.int64, np.int32, np.int16, np.int8,
          np.uint64, np.uint32, np.uint8, np.bool_]


@st.composite
def per_neuron_values(draw):
    n = draw(st.integers(0, 30))
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    values = draw(hnp.arrays(dtype, n))
    ids = draw(hnp.arrays(np.int64, n, elements=st.integers(-(2**63), 2**63 - 1)))
    units = draw(st.sampled_from([None, pq.Hz, pq.dimensionless, pq.mV, 1 / pq.s]))
    period = draw(st.none() | st.floats(allow_nan=False, allow_infinity=False))
    tags = draw(st.lists(st.text(max_size=5), max_size=3))
    return PerNeuronValue(values, ids, units, value_name=draw(st.text(max_size=10)),
                          period=period, tags=tags)


@settings(max_examples=150, deadline=None)
@given(st.lists(per_neuron_values(), min_size=1, max_size=4))
def test_hypothesis_per_neuron_value_round_trip(objs):
    buf = io.BytesIO()
    pq_io.write_table(payload_table(objs), buf)
    buf.seek(0)
    back = ads_from_table("PerNeuronValue", [ads_params(o) for o in objs],
                          [o.tags for o in objs], pq_io.read_table(buf))
    for a, b in zip(objs, back, strict=True):
        assert_same_ads(a, b)


# ----------------------------------------------------------------------------- lookups

def test_get_value_by_id_is_vectorised_and_names_unknown_ids():
    pnv = PerNeuronValue([10.0, 20.0, 30.0, 40.0], [7, 3, 9, 3], pq.Hz, value_name="r")
    assert pnv.get_value_by_id(9) == 30.0
    assert pnv.get_value_by_id(3) == 20.0  # first occurrence, as list.index
    assert pnv.get_value_by_id([9, 7]) == [30.0, 10.0]
    assert pnv.get_value_by_id(np.array([3, 3])) == [20.0, 20.0]
    with pytest.raises(ValueError, match="12345"):
        pnv.get_value_by_id([7, 12345])
    with pytest.raises(ValueError, match="8"):
        pnv.get_value_by_id(8)
    with pytest.raises(ValueError, match="5"):
        PerNeuronValue([], [], None).get_value_by_id(5)
    big = PerNeuronValue(np.arange(100_000.0), np.arange(100_000)[::-1], None)
    assert big.get_value_by_id(np.arange(100_000)).__len__() == 100_000


def test_pair_and_signal_lookups():
    ppv = PerNeuronPairValue(np.arange(9.0).reshape(3, 3), [5, 6, 7], None)
    assert ppv.get_value_by_ids(6, 7) == 5.0
    assert ppv.get_value_by_ids([7, 5], [6]).tolist() == [[7.0], [1.0]]
    with pytest.raises(ValueError, match="4"):
        ppv.get_value_by_ids(4, 5)
    sigs = [vm(10) for _ in range(3)]
    asl = AnalogSignalList(sigs, [4, 5, 6], pq.mV)
    assert asl.get_asl_by_id(5) is sigs[1] and asl.get_asl_by_id([6, 4]) == [sigs[2], sigs[0]]
    assert np.array_equal(asl.mean(), np.mean(sigs, axis=0))
    assert np.array_equal(asl.var(), np.var(sigs, axis=0))
    pairs = PerNeuronPairAnalogSignalList(sigs, [(1, 2), (2, 3), (1, 3)], pq.mV)
    assert pairs.get_asl_by_id_pair((2, 3)) is sigs[1]
    assert pairs.get_asl_by_id_pair([(1, 3), (1, 2)]) == [sigs[2], sigs[0]]
    with pytest.raises(ValueError, match=r"\(3, 1\)"):
        pairs.get_asl_by_id_pair((3, 1))
    csl = ConductanceSignalList(sigs[:2], sigs[1:], [8, 9])
    assert csl.get_econ_by_id(9) is sigs[1] and csl.get_icon_by_id(9) is sigs[2]
    assert (csl.x_axis_name, csl.y_axis_name) == ("time", "conductance")
    mixed = AnalogSignalList([vm(10), vm(10, t0=1.0 * pq.ms)], [1, 2], pq.mV)
    with pytest.raises(ValueError, match="t_start"):
        mixed.mean()


# ----------------------------------------------------------------------------- params, keys

def test_identifier_name_and_module_path_are_mozaiks():
    for identifier, objs in examples().items():
        for obj in objs:
            assert obj.identifier == obj.name == identifier
            assert str(obj).startswith('{"module_path" :"mozaik.analysis.data_structures",')
    with pytest.raises(ValidationError, match="identifier is always 'PerNeuronValue'"):
        PerNeuronValue([1.0], [1], None, identifier="SingleValue")


def test_ads_params_are_deterministic_literal_and_complete():
    pnv = examples()["PerNeuronValue"][0]
    params = ads_params(pnv)
    assert list(params) == sorted(params)
    assert params == {"analysis_algorithm": "TrialAveragedFiringRate",
                      "identifier": "PerNeuronValue", "name": "PerNeuronValue",
                      "neuron": None, "period": None, "sheet_name": "V1_Exc_L4",
                      "stimulus_id": STIM, "value_name": "Firing rate"}
    assert json.loads(json.dumps(params)) == params
    assert set(params) == set(declared_params("PerNeuronValue"))


def test_declared_params_tell_missing_from_none():
    assert "period" in declared_params("PerNeuronValue")
    assert "period" in declared_params("SingleValue")
    assert "period" not in declared_params("AnalogSignalList")
    assert "period" not in declared_params("Connections")
    assert {"x_axis_name", "y_axis_name"} <= set(declared_params("ConductanceSignalList"))
    assert {"proj_name", "source_name", "target_name"} <= set(declared_params("Connections"))
    for identifier in ADS_TYPES:
        assert {"identifier", "name", "analysis_algorithm", "neuron", "sheet_name",
                "stimulus_id"} <= set(declared_params(identifier))
    with pytest.raises(ValidationError, match="NoSuchType"):
        declared_params("NoSuchType")


def test_ads_key_equal_for_any_spelling_of_equal_params():
    a = PerNeuronValue([1.0], [1], pq.Hz, value_name="r", period=1, stimulus_id=STIM)
    b = PerNeuronValue(np.array([2.0]), [2], None, value_name="r", period=np.float64(1.0),
                       stimulus_id=STIM_REORDERED, tags=["other"])
    assert ads_key(a) == ads_key(b) == ads_key(ads_params(a))
    assert ads_key(a).startswith("a") and len(ads_key(a)) == 33
    different = [
        PerNeuronValue([1.0], [1], pq.Hz, value_name="r", period=2.0, stimulus_id=STIM),
        PerNeuronValue([1.0], [1], pq.Hz, value_name="R", period=1, stimulus_id=STIM),
        PerNeuronValue([1.0], [1], pq.Hz, value_name="r", period=1),
        PerNeuronValue([1.0], [1], pq.Hz, value_name="r", period=1, stimulus_id=STIM,
                       sheet_name="V1"),
        PerNeuronPairValue([[1.0]], [1], pq.Hz, value_name="r", period=1, stimulus_id=STIM),
    ]
    keys = {ads_key(x) for x in different}
    assert ads_key(a) not in keys and len(keys) == len(different)
    missing = {k: v for k, v in ads_params(a).items() if k != "period"}
    assert ads_key(missing) != ads_key({**missing, "period": None})
    with pytest.raises(ValidationError, match="identifier"):
        ads_key({"value_name": "r"})


# ----------------------------------------------------------------------------- registration

class MyRate(PerNeuronValue):
    """A user's subclass keeping PerNeuronValue's constructor."""


def test_user_subclasses_register_and_round_trip():
    obj = MyRate([1.0, 2.0], [1, 2], pq.Hz, value_name="mine")
    assert obj.identifier == "MyRate" and str(obj).startswith('{"module_path" :"tests.')
    with pytest.raises(ValidationError, match="MyRate"):
        payload_row(obj)
    register_ads_type(MyRate)
    try:
        assert declared_params("MyRate") == declared_params("PerNeuronValue")
        back = ads_from_payload("MyRate", ads_params(obj), None, payload_row(obj))
        assert type(back) is MyRate and _same_array(back.values, obj.values)
        other = type("MyRate", (SingleValue,), {})
        with pytest.raises(ValidationError, match="already registered"):
            register_ads_type(other)
    finally:
        del ADS_TYPES["MyRate"], PAYLOAD_SCHEMAS["MyRate"]
    with pytest.raises(ValidationError, match="payload"):
        register_ads_type(AnalysisDataStructure)


# ----------------------------------------------------------------------------- bad input

SIG = vm(10)
BAD = {
    "values vs ids": (lambda: PerNeuronValue([1.0, 2.0], [1, 2, 3], None), "3 ids"),
    "pair matrix": (lambda: PerNeuronPairValue(np.zeros((2, 3)), [1, 2], None),
                    "len(ids) x len(ids)"),
    "pair matrix 1-D": (lambda: PerNeuronPairValue([1.0, 2.0], [1, 2], None), "shape"),
    "missing values": (lambda: PerNeuronValue(idds=[1], value_units=pq.Hz),
                       "missing payload 'values'"),
    "missing ids": (lambda: PerNeuronValue([1.0], value_units=pq.Hz), "missing payload 'idds'"),
    "missing value": (lambda: SingleValue(value_units=pq.Hz), "missing payload 'value'"),
    "missing signal": (lambda: AnalogSignal(y_axis_units=pq.mV), "analog_signal"),
    "missing asl": (lambda: AnalogSignalList(ids=[1], y_axis_units=pq.mV), "asl"),
    "missing weights": (lambda: Connections(delays=[(0, 1, 1.0)]), "weights"),
    "undeclared param": (lambda: PerNeuronValue([1.0], [1], None, colour="red"), "colour"),
    "period on a list": (lambda: AnalogSignalList([SIG], [1], None, period=None), "period"),
    "non-string tag": (lambda: PerNeuronValue([1.0], [1], None, tags=["ok", 3]), "tag 3"),
    "tags as a string": (lambda: SingleValue(1.0, None, tags="abc"), "tags must be a list"),
    "surrogate tag": (lambda: SingleValue(1.0, None, tags=["\ud800"]), "tag"),
    "wrong param type": (lambda: PerNeuronValue([1.0], [1], None, neuron="x"), "neuron"),
    "bad stimulus_id": (lambda: SingleValue(1.0, None, stimulus_id="__import__('os')"),
                        "stimulus string"),
    "object values": (lambda: PerNeuronValue([None, "a"], [1, 2], None), "dtype object"),
    "float ids": (lambda: PerNeuronValue([1.0], [1.5], None), "ids must be"),
    "2-D ids": (lambda: PerNeuronValue([1.0], [[1, 2]], None), "ids must be"),
    "bad pair ids": (lambda: PerNeuronPairAnalogSignalList([SIG], [(1, 2, 3)], None),
                     "pairs"),
    "signals vs ids": (lambda: AnalogSignalList([SIG, SIG], [1], None), "2 signals for 1 ids"),
    "empty asl": (lambda: AnalogSignalList([], [], None), "empty"),
    "not a signal": (lambda: AnalogSignalList([np.zeros(3)], [1], None), "neo.AnalogSignal"),
    "conductance units": (lambda: ConductanceSignalList([SIG], [conductance()], [1]), "i_con in"),
    "conductance lengths": (lambda: ConductanceSignalList([SIG, SIG], [SIG], [1, 2]),
                            "2 e_con and 1 i_con"),
    "conductance axis": (lambda: ConductanceSignalList([SIG], [SIG], [1], x_axis_name="t"),
                         "x_axis_name is always 'time'"),
    "1-D weights": (lambda: Connections([1.0, 2.0], [[0, 1, 1.0]], None, None), "2-D"),
    "area grid": (lambda: PerAreaAnalogSignalList([[SIG, SIG]], [0.0], [0.0], None),
                  "len(y_coords) x len(x_coords)"),
    "area values": (lambda: PerAreaValue(np.zeros((3, 2)), None, [0.0, 1.0], [0.0]),
                    "(len(y_coords), len(x_coords))"),
    "unknown units": (lambda: PerNeuronValue([1.0], [1], "flibbertigibbets"), "unknown units"),
    "scaled units": (lambda: PerNeuronValue([1.0], [1], 2 * pq.ms), "quantities unit"),
    "units bomb": (lambda: PerNeuronValue([1.0], [1], "10**10**10**10"), "exponents"),
    "free value type": (lambda: SingleValue({"a": 1}, None), "dict cannot be stored"),
    "mixed quantities": (lambda: SingleValueList([1.0 * pq.s, 2.0], None), "mixes"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_refused_with_a_clear_message(case):
    build, words = BAD[case]
    t0 = time.perf_counter()
    with pytest.raises(ValidationError) as info:
        build()
    assert words in str(info.value), str(info.value)
    assert time.perf_counter() - t0 < 2.0


def test_bad_tables_and_rows_are_refused():
    objs = examples()["PerNeuronValue"][:2]
    table = payload_table(objs)
    params = [ads_params(o) for o in objs]
    with pytest.raises(ValidationError, match="one type"):
        payload_table([objs[0], examples()["SingleValue"][0]])
    with pytest.raises(ValidationError, match="one type"):
        payload_table([])
    assert payload_table([], "SingleValue").num_rows == 0
    with pytest.raises(ValidationError, match="lacks columns \\['ids'\\]"):
        ads_from_table("PerNeuronValue", params, None, table.drop_columns(["ids"]))
    with pytest.raises(ValidationError, match="2 payload rows, 1 parameter"):
        ads_from_table("PerNeuronValue", params[:1], None, table)
    with pytest.raises(ValidationError, match="unknown ADS type 'Nope'"):
        ads_from_table("Nope", params, None, table)
    corrupt = table.set_column(table.schema.get_field_index("values_dtype"), "values_dtype",
                               pa.array(["object", "float64"]))
    with pytest.raises(ValidationError, match="not numeric"):
        ads_from_table("PerNeuronValue", params, None, corrupt)
    short = table.set_column(table.schema.get_field_index("values_shape"), "values_shape",
                             pa.array([[7], [40]], pa.large_list(pa.int64())))
    with pytest.raises(ValidationError, match="row 0"):
        ads_from_table("PerNeuronValue", params, None, short)
    with pytest.raises(ValidationError, match="one row"):
        ads_from_payload("PerNeuronValue", params[0], None, table)
    with pytest.raises(ValidationError, match="colour"):
        ads_from_table("PerNeuronValue", [{**params[0], "colour": 1}, params[1]], None, table)


def test_ids_list_is_made_on_first_access():
    """``ids`` is mozaik's list of ints (tuples for pairs), made from the int64 array when
    first read; lookups use the array; assigning ``ids`` (even None) is what is read back."""
    import copy
    import pickle

    pnv = PerNeuronValue(np.arange(3.0), np.array([7, 5, 9]), pq.Hz, value_name="r")
    assert "ids" not in vars(pnv) and pnv.get_value_by_id([9, 7]) == [2.0, 0.0]
    for other in (pickle.loads(pickle.dumps(pnv)), copy.deepcopy(pnv)):
        assert other.ids == [7, 5, 9] and all(type(i) is int for i in other.ids)
    assert pnv.ids == [7, 5, 9] and "ids" in vars(pnv)
    pnv.ids = [1, 2, 3]
    assert pnv.get_value_by_id(3) == 2.0
    pnv.ids = None
    assert pnv.ids is None
    asl = AnalogSignalList([neo.AnalogSignal(np.zeros((2, 1)), units="mV", sampling_period=pq.ms)] * 2,
                           [4, 6], pq.mV)
    assert asl.ids == [4, 6]
    pair = PerNeuronPairAnalogSignalList(
        [neo.AnalogSignal(np.zeros((2, 1)), units="mV", sampling_period=pq.ms)], [(1, 2)], pq.mV)
    assert pair.ids == [(1, 2)]
    with pytest.raises(ValidationError, match="2 signals for 1 ids"):
        AnalogSignalList([neo.AnalogSignal(np.zeros((2, 1)), units="mV", sampling_period=pq.ms)] * 2,
                         [4], pq.mV)
