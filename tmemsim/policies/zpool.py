"""The allocators of a compressed pool: zbud and zsmalloc, counting the pool pages they use.

A compressed tmem pool (compressed.py) stores each page's compressed bytes through one of
these; its capacity is in pool pages, so what fits depends on how densely the allocator packs.
Both are plain bookkeeping of sizes — no bytes are stored — and deterministic (insertion-ordered
dicts, no randomness).

- `zbud` (Linux mm/zbud.c, and zcache's zbud before it): a pool page holds at most two
  compressed pages ("buddies"), whose sizes in 64-byte chunks sum to at most a page. A new
  buddy goes into a page that holds one buddy and has room for it, the one with the least
  room that suffices (zbud's search of its unbuddied lists from the needed chunks up; the
  most recently listed page of that list first, as zbud adds to a list's head); else it
  opens a new page. Simplification: zbud keeps its header in the page's first chunk, so two
  exact halves do not fit one page there; here the whole page is for buddies (64 chunks).
- `zsmalloc` (Linux mm/zsmalloc.c): size classes every 16 bytes from 32 bytes to a page; an
  object takes its class's size, and each class packs objects into zspages of 1 to 4 pages
  (the count that wastes least, as zsmalloc's get_pages_per_zspage chooses). A new object
  goes into the most recently opened zspage of its class with a free slot, else a new zspage.
  Simplifications: zsmalloc's merging of classes with the same zspage shape, its fullness
  groups (it prefers almost-full zspages) and its compaction are not modelled; a zspage is
  freed when its last object is.
"""

from __future__ import annotations

from ..units import PAGE_SIZE

ZBUD_CHUNK = 64
ZBUD_CHUNKS = PAGE_SIZE // ZBUD_CHUNK
ZS_MIN_SIZE = 32
ZS_CLASS_DELTA = 16  # PAGE_SIZE >> 8 with zsmalloc's CLASS_BITS = 8
ZS_MAX_PAGES = 4  # ZS_MAX_PAGES_PER_ZSPAGE


