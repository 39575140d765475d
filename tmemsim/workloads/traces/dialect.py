"""Delimited-text trace layouts declared as data, and the two parsers built from a declaration.

A `CsvDialect` says, like libCacheSim's reader parameters (time-col, obj-id-col, delimiter,
has-header), which field holds what and in which unit: the time and its scale, the offset and
size and their unit in bytes, the op and how it is spelled, the volume. MSR, Alibaba, Tencent
and the generic `csv` format are dialects; `text_format` turns one into a line parser (the
reference) and a vectorized block parser that agree.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from tmemsim.units import PAGE_SIZE

from .records import READ, SECTOR, WRITE, Records, records
from .text import LineParser, TextFormat
from .values import (
    BadBlock,
    Malformed,
    arrow_table,
    checked_bytes,
    codes,
    numbers,
    parse_float,
    parse_int,
    to_bytes,
)

TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}  # seconds per unit
EXTENT_UNITS = {"bytes": 1, "sectors": SECTOR, "pages": PAGE_SIZE}  # bytes per unit


@dataclass(frozen=True)
class Column:
    """A field, by its name in the dialect's `fields`; `label` is what errors call it."""

    name: str
    label: str | None = None

    @property
    def what(self) -> str:
        return self.label or self.name


@dataclass(frozen=True)
class Time(Column):
    scale: float = 1.0  # seconds per unit
    integer: bool = False  # integer ticks, kept exact in int64 (else a float64 number)


@dataclass(frozen=True)
class Extent(Column):
    unit: int = 1  # bytes per unit


@dataclass(frozen=True)
class Ops(Column):
    """The op field: the values that mean read and write (ints: the field is a number)."""

    read: tuple = ()
    write: tuple = ()
    expected: str = ""  # what an error says the field should hold
    fold_case: bool = False  # "READ" is "read"

    @property
    def numeric(self) -> bool:
        values = self.read + self.write
        return bool(values) and all(isinstance(v, int) for v in values)

    def table(self) -> dict:
        """Value → READ or WRITE; a value listed as both reads."""
        fold = str.lower if self.fold_case else (lambda v: v)
        return {**{fold(v) if isinstance(v, str) else v: WRITE for v in self.write},
                **{fold(v) if isinstance(v, str) else v: READ for v in self.read}}


@dataclass(frozen=True)
class CsvDialect:
    """Where each part of a request is in a delimited line, and in what unit.

    Only the offset is required: no time puts every record at 0 s, no size makes it one page
    (size 0), no op makes it a read, no volume puts it on volume 0."""

    fields: tuple[str, ...]  # every field of a line, in order (declared, or the header's)
    offset: Extent
    size: Extent | None = None
    time: Time | None = None
    op: Ops | None = None
    volume: Column | None = None
    delimiter: str = ","
    quote: str | None = None  # a quoting character (fields may be quoted), or none
    header: bool = False  # the fields were named by the file's first line

    def __post_init__(self):
        for key, column in self.columns().items():
            if column.name not in self.fields:
                raise ValueError(f"{key} field {column.name!r} is not among {self.fields}")

    def columns(self) -> dict[str, Column]:
        """The declared columns by role (time, offset, size, op, volume)."""
        roles = ("time", "offset", "size", "op", "volume")
        return {role: getattr(self, role) for role in roles if getattr(self, role) is not None}

    def shape(self) -> str:
        """What a line must look like, for an error about its field count."""
        if self.header:
            return f"{len(self.fields)} fields like the header"
        separated = "comma-separated" if self.delimiter == "," else f"{self.delimiter!r}-separated"
        return f"{len(self.fields)} {separated} fields {self.delimiter.join(self.fields)}"


def text_format(dialect: CsvDialect) -> TextFormat:
    """The line and block parsers of a dialect."""
    time = dialect.time
    return TextFormat(line_parser(dialect), block_parser(dialect),
                      time.scale if time else 1.0,
                      np.int64 if time is not None and time.integer else np.float64)


def _splitter(dialect: CsvDialect):
    if dialect.quote is None:
        return lambda line: line.split(dialect.delimiter)

    def split(line: str) -> list[str]:  # a quoted field may carry blanks: strip them all
        try:
            row = next(csv.reader([line], delimiter=dialect.delimiter, quotechar=dialect.quote))
        except csv.Error:  # e.g. a stray carriage return
            return []
        return [field.strip() for field in row]

    return split


def line_parser(d: CsvDialect) -> LineParser:
    """The reference parser: (time, op, offset, size, volume, None) of one line."""
    split, width, shape = _splitter(d), len(d.fields), d.shape()
    at = {key: d.fields.index(column.name) for key, column in d.columns().items()}
    ops = d.op.table() if d.op else {}
    fold = str.lower if d.op is not None and d.op.fold_case else (lambda v: v)

    def parse(line: str):
        f = split(line)
        if len(f) != width:
            raise Malformed(shape)
        op = READ
        if d.op is not None:
            text = f[at["op"]].strip()
            op = ops.get(parse_int(text, d.op.expected) if d.op.numeric else fold(text))
            if op is None:
                raise Malformed(d.op.expected)
        offset = to_bytes(parse_int(f[at["offset"]], f"an integer {d.offset.what}"),
                          d.offset.unit, d.offset.what)
        size = 0 if d.size is None else to_bytes(
            parse_int(f[at["size"]], f"an integer {d.size.what}"), d.size.unit, d.size.what)
        time = 0
        if d.time is not None:
            text = f[at["time"]]
            time = (parse_int(text, f"an integer {d.time.what}") if d.time.integer
                    else parse_float(text, f"a numeric {d.time.what}"))
        volume = 0 if d.volume is None else parse_int(f[at["volume"]],
                                                      f"an integer {d.volume.what}")
        return (time, op, offset, size, volume, None)

    return parse


def block_parser(d: CsvDialect):
    """The vectorized parser: Records of a whole block, or BadBlock where it will not vouch."""
    types = {column.name: pa.int64() for column in d.columns().values()}
    if d.time is not None and not d.time.integer:
        types[d.time.name] = pa.float64()
    if d.op is not None and not d.op.numeric:
        types[d.op.name] = pa.string()
    ops = d.op.table() if d.op else {}
    fold = str.lower if d.op is not None and d.op.fold_case else (lambda v: v)

    def lookup(value: str):  # fields the line parser strips must not carry spaces here
        return ops.get(fold(value)) if value == value.strip() else None

    def parse(block: bytes) -> Records:
        t = arrow_table(block, d.fields, types, delimiter=d.delimiter, quote=d.quote or False)
        n = t.num_rows

        def column(c: Column | None, dtype=np.int64):
            return numbers(t, c.name) if c is not None else np.zeros(n, dtype)

        offset = checked_bytes(column(d.offset), d.offset.unit)
        size = checked_bytes(column(d.size), d.size.unit if d.size else 1)
        if d.op is None:
            op = np.zeros(n, np.uint8)
        elif d.op.numeric:
            op = _numeric_ops(column(d.op), d.op)
        else:
            op = codes(t, d.op.name, lookup)
        return records(column(d.time, np.float64), d.time.scale if d.time else 1.0, op,
                       offset, size, column(d.volume))

    return parse


def _numeric_ops(values: np.ndarray, ops: Ops) -> np.ndarray:
    if not np.isin(values, ops.read + ops.write).all():
        raise BadBlock
    return np.where(np.isin(values, ops.read), READ, WRITE).astype(np.uint8)
