"""infra.dotted: one walk of setting paths for --set, sweeps and regress; copy-on-write."""

from __future__ import annotations

import pytest

import tmemsim
from tmemsim import library
from tmemsim.analysis.regress import regress_overrides
from tmemsim.infra import dotted
from tmemsim.sweep import runners, sweep

ALPHA = "guests.0.workload.phases.0.workload.alpha"  # through shifting-demand's *big alias


def big_alphas(scenario) -> list[list[float]]:
    """Each guest's alphas of its big (12,000-page) phases."""
    return [[p.workload.alpha for p in g.workload.phases if p.workload.footprint == 12000]
            for g in scenario.guests]


def test_parse_and_format():
    assert dotted.parse("guests.0.memory") == ["guests", "0", "memory"]
    assert dotted.typed("guests.-1.memory") == ("guests", -1, "memory")
    assert dotted.format_path(("guests", 1, "memory")) == "guests[1].memory"
    for bad in ("", "a..b", ".a", "a."):
        with pytest.raises(ValueError, match="not a setting path"):
            dotted.parse(bad)


def test_get_says_how_far_it_got():
    data = {"host": {"memory": 1}, "guests": [{"name": "a"}]}
    assert dotted.get(data, "guests.0.name") == "a"
    assert dotted.get(data, "guests.-1.name") == "a"
    with pytest.raises(dotted.PathError, match=r"host.memry does not exist \(did you mean "
                                               r"'memory'\?\)") as err:
        dotted.get(data, "host.memry")
    assert err.value.steps == ("host", "memry")
    with pytest.raises(dotted.PathError, match=r"guests has no item 3 \(it has 1\)"):
        dotted.get(data, "guests.3.name")
    with pytest.raises(dotted.PathError, match="host.memory is a value"):
        dotted.get(data, "host.memory.x")


def test_set_path_copies_the_path_and_shares_the_rest():
    shared = {"alpha": 0.9}
    data = {"guests": [{"w": shared}, {"w": shared}], "host": {"memory": 1}}
    out = dotted.set_path(data, "guests.0.w.alpha", 1.3)
    assert out["guests"][0]["w"]["alpha"] == 1.3
    assert out["guests"][1]["w"]["alpha"] == 0.9 and shared == {"alpha": 0.9}
    assert data["guests"][0]["w"] is shared  # the input is unchanged
    assert out["host"] is data["host"]  # off the path: shared, not copied
    assert dotted.set_path(data, "host.reserved", 2)["host"] == {"memory": 1, "reserved": 2}
    with pytest.raises(dotted.PathError):
        dotted.set_path(data, "host.nosuch.x", 2)  # only the last step may be new


def test_flatten():
    assert dotted.flatten({"guests": {0: {"memory": "1GiB"}}, "duration": "2s", "x": {}}) == {
        "guests.0.memory": "1GiB", "duration": "2s"}


def test_set_through_an_alias_changes_its_own_path_only():
    s = tmemsim.load_scenario(library.scenario_path("shifting-demand"), [f"{ALPHA}=1.3"])
    assert big_alphas(s) == [[1.3], [0.6], [0.6], [0.6]]


def test_regress_override_through_an_alias_changes_its_own_path_only(tmp_path):
    text = library.scenario_path("shifting-demand").read_text()
    path = tmp_path / "shifting-demand.yaml"
    path.write_text(text.replace("regress: {duration: 2s, warmup: 2s}",
                                 f"regress: {{duration: 2s, warmup: 2s, {ALPHA}: 1.3}}"))
    overrides = regress_overrides(path)
    assert f"{ALPHA}=1.3" in overrides
    assert big_alphas(tmemsim.load_scenario(path, overrides)) == [[1.3], [0.6], [0.6], [0.6]]


def test_sweep_parameter_through_an_alias_changes_its_own_path_only(monkeypatch):
    seen = []

    def run_point(scenario, policy):  # what each task would simulate, not simulated
        seen.append(tmemsim.load_scenario(scenario))
        return {"error": "RunError: not run"}

    monkeypatch.setattr(runners, "run_point", run_point)
    result = sweep(library.scenario_path("shifting-demand"), {ALPHA: [1.3, 1.5]},
                   policies=["static"], jobs=1, plots=False)
    assert len(result.failures) == 2
    assert sorted(big_alphas(s)[0][0] for s in seen) == [1.3, 1.5]
    assert all(big_alphas(s)[1:] == [[0.6], [0.6], [0.6]] for s in seen)
