"""Engine throughput against libCacheSim on the same request sequence, as one JSON line.

One guest, one thread, Zipf alpha=0.9 over 200,000 pages, a 20,000-page LRU page cache, 2,000,000
reads, nvme disk. The same vpages go to an oracleGeneral file that libcachesim.LRU replays.
Each side runs `--repeat` times, alternating, and the fastest run of each is compared.
Usage: python benchmarks/bench_engine.py [--policy tmem] [--requests N] [--repeat K] [--profile]
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
    ap.add_argument("--repeat", type=int, default=3,
                    help="time each side this many times, alternating; report the fastest")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    import libcachesim as lcs

    s = tmemsim.load_scenario(scenario(args.requests, args.policy))
    spec = select_policies(s)[0]
    pages = requested_pages(s)
    # Each side is timed `repeat` times, turn about, and its fastest run is kept: on a shared
    # machine the slow runs measure the neighbours, and alternating exposes both to the same.
    lcs_times, sim_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "bench.oracleGeneral"
        write_oracle_general(trace, pages + 1)
        for _ in range(args.repeat):
            reader = lcs.TraceReader(str(trace), lcs.TraceType.ORACLE_GENERAL_TRACE)
            cache = lcs.LRU(CACHE_PAGES * PAGE_SIZE)
            t0 = time.perf_counter()
            lcs_miss, _ = cache.process_trace(reader)
            lcs_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            out = World(s, spec).run()
            sim_times.append(time.perf_counter() - t0)
    c = out.counters[0]
    sim_rate = c["reads"] / min(sim_times)
    lcs_rate = args.requests / min(lcs_times)
    print(json.dumps({
        "policy": args.policy,
        "requests": int(c["reads"]),
        "tmemsim_req_per_s": round(sim_rate),
        "libcachesim_req_per_s": round(lcs_rate),
        "ratio": round(sim_rate / lcs_rate, 3),
        "tmemsim_miss_ratio": 1 - c["guest_hits"] / c["reads"],
        "libcachesim_miss_ratio": lcs_miss,
        "simpy_events": out.events,
        "repeat": args.repeat,
        "tmemsim_seconds": [round(x, 3) for x in sim_times],
        "libcachesim_seconds": [round(x, 3) for x in lcs_times],
    }))
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(World(s, spec).run)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(12)


if __name__ == "__main__":
    main()
