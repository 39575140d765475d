"""FIU (SRCMap/IODedup): `ts pid proc lba size R|W major minor md5`, whitespace separated.

ts in nanoseconds; lba and size in 512 B sectors; volume = (major << 20) | minor; content id
= first 8 md5 bytes little-endian in 63 bits. A record longer than one page (size > 8) gives
every page the same content id: FIU hashes 4 KiB blocks, so such records are rare.

Not a `CsvDialect`: the process name may contain spaces, so the fields are counted from both
ends of the line, and the volume and content are computed from several fields.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa

from .base import Example, TraceFormat
from .records import READ, SECTOR, WRITE, Records, device_volume, records
from .source import create_text
from .text import TextFormat, read_text
from .values import (
    Malformed,
    arrow_table,
    checked_bytes,
    checked_devno,
    codes,
    content_id,
    content_ids,
    devno,
    numbers,
    parse_int,
    to_bytes,
)

NAMES = ("ts", "pid", "proc", "lba", "size", "op", "major", "minor", "md5")
OPS = {"R": READ, "r": READ, "W": WRITE, "w": WRITE}
TICK = 1e-9  # FIU timestamps are nanoseconds
EPOCH_NS = 89966527294  # the first timestamp of a published FIU trace


def parse_line(line: str):
    f = line.split()
    # The process name may contain spaces: the fields are counted from both ends.
    if len(f) < 9:
        raise Malformed("9 fields: ts pid proc lba size R|W major minor md5")
    op = OPS.get(f[-4])
    if op is None:
        raise Malformed("R or W")
    offset = to_bytes(parse_int(f[-6], "an integer lba"), SECTOR, "lba")
    size = to_bytes(parse_int(f[-5], "an integer size"), SECTOR, "size")
    volume = devno(parse_int(f[-3], "an integer major"), parse_int(f[-2], "an integer minor"))
    return (parse_int(f[0], "an integer ts in ns"), op, offset, size, volume, content_id(f[-1]))


def parse_block(block: bytes) -> Records:
    t = arrow_table(block, NAMES, {
        "ts": pa.int64(), "lba": pa.int64(), "size": pa.int64(), "op": pa.string(),
        "major": pa.int64(), "minor": pa.int64(), "md5": pa.string(),
    }, delimiter=" ")
    offset = checked_bytes(numbers(t, "lba"), SECTOR)
    size = checked_bytes(numbers(t, "size"), SECTOR)
    volume = checked_devno(numbers(t, "major"), numbers(t, "minor"))
    return records(numbers(t, "ts"), TICK, codes(t, "op", OPS.get), offset, size, volume,
                   content_ids(t.column("md5")))


TEXT = TextFormat(parse_line, parse_block, TICK, np.int64)


def read(src, options):
    return read_text(src, TEXT)


def write_fiu(path, rows) -> None:
    """Write FIU lines from rows (time_s, op, offset_bytes, size_bytes, volume).

    Sectors are rounded outwards (the pages a request covers are kept); the volume must be a
    `device_volume`; the md5 is a stand-in, of the record's offset and volume."""
    with create_text(path) as f:
        for time_s, op, offset, size, volume in rows:
            major, minor = divmod(volume, device_volume(1, 0))
            sector = offset // SECTOR
            nsectors = -(-(offset + size) // SECTOR) - sector
            md5 = hashlib.md5(f"{volume}:{offset}".encode()).hexdigest()
            kind = "W" if op == WRITE else "R"
            f.write(f"{EPOCH_NS + round(time_s * 1e9)} 1000 tmemsim {sector} {nsectors} {kind} "
                    f"{major} {minor} {md5}\n")


FORMAT = TraceFormat(
    name="fiu",
    read=read,
    example=Example(write_fiu, (
        (0.0, READ, 0, 4096, device_volume(6, 0)), (1e-6, WRITE, 4096, 8192, device_volume(6, 1)),
        (0.5, READ, 1536, 4096, device_volume(6, 0)),
    )),
)
