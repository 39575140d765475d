"""`dedup`: a transparent host cache over block-level dedup storage, keyed by content.

One cached page serves every location holding those bytes, in any guest; writes are write-through.
"""

from __future__ import annotations

from pydantic import Field

from ..caches import CacheSpec, make_cache
from ..fields import Strict
from .base import READ_DISK, READ_HOST_IO, WRITE_DISK, Policy


class Dedup(Policy):
    name = "dedup"
    holds_guest_pages = True
    examples = [{}, {"cache": "fifo"}]

    class Options(Strict):
        cache: CacheSpec = Field("lru", validate_default=True)

    def __init__(self, options, host):
        super().__init__(options, host)
        self.cache = make_cache(options.cache, host.pool_pages)
        self.content = host.contents.content

    def _touch(self, content: int) -> bool:
        if self.cache.get(content):
            return True
        self.cache.insert(content)
        return False

    def read(self, guest, vpage, loc):
        data = self.store.get(loc, 0)
        if self._touch(self.content(loc, data)):
            return READ_HOST_IO, data
        return READ_DISK, data

    def write(self, guest, vpage, loc, data):
        self.store[loc] = data
        self._touch(self.content(loc, data))
        return WRITE_DISK

    def resize(self, pool_pages):
        self.cache.resize(pool_pages)
        self.host.pool_pages = pool_pages
        return pool_pages

    def holds(self, guest, vpage, loc):
        return self.content(loc, self.store.get(loc, 0)) in self.cache

    def used_pages(self):
        return len(self.cache)

    def distinct_contents(self):
        return len(self.cache)

    def check(self):
        assert len(self.cache) <= self.host.pool_pages, "dedup cache over the pool"
