"""tmem with `compress:`: the pool stores pages compressed (zcache for cleancache, zswap for
frontswap), through an allocator (zpool.py) whose pool pages are what the capacity counts.

A put compresses the page (its size from its content: tmemsim/compression.py); a page that
compresses worse than `max_compressed` is rejected, as zcache and zswap reject poorly
compressible pages, and counted. Otherwise the oldest puts are evicted until the allocator has
room for it within the pool's pages. A get decompresses. The CPU times are priced once, as the
policy's put outcomes (eviction_costs) and read paths (read_costs), so the model charges them
without asking what the policy is. Frontswap pages are compressed the same way.

Simplifications: every page pays the full compression time, whatever it compresses to (zswap
since Linux 4.14 stores same-filled pages without compressing them); a compressed put copies
the page as an uncompressed one does (the compressor reads the guest's page, the output is
copied into the pool), and a get copies it out after decompressing; `weights` and `dedup` are
not modelled together with compression (refused when the scenario is read); persistent pages
are charged to their guest's memory as whole pages (persistent_pages), and a frontswap store
refused for compressing poorly is billed as any refused store (the model's refused call).
"""

from __future__ import annotations

from ..images import ZERO_CONTENT
from ..units import PAGE_SIZE
from .base import IGNORED, PUT_ACCEPTED, PUT_REJECTED, READ_HOST_CALL
from .tmem import Tmem
from .zpool import ALLOCATORS


class CompressedTmem(Tmem):
    """Tmem whose pages are stored compressed; built by Tmem when its options say `compress:`."""

    def __init__(self, options, host):
        super().__init__(options, host)
        compress = options.compress
        self.zpool = ALLOCATORS[compress.allocator]()
        self.sizes = compress.sizes(host.layout.files)
        self.max_bytes = int(compress.max_compressed * PAGE_SIZE)
        self.compress_s, self.decompress_s = compress.seconds()
        self.handle: dict = {}  # ephemeral key -> its allocator handle
        self.swap_handle: dict = {}  # persistent key -> its allocator handle

    def eviction_costs(self, costs):
        # zcache compresses first and then asks the allocator for room: every put pays it
        return {IGNORED: 0.0, PUT_ACCEPTED: costs.put + self.compress_s,
                PUT_REJECTED: costs.put_rejected + self.compress_s}

    def read_costs(self, costs):
        read = list(costs.read)
        read[READ_HOST_CALL] += self.decompress_s  # a get (and a frontswap load) decompresses
        return read

    def used_pages(self) -> int:
        return self.zpool.pages

    def stored_pages(self) -> int:
        return len(self.eph) + self.n_persistent

    def _remove(self, key: int) -> None:
        super()._remove(key)
        self.zpool.free(self.handle.pop(key))

    def _admit(self, guest: int, content: int) -> int | None:
        """Compress a page for guest and make room for it: its compressed size, or None if it
        was rejected (compressed too poorly, or no room could be made)."""
        c = self.counters[guest]
        size = self.sizes.of(content)
        if size > self.max_bytes:
            c.compress_rejected += 1
            return None
        zpool, capacity = self.zpool, self.capacity
        while not zpool.room(size, capacity):
            if not self._evict_one(guest):
                return None
        c.compressed_puts += 1
        c.compressed_bytes += size
        return size

    def evicted(self, guest, vpage, loc, data):
        """A put: an old copy goes first (it must not survive a failed put), then the page is
        compressed and stored, or rejected."""
        c = self.counters[guest]
        c.tmem_puts += 1
        key = self._key(guest, vpage, loc)
        if key in self.eph:
            self._remove(key)
        size = self._admit(guest, self.host.contents.content(loc, data))
        if size is None:
            c.tmem_puts_rejected += 1
            return PUT_REJECTED
        self.handle[key] = self.zpool.alloc(size)
        self._stored(guest, key, data, loc)
        return PUT_ACCEPTED

    def frontswap_store(self, guest, apage, data):
        """zswap: a swapped-out page compressed into the pool. A page stored before is dropped
        first: the new version replaces it, or, refused, goes to the swap disk alone."""
        key = self.private_key(guest, apage)
        c = self.counters[guest]
        if key in self.persistent:
            self.frontswap_free(guest, apage)
        if self.persistent_of[guest] >= self.allowance[guest]:
            c.frontswap_rejected += 1
            return False
        # an anonymous page never written is zero-filled; a written one holds its write's bytes
        content = self.host.contents.content(0, data) if data else ZERO_CONTENT
        size = self._admit(guest, content)
        if size is None:
            c.frontswap_rejected += 1
            return False
        self.swap_handle[key] = self.zpool.alloc(size)
        self.persistent[key] = data
        self.n_persistent += 1
        self.persistent_of[guest] += 1
        c.frontswap_stores += 1
        return True

    def frontswap_free(self, guest, apage):
        handle = self.swap_handle.pop(self.private_key(guest, apage), None)
        if handle is not None:
            super().frontswap_free(guest, apage)
            self.zpool.free(handle)

    def check_deep(self):
        super().check_deep()
        self.zpool.check()
        assert self.handle.keys() == self.eph.keys(), "every stored page has its handle"
        assert self.swap_handle.keys() == self.persistent.keys(), "every swap page its handle"
        assert self.zpool.objects() == len(self.handle) + len(self.swap_handle), (
            "the allocator holds exactly the pages stored")
