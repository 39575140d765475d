"""The README's curve-error table: every library scenario's one-pass pool curve against full
runs, every policy.

Usage: python scripts/curve_errors.py [--short] [--jobs N] [--points N]
For each scenario (full settings, or its regress settings with --short): the curve over the
default pool range (0 to the guests' total footprint), and full runs at 1/32, 1/16, 1/8, 1/4
and 1/2 of it, where the curves move. Prints a markdown table: the largest |curve - full run|
of the read hit ratio per scenario and policy, where it is, and the engine used.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import tmemsim
from tmemsim.analysis.curves import axes, curve
from tmemsim.analysis.regress import regress_overrides
from tmemsim.model import World

ROOT = Path(__file__).resolve().parent.parent
FRACTIONS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2)


def _run(path: str, short: bool, pool: int, policy: str) -> tuple:
    s = tmemsim.load_scenario(path, regress_overrides(path) if short else None)
    pt = axes.Point(pool, tuple(g.memory for _, g in s.expanded_guests()), pool)
    spec = next(p for p in s.policy_specs() if p.name == policy)
    t = time.perf_counter()
    out = World(axes.point_scenario(s, "pool", pt), spec).run()
    reads = sum(c["reads"] for c in out.counters)
    hits = sum(c["guest_hits"] + c["host_hits"] for c in out.counters)
    return hits / reads if reads else 0.0, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--short", action="store_true")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--points", type=int, default=33)
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args()
    print("| scenario | policy | engine | max abs error | at pool | curve s | runs s |")
    print("|---|---|---|---|---|---|---|")
    paths = sorted((ROOT / "scenarios").glob("*.yaml"))
    for path in paths:
        if args.only and path.stem not in args.only:
            continue
        s = tmemsim.load_scenario(path, regress_overrides(path) if args.short else None)
        specs = s.policy_specs()
        t = time.perf_counter()
        c = curve(s, specs, axis="pool", points=args.points)
        curve_s = time.perf_counter() - t
        pts = axes.points(s, "pool", args.points, None)
        picks = sorted({min(round(f * (len(pts) - 1)), len(pts) - 1) for f in FRACTIONS})
        jobs = [(str(path), args.short, pts[k].pool, spec.name) for k in picks for spec in specs]
        with ProcessPoolExecutor(args.jobs) as pool:
            runs = list(pool.map(_run, *zip(*jobs, strict=True)))
        run_s = sum(r[1] for r in runs)
        for spec in specs:
            worst = (-1.0, 0)
            for (_, _, pool_bytes, name), (sim, _) in zip(jobs, runs, strict=True):
                if name == spec.name:
                    err = abs(float(c.series(name).loc[pool_bytes]) - sim)
                    worst = max(worst, (err, pool_bytes))
            engine = c.meta["engines"][spec.name]["engine"]
            print(f"| `{path.stem}` | {spec.name} | {engine} | {worst[0]:.4f} | "
                  f"{worst[1] / 2**20:.0f} MiB | {curve_s:.1f} | {run_s:.0f} |", flush=True)


if __name__ == "__main__":
    main()
