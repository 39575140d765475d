"""A 32-point hit-ratio curve against the full runs it replaces, as one JSON line.

The scenario is scenarios/quickstart.yaml (four CoW clones; none, host-cache, tmem, dedup),
the axis the pool, its default range (0 to the guests' total footprint), 32 points.

- curve_s: the curve of every policy (`tmemsim curve ... --points 32`).
- one_run_s: one full run of the scenario at one size (its own pool) under the same
  policies, one after the other: one point of today's `tmemsim sweep`. one_run_policy_s gives
  each policy's run alone.
- ratio: curve_s / one_run_s.
- max_abs_error: |curve - full run| of the read hit ratio, every policy, at 4 of the 32 sizes
  spread over the range.
- libcachesim_32_runs_s: libcachesim.LRU replaying guest 0's request sequence at 32 sizes,
  for scale; single_guest_curve_s: the same 32 LRU sizes as a curve (one guest alone, the
  guest-memory axis, policy none); single_guest_pool_curve_s: that guest's pool-axis curve
  under every policy.
Each timing is the fastest of --repeat runs, the sides alternating (the machine is shared).
Usage: python benchmarks/bench_curve.py [--repeat K] [--scenario PATH] [--points N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import tmemsim
from tmemsim.analysis.curves import axes as curve_axes
from tmemsim.analysis.curves import curve
from tmemsim.analysis.curves.world import CurveWorld
from tmemsim.api import select_policies
from tmemsim.model import World
from tmemsim.units import PAGE_SIZE
from tmemsim.workloads.traces import write_oracle_general

ROOT = Path(__file__).resolve().parent.parent


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def full_run(s, specs) -> dict:
    return {spec.name: World(s, spec).run() for spec in specs}


def read_hit_ratio(out) -> float:
    c = out.counters
    reads = sum(x["reads"] for x in c)
    return (sum(x["guest_hits"] for x in c) + sum(x["host_hits"] for x in c)) / reads


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "quickstart.yaml"))
    ap.add_argument("--points", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    import libcachesim as lcs

    s = tmemsim.load_scenario(args.scenario)
    specs = select_policies(s)
    best: dict[str, float] = {}
    per_policy: dict[str, float] = {}
    result = None
    for _ in range(args.repeat):
        t, result = timed(lambda: curve(s, specs, axis="pool", points=args.points))
        best["curve"] = min(best.get("curve", t), t)
        total = 0.0
        for spec in specs:
            t, _ = timed(lambda spec=spec: World(s, spec).run())
            per_policy[spec.name] = min(per_policy.get(spec.name, t), t)
            total += t
        best["run"] = min(best.get("run", total), total)

    # the error at 4 spread sizes
    pts = curve_axes.points(s, "pool", args.points, None)
    errors = []
    for k in np.linspace(0, len(pts) - 1, 4).round().astype(int).tolist():
        outs = full_run(curve_axes.point_scenario(s, "pool", pts[k]), specs)
        for spec in specs:
            c = result.series(spec.name).loc[pts[k].value]
            errors.append(abs(c - read_hit_ratio(outs[spec.name])))

    # one guest alone: its sequence through libcachesim at 32 sizes, and as curves
    single = s.model_copy(update={"guests": [s.guests[0].model_copy(update={"count": 1})]})
    single = tmemsim.load_scenario(single.model_dump(mode="json", exclude_unset=True))
    g = single.expanded_guests()[0][1]
    sizes = curve_axes.points(single, "guest-memory", args.points, None)
    log = CurveWorld(single).replay(0, g, (sizes[-1].value - g.reserved) // PAGE_SIZE,
                                    record_accesses=True)
    pages = log.accesses
    none = [spec for spec in select_policies(single, ["none"])]
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "guest0.oracleGeneral"
        write_oracle_general(trace, pages + 1)
        capacities = [(p.value - g.reserved) // PAGE_SIZE for p in sizes]

        def lcs_runs():
            for cap in capacities:
                reader = lcs.TraceReader(str(trace), lcs.TraceType.ORACLE_GENERAL_TRACE)
                lcs.LRU(max(cap, 1) * PAGE_SIZE).process_trace(reader)

        for _ in range(args.repeat):
            t, _ = timed(lcs_runs)
            best["lcs"] = min(best.get("lcs", t), t)
            t, _ = timed(lambda: curve(single, none, axis="guest-memory", points=args.points))
            best["single"] = min(best.get("single", t), t)
            t, _ = timed(lambda: curve(single, select_policies(single), axis="pool",
                                       points=args.points))
            best["single_pool"] = min(best.get("single_pool", t), t)

    print(json.dumps({
        "points": args.points,
        "curve_s": round(best["curve"], 3),
        "one_run_s": round(best["run"], 3),
        "ratio": round(best["curve"] / best["run"], 4),
        "max_abs_error": round(float(max(errors)), 6),
        "libcachesim_32_runs_s": round(best["lcs"], 3),
        "scenario": s.name,
        "policies": [spec.name for spec in specs],
        "one_run_policy_s": {k: round(v, 3) for k, v in per_policy.items()},
        "single_guest_requests": int(len(pages)),
        "single_guest_curve_s": round(best["single"], 3),
        "single_guest_pool_curve_s": round(best["single_pool"], 3),
    }))


if __name__ == "__main__":
    main()
