"""The pipeline every format shares: volume filter, page splitting, re-chunking, limit, stats.

Records come in blocks of whatever size the format reads; chunks go out with exactly
`chunk_pages` rows (the last one fewer), in bounded memory however large one request is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from .records import Records, TraceChunk

STATS_KEYS = ("lines", "records", "pages", "skipped", "filtered")
# Page splitting expands at most this many rows at once, so one huge request stays bounded.
MAX_EXPAND = 1 << 18


def concat(chunks: list[TraceChunk]) -> TraceChunk:
    """One chunk of the rows of `chunks`, in order."""
    if len(chunks) == 1:
        return chunks[0]
    content = None if chunks[0].content is None else np.concatenate([c.content for c in chunks])
    partial = None
    if any(c.partial is not None for c in chunks):
        partial = np.concatenate([np.zeros(len(c), bool) if c.partial is None else c.partial
                                  for c in chunks])
    return TraceChunk(
        np.concatenate([c.time_s for c in chunks]), np.concatenate([c.op for c in chunks]),
        np.concatenate([c.page for c in chunks]), np.concatenate([c.volume for c in chunks]),
        content, partial,
    )


def cut(chunk: TraceChunk, start: int, stop: int) -> TraceChunk:
    """Rows start..stop-1 of chunk."""
    content = None if chunk.content is None else chunk.content[start:stop]
    partial = None if chunk.partial is None else chunk.partial[start:stop]
    return TraceChunk(chunk.time_s[start:stop], chunk.op[start:stop], chunk.page[start:stop],
                      chunk.volume[start:stop], content, partial)


def expand(records: Records, time_s: np.ndarray) -> Iterator[TraceChunk]:
    """One row per page, at most MAX_EXPAND rows at a time (bar single-record pieces)."""
    n = records.npages
    if len(n) == 0 or n.max() == 1:  # every record is one page: nothing to split
        partial = None if records.head_partial is None else (
            records.head_partial | records.tail_partial)
        yield TraceChunk(time_s, records.op, records.first_page, records.volume, records.content,
                         partial)
        return
    ends = np.cumsum(n)
    i = 0
    while i < len(n):
        before = int(ends[i] - n[i])
        j = int(np.searchsorted(ends, before + MAX_EXPAND, side="right"))
        if j == i:  # one record bigger than MAX_EXPAND pages: emit it in slices
            for a in range(0, int(n[i]), MAX_EXPAND):
                within = np.arange(a, min(a + MAX_EXPAND, int(n[i])))
                yield _rows(records, time_s, np.full(len(within), i), within)
            i += 1
            continue
        # Records i..j-1: row r belongs to record rec[r], page `within` of it.
        rec = np.repeat(np.arange(i, j), n[i:j])
        within = np.arange(len(rec)) - (np.repeat(ends[i:j] - n[i:j], n[i:j]) - before)
        yield _rows(records, time_s, rec, within)
        i = j


def _rows(records: Records, time_s: np.ndarray, rec: np.ndarray, within: np.ndarray):
    content = None if records.content is None else records.content[rec]
    partial = None
    if records.head_partial is not None:  # the first and last page of a request may be parts
        partial = (within == 0) & records.head_partial[rec] | \
            (within == records.npages[rec] - 1) & records.tail_partial[rec]
    return TraceChunk(time_s[rec], records.op[rec], records.first_page[rec] + within,
                      records.volume[rec], content, partial)


def kept(blocks: Iterator[Records], volume: int | None,
         stats: dict) -> Iterator[tuple[Records, np.ndarray]]:
    """The records of `volume` (all when None), each block with its times in seconds from the
    file's start."""
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
        yield records, (records.time - origin).astype(np.float64) * records.time_scale


def pages(blocks: Iterator[Records], volume: int | None, stats: dict) -> Iterator[TraceChunk]:
    """Page requests of the records of `volume` (all when None), timed from the file's start."""
    for records, time_s in kept(blocks, volume, stats):
        yield from expand(records, time_s)


def rotated(read_file: Callable[[dict], Iterator[Records]], volume: int | None, stats: dict,
            start: int) -> Iterator[TraceChunk]:
    """Page requests of the records of `volume` from record `start` (counted among those
    records, modulo their number) to the end, then from the first record up to `start`.

    read_file(stats) reads the file from its beginning; it is read twice (three times when
    `start` is past the end), `stats` counting the first reading only. Times start at 0 at
    record `start`; the wrapped part follows the last record by the trace's mean gap between
    records, keeping its own gaps: the trace is a loop of its span plus one mean gap.
    """
    n, first, last, at = 0, None, -np.inf, None
    for records, time_s in kept(read_file(stats), volume, stats):
        m = len(records)
        first = time_s[0] if first is None else first
        last = max(last, float(time_s.max()))
        if n + m > start:
            a = max(start - n, 0)
            at = time_s[a] if at is None else at
            yield from expand(records.take(slice(a, m)), time_s[a:] - at)
        n += m
    if n == 0 or start % n == 0 and at is not None:
        return
    if at is None:  # start was past the end: go round once more
        yield from rotated(read_file, volume, dict.fromkeys(STATS_KEYS, 0), start % n)
        return
    shift = last - at + (last - first) / (n - 1) - first  # n > 1 here: 0 < start < n
    seen, again = 0, dict.fromkeys(STATS_KEYS, 0)
    for records, time_s in kept(read_file(again), volume, again):
        m = min(len(records), start - seen)
        yield from expand(records.take(slice(0, m)), time_s[:m] + shift)
        seen += m
        if seen >= start:
            break


def rechunk(pieces: Iterator[TraceChunk], chunk_pages: int, limit: int | None,
            stats: dict) -> Iterator[TraceChunk]:
    """Chunks of exactly chunk_pages rows (the last fewer), at most `limit` rows in all."""
    pending: list[TraceChunk] = []
    npending = 0
    budget = limit
    try:
        for piece in pieces:
            if budget is not None:
                piece = cut(piece, 0, budget) if len(piece) > budget else piece
                budget -= len(piece)
            pending.append(piece)
            npending += len(piece)
            if npending >= chunk_pages:
                merged = concat(pending)
                full = npending - npending % chunk_pages
                for a in range(0, full, chunk_pages):
                    stats["pages"] += chunk_pages
                    yield cut(merged, a, a + chunk_pages)
                pending = [cut(merged, full, npending)] if full < npending else []
                npending -= full
            if budget == 0:
                break
        if npending:
            stats["pages"] += npending
            yield concat(pending)
    finally:
        pieces.close()  # close the file now, not when the generator is collected
