"""What a trace becomes: validated records of one block, then chunks of 4 KiB page requests.

A format reader turns blocks of its file into `Records` (one row per trace record, byte extents
already turned into page ranges); the pipeline splits them into pages and regroups the rows into
`TraceChunk`s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tmemsim.units import PAGE_SIZE

READ, WRITE = 0, 1
SECTOR = 512
# Offsets and sizes above this are surely garbage; rejecting them keeps int64 page maths exact.
MAX_BYTES = 1 << 60
ID_MASK = (1 << 63) - 1  # ids (md5 prefixes, oracle object ids) folded into a non-negative int64
MINOR_BITS = 20
MAX_MAJOR = 1 << 42  # so that (major << 20) | minor stays a non-negative int64


@dataclass(frozen=True)
class TraceChunk:
    """A run of page requests, one row per 4 KiB page, in trace order."""

    time_s: np.ndarray  # float64, seconds since the first record of the file
    op: np.ndarray  # uint8, READ or WRITE
    page: np.ndarray  # int64, page number on the traced device
    volume: np.ndarray  # int64, volume/device id (0 when the format has none)
    content: np.ndarray | None  # int64 content id per page (FIU only), else None
    # bool per page: the request covers only part of the page (None: every page whole)
    partial: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.page)


def device_volume(major: int, minor: int) -> int:
    """The volume id blkparse and FIU records get for device major:minor."""
    return (major << MINOR_BITS) | minor


@dataclass(frozen=True)
class Records:
    """Valid trace records of one block: raw time, op, first page and page count per record."""

    time: np.ndarray  # raw units of the format (int64 or float64)
    time_scale: float  # seconds per raw unit
    op: np.ndarray
    first_page: np.ndarray
    npages: np.ndarray
    volume: np.ndarray
    content: np.ndarray | None
    # Raw time of the block's first record, counting records a format rule dropped (blkparse's
    # other actions); None when that is time[0].
    first_time: float | int | None = None
    dropped: int = 0  # valid records a format rule dropped (counted as records and filtered)
    # bool per record: its first page / its last page is covered only in part (None: whole)
    head_partial: np.ndarray | None = None
    tail_partial: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.first_page)

    def start_time(self):
        return self.first_time if self.first_time is not None else self.time[0]

    def take(self, keep: np.ndarray) -> Records:
        return Records(
            self.time[keep], self.time_scale, self.op[keep], self.first_page[keep],
            self.npages[keep], self.volume[keep],
            None if self.content is None else self.content[keep], self.start_time(),
            head_partial=None if self.head_partial is None else self.head_partial[keep],
            tail_partial=None if self.tail_partial is None else self.tail_partial[keep],
        )


def records(time, time_scale, op, offset, size, volume, content=None, first_time=None,
            dropped=0) -> Records:
    """Records from byte extents: a request covers pages offset//4096 .. (offset+size-1)//4096,
    the first only in part unless it starts on a page boundary and spans a page or more, the
    last only in part unless it ends on a page boundary (a size of 0 is one whole page)."""
    offset = np.asarray(offset, dtype=np.int64)
    size = np.asarray(size, dtype=np.int64)
    first = offset // PAGE_SIZE
    last = (offset + np.maximum(size, 1) - 1) // PAGE_SIZE  # a size of 0 still touches a page
    return Records(
        time=np.asarray(time),
        time_scale=time_scale,
        op=np.asarray(op, dtype=np.uint8),
        first_page=first,
        npages=last - first + 1,
        volume=np.asarray(volume, dtype=np.int64),
        content=None if content is None else np.asarray(content, dtype=np.int64),
        first_time=first_time,
        dropped=dropped,
        # a size of 0 is a format's "one page" (a CSV without sizes): a whole one
        head_partial=(offset % PAGE_SIZE != 0) | ((size > 0) & (size < PAGE_SIZE)),
        tail_partial=(size > 0) & ((offset + size) % PAGE_SIZE != 0),
    )
