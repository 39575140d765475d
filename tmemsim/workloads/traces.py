"""Streaming readers for block traces: MSR, blkparse, FIU, Alibaba, Tencent, oracleGeneral, CSV.

Each yields numpy chunks of 4 KiB page requests (larger requests split), in bounded memory.
"""

from __future__ import annotations

import csv
import gzip
import inspect
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from tmemsim.errors import TraceError
from tmemsim.units import PAGE_SIZE

# How a file becomes chunks: a format reader turns blocks of the file into `_Records` (one row
# per trace record, already validated); the shared pipeline filters by volume, splits records
# into pages and regroups the rows into `TraceChunk`s of `chunk_pages` rows. Text blocks are
# parsed vectorized first (pyarrow, or one regex pass for blkparse); a block the fast parser
# declines is re-parsed line by line. The line parsers are the reference: they find the first
# bad line and its number, or skip bad lines. A fast parser is never more lenient than its line
# parser (a property test holds them together), so both give the same rows.

READ, WRITE = 0, 1
SECTOR = 512
STATS_KEYS = ("lines", "records", "pages", "skipped", "filtered")

# 4 MiB of text is ~80k MSR lines: big enough for pyarrow to be fast, small enough to keep the
# resident set a few tens of MB whatever the file size.
_BLOCK_BYTES = 4 << 20
# A longer "line" is not a trace line (a binary file read as text, say): no reason to hold it.
_MAX_LINE = 1 << 20
# Page splitting expands at most this many rows at once, so one huge request stays bounded.
_MAX_EXPAND = 1 << 18
# Offsets and sizes above this are surely garbage; rejecting them keeps int64 page maths exact.
_MAX_BYTES = 1 << 60
_ID_MASK = (1 << 63) - 1
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_MAX_MAJOR = 1 << 42  # so that (major << 20) | minor stays a non-negative int64
_MINOR_BITS = 20
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_DEVNO = re.compile(r"[0-9]+,[0-9]+")
_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
_OFFSET_UNITS = {"bytes": 1, "sectors": SECTOR, "pages": PAGE_SIZE}
_CSV_KEYS = ("time", "offset", "size", "op", "volume")


@dataclass(frozen=True)
class TraceChunk:
    """A run of page requests, one row per 4 KiB page, in trace order."""

    time_s: np.ndarray  # float64, seconds since the first record of the file
    op: np.ndarray  # uint8, READ or WRITE
    page: np.ndarray  # int64, page number on the traced device
    volume: np.ndarray  # int64, volume/device id (0 when the format has none)
    content: np.ndarray | None  # int64 content id per page (FIU only), else None

    def __len__(self) -> int:
        return len(self.page)


def device_volume(major: int, minor: int) -> int:
    """The volume id blkparse and FIU records get for device major:minor."""
    return (major << _MINOR_BITS) | minor


# --------------------------------------------------------------------------------------------
# Parsed records, before page splitting


@dataclass(frozen=True)
class _Records:
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

    def __len__(self) -> int:
        return len(self.first_page)

    def start_time(self):
        return self.first_time if self.first_time is not None else self.time[0]

    def take(self, keep: np.ndarray) -> _Records:
        return _Records(
            self.time[keep], self.time_scale, self.op[keep], self.first_page[keep],
            self.npages[keep], self.volume[keep],
            None if self.content is None else self.content[keep], self.start_time(),
        )


def _records(time, time_scale, op, offset, size, volume, content=None, first_time=None,
             dropped=0) -> _Records:
    """Records from byte extents: a request covers pages offset//4096 .. (offset+size-1)//4096."""
    offset = np.asarray(offset, dtype=np.int64)
    size = np.asarray(size, dtype=np.int64)
    first = offset // PAGE_SIZE
    last = (offset + np.maximum(size, 1) - 1) // PAGE_SIZE  # a size of 0 still touches a page
    return _Records(
        time=np.asarray(time),
        time_scale=time_scale,
        op=np.asarray(op, dtype=np.uint8),
        first_page=first,
        npages=last - first + 1,
        volume=np.asarray(volume, dtype=np.int64),
        content=None if content is None else np.asarray(content, dtype=np.int64),
        first_time=first_time,
        dropped=dropped,
    )


# --------------------------------------------------------------------------------------------
# Line parsers (the reference behaviour) and their errors


class _Malformed(Exception):
    """A line that looks like a record but is not a valid one; carries what was expected."""

    def __init__(self, expected: str):
        super().__init__(expected)
        self.expected = expected


class _BadBlock(Exception):
    """The fast parser will not vouch for this block; the line parser takes over."""


# A line parser returns a row (time, op, offset_bytes, size_bytes, volume, content), None for a
# line that is not a trace record at all, or _Filtered(time) for a valid record the format drops.
class _Filtered(NamedTuple):
    time: float


