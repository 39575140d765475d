"""Alibaba block traces: `device_id,opcode,offset,length,timestamp` (bytes, microseconds).

volume = device_id; opcode R or W.
"""

from __future__ import annotations

from .base import Example, TraceFormat
from .dialect import Column, CsvDialect, Extent, Ops, Time, text_format
from .records import READ, WRITE
from .source import create_text
from .text import read_text

DIALECT = CsvDialect(
    fields=("device_id", "opcode", "offset", "length", "timestamp_us"),
    time=Time("timestamp_us", scale=1e-6, integer=True),
    op=Ops("opcode", read=("R", "r"), write=("W", "w"), expected="opcode R or W"),
    offset=Extent("offset"),
    size=Extent("length"),
    volume=Column("device_id"),
)
TEXT = text_format(DIALECT)
EPOCH_US = 1577808000000000  # 2020-01-01, as in the published traces


def read(src, options):
    return read_text(src, TEXT)


def write_alibaba(path, rows) -> None:
    """Write Alibaba lines from rows (time_s, op, offset_bytes, size_bytes, volume)."""
    with create_text(path) as f:
        for time_s, op, offset, size, volume in rows:
            kind = "W" if op == WRITE else "R"
            f.write(f"{volume},{kind},{offset},{size},{EPOCH_US + round(time_s * 1e6)}\n")


FORMAT = TraceFormat(
    name="alibaba",
    read=read,
    example=Example(write_alibaba, (
        (0.0, READ, 0, 4096, 3), (0.5, WRITE, 4096, 12288, 3), (1.000001, READ, 8192, 512, 5),
    )),
)
