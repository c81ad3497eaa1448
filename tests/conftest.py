"""Shared fixtures: one real PyNN/NEST run per test session, and fresh stores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("PYNEST_QUIET", "1")


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
    return path
