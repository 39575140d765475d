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
    keys = np.asarray(keys)
    if n and keys.min() >= 0 and keys.max() < (1 << 31):
        keys = keys.astype(np.int32)  # sorts faster
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


def _int_type(n: int, top: int):
    """The narrowest index type for arrays of n values up to top: int32 halves the memory
    each level of a wavelet matrix walks through."""
    return np.int32 if max(n, top) < (1 << 31) - 1 else np.int64


def _levels(values: np.ndarray, it):
    """The wavelet matrix of values, one level at a time, highest bit first: (bit, zeros,
    total zeros), zeros[i] = how many of the level's first i values have the bit clear.

    Integer arithmetic throughout (masks as 0/1 ints, the stable partition as a scatter to
    computed places): numpy's boolean where, indexing and cumsum are several times slower."""
    n = len(values)
    cur = values.astype(it)
    zeros = np.zeros(n + 1, dtype=it)
    upto = np.arange(1, n + 1, dtype=it)
    top = int(values.max()) if n else 0
    nxt = np.empty_like(cur)
    for bit in range(max(top.bit_length(), 1) - 1, -1, -1):
        one = (cur >> bit) & 1
        np.subtract(upto, np.cumsum(one, dtype=it), out=zeros[1:])
        yield bit, zeros, zeros[n]
        if bit:
            before = zeros[:n]
            nxt[before + one * (zeros[n] + upto - 1 - 2 * before)] = cur
            cur, nxt = nxt, cur


def count_greater(values: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                  threshold: np.ndarray) -> np.ndarray:
    """For each query q: how many of values[lo[q]:hi[q]] are greater than threshold[q].

    values must be non-negative integers. A wavelet matrix: one stable partition of the values
    per bit, from the highest; every query walks down the levels at once, so the work is
    O((n + queries) log max) in numpy calls, none per element.
    """
    values = np.asarray(values, dtype=np.int64)
    lo = np.asarray(lo, dtype=np.int64)
    hi = np.asarray(hi, dtype=np.int64)
    threshold = np.asarray(threshold, dtype=np.int64)
    n = len(values)
    if n == 0 or len(threshold) == 0:
        return np.zeros(len(threshold), dtype=np.int64)
    top = int(values.max())
    it = _int_type(n, top)
    # below zero every value is greater; at or above the largest value none is
    q = np.clip(threshold, 0, top).astype(it)
    count = np.zeros(len(q), dtype=it)
    a, b = lo.astype(it), hi.astype(it)
    for bit, zeros, total_zeros in _levels(values, it):
        q_one = (q >> bit) & 1
        z_a, z_b = zeros[a], zeros[b]
        # where the threshold's bit is 0, every value of the range with bit 1 is greater
        count += (1 - q_one) * ((b - a) - (z_b - z_a))
        a = z_a + q_one * (total_zeros + a - 2 * z_a)
        b = z_b + q_one * (total_zeros + b - 2 * z_b)
    out = count.astype(np.int64)
    out[threshold < 0] = (hi - lo)[threshold < 0]
    return out


def kth_smallest(values: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                 k: np.ndarray) -> np.ndarray:
    """For each query q: the k[q]-th smallest (0-based) of values[lo[q]:hi[q]], which must
    hold more than k[q] values. Non-negative integer values; the same wavelet matrix as
    count_greater, walked down towards the k-th."""
    values = np.asarray(values, dtype=np.int64)
    n = len(values)
    if n == 0 or len(k) == 0:
        return np.zeros(len(k), dtype=np.int64)
    it = _int_type(n, int(values.max()))
    a = np.asarray(lo).astype(it)
    b = np.asarray(hi).astype(it)
    k = np.asarray(k).astype(it)
    result = np.zeros(len(k), dtype=it)
    for bit, zeros, total_zeros in _levels(values, it):
        z_a, z_b = zeros[a], zeros[b]
        in_zeros = z_b - z_a
        high = (k >= in_zeros).astype(it)  # the k-th is among the values whose bit is 1
        result |= high << bit
        k -= high * in_zeros
        a = z_a + high * (total_zeros + a - 2 * z_a)
        b = z_b + high * (total_zeros + b - 2 * z_b)
    return result.astype(np.int64)


def lru_evictions(prev: np.ndarray, capacity: int) -> np.ndarray:
    """For each access q: the access at which an LRU cache of `capacity` (>= 1) entries
    evicts the key accessed at q, if no later access to that key comes first; len(prev) if
    none. prev: previous_occurrence of the keys.

    The key of q sinks one place per new distinct key accessed after q, and leaves at the
    capacity-th: the capacity-th j > q whose key was not accessed in [q, j), i.e. prev_j < q.
    Every j <= q has prev_j < q as well, so among the positions with prev_j < q, sorted, it is
    the (q + capacity)-th (0-based): one quantile query of the positions ordered by prev.
    """
    n = len(prev)
    out = np.full(n, n, dtype=np.int64)
    if n == 0:
        return out
    by_prev = np.argsort(prev, kind="stable")
    below = np.searchsorted(prev[by_prev], np.arange(n), side="left")  # #{j: prev_j < q}
    q = np.flatnonzero(np.arange(n) + capacity < below)
    out[q] = kth_smallest(by_prev, np.zeros(len(q), dtype=np.int64), below[q], q + capacity)
    return out


def lru_distances(keys: np.ndarray, prev: np.ndarray | None = None) -> np.ndarray:
    """LRU stack distance of every access: how many distinct other keys were accessed since
    the previous access to the same key (-1 for a first access). An LRU cache of C entries
    hits exactly the accesses with 0 <= distance < C (Mattson et al., 1970).

    distance(i) = (i - p - 1) - #{t in (p, i): p_t > p}, p = previous occurrence: the accesses
    between p and i, less those that repeat a key already seen since p (their own previous
    occurrence lies after p).
    """
    n = len(keys)
    if prev is None:
        prev = previous_occurrence(np.asarray(keys))
    if n == 0:
        return prev
    i = np.arange(n, dtype=np.int64)
    # #{t < i: p_t > p_i} counts exactly the repeats in (p_i, i): p_t > p_i implies t > p_i
    repeats = count_greater(prev + 1, np.zeros(n, dtype=np.int64), i, prev + 1)
    return np.where(prev >= 0, i - prev - 1 - repeats, -1)