def _int(text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise _Malformed(what) from None
    if not _INT64_MIN <= value <= _INT64_MAX:  # the fast parsers read int64 columns
        raise _Malformed(what)
    return value


def _float(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _Malformed(what) from None
    if not math.isfinite(value):
        raise _Malformed(what)
    return value


def _bytes(value: int, unit: int, name: str) -> int:
    """Bytes from a value in `unit` bytes, rejecting negative or absurd values."""
    if value < 0 or value > _MAX_BYTES // unit:
        raise _Malformed(f"a non-negative {name} below 2**60 bytes")
    return value * unit


def _devno(major: int, minor: int) -> int:
    if not 0 <= major < _MAX_MAJOR or not 0 <= minor < 1 << _MINOR_BITS:
        raise _Malformed("a device number major,minor with major < 2**42 and minor < 2**20")
    return device_volume(major, minor)


def _content_id(md5: str) -> int:
    """The first 8 bytes of the md5, little-endian, in 63 bits (a non-negative int64)."""
    if len(md5) != 32:
        raise _Malformed("an md5 of 32 hex digits")
    try:
        digest = bytes.fromhex(md5)
    except ValueError:
        raise _Malformed("an md5 of 32 hex digits") from None
    return int.from_bytes(digest[:8], "little") & _ID_MASK


def _short(text: str, width: int = 60) -> str:
    return repr(text if len(text) <= width else text[: width - 3] + "...")


# --------------------------------------------------------------------------------------------
# Fast (vectorized) block parsing helpers


def _arrow_table(block: bytes, names, types: dict, delimiter=",", quote=False) -> pa.Table:
    # pyarrow accepts 0x-prefixed integers and ends lines at a lone CR; the line parsers do
    # neither, so such blocks go slow.
    if b"0x" in block or b"0X" in block or block.count(b"\r") != block.count(b"\r\n"):
        raise _BadBlock
    # Runs of blanks are one separator to str.split() but empty fields to pyarrow.
    if delimiter == " " and (b"  " in block or b"\t" in block):
        raise _BadBlock
    return pacsv.read_csv(
        pa.py_buffer(block),
        read_options=pacsv.ReadOptions(column_names=list(names)),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char=quote),
        convert_options=pacsv.ConvertOptions(column_types=types, include_columns=list(types)),
    )


def _numbers(table: pa.Table, name: str) -> np.ndarray:
    column = table.column(name)
    if column.null_count:  # empty fields, "NA", "nan"...
        raise _BadBlock
    values = column.to_numpy()
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        raise _BadBlock
    return values


def _codes(table: pa.Table, name: str, lookup: Callable[[str], int | None]) -> np.ndarray:
    """Op codes from a string column via its (small) dictionary of distinct values."""
    encoded = pc.dictionary_encode(table.column(name)).combine_chunks()
    codes = [lookup(value) for value in encoded.dictionary.to_pylist()]
    if None in codes:
        raise _BadBlock
    table_codes = np.array(codes, dtype=np.uint8)
    return table_codes[encoded.indices.to_numpy(zero_copy_only=False)]


def _int_codes(values: np.ndarray, allowed: tuple[int, ...]) -> np.ndarray:
    if not np.isin(values, allowed).all():
        raise _BadBlock
    return values.astype(np.uint8)


def _checked_bytes(values: np.ndarray, unit: int) -> np.ndarray:
    if ((values < 0) | (values > _MAX_BYTES // unit)).any():
        raise _BadBlock
    return values * unit


def _checked_devno(major: np.ndarray, minor: np.ndarray) -> np.ndarray:
    if ((major < 0) | (major >= _MAX_MAJOR) | (minor < 0) | (minor >= 1 << _MINOR_BITS)).any():
        raise _BadBlock
    return (major << _MINOR_BITS) | minor


_HEX = np.full(256, 255, dtype=np.uint8)
_HEX[np.frombuffer(b"0123456789", np.uint8)] = np.arange(10)
_HEX[np.frombuffer(b"abcdef", np.uint8)] = np.arange(10, 16)
_HEX[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16)
_HEX.flags.writeable = False  # a lookup table, not state


def _content_ids(column: pa.ChunkedArray) -> np.ndarray:
    """Vectorized `_content_id` over a column of md5 strings."""
    array = column.combine_chunks()
    if not len(array):
        return np.zeros(0, np.int64)
    if array.null_count or not pc.all(pc.equal(pc.binary_length(array), 32)).as_py():
        raise _BadBlock
    n = len(array)
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset : array.offset + 1]
    start = int(offsets[0])
    chars = np.frombuffer(array.buffers()[2], dtype=np.uint8)[start : start + 32 * n]
    nibbles = _HEX[chars.reshape(n, 32)]
    if (nibbles == 255).any():  # every digit must be hex, as bytes.fromhex demands
        raise _BadBlock
    digest = (nibbles[:, 0:16:2] << 4) | nibbles[:, 1:16:2]  # first 8 bytes, shape (n, 8)
    ids = np.ascontiguousarray(digest).view("<u8").ravel()
    return (ids & np.uint64(_ID_MASK)).astype(np.int64)


# --------------------------------------------------------------------------------------------
# Text formats


@dataclass(frozen=True)
class _TextFormat:
    parse_line: Callable[[str], tuple | object | None]
    parse_block: Callable[[bytes], _Records] | None  # None: always line by line
    time_scale: float
    time_dtype: type


# MSR Cambridge ------------------------------------------------------------------------------

_MSR_NAMES = ("Timestamp", "Hostname", "DiskNumber", "Type", "Offset", "Size", "ResponseTime")
_MSR_OPS = {"read": READ, "write": WRITE}
_MSR_SCALE = 1e-7  # Windows filetime ticks are 100 ns


def _msr_line(line: str):
    f = line.split(",")
    if len(f) != 7:
        raise _Malformed("7 comma-separated fields " + ",".join(_MSR_NAMES))
    op = _MSR_OPS.get(f[3].strip().lower())
    if op is None:
        raise _Malformed("Type Read or Write")
    offset = _bytes(_int(f[4], "an integer Offset"), 1, "Offset")
    size = _bytes(_int(f[5], "an integer Size"), 1, "Size")
    return (_int(f[0], "an integer Timestamp"), op, offset, size,
            _int(f[2], "an integer DiskNumber"), None)


def _msr_block(block: bytes) -> _Records:
    t = _arrow_table(block, _MSR_NAMES, {
        "Timestamp": pa.int64(), "DiskNumber": pa.int64(), "Type": pa.string(),
        "Offset": pa.int64(), "Size": pa.int64(),
    })
    offset = _checked_bytes(_numbers(t, "Offset"), 1)
    size = _checked_bytes(_numbers(t, "Size"), 1)
    op = _codes(t, "Type", lambda v: _MSR_OPS.get(v.lower()))
    return _records(_numbers(t, "Timestamp"), _MSR_SCALE, op, offset, size,
                    _numbers(t, "DiskNumber"))


_MSR = _TextFormat(_msr_line, _msr_block, _MSR_SCALE, np.int64)


# blkparse -----------------------------------------------------------------------------------


def _blkparse_line(action: str):
    def parse(line: str):
        f = line.split()
        if not f or not _DEVNO.fullmatch(f[0]):
            return None  # the summary at the end, headers, blank lines: not records
        if len(f) < 6:
            raise _Malformed("maj,min cpu seq sec.nsec pid action ...")
        time = _float(f[3], "a time sec.nsec")
        if f[5] != action:
            return _Filtered(time)
        if len(f) < 7:
            raise _Malformed(f"rwbs after action {action}")
        rwbs = f[6]
        op = READ if "R" in rwbs else WRITE if "W" in rwbs else None
        if op is None or (len(f) == 7 or f[7].startswith("[")):
            return _Filtered(time)  # flush-only, discard, or without sectors (empty flush)
        if len(f) < 10 or f[8] != "+":
            raise _Malformed(f"'sector + nsectors' after action {action} {rwbs}")
        offset = _bytes(_int(f[7], "an integer sector"), SECTOR, "sector")
        size = _bytes(_int(f[9], "an integer nsectors"), SECTOR, "nsectors")
        major, minor = (int(x) for x in f[0].split(","))
        return (time, op, offset, size, _devno(major, minor), None)

    return parse


# The vectorized blkparse parser: one regex pass captures the fields of every record line. It
# only vouches for plain ASCII blocks whose whitespace is spaces and tabs, where the regexes and
# str.split() agree on what a field is; anything stranger goes to the line parser.
_BLK_PLAIN = b"\t\n" + bytes(range(0x20, 0x7F))
_BLK_RECORD = re.compile(rb"^[ \t]*[0-9]+,[0-9]+(?=[ \t]|$)", re.M)
_BLK_FIELDS = re.compile(
    rb"^[ \t]*([0-9]+),([0-9]+)[ \t]+\S+[ \t]+\S+[ \t]+([0-9]+\.[0-9]+)[ \t]+\S+[ \t]+(\S+)"
    rb"(?:[ \t]+(\S+))?(?:[ \t]+(\S+))?(?:[ \t]+(\S+))?(?:[ \t]+(\S+))?[^\n]*$",
    re.M,
)


def _blkparse_block(action: str):
    wanted = action.encode()

    def parse(block: bytes) -> _Records:
        if block.translate(None, _BLK_PLAIN):  # some byte outside tab, newline, printable ASCII
            raise _BadBlock
        rows = _BLK_FIELDS.findall(block)
        if len(rows) != len(_BLK_RECORD.findall(block)):
            raise _BadBlock  # a record line the strict pattern does not match
        if not rows:
            return _records(np.zeros(0), 1.0, [], [], [], [])
        columns = (np.array(c) for c in zip(*rows, strict=True))
        major, minor, time, act, rwbs, sector, plus, nsectors = columns
        ours = act == wanted
        if (ours & (rwbs == b"")).any():
            raise _BadBlock
        is_read = np.char.find(rwbs, b"R") >= 0
        io = ours & (is_read | (np.char.find(rwbs, b"W") >= 0))
        io &= (sector != b"") & ~np.char.startswith(sector, b"[")
        if (io & ((plus != b"+") | (nsectors == b""))).any():
            raise _BadBlock
        try:
            time = time.astype(np.float64)
            offset = _checked_bytes(sector[io].astype(np.int64), SECTOR)
            size = _checked_bytes(nsectors[io].astype(np.int64), SECTOR)
            volume = _checked_devno(major[io].astype(np.int64), minor[io].astype(np.int64))
        except (ValueError, OverflowError):
            raise _BadBlock from None
        op = np.where(is_read[io], READ, WRITE)
        return _records(time[io], 1.0, op, offset, size, volume, first_time=time[0],
                        dropped=len(rows) - int(io.sum()))

    return parse


# FIU ----------------------------------------------------------------------------------------

_FIU_NAMES = ("ts", "pid", "proc", "lba", "size", "op", "major", "minor", "md5")
_FIU_OPS = {"R": READ, "r": READ, "W": WRITE, "w": WRITE}
_FIU_SCALE = 1e-9  # FIU timestamps are nanoseconds


def _fiu_line(line: str):
    f = line.split()
    # The process name may contain spaces: the fields are counted from both ends.
    if len(f) < 9:
        raise _Malformed("9 fields: ts pid proc lba size R|W major minor md5")
    op = _FIU_OPS.get(f[-4])
    if op is None:
        raise _Malformed("R or W")
    offset = _bytes(_int(f[-6], "an integer lba"), SECTOR, "lba")
    size = _bytes(_int(f[-5], "an integer size"), SECTOR, "size")
    volume = _devno(_int(f[-3], "an integer major"), _int(f[-2], "an integer minor"))
    return (_int(f[0], "an integer ts in ns"), op, offset, size, volume, _content_id(f[-1]))


def _fiu_block(block: bytes) -> _Records:
    t = _arrow_table(block, _FIU_NAMES, {
        "ts": pa.int64(), "lba": pa.int64(), "size": pa.int64(), "op": pa.string(),
        "major": pa.int64(), "minor": pa.int64(), "md5": pa.string(),
    }, delimiter=" ")
    offset = _checked_bytes(_numbers(t, "lba"), SECTOR)
    size = _checked_bytes(_numbers(t, "size"), SECTOR)
    volume = _checked_devno(_numbers(t, "major"), _numbers(t, "minor"))
    return _records(_numbers(t, "ts"), _FIU_SCALE, _codes(t, "op", _FIU_OPS.get), offset, size,
                    volume, _content_ids(t.column("md5")))


_FIU = _TextFormat(_fiu_line, _fiu_block, _FIU_SCALE, np.int64)


# Alibaba ------------------------------------------------------------------------------------

_ALI_NAMES = ("device_id", "opcode", "offset", "length", "timestamp")
_ALI_OPS = {"R": READ, "r": READ, "W": WRITE, "w": WRITE}


def _alibaba_line(line: str):
    f = line.split(",")
    if len(f) != 5:
        raise _Malformed("5 comma-separated fields device_id,opcode,offset,length,timestamp_us")
    op = _ALI_OPS.get(f[1].strip())
    if op is None:
        raise _Malformed("opcode R or W")
    offset = _bytes(_int(f[2], "an integer offset"), 1, "offset")
    size = _bytes(_int(f[3], "an integer length"), 1, "length")
    return (_int(f[4], "an integer timestamp_us"), op, offset, size,
            _int(f[0], "an integer device_id"), None)


def _alibaba_block(block: bytes) -> _Records:
    t = _arrow_table(block, _ALI_NAMES, {
        "device_id": pa.int64(), "opcode": pa.string(), "offset": pa.int64(),
        "length": pa.int64(), "timestamp": pa.int64(),
    })
    offset = _checked_bytes(_numbers(t, "offset"), 1)
    size = _checked_bytes(_numbers(t, "length"), 1)
    return _records(_numbers(t, "timestamp"), 1e-6, _codes(t, "opcode", _ALI_OPS.get), offset,
                    size, _numbers(t, "device_id"))


_ALIBABA = _TextFormat(_alibaba_line, _alibaba_block, 1e-6, np.int64)


# Tencent CBS --------------------------------------------------------------------------------

_TENCENT_NAMES = ("ts", "offset", "size", "iotype", "volume")


def _tencent_line(line: str):
    f = line.split(",")
    if len(f) != 5:
        raise _Malformed("5 comma-separated fields ts,offset_sectors,size_sectors,iotype,volume")
    op = _int(f[3], "iotype 0 or 1")
    if op not in (READ, WRITE):
        raise _Malformed("iotype 0 or 1")
    offset = _bytes(_int(f[1], "an integer offset"), SECTOR, "offset")
    size = _bytes(_int(f[2], "an integer size"), SECTOR, "size")
    return (_float(f[0], "a numeric ts in seconds"), op, offset, size,
            _int(f[4], "an integer volume"), None)


def _tencent_block(block: bytes) -> _Records:
    t = _arrow_table(block, _TENCENT_NAMES, {
        "ts": pa.float64(), "offset": pa.int64(), "size": pa.int64(), "iotype": pa.int64(),
        "volume": pa.int64(),
    })
    offset = _checked_bytes(_numbers(t, "offset"), SECTOR)
    size = _checked_bytes(_numbers(t, "size"), SECTOR)
    op = _int_codes(_numbers(t, "iotype"), (READ, WRITE))
    return _records(_numbers(t, "ts"), 1.0, op, offset, size, _numbers(t, "volume"))


_TENCENT = _TextFormat(_tencent_line, _tencent_block, 1.0, np.float64)


# Generic CSV --------------------------------------------------------------------------------


def _csv_format(header: list[str], columns: dict, *, time_unit, offset_unit, size_unit,
                read_values, write_values, delimiter) -> _TextFormat:
    index = {key: header.index(name) for key, name in columns.items()}
    ops = {**{str(v): WRITE for v in write_values}, **{str(v): READ for v in read_values}}
    scale = _TIME_UNITS[time_unit]
    off_unit, sz_unit = _OFFSET_UNITS[offset_unit], _OFFSET_UNITS[size_unit]
    width = len(header)

    def parse_line(line: str):
        try:
            f = next(csv.reader([line], delimiter=delimiter))
        except csv.Error:  # e.g. a stray carriage return
            f = []
        if len(f) != width:
            raise _Malformed(f"{width} fields like the header")
        get = {key: f[i].strip() for key, i in index.items()}
        time = _float(get["time"], f"a number in column {columns['time']}") if "time" in get else 0
        op = ops.get(get["op"]) if "op" in get else READ
        if op is None:
            raise _Malformed(f"an op in column {columns['op']} among {sorted(ops)}")
        offset = _int(get["offset"], f"an integer in column {columns['offset']}")
        size = _int(get["size"], f"an integer in column {columns['size']}") if "size" in get else 0
        offset = _bytes(offset, off_unit, f"offset in column {columns['offset']}")
        size = _bytes(size, sz_unit, f"size in column {columns.get('size')}")
        volume = _int(get["volume"], f"an integer in column {columns['volume']}") if (
            "volume" in get) else 0
        return (time, op, offset, size, volume, None)

    types = {"time": pa.float64(), "offset": pa.int64(), "size": pa.int64(),
             "op": pa.string(), "volume": pa.int64()}

    def parse_block(block: bytes) -> _Records:
        t = _arrow_table(block, header, {columns[k]: types[k] for k in columns},
                         delimiter=delimiter, quote='"')
        n = t.num_rows

        def col(key, default):
            return _numbers(t, columns[key]) if key in columns else np.full(n, default, np.int64)

        offset = _checked_bytes(col("offset", 0), off_unit)
        size = _checked_bytes(col("size", 0), sz_unit)
        # Fields the line parser strips must not carry spaces here, or the two would disagree.
        op = (_codes(t, columns["op"], lambda v: ops.get(v) if v == v.strip() else None)
              if "op" in columns else np.zeros(n, np.uint8))
        time = col("time", 0).astype(np.float64)
        return _records(time, scale, op, offset, size, col("volume", 0))

    return _TextFormat(parse_line, parse_block, scale, np.float64)


# --------------------------------------------------------------------------------------------
# Reading files


@dataclass(frozen=True)
class _Source:
    path: str
    on_error: str
    stats: dict

    def error(self, message: str, line: int | None = None) -> TraceError:
        return TraceError(message, file=self.path, line=line)


def _open_binary(src: _Source):
    """The file as a binary stream, gunzipped when it starts with the gzip magic."""
    try:
        f = open(src.path, "rb")
    except FileNotFoundError:
        raise src.error("no such trace file") from None
    except OSError as e:
        raise src.error(f"cannot open trace: {e.strerror or e}") from None
    magic = f.read(4)
    f.seek(0)
    if magic.startswith(_GZIP_MAGIC):
        return gzip.GzipFile(fileobj=f, mode="rb"), f
    if magic == _ZSTD_MAGIC:
        f.close()
        raise src.error("zstd-compressed traces are not supported; decompress first (zstd -d)")
    return f, f


def _read(src: _Source, stream, nbytes: int) -> bytes:
    try:
        return stream.read(nbytes)
    except (OSError, EOFError) as e:  # corrupt or truncated gzip
        raise src.error(f"cannot read trace: {e}") from None


def _line_blocks(src: _Source, stream) -> Iterator[tuple[bytes, int, int]]:
    """Blocks of whole lines, the 1-based number of each one's first line and its line count."""
    carry, line_no, too_long = b"", 1, False
    while True:
        data = _read(src, stream, _BLOCK_BYTES)
        if not data:
            if carry and not too_long:  # a last line without newline
                yield carry, line_no, 1
            return
        if too_long:  # skipping the rest of an overlong line
            end = data.find(b"\n") + 1
            if end == 0:
                continue
            data, too_long, line_no = data[end:], False, line_no + 1
        data = carry + data
        cut = data.rfind(b"\n") + 1
        if cut == 0:  # a line longer than a block: keep reading, up to a point
            carry = data
            if len(carry) > _MAX_LINE:
                too_long, carry = _overlong_line(src, line_no), b""
                src.stats["lines"] += 1
            continue
        block, carry = data[:cut], data[cut:]
        nlines = block.count(b"\n")
        yield block, line_no, nlines
        line_no += nlines


def _overlong_line(src: _Source, line_no: int) -> bool:
    if src.on_error == "raise":
        raise src.error(f"expected lines of text, got a line longer than {_MAX_LINE} bytes",
                        line_no)
    src.stats["skipped"] += 1
    return True


def _parse_lines(src: _Source, fmt: _TextFormat, block: bytes, first_line: int) -> _Records:
    rows, filtered, first_time = [], 0, None
    lines = block.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    for i, raw in enumerate(lines):
        text = raw.decode("utf-8", "replace").strip()
        if not text:
            continue
        try:
            row = fmt.parse_line(text)
        except _Malformed as e:
            if src.on_error == "raise":
                message = f"expected {e.expected}, got {_short(text)}"
                raise src.error(message, first_line + i) from None
            src.stats["skipped"] += 1
            continue
        if row is None:
            continue
        if first_time is None:
            first_time = row[0]
        if isinstance(row, _Filtered):
            filtered += 1
        else:
            rows.append(row)
    if not rows:
        return _records(np.zeros(0, fmt.time_dtype), fmt.time_scale, [], [], [], [],
                        first_time=first_time, dropped=filtered)
    time, op, offset, size, volume, content = zip(*rows, strict=True)
    return _records(np.array(time, dtype=fmt.time_dtype), fmt.time_scale, op, offset, size, volume,
                    None if content[0] is None else content, first_time=first_time,
                    dropped=filtered)


def _parse_blocks(src: _Source, fmt: _TextFormat, blocks) -> Iterator[_Records]:
    for block, first_line, nlines in blocks:
        src.stats["lines"] += nlines
        records = None
        if fmt.parse_block is not None:
            try:
                records = fmt.parse_block(block)
            except (_BadBlock, pa.lib.ArrowException):
                records = None
        if records is None:
            records = _parse_lines(src, fmt, block, first_line)
        src.stats["records"] += len(records) + records.dropped
        src.stats["filtered"] += records.dropped
        yield records


def _read_text(src: _Source, fmt: _TextFormat) -> Iterator[_Records]:
    stream, raw = _open_binary(src)
    with raw, stream:
        yield from _parse_blocks(src, fmt, _line_blocks(src, stream))


def _read_msr(src: _Source) -> Iterator[_Records]:
    """MSR Cambridge: `Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime`, no header.

    Timestamp in 100 ns Windows filetime ticks; Offset and Size in bytes; volume = DiskNumber.
    """
    return _read_text(src, _MSR)


def _read_blkparse(src: _Source, *, action: str = "Q") -> Iterator[_Records]:
    """blkparse default text: `maj,min cpu seq sec.nsec pid action rwbs sector + nsectors [proc]`.

    Keeps `action` events whose rwbs has R or W (flush-only, discard and sector-less requests are
    filtered); sectors are 512 B; volume = (maj << 20) | min. Lines whose first field is not
    `maj,min` (blkparse's closing summary, blank lines) are not records and are ignored.
    """
    fmt = _TextFormat(_blkparse_line(action), _blkparse_block(action), 1.0, np.float64)
    return _read_text(src, fmt)


def _read_fiu(src: _Source) -> Iterator[_Records]:
    """FIU (SRCMap/IODedup): `ts pid proc lba size R|W major minor md5`, whitespace separated.

    ts in nanoseconds; lba and size in 512 B sectors; volume = (major << 20) | minor; content id
    = first 8 md5 bytes little-endian in 63 bits. A record longer than one page (size > 8) gives
    every page the same content id: FIU hashes 4 KiB blocks, so such records are rare.
    """
    return _read_text(src, _FIU)


def _read_alibaba(src: _Source) -> Iterator[_Records]:
    """Alibaba block traces: `device_id,opcode,offset,length,timestamp` (bytes, microseconds)."""
    return _read_text(src, _ALIBABA)


def _read_tencent(src: _Source) -> Iterator[_Records]:
    """Tencent CBS: `ts,offset,size,iotype,volume`; ts in s, sectors of 512 B, iotype 0=R 1=W."""
    return _read_text(src, _TENCENT)


def _read_csv(src: _Source, *, columns: dict | None = None, time_unit: str = "s",
              offset_unit: str = "bytes", size_unit: str | None = None,
              read_values=("R", "r", "read", "Read", "0"),
              write_values=("W", "w", "write", "Write", "1"),
              delimiter: str = ",") -> Iterator[_Records]:
    """Generic CSV with a header row; `columns` maps time/offset/size/op/volume to header names.

    Only offset is required. No time → every record at 0 s; no size → one page; no op → read;
    no volume → 0. Size is in `size_unit` (default: `offset_unit`). An op value in neither
    `read_values` nor `write_values` is a malformed line.
    """
    _check_csv_options(columns, time_unit, offset_unit, size_unit)
    size_unit = size_unit or offset_unit
    stream, raw = _open_binary(src)
    with raw, stream:
        blocks = _line_blocks(src, stream)
        first = next(blocks, None)
        if first is None:
            raise src.error("expected a header row naming the columns, got an empty file", 1)
        block, _, nlines = first
        cut = block.find(b"\n") + 1 or len(block)
        header = _csv_header(block[:cut], delimiter)
        missing = [name for name in columns.values() if name not in header]
        if missing:
            raise src.error(f"column {missing[0]!r} is not in the header; the header's columns "
                            f"are {', '.join(header)}", 1)
        src.stats["lines"] += 1
        fmt = _csv_format(header, columns, time_unit=time_unit, offset_unit=offset_unit,
                          size_unit=size_unit, read_values=read_values,
                          write_values=write_values, delimiter=delimiter)
        yield from _parse_blocks(src, fmt, _chain_first((block[cut:], 2, nlines - 1), blocks))


def _chain_first(first: tuple, rest: Iterable) -> Iterator[tuple[bytes, int, int]]:
    if first[0]:
        yield first
    yield from rest


def _csv_header(line: bytes, delimiter: str) -> list[str]:
    text = line.decode("utf-8", "replace").lstrip("\ufeff").strip()
    return [name.strip() for name in next(csv.reader([text], delimiter=delimiter))]


def _check_csv_options(columns, time_unit, offset_unit, size_unit) -> None:
    if not columns or "offset" not in columns:
        raise ValueError("format 'csv' needs columns={'offset': NAME, ...} "
                         f"with keys among {', '.join(_CSV_KEYS)}")
    unknown = sorted(set(columns) - set(_CSV_KEYS))
    if unknown:
        raise ValueError(f"unknown csv column key(s) {', '.join(unknown)}; "
                         f"valid: {', '.join(_CSV_KEYS)}")
    if len(set(columns.values())) != len(columns):
        raise ValueError("csv columns must map to distinct header names")
    if time_unit not in _TIME_UNITS:
        raise ValueError(f"time_unit must be one of {', '.join(_TIME_UNITS)}, got {time_unit!r}")
    for unit in (offset_unit, size_unit or offset_unit):
        if unit not in _OFFSET_UNITS:
            raise ValueError(f"offset_unit/size_unit must be one of {', '.join(_OFFSET_UNITS)}, "
                             f"got {unit!r}")


# oracleGeneral binary -----------------------------------------------------------------------

ORACLE_DTYPE = np.dtype(
    [("time", "<u4"), ("obj_id", "<u8"), ("size", "<u4"), ("next_access", "<i8")]
)  # packed: 24 bytes per record
_ORACLE_BLOCK_RECORDS = 1 << 17


def _read_oracle(src: _Source) -> Iterator[_Records]:
    """libCacheSim oracleGeneral: 24-byte records `u32 time, u64 obj_id, u32 size, i64 next`.

    Each record is one read of page obj_id (objects are pages; size is ignored); time in s.
    """
    stream, raw = _open_binary(src)
    with raw, stream:
        carry, count = b"", 0
        while True:
            data = carry + _read(src, stream, _ORACLE_BLOCK_RECORDS * ORACLE_DTYPE.itemsize)
            whole = len(data) // ORACLE_DTYPE.itemsize * ORACLE_DTYPE.itemsize
            carry = data[whole:]
            if whole == 0:
                break
            rec = np.frombuffer(data, dtype=ORACLE_DTYPE, count=whole // ORACLE_DTYPE.itemsize)
            count += len(rec)
            src.stats["lines"] += len(rec)
            src.stats["records"] += len(rec)
            n = len(rec)
            yield _Records(
                time=rec["time"].astype(np.int64), time_scale=1.0,
                op=np.full(n, READ, np.uint8),
                first_page=(rec["obj_id"] & np.uint64(_ID_MASK)).astype(np.int64),
                npages=np.ones(n, np.int64), volume=np.zeros(n, np.int64), content=None,
            )
        if carry:
            src.stats["lines"] += 1
            if src.on_error == "raise":
                raise src.error(f"expected a whole 24-byte oracleGeneral record, got "
                                f"{len(carry)} trailing bytes", count + 1)
            src.stats["skipped"] += 1


FORMATS: dict[str, Callable[..., Iterator[_Records]]] = {
    "msr": _read_msr,
    "blkparse": _read_blkparse,
    "fiu": _read_fiu,
    "alibaba": _read_alibaba,
    "tencent": _read_tencent,
    "oracle": _read_oracle,
    "csv": _read_csv,
}


# --------------------------------------------------------------------------------------------
# The pipeline: volume filter, page splitting, re-chunking, limit


def _concat(chunks: list[TraceChunk]) -> TraceChunk:
    if len(chunks) == 1:
        return chunks[0]
    content = None if chunks[0].content is None else np.concatenate([c.content for c in chunks])
    return TraceChunk(
        np.concatenate([c.time_s for c in chunks]), np.concatenate([c.op for c in chunks]),
        np.concatenate([c.page for c in chunks]), np.concatenate([c.volume for c in chunks]),
        content,
    )


def _slice(chunk: TraceChunk, start: int, stop: int) -> TraceChunk:
    content = None if chunk.content is None else chunk.content[start:stop]
    return TraceChunk(chunk.time_s[start:stop], chunk.op[start:stop], chunk.page[start:stop],
                      chunk.volume[start:stop], content)


def _expand(records: _Records, time_s: np.ndarray) -> Iterator[TraceChunk]:
    """One row per page, at most _MAX_EXPAND rows at a time (bar single-record pieces)."""
    n = records.npages
    if len(n) == 0 or n.max() == 1:  # every record is one page: nothing to split
        yield TraceChunk(time_s, records.op, records.first_page, records.volume, records.content)
        return
    ends = np.cumsum(n)
    i = 0
    while i < len(n):
        before = int(ends[i] - n[i])
        j = int(np.searchsorted(ends, before + _MAX_EXPAND, side="right"))
        if j == i:  # one record bigger than _MAX_EXPAND pages: emit it in slices
            for a in range(0, int(n[i]), _MAX_EXPAND):
                within = np.arange(a, min(a + _MAX_EXPAND, int(n[i])))
                yield _rows(records, time_s, np.full(len(within), i), within)
            i += 1
            continue
        # Records i..j-1: row r belongs to record rec[r], page `within` of it.
        rec = np.repeat(np.arange(i, j), n[i:j])
        within = np.arange(len(rec)) - (np.repeat(ends[i:j] - n[i:j], n[i:j]) - before)
        yield _rows(records, time_s, rec, within)
        i = j


def _rows(records: _Records, time_s: np.ndarray, rec: np.ndarray, within: np.ndarray):
    content = None if records.content is None else records.content[rec]
    return TraceChunk(time_s[rec], records.op[rec], records.first_page[rec] + within,
                      records.volume[rec], content)


def _pages(blocks: Iterator[_Records], volume: int | None, stats: dict) -> Iterator[TraceChunk]:
    origin = None
    for records in blocks:
        if origin is None and (len(records) or records.first_time is not None):
            origin = records.start_time()  # first record of the file, whatever its volume
        if not len(records):
            continue
        if volume is not None:
            keep = records.volume == volume
            stats["filtered"] += int(len(keep) - keep.sum())
            records = records.take(keep)
            if not len(records):
                continue
        time_s = (records.time - origin).astype(np.float64) * records.time_scale
        yield from _expand(records, time_s)


def _rechunk(pieces: Iterator[TraceChunk], chunk_pages: int, limit: int | None,
             stats: dict) -> Iterator[TraceChunk]:
    pending: list[TraceChunk] = []
    npending = 0
    budget = limit
    try:
        for piece in pieces:
            if budget is not None:
                piece = _slice(piece, 0, budget) if len(piece) > budget else piece
                budget -= len(piece)
            pending.append(piece)
            npending += len(piece)
            if npending >= chunk_pages:
                merged = _concat(pending)
                full = npending - npending % chunk_pages
                for a in range(0, full, chunk_pages):
                    stats["pages"] += chunk_pages
                    yield _slice(merged, a, a + chunk_pages)
                pending = [_slice(merged, full, npending)] if full < npending else []
                npending -= full
            if budget == 0:
                break
        if npending:
            stats["pages"] += npending
            yield _concat(pending)
    finally:
        pieces.close()  # close the file now, not when the generator is collected


def read_trace(path, format: str, *, volume: int | None = None, chunk_pages: int = 1 << 16,
               on_error: str = "raise", limit: int | None = None, columns: dict | None = None,
               stats: dict | None = None, **options) -> Iterator[TraceChunk]:
    """Stream a block trace as TraceChunks of at most `chunk_pages` 4 KiB page requests.

    `format` is a key of FORMATS; `options` are that reader's keyword options (blkparse:
    `action`; csv: `time_unit`, `offset_unit`, `size_unit`, `read_values`, `write_values`,
    `delimiter`). Arguments are checked at once (ValueError for an unknown format, option or
    value; TraceError for a missing file); the file is read lazily as chunks are consumed, so
    malformed lines raise TraceError (file and line number) during iteration.

    - `time_s` is seconds since the first record of the file, before any filtering, so the
      volumes of one file share a clock; unsorted traces may give negative times.
    - `volume` keeps one volume; `limit` caps the page requests emitted.
    - `stats`, when given, is reset and kept current: `lines` read (oracle: records),
      `records` valid trace records, `pages` emitted, `skipped` malformed lines (with
      on_error="skip"), `filtered` records dropped by `volume` or by a format rule (blkparse
      actions other than `action`, flushes, discards). `records` includes the filtered ones.
    """
    reader = FORMATS.get(format)
    if reader is None:
        raise ValueError(f"unknown trace format {format!r}; valid formats: "
                         f"{', '.join(sorted(FORMATS))}")
    if columns is not None:
        options["columns"] = columns
    allowed = [p for p in inspect.signature(reader).parameters if p != "src"]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(unknown)} for trace format {format!r}; "
                         f"valid: {', '.join(allowed) or 'none'}")
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if chunk_pages < 1:
        raise ValueError(f"chunk_pages must be at least 1, got {chunk_pages}")
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be non-negative, got {limit}")
    if format == "csv":
        _check_csv_options(columns, options.get("time_unit", "s"),
                           options.get("offset_unit", "bytes"), options.get("size_unit"))
    if not os.path.exists(path):
        raise TraceError("no such trace file", file=str(path))
    if stats is None:
        stats = {}
    stats.update(dict.fromkeys(STATS_KEYS, 0))
    src = _Source(str(path), on_error, stats)
    return _rechunk(_pages(reader(src, **options), volume, stats), chunk_pages, limit, stats)


# --------------------------------------------------------------------------------------------
# Writers for fixtures and benchmarks


def _open_write(path):
    return gzip.open(path, "wt") if str(path).endswith(".gz") else open(path, "w")


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


# A plausible MSR start (early 2007) so that written files look like the real ones.
_MSR_EPOCH = 128166372000000000


def write_msr(path, rows) -> None:
    """Write MSR CSV lines from rows (time_s, op, offset_bytes, size_bytes, volume)."""
    with _open_write(path) as f:
        for time_s, op, offset, size, volume in rows:
            ticks = _MSR_EPOCH + round(time_s / _MSR_SCALE)
            kind = "Write" if op == WRITE else "Read"
            f.write(f"{ticks},tmemsim,{volume},{kind},{offset},{size},0\n")


def write_blkparse(path, rows) -> None:
    """Write blkparse-style Q lines from rows (time_s, op, offset_bytes, size_bytes, volume).

    Sectors are rounded outwards, which keeps the pages a request covers unchanged.
    """
    with _open_write(path) as f:
        for seq, (time_s, op, offset, size, volume) in enumerate(rows, start=1):
            major, minor = volume >> _MINOR_BITS, volume & ((1 << _MINOR_BITS) - 1)
            sector = offset // SECTOR
            nsectors = -(-(offset + size) // SECTOR) - sector
            ns = round(time_s * 1e9)
            rwbs = "W" if op == WRITE else "R"
            f.write(f"{major:3d},{minor:<3d} {0:2d} {seq:8d} {ns // 10**9:5d}.{ns % 10**9:09d} "
                    f"{1000:5d}  Q {rwbs:>3s} {sector} + {nsectors} [tmemsim]\n")
