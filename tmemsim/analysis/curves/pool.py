"""Tmem's ephemeral pool at every capacity in one pass: oldest-put eviction, exclusive gets.

The criterion. A put e enters the pool at s and leaves at its key's next event t (a get, a
flush, or a put overwriting it). While e is pooled, every newer put is pooled too (eviction
takes the oldest first), and a newer entry leaves only through its own next event, which
removes it at every capacity alike. So the number of pooled entries at least as new as e,
n_e(u), is the same at every capacity holding e; e is evicted at capacity K exactly when n_e
would exceed K after a put. Hence: the get at t hits iff max over [s, t] of n_e <= K, and the
pool of capacity K always holds the c_K newest of the entries that are pooled at infinite
capacity, c_K being how many it holds.

The computation. The rank of e at t, n_e(t), is a two-dimensional count over the puts (puts
newer than e, made before t, still pooled after t): one vectorised wavelet query (ranks.py).
Then one sequential pass over the removals keeps the fill c_K of every capacity: a put adds
one to every c_K below K (kept lazily: a removal only needs the number of puts before it), and
a removal of rank r is pooled, and taken, exactly at the capacities with c_K >= r (c_K grows
with K, so those form a suffix of the sorted capacities).
"""

from __future__ import annotations

import numpy as np

from .ranks import count_greater, previous_occurrence

PUT = 0
GET = 1
FLUSH = 2


def pool_hits(kinds: np.ndarray, keys: np.ndarray, capacities) -> np.ndarray:
    """For each event (in order: PUT, GET or FLUSH of a key), the index into `capacities`
    (ascending) of the smallest capacity at which it finds its key pooled, len(capacities) if
    none. Meaningful for GETs (a hit at that capacity and every larger one) and FLUSHes."""
    kinds = np.asarray(kinds, dtype=np.int8)
    keys = np.asarray(keys, dtype=np.int64)
    caps = [int(c) for c in capacities]
    n_caps = len(caps)
    n = len(kinds)
    first = np.full(n, n_caps, dtype=np.int64)
    if n == 0 or n_caps == 0:
        return first
    prev = previous_occurrence(keys)
    # a GET or FLUSH (or an overwriting PUT) whose key's previous event is a PUT removes that
    # put's entry wherever it is still pooled
    removes = (prev >= 0) & (kinds[np.maximum(prev, 0)] == PUT)
    puts = np.flatnonzero(kinds == PUT)
    n_puts = len(puts)
    serial = np.full(n, -1, dtype=np.int64)
    serial[puts] = np.arange(n_puts)
    never = np.int64(n + 1)
    ends = np.full(n_puts, never, dtype=np.int64)
    removal = np.flatnonzero(removes)
    ends[serial[prev[removal]]] = removal
    # rank at removal: 1 + newer puts made before it and removed after it
    x = serial[prev[removal]]
    made_before = np.searchsorted(puts, removal)  # puts strictly before each removal
    rank = 1 + count_greater(ends, x + 1, made_before, removal)
    puts_before = made_before  # the lazy fill needs only how many puts came first
    first[removal] = _sweep(caps, puts_before, rank)
    return first


def _sweep(caps: list[int], puts_before: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """The sequential part: for each removal, the first capacity index holding its entry.

    Per capacity K, its free slots f: a put takes one (down to zero), a removal of rank r
    finds its entry pooled iff K - f >= r, and then frees one. Until the infinite pool first
    holds K entries, the pool of capacity K has evicted nothing and every removal finds its
    entry (capacity 0 holds nothing). After that, f is at most U, the same recursion with
    every removal freeing a slot (a Lindley recursion: a cumulative sum less its running
    minimum, in numpy). Where U = 0 the pool is full and a removal is pooled iff r <= K; where
    r <= K - U or r > K the answer does not depend on f either. Only the stretches where U > 0
    holding a removal of neither kind need the step-by-step recursion. The capacities holding
    an entry form a suffix, so counting them gives the first.
    """
    n = len(ranks)
    count = np.zeros(n, dtype=np.int64)
    if n == 0:
        return count
    live = puts_before - np.arange(n)  # the infinite pool just before each removal
    peak = np.maximum.accumulate(live)
    between = np.diff(puts_before, prepend=puts_before[0])  # puts since the last removal
    for cap in caps:
        if cap <= 0:
            continue
        full = int(np.searchsorted(peak, cap))  # first removal after the pool filled
        count[:full] += 1
        if full >= n:
            continue
        r = ranks[full:]
        steps = 1 - between[full:]
        steps[0] = 0
        total = np.cumsum(steps)
        bound = total - np.minimum.accumulate(total)  # U: f's upper bound, 0 where full
        hit = r <= cap - bound
        unsure = (bound > 0) & ~hit & (r <= cap)
        if unsure.any():
            _recurse(cap, r, between[full:], bound, hit, unsure)
        count[full:] += hit
    return len(caps) - count


def _recurse(cap: int, ranks: np.ndarray, between: np.ndarray, bound: np.ndarray,
             hit: np.ndarray, unsure: np.ndarray) -> None:
    """The exact recursion over each stretch where U > 0 that holds an unsure removal; the
    slot count before a stretch is known (U = 0 there), hit is completed in place."""
    busy = bound > 0
    edges = np.flatnonzero(np.diff(np.concatenate(([False], busy, [False])).astype(np.int8)))
    starts, ends = edges[::2], edges[1::2]
    has = np.add.reduceat(unsure.astype(np.int64), starts) > 0 if len(starts) else []
    for a, b, needed in zip(starts.tolist(), ends.tolist(), has, strict=True):
        if not needed:
            continue
        after = int(hit[a - 1]) if a > 0 else 0  # slots freed by the removal before: f was 0
        rs, gs = ranks[a:b].tolist(), between[a:b].tolist()
        for i, (rank, g) in enumerate(zip(rs, gs, strict=True)):
            free = after - g if after > g else 0
            took = cap - free >= rank
            hit[a + i] = took
            after = free + took
