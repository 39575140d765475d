"""A guest with an LRU page cache, replayed without a loop over its requests.

The common case of replay.py (one closed-loop thread, reads and writes, nothing timed, an LRU
page cache) computed in numpy: when each page is evicted (ranks.lru_evictions), hence which
accesses miss (those whose page was evicted since its last access, or never accessed), what data each page holds at each point (the latest write
before it) and whether it is dirty when it leaves (a write since it entered; O_SYNC writes
leave it clean). The log is the one GuestReplay gives, event for event (the tests hold them
together); only the writes pass through Python, to number them as the model does.
"""

from __future__ import annotations

import numpy as np

from ...caches import cache_class
from ...images import PAGE_BITS
from .guest_log import (
    AT_ARRIVAL,
    AT_START,
    EVICT,
    FLUSH,
    READ,
    WRITE,
    GuestLog,
    fill_disk_data,
)
from .ranks import lru_evictions, previous_occurrence
from .sampling import sampled_start, sampled_weights


def supported(spec, pages: int) -> bool:
    """Whether this replay applies: an LRU-stack cache of at least one page, one closed-loop
    thread, and a workload of reads and writes only (checked on the requests as well)."""
    w = spec.workload
    return (cache_class(spec.cache).lru_stack and pages >= 1 and w.threads == 1 and not w.open_loop()
            and w.churn is None and w.anon is None and not hasattr(w, "switches"))


def collect(stream, budget: int | None, horizon: float, hit_cost: float):
    """The guest's requests up to the budget, or until even all hits would pass the horizon
    (the replay trims to the exact bound afterwards): numpy (ops, pages, gaps, dups)."""
    chunks, n, t = [], 0, 0.0
    budget = budget if budget is not None else 1 << 62
    while n < budget and t < horizon:
        ops, pages, gaps, dups = stream.next_chunk()
        if not len(ops):
            break
        take = min(len(ops), budget - n)
        gap = np.asarray(gaps[:take], dtype=float)
        chunks.append((np.asarray(ops[:take], dtype=np.int8),
                       np.asarray(pages[:take], dtype=np.int64), gap,
                       np.asarray(dups[:take], dtype=bool)))
        n += take
        t += float(np.sum(gap)) + take * hit_cost
    if not chunks:
        return (np.zeros(0, np.int8), np.zeros(0, np.int64), np.zeros(0), np.zeros(0, bool))
    return tuple(np.concatenate([c[i] for c in chunks]) for i in range(4))


def _last_at_or_before(keys: np.ndarray, marks: np.ndarray, values: np.ndarray,
                       by_key: np.ndarray, start: np.ndarray) -> np.ndarray:
    """For each position i: values[j] of the latest j <= i with the same key and marks[j],
    else -1. by_key: positions sorted by (key, position); start: first of each key's run."""
    pos = np.arange(len(by_key))
    hit = marks[by_key]
    last = np.maximum.accumulate(np.where(hit, pos, -1))
    run_start = np.maximum.accumulate(np.where(start, pos, 0))
    found = last >= run_start
    out = np.full(len(keys), -1, dtype=np.int64)
    out[by_key] = np.where(found, values[by_key][np.maximum(last, 0)], -1)
    return out


def replay(index: int, spec, gdisk, contents, stream, pages: int, budget: int | None,
           horizon: float, hit_cost: float, min_miss: float,
           record_accesses: bool = False) -> GuestLog | None:
    """The guest's log with an LRU cache of `pages`; None if its requests hold truncates or
    anonymous touches (the caller replays it with GuestReplay then)."""
    ops, keys, gaps, dups = collect(stream, budget, horizon, hit_cost)
    start = sampled_start(stream)
    weight = sampled_weights([stream], len(ops))
    if ((ops != 0) & (ops != 1)).any():
        return None
    prev = previous_occurrence(keys)
    # an access hits iff its key was accessed before and not evicted since
    evicted_at = lru_evictions(prev, pages)
    miss = (prev < 0) | (evicted_at[np.maximum(prev, 0)] < np.arange(len(ops)))
    n = _within_horizon(ops == 0, miss, gaps, start, horizon, hit_cost, min_miss)
    ops, keys, gaps, dups, prev, miss, evicted_at = (
        a[:n] for a in (ops, keys, gaps, dups, prev, miss, evicted_at))
    weight = None if weight is None else weight[:n]
    is_read = ops == 0
    writes = np.flatnonzero(~is_read)
    serials = np.zeros(n, dtype=np.int64)
    new_write = contents.new_write
    serials[writes] = [new_write(index, v, d) for v, d in
                       zip(keys[writes].tolist(), dups[writes].tolist(), strict=True)]
    parts = _event_parts(spec, gdisk, keys, is_read, miss, prev, evicted_at, serials)
    kind, req, when, time, vpage, loc, data, aux, call = _sorted_columns(parts)
    fill_disk_data(kind, loc, data, aux)
    hit = is_read & ~miss
    idx = np.arange(n, dtype=np.int64)
    return GuestLog(ops, gaps, np.zeros(n, np.int16), hit, None, True, kind, req, when, time,
                    vpage, loc, data, aux, call, keys.copy() if record_accesses else None,
                    idx if record_accesses else None, True, start, weight)


