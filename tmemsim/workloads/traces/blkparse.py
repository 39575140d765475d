"""blkparse default text: `maj,min cpu seq sec.nsec pid action rwbs sector + nsectors [proc]`.

Keeps `action` events whose rwbs has R or W (flush-only, discard and sector-less requests are
filtered); sectors are 512 B; volume = (maj << 20) | min. Lines whose first field is not
`maj,min` (blkparse's closing summary, blank lines) are not records and are ignored.

Not a `CsvDialect`: a line's fields depend on its action, and some records are dropped.
"""

from __future__ import annotations

import re

import numpy as np
from pydantic import BaseModel, ConfigDict

from .base import Example, TraceFormat
from .records import MINOR_BITS, READ, SECTOR, WRITE, Records, device_volume, records
from .source import create_text
from .text import Filtered, TextFormat, read_text
from .values import (
    BadBlock,
    Malformed,
    checked_bytes,
    checked_devno,
    devno,
    parse_float,
    parse_int,
    to_bytes,
)

DEVNO = re.compile(r"[0-9]+,[0-9]+")


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action: str = "Q"  # the blktrace action kept (Q: queued; D: issued; C: completed)


def line_parser(action: str):
    def parse(line: str):
        f = line.split()
        if not f or not DEVNO.fullmatch(f[0]):
            return None  # the summary at the end, headers, blank lines: not records
        if len(f) < 6:
            raise Malformed("maj,min cpu seq sec.nsec pid action ...")
        time = parse_float(f[3], "a time sec.nsec")
        if f[5] != action:
            return Filtered(time)
        if len(f) < 7:
            raise Malformed(f"rwbs after action {action}")
        rwbs = f[6]
        op = READ if "R" in rwbs else WRITE if "W" in rwbs else None
        if op is None or (len(f) == 7 or f[7].startswith("[")):
            return Filtered(time)  # flush-only, discard, or without sectors (empty flush)
        if len(f) < 10 or f[8] != "+":
            raise Malformed(f"'sector + nsectors' after action {action} {rwbs}")
        offset = to_bytes(parse_int(f[7], "an integer sector"), SECTOR, "sector")
        size = to_bytes(parse_int(f[9], "an integer nsectors"), SECTOR, "nsectors")
        major, minor = (int(x) for x in f[0].split(","))
        return (time, op, offset, size, devno(major, minor), None)

    return parse


# The vectorized parser: one regex pass captures the fields of every record line. It only
# vouches for plain ASCII blocks whose whitespace is spaces and tabs, where the regexes and
# str.split() agree on what a field is; anything stranger goes to the line parser.
PLAIN = b"\t\n" + bytes(range(0x20, 0x7F))
RECORD = re.compile(rb"^[ \t]*[0-9]+,[0-9]+(?=[ \t]|$)", re.M)
FIELDS = re.compile(
    rb"^[ \t]*([0-9]+),([0-9]+)[ \t]+\S+[ \t]+\S+[ \t]+([0-9]+\.[0-9]+)[ \t]+\S+[ \t]+(\S+)"
    rb"(?:[ \t]+(\S+))?(?:[ \t]+(\S+))?(?:[ \t]+(\S+))?(?:[ \t]+(\S+))?[^\n]*$",
    re.M,
)


def block_parser(action: str):
    wanted = action.encode()

    def parse(block: bytes) -> Records:
        if block.translate(None, PLAIN):  # some byte outside tab, newline, printable ASCII
            raise BadBlock
        rows = FIELDS.findall(block)
        if len(rows) != len(RECORD.findall(block)):
            raise BadBlock  # a record line the strict pattern does not match
        if not rows:
            return records(np.zeros(0), 1.0, [], [], [], [])
        columns = (np.array(c) for c in zip(*rows, strict=True))
        major, minor, time, act, rwbs, sector, plus, nsectors = columns
        ours = act == wanted
        if (ours & (rwbs == b"")).any():
            raise BadBlock
        is_read = np.char.find(rwbs, b"R") >= 0
        io = ours & (is_read | (np.char.find(rwbs, b"W") >= 0))
        io &= (sector != b"") & ~np.char.startswith(sector, b"[")
        if (io & ((plus != b"+") | (nsectors == b""))).any():
            raise BadBlock
        try:
            time = time.astype(np.float64)
            offset = checked_bytes(sector[io].astype(np.int64), SECTOR)
            size = checked_bytes(nsectors[io].astype(np.int64), SECTOR)
            volume = checked_devno(major[io].astype(np.int64), minor[io].astype(np.int64))
        except (ValueError, OverflowError):
            raise BadBlock from None
        op = np.where(is_read[io], READ, WRITE)
        return records(time[io], 1.0, op, offset, size, volume, first_time=time[0],
                       dropped=len(rows) - int(io.sum()))

    return parse


def text_format(action: str) -> TextFormat:
    return TextFormat(line_parser(action), block_parser(action), 1.0, np.float64)


def read(src, options: Options):
    return read_text(src, text_format(options.action))


def write_blkparse(path, rows) -> None:
    """Write blkparse-style Q lines from rows (time_s, op, offset_bytes, size_bytes, volume).

    Sectors are rounded outwards, which keeps the pages a request covers unchanged.
    """
    with create_text(path) as f:
        for seq, (time_s, op, offset, size, volume) in enumerate(rows, start=1):
            major, minor = volume >> MINOR_BITS, volume & ((1 << MINOR_BITS) - 1)
            sector = offset // SECTOR
            nsectors = -(-(offset + size) // SECTOR) - sector
            ns = round(time_s * 1e9)
            rwbs = "W" if op == WRITE else "R"
            f.write(f"{major:3d},{minor:<3d} {0:2d} {seq:8d} {ns // 10**9:5d}.{ns % 10**9:09d} "
                    f"{1000:5d}  Q {rwbs:>3s} {sector} + {nsectors} [tmemsim]\n")


FORMAT = TraceFormat(
    name="blkparse",
    read=read,
    options=Options,
    example=Example(write_blkparse, (
        (0.0, READ, 0, 4096, device_volume(8, 0)), (0.5, WRITE, 8192, 8192, device_volume(8, 16)),
        (1.5, READ, 4608, 4096, device_volume(8, 0)),
    )),
)
