"""Shared fixtures: one real PyNN/NEST run per test session, and fresh stores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import quantities as pq

from .s3_servers import s3_moto, s3_seaweed  # noqa: F401 - session fixtures: local S3 servers

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
    path = tmp_path_factory.mktemp("filled") / "store"
    fill_store(path, sim)
    return path


@pytest.fixture(scope="session")
def s3_env(s3_moto):  # noqa: F811 - the imported fixture, requested
    """The AWS_* environment of the session's moto server: ``mozaik_arrow.open("s3://...")``,
    polars and boto3 find the endpoint and credentials there, as on a configured machine."""
    with s3_moto.environ():
        yield s3_moto


@pytest.fixture(scope="session")
def filled_s3(sim, s3_env):
    """:func:`filled_store`'s content written to S3 (the moto server) through the API."""
    url = s3_env.url(s3_env.unique_prefix("filled")).rstrip("/")
    fill_store(url, sim)
    return url


def fill_store(location, sim) -> None:
    """Write the session's simulation, run parameters and analysis results to a new store."""
    import mozaik_arrow as ma

    with ma.open(location, "w") as store:
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
