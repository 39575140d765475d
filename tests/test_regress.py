"""tmemsim regress: the baseline holds, and a changed cache size is caught."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from tmemsim.analysis.regress import COUNTS, KEYS, RATIOS, diff, regress
from tmemsim.cli import main

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = "double-caching"  # the quickest scenario of the library


@pytest.fixture()
def library(tmp_path):
    """A scenarios dir with one library scenario and the baseline rows of it."""
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    shutil.copy(ROOT / "scenarios" / f"{SCENARIO}.yaml", scenarios)
    baseline = pd.read_csv(ROOT / "results" / "baseline.csv")
    rows = baseline[baseline.scenario == SCENARIO]
    assert len(rows) >= 2, "the baseline must hold the scenario"
    rows.to_csv(tmp_path / "baseline.csv", index=False)
    return scenarios, tmp_path / "baseline.csv"


def test_baseline_covers_the_library():
    baseline = pd.read_csv(ROOT / "results" / "baseline.csv")
    assert list(baseline.columns) == KEYS + RATIOS + COUNTS
    for name in baseline.scenario.unique():
        assert (ROOT / "scenarios" / f"{name}.yaml").exists(), name
    assert {"quickstart", "cow-clones", "double-caching", "swap-pressure"} <= set(baseline.scenario)


def test_the_committed_baseline_holds(library):
    scenarios, baseline = library
    result = CliRunner().invoke(main, ["regress", "--baseline", str(baseline),
                                       "--scenarios", str(scenarios)])
    assert result.exit_code == 0, result.output
    assert "nothing moved" in result.output


def test_a_changed_cache_size_fails_and_says_what_moved(library):
    scenarios, baseline = library
    path = scenarios / f"{SCENARIO}.yaml"
    path.write_text(path.read_text().replace("memory: 224MiB", "memory: 192MiB"))
    result = CliRunner().invoke(main, ["regress", "--baseline", str(baseline),
                                       "--scenarios", str(scenarios)])
    assert result.exit_code == 1, result.output
    assert "guest_hit_ratio" in result.output and "moved" in result.output


def test_update_rewrites_the_baseline_then_it_holds(library):
    scenarios, baseline = library
    path = scenarios / f"{SCENARIO}.yaml"
    path.write_text(path.read_text().replace("memory: 224MiB", "memory: 192MiB"))
    _, moved = regress(baseline, scenarios, update=True)
    assert len(moved) > 0
    _, moved = regress(baseline, scenarios)
    assert moved.empty


def test_diff_is_exact_for_counts_and_tight_for_ratios():
    base = pd.DataFrame([{"scenario": "s", "policy": "p", "guest": "ALL",
                          "guest_hit_ratio": 0.5, "host_hit_ratio": 0.25, "read_hit_ratio": 0.75,
                          "disk_reads": 100, "double_cached_pages": 7}])
    assert diff(base, base.copy()).empty
    nudged = base.copy()
    nudged["read_hit_ratio"] += 1e-12  # below 1e-9: the same
    assert diff(base, nudged).empty
    moved = base.copy()
    moved["disk_reads"] += 1
    moved["host_hit_ratio"] += 1e-6
    assert set(diff(base, moved).metric) == {"disk_reads", "host_hit_ratio"}
    extra = pd.concat([base, base.assign(guest="g0")])
    assert list(diff(base, extra).metric) == ["not in baseline"]


def test_missing_baseline_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["regress", "--baseline", str(tmp_path / "none.csv")])
    assert result.exit_code == 2
    assert "no baseline" in result.output
