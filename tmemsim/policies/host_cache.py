"""`host-cache`: KVM's transparent host page cache (cache=writethrough or writeback).

Keyed by location, so unwritten CoW base blocks are cached once for every clone; inclusive, so it
learns nothing of guest evictions and a page may sit in both caches (double caching).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Literal

from pydantic import Field

from ..caches import CacheSpec, make_cache
from ..fields import Duration, DurationOrZero, Strict
from ..images import PAGE_BITS
from .base import READ_DISK, READ_HOST_IO, WRITE_ABSORBED, WRITE_DISK, Policy


class HostCache(Policy):
    name = "host-cache"
    distinct_is_cheap = False
    holds_guest_pages = True
    census_mode = "location"  # keyed by location: _insert and _dropped report every one
    examples = [{}, {"mode": "writeback"}, {"cache": "clock"},
                {"mode": "writeback", "cache": {"kind": "twolist", "active_ratio": 0.3}}]

    class Options(Strict):
        mode: Literal["writethrough", "writeback"] = "writethrough"
        cache: CacheSpec = Field("lru", validate_default=True)
        dirty_expire: DurationOrZero = 30.0  # the host's own flusher, Linux defaults
        writeback_interval: Duration = 5.0

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
            return READ_HOST_IO, cache.find(loc)
        data = self.store.get(loc, 0)
        self._insert(loc, data)
        return READ_DISK, data

    def write(self, guest, vpage, loc, data):
        cache = self.cache
        if cache.get(loc):
            cache.set(loc, data)
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

    def holds(self, guest, vpage, loc):
        return loc in self.cache

    def double_cached(self, guest, vpages, locs):
        return sum(map(self.cache.__contains__, locs))

    def used_pages(self):
        return len(self.cache)

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
