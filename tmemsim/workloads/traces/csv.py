"""Generic CSV with a header row: the options map time/offset/size/op/volume to header names.

Only offset is required. No time → every record at 0 s; no size → one page; no op → read;
no volume → 0. Size is in `size_unit` (default: `offset_unit`). An op value in neither
`read_values` nor `write_values` is a malformed line. The options and the header make a
`CsvDialect`; from there on it is parsed like the named CSV-like formats.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .base import Example, TraceFormat
from .dialect import EXTENT_UNITS, TIME_UNITS, Column, CsvDialect, Extent, Ops, Time, text_format
from .records import READ, WRITE, Records
from .source import Source, create_text, line_blocks, open_binary
from .text import TextFormat, parse_blocks

KEYS = ("time", "offset", "size", "op", "volume")


def _values(value) -> tuple[str, ...]:
    """The spellings of an op, as text (YAML may give numbers); one value is a list of one."""
    if isinstance(value, str | int | float):
        return (str(value),)
    if not isinstance(value, list | tuple):
        raise ValueError("read_values and write_values must be lists of values")
    return tuple(str(v) for v in value)


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: dict[str, str] | None = Field(None, validate_default=True)
    time_unit: str = "s"
    offset_unit: str = "bytes"
    size_unit: str | None = None  # default: offset_unit
    read_values: tuple[str, ...] = ("R", "r", "read", "Read", "0")
    write_values: tuple[str, ...] = ("W", "w", "write", "Write", "1")
    delimiter: str = ","

    @field_validator("columns")
    @classmethod
    def _columns(cls, columns):
        if not columns or "offset" not in columns:
            raise ValueError("format 'csv' needs columns={'offset': NAME, ...} "
                             f"with keys among {', '.join(KEYS)}")
        unknown = sorted(set(columns) - set(KEYS))
        if unknown:
            raise ValueError(f"unknown csv column key(s) {', '.join(unknown)}; "
                             f"valid: {', '.join(KEYS)}")
        if len(set(columns.values())) != len(columns):
            raise ValueError("csv columns must map to distinct header names")
        return columns

    @field_validator("time_unit", mode="before")
    @classmethod
    def _time_unit(cls, unit):
        if not isinstance(unit, str) or unit not in TIME_UNITS:
            raise ValueError(f"time_unit must be one of {', '.join(TIME_UNITS)}, got {unit!r}")
        return unit

    @field_validator("offset_unit", "size_unit", mode="before")
    @classmethod
    def _extent_unit(cls, unit):
        if unit is not None and (not isinstance(unit, str) or unit not in EXTENT_UNITS):
            raise ValueError("offset_unit/size_unit must be one of "
                             f"{', '.join(EXTENT_UNITS)}, got {unit!r}")
        return unit

    _read_values = field_validator("read_values", mode="before")(_values)
    _write_values = field_validator("write_values", mode="before")(_values)

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, delimiter):
        if len(delimiter) != 1:
            raise ValueError(f"delimiter must be one character, got {delimiter!r}")
        return delimiter


def dialect(header: list[str], options: Options) -> CsvDialect:
    """The dialect of a file with this header, read with these options."""
    names = options.columns

    def column(key: str, kind=Column, **more):
        if key not in names:
            return None
        return kind(names[key], f"{key} in column {names[key]}", **more)

    values = {**dict.fromkeys(options.write_values), **dict.fromkeys(options.read_values)}
    return CsvDialect(
        fields=tuple(header), header=True, delimiter=options.delimiter, quote='"',
        time=column("time", Time, scale=TIME_UNITS[options.time_unit]),
        offset=column("offset", Extent, unit=EXTENT_UNITS[options.offset_unit]),
        size=column("size", Extent, unit=EXTENT_UNITS[options.size_unit or options.offset_unit]),
        op=column("op", Ops, read=options.read_values, write=options.write_values,
                  expected=f"an op in column {names.get('op')} among {sorted(values)}"),
        volume=column("volume"),
    )


def text_format_for(header: list[str], options: Options) -> TextFormat:
    return text_format(dialect(header, options))


def read(src: Source, options: Options) -> Iterator[Records]:
    stream, raw = open_binary(src)
    with raw, stream:
        blocks = line_blocks(src, stream)
        first = next(blocks, None)
        if first is None:
            raise src.error("expected a header row naming the columns, got an empty file", 1)
        block, _, nlines = first
        cut = block.find(b"\n") + 1 or len(block)
        header = read_header(block[:cut], options.delimiter)
        missing = [name for name in options.columns.values() if name not in header]
        if missing:
            raise src.error(f"column {missing[0]!r} is not in the header; the header's columns "
                            f"are {', '.join(header)}", 1)
        src.stats["lines"] += 1
        fmt = text_format_for(header, options)
        yield from parse_blocks(src, fmt, _chain_first((block[cut:], 2, nlines - 1), blocks))


def _chain_first(first: tuple, rest: Iterable) -> Iterator[tuple[bytes, int, int]]:
    if first[0]:
        yield first
    yield from rest


def read_header(line: bytes, delimiter: str) -> list[str]:
    text = line.decode("utf-8", "replace").lstrip("\ufeff").strip()
    return [name.strip() for name in next(csv.reader([text], delimiter=delimiter))]


def write_csv(path, rows) -> None:
    """Write a CSV with the header `time_s,op,offset,size,volume` from rows of those (op R/W)."""
    with create_text(path) as f:
        f.write("time_s,op,offset,size,volume\n")
        for time_s, op, offset, size, volume in rows:
            f.write(f"{time_s!r},{'W' if op == WRITE else 'R'},{offset},{size},{volume}\n")


FORMAT = TraceFormat(
    name="csv",
    read=read,
    options=Options,
    example=Example(write_csv, (
        (0.0, READ, 0, 4096, 2), (1.5, WRITE, 8192, 4608, 2), (2.0, READ, 4096, 0, 4),
    ), options={"columns": {key: key if key != "time" else "time_s" for key in KEYS}}),
)
