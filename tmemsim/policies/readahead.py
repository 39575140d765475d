"""On-demand readahead (Linux's mm/readahead.c, simplified): when to read which pages ahead.

Plain state, no time: the reader (the host cache on an image file) asks on a miss and on a
hit of a marked page, reads what it is told, and marks the page it is told to.

- Sequential access is detected per file: a miss on the page after the file's previous read
  (or on that page again) starts a window at the miss, of `init_size` pages (4 for a 128 KiB
  maximum); any other miss reads its page alone.
- The window is asynchronous: the page `async_size` before its end carries the marker
  (PG_readahead). A hit on it reads the next window, `next_size` pages (x4 while small, then
  x2, up to `max`), whose first page carries the next marker.
- Simplifications: the file's previous position is learnt from misses and marker hits only
  (not every hit); a marker hit that is not where the window expects it restarts the window
  after the hit (Linux looks for the stream's history in the page cache); a random miss at a
  file's first page reads no more than its page (Linux reads ahead there: a file opened and
  read from its start is usually read on); a window never crosses its file's end.
"""

from __future__ import annotations

from ..fields import SizeOrZero, Strict
from ..units import PAGE_SIZE


class ReadaheadSpec(Strict):
    """`readahead: {max: 128KiB}`: the largest window (Linux's read_ahead_kb); 0 turns it off."""

    max: SizeOrZero = 0

    def pages(self) -> int:
        return self.max // PAGE_SIZE


def init_size(request: int, most: int) -> int:
    """get_init_ra_size: the first window for a sequential miss of `request` pages."""
    size = 1 << (request - 1).bit_length()
    if size <= most // 32:
        return min(size * 4, most)
    if size <= most // 4:
        return size * 2
    return most


def next_size(current: int, most: int) -> int:
    """get_next_ra_size: the window after one of `current` pages."""
    if current < most // 16:
        return 4 * current
    if current <= most // 2:
        return 2 * current
    return most


class Window:
    """One file's readahead state (struct file_ra_state)."""

    __slots__ = ("start", "size", "async_size", "prev")

    def __init__(self, prev: int):
        self.start = self.size = self.async_size = 0
        self.prev = prev


class Readahead:
    """The readahead windows of one reader over files of `file_pages` pages, `limit` in all.

    `miss(page)` and `marked(page)` return the window to read, [start, end), or None; the reader
    reads the pages of it it lacks, then calls `mark(page)` on the marker if it read that page.
    """

    __slots__ = ("most", "file_pages", "limit", "windows", "marks", "marker")

    def __init__(self, most: int, file_pages: int, limit: int):
        self.most, self.file_pages, self.limit = most, file_pages, limit
        self.windows: dict = {}  # file -> Window
        self.marks: set = set()  # pages carrying the marker
        self.marker = -1  # the marker of the window last returned

    def _window(self, w: Window, page: int) -> tuple[int, int]:
        end = min(w.start + w.size, (page // self.file_pages + 1) * self.file_pages, self.limit)
        self.marker = w.start + w.size - w.async_size
        return w.start, end

    def miss(self, page: int) -> tuple[int, int] | None:
        """A page missed: the window to read (it starts at page), or None to read page alone."""
        f = page // self.file_pages
        w = self.windows.get(f)
        if w is None:
            self.windows[f] = Window(page)
            return None
        sequential = 0 <= page - w.prev <= 1
        w.prev = page
        if not sequential or self.most < 2:
            return None
        w.start, w.size = page, init_size(1, self.most)
        w.async_size = w.size - 1
        return self._window(w, page)

    def marked(self, page: int) -> tuple[int, int] | None:
        """A page carrying the marker was hit: the next window (asynchronous), or None."""
        if page not in self.marks:
            return None
        self.marks.discard(page)
        w = self.windows[page // self.file_pages]
        if page == w.start + w.size - w.async_size:
            w.start += w.size
            w.size = next_size(w.size, self.most)
        else:  # not this window's marker: start over after it
            w.start, w.size = page + 1, next_size(max(w.size, 1), self.most)
        w.async_size = w.size
        w.prev = page
        start, end = self._window(w, page)
        return (start, end) if start < end else None

    def mark(self, page: int) -> None:
        self.marks.add(page)

    def forget(self, page: int) -> None:
        """The page left the reader's cache: its marker, if any, goes with it."""
        self.marks.discard(page)
