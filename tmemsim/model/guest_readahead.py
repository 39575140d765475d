"""A guest's own readahead on its files: Linux's on-demand readahead in the guest kernel.

The Guest's companion when its spec says `readahead: {max: ...}` (the windows are
policies/readahead.py's, per file of the workload's `file_pages`). A miss on a file page asks
for a window; the guest reads the pages of it that it lacks as one multi-page read
(`Hypervisor.read_pages`: page by page as the policy says, so under tmem each page first tries
a cleancache get; the pages left for the disk go as one request per run of consecutive
blocks). A read of the page carrying the marker reads the next window, asynchronously.

Pages being read ahead are locked as a miss's page is (`Guest.reading`): a read of one waits
for its arrival (Linux locks readahead pages until their I/O ends). One agenda action per
arrival time inserts that time's pages; they evict as any insertion does (write-back of a dirty
victim, a put of a clean one) and the reads that waited are served.

Counted per guest: `guest_readahead_pages` (pages read ahead), `guest_readahead_hits` (of those,
read later: a hit, or a read that waited for the page's arrival) and `guest_readahead_wasted`
(evicted unread). A page read ahead before the warm-up's end and read or evicted after it is
counted then, as the host cache's readahead counts.

Simplifications: the pages a window gets from host memory arrive together when the window's
last lookup is done (the demand page at its own); every request of a window is submitted when
the window is (the lookups' CPU is added after: CostModel's simplification); the CPU an arrival
spends on evictions (puts) is charged to no request.

A guest that does not read ahead has no companion and pays nothing for it: the hit loop meets
this one only through what it binds on the guest (`cached` hides marked pages so their read
takes the miss branch, `touch` counts a readahead page's first hit, every eviction is heard).
"""

from __future__ import annotations

import heapq

from ..policies.base import READ_DISK
from ..policies.readahead import Readahead
from .agenda import ORDER_OPEN
from .hypervisor import unheard_eviction


class _Unmarked:
    """The hit loop's membership test for a guest that reads ahead: a cached page carrying the
    marker answers "not cached", so its read takes the miss branch (Guest._server), which reads
    the next window and then serves the read."""

    __slots__ = ("members", "marks")

    def __init__(self, members, marks: set):
        self.members, self.marks = members, marks

    def __contains__(self, key) -> bool:
        return key in self.members and key not in self.marks


class GuestReadahead:
    """One guest's readahead windows, its pages read ahead and not read yet (`unhit`), and the
    hooks it binds on the guest (its hot path's `cached`, `touch` and eviction call)."""

    __slots__ = ("guest", "ra", "marks", "unhit", "members", "counters", "heard")

    def __init__(self, guest, most: int):
        self.guest = guest
        self.ra = Readahead(most, guest.spec.workload.file_pages, guest.gdisk.pages)
        self.marks = self.ra.marks
        self.unhit: set = set()
        self.members = guest.cached  # the cache's own live membership
        self.counters = c = guest.counters
        guest.cached = _Unmarked(self.members, self.marks)
        touch, unhit = guest.touch, self.unhit

        def touch_counted(vpage: int) -> None:
            touch(vpage)
            if vpage in unhit:
                unhit.discard(vpage)
                c.guest_readahead_hits += 1

        guest.touch = touch_counted
        # every eviction must be heard (a wasted page is one evicted unread), so every one goes
        # through Guest.evict and its put cannot wait in the hypervisor (put_later) unheard
        self.heard = guest.hv_evicted if guest.observed else unheard_eviction
        guest.hv_evicted = self.evicted
        guest.observed = True
        guest.put_outcome = None

    def evicted(self, guest: int, vpage: int, loc: int, data: int, t: float) -> float:
        """A file page left the cache: wasted if read ahead and never read; its marker goes."""
        if vpage in self.unhit:
            self.unhit.discard(vpage)
            self.counters.guest_readahead_wasted += 1
        self.marks.discard(vpage)
        return self.heard(guest, vpage, loc, data, t)

    # ------------------------------------------------------------ reading windows

    def read(self, vpage: int, loc: int, t: float, local: float) -> tuple[float, int, float]:
        """A miss on vpage at t: (ready, data) of vpage, read alone or as the first page of a
        window, and the guest's local bound (a window's other pages arrive through the
        agenda)."""
        g = self.guest
        self.unhit.discard(vpage)  # (a truncated page read ahead, read again)
        window = self.ra.miss(vpage)
        if window is None:
            ready, data = g.hv_read(g.index, vpage, loc, t)
            return ready, data, local
        pages = [(vpage, loc)] + self._lacking(window[0] + 1, window[1])
        rows = g.hv.read_pages(g.index, pages, t)
        ready, data, path = rows[0]
        if path >= READ_DISK:
            g.counters.disk_reads += 1
        else:
            g.counters.host_hits += 1
        return ready, data, self._lock(pages[1:], rows[1:], local)

    def marked(self, t: float, vpage: int, local: float) -> float:
        """A read of vpage, which carries the marker, at t: the next window, asynchronously.
        Returns the guest's local bound."""
        g = self.guest
        if vpage not in self.members and vpage not in g.reading:  # truncated meanwhile
            self.marks.discard(vpage)
            return local
        window = self.ra.marked(vpage)
        if window is None:
            return local
        pages = self._lacking(*window)
        if not pages:
            return local
        return self._lock(pages, self.guest.hv.read_pages(g.index, pages, t), local)

    def _lacking(self, start: int, end: int) -> list:
        """(vpage, location) of the pages in [start, end) neither cached nor being read."""
        g = self.guest
        members, reading, location = self.members, g.reading, g.location_of
        return [(p, location(p)) for p in range(start, end)
                if p not in members and p not in reading]

    def _lock(self, pages: list, rows: list, local: float) -> float:
        """The pages read ahead are locked until they arrive, the window's marker marked if
        read; one agenda action per arrival time. Returns the guest's local bound."""
        if not pages:
            return local
        g = self.guest
        reading, marker, arrivals = g.reading, self.ra.marker, {}
        for (vpage, _), (ready, data, _) in zip(pages, rows, strict=True):
            reading[vpage] = []
            arrivals.setdefault(ready, []).append((vpage, data))
            if vpage == marker:
                self.ra.mark(vpage)
        self.counters.guest_readahead_pages += len(pages)
        for ready, batch in arrivals.items():
            g.open_serial += 1  # an order of its own, after every thread's at equal times
            heapq.heappush(g.agenda, (ready, ORDER_OPEN + g.open_serial, self.arrived, batch))
        return min(local, g.agenda[0][0])

    # ------------------------------------------------------------ arrivals

    def arrived(self, t: float, batch: list) -> None:
        """Pages read ahead arrive at t: each enters the cache (unless cached or rewritten
        meanwhile), and the reads that waited on its lock are served (Guest.unlocked)."""
        g = self.guest
        reading, members, unhit, c = g.reading, self.members, self.unhit, self.counters
        for vpage, data in batch:
            waiters = reading.pop(vpage)
            entered = self._enter(t, vpage, data) and vpage in members
            if not entered:
                self.marks.discard(vpage)
            if waiters:
                c.guest_readahead_hits += 1
                g.unlocked(t, vpage, waiters)
            elif entered:
                unhit.add(vpage)

    def _enter(self, t: float, vpage: int, data: int) -> bool:
        """As a miss's fill, without a read (Guest.enter): a page cached meanwhile (written)
        stays as it is. True if it entered."""
        return vpage not in self.members and self.guest.enter(t, vpage, data) is not None
