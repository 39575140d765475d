"""Correctness of the hypervisor policies, end to end through the simulator.

Coherence under random mixes (Hypothesis), the DEMOTE equivalence of an exclusive tmem pool,
the waste of an inclusive host cache, sharing across clones, flush semantics, writeback vs
writethrough, and the cost of every read path.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tmemsim
from tmemsim.api import select_policies
from tmemsim.model import World

PAGE = 4096
KiB = 1024
MiB = 1 << 20

# every policy and option the coherence property runs through; tmem with keep_free: 0 so that the
# tiny pools of the generated scenarios are really used (the default keeps 1 MiB: capacity 0)
ALL_POLICIES = [
    "none",
    "host-cache",
    {"kind": "host-cache", "mode": "writeback"},
    {"kind": "host-cache", "mode": "writeback", "dirty_expire": "100us",
     "writeback_interval": "50us", "name": "host-cache-wb-fast"},
    {"kind": "host-cache", "cache": "clock", "name": "host-cache-clock"},
    {"kind": "host-cache", "mode": "writeback", "cache": "twolist", "dirty_expire": 0,
     "writeback_interval": "20us", "name": "host-cache-wb-twolist"},
    "tmem",
    {"kind": "tmem", "keep_free": 0, "name": "tmem-private"},
    {"kind": "tmem", "pool": "shared", "keep_free": 0, "name": "tmem-shared"},
    {"kind": "tmem", "dedup": True, "keep_free": 0, "name": "tmem-dedup"},
    {"kind": "tmem", "pool": "shared", "dedup": True, "keep_free": 0,
     "name": "tmem-shared-dedup"},
    {"kind": "tmem", "weights": {"g0": 3.0}, "keep_free": 0, "name": "tmem-weighted"},
    "dedup",
    {"kind": "dedup", "cache": "fifo", "name": "dedup-fifo"},
]


def all_row(result, policy=None):
    return result.row(policy, "ALL")


def guest_rows(result):
    return result.summary[result.summary["guest"] != "ALL"]


def stream_pages(scenario, guest: int, thread: int = 0) -> np.ndarray:
    """The exact vpages one guest thread asks for (request streams do not depend on policy)."""
    world = World(scenario, select_policies(scenario)[0])
    g = world.guests[guest]
    streams, _, _ = np.random.SeedSequence(scenario.seed).spawn(3)
    seed = streams.spawn(len(world.guests))[guest].spawn(len(g.threads))[thread]
    stream = g.threads[thread].stream
    fresh = type(stream)(stream.spec, seed)
    chunks, n = [], 0
    while n < scenario.requests:
        chunk = np.asarray(fresh.next_chunk()[1])
        if not len(chunk):
            break
        chunks.append(chunk)
        n += len(chunk)
    return np.concatenate(chunks)[: scenario.requests]


def lru_hits(pages, capacity: int) -> int:
    """Hits of one LRU of `capacity` pages (a plain reference next to libCacheSim)."""
    from collections import OrderedDict

    d: OrderedDict = OrderedDict()
    hits = 0
    for p in pages.tolist():
        if p in d:
            hits += 1
            d.move_to_end(p)
        else:
            d[p] = None
            if len(d) > capacity:
                d.popitem(last=False)
    return hits


# ---------------------------------------------------------------- 1. coherence (Hypothesis)


@st.composite
def mixes(draw):
    """2–3 guests, caches of a few pages, small footprints, every kind of disk, random scripts."""
    n = draw(st.integers(2, 3))
    footprint = draw(st.integers(2, 12))
    file_pages = draw(st.sampled_from([1, 2, 4]))
    image_pages = 16
    guests = []
    for i in range(n):
        kind = draw(st.sampled_from(["cow", "copy", "private"]))
        disk = ({"size": image_pages * PAGE} if kind == "private"
                else {"image": "base", "clone": kind})
        steps = draw(st.lists(
            st.tuples(st.sampled_from("rrrwt"), st.integers(0, footprint - 1)),
            min_size=1, max_size=30))
        think = draw(st.sampled_from(
            [0, "10us", {"kind": "exponential", "mean": "40us"}]))
        guests.append({
            "name": f"g{i}",
            "memory": draw(st.integers(1, 4)) * PAGE,
            "disk": disk,
            "writeback_interval": draw(st.sampled_from([0, "50us", "300us"])),
            "dirty_expire": draw(st.sampled_from([0, "100us"])),
            "workload": {
                "kind": "script",
                "steps": [f"{op} {page}" for op, page in steps],
                "file_pages": file_pages,
                "threads": draw(st.integers(1, 2)),
                "think_time": think,
                "dup_writes": draw(st.sampled_from([0.0, 0.5, 1.0])),
                "sync": draw(st.booleans()),
            },
        })
    pool = draw(st.integers(0, 8))
    return {
        "seed": draw(st.integers(0, 2**16)),
        "requests": 10_000,
        "check": True,
        "sample_interval": "20us",  # the deep checks (tmem exclusivity) run at every sample
        "host": {"memory": sum(g["memory"] for g in guests) + pool * PAGE},
        "disks": {"d": {"kind": "ssd", "channels": draw(st.sampled_from([1, 8]))}},
        "images": {"base": {"size": image_pages * PAGE,
                            "internal_dup": draw(st.sampled_from([0.0, 0.5]))}},
        # a zero-page clock/twolist cache crashes (test_zero_page_pool_any_replacement): the
        # property runs them on pools of at least a page
        "policies": ALL_POLICIES if pool else [
            p for p in ALL_POLICIES if not isinstance(p, dict) or p.get("cache") in (None, "lru",
                                                                                       "fifo")],
        "guests": guests,
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixes())
def test_coherence_every_policy(data):
    """No stale read, no broken invariant, and every read is a guest hit, host hit or disk read."""
    s = tmemsim.load_scenario(data)
    reads = {}
    for spec in select_policies(s):
        world = World(s, spec)
        out = world.run()
        world.check_deep()  # also at the very end, whatever the length of the run
        world.check_invariants()
        for name, c in zip(out.guest_names, out.counters, strict=True):
            assert c["stale_reads"] == 0, (spec.name, name)
            assert c["guest_hits"] + c["host_hits"] + c["disk_reads"] == c["reads"], (
                spec.name, name, c)
        reads[spec.name] = [c["reads"] for c in out.counters]
        if spec.kind == "none":
            assert all(c["host_hits"] == 0 for c in out.counters)
    # every policy sees the same requests
    assert len({tuple(r) for r in reads.values()}) == 1, reads
