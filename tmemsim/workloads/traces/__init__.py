"""Streaming readers for block traces: MSR, blkparse, FIU, Alibaba, Tencent, oracleGeneral,
vscsi, CSV.

Each yields numpy chunks of 4 KiB page requests (larger requests split), in bounded memory.
`FORMATS` maps a `format:` name to its `TraceFormat` (a module per format declares it); the
files a format reader reads go through the shared pipeline of `source`, `text` and `pipeline`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from tmemsim.errors import TraceError

from . import alibaba, blkparse, csv, fiu, msr, oracle, tencent, vscsi
from .alibaba import write_alibaba
from .base import Example, OptionError, TraceFormat
from .blkparse import write_blkparse
from .csv import write_csv
from .dialect import CsvDialect
from .fiu import write_fiu
from .msr import write_msr
from .oracle import ORACLE_DTYPE, write_oracle, write_oracle_general
from .pipeline import STATS_KEYS, pages, rechunk, rotated
from .records import READ, SECTOR, WRITE, TraceChunk, device_volume
from .source import Source
from .tencent import write_tencent
from .vscsi import write_vscsi

# by name and by alias (oracleGeneral is oracle)
FORMATS: dict[str, TraceFormat] = {
    name: module.FORMAT
    for module in (msr, blkparse, fiu, alibaba, tencent, oracle, vscsi, csv)
    for name in (module.FORMAT.name, *module.FORMAT.aliases)
}


def read_trace(path, format: str, *, volume: int | None = None, chunk_pages: int = 1 << 16,
               on_error: str = "raise", limit: int | None = None, columns: dict | None = None,
               stats: dict | None = None, start: int = 0, **options) -> Iterator[TraceChunk]:
    """Stream a block trace as TraceChunks of at most `chunk_pages` 4 KiB page requests.

    `format` is a key of FORMATS; `options` are that format's declared options (blkparse:
    `action`; csv: `columns`, `time_unit`, `offset_unit`, `size_unit`, `read_values`,
    `write_values`, `delimiter`). Arguments are checked at once (ValueError for an unknown
    format, option or value — an OptionError naming the option; TraceError for a missing
    file); the file is read lazily as chunks are consumed, so malformed lines raise TraceError
    (file and line number) during iteration.

    - `time_s` is seconds since the first record of the file, before any filtering, so the
      volumes of one file share a clock; unsorted traces may give negative times.
    - `volume` keeps one volume; `limit` caps the page requests emitted.
    - `start` > 0 replays from that record (of those `volume` keeps, modulo their number) to
      the end and then from the first record up to it, timed from record `start` (see
      `pipeline.rotated`): the file is read twice.
    - `stats`, when given, is reset and kept current: `lines` read (oracle, vscsi: records),
      `records` valid trace records, `pages` emitted, `skipped` malformed lines (with
      on_error="skip"), `filtered` records dropped by `volume` or by a format rule (blkparse
      actions other than `action`, flushes, discards). `records` includes the filtered ones.
    """
    fmt = FORMATS.get(format)
    if fmt is None:
        raise ValueError(f"unknown trace format {format!r}; valid formats: "
                         f"{', '.join(sorted(FORMATS))}")
    if columns is not None:
        options["columns"] = columns
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if chunk_pages < 1:
        raise ValueError(f"chunk_pages must be at least 1, got {chunk_pages}")
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be non-negative, got {limit}")
    if start < 0:
        raise ValueError(f"start must be non-negative, got {start}")
    parsed = fmt.parse_options(options)
    if not os.path.exists(path):
        raise TraceError("no such trace file", file=str(path))
    if stats is None:
        stats = {}
    stats.update(dict.fromkeys(STATS_KEYS, 0))
    if start:
        def read_file(counts: dict):
            return fmt.read(Source(str(path), on_error, counts), parsed)

        pieces = rotated(read_file, volume, stats, start)
    else:
        pieces = pages(fmt.read(Source(str(path), on_error, stats), parsed), volume, stats)
    return rechunk(pieces, chunk_pages, limit, stats)


__all__ = [
    "FORMATS", "ORACLE_DTYPE", "READ", "SECTOR", "STATS_KEYS", "WRITE", "CsvDialect", "Example",
    "OptionError", "TraceChunk", "TraceFormat", "device_volume", "read_trace", "write_alibaba",
    "write_blkparse", "write_csv", "write_fiu", "write_msr", "write_oracle",
    "write_oracle_general", "write_tencent", "write_vscsi",
]
