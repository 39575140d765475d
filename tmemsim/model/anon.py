"""A guest's anonymous memory and swap: the Guest's companion.

Anonymous pages share the page cache with file pages (one replacement list; no swappiness
bias), keyed -1 - apage there and in the guest's versions. A page keeps its swap slot after a
swap-in (Linux's swap cache), so a clean page leaves again without I/O; a write dirties it and
frees the slot. As with a file miss, the page enters (and evicts one) when it arrives; the
eviction's I/O goes to the disks then, in time order with everyone else's.
"""

from __future__ import annotations

from ..images import PAGE_BITS


class AnonMemory:
    """The anonymous pages of one guest: which are dirty, which have a swap slot, which are
    on their way in; the guest's cache, versions and agenda are the guest's own."""

    __slots__ = ("guest", "dirty", "slots", "arriving", "swap_loc", "committed")

    def __init__(self, guest, swap_file: int | None):
        self.guest = guest
        self.dirty: set = set()  # resident anonymous pages whose swap copy is stale or none
        self.slots: dict = {}  # anonymous keys with a swap slot holding their latest data
        # anonymous key whose fault waits in the agenda -> the faults of other requests that
        # wait for the same page: (thread, write, started, gap)
        self.arriving: dict = {}
        self.swap_loc = (swap_file << PAGE_BITS) if swap_file is not None else 0
        self.committed = 0  # anonymous pages ever touched (the model never frees them)

    def touch(self, t: float, apage: int, write: bool, th, gap: float, local: float,
              world: float) -> float | None:
        """Touch an anonymous page: a hit, a zero-fill on first touch, or a swap-in. Returns when
        the request is done, or None if the page comes in later, through the agenda."""
        g = self.guest
        c = g.counters
        c.anon_touches += 1
        key = -1 - apage
        if g.cache.get(key):
            end = t + g.hit_cost
            if write:
                if g.ksm is not None:  # a merged page breaks away: a COW fault
                    end += g.ksm.written(g.index, key, t)
                self.write(key, apage)
            c.anon_latency_s += end - t
            return end
        waiting = self.arriving.get(key)
        if waiting is not None:  # another request's fault brings the page in: wait for it
            waiting.append((th, write, t, gap))
            return None
        arrives = t + g.hit_cost
        if key in self.slots:
            c.swap_ins += 1
            done, data, in_memory = g.hv.swap_in(g.index, apage, self.swap_loc | apage, t)
            if data != g.versions.get(key, 0):
                c.stale_reads += 1
            c.swap_ins_memory += in_memory
            arrives = max(arrives, done)
        else:
            c.zero_fills += 1
            self.committed += 1
            self.dirty.add(key)  # a fresh anonymous page exists only in memory
        if th.closed and arrives < g.entry_bound(local, world, key):
            return self.enter(arrives, key, apage, write, t)
        self.arriving[key] = []
        g.wait_for(arrives, th, self.arrived, (th, key, apage, write, t, gap))
        return None

    def arrived(self, t: float, arg) -> None:
        """A faulted anonymous page arrives at t: it enters, and every request that faulted on it
        meanwhile touches it now (its write lands after the first fault's)."""
        g = self.guest
        th, key, apage, write, started, gap = arg
        waiters = self.arriving.pop(key)
        end = self.enter(t, key, apage, write, started)
        g.last_end = end if end > g.last_end else g.last_end
        for waiter, wrote, since, pause in waiters:
            g.cache.get(key)
            if wrote:
                self.write(key, apage)
            done = max(t, since + g.hit_cost)
            g.counters.anon_latency_s += done - since
            g.last_end = done if done > g.last_end else g.last_end
            if waiter.closed:  # in the agenda before th runs on, which may run past them
                g.later(done + pause, waiter)
        if th.closed:
            g.resume(end + gap, th)

    def enter(self, t: float, key: int, apage: int, write: bool, started: float) -> float:
        """An anonymous page faulted at `started` is in memory at t: it enters the cache, then
        the write, if any, lands."""
        g = self.guest
        end = t
        # never cached by now: a fault on a page already arriving waits for it (self.arriving)
        victim = g.cache.insert(key)
        if g.census is not None:
            g.census_update(None, victim)
        if victim is not None:
            end += g.evict(t, victim[0])
        if write:
            self.write(key, apage)
        g.counters.anon_latency_s += end - started
        return end

    def write(self, key: int, apage: int) -> None:
        g = self.guest
        g.versions[key] = g.contents.new_write(g.index, key, False)
        self.dirty.add(key)
        if self.slots.pop(key, None) is not None:
            g.hv.swap_free(g.index, apage)

    def swap_out(self, t: float, key: int) -> float:
        """An anonymous page leaves memory: written to swap (frontswap first) unless its swap
        slot already holds this version. Returns the guest's CPU cost."""
        if key not in self.dirty:
            return 0.0
        g = self.guest
        self.dirty.discard(key)
        self.slots[key] = True
        g.counters.swap_outs += 1
        apage = -1 - key
        return g.hv.swap_out(g.index, apage, self.swap_loc | apage, g.versions.get(key, 0), t)
