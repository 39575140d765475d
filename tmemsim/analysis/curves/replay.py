"""One guest's requests, served by its own page cache alone: what reaches the hypervisor.

A guest's page cache sees only the guest's own requests: which page it evicts, which pages
are dirty, what it swaps, depend on its request sequence, never on where its misses were
served. So one replay of a guest, without SimPy and without the hypervisor, gives what the
guest asks of the hypervisor at every pool size: its misses (gets), write-backs, clean
evictions (tmem puts), flushes and swap traffic, in the guest's own order. This module
mirrors `model/guest.py` request by request (the tests compare it with full runs).

Only the time of things differs between pool sizes (a host hit is faster than a disk read).
Whatever the guest does at a set time (the flusher, file churn, a workload phase switch),
or whatever races inside it (several threads, an open loop whose requests arrive while a
miss is outstanding), is placed on a reference clock: misses cost a nominal latency. That is
an approximation, measured against full runs; a guest with one closed-loop thread and none
of those timed features needs no clock and its log is exact.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ...caches import make_cache
from ...images import PAGE_BITS
from ...workloads.base import OP_ANON_WRITE
from .guest_log import (
    AT_ARRIVAL,
    AT_START,
    AT_TIME,
    EVICT,
    FLUSH,
    READ,
    REMOVAL,
    SWAP_FREE,
    SWAP_IN,
    SWAP_OUT,
    WRITE,
    Events,
    GuestLog,
    fill_disk_data,
)
from .sampling import keeps, sampled_start, sampled_weights
from .timed_replay import run_timed


@dataclass
class Clock:
    """Nominal latencies for the reference clock of timed guests (seconds)."""

    hit: float
    miss: float
    swap_in: float
    sync_write: float



class GuestReplay:
    """Replays one guest (index, spec, its disk and streams) with a page cache of `pages`.

    budget: requests at most; horizon: stop once the earliest any size could start the next
    request (min_latency per read miss) reaches it; record_accesses: keep the guest cache's
    access sequence (for the guest-memory axis).
    """

    def __init__(self, index: int, spec, gdisk, streams, contents, swap_file, churn_rng, *,
                 pages: int, budget: int | None, horizon: float, min_miss: float,
                 clock: Clock, record_accesses: bool = False, rate: float | None = None):
        self.index, self.spec, self.gdisk = index, spec, gdisk
        self.streams, self.contents = streams, contents
        self.cache = make_cache(spec.cache, pages)
        self.dirty: OrderedDict = OrderedDict()
        self.latest: dict = {}
        self.anon_dirty: set = set()
        self.slots: dict = {}
        self.cow = gdisk.kind == "cow"
        self.own_loc = gdisk.own << PAGE_BITS
        self.base_loc = (gdisk.base << PAGE_BITS) if self.cow else self.own_loc
        self.swap_loc = (swap_file << PAGE_BITS) if swap_file is not None else 0
        self.file_pages = spec.workload.file_pages
        self.sync = spec.workload.sync
        self.budget = budget if budget is not None else 1 << 62
        self.horizon = horizon
        self.min_miss = min_miss
        self.clock = clock
        self.churn = spec.workload.churn
        self.churn_rng = churn_rng
        self.ev = Events()
        self.calls = 0
        self.record = record_accesses
        self.rate = rate  # sampled pages only (SHARDS); None: every page
        self.acc: list = []
        self.acc_req: list = []
        self.req = 0  # index of the request being served
        self.background = False  # serving a background action (churn), not a request
        self.now = 0.0  # reference time of the current action (timed replays)
        switches = getattr(spec.workload, "switches", None)
        self.switches = switches() if switches else None
        self.closed = not spec.workload.open_loop()

    # ------------------------------------------------------------ entry

    def timed(self) -> bool:
        """Whether the replay needs the reference clock (see the module docstring)."""
        return (len(self.streams) > 1 or not self.closed or self.churn is not None
                or self.switches is not None)

    def run(self, flusher: bool) -> GuestLog:
        """flusher: place the flusher's write-backs on the reference clock (the caller decides
        whether it can fire before the run ends)."""
        if self.timed() or flusher:
            return run_timed(self, flusher)
        return self._run_fast()

    # ------------------------------------------------------------ the common case

    def _run_fast(self) -> GuestLog:
        """One closed-loop thread, nothing timed: the page cache's own sequence, exactly.

        A read miss and the clean eviction it causes, nearly all of the events, go to lists
        of their own (request, vpage, data); their location is derived afterwards."""
        stream = self.streams[0]
        misses, evictions = ([], [], []), ([], [], [])
        ops_all, gaps_all = [], []
        done = 0
        lower = 0.0  # the earliest the next request could start, at any pool size
        while done < self.budget and lower < self.horizon:
            ops, pages, gaps, dups = stream.next_chunk()
            n = min(len(ops), self.budget - done)
            if not n:
                break
            first_miss = len(misses[0])
            self._serve_chunk(ops, pages, dups, n, done, misses, evictions)
            op = np.asarray(ops[:n], dtype=np.int8)
            gap = np.asarray(gaps[:n], dtype=float)
            kept, lower = self._lower_bound(lower, gap, misses[0][first_miss:], done)
            ops_all.append(op[:kept])
            gaps_all.append(gap[:kept])
            done += kept
            if kept < n:
                break
        return self._fast_log(ops_all, gaps_all, misses, evictions)

    def _serve_chunk(self, ops, pages, dups, n: int, done: int, misses, evictions) -> None:
        """The page cache over the first n requests of a chunk (the first is request `done`):
        read misses and their clean evictions to the fast lists, the rest to the handlers.
        The hot loop of the common case: its names are bound to locals."""
        cache = self.cache
        cached, touch, insert = cache.members(), cache.toucher(), cache.insert
        latest, dirty = self.latest, self.dirty
        m_req, m_vpage, m_data = misses
        e_req, e_vpage, e_data = evictions
        record = self.record
        acc, acc_req = self.acc, self.acc_req
        for i in range(n):
            vpage = pages[i]
            if not ops[i]:
                if record:
                    acc.append(vpage)
                    acc_req.append(done + i)
                if vpage in cached:
                    touch(vpage)
                    continue
                m_req.append(done + i)
                m_vpage.append(vpage)
                m_data.append(latest.get(vpage, 0))
                victim = insert(vpage)
                if victim is None:
                    continue
                victim = victim[0]
                if victim < 0 or victim in dirty:
                    self.req = done + i
                    self.evict(victim, AT_ARRIVAL)
                else:
                    e_req.append(done + i)
                    e_vpage.append(victim)
                    e_data.append(latest.get(victim, 0))
            else:
                self.req = done + i
                self.other(ops[i], vpage, dups[i])

    def _lower_bound(self, lower: float, gap: np.ndarray, chunk_misses: list, done: int):
        """How many of a chunk's requests start before the horizon at every pool size (hits
        and other requests at the hit cost, misses at min_miss), and the bound after them."""
        lat = np.full(len(gap), self.clock.hit)
        lat[np.asarray(chunk_misses, dtype=np.int64) - done] = self.min_miss
        steps = np.cumsum(lat + gap)
        starts = lower + np.concatenate(([0.0], steps[:-1]))
        beyond = np.flatnonzero(starts >= self.horizon)
        if len(beyond):
            return int(beyond[0]), lower
        return len(gap), lower + steps[-1]

    def _fast_log(self, ops_all: list, gaps_all: list, misses, evictions) -> GuestLog:
        op = np.concatenate(ops_all) if ops_all else np.zeros(0, np.int8)
        gap = np.concatenate(gaps_all) if gaps_all else np.zeros(0)
        hit = op == 0
        m_req = np.asarray(misses[0], dtype=np.int64)
        hit[m_req[m_req < len(op)]] = False
        fast = (m_req, *(np.asarray(c, dtype=np.int64) for c in (*misses[1:], *evictions)))
        log = self.log(op, gap, np.zeros(len(op), np.int16), hit, None, exact=True, fast=fast)
        return log.trim(len(op))

    # ------------------------------------------------------------ requests (both replays)

    def _when(self, when: int) -> int:
        """Events of a background action (churn) happen at its own time."""
        return AT_TIME if self.background else when

    def other(self, op: int, page: int, dup) -> None:
        """A request other than a file read: a write, a truncate or an anonymous touch."""
        if op == 1:
            self._write(page, dup)
        elif op == 2:
            self.truncate(page)
        else:
            self.anon(page, op == OP_ANON_WRITE)

    def access(self, key: int) -> None:
        """Record a guest-cache access (when the access sequence is kept)."""
        if self.record:
            self.acc.append(key)
            self.acc_req.append(self.req)

    def evict(self, vpage: int, when: int) -> None:
        """Guest._evict: write back if dirty, then the eviction a tmem pool hears as a put."""
        if vpage < 0:
            self._swap_out(vpage, when)
            return
        data = self.latest.get(vpage, 0)
        if data and vpage in self.dirty:
            del self.dirty[vpage]
            self.ev.add(WRITE, self.req, self._when(when), self.now, vpage,
                        self.own_loc | vpage, data)
        loc = (self.base_loc if self.cow and not data else self.own_loc) | vpage
        self.ev.add(EVICT, self.req, self._when(when), self.now, vpage, loc, data)

    def location(self, vpage: int, written: bool) -> int:
        """Where a page's data lives: the base image for an unwritten page of a clone."""
        return (self.base_loc if self.cow and not written else self.own_loc) | vpage

    def _write(self, vpage: int, pooled, flushed: bool = False) -> None:
        self.access(vpage)
        serial = self.contents.new_write(self.index, vpage, pooled)
        was_written = vpage in self.latest
        self.latest[vpage] = serial
        cache = self.cache
        if not cache.get(vpage):
            if not flushed:
                self.calls += 1
                self.ev.add(FLUSH, self.req, self._when(AT_START), self.now, vpage,
                            self.location(vpage, was_written), 0, call=self.calls)
            victim = cache.insert(vpage)
            if victim is not None:
                self.evict(victim[0], AT_START)
        if self.sync:
            self.dirty.pop(vpage, None)
            self.ev.add(WRITE, self.req, self._when(AT_START), self.now, vpage,
                        self.own_loc | vpage, serial, 1)
        elif vpage not in self.dirty:
            self.dirty[vpage] = self.now

    def truncate(self, vpage: int) -> None:
        """Truncate and recreate the file holding vpage: every page flushed, then written."""
        first = vpage - vpage % self.file_pages
        last = min(first + self.file_pages, self.gdisk.pages)
        cache, dirty, latest = self.cache, self.dirty, self.latest
        self.calls += 1
        file = range(first, last)
        if self.rate is not None:  # a sampled replay holds only the sampled pages
            file = [p for p in file if keeps(p, self.rate)]
        for p in file:
            cache.remove(p)
            self.access(REMOVAL | p)
            dirty.pop(p, None)
            self.ev.add(FLUSH, self.req, self._when(AT_START), self.now, p,
                        self.location(p, p in latest), 0, call=self.calls)
        for p in file:
            self._write(p, False, flushed=True)

    def anon(self, apage: int, write: bool) -> None:
        """An anonymous page touched (written if `write`): swapped in if it was out."""
        key = -1 - apage
        self.access(key)
        if self.cache.get(key):
            if write:
                self._anon_write(key, apage)
            return
        if key in self.slots:
            self.ev.add(SWAP_IN, self.req, AT_START, self.now, apage, self.swap_loc | apage,
                        self.latest.get(key, 0))
        else:
            self.anon_dirty.add(key)
        victim = self.cache.insert(key)
        if victim is not None:
            self.evict(victim[0], AT_ARRIVAL)
        if write:
            self._anon_write(key, apage)

    def _anon_write(self, key: int, apage: int) -> None:
        self.latest[key] = self.contents.new_write(self.index, key, False)
        self.anon_dirty.add(key)
        if self.slots.pop(key, None) is not None:
            self.ev.add(SWAP_FREE, self.req, AT_START, self.now, apage, self.swap_loc | apage, 0)

    def _swap_out(self, key: int, when: int) -> None:
        if key not in self.anon_dirty:
            return
        self.anon_dirty.discard(key)
        self.slots[key] = True
        apage = -1 - key
        loc = self.swap_loc | apage
        data = self.latest.get(key, 0)
        self.ev.add(SWAP_OUT, self.req, self._when(when), self.now, apage, loc, data)

    def flush(self, t: float) -> None:
        """The flusher's pass at t: write back every page dirty since dirty_expire ago."""
        limit = t - self.spec.dirty_expire
        dirty = self.dirty
        while dirty:
            vpage, since = next(iter(dirty.items()))
            if since > limit:
                break
            dirty.popitem(last=False)
            self.ev.add(WRITE, self.req, AT_TIME, t, vpage, self.own_loc | vpage,
                        self.latest[vpage])

    # ------------------------------------------------------------ output

    def log(self, op, gap, thread, hit, ref_time, exact: bool, fast=None) -> GuestLog:
        """The GuestLog of the requests served; fast: the untimed replay's own lists."""
        cols = list(self.ev.arrays())
        rank = np.ones(len(cols[0]), dtype=np.int8)
        if fast is not None:
            # the fast lists' reads come first in their request, their evictions last
            m_req, m_vpage, m_data, e_req, e_vpage, e_data = fast
            parts = []
            for req, vpage, data, kind, when, r in ((m_req, m_vpage, m_data, READ, AT_START, 0),
                                                    (e_req, e_vpage, e_data, EVICT, AT_ARRIVAL,
                                                     2)):
                k = len(req)
                loc = np.where(self.cow & (data == 0), self.base_loc, self.own_loc) | vpage
                parts.append(([np.full(k, kind, np.int8), req, np.full(k, when, np.int8),
                               np.zeros(k), vpage, loc, data, np.zeros(k, np.int64),
                               np.full(k, -1, np.int64)], np.full(k, r, np.int8)))
            cols = [np.concatenate((parts[0][0][c], cols[c], parts[1][0][c]))
                    for c in range(len(cols))]
            rank = np.concatenate((parts[0][1], rank, parts[1][1]))
            order = np.lexsort((np.arange(len(rank)), rank, cols[1]))
            cols = [c[order] for c in cols]
        kind, req, when, time, vpage, loc, data, aux, call = cols
        fill_disk_data(kind, loc, data, aux)
        acc = np.asarray(self.acc, dtype=np.int64) if self.record else None
        acc_req = np.asarray(self.acc_req, dtype=np.int64) if self.record else None
        return GuestLog(op, gap, thread, hit, ref_time, self.closed, kind, req, when, time,
                        vpage, loc, data, aux, call, acc, acc_req, exact,
                        min(sampled_start(st) for st in self.streams),
                        sampled_weights(self.streams, len(op)))

