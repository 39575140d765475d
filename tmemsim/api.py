"""The public Python API: load a scenario, simulate it under one policy or compare several.

Everything the CLI does goes through here, so a notebook can do the same with the same calls.
"""

from __future__ import annotations

import functools
import gc
import os

from .errors import RunError, TmemsimError, check_jobs
from .infra.parallel import run_many
from .model import World
from .model.invariants import stale_reads_failure
from .results import Comparison, Result, read_results
from .scenario import PolicySpec, Scenario, load_scenario, select_policies


def as_scenario(scenario, overrides=None) -> Scenario:
    """A Scenario from a path, a dict or a Scenario (as is, unless overrides are given)."""
    if isinstance(scenario, Scenario) and not overrides:
        return scenario
    return load_scenario(scenario, overrides)


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
    s = as_scenario(scenario, overrides)
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
    s = as_scenario(scenario, overrides)
    if check is not None:
        s = s.model_copy(update={"check": check})
    specs = select_policies(s, policies)
    jobs = min(jobs or os.cpu_count() or 1, len(specs))
    if jobs <= 1 and sim_progress:  # in this process: each policy reports its simulated time
        def run(spec):
            return _run_named(s, spec, lambda now: sim_progress(spec.name, now))
    else:
        run = functools.partial(_run_named, s)
    outputs = run_many(run, specs, jobs, progress)
    result = Result.from_runs(s, outputs, command)
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


def _enforce_check(s: Scenario, result: Result) -> None:
    if not s.check:
        return
    failure = stale_reads_failure(result.summary.to_dict("records"))
    if failure:
        raise RunError(failure)


__all__ = ["Comparison", "Result", "Scenario", "as_scenario", "compare", "load_scenario",
           "read_results", "simulate", "select_policies"]
