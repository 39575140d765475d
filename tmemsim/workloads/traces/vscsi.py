"""VMware vscsi traces (the CloudPhysics VM traces): binary records of two layouts.

Version 1 records are 32 bytes, `u32 sn, u32 len, u32 nSG, u16 cmd, u16 ver, u64 lbn, u64 ts`;
version 2 records 40 bytes, `u16 cmd, u16 ver, u32 sn, u32 len, u32 nSG, u64 lbn, u64 ts,
u64 rt` (little-endian, C alignment). `ver >> 8` is the version; as libCacheSim's reader does,
the first two records tell which layout the file has (and here every record must say the same).
`lbn` is in 512-byte sectors, `len` in bytes, `ts` in microseconds. `cmd` is the SCSI opcode:
READ(6/10/12/16) are reads, WRITE(6/10/12/16) writes; other commands (SYNCHRONIZE CACHE,
INQUIRY, ...) and zero-length transfers move no page and are filtered out (a format rule).
libCacheSim 0.3.5 reports WRITE(6) as an invalid op; it is a write here. A file is one virtual
disk: there are no volumes.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import numpy as np

from .base import Example, TraceFormat
from .records import READ, SECTOR, WRITE, Records, records
from .source import Source, open_binary, read_bytes

V1_DTYPE = np.dtype([("sn", "<u4"), ("len", "<u4"), ("nSG", "<u4"), ("cmd", "<u2"),
                     ("ver", "<u2"), ("lbn", "<u8"), ("ts", "<u8")])  # 32 bytes
V2_DTYPE = np.dtype([("cmd", "<u2"), ("ver", "<u2"), ("sn", "<u4"), ("len", "<u4"),
                     ("nSG", "<u4"), ("lbn", "<u8"), ("ts", "<u8"), ("rt", "<u8")])  # 40 bytes
DTYPES = {1: V1_DTYPE, 2: V2_DTYPE}
READS = (0x08, 0x28, 0xA8, 0x88)  # SCSI READ(6), READ(10), READ(12), READ(16)
WRITES = (0x0A, 0x2A, 0xAA, 0x8A)  # WRITE(6), WRITE(10), WRITE(12), WRITE(16)
BLOCK_RECORDS = 1 << 17
TEST_RECORDS = 2  # as libCacheSim: the version both of the first two records say
# the largest lbn whose byte offset is still below records.MAX_BYTES
MAX_LBN = (1 << 60) // SECTOR


def version(head: bytes) -> int | None:
    """The layout (1 or 2) the first records of a file say they have, or None."""
    for ver, dtype in sorted(DTYPES.items(), reverse=True):  # version 2 first, as libCacheSim
        n = min(len(head) // dtype.itemsize, TEST_RECORDS)
        if n and (np.frombuffer(head, dtype, count=n)["ver"] >> 8 == ver).all():
            return ver
    return None


def requests(rec: np.ndarray, ver: int, src: Source, first: int) -> Records:
    """What a block of records asks for; records of another version are malformed lines
    (`first` is the 1-based index of the block's first record)."""
    bad = np.flatnonzero((rec["ver"] >> 8 != ver) | (rec["lbn"] > MAX_LBN))
    if len(bad):
        if src.on_error == "raise":
            i = int(bad[0])
            raise src.error(f"expected a vscsi version {ver} record of an lbn below "
                            f"{MAX_LBN}, got version {int(rec['ver'][i]) >> 8}, lbn "
                            f"{int(rec['lbn'][i])}", first + i)
        src.stats["skipped"] += len(bad)
        rec = np.delete(rec, bad)
    cmd = rec["cmd"]
    is_read, is_write = np.isin(cmd, READS), np.isin(cmd, WRITES)
    keep = (is_read | is_write) & (rec["len"] > 0)
    src.stats["records"] += len(rec)
    src.stats["filtered"] += int(len(rec) - keep.sum())
    ts = rec["ts"].astype(np.int64)
    first_time = int(ts[0]) if len(ts) else None  # a dropped first record still starts the clock
    kept = rec[keep]
    return records(
        time=ts[keep], time_scale=1e-6, op=np.where(is_write[keep], WRITE, READ),
        offset=kept["lbn"].astype(np.int64) * SECTOR, size=kept["len"].astype(np.int64),
        volume=np.zeros(len(kept), np.int64), first_time=first_time,
        dropped=int(len(rec) - keep.sum()),
    )


def read(src: Source, options) -> Iterator[Records]:
    stream, raw = open_binary(src)
    with raw, stream:
        data = read_bytes(src, stream, BLOCK_RECORDS * V1_DTYPE.itemsize)
        ver = version(data)
        if data and ver is None:
            raise src.error("not a vscsi trace: the first records are of neither version 1 "
                            "(32-byte records) nor version 2 (40-byte records)", 1)
        dtype = DTYPES.get(ver, V1_DTYPE)
        carry, count = b"", 0
        while True:
            data = carry + data
            whole = len(data) // dtype.itemsize * dtype.itemsize
            carry = data[whole:]
            if whole == 0:
                break
            rec = np.frombuffer(data, dtype=dtype, count=whole // dtype.itemsize)
            src.stats["lines"] += len(rec)
            yield requests(rec, ver, src, count + 1)
            count += len(rec)
            data = read_bytes(src, stream, BLOCK_RECORDS * dtype.itemsize)
        if carry:
            src.stats["lines"] += 1
            if src.on_error == "raise":
                raise src.error(f"expected a whole {dtype.itemsize}-byte vscsi version {ver} "
                                f"record, got {len(carry)} trailing bytes", count + 1)
            src.stats["skipped"] += 1


def write_vscsi(path, rows, version: int = 1) -> None:
    """Write rows (time_s, op, offset_bytes, size_bytes, volume) as vscsi records of `version`
    (READ(10) and WRITE(10) commands); gzip when path ends in .gz.

    The format holds transfers of 1 B to 4 GiB at whole sectors and microseconds, volume 0:
    other rows are a ValueError."""
    rows = list(rows)
    rec = np.zeros(len(rows), dtype=DTYPES[version])
    for i, (time_s, op, offset, size, volume) in enumerate(rows):
        us = round(time_s * 1e6)
        if volume != 0 or offset % SECTOR or not 0 < size < 1 << 32 or \
                abs(us - time_s * 1e6) > 1e-3 or op not in (READ, WRITE):
            raise ValueError(f"vscsi holds reads and writes of volume 0 at whole sectors and "
                             f"microseconds, of 1 B to 4 GiB, not {(time_s, op, offset, size, volume)}")
        rec[i] = 0
        rec["cmd"][i] = WRITES[1] if op == WRITE else READS[1]
        rec["ts"][i], rec["lbn"][i], rec["len"][i] = us, offset // SECTOR, size
    rec["ver"] = version << 8
    rec["sn"] = np.arange(len(rows))
    rec["nSG"] = 1
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(rec.tobytes())


FORMAT = TraceFormat(
    name="vscsi",
    read=read,
    example=Example(write_vscsi, (
        (0.0, WRITE, 21_980_000_256, 512, 0), (0.000250, WRITE, 21_980_000_768, 6656, 0),
        (1.5, READ, 16_360_721_920, 65536, 0), (2.25, READ, 4096, 4096, 0),
    )),
)
