"""Spatial sampling of pages (SHARDS, Waldspurger et al., FAST 2015).

A page is kept when hash(page) mod P < R * P; every cache is then R times its size, and the
counts R times smaller. The hash is splitmix64's finaliser on the page key (a vpage, or
-1 - page for an anonymous page), so the same page is kept in every guest and every request:
CoW clones keep the same base pages, and a kept page's whole history is kept.
"""

from __future__ import annotations

import numpy as np

MODULUS = 1 << 24


def _mix(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return x


def kept(keys: np.ndarray, rate: float) -> np.ndarray:
    """Which page keys the sample keeps (a boolean per key)."""
    threshold = np.uint64(int(round(rate * MODULUS)))
    return (_mix(np.asarray(keys, dtype=np.int64)) % np.uint64(MODULUS)) < threshold


def keeps(key: int, rate: float) -> bool:
    return bool(kept(np.array([key]), rate)[0])


def check_rate(rate) -> float:
    rate = float(rate)
    if not 0 < rate <= 1:
        raise ValueError(f"expected a sampling rate in (0, 1], got {rate}")
    return rate
