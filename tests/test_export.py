"""Export of real PyNN/NEST recordings to neo (NixIO) and NWB, read back and compared with
the store's own Arrow frames."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

import mozaik_arrow as ma
from mozaik_arrow import queries
from mozaik_arrow.analytics import seconds_per_unit
from mozaik_arrow.export import to_neo_block, to_nwb
from mozaik_arrow.export.nwb import recording_timeline


def _store_spikes(dsv) -> dict[tuple[str, int], tuple[np.ndarray, str, float, float]]:
    """(segment_id, neuron_id) -> (times, units, t_start, t_stop), straight from the files."""
    df = dsv.spikes().collect()
    return {(r["segment_id"], r["neuron_id"]): (np.asarray(r["times"], dtype=np.float64),
                                                 r["units"], r["t_start"], r["t_stop"])
            for r in df.iter_rows(named=True)}


def _store_signals(dsv) -> dict[tuple[str, str], tuple[np.ndarray, list[int], pl.DataFrame]]:
    """(segment_id, signal name) -> (samples as (T, N), neuron ids, the rows)."""
    out = {}
    df = dsv.signals().collect()
    for (sid, name), g in df.group_by("segment_id", "name", maintain_order=True):
        out[(sid, name)] = (np.array(g["samples"].to_list(), dtype=np.float64).T,
                            g["neuron_id"].to_list(), g)
    return out


def test_neo_block_holds_every_recording_in_store_order(filled_store):
    store = ma.open(filled_store, "r")
    block = to_neo_block(store)
    frame = store.segments_frame().collect()
    assert [s.annotations["segment_id"] for s in block.segments] == frame["segment_id"].to_list()
    assert [s.annotations["null"] for s in block.segments] == frame["null"].to_list()
    assert any(s.annotations["null"] for s in block.segments)
    spikes, signals = _store_spikes(store), _store_signals(store)
    for seg, row in zip(block.segments, frame.iter_rows(named=True), strict=True):
        assert seg.annotations["sheet_name"] == row["sheet_name"]
        assert seg.annotations["stimulus"] == row["stimulus_string"]
        assert seg.annotations["stimulus_key"] == row["stimulus"]
        assert len(seg.spiketrains) == row["n_neurons"]
        for st in seg.spiketrains:
            times, units, t0, t1 = spikes[(row["segment_id"], st.annotations["source_id"])]
            assert np.array_equal(st.magnitude, times) and str(st.units.dimensionality) == units
            assert (float(st.t_start), float(st.t_stop)) == (t0, t1)
            assert st.segment is seg
        assert sorted(s.name for s in seg.analogsignals) == sorted(row["signal_names"])
        for sig in seg.analogsignals:
            samples, ids, _ = signals[(row["segment_id"], sig.name)]
            assert np.array_equal(sig.magnitude, samples)
            assert list(sig.annotations["source_ids"]) == ids
    groups = {g.name: g for g in block.groups}
    assert list(groups) == block.annotations["sheets"] == store.sheets()
    for sheet, g in groups.items():
        assert np.array_equal(g.annotations["neuron_ids"], store.get_sheet_ids(sheet))
        pos = store.get_neuron_positions()[sheet]
        assert np.array_equal(g.annotations["neuron_positions_x"], pos[0])
        n = sum(len(s.spiketrains) for s in block.segments
                if s.annotations["sheet_name"] == sheet)
        assert len(g.spiketrains) == n
    assert len(to_neo_block(store, null=False).segments) == int((~frame["null"]).sum())
    assert all(not s.analogsignals for s in to_neo_block(store, signals=False).segments)


def test_neo_block_written_by_nixio_reads_back_bit_exact(filled_store, tmp_path):
    pytest.importorskip("nixio")
    from neo.io import NixIO

    store = ma.open(filled_store, "r")
    # NixIO writes ~10 objects/s here: one sheet, one stimulus (its recording and null one)
    dsv = queries.param_filter_query(store, sheet_name="V1_Inh_L4", st_orientation=0.0)
    block = to_neo_block(dsv)
    assert [s.annotations["null"] for s in block.segments] == [False, True]
    path = tmp_path / "run.nix"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with NixIO(str(path), mode="ow") as io:
            io.write_block(block)
        with NixIO(str(path), mode="ro") as io:
            back = io.read_block()
    spikes, signals = _store_spikes(dsv), _store_signals(dsv)
    assert len(back.segments) == 2
    for seg in back.segments:
        sid = seg.annotations["segment_id"]
        for key in ("sheet_name", "stimulus", "null", "stimulus_key"):
            assert seg.annotations[key] == next(
                s for s in block.segments if s.annotations["segment_id"] == sid).annotations[key]
        got = {int(st.annotations["source_id"]): st for st in seg.spiketrains}
        want = {nid: v for (s, nid), v in spikes.items() if s == sid}
        assert got.keys() == want.keys()
        for nid, st in got.items():
            times, units, t0, t1 = want[nid]
            assert st.magnitude.tobytes() == times.tobytes()  # bit for bit
            assert str(st.units.dimensionality) == units
            assert float(st.t_start) == t0 and float(st.t_stop) == t1
        assert {s.name for s in seg.analogsignals} == {"v", "gsyn_exc", "gsyn_inh"}
        for sig in seg.analogsignals:
            samples, ids, rows = signals[(sid, sig.name)]
            assert sig.magnitude.tobytes() == np.ascontiguousarray(samples).tobytes()
            assert [int(i) for i in sig.annotations["source_ids"]] == ids
            assert str(sig.units.dimensionality) == rows["units"][0]
            assert float(sig.t_start) == rows["t_start"][0]
            assert float(sig.sampling_period) == rows["sampling_period"][0]
    assert list(np.atleast_1d(back.annotations["sheets"])) == ["V1_Inh_L4"]  # NIX: 1 → scalar


@pytest.fixture(scope="module")
def nwb_file(filled_store, tmp_path_factory):
    pytest.importorskip("pynwb")
    path = tmp_path_factory.mktemp("nwb") / "run.nwb"
    store = ma.open(filled_store, "r")
    assert to_nwb(store, path, identifier="test-run") == path
    return path


def test_nwb_reads_back_with_the_store_times_and_samples(filled_store, nwb_file):
    from pynwb import NWBHDF5IO

    store = ma.open(filled_store, "r")
    rec = recording_timeline(store)
    frame = store.segments_frame().collect()
    spikes, signals = _store_spikes(store), _store_signals(store)
    with NWBHDF5IO(str(nwb_file), "r") as io:
        nwb = io.read()
        assert nwb.identifier == "test-run"
        trials = nwb.trials.to_dataframe()
        assert trials["segment_id"].tolist() == frame["segment_id"].to_list()
        assert trials["null"].tolist() == frame["null"].to_list()
        assert trials["stimulus"].tolist() == frame["stimulus_string"].to_list()
        assert trials["t_start"].tolist() == frame["t_start"].to_list()
        # recordings end to end in store order
        start, stop = trials["start_time"].to_numpy(), trials["stop_time"].to_numpy()
        assert start[0] == 0.0 and np.array_equal(start[1:], stop[:-1])
        dur = (frame["t_stop"] - frame["t_start"]).to_numpy() * 1e-3
        assert np.allclose(stop - start, dur, rtol=1e-12)
        stimuli = store.stimuli_frame().collect()
        orient = dict(zip(stimuli["stimulus"], stimuli["orientation"], strict=True))
        assert trials["st_orientation"].tolist() == [orient[k] for k in frame["stimulus"]]
        assert set(trials["st_name"]) == {"FullfieldDriftingSinusoidalGrating"}

        units = nwb.units.to_dataframe()
        want_units = {(s, n) for (sid, n) in spikes
                      for s in [frame.filter(pl.col("segment_id") == sid)["sheet_name"][0]]}
        assert set(zip(units["sheet_name"], units["neuron_id"], strict=True)) == want_units
        assert len(units) == len(want_units)
        by_k = {r["recording"]: r for r in rec.iter_rows(named=True)}
        checked = 0
        for _, u in units.iterrows():
            times = np.asarray(u["spike_times"])
            parts = []
            for lo, hi in np.asarray(u["obs_intervals"]).reshape(-1, 2):
                r = by_k[int(np.flatnonzero(start == lo)[0])]
                assert hi == r["stop_time"] and r["sheet_name"] == u["sheet_name"]
                orig, units_str, t0, _ = spikes[(r["segment_id"], u["neuron_id"])]
                f = seconds_per_unit(units_str)
                mapped = (orig - t0) * f + lo  # the documented formula
                # removing the offset gives back the stored times (to float rounding)
                assert np.allclose((mapped - lo) / f + t0, orig, rtol=0, atol=1e-9)
                parts.append(mapped)
                checked += len(orig)
            assert np.concatenate(parts).tobytes() == times.tobytes()  # bit for bit
            assert np.all(np.diff(times) >= 0)
        assert checked == sum(len(v[0]) for v in spikes.values()) > 0

        table = nwb.acquisition["signal_columns"].to_dataframe()
        assert len(table) == sum(len(r) for r in frame["signal_names"].to_list())
        for _, row in table.iterrows():
            r = by_k[int(row["recording"])]
            samples, ids, rows = signals[(r["segment_id"], row["signal"])]
            ts = nwb.acquisition[row["series"]]
            assert np.asarray(ts.data[:]).tobytes() == np.ascontiguousarray(samples).tobytes()
            assert list(row["neuron_ids"]) == ids
            assert row["units"] == rows["units"][0] and row["t_start"] == rows["t_start"][0]
            assert {"mV": ("volts", 1e-3), "uS": ("siemens", 1e-6)}[row["units"]] == (
                ts.unit, ts.conversion)
            assert ts.rate == pytest.approx(1.0 / (rows["sampling_period"][0] * 1e-3))
            assert ts.starting_time == pytest.approx(
                r["start_time"] + (rows["t_start"][0] - r["t_start"]) * 1e-3, abs=1e-12)


def test_nwb_passes_nwbinspector_without_critical_findings(nwb_file):
    nwbinspector = pytest.importorskip("nwbinspector")
    messages = list(nwbinspector.inspect_nwbfile(nwbfile_path=str(nwb_file)))
    bad = [m for m in messages if m.importance.value >= nwbinspector.Importance.CRITICAL.value]
    assert not bad, [(m.importance.name, m.check_function_name, m.message) for m in bad]


def test_nwb_refuses_to_overwrite_and_an_empty_view(filled_store, nwb_file, tmp_path):
    store = ma.open(filled_store, "r")
    with pytest.raises(FileExistsError):
        to_nwb(store, nwb_file)
    empty = queries.param_filter_query(store, sheet_name="no such sheet")
    with pytest.raises(ValueError, match="no recording"):
        to_nwb(empty, tmp_path / "empty.nwb")
    assert not list(tmp_path.iterdir())
