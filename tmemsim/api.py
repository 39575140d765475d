"""The public Python API: load a scenario, simulate it under one policy or compare several.

Everything the CLI does goes through here, so a notebook can do the same with the same calls.
"""

from __future__ import annotations

import gc
import os
from concurrent.futures import ProcessPoolExecutor, as_completed

from .analysis.curves import Curves, read_curves
from .analysis.curves import curve as one_pass_curve
from .errors import RunError, ScenarioError, TmemsimError, check_jobs
from .model import World
from .model.invariants import stale_reads_failure
from .results import Comparison, Result, read_results
from .scenario import PolicySpec, Scenario, load_scenario


def _scenario(scenario, overrides=None) -> Scenario:
    if isinstance(scenario, Scenario) and not overrides:
        return scenario
    return load_scenario(scenario, overrides)


def select_policies(scenario: Scenario, policies=None) -> list[PolicySpec]:
    """The scenario's policies, or the named ones (names or kinds) in the order given."""
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
    world = World(scenario, spec, progress=progress)
    try:
        return world.run()
    finally:
        # a world is a web of cycles (guests and policy point back at it): only the cycle
        # collector frees it, and the next policy's world must not be built beside it
        del world
        gc.collect()


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


def compare(scenario, policies=None, overrides=None, jobs: int | None = 1,
            check: bool | None = None, command: str = "", progress=None,
            sim_progress=None) -> Comparison:
    """Run the scenario under several policies on identical request streams.

    jobs > 1 runs the policies in separate processes; the result is the same as serial (every
    run is its own world, seeded from the scenario alone). progress(done, total) is called as
    policies finish; sim_progress(policy, simulated seconds), in serial runs, as each
    policy's simulated time advances.
    """
    check_jobs(jobs)
    s = _scenario(scenario, overrides)
    if check is not None:
        s = s.model_copy(update={"check": check})
    specs = select_policies(s, policies)
    jobs = min(jobs or os.cpu_count() or 1, len(specs))
    outputs: dict[str, object] = {}
    if jobs <= 1:
        for spec in specs:
            tick = (lambda now, name=spec.name: sim_progress(name, now)) if sim_progress else None
            outputs[spec.name] = _run_named(s, spec, tick)
            if progress:
                progress(len(outputs), len(specs))
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(_run_named, s, spec): spec for spec in specs}
            try:
                for fut in as_completed(futures):
                    outputs[futures[fut].name] = fut.result()
                    if progress:
                        progress(len(outputs), len(specs))
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise
    result = Result.from_runs(s, [outputs[spec.name] for spec in specs], command)
    _enforce_check(s, result)
    return result


def _run_named(s: Scenario, spec: PolicySpec, progress=None):
    """One policy's run; a failure says which policy failed."""
    try:
        return run_policy(s, spec, progress)
    except (RunError, TmemsimError):  # bad input (a trace's bad line) stays bad input
        raise
    except Exception as exc:
        raise RunError(f"policy {spec.name!r} failed: {type(exc).__name__}: {exc}") from exc


def curve(scenario, axis: str = "pool", points: int = 32, value_range=None,
          sample: float | None = None, policies=None, check_points: int = 0, overrides=None,
          command: str = "", progress=None) -> Curves:
    """Hit-ratio curves of the scenario's policies (or the named ones) at `points` sizes along
    `axis` ("pool", "split" or "guest-memory"), in one pass over the requests.

    value_range: "16MiB:1GiB" or (low, high) bytes; sample: keep that fraction of the pages
    (SHARDS); check_points: also run that many full simulations at spread points (their
    numbers are the table's source "simulated"). See tmemsim.analysis.curves.
    """
    s = _scenario(scenario, overrides)
    return one_pass_curve(s, select_policies(s, policies), axis=axis, points=points,
                          value_range=value_range, sample=sample, check_points=check_points,
                          command=command, progress=progress)


def _enforce_check(s: Scenario, result: Result) -> None:
    if not s.check:
        return
    failure = stale_reads_failure(result.summary.to_dict("records"))
    if failure:
        raise RunError(failure)


__all__ = ["Comparison", "Curves", "Result", "Scenario", "compare", "curve", "load_scenario",
           "read_curves", "read_results", "simulate", "select_policies"]
