"""`tmem`: Xen transcendent memory as the guest's cleancache — put, get, flush.

Private ephemeral pools keyed (guest, vpage) with exclusive gets; optionally a shared pool for
unwritten CoW base pages keyed by location, and content dedup of ephemeral pages (tmem_dedup).
With `compress:` the pool stores pages compressed: that is the subclass in compressed.py.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Literal

from pydantic import Field, model_validator

from ..compression import Compress
from ..fields import SizeOrZero, Strict
from ..images import PAGE_BITS
from ..units import PAGE_SIZE
from .base import (
    IGNORED,
    PUT_ACCEPTED,
    PUT_REJECTED,
    READ_DISK,
    READ_DISK_AFTER_CALL,
    READ_HOST_CALL,
    WRITE_DISK,
    Policy,
    PolicyCounters,
)

_PRIVATE = 1 << 48  # private keys are (guest + 1) << 48 | vpage; shared keys are locations
_MISS = object()


class Tmem(Policy):
    """Ephemeral pages are evicted oldest-put first from one global list; with `weights`, a guest
    over its weighted share of the pool loses its own oldest pages first."""

    name = "tmem"
    observes_evictions = True  # every clean eviction is a put
    guest_hypercalls = True
    holds_guest_pages = True
    frontswap = True
    examples = [{}, {"pool": "shared"}, {"dedup": True}, {"weights": {}, "weight_default": 2},
                {"keep_free": 0}, {"compress": {"allocator": "zbud"}},
                {"pool": "shared", "compress": {"allocator": "zsmalloc", "compressor": "lz4",
                                                "data": {"ratio": 0.4, "spread": 0.4}}}]

    class Counters(PolicyCounters):
        __slots__ = (
            "tmem_puts", "tmem_puts_rejected", "tmem_gets", "tmem_get_hits", "tmem_flushes",
            "tmem_evictions", "frontswap_stores", "frontswap_loads", "frontswap_rejected",
            # compress: pages rejected for compressing poorly, pages stored compressed (puts and
            # frontswap stores) and their compressed bytes
            "compress_rejected", "compressed_puts", "compressed_bytes",
        )

    class Options(Strict):
        pool: Literal["private", "shared"] = "private"
        dedup: bool = False
        weights: dict[str, float] | None = None
        keep_free: SizeOrZero = 1 << 20  # Xen keeps some memory free: 1 MiB
        weight_default: float = Field(1.0, gt=0)
        compress: Compress | None = None

        @model_validator(mode="after")
        def _compress_alone(self):
            if self.compress is not None and (self.dedup or self.weights is not None):
                raise ValueError("compress is not modelled together with dedup or weights")
            return self

    @classmethod
    def check_scenario(cls, options, guest_names):
        unknown = sorted(set(options.weights or {}) - set(guest_names))
        if unknown:
            return "weights", (f"weights name unknown guests: {', '.join(unknown)}; guests are "
                               f"{', '.join(guest_names)}")
        return None

    @classmethod
    def per_pool_page(cls, options):
        if options.compress is not None:  # several stored pages per pool page (about 3 at a
            return ("pair", "map") * 3  # third of a page each), each with its allocator handle
        dedup = ("map", "map") if options.dedup else ()  # content_of_key, refs
        weighted = ("ordered",) if options.weights is not None else ()  # by_guest
        return ("pair",) + dedup + weighted  # eph: key -> (data, location)

    def __new__(cls, options, host):
        if options.compress is not None and cls is Tmem:
            from .compressed import CompressedTmem  # below this module: it derives from Tmem

            cls = CompressedTmem
        return super().__new__(cls)

    def __init__(self, options, host):
        super().__init__(options, host)
        self.capacity = max(host.pool_pages - options.keep_free // PAGE_SIZE, 0)
        self.shared = options.pool == "shared"
        self.dedup = options.dedup
        self.distinct_is_cheap = options.dedup
        self.eph: OrderedDict = OrderedDict()  # key -> (data, location), oldest put first
        # private keys per guest, oldest first: kept only with weights, the one rule needing them
        self.by_guest = [OrderedDict() for _ in host.guests]
        self.private_of = [0] * len(host.guests)  # private ephemeral pages per guest
        self.content_of_key: dict = {}  # key -> content (dedup only)
        # frontswap: private persistent pools, (guest + 1) << 48 | apage -> data
        self.persistent: dict = {}
        self.n_persistent = 0
        self.persistent_of = [0] * len(host.guests)
        self.allowance = [0] * len(host.guests)
        self.refs: dict = {}  # content -> number of keys sharing its physical page (dedup)
        self._base = [f.owner is None for f in host.layout.files]
        weights = options.weights or {}
        self.weights = [weights.get(g, options.weight_default) for g in host.guests]
        self.weighted = options.weights is not None
        # pages leave through _remove, which keeps the books: the weights' per-guest lists,
        # dedup's references, a compressed pool's allocator
        self.keeps_books = self.weighted or self.dedup or options.compress is not None

    def eviction_costs(self, costs):
        # a refused put still paid for the exit; Xen copies only once it has a page for it
        return {IGNORED: 0.0, PUT_ACCEPTED: costs.put, PUT_REJECTED: costs.put_rejected}

    # ------------------------------------------------------------ keys and accounting

    def _key(self, guest: int, vpage: int, loc: int) -> int:
        if self.shared and self._base[loc >> PAGE_BITS]:
            return loc
        return (guest + 1) * _PRIVATE | vpage

    @staticmethod
    def private_key(guest: int, page: int) -> int:
        return (guest + 1) * _PRIVATE | page

    def _stored(self, guest: int, key: int, data: int, loc: int) -> None:
        """Book a page just stored under key (for puts that keep the books, as compressed.py's)."""
        self.eph[key] = (data, loc)
        if key >= _PRIVATE:
            self.private_of[guest] += 1

    def used_pages(self) -> int:
        return (len(self.refs) if self.dedup else len(self.eph)) + self.n_persistent

    def _remove(self, key: int) -> None:
        """Drop key from the pool (it must be present)."""
        del self.eph[key]
        if key >= _PRIVATE:
            guest = (key >> 48) - 1
            self.private_of[guest] -= 1
            if self.weighted:
                del self.by_guest[guest][key]
        if self.dedup:
            content = self.content_of_key.pop(key)
            n = self.refs[content] - 1
            if n:
                self.refs[content] = n
            else:
                del self.refs[content]

    def _weighted_victim(self, putter: int | None) -> int:
        """With weights: the putter's own oldest page if it is over its weighted share, else the
        oldest page of the guest most over its share (lowest index on a tie); when nobody is
        over, the global oldest."""
        total = sum(self.weights)
        excess = [n - self.capacity * w / total
                  for n, w in zip(self.private_of, self.weights, strict=True)]
        if putter is not None and excess[putter] > 0 and self.by_guest[putter]:
            return next(iter(self.by_guest[putter]))
        over = [(e, -g) for g, e in enumerate(excess) if e > 0 and self.by_guest[g]]
        if over:
            return next(iter(self.by_guest[-max(over)[1]]))
        return next(iter(self.eph))

    # ------------------------------------------------------------ the hypercalls

    def read(self, guest, vpage, loc):
        """A get: exclusive for private pools (a hit removes the page), refreshing for shared."""
        c = self.counters[guest]
        c.tmem_gets += 1
        if self.shared and self._base[loc >> PAGE_BITS]:
            entry = self.eph.get(loc, _MISS)
            if entry is _MISS:
                return READ_DISK_AFTER_CALL, self.store.get(loc, 0)
            self.eph.move_to_end(loc)
        else:
            key = (guest + 1) * _PRIVATE | vpage
            entry = self.eph.get(key, _MISS)
            if entry is _MISS:
                return READ_DISK_AFTER_CALL, self.store.get(loc, 0)
            if self.keeps_books:
                self._remove(key)
            else:  # _remove() of a private page, written out: nearly every get that hits
                del self.eph[key]
                self.private_of[guest] -= 1
        c.tmem_get_hits += 1
        return READ_HOST_CALL, entry[0]

    def write(self, guest, vpage, loc, data):
        # tmem is not in the write path: write-backs go to disk as with cache=none
        self.store[loc] = data
        return WRITE_DISK

    def evicted(self, guest, vpage, loc, data):
        """A put of a clean page: overwrite an old copy, evict for room, or fail leaving nothing."""
        c = self.counters[guest]
        c.tmem_puts += 1
        eph = self.eph
        # self._key(), written out: a put follows nearly every miss
        key = (loc if self.shared and self._base[loc >> PAGE_BITS]
               else (guest + 1) * _PRIVATE | vpage)
        if key in eph:
            self._remove(key)  # an overwrite: the old copy must not survive a failed put
        if self.dedup:
            content = self.host.contents.content(loc, data)
            while content not in self.refs and len(self.refs) + self.n_persistent >= self.capacity:
                if not self._evict_one(guest):
                    c.tmem_puts_rejected += 1
                    return PUT_REJECTED
            self.content_of_key[key] = content
            self.refs[content] = self.refs.get(content, 0) + 1
        else:
            while len(eph) + self.n_persistent >= self.capacity:
                if not self._evict_one(guest):
                    c.tmem_puts_rejected += 1
                    return PUT_REJECTED
        eph[key] = (data, loc)
        if key >= _PRIVATE:
            self.private_of[guest] += 1
            if self.weighted:
                self.by_guest[guest][key] = None
        return PUT_ACCEPTED

    def _evict_one(self, putter: int | None) -> bool:
        """Evict one ephemeral page to make room for putter's put; False if none can go."""
        eph = self.eph
        if not eph:
            return False
        if self.keeps_books:
            victim = self._weighted_victim(putter) if self.weighted else next(iter(eph))
            self._remove(victim)
        else:  # the oldest put goes, and only the private count needs keeping (see _remove)
            victim = eph.popitem(False)[0]
            if victim >= _PRIVATE:
                self.private_of[(victim >> 48) - 1] -= 1
        owner = (victim >> 48) - 1 if victim >= _PRIVATE else (putter or 0)
        self.counters[owner].tmem_evictions += 1
        return True

    # ------------------------------------------------------------ frontswap

    def persistent_pages(self, guest):
        return self.persistent_of[guest]

    def set_allowance(self, guest, pages):
        self.allowance[guest] = max(pages, 0)

    def frontswap_store(self, guest, apage, data):
        """A persistent put: within the guest's allowance and the host's free memory, evicting
        ephemeral pages (never persistent ones) to make room."""
        key = (guest + 1) * _PRIVATE | apage
        c = self.counters[guest]
        if key not in self.persistent:
            if self.persistent_of[guest] >= self.allowance[guest]:
                c.frontswap_rejected += 1
                return False
            while self.used_pages() >= self.capacity:
                if not self._evict_one(guest):
                    c.frontswap_rejected += 1
                    return False
            self.n_persistent += 1
            self.persistent_of[guest] += 1
        self.persistent[key] = data
        c.frontswap_stores += 1
        return True

    def frontswap_load(self, guest, apage):
        data = self.persistent.get((guest + 1) * _PRIVATE | apage)
        if data is not None:
            self.counters[guest].frontswap_loads += 1
        return data

    def frontswap_free(self, guest, apage):
        if self.persistent.pop((guest + 1) * _PRIVATE | apage, None) is not None:
            self.n_persistent -= 1
            self.persistent_of[guest] -= 1

    def swap_read(self, guest, loc):
        # a swap slot frontswap did not hold is read from disk: cleancache is for files
        return READ_DISK, self.store.get(loc, 0)

    def resize(self, pool_pages):
        """Shrinking evicts ephemeral pages; persistent ones stay, so the pool may not shrink
        below them. What tmem keeps free (keep_free) is its own margin, not a floor."""
        keep = self.options.keep_free // PAGE_SIZE
        self.capacity = max(pool_pages - keep, 0)
        while self.used_pages() > self.capacity and self._evict_one(None):
            pass
        used = self.used_pages()
        self.capacity = max(self.capacity, used)
        self.host.pool_pages = max(pool_pages, used)
        return self.host.pool_pages

    def invalidate(self, guest, pages):
        """Flush page / flush object: the guest's private copies of these pages go."""
        self.counters[guest].tmem_flushes += 1
        for vpage, _loc in pages:
            key = (guest + 1) * _PRIVATE | vpage
            if key in self.eph:
                self._remove(key)
        return 1

    # ------------------------------------------------------------ observation

    def holds(self, guest, vpage, loc):
        return self._key(guest, vpage, loc) in self.eph

    def double_cached(self, guest, vpages, locs):
        if not self.shared:
            return 0  # private gets are exclusive (checked under `check: true`)
        return super().double_cached(guest, vpages, locs)

    def holds_private(self, guest, vpage):
        return (guest + 1) * _PRIVATE | vpage in self.eph

    def guest_pages(self, guest):
        return self.private_of[guest] + self.persistent_of[guest]

    def distinct_contents(self):
        if self.dedup:
            return len(self.refs)
        content = self.host.contents.content
        return len({content(loc, data) for data, loc in self.eph.values()})

    def check(self):
        assert self.used_pages() <= self.capacity, "tmem pool over capacity"
        for g, (n, allowed) in enumerate(zip(self.persistent_of, self.allowance, strict=True)):
            assert n <= allowed, f"guest {g} holds {n} persistent pages, allowance {allowed}"

    def check_deep(self):
        assert sum(self.private_of) + sum(
            1 for k in self.eph if k < _PRIVATE) == len(self.eph), "pool accounting"
        if self.dedup:
            assert sum(self.refs.values()) == len(self.eph), "dedup reference counts"
