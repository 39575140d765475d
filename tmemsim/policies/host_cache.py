"""`host-cache`: KVM's transparent host page cache (cache=writethrough or writeback).

Keyed by location, so unwritten CoW base blocks are cached once for every clone; inclusive, so it
learns nothing of guest evictions and a page may sit in both caches (double caching). With
`readahead: {max: ...}` it reads ahead on each backing file (an image file, per guest disk), as
the host kernel does for QEMU's reads (policies/readahead.py).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Literal

from pydantic import Field

from ..caches import CacheSpec, make_cache
from ..counters import Counters
from ..fields import Duration, DurationOrZero, Strict
from ..images import PAGE_BITS, PAGE_MASK
from .base import READ_DISK, READ_HOST_IO, WRITE_ABSORBED, WRITE_DISK, Policy
from .groups import CacheObservation
from .readahead import Readahead, ReadaheadSpec


class HostCacheCounters(Counters):
    """Readahead on the image files, counted for the guest owning the file (a shared base
    image's for the guest whose read caused it)."""

    __slots__ = ("host_readahead_pages", "host_readahead_hits", "host_readahead_wasted")


class HostCache(CacheObservation, Policy):
    name = "host-cache"
    distinct_is_cheap = False
    holds_guest_pages = True
    census_mode = "location"  # keyed by location: _insert and _dropped report every one
    Counters = HostCacheCounters
    examples = [{}, {"mode": "writeback"}, {"cache": "clock"},
                {"mode": "writeback", "cache": {"kind": "twolist", "active_ratio": 0.3}},
                {"readahead": {"max": "128KiB"}},
                {"mode": "writeback", "readahead": {"max": "32KiB"}}]

    class Options(Strict):
        mode: Literal["writethrough", "writeback"] = "writethrough"
        cache: CacheSpec = Field("lru", validate_default=True)
        dirty_expire: DurationOrZero = 30.0  # the host's own flusher, Linux defaults
        writeback_interval: Duration = 5.0
        readahead: ReadaheadSpec = Field(default_factory=ReadaheadSpec)

    @classmethod
    def per_pool_page(cls, options):
        dirty = ("ordered",) if options.mode == "writeback" else ()
        return super().per_pool_page(options) + dirty

    def __init__(self, options, host):
        super().__init__(options, host)
        self.cache = make_cache(options.cache, host.pool_pages)
        self.writeback = options.mode == "writeback"
        # location -> time first dirtied (writeback mode). Pages dirtied between two ticks carry
        # the time of the tick before them: expiry is exact to one writeback_interval.
        self.dirty: OrderedDict = OrderedDict()
        self.clock = 0.0
        self.tick_interval = options.writeback_interval if self.writeback else None
        self._owner = [f.owner for f in host.layout.files]
        self._per_guest = [0] * len(host.guests)
        self._files = host.layout.files
        self.ahead_pages = options.readahead.pages()  # the largest window; 0: no readahead
        self.windows: dict = {}  # backing file -> its Readahead
        self.unhit: dict = {}  # location read ahead and not read since -> the guest it counts for

    def _count(self, loc: int, delta: int) -> None:
        owner = self._owner[loc >> PAGE_BITS]
        if owner is not None:
            self._per_guest[owner] += delta

    def _insert(self, loc: int, data: int) -> None:
        victim = self.cache.insert(loc, data)
        self._count(loc, 1)
        if victim is None:
            if self.census is not None:
                self.census.pool_added(loc)
        else:
            if self.census is not None:  # one call for both: this is every host miss
                self.census.pool_moved(loc, victim[0])
            self._dropped(*victim, reported=True)

    def _dropped(self, vloc: int, vdata: int, reported: bool = False) -> None:
        self._count(vloc, -1)
        if self.census is not None and not reported:
            self.census.pool_removed(vloc)
        if self.ahead_pages:
            self._left(vloc)
        if self.dirty.pop(vloc, None) is not None:  # flushed before it is dropped
            self.store[vloc] = vdata
            self.pending_writes.append(vloc)

    def resize(self, pool_pages):
        for victim in self.cache.resize(pool_pages):
            self._dropped(*victim)
        self.host.pool_pages = pool_pages
        return pool_pages

    def read(self, guest, vpage, loc):
        cache = self.cache
        if cache.get(loc):
            data = cache.find(loc)
            if self.ahead_pages:  # the next window may evict loc from a small cache
                self._ahead_hit(guest, loc)
            return READ_HOST_IO, data
        data = self.store.get(loc, 0)
        self._insert(loc, data)
        if self.ahead_pages and vpage >= 0:  # not on swap: a guest's own readahead does that
            self._read_ahead(guest, loc, self._readahead(loc).miss(loc & PAGE_MASK))
        return READ_DISK, data

    # ------------------------------------------------------------ readahead

    def _readahead(self, loc: int) -> Readahead:
        f = loc >> PAGE_BITS
        ra = self.windows.get(f)
        if ra is None:
            pages = self._files[f].pages
            ra = self.windows[f] = Readahead(self.ahead_pages, pages, pages)
        return ra

    def _ahead_hit(self, guest: int, loc: int) -> None:
        """A read found loc in the cache: a readahead page's first hit; a marker's next window."""
        if self.unhit.pop(loc, None) is not None:
            self.counters[guest].host_readahead_hits += 1
        ra = self.windows.get(loc >> PAGE_BITS)
        if ra is not None and (loc & PAGE_MASK) in ra.marks:
            self._read_ahead(guest, loc, ra.marked(loc & PAGE_MASK))

    def _read_ahead(self, guest: int, loc: int, window) -> None:
        """Read the window's pages the cache lacks, as runs of consecutive pages (a run from
        loc carries loc's own read), and mark its marker if read."""
        if window is None:
            return
        file_loc = loc & ~PAGE_MASK
        ra = self.windows[loc >> PAGE_BITS]
        cache, store, runs, unhit = self.cache, self.store, self.read_runs, self.unhit
        c = self.counters[guest]
        first, count = -1, 0
        for page in range(window[0], window[1]):
            at = file_loc | page
            if at != loc and at in cache:
                first = -1
                continue
            if first < 0:
                first, count = at, 0
                runs.append((first, 0))
            count += 1
            runs[-1] = (first, count)
            if at != loc:
                self._insert(at, store.get(at, 0))
                unhit[at] = guest
                c.host_readahead_pages += 1
                if page == ra.marker:
                    ra.mark(page)

    def _left(self, loc: int) -> None:
        """loc left the cache: an unread readahead page was wasted; its marker goes with it."""
        guest = self.unhit.pop(loc, None)
        if guest is not None:
            self.counters[guest].host_readahead_wasted += 1
        self.arriving.pop(loc, None)
        ra = self.windows.get(loc >> PAGE_BITS)
        if ra is not None:
            ra.forget(loc & PAGE_MASK)

    def write(self, guest, vpage, loc, data):
        cache = self.cache
        if cache.get(loc):
            cache.set(loc, data)
            if self.ahead_pages:  # the write's bytes are the page's now, read ahead or not
                self.unhit.pop(loc, None)
                self.arriving.pop(loc, None)
        else:
            self._insert(loc, data)
        if self.writeback and loc in cache:
            if loc not in self.dirty:
                self.dirty[loc] = self.clock
            return WRITE_ABSORBED
        self.store[loc] = data
        return WRITE_DISK

    def tick(self, now):
        self.clock = now
        limit = now - self.options.dirty_expire
        dirty, cache = self.dirty, self.cache
        while dirty:
            loc, since = next(iter(dirty.items()))
            if since > limit:
                break
            dirty.popitem(last=False)
            self.store[loc] = cache.find(loc)
            self.pending_writes.append(loc)

    def guest_pages(self, guest):
        """Pages of this guest's own files (overlay, copy, private); shared base pages excluded."""
        return self._per_guest[guest]

    def distinct_contents(self):
        content = self.host.contents.content
        return len({content(loc, data) for loc, data in self.cache.items()})

    def check(self):
        assert len(self.cache) <= self.host.pool_pages, "host cache over the pool"

    def check_deep(self):
        assert all(loc in self.cache for loc in self.dirty), "dirty page not cached"
        assert sum(self._per_guest) <= len(self.cache), "per-guest accounting"
