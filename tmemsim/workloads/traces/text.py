"""What the text formats share: a format's two parsers and the rule that chooses between them.

A `TextFormat` has a line parser and, usually, a block parser. Each block of lines is parsed
vectorized first (pyarrow, or one regex pass for blkparse); a block the fast parser declines
(`BadBlock`, or pyarrow's own error) is re-parsed line by line. The line parser is the
reference: it finds the first bad line and its number, or skips bad lines. A fast parser is
never more lenient than its line parser (a property test holds them together), so both give
the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from .records import Records, records
from .source import Source, line_blocks, open_binary
from .values import BadBlock, Malformed


class Filtered(NamedTuple):
    """What a line parser returns for a valid record its format drops (it still has a time)."""

    time: float


# A line parser returns a row (time, op, offset_bytes, size_bytes, volume, content), None for a
# line that is not a trace record at all, or Filtered(time) for a valid record the format drops.
LineParser = Callable[[str], "tuple | Filtered | None"]


@dataclass(frozen=True)
class TextFormat:
    parse_line: LineParser
    parse_block: Callable[[bytes], Records] | None  # None: always line by line
    time_scale: float  # seconds per unit of the time field
    time_dtype: type  # np.int64 keeps large tick counts exact; else np.float64


def short(text: str, width: int = 60) -> str:
    return repr(text if len(text) <= width else text[: width - 3] + "...")


def parse_lines(src: Source, fmt: TextFormat, block: bytes, first_line: int) -> Records:
    """The block line by line: a bad line raises (naming it) or is counted as skipped."""
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
        except Malformed as e:
            if src.on_error == "raise":
                message = f"expected {e.expected}, got {short(text)}"
                raise src.error(message, first_line + i) from None
            src.stats["skipped"] += 1
            continue
        if row is None:
            continue
        if first_time is None:
            first_time = row[0]
        if isinstance(row, Filtered):
            filtered += 1
        else:
            rows.append(row)
    if not rows:
        return records(np.zeros(0, fmt.time_dtype), fmt.time_scale, [], [], [], [],
                       first_time=first_time, dropped=filtered)
    time, op, offset, size, volume, content = zip(*rows, strict=True)
    return records(np.array(time, dtype=fmt.time_dtype), fmt.time_scale, op, offset, size,
                   volume, None if content[0] is None else content, first_time=first_time,
                   dropped=filtered)


def parse_blocks(src: Source, fmt: TextFormat, blocks) -> Iterator[Records]:
    """Records of each (block, first line number, line count), fast where the block allows."""
    for block, first_line, nlines in blocks:
        src.stats["lines"] += nlines
        parsed = None
        if fmt.parse_block is not None:
            try:
                parsed = fmt.parse_block(block)
            except (BadBlock, pa.lib.ArrowException):
                parsed = None
        if parsed is None:
            parsed = parse_lines(src, fmt, block, first_line)
        src.stats["records"] += len(parsed) + parsed.dropped
        src.stats["filtered"] += parsed.dropped
        yield parsed


def read_text(src: Source, fmt: TextFormat) -> Iterator[Records]:
    """A whole text file in `fmt`, block by block."""
    stream, raw = open_binary(src)
    with raw, stream:
        yield from parse_blocks(src, fmt, line_blocks(src, stream))