class Zbud:
    """At most two buddies per pool page, their chunks summing to at most ZBUD_CHUNKS."""

    name = "zbud"

    def __init__(self):
        self.pages = 0  # pool pages in use
        self.next_id = 0
        self.buddies: dict[int, list[int]] = {}  # page -> chunks of its two slots (0: empty)
        # unbuddied[free chunks]: pages holding one buddy, as an ordered set (newest last)
        self.unbuddied: list[dict[int, None]] = [{} for _ in range(ZBUD_CHUNKS + 1)]

    @staticmethod
    def chunks(size: int) -> int:
        return -(-size // ZBUD_CHUNK)

    def _fit(self, n: int) -> int | None:
        for free in range(n, ZBUD_CHUNKS + 1):
            if self.unbuddied[free]:
                return next(reversed(self.unbuddied[free]))
        return None

    def room(self, size: int, capacity: int) -> bool:
        """Could a page of `size` compressed bytes be stored with at most capacity pool pages?"""
        return self.pages < capacity or self._fit(self.chunks(size)) is not None

    def alloc(self, size: int) -> tuple[int, int]:
        """Store a compressed page (room() must have said yes); returns its handle."""
        n = self.chunks(size)
        page = self._fit(n)
        if page is None:
            page = self.next_id
            self.next_id += 1
            self.pages += 1
            self.buddies[page] = [n, 0]
            self.unbuddied[ZBUD_CHUNKS - n][page] = None
            return page, 0
        slots = self.buddies[page]
        del self.unbuddied[ZBUD_CHUNKS - slots[0] - slots[1]][page]
        slot = 0 if slots[0] == 0 else 1
        slots[slot] = n
        return page, slot

    def free(self, handle: tuple[int, int]) -> None:
        page, slot = handle
        slots = self.buddies[page]
        other = slots[1 - slot]
        if other == 0:
            del self.unbuddied[ZBUD_CHUNKS - slots[slot]][page]
            del self.buddies[page]
            self.pages -= 1
            return
        slots[slot] = 0
        self.unbuddied[ZBUD_CHUNKS - other][page] = None

    def objects(self) -> int:
        """Compressed pages held."""
        return sum((a > 0) + (b > 0) for a, b in self.buddies.values())

    def check(self) -> None:
        assert len(self.buddies) == self.pages, "zbud page count"
        for page, (a, b) in self.buddies.items():
            assert a + b <= ZBUD_CHUNKS and (a or b), f"zbud page {page} holds {a} + {b} chunks"
            assert (page in self.unbuddied[ZBUD_CHUNKS - a - b]) == (not a or not b), (
                f"zbud page {page} listed wrongly")


def zs_class(size: int) -> int:
    """The size of the zsmalloc class an object of `size` bytes is stored in."""
    if size <= ZS_MIN_SIZE:
        return ZS_MIN_SIZE
    return ZS_MIN_SIZE + -(-(size - ZS_MIN_SIZE) // ZS_CLASS_DELTA) * ZS_CLASS_DELTA


def zs_pages_per_zspage(class_size: int) -> int:
    """zsmalloc's get_pages_per_zspage: the page count (1..4) whose zspage wastes least, in
    whole percent of its size, the smallest such count on a tie."""
    best, best_used = 1, -1
    for k in range(1, ZS_MAX_PAGES + 1):
        span = k * PAGE_SIZE
        used = (span - span % class_size) * 100 // span
        if used > best_used:
            best, best_used = k, used
    return best


class Zsmalloc:
    """Size classes, each packing its objects into zspages of a few pages."""

    name = "zsmalloc"

    def __init__(self):
        self.pages = 0
        self.next_id = 0
        self.shape: dict[int, tuple[int, int]] = {}  # class -> (pages, objects) per zspage
        self.inuse: dict[int, int] = {}  # zspage -> objects in it
        self.class_of: dict[int, int] = {}  # zspage -> its class
        self.open: dict[int, dict[int, None]] = {}  # class -> zspages with a free slot

    def _shape(self, cls: int) -> tuple[int, int]:
        shape = self.shape.get(cls)
        if shape is None:
            k = zs_pages_per_zspage(cls)
            shape = self.shape[cls] = (k, k * PAGE_SIZE // cls)
        return shape

    def room(self, size: int, capacity: int) -> bool:
        cls = zs_class(size)
        return bool(self.open.get(cls)) or self.pages + self._shape(cls)[0] <= capacity

    def alloc(self, size: int) -> tuple[int, int]:
        cls = zs_class(size)
        k, objects = self._shape(cls)
        open_ = self.open.setdefault(cls, {})
        if open_:
            zspage = next(reversed(open_))
        else:
            zspage = self.next_id
            self.next_id += 1
            self.pages += k
            self.inuse[zspage] = 0
            self.class_of[zspage] = cls
            open_[zspage] = None
        n = self.inuse[zspage] = self.inuse[zspage] + 1
        if n == objects:
            del open_[zspage]
        return cls, zspage

    def free(self, handle: tuple[int, int]) -> None:
        cls, zspage = handle
        k, objects = self.shape[cls]
        n = self.inuse[zspage] - 1
        if n == 0:
            del self.inuse[zspage], self.class_of[zspage]
            self.open[cls].pop(zspage, None)
            self.pages -= k
            return
        self.inuse[zspage] = n
        self.open[cls][zspage] = None  # listed again (or still) as having a free slot

    def objects(self) -> int:
        return sum(self.inuse.values())

    def check(self) -> None:
        pages = 0
        for cls, open_ in self.open.items():
            k, objects = self.shape[cls]
            for zspage in open_:
                assert 0 < self.inuse[zspage] < objects, f"zsmalloc zspage {zspage} listed open"
        for zspage, cls in self.class_of.items():
            k, objects = self.shape[cls]
            assert 0 < self.inuse[zspage] <= objects, f"zsmalloc zspage {zspage} holds wrongly"
            pages += k
        assert pages == self.pages and len(self.inuse) == len(self.class_of), "zsmalloc pages"


ALLOCATORS = {a.name: a for a in (Zbud, Zsmalloc)}
