"""Shared fixtures: one real PyNN/NEST run per test session, and fresh stores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import quantities as pq

os.environ.setdefault("PYNEST_QUIET", "1")

# Model parameters as mozaik writes them (a ParameterSet literal), stored by `filled_store`.
MODEL_PARAMETERS = (
    "{'name': 'demo', 'time_step': 0.1, 'pynn_seed': 7, 'sheets': ParameterSet({'V1_Exc_L4': "
    "{'density': 60.0, 'cell': {'model': 'iaf_cond_exp', 'params': {'tau_m': 20.0}}}, "
    "'V1_Inh_L4': {'density': 20.0}}), 'results_dir': ''}"
)


@pytest.fixture(scope="session")
def sim():
    """A small real PyNN/NEST simulation (two sheets, two orientations, blanks)."""
    from mozaik_arrow.simulate import run_network

    return run_network(n_exc=60, n_inh=20, orientations=(0.0, 1.5707963267948966),
                       duration=200.0, blank_duration=60.0, record_signals=8, seed=7)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture(scope="session")
def filled_store(sim, tmp_path_factory):
    """A store holding every recording, null recording, sensory array and neuron metadata of
    the session's simulation. Tests must not write to it."""
    import mozaik_arrow as ma

    path = tmp_path_factory.mktemp("filled") / "store"
    with ma.open(path, "w") as store:
        sim.write_to(store)
        store.set_model_parameters(MODEL_PARAMETERS)
        store.set_sheet_parameters({"V1_Exc_L4": {"density": 60.0}, "V1_Inh_L4": {"density": 20.0}})
        # analysis results computed from the recordings, as a mozaik analysis would
        from mozaik_arrow.ads import PerNeuronValue, SingleValue

        for seg in store.get_segments():
            rates = seg.mean_rates()
            ids = seg.get_stored_spike_train_ids()
            common = dict(sheet_name=seg.annotations["sheet_name"],
                          stimulus_id=seg.annotations["stimulus"],
                          analysis_algorithm="TrialAveragedFiringRate")
            store.add_analysis_result(PerNeuronValue(rates, ids, pq.Hz, value_name="Firing rate",
                                                     tags=["rates"], **common))
            store.add_analysis_result(SingleValue(float(rates.mean()), pq.Hz,
                                                  value_name="mean rate", **common))
    return path
