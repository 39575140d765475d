"""Turning the fields of text traces into numbers, in pairs: one line at a time, or a column.

The line helpers are the reference: they raise `Malformed` with what was expected. Each column
helper (pyarrow/numpy, a whole block at once) raises `BadBlock` wherever its line twin would
reject a value, and is never more lenient: then the block is re-parsed line by line.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .records import ID_MASK, MAX_BYTES, MAX_MAJOR, MINOR_BITS, device_volume

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


class Malformed(Exception):
    """A line that looks like a record but is not a valid one; carries what was expected."""

    def __init__(self, expected: str):
        super().__init__(expected)
        self.expected = expected


class BadBlock(Exception):
    """The fast parser will not vouch for this block; the line parser takes over."""


# One line ----------------------------------------------------------------------------------


def parse_int(text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise Malformed(what) from None
    if not INT64_MIN <= value <= INT64_MAX:  # the fast parsers read int64 columns
        raise Malformed(what)
    return value


def parse_float(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise Malformed(what) from None
    if not math.isfinite(value):
        raise Malformed(what)
    return value


def to_bytes(value: int, unit: int, name: str) -> int:
    """Bytes from a value in `unit` bytes, rejecting negative or absurd values."""
    if value < 0 or value > MAX_BYTES // unit:
        raise Malformed(f"a non-negative {name} below 2**60 bytes")
    return value * unit


def devno(major: int, minor: int) -> int:
    if not 0 <= major < MAX_MAJOR or not 0 <= minor < 1 << MINOR_BITS:
        raise Malformed("a device number major,minor with major < 2**42 and minor < 2**20")
    return device_volume(major, minor)


def content_id(md5: str) -> int:
    """The first 8 bytes of the md5, little-endian, in 63 bits (a non-negative int64)."""
    if len(md5) != 32:
        raise Malformed("an md5 of 32 hex digits")
    try:
        digest = bytes.fromhex(md5)
    except ValueError:
        raise Malformed("an md5 of 32 hex digits") from None
    return int.from_bytes(digest[:8], "little") & ID_MASK


# A block at once ---------------------------------------------------------------------------


def arrow_table(block: bytes, names, types: dict, delimiter=",", quote=False) -> pa.Table:
    """The columns `types` names of a block of delimited lines whose fields are `names`."""
    # pyarrow accepts 0x-prefixed integers and ends lines at a lone CR; the line parsers do
    # neither, so such blocks go slow.
    if b"0x" in block or b"0X" in block or block.count(b"\r") != block.count(b"\r\n"):
        raise BadBlock
    # Runs of blanks are one separator to str.split() but empty fields to pyarrow.
    if delimiter == " " and (b"  " in block or b"\t" in block):
        raise BadBlock
    # use_threads=False: a block is 4 MiB, parsed as fast on one thread, and pyarrow's thread
    # pool can abort the interpreter as it exits ("terminate called without an active
    # exception", apache/arrow#34314), which a benchmark hit once in about twenty processes.
    return pacsv.read_csv(
        pa.py_buffer(block),
        read_options=pacsv.ReadOptions(column_names=list(names), use_threads=False),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char=quote),
        convert_options=pacsv.ConvertOptions(column_types=types, include_columns=list(types)),
    )


def numbers(table: pa.Table, name: str) -> np.ndarray:
    column = table.column(name)
    if column.null_count:  # empty fields, "NA", "nan"...
        raise BadBlock
    values = column.to_numpy()
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        raise BadBlock
    return values


def codes(table: pa.Table, name: str, lookup: Callable[[str], int | None]) -> np.ndarray:
    """Op codes from a string column via its (small) dictionary of distinct values."""
    encoded = pc.dictionary_encode(table.column(name)).combine_chunks()
    found = [lookup(value) for value in encoded.dictionary.to_pylist()]
    if None in found:
        raise BadBlock
    table_codes = np.array(found, dtype=np.uint8)
    return table_codes[encoded.indices.to_numpy(zero_copy_only=False)]


def checked_bytes(values: np.ndarray, unit: int) -> np.ndarray:
    if ((values < 0) | (values > MAX_BYTES // unit)).any():
        raise BadBlock
    return values * unit


def checked_devno(major: np.ndarray, minor: np.ndarray) -> np.ndarray:
    if ((major < 0) | (major >= MAX_MAJOR) | (minor < 0) | (minor >= 1 << MINOR_BITS)).any():
        raise BadBlock
    return (major << MINOR_BITS) | minor


def _hex_digits() -> np.ndarray:
    digits = np.full(256, 255, dtype=np.uint8)
    digits[np.frombuffer(b"0123456789", np.uint8)] = np.arange(10)
    digits[np.frombuffer(b"abcdef", np.uint8)] = np.arange(10, 16)
    digits[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16)
    digits.flags.writeable = False  # a lookup table, not state
    return digits


_HEX = _hex_digits()


def content_ids(column: pa.ChunkedArray) -> np.ndarray:
    """Vectorized `content_id` over a column of md5 strings."""
    array = column.combine_chunks()
    if not len(array):
        return np.zeros(0, np.int64)
    if array.null_count or not pc.all(pc.equal(pc.binary_length(array), 32)).as_py():
        raise BadBlock
    n = len(array)
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset : array.offset + 1]
    start = int(offsets[0])
    chars = np.frombuffer(array.buffers()[2], dtype=np.uint8)[start : start + 32 * n]
    nibbles = _HEX[chars.reshape(n, 32)]
    if (nibbles == 255).any():  # every digit must be hex, as bytes.fromhex demands
        raise BadBlock
    digest = (nibbles[:, 0:16:2] << 4) | nibbles[:, 1:16:2]  # first 8 bytes, shape (n, 8)
    ids = np.ascontiguousarray(digest).view("<u8").ravel()
    return (ids & np.uint64(ID_MASK)).astype(np.int64)
