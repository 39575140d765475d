"""MSR Cambridge: `Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime`, no header.

Timestamp in 100 ns Windows filetime ticks; Offset and Size in bytes; volume = DiskNumber.
"""

from __future__ import annotations

from .base import Example, TraceFormat
from .dialect import Column, CsvDialect, Extent, Ops, Time, text_format
from .records import READ, WRITE
from .source import create_text
from .text import read_text

TICK = 1e-7  # Windows filetime ticks are 100 ns
DIALECT = CsvDialect(
    fields=("Timestamp", "Hostname", "DiskNumber", "Type", "Offset", "Size", "ResponseTime"),
    time=Time("Timestamp", scale=TICK, integer=True),
    op=Ops("Type", read=("read",), write=("write",), fold_case=True,
           expected="Type Read or Write"),
    offset=Extent("Offset"),
    size=Extent("Size"),
    volume=Column("DiskNumber"),
)
TEXT = text_format(DIALECT)
# A plausible MSR start (early 2007) so that written files look like the real ones.
EPOCH = 128166372000000000


def read(src, options):
    return read_text(src, TEXT)


def write_msr(path, rows) -> None:
    """Write MSR CSV lines from rows (time_s, op, offset_bytes, size_bytes, volume)."""
    with create_text(path) as f:
        for time_s, op, offset, size, volume in rows:
            ticks = EPOCH + round(time_s / TICK)
            kind = "Write" if op == WRITE else "Read"
            f.write(f"{ticks},tmemsim,{volume},{kind},{offset},{size},0\n")


FORMAT = TraceFormat(
    name="msr",
    read=read,
    example=Example(write_msr, (
        (0.0, READ, 0, 4096, 0), (0.001, WRITE, 4096, 8192, 1), (0.0025, READ, 6144, 4096, 0),
        (0.003, WRITE, 8192, 0, 1),
    )),
)
