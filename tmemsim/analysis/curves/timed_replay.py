"""A guest's replay on the reference clock: several threads, open loops, the flusher, file
churn and workload phases (see replay.py's docstring).

An agenda orders what happens, as the model's does (model/guest.py): a thread's next request,
a missed page's arrival, the flusher's pass, a churn (truncate and recreate one file) and a
phase switch, ties at one time in the model's order. The page cache itself is GuestReplay's.
"""

from __future__ import annotations

import heapq

import numpy as np

from ...model.agenda import (
    ORDER_CHURN,
    ORDER_FLUSH,
    ORDER_OPEN,
    ORDER_PHASE,
    ORDER_THREAD,
    Thread,
)
from ...workloads.base import OP_ANON_WRITE
from .guest_log import AT_ARRIVAL, AT_START, READ, GuestLog

# the agenda's ties at one time go in the model's order (model/guest.py)
_REQUEST, _FLUSHER, _CHURN, _PHASE, _ARRIVAL = range(5)  # what an agenda entry does


def run_timed(replay, flusher: bool) -> GuestLog:
    """The log of `replay` (a GuestReplay) on the reference clock; flusher: place the
    flusher's write-backs on it too.

    The loop stays whole: a thread's request, nearly every agenda entry, is served inline
    with its names bound to locals (split into a method per action, the timed replay of
    quickstart.yaml's first guest took 0.76 s of CPU instead of 0.58 s); the rarer entries go
    to _Agenda."""
    r = replay
    plan = _Agenda(r, flusher)
    agenda = plan.agenda
    clock, cache, latest, slots, ev = r.clock, r.cache, r.latest, r.slots, r.ev
    closed, horizon, budget = r.closed, r.horizon, r.budget
    ops_l, gaps_l, thr_l, hit_l, time_l = [], [], [], [], []
    open_serial = served = 0
    while agenda and served < budget:
        t, order, action, arg = heapq.heappop(agenda)
        if t >= horizon:
            break
        r.now = t
        if action != _REQUEST:
            plan.serve(action, t, arg, served)
            continue
        th = arg
        if th.i >= th.n and not th.refill():
            continue
        i = th.i
        th.i += 1
        op, page, gap = th.ops[i], th.pages[i], th.gaps[i]
        r.req = served
        served += 1
        ops_l.append(op)
        gaps_l.append(gap)
        thr_l.append(th.order - ORDER_THREAD)
        time_l.append(t)
        hit = False
        end = t + clock.hit
        if op == 0:
            r.access(page)
            if page in cache:
                cache.get(page)
                hit = True
            else:
                written = latest.get(page, 0)
                ev.add(READ, r.req, AT_START, t, page, r.location(page, bool(written)), written)
                open_serial += 1
                heapq.heappush(agenda, (t + clock.miss, th.order if closed else
                                        ORDER_OPEN + open_serial, _ARRIVAL,
                                        (th, page, written, r.req, gap)))
                if closed:
                    hit_l.append(False)
                    continue
        elif op == OP_ANON_WRITE or op == 3:
            key = -1 - page
            hit = key in cache
            if not hit and key in slots:
                end = t + clock.swap_in
            r.anon(page, op == OP_ANON_WRITE)
        else:
            r.other(op, page, th.dups[i])
            if op == 1 and r.sync:
                end = t + clock.sync_write
        hit_l.append(hit)
        nxt = (end if closed else t) + gap
        if nxt < horizon:
            heapq.heappush(agenda, (nxt, th.order, _REQUEST, th))
    return r.log(np.asarray(ops_l, dtype=np.int8), np.asarray(gaps_l, dtype=float),
                 np.asarray(thr_l, dtype=np.int16), np.asarray(hit_l, dtype=bool),
                 np.asarray(time_l, dtype=float), exact=False)


class _Agenda:
    """A timed replay's agenda, and every entry but a thread's request: a missed page's
    arrival, the flusher's pass, a churn and a phase switch."""

    def __init__(self, replay, flusher: bool):
        self.replay = replay
        self.agenda: list = []
        self.threads: list = []
        self.served = 0  # requests served so far (set by serve)
        self.churn_times = None
        self.files = 1
        self._schedule_first(flusher)

    def _schedule_first(self, flusher: bool) -> None:
        """Every thread's first request, and the first flusher pass, churn and phase switch."""
        r, agenda = self.replay, self.agenda
        for k, stream in enumerate(r.streams):
            th = Thread(ORDER_THREAD + k, stream, r.closed)
            if th.refill():
                self.threads.append(th)
                agenda.append((0.0, th.order, _REQUEST, th))
        spec = r.spec
        if flusher and spec.writeback_interval > 0:
            agenda.append((spec.writeback_interval, ORDER_FLUSH, _FLUSHER, None))
        if r.churn is not None:
            self.churn_times = r.churn.times(r.churn_rng)
            self.files = max(spec.workload.footprint_pages() // r.file_pages, 1)
            t = next(self.churn_times)
            if t < r.horizon:
                agenda.append((t, ORDER_CHURN, _CHURN, None))
        if r.switches is not None:
            nxt = next(r.switches, None)
            if nxt is not None and nxt[0] < r.horizon:
                agenda.append((nxt[0], ORDER_PHASE, _PHASE, nxt[1:]))
        heapq.heapify(agenda)

    def serve(self, action: int, t: float, arg, served: int) -> None:
        """Serve one entry other than a request, `served` requests having been served."""
        self.served = served
        if action == _ARRIVAL:
            self._arrival(t, arg)
        elif action == _FLUSHER:
            self._flusher(t, arg)
        elif action == _CHURN:
            self._churn(t, arg)
        else:
            self._phase(t, arg)

    def _arrival(self, t: float, arg) -> None:
        """A missed page arrives: it enters the cache unless rewritten meanwhile."""
        r = self.replay
        th, page, data, req, gap = arg
        r.req, saved = req, r.req
        if page in r.cache:
            r.cache.get(page)
        elif data == r.latest.get(page, 0):
            victim = r.cache.insert(page)
            if victim is not None:
                r.evict(victim[0], AT_ARRIVAL)
        r.req = saved
        if r.closed and t + gap < r.horizon:
            heapq.heappush(self.agenda, (t + gap, th.order, _REQUEST, th))

    def _flusher(self, t: float, _arg) -> None:
        r = self.replay
        r.flush(t)
        if self.served < r.budget and any(not th.ended for th in self.threads):
            heapq.heappush(self.agenda, (t + r.spec.writeback_interval, ORDER_FLUSH, _FLUSHER,
                                         None))

    def _churn(self, t: float, _arg) -> None:
        """Truncate and recreate one file."""
        r = self.replay
        file = int(r.churn_rng.integers(self.files))
        r.req, r.background = max(self.served - 1, 0), True
        r.truncate(file * r.file_pages)
        r.background = False
        t2 = next(self.churn_times)
        if t2 < r.horizon and self.served < r.budget:
            heapq.heappush(self.agenda, (t2, ORDER_CHURN, _CHURN, None))

    def _phase(self, t: float, arg) -> None:
        """Every thread switches to the next phase's stream."""
        r = self.replay
        for th in self.threads:
            th.stream.switch(*arg)
            if not th.ended:
                th.refill()
        nxt = next(r.switches, None)
        if nxt is not None and nxt[0] < r.horizon:
            heapq.heappush(self.agenda, (nxt[0], ORDER_PHASE, _PHASE, nxt[1:]))
