"""The committed fixture store of format version 1 (tests/data/store_v1, written by
tests/data/make_store_v1.py) read by the current code: a format change cannot go unnoticed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import mozaik_arrow as ma

from .data.make_store_v1 import describe

DATA = Path(__file__).parent / "data"
STORE = DATA / "store_v1"


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((DATA / "store_v1.expected.json").read_text())


def test_fixture_is_the_current_format(expected):
    assert expected["format_version"] == ma.FORMAT_VERSION, (
        "format version changed: keep store_v1 for the old version and add a new fixture")
    assert ma.validate(STORE).ok


def test_current_code_reads_the_fixture_exactly(expected):
    # read-only: the committed files are never touched
    assert describe(STORE) == expected


def test_the_fixture_can_be_appended_to(tmp_path, expected):
    """A copy of a v1 store opens for writing (its staging directory is created) and grows."""
    copy = shutil.copytree(STORE, tmp_path / "copy")
    with ma.open(copy, "a") as s:
        s.set_model_parameters({"name": "changed"})
    with ma.open(copy, "r") as s:
        assert s.get_model_parameters() == "{'name': 'changed'}"
        assert len(s.get_segments()) == sum(not g["null"] for g in expected["segments"])
