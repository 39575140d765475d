"""libCacheSim oracleGeneral: 24-byte records `u32 time, u64 obj_id, u32 size, i64 next_access`.

The one place that knows the layout: its reader, and its writer (used by fixtures, benchmarks
and `tmemsim verify`'s libCacheSim peer). Each record is one read of `size` bytes from page
obj_id on: pages obj_id .. obj_id + ceil(size / 4 KiB) - 1 (one page when size is 0), as a
request of other formats spans the pages its bytes cover; time in seconds. The format is
registered as `oracle` and, as libCacheSim names it, `oracleGeneral`.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import numpy as np

from tmemsim.units import PAGE_SIZE

from .base import Example, TraceFormat
from .records import ID_MASK, READ, Records
from .source import Source, open_binary, read_bytes

ORACLE_DTYPE = np.dtype(
    [("time", "<u4"), ("obj_id", "<u8"), ("size", "<u4"), ("next_access", "<i8")]
)  # packed: 24 bytes per record
BLOCK_RECORDS = 1 << 17


# Object ids fold below this, so that the last page of an object of up to 2**32 bytes (2**20
# pages) is still a non-negative int64: ids under 2**63 - 2**32 keep their value.
ID_SPAN = ID_MASK + 1 - (1 << 32)


def requests(rec: np.ndarray) -> Records:
    """What a block of oracleGeneral records asks for: a read of `size` bytes from page obj_id.

    Object ids fold into [0, ID_SPAN) (63 bits, less room for an object's pages)."""
    n = len(rec)
    size = rec["size"].astype(np.int64)
    return Records(
        time=rec["time"].astype(np.int64), time_scale=1.0, op=np.full(n, READ, np.uint8),
        first_page=((rec["obj_id"] & np.uint64(ID_MASK)) % np.uint64(ID_SPAN)).astype(np.int64),
        npages=np.maximum((size + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        volume=np.zeros(n, np.int64), content=None,
    )


def read(src: Source, options) -> Iterator[Records]:
    stream, raw = open_binary(src)
    with raw, stream:
        carry, count = b"", 0
        while True:
            data = carry + read_bytes(src, stream, BLOCK_RECORDS * ORACLE_DTYPE.itemsize)
            whole = len(data) // ORACLE_DTYPE.itemsize * ORACLE_DTYPE.itemsize
            carry = data[whole:]
            if whole == 0:
                break
            rec = np.frombuffer(data, dtype=ORACLE_DTYPE, count=whole // ORACLE_DTYPE.itemsize)
            count += len(rec)
            src.stats["lines"] += len(rec)
            src.stats["records"] += len(rec)
            yield requests(rec)
        if carry:
            src.stats["lines"] += 1
            if src.on_error == "raise":
                raise src.error(f"expected a whole 24-byte oracleGeneral record, got "
                                f"{len(carry)} trailing bytes", count + 1)
            src.stats["skipped"] += 1


def write_oracle_general(path, obj_ids, times=None, *, size=PAGE_SIZE) -> None:
    """Write libCacheSim oracleGeneral records (next_access = -1); gzip when path ends in .gz.

    size: every object's size in bytes, or one per object."""
    obj_ids = np.asarray(obj_ids)
    records = np.zeros(len(obj_ids), dtype=ORACLE_DTYPE)
    records["obj_id"] = obj_ids
    records["time"] = 0 if times is None else np.asarray(times)
    records["size"] = size
    records["next_access"] = -1
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(records.tobytes())


def write_oracle(path, rows) -> None:
    """Write rows (time_s, op, offset_bytes, size_bytes, volume) as oracleGeneral records.

    The format holds reads of volume 0 at whole seconds: other rows are a ValueError. An object
    starts at a page: one starting inside a page is written from that page's start, its size
    grown by as much, so that it covers the same pages."""
    rows = list(rows)
    for time_s, op, offset, size, volume in rows:
        if op != READ or volume != 0 or time_s != int(time_s) or \
                offset % PAGE_SIZE + size >= 1 << 32:
            raise ValueError(f"oracleGeneral holds reads of volume 0 at whole seconds, of "
                             f"under 4 GiB, not {(time_s, op, offset, size, volume)}")
    write_oracle_general(path, [offset // PAGE_SIZE for _, _, offset, _, _ in rows],
                         times=[int(time_s) for time_s, *_ in rows],
                         size=[offset % PAGE_SIZE + size for _, _, offset, size, _ in rows])


FORMAT = TraceFormat(
    name="oracle",
    aliases=("oracleGeneral",),
    read=read,
    example=Example(write_oracle, (
        (0, READ, 4096, 4096, 0), (1, READ, 0, 100, 0), (1, READ, 4096, 65536, 0),
        (2, READ, 6000, 5000, 0), (5, READ, 1 << 40, 4096, 0),
    )),
)
