"""Disk images, backing files and page content: where a guest's vpage lives, and what it holds.

A location is one int, `file_id << 32 | page`; a content is one int naming the bytes. Plain
Python and numpy, no SimPy: the model asks, the policies key their caches on the answers.
"""

from __future__ import annotations

import numpy as np

PAGE_BITS = 32
PAGE_MASK = (1 << PAGE_BITS) - 1

# Content id spaces, kept apart by high tag bits so ids of different origins never collide.
ZERO_CONTENT = 1 << 62  # the all-zero page, identical everywhere
_IMAGE_TAG = 1 << 61  # original pages of images and private disks: tag | file << 32 | page
_WRITE_TAG = 1 << 60  # a write's own new bytes: tag | write serial
_POOL_TAG = 1 << 59  # writes drawn from the content pool shared by all guests: tag | vpage
_SERIAL_BITS = 36  # a write serial is (guest + 1) << 36 | the guest's write count


def location(file_id: int, page: int) -> int:
    return file_id << PAGE_BITS | page


def file_of(loc: int) -> int:
    return loc >> PAGE_BITS


class BackingFile:
    """A file the host reads pages from: a base image, an overlay, a copy or a private disk."""

    __slots__ = ("id", "name", "disk", "pages", "offset", "owner", "content", "compressibility")

    def __init__(self, id: int, name: str, disk: str, pages: int, owner: int | None, content):
        self.id, self.name, self.disk, self.pages = id, name, disk, pages
        self.owner = owner  # guest index, None for a base image shared by all
        self.content = content  # ImageContent of its original bytes, or None (unique per location)
        self.offset = 0  # first block on its disk, set by Layout.place
        self.compressibility = None  # an image's, for compressed pools (compression.py)


_M64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_TRY_BITS = 16  # a page's draws: try 0 is its kind, tries 1.. pick the page a duplicate copies
_SCALAR_TRIES = 32  # tries in plain Python before the rest are drawn in one numpy call


def content_file(content: int) -> int | None:
    """The backing file whose original bytes a content id names (an image's page, a private
    disk's); None for the zero page and for a write's bytes."""
    return (content ^ _IMAGE_TAG) >> PAGE_BITS if content & _IMAGE_TAG else None


def content_uniform(key: int, content: int) -> float:
    """A uniform in [0, 1) that depends on (key, content) alone: a content's own draw."""
    return _uniform(key, content)


def _mix(x: int) -> int:
    """splitmix64's finaliser: 64 well-mixed bits from a counter."""
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def _uniform(key: int, counter: int) -> float:
    """A uniform in [0, 1) that depends on (key, counter) alone."""
    return (_mix((key + counter * _GOLDEN) & _M64) >> 11) * 2.0**-53


def _uniforms(key: int, counters: np.ndarray) -> np.ndarray:
    """_uniform for an array of counters, the same floats bit for bit."""
    x = np.uint64(key) + counters.astype(np.uint64) * np.uint64(_GOLDEN)  # wraps mod 2^64
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(float) * 2.0**-53


