"""exclusive: guest LRU of C1 pages + private tmem pool of C2 pages vs one LRU of C1 + C2 pages
(Wong & Wilkes' DEMOTE): guest + host hits equal its hits, exactly."""

from __future__ import annotations

from tmemsim.units import PAGE_SIZE

from . import harness
from .checks import Check, Measurement
from .harness import libcachesim_misses, replay_misses, requested_pages, run

FAMILY = "exclusive"


def measure(check: Check, quick: bool) -> Measurement:
    """Guest + tmem hits against the hits of one LRU of both sizes on the same requests."""
    p = check.settings(quick)
    c1, c2 = p["guest_pages"], p["pool_pages"]
    s = check.load([f"guests.0.memory={c1 * PAGE_SIZE}", f"host.memory={(c1 + c2) * PAGE_SIZE}"])
    out = run(s)
    c = out.counters[0]
    sequence = requested_pages(s, c["reads"])
    if harness.installed("libcachesim"):  # looked up late: tests hide the extra
        misses, peer = libcachesim_misses("lru", c1 + c2, sequence), "libcachesim.LRU"
    else:
        misses, peer = replay_misses("lru", c1 + c2, sequence), "tmemsim.caches.LRU replay"
    expected = len(sequence) - misses
    note = (f"C1={c1} + C2={c2} (pool {out.pool_pages} pages); guest {c['guest_hits']} + "
            f"tmem {c['host_hits']} hits vs {peer}({c1 + c2})")
    return Measurement(expected, c["guest_hits"] + c["host_hits"], note)


def checks() -> list[Check]:
    """Three splits of guest cache and pool (the first in the quick set)."""
    return [Check(FAMILY, f"lru{c1}+tmem{c2}", "verify/exclusive.yaml", measure, 0.0,
                  quick=c1 == 2000, params=dict(guest_pages=c1, pool_pages=c2))
            for c1, c2 in ((2000, 6000), (6000, 2000), (5000, 15000))]