def _within_horizon(is_read, miss, gaps, start: float, horizon: float, hit_cost: float,
                    min_miss: float) -> int:
    """How many requests start before the horizon at the earliest any size starts them."""
    lower = np.where(is_read & miss, min_miss, hit_cost) + gaps
    starts = start + np.concatenate(([0.0], np.cumsum(lower)[:-1])) if len(lower) \
        else np.zeros(0)
    return int(np.searchsorted(starts, horizon, side="left"))


def _event_parts(spec, gdisk, keys, is_read, miss, prev, evicted_at, serials) -> list:
    """The host events by kind: (kind, request, when, vpage, loc, data, aux, call, rank
    within the request), each column an array or a scalar."""
    n = len(keys)
    by_key = np.lexsort((np.arange(n), keys))
    run_first = np.ones(n, dtype=bool)
    if n:
        run_first[1:] = keys[by_key][1:] != keys[by_key][:-1]
    idx = np.arange(n, dtype=np.int64)
    data_upto = np.maximum(_last_at_or_before(keys, ~is_read, serials, by_key, run_first), 0)
    data_before = np.where(prev >= 0, data_upto[np.maximum(prev, 0)], 0)
    last_write = _last_at_or_before(keys, ~is_read, idx, by_key, run_first)
    entered = _last_at_or_before(keys, miss, idx, by_key, run_first)
    nxt = np.full(n, n, dtype=np.int64)
    nxt[prev[prev >= 0]] = np.flatnonzero(prev >= 0)
    gone = np.flatnonzero(evicted_at < nxt)  # accesses whose key then leaves the cache
    at = evicted_at[gone]
    victim, data = keys[gone], data_upto[gone]
    dirty = (last_write[gone] >= entered[gone]) & (last_write[gone] >= 0) & \
        (not spec.workload.sync)
    when = np.where(is_read[at], AT_ARRIVAL, AT_START).astype(np.int8)
    own = gdisk.own << PAGE_BITS
    base = (gdisk.base << PAGE_BITS) if gdisk.kind == "cow" else own
    cow = gdisk.kind == "cow"

    def location(vpage, data):
        return np.where(cow & (data == 0), base, own) | vpage

    reads = np.flatnonzero(is_read & miss)
    flushes = np.flatnonzero(~is_read & miss)
    syncs = np.flatnonzero(~is_read) if spec.workload.sync else np.zeros(0, dtype=np.int64)
    back = np.flatnonzero(dirty)
    return [
        (READ, reads, np.int8(AT_START), keys[reads], location(keys[reads], data_before[reads]),
         data_before[reads], 0, -1, 0),
        (FLUSH, flushes, np.int8(AT_START), keys[flushes],
         location(keys[flushes], data_before[flushes]), 0, 0,
         np.arange(1, len(flushes) + 1), 0),
        (WRITE, at[back], when[back], victim[back], own | victim[back], data[back], 0, -1, 1),
        (EVICT, at, when, victim, location(victim, data), data, 0, -1, 2),
        (WRITE, syncs, np.int8(AT_START), keys[syncs], own | keys[syncs], serials[syncs], 1,
         -1, 3),
    ]


def _sorted_columns(parts: list) -> list:
    """The parts' events as the nine GuestLog event columns, by request, then rank."""
    cols = [[] for _ in range(10)]
    for kind, req, wh, vp, loc, dat, aux, call, rank in parts:
        k = len(req)
        for c, v, dtype in ((0, kind, np.int8), (1, req, np.int64), (2, wh, np.int8),
                            (4, vp, np.int64), (5, loc, np.int64), (6, dat, np.int64),
                            (7, aux, np.int64), (8, call, np.int64), (9, rank, np.int8)):
            cols[c].append(np.broadcast_to(np.asarray(v, dtype=dtype), (k,)))
        cols[3].append(np.zeros(k))
    cols = [np.concatenate(c) for c in cols]
    order = np.lexsort((cols[9], cols[1]))
    return [c[order] for c in cols[:9]]
