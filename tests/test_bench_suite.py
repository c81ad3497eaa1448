"""The benchmark suite (``python -m benchmarks``) at its tiny scale: it runs end to end,
reports every operation of every system, and every system reads back what was generated.

No timing is asserted. NWB and NixIO parts are skipped when pynwb / nixio are missing.
"""

from __future__ import annotations

import importlib.util
import json

import pytest

from benchmarks.__main__ import main
from benchmarks.operations import INFO

ALL = set(INFO)
WRITE = {"write_s", "write_spikes_mps", "write_samples_mps", "size_mb", "bytes_per_spike",
         "bytes_per_sample"}
READ = {"open_ms", "open_small_ms", "query_stimulus_ms", "first_spiketrain_ms",
        "one_spiketrain_ms", "one_vm_ms", "trains_stimulus_s", "rates_stimulus_ms",
        "rates_all_ms", "cv_stimulus_ms", "cv_all_ms", "psth_ms"}
ADS = {"write_ads_s", "ads_query_ms", "ads_get_ms", "ads_partition_ms", "ads_partition_stim_ms"}
EXPECTED = {
    "mozaik_arrow": ALL,
    "pickle": WRITE | READ | ADS,
    "nwb": WRITE | READ,
    "floor": WRITE | {"write_spikes_only_mps", "write_signals_only_mps", "one_spiketrain_ms",
                      "one_vm_ms", "trains_stimulus_s", "rates_stimulus_ms", "rates_all_ms",
                      "cv_stimulus_ms", "cv_all_ms", "psth_ms", "sql_ms"},
}
NIX = {"write_s", "write_spikes_mps", "write_samples_mps", "size_mb", "bytes_per_spike",
       "open_ms", "query_stimulus_ms", "first_spiketrain_ms", "one_spiketrain_ms", "one_vm_ms",
       "trains_stimulus_s", "rates_stimulus_ms", "cv_stimulus_ms"}


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    """One tiny run of the suite through its command line, into a temporary directory."""
    out = tmp_path_factory.mktemp("suite")
    systems = ["mozaik_arrow", "pickle", "floor"]
    systems += [s for s, mod in (("nwb", "pynwb"), ("nixio", "nixio"))
                if importlib.util.find_spec(mod) is not None]
    data = main(["--scale", "tiny", "--work", str(out / "work"), "--results-dir", str(out),
                 "--systems", ",".join(systems), "--quiet"])
    return out, data


def _figures(res: dict) -> set[str]:
    return set(res["figures"]) | set(res["ops"])


def _assert_system(res: dict, wanted: set[str]) -> None:
    assert res["errors"] == {}
    assert wanted <= _figures(res), sorted(wanted - _figures(res))
    assert res["checks"], "no read-back check ran"
    assert all(res["checks"].values()), {k: v for k, v in res["checks"].items() if not v}


def test_writes_results_beside_the_json(suite):
    out, data = suite
    saved = json.loads((out / "suite_tiny.json").read_text())
    assert saved["command"].startswith("python -m benchmarks")
    assert set(saved["results"]) == set(data["results"])
    assert saved["loadavg"]["start"] and saved["model"]["spikes"] > 0
    text = (out / "RESULTS.md").read_text()
    assert "<!-- suite_tiny:begin -->" in text and "| operation |" in text


@pytest.mark.parametrize("system", ["mozaik_arrow", "pickle", "floor"])
def test_system_reports_every_operation_and_reads_back(suite, system):
    _, data = suite
    _assert_system(data["results"][system], EXPECTED[system])


def test_counts_read_back_equal_the_generated(suite):
    _, data = suite
    for name, res in data["results"].items():
        if "trains_stimulus_s" in res["checks"]:  # (trains, spikes) of one stimulus
            assert res["checks"]["trains_stimulus_s"], name
        assert res["checks"].get("rates_all_ms", True), name  # spike counts of every recording


def test_nwb(suite):
    pytest.importorskip("pynwb")
    _, data = suite
    _assert_system(data["results"]["nwb"], EXPECTED["nwb"])


def test_nixio_on_its_subset_beside_mozaik_arrow(suite):
    pytest.importorskip("nixio")
    _, data = suite
    sub = data["nix_subset"]
    _assert_system(sub["nixio"], NIX)
    _assert_system(sub["mozaik_arrow"], NIX)
