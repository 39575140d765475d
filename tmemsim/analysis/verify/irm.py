"""irm: one LRU or FIFO page cache under Zipf IRM reads vs Che's approximation and the FIFO
characteristic-time approximation (absolute hit-ratio tolerance 0.01)."""

from __future__ import annotations

import math

from tmemsim.units import PAGE_SIZE

from ..theory import (
    che_characteristic_time,
    che_lru_hit_ratio,
    fifo_characteristic_time,
    fifo_irm_hit_ratio,
    zipf_popularities,
)
from .checks import Check, Measurement
from .harness import run

FAMILY = "irm"
_QUICK = {("lru", 0.8, 0.1), ("lru", 1.2, 0.01), ("fifo", 0.6, 0.03), ("fifo", 1.0, 0.1)}


def measure(check: Check, quick: bool) -> Measurement:
    """The guest cache's hit ratio after a warm-up, against the closed form."""
    p = check.settings(quick)
    n, alpha, kind = p["footprint"], p["alpha"], p["cache"]
    pages = round(p["fraction"] * n)
    popularity = zipf_popularities(n, alpha)
    if kind == "lru":
        expected = che_lru_hit_ratio(popularity, pages)
        t = che_characteristic_time(popularity, pages)
    else:
        expected = fifo_irm_hit_ratio(popularity, pages)
        t = fifo_characteristic_time(popularity, pages)
    # Warm-up of three characteristic times: a page stays cached about T requests, so the
    # initial fill is long forgotten (for LRU the state is exactly stationary once C distinct
    # pages were requested, which takes about T). The theory only sizes the warm-up here.
    warm = max(math.ceil(3 * t), 10 * pages)
    n_measured = p["requests"]
    s = check.load([f"guests.0.workload.footprint={n}", f"guests.0.workload.alpha={alpha}",
                    f"guests.0.cache={kind}", f"guests.0.memory={pages * PAGE_SIZE}",
                    f"warmup={warm}", f"requests={warm + n_measured}"])
    c = run(s).counters[0]
    note = f"C={pages} pages of {n}; {c['reads']} reads after {warm} warm-up requests"
    if c["reads"] != n_measured:
        note += f" (expected {n_measured} measured reads)"
    return Measurement(expected, c["guest_hits"] / c["reads"], note)


def checks() -> list[Check]:
    """Both caches at four Zipf exponents and four cache sizes (a few in the quick set)."""
    out = []
    for kind in ("lru", "fifo"):
        for alpha in (0.6, 0.8, 1.0, 1.2):
            for fraction in (0.01, 0.03, 0.1, 0.3):
                out.append(Check(
                    FAMILY, f"{kind}-a{alpha}-c{fraction:.0%}", "verify/irm.yaml", measure, 0.01,
                    quick=(kind, alpha, fraction) in _QUICK,
                    params=dict(cache=kind, alpha=alpha, fraction=fraction,
                                footprint=100_000, requests=200_000),
                    quick_params=dict(requests=100_000)))
    return out
