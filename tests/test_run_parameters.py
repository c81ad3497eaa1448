"""Run-level parameters: model, sheets, experiments — stored as literals, never eval'd."""

from __future__ import annotations

import duckdb
import pytest

import mozaik_arrow as ma

from ._util import tree
from .conftest import MODEL_PARAMETERS


def test_model_parameters_round_trip_and_flatten(filled_store):
    with ma.open(filled_store, "r") as s:
        assert s.get_model_parameters() == MODEL_PARAMETERS  # the string as given
        flat = s.get_model_parameters(flat=True)
        assert flat["sheets.V1_Exc_L4.cell.params.tau_m"] == 20.0
        assert flat["pynn_seed"] == 7 and flat["name"] == "demo"
        assert s.get_sheet_parameters("V1_Inh_L4") == "{'density': 20.0}"
        with pytest.raises(KeyError, match="V1_Exc_L2/3"):
            s.get_sheet_parameters("V1_Exc_L2/3")
    # the files alone: one typed column per model parameter, by dotted path
    row = duckdb.sql(
        f"SELECT \"sheets.V1_Exc_L4.density\" AS d, pynn_seed, time_step FROM "
        f"read_parquet('{filled_store}/run/*.parquet') WHERE _kind = 'model'").fetchall()
    assert row == [(60.0, 7, 0.1)]


def test_each_set_replaces_its_part_only(store_path):
    with ma.open(store_path, "w") as s:
        s.set_model_parameters({"a": 1, "nested": {"b": [1.0, 2.0]}})
        s.set_sheet_parameters("{'V1': {'density': 1.0}}")
        s.set_experiment_parametrization_list(
            [("MeasureSpontaneousActivity", "{'duration': 100.0}"), {"num_trials": 2}])
        s.set_sheet_parameters({"V2": {"density": 2.0}})  # V1 kept
        s.set_model_parameters("{'a': 2}")
    with ma.open(store_path, "r") as s:
        assert s.get_model_parameters() == "{'a': 2}"
        assert s.get_sheet_parameters() == {"V1": "{'density': 1.0}", "V2": "{'density': 2.0}"}
        assert s.get_experiment_parametrization_list() == [
            ("MeasureSpontaneousActivity", "{'duration': 100.0}"), "{'num_trials': 2}"]
    assert len(list((store_path / "run").glob("*.parquet"))) == 1  # replaced, not piled up
    assert ma.validate(store_path).ok


@pytest.mark.parametrize("call, arg, message", [
    ("set_model_parameters", "__import__('os').system('touch pwned')", "not a dict"),
    ("set_model_parameters", "{'a': open('x')}", "not allowed"),
    ("set_model_parameters", 3, "mapping"),
    ("set_model_parameters", {"a": object()}, "object"),
    ("set_sheet_parameters", ["V1"], "sheet names"),
    ("set_sheet_parameters", {1: {}}, "sheet name"),
    ("set_experiment_parametrization_list", "{'a': 1}", "list"),
    ("set_experiment_parametrization_list", [("X", "{'a': eval('1')}")], "experiment 0"),
])
def test_bad_parameters_are_refused_and_change_nothing(store_path, tmp_path, call, arg, message):
    with ma.open(store_path, "w") as s:
        s.set_model_parameters({"a": 1})
        before = tree(store_path)
        with pytest.raises(ValueError, match=message):
            getattr(s, call)(arg)
        assert tree(store_path) == before
        assert s.get_model_parameters() == "{'a': 1}"
    assert not (tmp_path / "pwned").exists()


def test_read_only_store_refuses(filled_store):
    with ma.open(filled_store, "r") as s, pytest.raises(ma.ReadOnlyError):
        s.set_model_parameters({"a": 1})
