"""Spatial sampling (SHARDS) on a generated trace of 10M requests, as one JSON line.

The trace: libCacheSim oracleGeneral records, Zipf(0.8) reads over 1,000,000 pages (scattered
by a seeded permutation), written to a temporary file. The scenario: one guest replaying it
(closed loop), a 256 MiB page cache, the pool axis from 0 to 4 GiB at 32 points, none,
host-cache and tmem. The exact curve and the curve sampled at R = --rate are computed from the
same file; both times include reading the trace.
Prints: requests, exact_s, sampled_s, speedup, and per policy the mean and largest absolute
difference of the read hit ratio (sampled - exact) over the 32 points.
Usage: python benchmarks/bench_sample.py [--requests N] [--rate R] [--points N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import tmemsim
from tmemsim.workloads.traces import write_oracle_general

PAGES = 1_000_000


def trace(path: Path, requests: int, seed: int = 5) -> None:
    rng = np.random.default_rng(seed)
    p = np.arange(1, PAGES + 1, dtype=float) ** -0.8
    cdf = np.cumsum(p / p.sum())
    where = rng.permutation(PAGES)
    ids = np.empty(requests, dtype=np.int64)
    for a in range(0, requests, 1 << 22):  # in blocks: bounded memory
        n = min(1 << 22, requests - a)
        ids[a:a + n] = where[np.minimum(np.searchsorted(cdf, rng.random(n)), PAGES - 1)]
    write_oracle_general(path, ids)


def scenario(path: Path, requests: int) -> dict:
    return {
        "name": "bench-sample", "seed": 1, "requests": requests, "sample_interval": "1000000s",
        "host": {"memory": "8GiB", "reserved": "1GiB"},
        "disks": {"nvme0": {"kind": "nvme"}},
        "policies": ["none", "host-cache", "tmem"],
        "guests": [{
            "name": "trace", "memory": "320MiB", "reserved": "64MiB",
            "disk": {"size": "4GiB"}, "writeback_interval": 0,
            "workload": {"kind": "trace", "format": "oracle", "path": str(path),
                         "timing": "closed", "footprint": PAGES},
        }],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=10_000_000)
    ap.add_argument("--rate", type=float, default=0.01)
    ap.add_argument("--points", type=int, default=32)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "zipf.oracleGeneral"
        trace(path, args.requests)
        s = tmemsim.load_scenario(scenario(path, args.requests))
        t = time.perf_counter()
        exact = tmemsim.curve(s, points=args.points, value_range="0:4GiB")
        exact_s = time.perf_counter() - t
        t = time.perf_counter()
        sampled = tmemsim.curve(s, points=args.points, value_range="0:4GiB", sample=args.rate)
        sampled_s = time.perf_counter() - t
    errors = {}
    for policy in exact.meta["policies"]:
        diff = sampled.series(policy).to_numpy() - exact.series(policy).to_numpy()
        errors[policy] = {"mean_abs": round(float(np.abs(diff).mean()), 5),
                          "max_abs": round(float(np.abs(diff).max()), 5)}
    print(json.dumps({"requests": args.requests, "rate": args.rate, "points": args.points,
                      "exact_s": round(exact_s, 2), "sampled_s": round(sampled_s, 2),
                      "speedup": round(exact_s / sampled_s, 1), "errors": errors}))


if __name__ == "__main__":
    main()
