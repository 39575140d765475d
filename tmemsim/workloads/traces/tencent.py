"""Tencent CBS: `ts,offset,size,iotype,volume`; ts in s, sectors of 512 B, iotype 0=R 1=W."""

from __future__ import annotations

from .base import Example, TraceFormat
from .dialect import Column, CsvDialect, Extent, Ops, Time, text_format
from .records import READ, SECTOR, WRITE
from .source import create_text
from .text import read_text

DIALECT = CsvDialect(
    fields=("ts", "offset_sectors", "size_sectors", "iotype", "volume"),
    time=Time("ts", "ts in seconds"),
    op=Ops("iotype", read=(0,), write=(1,), expected="iotype 0 or 1"),
    offset=Extent("offset_sectors", "offset", unit=SECTOR),
    size=Extent("size_sectors", "size", unit=SECTOR),
    volume=Column("volume"),
)
TEXT = text_format(DIALECT)
EPOCH_S = 1538323200  # 2018-10-01, as in the published traces


def read(src, options):
    return read_text(src, TEXT)


def write_tencent(path, rows) -> None:
    """Write Tencent lines from rows (time_s, op, offset_bytes, size_bytes, volume).

    Sectors are rounded outwards, which keeps the pages a request covers unchanged."""
    with create_text(path) as f:
        for time_s, op, offset, size, volume in rows:
            sector = offset // SECTOR
            nsectors = -(-(offset + size) // SECTOR) - sector
            f.write(f"{EPOCH_S + time_s!r},{sector},{nsectors},{int(op == WRITE)},{volume}\n")


FORMAT = TraceFormat(
    name="tencent",
    read=read,
    example=Example(write_tencent, (
        (0.0, READ, 0, 4096, 7), (1.0, WRITE, 4096, 8192, 7), (2.5, READ, 3584, 1024, 9),
    )),
)
