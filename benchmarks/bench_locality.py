"""The memory floor under many-guest growth: the same page-cache work, one guest or many: JSON lines.

bench_hosts.py's guests each keep their own page cache, so a host of 16 guests touches 16 times
the memory of one, in turns. Part of what a request costs more with many guests is then not
computing but memory: the same instructions wait longer for their data in the CPU's caches, and
fresh memory costs the kernel a page fault at first touch (process time counts both, as in
bench_hosts.py). This script measures that part alone, with nothing of tmemsim's model around
it: each guest is only an LRU page cache (tmemsim's own `lru`, used the way a guest's hot path
uses it: `key in members`, then `touch` on a hit, `insert` on a miss) fed a stream of
bench_hosts' distribution per guest (Zipf 0.8 over 50,000 pages, drawn with numpy, reads only;
256 MiB caches, --requests per guest, cold). Guests take one request each in turn, round robin,
as bench_hosts' guests take about one miss each per turn; one guest does the same operations
with only its own data. The work per request is the same for every guest count (same operations,
same hit ratio in distribution), so what ns_per_request gains over the fewest guests is what the
guests' data (page caches and request streams) alone adds to a request of bench_hosts' on this
machine.

Timing as bench_hosts.py: CPU time, repeats going round every guest count, each timed sample
covering about the same number of requests (a count with fewer guests than the largest runs
(largest // guests) times per sample), the fastest sample kept. One line per guest count:
{"guests", "ns_per_request", "ratio_to_fewest", "hit_ratio"}.
Usage: python benchmarks/bench_locality.py [--guests 1,4,16,64] [--requests N] [--repeat K]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from tmemsim.caches import LRU

PAGES_PER_CACHE = (256 << 20) // 4096
FOOTPRINT, ALPHA, SEED = 50_000, 0.8, 7


def streams(guests: int, requests: int) -> list[list[int]]:
    """Each guest's pages, Zipf(ALPHA) over FOOTPRINT pages, drawn from its own generator."""
    weights = 1.0 / np.arange(1, FOOTPRINT + 1) ** ALPHA
    weights /= weights.sum()
    return [np.random.default_rng([SEED, g]).choice(FOOTPRINT, size=requests, p=weights).tolist()
            for g in range(guests)]


def run(pages: list[list[int]]) -> tuple[float, int, int]:
    """Serve every guest's stream, one request per guest in turn: (CPU seconds, requests, hits).
    The turns are laid out before the clock starts, so a request costs the same loop whatever
    the number of guests."""
    caches = [LRU(PAGES_PER_CACHE) for _ in pages]
    turns = [(c.members(), c.toucher(), c.insert) for c in caches]
    who = list(range(len(pages))) * len(pages[0])
    order = [page for step in zip(*pages, strict=True) for page in step]
    hits = 0
    t0 = time.process_time()
    for g, page in zip(who, order, strict=True):
        members, touch, insert = turns[g]
        if page in members:
            touch(page)
            hits += 1
        else:
            insert(page)
    return time.process_time() - t0, len(order), hits


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--guests", default="1,4,16,64")
    ap.add_argument("--requests", type=int, default=10_000, help="per guest")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    counts = [int(g) for g in args.guests.split(",")]
    most = max(counts)
    work = {g: streams(g, args.requests) for g in counts}
    best = {g: float("inf") for g in counts}
    hit_ratio = {}
    for _ in range(args.repeat):
        for g in counts:
            seconds = requests = hits = 0
            for _ in range(max(1, most // g)):
                s, n, h = run(work[g])
                seconds, requests, hits = seconds + s, requests + n, hits + h
            best[g] = min(best[g], seconds / requests)
            hit_ratio[g] = hits / requests
    fewest = min(counts)
    for g in counts:
        print(json.dumps({"guests": g, "ns_per_request": round(best[g] * 1e9, 1),
                          "ratio_to_fewest": round(best[g] / best[fewest], 3),
                          "hit_ratio": round(hit_ratio[g], 4)}), flush=True)


if __name__ == "__main__":
    main()
