"""conservation: every library scenario under every policy, short, `check: true`: reads add up,
the disks saw the guests' reads, the pool holds no more than its size, no stale read."""

from __future__ import annotations

import math
import os
import time

from tmemsim.api import select_policies
from tmemsim.errors import ScenarioError
from tmemsim.library import LibraryMissing, bundled_scenarios, library_dir
from tmemsim.model import World
from tmemsim.model.invariants import broken_after_run

from .checks import Check, Measurement

FAMILY = "conservation"


def measure(check: Check, quick: bool) -> list[Measurement]:
    """One row per policy of the scenario: the number of invariants broken (must be 0)."""
    p = check.settings(quick)
    overrides = [f"duration={p['duration']}", f"warmup={p['warmup']}", "check=true"]
    try:
        s = check.load(overrides)
        specs = select_policies(s)
    except ScenarioError as exc:
        # no machine paths in the table: the library's files are named as in the repository
        reason = str(exc).replace(f"{library_dir()}{os.sep}", "scenarios/")
        return [Measurement(math.nan, math.nan, skipped=f"does not load: {reason}")]
    return [_policy_row(s, spec) for spec in specs]


def _policy_row(s, spec) -> Measurement:
    """One checked run under one policy, as a row named after the policy."""
    t0 = time.perf_counter()
    try:
        out = World(s, spec).run()
    except AssertionError as exc:  # InvariantError: broken during the checked run
        return Measurement(0, 1, f"invariant broken during the run: {exc}",
                           suffix=spec.name, seconds=time.perf_counter() - t0)
    except Exception as exc:
        return Measurement(0, math.nan, f"the run failed: {type(exc).__name__}: {exc}",
                           suffix=spec.name, passed=False, seconds=time.perf_counter() - t0)
    broken = broken_after_run(out)
    reads = sum(c["reads"] for c in out.counters)
    disk_reads = sum(d["reads"] for d in out.disks.values())
    puts = sum(c.get("tmem_puts", 0) for c in out.policy_counters)
    note = "; ".join(broken) if broken else (
        f"{reads} reads = hits + host + disk; disks {disk_reads} reads; pool "
        f"{out.used_pages}/{out.pool_pages} pages" + (f", {puts} tmem puts" if puts else "")
        + "; 0 stale")
    return Measurement(0, len(broken), note, suffix=spec.name,
                       seconds=time.perf_counter() - t0)


def _library_names() -> list[str]:
    """The library's scenarios; none without a library (run_checks then says the library is
    missing rather than running a shorter list)."""
    try:
        return bundled_scenarios()
    except LibraryMissing:
        return []


def checks() -> list[Check]:
    """The library's scenarios, plus one of ours that keeps a tmem pool busy (the short library
    runs barely fill a guest cache, so they put little or nothing)."""
    library = [f"{name}.yaml" for name in _library_names()] + ["verify/exclusive.yaml"]
    return [Check(FAMILY, path.removesuffix(".yaml").replace("/", "-"), path, measure, 0.0,
                  quick=True, params=dict(duration="0.5s", warmup="0.2s"),
                  quick_params=dict(duration="0.1s", warmup="0.05s"))
            for path in library]
