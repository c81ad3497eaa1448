"""Smoke tests of the stress scripts at a tiny size, so that CI notices when one breaks.

The full-size runs (``python -m benchmarks.stress_fuzz --cases 10000``,
``python -m benchmarks.stress_writers``) write their figures into benchmarks/RESULTS.md; here
they write into a temporary directory.
"""

from __future__ import annotations

import json

from benchmarks import stress_fuzz, stress_writers


def test_stress_fuzz_runs_every_category(tmp_path):
    rc = stress_fuzz.main(["--cases", "48", "--per-store", "30", "--seed", "1",
                           "--dir", str(tmp_path / "stores"), "--results-dir", str(tmp_path)])
    data = json.loads((tmp_path / "stress_fuzz.json").read_text())
    assert data["cases"] == 48
    for cat in stress_fuzz.CATEGORIES:
        c = data["categories"][cat]
        assert c["cases"] == 12
        assert c["accepted"] + sum(c["refused"].values()) + c["failures"] == 12
    assert sum(c["accepted"] for c in data["categories"].values()) > 0
    assert "<!-- stress_fuzz:begin -->" in (tmp_path / "RESULTS.md").read_text()
    assert data["failures"] == 0, data["failure_examples"]
    assert rc == 0


def test_stress_fuzz_replays_one_case():
    assert stress_fuzz.run_one("stimulus", "('value', \"__import__('os').getcwd()\")") == "refused"
    assert stress_fuzz.run_one("stimulus", "('value', {'name': 'X', 'v': nan})") == "accepted"


def test_stress_writers_two_writers(tmp_path):
    rc = stress_writers.main(["--writers", "2", "--appends", "3", "--dir", str(tmp_path / "s"),
                              "--results-dir", str(tmp_path)])
    data = json.loads((tmp_path / "stress_writers.json").read_text())
    (r,) = data["rounds"]
    assert (r["writers"], r["appends"], r["acknowledged"], r["commits"]) == (2, 3, 6, 6)
    assert (r["lost"], r["duplicated"], r["races_ok"]) == (0, 0, 1)
    assert r["reader"]["opens"] >= 1 and r["reader"]["n_problems"] == 0
    assert data["failures"] == 0 and rc == 0
    assert "<!-- stress_writers:begin -->" in (tmp_path / "RESULTS.md").read_text()
