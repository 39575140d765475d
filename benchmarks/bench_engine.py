"""Engine throughput against libCacheSim on the same request sequence, as one JSON line.

One guest, one thread, Zipf alpha=0.9 over 200,000 pages, a 20,000-page LRU page cache, 2,000,000
reads, nvme disk. The same vpages go to an oracleGeneral file that libcachesim.LRU replays.
Usage: python benchmarks/bench_engine.py [--policy tmem] [--requests N] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import tempfile
import time
from pathlib import Path

import numpy as np

import tmemsim
from tmemsim.api import select_policies
from tmemsim.model import World
from tmemsim.units import PAGE_SIZE
from tmemsim.workloads.traces import write_oracle_general

FOOTPRINT = 200_000
CACHE_PAGES = 20_000


def scenario(requests: int, policy: str) -> dict:
    guest_memory = CACHE_PAGES * PAGE_SIZE
    return {
        "name": "bench-engine",
        "seed": 1,
        "requests": requests,
        "sample_interval": "1000s",
        "host": {"memory": guest_memory + (1 << 30), "reserved": 512 << 20},
        "disks": {"nvme0": {"kind": "nvme"}},
        "policies": [policy],
        "guests": [{
            "name": "bench",
            "memory": guest_memory,
            "disk": {"size": FOOTPRINT * PAGE_SIZE},
            "workload": {"kind": "zipf", "alpha": 0.9, "footprint": FOOTPRINT,
                         "read_fraction": 1.0, "threads": 1},
        }],
    }


def requested_pages(s) -> np.ndarray:
    """The exact vpages the guest thread will ask for (the stream is policy-independent)."""
    world = World(s, select_policies(s)[0])
    stream = world.guests[0].threads[0].stream
    fresh = type(stream)(stream.spec, _thread_seed(s))
    pages = []
    while sum(map(len, pages)) < s.requests:
        pages.append(np.asarray(fresh.next_chunk()[1]))
    return np.concatenate(pages)[: s.requests]


def _thread_seed(s):
    streams, _, _ = np.random.SeedSequence(s.seed).spawn(3)
    return streams.spawn(1)[0].spawn(1)[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2_000_000)
    ap.add_argument("--policy", default="none")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    import libcachesim as lcs

    s = tmemsim.load_scenario(scenario(args.requests, args.policy))
    pages = requested_pages(s)
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "bench.oracleGeneral"
        write_oracle_general(trace, pages + 1)
        reader = lcs.TraceReader(str(trace), lcs.TraceType.ORACLE_GENERAL_TRACE)
        cache = lcs.LRU(CACHE_PAGES * PAGE_SIZE)
        t0 = time.perf_counter()
        lcs_miss, _ = cache.process_trace(reader)
        lcs_seconds = time.perf_counter() - t0

    spec = select_policies(s)[0]
    profiler = cProfile.Profile() if args.profile else None
    t0 = time.perf_counter()
    if profiler:
        profiler.enable()
    out = World(s, spec).run()
    if profiler:
        profiler.disable()
    sim_seconds = time.perf_counter() - t0
    c = out.counters[0]
    sim_miss = 1 - c["guest_hits"] / c["reads"]
    print(json.dumps({
        "policy": args.policy,
        "requests": int(c["reads"]),
        "tmemsim_req_per_s": round(c["reads"] / sim_seconds),
        "libcachesim_req_per_s": round(args.requests / lcs_seconds),
        "ratio": round((c["reads"] / sim_seconds) / (args.requests / lcs_seconds), 3),
        "tmemsim_miss_ratio": sim_miss,
        "libcachesim_miss_ratio": lcs_miss,
        "simpy_events": out.events,
    }))
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(12)


if __name__ == "__main__":
    main()
