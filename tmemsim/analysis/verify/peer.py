"""peer: LRU, FIFO and CLOCK guest caches vs libcachesim.LRU/FIFO/Clock on the same request
sequence: equal miss ratios. libCacheSim's Clock is FIFO-reinsertion with an n-bit counter
(default 1 bit, init 0): a hit sets the counter, the hand re-inserts a page whose counter is
set (decrementing it) — with one bit exactly tmemsim's one-bit second-chance `clock`."""

from __future__ import annotations

from tmemsim.units import PAGE_SIZE

from .checks import Check, Measurement
from .harness import libcachesim_misses, requested_pages, run

FAMILY = "peer"


def measure(check: Check, quick: bool) -> Measurement:
    """The guest cache's miss ratio against libCacheSim's on the requests the run served."""
    p = check.settings(quick)
    kind, pages = p["cache"], p["pages"]
    s = check.load([f"guests.0.cache={kind}", f"guests.0.memory={pages * PAGE_SIZE}"])
    c = run(s).counters[0]
    sequence = requested_pages(s, c["reads"])
    misses = libcachesim_misses(kind, pages, sequence)
    simulated = (c["reads"] - c["guest_hits"]) / c["reads"]
    return Measurement(misses / len(sequence), simulated,
                       f"{c['reads']} reads, C={pages}; misses tmemsim "
                       f"{c['reads'] - c['guest_hits']}, libcachesim {misses}")


def checks() -> list[Check]:
    """Each cache at two sizes (the larger in the quick set); they need libcachesim."""
    return [Check(FAMILY, f"{kind}-c{pages}", "verify/peer.yaml", measure, 0.0,
                  quick=pages == 5000, params=dict(cache=kind, pages=pages),
                  requires=("libcachesim",))
            for kind in ("lru", "fifo", "clock") for pages in (500, 5000)]
