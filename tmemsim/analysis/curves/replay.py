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

import heapq
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ...caches import make_cache
from ...images import PAGE_BITS
from ...workloads.base import OP_ANON_WRITE
from .sampling import keeps, sampled_start, sampled_weights

# host events, in the guest's order
READ = 0  # a file page-cache miss: hypervisor read (a get under tmem)
WRITE = 1  # a write reaching the host: write-back, flusher, O_SYNC write, swap to disk
EVICT = 2  # a file page left the cache (a tmem put; transparent policies hear nothing)
FLUSH = 3  # the guest dropped a page's contents (write to an uncached page, truncate)
SWAP_OUT = 4  # an anonymous page leaves memory: frontswap, else the swap disk
SWAP_IN = 5  # a swapped-out anonymous page is touched
SWAP_FREE = 6  # an anonymous page was rewritten: its swap copy is dropped

# when an event happens, relative to its request
AT_START = 0  # when the request starts
AT_ARRIVAL = 1  # when the page the request waited for arrives (puts and write-backs of a miss)
AT_TIME = 2  # at a time of its own on the reference clock (the flusher, churn)

REMOVAL = 1 << 61  # in the access sequence: the page was removed (a truncate)

# the timed replay's agenda: ties at one time go in the model's order (model/guest.py)
ORDER_FLUSH, ORDER_CHURN, ORDER_PHASE, ORDER_THREAD = 0, 1, 3, 16
ORDER_OPEN = 1 << 40
_REQUEST, _FLUSHER, _CHURN, _PHASE, _ARRIVAL = range(5)  # what an agenda entry does


@dataclass
class Clock:
    """Nominal latencies for the reference clock of timed guests (seconds)."""

    hit: float
    miss: float
    swap_in: float
    sync_write: float


@dataclass
class GuestLog:
    """A guest's replay. Per request: op, gap after it, thread, whether a read (or anonymous
    touch) hit the guest cache, and its reference start time (timed replays only). Per host
    event: kind, request, when (AT_*), reference time, vpage, location, data, aux (see below)
    and the invalidate call it belongs to (flushes: one hypercall per call)."""

    op: np.ndarray
    gap: np.ndarray
    thread: np.ndarray
    hit: np.ndarray
    ref_time: np.ndarray | None
    closed: bool
    ev_kind: np.ndarray
    ev_req: np.ndarray
    ev_when: np.ndarray
    ev_time: np.ndarray
    ev_vpage: np.ndarray
    ev_loc: np.ndarray
    ev_data: np.ndarray
    ev_aux: np.ndarray  # READ, SWAP_IN: the data the disk holds there; WRITE: 1 if O_SYNC
    ev_call: np.ndarray
    accesses: np.ndarray | None  # guest-cache keys in access order (REMOVAL | key: removed)
    access_req: np.ndarray | None
    exact: bool  # no reference clock was needed
    start: float = 0.0  # when the first request comes (sampled streams: the first kept one)
    weight: np.ndarray | None = None  # sampled: original reads each request stands for

    @property
    def requests(self) -> int:
        return len(self.op)

    def trim(self, n: int) -> GuestLog:
        """The log of the first n requests (and of their events only)."""
        keep = self.ev_req < n
        acc = None if self.accesses is None else self.access_req < n
        return GuestLog(
            self.op[:n], self.gap[:n], self.thread[:n], self.hit[:n],
            None if self.ref_time is None else self.ref_time[:n], self.closed,
            *(a[keep] for a in (self.ev_kind, self.ev_req, self.ev_when, self.ev_time,
                                self.ev_vpage, self.ev_loc, self.ev_data, self.ev_aux,
                                self.ev_call)),
            None if acc is None else self.accesses[acc],
            None if acc is None else self.access_req[acc], self.exact, self.start,
            None if self.weight is None else self.weight[:n])


