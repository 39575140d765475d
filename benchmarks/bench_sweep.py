"""Sweep parallel efficiency: 8 equal simulation points, serially and on 2 local workers.

The 8 points are 8 replications (seeds) of one scenario under one policy, so each costs about
the same. Prints one JSON line; efficiency = serial time / (2 × parallel time): 1.0 is a
perfect 2× speed-up, and it includes starting the process pool and gathering the results.
The load average and the CPU seconds of both runs are printed too: other processes on the
machine lower the wall-clock number, not the CPU seconds.
Usage: python benchmarks/bench_sweep.py [--requests N] [--jobs 2] [--points 8]
"""

from __future__ import annotations

import argparse
import json
import os
import time

from tmemsim.sweep import sweep


def scenario(requests: int) -> dict:
    return {
        "name": "bench-sweep",
        "seed": 1,
        "requests": requests,
        "sample_interval": "1000s",
        "host": {"memory": "256MiB", "reserved": "32MiB"},
        "disks": {"ssd0": {"kind": "ssd"}},
        "images": {"base": {"size": "128MiB"}},
        "policies": ["host-cache"],
        "guests": [{
            "name": "vm", "count": 2, "memory": "32MiB", "reserved": "8MiB",
            "disk": {"image": "base", "clone": "cow"},
            "workload": {"kind": "zipf", "alpha": 0.9, "footprint": 30000,
                         "read_fraction": 0.95},
        }],
    }


def _cpu() -> float:
    t = os.times()  # this process and its finished children (the pool's workers)
    return t.user + t.system + t.children_user + t.children_system


def timed(s: dict, points: int, jobs: int):
    start, cpu = time.perf_counter(), _cpu()
    result = sweep(s, replications=points, jobs=jobs, plots=False)
    return time.perf_counter() - start, _cpu() - cpu, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=100_000, help="requests per guest")
    ap.add_argument("--points", type=int, default=8)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    s = scenario(args.requests)
    sweep(scenario(2000), replications=1, jobs=1, plots=False)  # imports and first-use costs
    load_before = os.getloadavg()
    serial_s, serial_cpu, serial = timed(s, args.points, 1)
    parallel_s, parallel_cpu, parallel = timed(s, args.points, args.jobs)
    assert serial.table.equals(parallel.table), "parallel results differ from serial"
    print(json.dumps({
        "benchmark": "sweep-parallel-efficiency",
        "points": args.points,
        "jobs": args.jobs,
        "requests_per_point": 2 * args.requests,
        "serial_s": round(serial_s, 3),
        "parallel_s": round(parallel_s, 3),
        "speedup": round(serial_s / parallel_s, 3),
        "efficiency": round(serial_s / (args.jobs * parallel_s), 3),
        # CPU seconds spent: equal when the pool adds no work of its own; a wall-clock
        # efficiency far below cpu_ratio means other processes took the cores
        "serial_cpu_s": round(serial_cpu, 3),
        "parallel_cpu_s": round(parallel_cpu, 3),
        "cpu_ratio": round(serial_cpu / parallel_cpu, 3),
        "cpus": os.cpu_count(),
        "load_avg_before": [round(x, 2) for x in load_before],
        "load_avg_after": [round(x, 2) for x in os.getloadavg()],
    }))


if __name__ == "__main__":
    main()
