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

    __slots__ = ("id", "name", "disk", "pages", "offset", "owner", "content")

    def __init__(self, id: int, name: str, disk: str, pages: int, owner: int | None, content):
        self.id, self.name, self.disk, self.pages = id, name, disk, pages
        self.owner = owner  # guest index, None for a base image shared by all
        self.content = content  # numpy array of original contents, or None (unique per location)
        self.offset = 0  # first block on its disk, set by Layout.place


def image_contents(pages: int, zero_fraction: float, internal_dup: float, file_id: int,
                   rng: np.random.Generator) -> np.ndarray:
    """Original contents of an image: zero pages, pages duplicating another page, unique pages."""
    content = _IMAGE_TAG | (file_id << PAGE_BITS) | np.arange(pages, dtype=np.int64)
    kind = rng.random(pages)
    dup = (kind >= zero_fraction) & (kind < zero_fraction + internal_dup)
    # a duplicated page copies the bytes of a page drawn from the image's unique ones
    unique = np.flatnonzero(kind >= zero_fraction + internal_dup)
    if dup.any() and len(unique):
        content[dup] = content[rng.choice(unique, dup.sum())]
    content[kind < zero_fraction] = ZERO_CONTENT
    return content


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
        return int(f.content[loc & PAGE_MASK])
