"""Order statistics over whole access sequences, vectorised with numpy: previous occurrences,
"how many earlier values are larger" (a wavelet matrix), and LRU stack distances from them.

Everything here is exact and O(n log n) numpy work, with no Python loop over the elements:
the one-pass curves use it for every LRU cache (the guest's page cache on the guest-memory
axis, the host page cache and dedup's cache on the pool axis) and for the ranks of tmem's
pool (pool.py).
"""

from __future__ import annotations

import numpy as np


def previous_occurrence(keys: np.ndarray) -> np.ndarray:
    """For each position, the position of the previous occurrence of the same key, or -1."""
    n = len(keys)
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    prev = np.full(n, -1, dtype=np.int64)
    if n > 1:
        same = ordered[1:] == ordered[:-1]
        prev[order[1:][same]] = order[:-1][same]
    return prev


def next_occurrence(keys: np.ndarray, end: int | None = None) -> np.ndarray:
    """For each position, the position of the next occurrence of the same key, or `end`
    (default len(keys)) if there is none."""
    n = len(keys)
    nxt = np.full(n, n if end is None else end, dtype=np.int64)
    prev = previous_occurrence(keys)
    has = prev >= 0
    nxt[prev[has]] = np.flatnonzero(has)
    return nxt


def count_greater(values: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                  threshold: np.ndarray) -> np.ndarray:
    """For each query q: how many of values[lo[q]:hi[q]] are greater than threshold[q].

    values must be non-negative integers. A wavelet matrix: one stable partition of the values
    per bit, from the highest; every query walks down the levels at once, so the work is
    O((n + queries) log max) in numpy calls, none per element.
    """
    values = np.asarray(values, dtype=np.int64)
    n = len(values)
    lo = np.asarray(lo, dtype=np.int64)
    hi = np.asarray(hi, dtype=np.int64)
    threshold = np.asarray(threshold, dtype=np.int64)
    count = np.zeros(len(threshold), dtype=np.int64)
    if n == 0 or len(threshold) == 0:
        return count
    top = int(values.max())
    # below zero every value is greater; at or above the largest value none is
    q = np.clip(threshold, 0, top)
    cur = values
    zeros = np.empty(n + 1, dtype=np.int64)
    zeros[0] = 0
    a, b = lo, hi
    for bit in range(max(top.bit_length(), 1) - 1, -1, -1):
        is_zero = ((cur >> bit) & 1) == 0
        np.cumsum(is_zero, out=zeros[1:])
        total_zeros = zeros[n]
        q_one = ((q >> bit) & 1).astype(bool)
        z_a, z_b = zeros[a], zeros[b]
        # where the threshold's bit is 0, every value of the range with bit 1 is greater
        count += np.where(q_one, 0, (b - a) - (z_b - z_a))
        a = np.where(q_one, total_zeros + a - z_a, z_a)
        b = np.where(q_one, total_zeros + b - z_b, z_b)
        cur = np.concatenate((cur[is_zero], cur[~is_zero]))
    count[threshold < 0] = (hi - lo)[threshold < 0]
    return count


def lru_distances(keys: np.ndarray) -> np.ndarray:
    """LRU stack distance of every access: how many distinct other keys were accessed since
    the previous access to the same key (-1 for a first access). An LRU cache of C entries
    hits exactly the accesses with 0 <= distance < C (Mattson et al., 1970).

    distance(i) = (i - p - 1) - #{t in (p, i): p_t > p}, p = previous occurrence: the accesses
    between p and i, less those that repeat a key already seen since p (their own previous
    occurrence lies after p).
    """
    n = len(keys)
    prev = previous_occurrence(np.asarray(keys))
    if n == 0:
        return prev
    i = np.arange(n, dtype=np.int64)
    # #{t < i: p_t > p_i} counts exactly the repeats in (p_i, i): p_t > p_i implies t > p_i
    repeats = count_greater(prev + 1, np.zeros(n, dtype=np.int64), i, prev + 1)
    return np.where(prev >= 0, i - prev - 1 - repeats, -1)
