"""A guest's file writes: writes into the page cache, truncates, and the flusher.

A mixin of Guest (model/guest.py), which holds the state; kept apart so the guest's module
stays about serving requests.
"""

from __future__ import annotations

import heapq

from .agenda import ORDER_FLUSH


class FileWrites:
    """Writes, truncates and the flusher, on the guest's page cache and dirty list."""

    def write(self, t: float, vpage: int, pooled: bool, flushed: bool = False,
               io_at: float | None = None, partial: bool = False) -> float:
        """A write into the page cache, dirty (or through to the host if sync).

        flushed: the host has just dropped every copy of the page (a truncate's object flush).
        io_at: when the I/O it causes reaches the host, if not at t (see truncate).
        partial: the write covers part of the page: a page not cached is read first, through
        the policy (read-modify-write, as Linux does; a whole-page write reads nothing). The
        page enters the cache at once and the write ends when the read has arrived (README,
        Simplifications).
        """
        c = self.counters
        c.writes += 1
        io = t if io_at is None else io_at
        ready = t
        read_first = partial and vpage not in self.cache
        if read_first:  # a read miss: counted in reads, and in rmw_reads
            c.reads += 1
            c.rmw_reads += 1
            written = self.versions.get(vpage, 0)
            ready, data = self.hv_read(self.index, vpage, self.gdisk.location(vpage, written != 0),
                                       io)
            if data != written:
                c.stale_reads += 1
        serial = self.contents.new_write(self.index, vpage, pooled)
        was_written = vpage in self.versions
        self.versions[vpage] = serial
        cost = 0.0 if self.ksm is None else self.ksm.written(self.index, vpage, io)
        cache = self.cache
        if not cache.get(vpage):
            if not flushed and not read_first:  # the host may hold an older copy of a page
                cost = self.hv.invalidate(  # not read first
                    self.index, [(vpage, self.gdisk.location(vpage, was_written))], io)
            victim = cache.insert(vpage)
            if self.census is not None:
                self.census_update(vpage, victim)
            if victim is not None:
                cost += self.evict(io, victim[0])
        elif not was_written and self.census is not None:
            self.census_rewritten(vpage)
        end = (ready if ready > t else t) + self.hit_cost + cost
        if self.sync:
            c.sync_writes += 1
            self.dirty.pop(vpage, None)
            done = self.hv.write(self.index, vpage, self.gdisk.location(vpage, True), serial, io)
            end = max(end, done + cost)
        elif vpage not in self.dirty:
            self.dirty[vpage] = io  # a truncate's pages keep the flusher's list in time order
        c.write_latency_s += end - t
        return end

    def truncate(self, t: float, vpage: int) -> float:
        """Truncate and recreate the file holding vpage: drop its pages, flush, write anew.

        Dirty pages are dropped without write-back; the recreated file is written through the
        page cache like any other write (its pages become dirty and are flushed later). The
        writes follow one another in CPU time, but every I/O they cause (the write-back of a
        page they evict, an O_SYNC write) reaches the host at t, in time order with everyone
        else's: under O_SYNC the file is written as if at once and then fsync'ed.
        """
        self.counters.truncates += 1
        first = vpage - vpage % self.file_pages
        last = min(first + self.file_pages, self.gdisk.pages)
        cache, dirty, versions = self.cache, self.dirty, self.versions
        pages = []
        ksm, census = self.ksm, self.census
        for p in range(first, last):
            if ksm is not None:
                ksm.left(self.index, p, t)
            if census is not None and p in cache:
                census.left(self.index, self.location_of(p))
            cache.remove(p)
            dirty.pop(p, None)
            pages.append((p, self.gdisk.location(p, p in versions)))
        end = t + self.hv.invalidate(self.index, pages, t)
        for p in range(first, last):
            end = self.write(end, p, False, flushed=True, io_at=t)
        return end

    def flush(self, t: float, _) -> None:
        """The flusher: write back pages dirty for longer than dirty_expire."""
        limit = t - self.spec.dirty_expire
        dirty = self.dirty
        while dirty:
            vpage, since = next(iter(dirty.items()))
            if since > limit:
                break
            dirty.popitem(last=False)
            self.hv.write(self.index, vpage, self.gdisk.location(vpage, True),
                          self.versions[vpage], t)
        if any(not th.ended for th in self.threads) and self.remaining > 0:
            heapq.heappush(self.agenda,
                           (t + self.spec.writeback_interval, ORDER_FLUSH, self.flush, None))
