"""A guest: its page cache, dirty pages, threads or arrivals, and the flusher, on its own clock.

A guest serves requests on a local clock and only waits for its turn (model/turns.py) when its
next action is not earlier than the next event anywhere else (README, "Speed"): a page-cache
hit, or a miss whose completion is already known, costs no wake-up. `batched=False` yields to
SimPy before every action and must give identical results.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict

from ..caches import make_cache
from ..images import PAGE_BITS
from ..workloads.base import OP_ANON_WRITE, OP_TRUNCATE, OP_WRITE, OP_WRITE_PARTIAL
from .agenda import (
    ORDER_OPEN,
    ORDER_THREAD,
    Thread,
)
from .anon import AnonMemory
from .background import Background
from .clock import At
from .double_caching import DoubleCaching
from .file_writes import FileWrites
from .guest_readahead import GuestReadahead
from .hypervisor import unheard_eviction
from .metrics import LatencyHistogram

INF = float("inf")


class Guest(FileWrites, Background, DoubleCaching):
    """One guest's page cache, dirty pages, requests and background work, on its own clock.

    `config` is what the world laid out for it (GuestConfig); `observer` the little it needs of
    the world (config.Observer). Its anonymous memory is a companion (`anon`, model/anon.py);
    its file writes (file_writes.py), background work (background.py) and its part in the
    double-caching count (double_caching.py) are mixins.
    """

    def __init__(self, env, config, hypervisor, contents, observer):
        spec = config.spec
        self.env, self.index, self.name, self.spec = env, config.index, config.name, spec
        self.observer = observer  # .next_time: when counters are next read or reset
        self.checker = None  # under --check: called after every action, raises if broken
        self.ksm = None  # the host's page merging (model/ksm.py), if it scans this guest
        self.census = None  # the world's Census if the policy's census is by location
        self.gdisk, self.hv, self.contents = config.disk, hypervisor, contents
        self.rank, self.batched, self.horizon = config.rank, config.batched, config.horizon
        self.cache = make_cache(spec.cache, spec.cache_pages())
        self.dirty: OrderedDict = OrderedDict()  # vpage -> time it was first dirtied
        # vpage -> version (write serial) of the guest's last write: the oracle's truth
        self.versions: dict = {}
        self.anon = AnonMemory(self, config.swap_file)
        self.counters = hypervisor.counters[self.index]
        self.hist = LatencyHistogram()
        self._bind_hot_path(hypervisor, config.disk)
        self.sync = spec.workload.sync
        self.file_pages = spec.workload.file_pages
        self.remaining = config.budget if config.budget is not None else 1 << 62
        self.events = 0  # wake-ups: SimPy events (unbatched) or turns (model/turns.py)
        self.world = -INF  # in a turn: when the next event of anyone else is due (turns.py)
        self.last_end = 0.0  # when the guest's latest request completed
        self.open_serial = 0
        self.agenda: list = []
        # file page whose read is in flight (through the agenda) -> the reads that wait for it
        # (the page lock): (thread, started, gap)
        self.reading: dict = {}
        closed = not spec.workload.open_loop()
        self.threads = [Thread(ORDER_THREAD + i, s, closed) for i, s in enumerate(config.streams)]
        first = spec.workload.start_delay()  # a trace's time_shift
        for th in self.threads:
            if th.refill():
                th.serve = self._start  # until its first turn binds its server
                self.agenda.append((first, th.order, th.serve, th))
        self.schedule_background(config.churn_rng)
        heapq.heapify(self.agenda)

    def _bind_hot_path(self, hypervisor, gdisk) -> None:
        """What the hit loop and the miss path use, bound once (attribute lookups are most of
        a hit's cost)."""
        self.record = self.hist.record
        self.cached = self.cache.members()
        self.touch = self.cache.toucher()
        self.cache_insert = self.cache.insert
        self.hv_read = hypervisor.read
        self.hv_evicted = hypervisor.evicted
        # does the host hear of clean evictions (tmem puts)? else they leave without a word
        self.observed = hypervisor.policy.observes_evictions
        # a put's promised outcome: then it may wait in the hypervisor for its turn (put_later)
        self.put_outcome = hypervisor.put_waits(self.index)
        # GuestDisk.location, unrolled for the miss path
        self.cow = gdisk.kind == "cow"
        self.own_loc = gdisk.own << PAGE_BITS
        self.base_loc = (gdisk.base << PAGE_BITS) if self.cow else self.own_loc
        self.hit_cost = hypervisor.costs.guest_hit
        most = self.spec.readahead.pages()  # the guest reads ahead: its companion rebinds some
        self.ahead = GuestReadahead(self, most) if most > 1 else None

    # ------------------------------------------------------------ the SimPy process

    def process(self):
        """The unbatched engine's SimPy process, the reference: a SimPy event before every
        action. The batched engine gives guests turns without one (model/turns.py)."""
        env, agenda, rank = self.env, self.agenda, self.rank
        while agenda:
            t, order, action, arg = agenda[0]
            if self.stops_before(t, order):
                return
            self.events += 1
            yield At(env, t - env.now, rank)
            heapq.heappop(agenda)
            action(t, arg)
            if self.checker is not None:
                self.checker()

    def stops_before(self, t: float, order: int) -> bool:
        """True if the guest stops before its agenda's entry (t, order): the entry is past the
        horizon, or it is background work (order below every thread's), or the budget is spent,
        and no request is left to start or finish (requests_done)."""
        return t >= self.horizon or (order < ORDER_THREAD or self.remaining <= 0) and \
            self.requests_done()

    def requests_done(self) -> bool:
        """True once this guest will start or finish no more requests: its budget is spent or
        its streams ended, and none is in flight. What its agenda still holds then (a flusher
        pass, a balloon step, churn, a phase switch, a thread's turn with nothing left to ask)
        is dropped, so nothing of the guest's happens after its last request's end."""
        if self.remaining > 0 and not all(th.ended for th in self.threads):
            return False
        return all(isinstance(arg, Thread) for _, order, _, arg in self.agenda
                   if order >= ORDER_THREAD)  # a thread's turn is the entry that holds it

    # ------------------------------------------------------------ requests

    def _start(self, t: float, th: Thread, chosen: bool = True) -> float | None:
        """th's first turn. The world has wired the guest by now (its census, checker, KSM's
        scanner, the checked read), so th's server binds what its hot path needs, once."""
        th.serve = self._server(th)
        return th.serve(t, th, chosen)

    def _server(self, th: Thread):
        """th's server: `serve(t, th, chosen=True)` serves th's request due at t (the agenda
        chose it), then every following one that is due before anything else could interfere.

        A read hit touches only this guest's cache, so it need only wait for this guest's own
        agenda and the observer (`local`); anything that reaches the hypervisor (a miss, a write,
        a truncate) must also come before every other event of the world (`world`). A request
        the agenda chose is served whatever the bounds; one we resume is not.

        This is the one long function of tmemsim, on purpose: it is the hot path (a run spends
        most of its time here), and a Python call per request would cost more than the rest of
        a hit. So the read hit and the read miss are served inline, with everything they need
        bound in the server's closure; other operations (writes, truncates, anonymous memory)
        go to `_dispatch`. With many guests a turn is about one miss (model/turns.py), so what a
        call sets up is kept to the bounds and the thread's position: binding the rest once, in
        the closure, took 27% of a 16-guest run's instructions off (README, "Speed").
        """
        guest, batched = self, self.batched and self.checker is None
        observer, horizon, agenda, push, order = self.observer, self.horizon, self.agenda, heapq.heappush, th.order
        cached, touch, hit_cost, closed = self.cached, self.touch, self.hit_cost, th.closed
        # what a miss needs: the miss path is most of a run's time
        versions, dirty, observed, reading = self.versions, self.dirty, self.observed, self.reading
        base_loc, own_loc, cow = self.base_loc, self.own_loc, self.cow
        hv_read, cache_insert, record, index = self.hv_read, self.cache_insert, self.record, self.index
        census, ahead, counters = self.census, self.ahead, self.counters

        def serve(t: float, _th: Thread, chosen: bool = True) -> float | None:
            if batched:  # _bounds(), inlined: once a turn
                world, local = guest.world, observer.next_time
                if horizon < local:
                    local = horizon
                if agenda and agenda[0][0] < local:
                    local = agenda[0][0]
            else:
                local = world = -INF
            if not chosen and t >= local:
                guest.later(t, th)
                return
            ops, pages, gaps, i, n = th.ops, th.pages, th.gaps, th.i, th.n
            # The hit path is kept to a handful of bytecodes: requests are counted by index
            # (passed + i - base), misses and other ops in their own branches, and hits end in
            # the order they arrive, so the latest end among them is simply the last one's.
            budget = guest.remaining
            passed = 0  # requests served from chunks already left behind
            base = i
            stop = n if n - i <= budget else i + budget  # where the chunk or the budget ends
            misses = others = 0
            last = end = guest.last_end
            due = None
            while True:
                if i >= stop:
                    if i >= n:
                        passed += i - base
                        base = i
                        if not th.refill():
                            break
                        guest.hist.flush()
                        ops, pages, gaps, n = th.ops, th.pages, th.gaps, th.n
                        i = base = 0
                    if passed + i - base >= budget:  # the request budget is spent
                        break
                    left = budget - (passed + i - base)
                    stop = n if n - i <= left else i + left
                if ops[i]:
                    # the first request of a chosen run ignores the world bound
                    if t >= world and (passed + i - base or not chosen):
                        guest.later(t, th)
                        break
                    others += 1
                    end = guest._dispatch(t, th, i, local, world)
                    if end is None:  # the request ends later, through the agenda
                        end = last
                        if closed:
                            i += 1
                            break
                        local = min(local, agenda[0][0])
                    if end > last:
                        last = end
                else:
                    vpage = pages[i]
                    if vpage in cached:
                        touch(vpage)
                        end = t + hit_cost
                    else:
                        if t >= world and (passed + i - base or not chosen):
                            if t < horizon:  # later(t, th), inlined: a many-guest turn ends here
                                push(agenda, (t, order, serve, th))
                                if t < local:  # then this turn is the guest's next action
                                    due = t
                            break
                        if ahead is not None and vpage in ahead.marks:  # the readahead marker:
                            local = ahead.marked(t, vpage, local)  # next window, then this read
                            continue
                        misses += 1
                        if vpage in reading:  # another read is bringing it in: the page lock
                            reading[vpage].append((th, t, gaps[i]))
                            counters.page_lock_waits += 1
                            if closed:
                                i += 1
                                break
                            t += gaps[i]
                            i += 1
                            if t >= local:
                                guest.later(t, th)
                                break
                            continue
                        written = versions.get(vpage, 0)
                        loc = (base_loc if cow and not written else own_loc) | vpage
                        if ahead is None:
                            ready, data = hv_read(index, vpage, loc, t)
                        else:  # the page alone or with a window (model/guest_readahead.py)
                            ready, data, local = ahead.read(vpage, loc, t, local)
                        if data != written:
                            counters.stale_reads += 1
                        # The page goes in now if nothing can come before it arrives: this
                        # guest's agenda only, when its eviction can touch no one else (a
                        # transparent policy, a clean victim), else the world too. An open loop
                        # keeps arriving meanwhile, so its page waits in the agenda.
                        if closed and ready < (local if local < world else guest.entry_bound(local, world, vpage)):
                            victim = cache_insert(vpage)
                            if census is not None:  # census_update, inlined: one call a miss
                                out = None if victim is None or victim[0] < 0 else victim[0]
                                census.moved(index, loc, out if out is None else (
                                    base_loc if cow and out not in versions else own_loc) | out)
                            end = ready
                            # a clean file page leaves without a word unless evictions are observed
                            if victim is not None and (observed or victim[0] < 0 or victim[0] in dirty):
                                end += (guest.evict(ready, victim[0]) if ready < world or not observed
                                        else guest.put_later(ready, victim[0]))
                            record(end - t)
                        else:
                            reading[vpage] = []
                            guest.wait_for(ready, th, guest._finish, (th, vpage, t, gaps[i], data))
                            if closed:
                                i += 1
                                break
                            local = min(local, agenda[0][0])  # an open loop arrives on meanwhile
                t = (end if closed else t) + gaps[i]
                i += 1
                if t >= local:
                    guest.later(t, th)
                    break
            if end > last:
                last = end
            served = passed + i - base
            th.i = i
            guest.remaining -= served
            guest.last_end = last
            counters.guest_hits += served - others - misses
            counters.requests += served
            counters.reads += served - others
            return due

        return serve

    def _dispatch(self, t: float, th: Thread, i: int, local: float, world: float):
        """Request i of th's chunk, not a read: a write, a truncate or an anonymous touch.
        Returns when it ends, or None if it ends later, through the agenda."""
        op, page = th.ops[i], th.pages[i]
        if op == OP_WRITE or op == OP_WRITE_PARTIAL:
            return self.write(t, page, th.dups[i], partial=op == OP_WRITE_PARTIAL)
        if op == OP_TRUNCATE:
            return self.truncate(t, page)
        return self.anon.touch(t, page, op == OP_ANON_WRITE, th, th.gaps[i], local, world)

    def _bounds(self) -> tuple[float, float]:
        """(local, world): actions strictly before `local` cannot be disturbed in this guest;
        actions that touch shared state must also come strictly before `world`."""
        if not self.batched or self.checker is not None:
            return -INF, -INF
        local = min(self.observer.next_time, self.horizon)
        agenda = self.agenda
        if agenda and agenda[0][0] < local:
            local = agenda[0][0]
        return local, self.world

    def later(self, t: float, th: Thread) -> None:
        if t < self.horizon:
            heapq.heappush(self.agenda, (t, th.order, th.serve, th))

    def resume(self, t: float, th: Thread) -> None:
        """Continue th at t: now if nothing else can come first, else through the agenda."""
        if t < self._bounds()[0]:
            th.serve(t, th, False)
        else:
            self.later(t, th)

    def entry_bound(self, local: float, world: float, key: int) -> float:
        """The time before which a page may enter the cache at once: the local bound if its
        eviction touches no one else (a transparent policy, a victim that needs no write) or if
        its put may wait in the hypervisor (a clean file page, an outcome the policy promises:
        put_later), else also the world's. (A promise needs a pool without persistent pages,
        so anonymous pages, whose entry also asks here, never take that branch.)"""
        if local < world:
            return local
        dirty = self.dirty
        if self.observed:
            if self.put_outcome is None:
                return world
            victim = self.cache.next_victim(key)
            return local if victim is None or (victim >= 0 and victim not in dirty) else world
        anon_dirty = self.anon.dirty
        if not dirty and not anon_dirty:
            return local
        # Does inserting now evict something that must be written: a dirty file page, or an
        # anonymous page without a current swap copy? Until this guest's next action (the local
        # bound) no one else touches its cache, so the victim then is the victim now.
        victim = self.cache.next_victim(key)
        return local if victim is None or victim not in dirty and victim not in anon_dirty else world

    def wait_for(self, ready: float, th: Thread, action, arg) -> None:
        """A page arrives at `ready`, after something else may have happened: `action(ready, arg)`
        waits in the agenda. Each open-loop request gets its own order, after every thread."""
        order = th.order
        if not th.closed:
            self.open_serial += 1
            order = ORDER_OPEN + self.open_serial
        heapq.heappush(self.agenda, (ready, order, action, arg))

    def _finish(self, t, arg) -> None:
        th, vpage, started, gap, data = arg
        end = self._fill(t, vpage, data)
        self.last_end = end if end > self.last_end else self.last_end
        self.record(end - started)
        self.unlocked(t, vpage, self.reading.pop(vpage))
        if th.closed:
            self.resume(end + gap, th)

    def unlocked(self, t: float, vpage: int, waiters: list) -> None:
        """vpage arrived at t: the reads that waited on its page lock touch it now, each done at
        the arrival or a hit's cost after it started (counted in page_lock_waits, not in
        guest_hits; the latency is the wait)."""
        hit_cost, record, get = self.hit_cost, self.record, self.cache.get
        for waiter, since, gap in waiters:
            get(vpage)
            done = since + hit_cost if since + hit_cost > t else t
            record(done - since)
            self.last_end = done if done > self.last_end else self.last_end
            if waiter.closed:  # in the agenda before the first reader runs on, maybe past them
                self.later(done + gap, waiter)

    def _fill(self, t: float, vpage: int, data: int) -> float:
        """A miss's page arrived at t: insert it; returns when the request is done (puts too).

        Between the miss and now other requests of this guest ran (threads, open-loop arrivals).
        A read of the same page waited for this one (`reading`, the page lock); a write did not
        (it replaced the page in the cache), so the
        fill reconciles: a page cached meanwhile stays as it is, a page rewritten meanwhile is
        not replaced by the older bytes, and a copy that reached the private pool meanwhile
        (evicted and put) is flushed, so the guest and its pool never hold the same page. A
        private get is exclusive, so only such a put can have left a copy there; under `check`
        the world checks that at the get (World.checked_read), which this flush would hide.
        """
        cache = self.cache
        if vpage in cache:
            cache.get(vpage)
            return t
        cost = self.enter(t, vpage, data)
        return t if cost is None else t + cost

    def enter(self, t: float, vpage: int, data: int) -> float | None:
        """The bytes `data` of the uncached file page vpage arrived at t (a miss's read, a
        readahead's): they enter the cache unless the guest wrote the page since (older bytes
        never replace newer), after a copy in the private pool is flushed, and the victim
        leaves as any eviction does. Returns the CPU cost, or None if the page did not enter."""
        if data != self.versions.get(vpage, 0):
            return None
        cost = 0.0
        if self.observed and self.hv.holds_private(self.index, vpage, t):
            loc = self.gdisk.location(vpage, data != 0)
            cost = self.hv.invalidate(self.index, [(vpage, loc)], t)
        victim = self.cache.insert(vpage)
        if self.census is not None:
            self.census_update(vpage, victim)
        return cost if victim is None else cost + self.evict(t, victim[0])

    def evict(self, t: float, vpage: int) -> float:
        """A page leaves the cache: write it back if dirty, then (tmem) put it. Returns CPU cost."""
        if self.ksm is not None:
            self.ksm.left(self.index, vpage, t)
        if vpage < 0:
            return self.anon.swap_out(t, vpage)
        data = self.versions.get(vpage, 0)
        if data and vpage in self.dirty:
            del self.dirty[vpage]
            self.hv.write(self.index, vpage, self.own_loc | vpage, data, t)
        if not self.observed:
            return 0.0
        loc = (self.base_loc if self.cow and not data else self.own_loc) | vpage
        return self.hv_evicted(self.index, vpage, loc, data, t)

    def put_later(self, t: float, vpage: int) -> float:
        """The clean file page vpage leaves the cache at t and its put waits in the hypervisor
        until its turn (the policy promised its outcome). Returns the guest's CPU cost."""
        data = self.versions.get(vpage, 0)
        loc = (self.base_loc if self.cow and not data else self.own_loc) | vpage
        return self.hv.put_later(self.index, vpage, loc, data, t, self.put_outcome)

    def observe_merging(self, ksm) -> None:
        """The host merges this guest's pages (KSM): it must hear of every page that leaves,
        so every eviction goes through evict(), clean ones too; a policy that does not
        observe evictions still hears nothing of them."""
        self.ksm = ksm
        if not self.observed:
            self.observed = True
            self.hv_evicted = unheard_eviction

    # ------------------------------------------------------------ memory balancing

    def shrink_cache(self, pages: int, t: float) -> None:
        """Give up `pages` pages of page cache at t (ballooning down): what no longer fits
        leaves as any eviction does (written back if dirty, put if the host observes it)."""
        for victim in self.cache.resize(self.cache.capacity - pages):
            if self.census is not None:
                self.census_update(None, victim)
            self.evict(t, victim[0])

    def grow_cache(self, pages: int) -> None:
        """Take `pages` more pages of page cache (ballooning up)."""
        self.cache.resize(self.cache.capacity + pages)
