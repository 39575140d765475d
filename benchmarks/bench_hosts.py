"""Many-guest hosts: cost per request, events and turns per miss, the census's share: JSON lines.

The workload is scenarios/cow-clones.yaml's (CoW clones of one 1 GiB base image, Zipf 0.8 over
50,000 pages, 2% writes, 100 us think time), with 256 MiB page caches, a pool of 32 MiB per
guest (cow-clones' proportion) and a fixed request budget per guest, at 1, 4, 16 and 64 guests
under none, host-cache and tmem. One line per (guests, policy):

- us_per_request: CPU microseconds (process time: on a shared machine wall time measures the
  neighbours) per request of the run with sampling (cow-clones' 250 ms).
- events_per_miss: every SimPy event the run processed (each `Environment.step`: the
  sampler's and the host ticker's wake-ups, the dispatcher's yields to them, the processes'
  start and end) per guest page-cache miss (reads that missed plus writes and other
  operations, which reach the host). Guests take their turns outside SimPy (model/turns.py),
  so their wake-ups are not SimPy events; they are counted apart:
- turns_per_miss: guest wake-ups (the dispatcher's turns, RunOutput.events) per miss; each was
  a SimPy event before the dispatcher. With many guests a miss must come before every other
  guest's next action, so it takes about one turn.
- census_share: (time with sampling - time without) / time with sampling, where "without" is
  the same run with a sample interval beyond its end: only the run's last sample is taken
  (every run takes that one).
Each configuration is timed --repeat times, with and without sampling alternating, each repeat
going round every (guests, policy) before the next begins; a timed sample of a configuration
with fewer guests than the largest is (largest // guests) runs back to back (runs_per_sample),
so every sample covers about the same work; the fastest sample of each is kept (measure()).
Usage: python benchmarks/bench_hosts.py [--guests 1,4,16,64] [--policies none,host-cache,tmem]
       [--requests N] [--repeat K] [--profile GUESTS:POLICY]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import time

import tmemsim
from tmemsim.api import select_policies
from tmemsim.model import World

MIB = 1 << 20
CACHE = 256 * MIB
RESERVED = 32 * MIB
POOL_PER_GUEST = 32 * MIB
HOST_RESERVED = 256 * MIB


def scenario(guests: int, policy: str, requests: int, sample_interval: str) -> dict:
    memory = CACHE + RESERVED
    return {
        "name": "bench-hosts",
        "seed": 7,
        "requests": requests,
        "sample_interval": sample_interval,
        "host": {"memory": guests * (memory + POOL_PER_GUEST) + HOST_RESERVED,
                 "reserved": HOST_RESERVED},
        "disks": {"ssd0": {"kind": "ssd"}},
        "images": {"base": {"size": "1GiB", "zero_fraction": 0.02}},
        "policies": [policy],
        "guests": [{
            "name": "vm", "count": guests, "memory": memory, "reserved": RESERVED,
            "disk": {"image": "base", "clone": "cow"},
            "workload": {"kind": "zipf", "alpha": 0.8, "footprint": 50000,
                         "read_fraction": 0.98,
                         "think_time": {"kind": "exponential", "mean": "100us"}},
        }],
    }


def run_counted(s):
    """One run; returns (CPU seconds, RunOutput, SimPy events processed)."""
    world = World(s, select_policies(s)[0])
    env = world.env
    step = env.step
    count = [0]

    def counted_step():
        count[0] += 1
        step()

    env.step = counted_step  # Environment.run calls self.step(): every event passes here
    t0 = time.process_time()
    out = world.run()
    return time.process_time() - t0, out, count[0]


def timed(s, runs: int):
    """`runs` runs of s back to back: (their CPU seconds together, the last's RunOutput and
    SimPy events)."""
    total = 0.0
    for _ in range(runs):
        seconds, out, events = run_counted(s)
        total += seconds
    return total, out, events


def measure(configs: list, requests: int, repeat: int) -> list[dict]:
    """One JSON row per (guests, policy).

    The machine is shared and its speed drifts, by half between runs at times, so:
    - the repeats go round every configuration in turn, and a slow spell falls on all of them;
    - every timed sample covers about the same work: a configuration with fewer guests than
      the largest is run (largest // guests) times back to back per sample. Else a one-guest
      run, a sixteenth of a 16-guest run's length, would get sixteen times the chance of
      falling in a quiet spell, and the fastest sample of each would compare unlike things.
    """
    most = max(guests for guests, _ in configs)
    runs = {}
    for guests, policy in configs:
        runs[guests, policy] = {
            "sampled": tmemsim.load_scenario(scenario(guests, policy, requests, "250ms")),
            "unsampled": tmemsim.load_scenario(scenario(guests, policy, requests, "1000000s")),
            "runs": max(1, most // guests), "with": [], "without": []}
    for _ in range(repeat):
        for r in runs.values():
            seconds, r["out"], r["events"] = timed(r["sampled"], r["runs"])
            r["with"].append(seconds)
            r["without"].append(timed(r["unsampled"], r["runs"])[0])
    return [row(guests, policy, r) for (guests, policy), r in runs.items()]


def row(guests: int, policy: str, r: dict) -> dict:
    out, events, with_s, without_s = r["out"], r["events"], r["with"], r["without"]
    total = sum(c["requests"] for c in out.counters)
    misses = total - sum(c["guest_hits"] for c in out.counters)
    best, base = min(with_s), min(without_s)
    return {"guests": guests, "policy": policy,
            "us_per_request": round(best / (total * r["runs"]) * 1e6, 3),
            "events_per_miss": round(events / misses, 4),
            "turns_per_miss": round(out.events / misses, 4),
            "census_share": round((best - base) / best, 4),
            "requests": total, "misses": misses, "events": events,
            "turns": out.events, "runs_per_sample": r["runs"],
            # per timed sample: runs_per_sample runs together
            "seconds_sampled": [round(x, 3) for x in with_s],
            "seconds_unsampled": [round(x, 3) for x in without_s]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--guests", default="1,4,16,64")
    ap.add_argument("--policies", default="none,host-cache,tmem")
    ap.add_argument("--requests", type=int, default=10_000, help="request budget per guest")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--profile", metavar="GUESTS:POLICY",
                    help="instead, profile one sampled run (cProfile, by own time)")
    args = ap.parse_args()
    if args.profile:
        guests, policy = args.profile.split(":")
        s = tmemsim.load_scenario(scenario(int(guests), policy, args.requests, "250ms"))
        world = World(s, select_policies(s)[0])
        profiler = cProfile.Profile()
        profiler.runcall(world.run)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
        return
    configs = [(int(g), p) for g in args.guests.split(",") for p in args.policies.split(",")]
    for line in measure(configs, args.requests, args.repeat):
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
