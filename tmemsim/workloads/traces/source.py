"""Opening trace files and reading them in bounded blocks, with errors that name file and line.

A file is plain or gzip (found by its magic, whatever its name); zstd is refused with a hint.
Text is read as blocks of whole lines; a line longer than `MAX_LINE` is not a trace line.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass

from tmemsim.errors import TraceError

# 4 MiB of text is ~80k MSR lines: big enough for pyarrow to be fast, small enough to keep the
# resident set a few tens of MB whatever the file size.
BLOCK_BYTES = 4 << 20
# A longer "line" is not a trace line (a binary file read as text, say): no reason to hold it.
MAX_LINE = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass(frozen=True)
class Source:
    """One trace file being read: where errors point, what to do with them, what was counted."""

    path: str
    on_error: str  # "raise" or "skip"
    stats: dict

    def error(self, message: str, line: int | None = None) -> TraceError:
        return TraceError(message, file=self.path, line=line)


def open_binary(src: Source):
    """The file as a binary stream, gunzipped when it starts with the gzip magic.

    Returns (stream, raw file); close both (the stream wraps the file when gzipped)."""
    try:
        f = open(src.path, "rb")
    except FileNotFoundError:
        raise src.error("no such trace file") from None
    except OSError as e:
        raise src.error(f"cannot open trace: {e.strerror or e}") from None
    magic = f.read(4)
    f.seek(0)
    if magic.startswith(GZIP_MAGIC):
        return gzip.GzipFile(fileobj=f, mode="rb"), f
    if magic == ZSTD_MAGIC:
        f.close()
        raise src.error("zstd-compressed traces are not supported; decompress first (zstd -d)")
    return f, f


def read_bytes(src: Source, stream, nbytes: int) -> bytes:
    try:
        return stream.read(nbytes)
    except (OSError, EOFError) as e:  # corrupt or truncated gzip
        raise src.error(f"cannot read trace: {e}") from None


def line_blocks(src: Source, stream) -> Iterator[tuple[bytes, int, int]]:
    """Blocks of whole lines, the 1-based number of each one's first line and its line count."""
    carry, line_no, too_long = b"", 1, False
    while True:
        data = read_bytes(src, stream, BLOCK_BYTES)
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
            if len(carry) > MAX_LINE:
                too_long, carry = overlong_line(src, line_no), b""
                src.stats["lines"] += 1
            continue
        block, carry = data[:cut], data[cut:]
        nlines = block.count(b"\n")
        yield block, line_no, nlines
        line_no += nlines


def overlong_line(src: Source, line_no: int) -> bool:
    """Raise for, or count as skipped, a line longer than MAX_LINE; True: skip its rest."""
    if src.on_error == "raise":
        raise src.error(f"expected lines of text, got a line longer than {MAX_LINE} bytes",
                        line_no)
    src.stats["skipped"] += 1
    return True


def create_text(path):
    """A new text file for a writer, gzipped when the path ends in .gz."""
    return gzip.open(path, "wt") if str(path).endswith(".gz") else open(path, "w")