class ImageContent:
    """The original bytes of a base image, page by page: zero, a duplicate of another page of
    the image, or unique (DESIGN.md, "Disk images and content").

    Every answer comes from a counter-based hash of (image seed, page, try), so a page's
    content can be drawn alone, whenever it is first asked for, and is the same whoever asks
    first: memory follows the pages a run touches (a memo of their answers), not the image's
    size. A page is zero with probability zero_fraction and a duplicate with internal_dup; a
    duplicate copies a page drawn uniformly from the image's unique pages (by rejection: draw
    a page, keep it if unique). Simplification: a duplicate that finds no unique page in
    65,535 tries keeps bytes of its own — it matters only when under about 0.01% of the image
    is unique; with no unique page at all (zero_fraction + internal_dup = 1) every duplicate
    keeps its own bytes, as then it must.
    """

    __slots__ = ("own", "pages", "zero", "dup_end", "key", "memo", "_plain")

    def __init__(self, file_id: int, pages: int, zero_fraction: float, internal_dup: float,
                 seed: np.random.SeedSequence):
        self.own = _IMAGE_TAG | file_id << PAGE_BITS  # | page: a unique page's content
        self.pages = pages
        self.zero, self.dup_end = zero_fraction, zero_fraction + internal_dup
        self.key = int(seed.generate_state(1, np.uint64)[0])
        self.memo: dict[int, int] = {}
        self._plain = zero_fraction == 0 and internal_dup == 0  # every page unique: no draws

    def of(self, page: int) -> int:
        """The content id of the image's original page."""
        if self._plain:
            return self.own | page
        content = self.memo.get(page)
        if content is None:
            content = self.memo[page] = self._draw(page)
        return content

    def _draw(self, page: int) -> int:
        key, counter = self.key, page << _TRY_BITS
        u = _uniform(key, counter)
        if u < self.zero:
            return ZERO_CONTENT
        if u >= self.dup_end or self.dup_end >= 1.0:  # unique, or no unique page to copy
            return self.own | page
        for t in range(1, _SCALAR_TRIES + 1):
            q = int(_uniform(key, counter | t) * self.pages)
            if _uniform(key, q << _TRY_BITS) >= self.dup_end:
                return self.own | q
        tries = np.arange(_SCALAR_TRIES + 1, 1 << _TRY_BITS, dtype=np.int64)
        q = (_uniforms(key, counter | tries) * self.pages).astype(np.int64)
        unique = np.flatnonzero(_uniforms(key, q << _TRY_BITS) >= self.dup_end)
        return self.own | int(q[unique[0]]) if len(unique) else self.own | page

    def of_pages(self, pages: np.ndarray) -> np.ndarray:
        """Contents of many pages at once, vectorised (the same answers as `of`)."""
        pages = np.asarray(pages, dtype=np.int64)
        if self._plain:
            return self.own | pages
        counter = pages << _TRY_BITS
        u = _uniforms(self.key, counter)
        out = self.own | pages
        out[u < self.zero] = ZERO_CONTENT
        if self.dup_end >= 1.0:  # no unique page to copy: duplicates keep their own bytes
            return out
        pending = np.flatnonzero((u >= self.zero) & (u < self.dup_end))
        for t in range(1, _SCALAR_TRIES + 1):  # the same tries as _draw, for all at once
            q = (_uniforms(self.key, counter[pending] | t) * self.pages).astype(np.int64)
            found = _uniforms(self.key, q << _TRY_BITS) >= self.dup_end
            out[pending[found]] = self.own | q[found]
            pending = pending[~found]
        for i in pending.tolist():  # rare: a long search
            out[i] = self._draw(int(pages[i]))
        return out


class GuestDisk:
    """A guest's virtual disk: private, a `cow` clone or a `copy` clone of a base image.

    cow: an unwritten vpage is the base's location (shared by every clone); a written one is the
    guest's overlay. copy: always the guest's own file, holding the base's bytes until written.
    """

    __slots__ = ("kind", "own", "base", "pages")

    def __init__(self, kind: str, own: int, base: int | None, pages: int):
        self.kind, self.own, self.base, self.pages = kind, own, base, pages

    def location(self, vpage: int, written: bool) -> int:
        if self.kind == "cow" and not written:  # the clone kinds are this class's own two
            return self.base << PAGE_BITS | vpage
        return self.own << PAGE_BITS | vpage


class Layout:
    """Every backing file, its disk, and its place on that disk (files laid out contiguously)."""

    def __init__(self):
        self.files: list[BackingFile] = []
        self.disk_pages: dict[str, int] = {}

    def add(self, name: str, disk: str, pages: int, owner=None, content=None) -> BackingFile:
        f = BackingFile(len(self.files), name, disk, pages, owner, content)
        f.offset = self.disk_pages.get(disk, 0)
        self.disk_pages[disk] = f.offset + pages
        self.files.append(f)
        return f

    def block(self, loc: int) -> tuple[str, int]:
        f = self.files[loc >> PAGE_BITS]
        return f.disk, f.offset + (loc & PAGE_MASK)


class Contents:
    """Write serials (versions) and what bytes each location and write holds.

    `data` is what a cache or disk stores for a page: 0 for the page's original bytes, else the
    serial of the write that produced it. Serials are unique, so comparing data is a version check.
    """

    def __init__(self, layout: Layout):
        self.layout = layout
        self._serials: dict[int, int] = {}  # guest -> writes so far
        self._pooled: dict[int, int] = {}  # serial -> content, for writes from the shared pool

    def new_write(self, guest: int, vpage: int, pooled: bool) -> int:
        """A new version: numbered per guest, so the numbers do not depend on how guests
        interleave (guests may run ahead of one another on their own clocks)."""
        n = self._serials.get(guest, 0) + 1
        self._serials[guest] = n
        serial = (guest + 1) << _SERIAL_BITS | n
        if pooled:
            # the same update installed in every guest: same bytes at the same vpage
            self._pooled[serial] = _POOL_TAG | vpage
        return serial

    def content(self, loc: int, data: int) -> int:
        if data:
            return self._pooled.get(data, _WRITE_TAG | data)
        f = self.layout.files[loc >> PAGE_BITS]
        if f.content is None:
            return _IMAGE_TAG | loc
        return f.content.of(loc & PAGE_MASK)
