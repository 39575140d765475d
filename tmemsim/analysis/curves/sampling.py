"""Spatial sampling of pages (SHARDS, Waldspurger et al., FAST 2015).

A page is kept when hash(page) mod P < R * P; every cache is then R times its size, and the
counts R times smaller. The hash is splitmix64's finaliser on the page key (a vpage, or
-1 - page for an anonymous page), so the same page is kept in every guest and every request:
CoW clones keep the same base pages, and a kept page's whole history is kept.
"""

from __future__ import annotations

import numpy as np

MODULUS = 1 << 24


def _mix(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return x


def kept(keys: np.ndarray, rate: float) -> np.ndarray:
    """Which page keys the sample keeps (a boolean per key)."""
    threshold = np.uint64(int(round(rate * MODULUS)))
    return (_mix(np.asarray(keys, dtype=np.int64)) % np.uint64(MODULUS)) < threshold


def keeps(key: int, rate: float) -> bool:
    return bool(kept(np.array([key]), rate)[0])


def check_rate(rate) -> float:
    rate = float(rate)
    if not 0 < rate <= 1:
        raise ValueError(f"expected a sampling rate in (0, 1], got {rate}")
    return rate


class SampledStream:
    """A request stream with only the sampled pages' requests (truncates are kept: the replay
    restricts them to sampled pages). Each kept request's gap runs to the next kept one, so
    the think times of the requests dropped between are kept; `start` is when the first kept
    request comes. The budget counts the original requests. `weights[i]`: how many original
    reads the i-th kept request stands for (from it to the next kept one), for SHARDS' count
    adjustment (`adjusted`)."""

    def __init__(self, stream, rate: float, budget: int | None):
        self.stream, self.rate = stream, rate
        self.left = budget if budget is not None else 1 << 62
        self.clock = 0.0  # start of the next unread original request (gaps only)
        self.reads = 0  # original reads so far
        self.start: float | None = None
        self.held = None  # the last kept request, waiting for its successor's time
        self.weights: list[int] = []

    def _pull(self):
        """The next original chunk's kept requests: (ops, pages, starts, dups, reads before
        each), None at the end."""
        if self.left <= 0:
            return None
        ops, pages, gaps, dups = self.stream.next_chunk()
        if not len(ops):
            return None
        n = min(len(ops), self.left)
        self.left -= n
        ops = np.asarray(ops[:n], dtype=np.int64)
        pages = np.asarray(pages[:n], dtype=np.int64)
        gaps = np.asarray(gaps[:n], dtype=float)
        starts = self.clock + np.concatenate(([0.0], np.cumsum(gaps)[:-1]))
        self.clock = float(starts[-1] + gaps[-1])
        reading = ops == 0
        reads = self.reads + np.concatenate(([0], np.cumsum(reading)[:-1]))
        self.reads += int(np.count_nonzero(reading))
        key = np.where(ops >= 3, -1 - pages, pages)
        keep = kept(key, self.rate) | (ops == 2)
        return (ops[keep], pages[keep], starts[keep],
                np.asarray(dups[:n], dtype=bool)[keep], reads[keep])

    def next_chunk(self):
        while True:
            got = self._pull()
            if got is None:
                if self.held is None:
                    return [], [], [], []
                op, page, start, dup, reads = self.held
                self.held = None
                self.weights.append(self.reads - reads)
                return [op], [page], [self.clock - start], [dup]
            ops, pages, starts, dups, reads = got
            if not len(ops):
                continue
            if self.start is None:
                self.start = float(starts[0])
            if self.held is not None:
                op, page, start, dup, read = self.held
                ops = np.concatenate(([op], ops))
                pages = np.concatenate(([page], pages))
                starts = np.concatenate(([start], starts))
                dups = np.concatenate(([dup], dups))
                reads = np.concatenate(([read], reads))
            self.held = (int(ops[-1]), int(pages[-1]), float(starts[-1]), bool(dups[-1]),
                         int(reads[-1]))
            if len(ops) == 1:
                continue
            self.weights += np.diff(reads).tolist()
            return (ops[:-1].tolist(), pages[:-1].tolist(), np.diff(starts).tolist(),
                    dups[:-1].tolist())


def adjusted(reads: int, guest_hits: int, represented: float, rate: float) -> tuple:
    """SHARDS' adjustment (Waldspurger et al. 2015, SHARDS_adj): a sample that caught more
    (or fewer) of the requests than R of them, because a hot page was (or was not) drawn,
    counts the difference as hits at every size, where a hot page's reuses would be. reads,
    guest_hits: the sample's; represented: the original reads its requests stand for.
    Returns (reads, guest hits) in the sample's units."""
    expected = rate * represented
    return expected, guest_hits + (expected - reads)


def sampled_start(stream) -> float:
    """When a stream's first request comes: 0, or a SampledStream's first kept request."""
    return stream.start or 0.0 if isinstance(stream, SampledStream) else 0.0


def sampled_weights(streams, n: int):
    """The original reads each of the first n requests stands for: None unless the one
    stream is sampled (several threads interleave their requests: not followed)."""
    if len(streams) != 1 or not isinstance(streams[0], SampledStream):
        return None
    w = np.asarray(streams[0].weights[:n], dtype=float)
    return np.concatenate((w, np.zeros(n - len(w)))) if len(w) < n else w