class _Events:
    """Column lists of host events, appended to one event at a time."""

    def __init__(self):
        self.kind, self.req, self.when, self.time = [], [], [], []
        self.vpage, self.loc, self.data, self.aux, self.call = [], [], [], [], []

    def add(self, kind, req, when, time, vpage, loc, data, aux=0, call=-1):
        self.kind.append(kind)
        self.req.append(req)
        self.when.append(when)
        self.time.append(time)
        self.vpage.append(vpage)
        self.loc.append(loc)
        self.data.append(data)
        self.aux.append(aux)
        self.call.append(call)

    def arrays(self):
        i64 = np.int64
        return (np.asarray(self.kind, dtype=np.int8), np.asarray(self.req, dtype=i64),
                np.asarray(self.when, dtype=np.int8), np.asarray(self.time, dtype=float),
                np.asarray(self.vpage, dtype=i64), np.asarray(self.loc, dtype=i64),
                np.asarray(self.data, dtype=i64), np.asarray(self.aux, dtype=i64),
                np.asarray(self.call, dtype=i64))


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
        self.ev = _Events()
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
            return self._run_timed(flusher)
        return self._run_fast()

    # ------------------------------------------------------------ the common case

    def _run_fast(self) -> GuestLog:
        """One closed-loop thread, nothing timed: the page cache's own sequence, exactly.

        A read miss and the clean eviction it causes, nearly all of the events, go to lists
        of their own (request, vpage, data); their location is derived afterwards."""
        stream = self.streams[0]
        cache = self.cache
        cached, touch, insert = cache.members(), cache.toucher(), cache.insert
        latest, dirty = self.latest, self.dirty
        ops_all, gaps_all = [], []
        m_req, m_vpage, m_data = [], [], []
        e_req, e_vpage, e_data = [], [], []
        done = 0
        lower = 0.0  # the earliest the next request could start, at any pool size
        hit_cost, min_miss = self.clock.hit, self.min_miss
        record = self.record
        acc, acc_req = self.acc, self.acc_req
        while done < self.budget and lower < self.horizon:
            ops, pages, gaps, dups = stream.next_chunk()
            n = len(ops)
            if not n:
                break
            n = min(n, self.budget - done)
            first_miss = len(m_req)
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
                        self._evict(victim, AT_ARRIVAL)
                    else:
                        e_req.append(done + i)
                        e_vpage.append(victim)
                        e_data.append(latest.get(victim, 0))
                else:
                    self.req = done + i
                    self._other(ops[i], vpage, dups[i])
            op = np.asarray(ops[:n], dtype=np.int8)
            gap = np.asarray(gaps[:n], dtype=float)
            ops_all.append(op)
            gaps_all.append(gap)
            # the lower bound: hits and other requests at the hit cost, misses at min_miss
            lat = np.full(n, hit_cost)
            lat[np.asarray(m_req[first_miss:], dtype=np.int64) - done] = min_miss
            steps = np.cumsum(lat + gap)
            starts = lower + np.concatenate(([0.0], steps[:-1]))
            beyond = np.flatnonzero(starts >= self.horizon)
            if len(beyond):
                ops_all[-1] = op[:beyond[0]]
                gaps_all[-1] = gap[:beyond[0]]
                done += int(beyond[0])
                break
            lower += steps[-1]
            done += n
        op = np.concatenate(ops_all) if ops_all else np.zeros(0, np.int8)
        gap = np.concatenate(gaps_all) if gaps_all else np.zeros(0)
        hit = op == 0
        misses = np.asarray(m_req, dtype=np.int64)
        hit[misses[misses < len(op)]] = False
        fast = (misses, np.asarray(m_vpage, dtype=np.int64), np.asarray(m_data, dtype=np.int64),
                np.asarray(e_req, dtype=np.int64), np.asarray(e_vpage, dtype=np.int64),
                np.asarray(e_data, dtype=np.int64))
        log = self._log(op, gap, np.zeros(len(op), np.int16), hit, None, exact=True, fast=fast)
        return log.trim(len(op))

    # ------------------------------------------------------------ requests (both replays)

    def _read_miss(self, vpage: int) -> None:
        """A file read the page cache missed: get, then the page enters (AT_ARRIVAL)."""
        written = self.latest.get(vpage, 0)
        loc = (self.base_loc if self.cow and not written else self.own_loc) | vpage
        self.ev.add(READ, self.req, AT_START, self.now, vpage, loc, written)
        victim = self.cache.insert(vpage)
        if victim is not None:
            self._evict(victim[0], AT_ARRIVAL)

    def _when(self, when: int) -> int:
        """Events of a background action (churn) happen at its own time."""
        return AT_TIME if self.background else when

    def _other(self, op: int, page: int, dup) -> None:
        if op == 1:
            self._write(page, dup)
        elif op == 2:
            self._truncate(page)
        else:
            self._anon(page, op == OP_ANON_WRITE)

    def _access(self, key: int) -> None:
        if self.record:
            self.acc.append(key)
            self.acc_req.append(self.req)

    def _evict(self, vpage: int, when: int) -> None:
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

    def _location(self, vpage: int, written: bool) -> int:
        return (self.base_loc if self.cow and not written else self.own_loc) | vpage

    def _write(self, vpage: int, pooled, flushed: bool = False) -> None:
        self._access(vpage)
        serial = self.contents.new_write(self.index, vpage, pooled)
        was_written = vpage in self.latest
        self.latest[vpage] = serial
        cache = self.cache
        if not cache.get(vpage):
            if not flushed:
                self.calls += 1
                self.ev.add(FLUSH, self.req, self._when(AT_START), self.now, vpage,
                            self._location(vpage, was_written), 0, call=self.calls)
            victim = cache.insert(vpage)
            if victim is not None:
                self._evict(victim[0], AT_START)
        if self.sync:
            self.dirty.pop(vpage, None)
            self.ev.add(WRITE, self.req, self._when(AT_START), self.now, vpage,
                        self.own_loc | vpage, serial, 1)
        elif vpage not in self.dirty:
            self.dirty[vpage] = self.now

    def _truncate(self, vpage: int) -> None:
        first = vpage - vpage % self.file_pages
        last = min(first + self.file_pages, self.gdisk.pages)
        cache, dirty, latest = self.cache, self.dirty, self.latest
        self.calls += 1
        file = range(first, last)
        if self.rate is not None:  # a sampled replay holds only the sampled pages
            file = [p for p in file if keeps(p, self.rate)]
        for p in file:
            cache.remove(p)
            self._access(REMOVAL | p)
            dirty.pop(p, None)
            self.ev.add(FLUSH, self.req, self._when(AT_START), self.now, p,
                        self._location(p, p in latest), 0, call=self.calls)
        for p in file:
            self._write(p, False, flushed=True)

    def _anon(self, apage: int, write: bool) -> None:
        key = -1 - apage
        self._access(key)
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
            self._evict(victim[0], AT_ARRIVAL)
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

    # ------------------------------------------------------------ timed replays

    def _run_timed(self, flusher: bool) -> GuestLog:
        """Threads, open loops, the flusher, churn and phases on the reference clock."""
        clock = self.clock
        agenda: list = []
        threads = []
        for k, stream in enumerate(self.streams):
            th = _Thread(ORDER_THREAD + k, stream)
            if th.refill():
                threads.append(th)
                agenda.append((0.0, th.order, _REQUEST, th))
        spec = self.spec
        if flusher and spec.writeback_interval > 0:
            agenda.append((spec.writeback_interval, ORDER_FLUSH, _FLUSHER, None))
        churn_times = self.churn.times(self.churn_rng) if self.churn is not None else None
        if churn_times is not None:
            self.files = max(spec.workload.footprint_pages() // self.file_pages, 1)
            t = next(churn_times)
            if t < self.horizon:
                agenda.append((t, ORDER_CHURN, _CHURN, None))
        if self.switches is not None:
            nxt = next(self.switches, None)
            if nxt is not None and nxt[0] < self.horizon:
                agenda.append((nxt[0], ORDER_PHASE, _PHASE, nxt[1:]))
        heapq.heapify(agenda)
        ops_l, gaps_l, thr_l, hit_l, time_l = [], [], [], [], []
        open_serial = 0
        served = 0
        while agenda and served < self.budget:
            t, order, action, arg = heapq.heappop(agenda)
            if t >= self.horizon:
                break
            self.now = t
            if action == _REQUEST:  # a thread's next request
                th = arg
                if th.i >= th.n and not th.refill():
                    continue
                i = th.i
                th.i += 1
                op, page, gap = th.ops[i], th.pages[i], th.gaps[i]
                self.req = served
                served += 1
                ops_l.append(op)
                gaps_l.append(gap)
                thr_l.append(th.order - ORDER_THREAD)
                time_l.append(t)
                hit = False
                end = t + clock.hit
                if op == 0:
                    self._access(page)
                    if page in self.cache:
                        self.cache.get(page)
                        hit = True
                    else:
                        written = self.latest.get(page, 0)
                        loc = self._location(page, bool(written))
                        self.ev.add(READ, self.req, AT_START, t, page, loc, written)
                        ready = t + clock.miss
                        open_serial += 1
                        heapq.heappush(agenda, (ready, th.order if self.closed else
                                                ORDER_OPEN + open_serial, _ARRIVAL,
                                                (th, page, written, self.req, gap)))
                        if self.closed:
                            hit_l.append(False)
                            continue
                elif op == OP_ANON_WRITE or op == 3:
                    key = -1 - page
                    hit = key in self.cache
                    if not hit and key in self.slots:
                        end = t + clock.swap_in
                    self._anon(page, op == OP_ANON_WRITE)
                else:
                    self._other(op, page, th.dups[i])
                    if op == 1 and self.sync:
                        end = t + clock.sync_write
                hit_l.append(hit)
                nxt = (end if self.closed else t) + gap
                if nxt < self.horizon:
                    heapq.heappush(agenda, (nxt, th.order, _REQUEST, th))
            elif action == _ARRIVAL:  # a missed page arrives
                th, page, data, req, gap = arg
                self.req, saved = req, self.req
                if page in self.cache:
                    self.cache.get(page)
                elif data == self.latest.get(page, 0):
                    victim = self.cache.insert(page)
                    if victim is not None:
                        self._evict(victim[0], AT_ARRIVAL)
                self.req = saved
                if self.closed and t + gap < self.horizon:
                    heapq.heappush(agenda, (t + gap, th.order, _REQUEST, th))
            elif action == _FLUSHER:
                self._flush(t)
                if served < self.budget and any(not th.ended for th in threads):
                    heapq.heappush(agenda, (t + spec.writeback_interval, ORDER_FLUSH, _FLUSHER,
                                            None))
            elif action == _CHURN:  # truncate and recreate one file
                file = int(self.churn_rng.integers(self.files))
                self.req, self.background = max(served - 1, 0), True
                self._truncate(file * self.file_pages)
                self.background = False
                t2 = next(churn_times)
                if t2 < self.horizon and served < self.budget:
                    heapq.heappush(agenda, (t2, ORDER_CHURN, _CHURN, None))
            elif action == _PHASE:  # every thread switches to the next phase's stream
                for th in threads:
                    th.stream.switch(*arg)
                    if not th.ended:
                        th.refill()
                nxt = next(self.switches, None)
                if nxt is not None and nxt[0] < self.horizon:
                    heapq.heappush(agenda, (nxt[0], ORDER_PHASE, _PHASE, nxt[1:]))
        op = np.asarray(ops_l, dtype=np.int8)
        hit = np.asarray(hit_l, dtype=bool)
        return self._log(op, np.asarray(gaps_l, dtype=float), np.asarray(thr_l, dtype=np.int16),
                         hit, np.asarray(time_l, dtype=float), exact=False)

    def _flush(self, t: float) -> None:
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

    def _log(self, op, gap, thread, hit, ref_time, exact: bool, fast=None) -> GuestLog:
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


def fill_disk_data(kind, loc, data, aux) -> None:
    """Fill aux of every read (READ, SWAP_IN) with the data its location holds on the disk:
    that of the latest write (write-back, O_SYNC write, swap-out) to it before, else 0."""
    reads = (kind == READ) | (kind == SWAP_IN)
    writes = (kind == WRITE) | (kind == SWAP_OUT)
    at = np.flatnonzero(reads | writes)
    if not len(at) or not writes.any():
        aux[reads] = 0
        return
    order = at[np.argsort(loc[at], kind="stable")]  # by location, in time within each
    where = loc[order]
    start = np.concatenate(([True], where[1:] != where[:-1]))
    pos = np.arange(len(order))
    last_write = np.where(writes[order], pos, -1)
    last_write = np.maximum.accumulate(last_write)
    group_start = np.maximum.accumulate(np.where(start, pos, 0))
    valid = last_write >= group_start
    value = np.where(valid, data[order][np.maximum(last_write, 0)], 0)
    is_read = reads[order]
    aux[order[is_read]] = value[is_read]


class _Thread:
    __slots__ = ("order", "stream", "ops", "pages", "gaps", "dups", "i", "n", "ended")

    def __init__(self, order: int, stream):
        self.order, self.stream = order, stream
        self.ops = self.pages = self.gaps = self.dups = ()
        self.i = self.n = 0
        self.ended = False

    def refill(self) -> bool:
        self.ops, self.pages, self.gaps, self.dups = self.stream.next_chunk()
        self.i, self.n = 0, len(self.ops)
        self.ended = self.n == 0
        return not self.ended
