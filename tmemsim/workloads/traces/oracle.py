"""libCacheSim oracleGeneral: 24-byte records `u32 time, u64 obj_id, u32 size, i64 next_access`.

The one place that knows the layout: its reader, and its writer (used by fixtures, benchmarks
and `tmemsim verify`'s libCacheSim peer). Each record is one read of page obj_id (objects are
pages; size is ignored, see `requests`); time in seconds.
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


def requests(rec: np.ndarray) -> Records:
    """What a block of oracleGeneral records asks for: a read of page obj_id per record.

    Object ids above 2**63 fold into 63 bits; `size` is not used (every object is one page)."""
    n = len(rec)
    return Records(
        time=rec["time"].astype(np.int64), time_scale=1.0, op=np.full(n, READ, np.uint8),
        first_page=(rec["obj_id"] & np.uint64(ID_MASK)).astype(np.int64),
        npages=np.ones(n, np.int64), volume=np.zeros(n, np.int64), content=None,
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


def write_oracle_general(path, obj_ids, times=None, *, size: int = PAGE_SIZE) -> None:
    """Write libCacheSim oracleGeneral records (next_access = -1); gzip when path ends in .gz."""
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

    The format holds one-page reads of volume 0 at whole seconds: other rows are a ValueError."""
    rows = list(rows)
    for time_s, op, offset, size, volume in rows:
        if op != READ or volume != 0 or time_s != int(time_s) or \
                offset // PAGE_SIZE != (offset + max(size, 1) - 1) // PAGE_SIZE:
            raise ValueError(f"oracleGeneral holds one-page reads of volume 0 at whole "
                             f"seconds, not {(time_s, op, offset, size, volume)}")
    write_oracle_general(path, [offset // PAGE_SIZE for _, _, offset, _, _ in rows],
                         times=[int(time_s) for time_s, *_ in rows])


FORMAT = TraceFormat(
    name="oracle",
    read=read,
    example=Example(write_oracle, (
        (0, READ, 4096, 4096, 0), (1, READ, 0, 100, 0), (1, READ, 4096, 4096, 0),
        (5, READ, 1 << 40, 4096, 0),
    )),
)
