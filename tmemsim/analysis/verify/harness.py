"""What the families share: running the model once, the request sequence a run serves, and
the peer caches (libCacheSim, or tmemsim's own structures) replaying that sequence."""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path

import numpy as np

from tmemsim.api import select_policies
from tmemsim.caches import make_cache
from tmemsim.model import World
from tmemsim.model.world import guest_seeds
from tmemsim.units import PAGE_SIZE
from tmemsim.workloads.traces import write_oracle_general


def run(scenario):
    """One World under the scenario's first policy; its RunOutput."""
    return World(scenario, select_policies(scenario)[0]).run()


def requested_pages(scenario, n: int) -> np.ndarray:
    """The first n vpages guest 0's only thread asks for, from the public request streams.

    Streams are seeded from the scenario alone, never the policy (model.world.guest_seeds,
    which World seeds its guests' streams with), so a fresh stream of the same scenario holds
    the very sequence the simulated one served.
    """
    thread_seeds, _churn = guest_seeds(scenario)[0]
    if len(thread_seeds) != 1:
        raise ValueError("the page sequence is defined for one thread")
    stream = scenario.expanded_guests()[0][1].workload.stream(thread_seeds[0])
    ops: list[int] = []
    pages: list[int] = []
    while len(pages) < n:
        chunk = stream.next_chunk()
        if not len(chunk[0]):
            break
        ops += list(chunk[0])
        pages += list(chunk[1])
    if any(op != 0 for op in ops[:n]):
        raise ValueError("the sequence has requests other than reads")
    return np.asarray(pages[:n], dtype=np.int64)


def libcachesim_misses(kind: str, capacity: int, pages: np.ndarray) -> int:
    """Misses of libcachesim's LRU / FIFO / Clock of `capacity` pages replaying `pages`.

    The sequence goes through an oracleGeneral file (24-byte records: u32 time, u64 obj_id,
    u32 size, i64 next_access), every object one page, the cache `capacity` pages in bytes.
    """
    import libcachesim as lcs

    caches = {"lru": lcs.LRU, "fifo": lcs.FIFO, "clock": lcs.Clock}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pages.oracleGeneral"
        write_oracle_general(path, pages + 1)  # object id 0 is best avoided
        reader = lcs.TraceReader(str(path), lcs.TraceType.ORACLE_GENERAL_TRACE)
        miss_ratio, _ = caches[kind](capacity * PAGE_SIZE).process_trace(reader)
    return round(miss_ratio * len(pages))


def replay_misses(kind: str, capacity: int, pages: np.ndarray) -> int:
    """Misses of tmemsim.caches' structure replaying `pages` (the fallback without libcachesim)."""
    cache = make_cache(kind, capacity)
    misses = 0
    for page in pages.tolist():
        if not cache.get(page):
            misses += 1
            cache.insert(page)
    return misses


def installed(module: str) -> bool:
    """Whether an optional module (libcachesim) can be imported."""
    return importlib.util.find_spec(module) is not None
