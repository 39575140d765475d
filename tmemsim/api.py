"""The public Python API: load a scenario, simulate it under one policy or compare several.

Everything the CLI does goes through here, so a notebook can do the same with the same calls.
"""

from __future__ import annotations

from .errors import RunError, ScenarioError
from .model import World
from .results import Result, read_results
from .scenario import PolicySpec, Scenario, load_scenario


def _scenario(scenario, overrides=None) -> Scenario:
    if isinstance(scenario, Scenario) and not overrides:
        return scenario
    return load_scenario(scenario, overrides)


def select_policies(scenario: Scenario, policies=None) -> list[PolicySpec]:
    """The scenario's policies, or the named subset (names or kinds), in the scenario's order."""
    specs = scenario.policy_specs()
    if policies is None:
        return specs
    if isinstance(policies, str):
        policies = [p.strip() for p in policies.split(",") if p.strip()]
    chosen = []
    for want in policies:
        match = [s for s in specs if s.name == want] or [s for s in specs if s.kind == want]
        if not match:
            try:  # a policy the scenario does not list, by registry name, default options
                match = [load_scenario({**scenario.model_dump(mode="json", exclude_none=True),
                                        "policies": [want], "policy": None}).policy_specs()[0]]
            except ScenarioError:
                names = ", ".join(s.name for s in specs)
                raise ScenarioError(f"unknown policy {want!r}; the scenario has {names}",
                                    path="policies") from None
        chosen += [m for m in match if m not in chosen]
    return chosen


def run_policy(scenario: Scenario, spec: PolicySpec, progress=None):
    """One world, one run; returns its RunOutput."""
    return World(scenario, spec, progress=progress).run()


def simulate(scenario, policy=None, overrides=None, check: bool | None = None,
             command: str = "", progress=None) -> Result:
    """Run the scenario under one policy (default: its first) and return the Result."""
    s = _scenario(scenario, overrides)
    if check is not None:
        s = s.model_copy(update={"check": check})
    spec = select_policies(s, [policy] if policy else None)[0]
    out = run_policy(s, spec, progress)
    result = Result.from_runs(s, [out], command)
    _enforce_check(s, result)
    return result


def _enforce_check(s: Scenario, result: Result) -> None:
    if not s.check:
        return
    stale = result.summary[result.summary["guest"] == "ALL"]
    bad = stale[stale["stale_reads"] > 0]
    if len(bad):
        detail = ", ".join(f"{r.policy}: {r.stale_reads}" for r in bad.itertuples())
        raise RunError(f"coherence check failed: stale reads ({detail})")


__all__ = ["Result", "Scenario", "load_scenario", "read_results", "simulate", "select_policies"]
