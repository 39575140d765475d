"""Counters and the log-bucketed latency histogram the model fills while it runs.

Plain slotted objects, reset at the end of the warm-up; results turn them into tables. The
policies' own counters are declared by each policy (`Policy.Counters`).
"""

from __future__ import annotations

import math

import numpy as np

from ..counters import Counters


class GuestCounters(Counters):
    """What a guest's requests did and cost, counted by the guest and the hypervisor."""

    __slots__ = (
        "requests", "reads", "writes", "guest_hits", "host_hits", "disk_reads", "disk_writes",
        "stale_reads", "swap_disk_io", "write_latency_s", "sync_writes", "anon_touches",
        "zero_fills", "swap_ins", "swap_ins_memory", "swap_outs", "anon_latency_s", "truncates",
        "rmw_reads",  # reads a sub-page write to an uncached page did first (counted in reads)
        "page_lock_waits",  # reads that waited for another read of their page (the page lock)
        # the guest's own readahead (model/guest_readahead.py): pages read ahead, of those the
        # ones read later, and the ones evicted unread
        "guest_readahead_pages", "guest_readahead_hits", "guest_readahead_wasted",
    )


class LatencyHistogram:
    """Latencies in log-spaced buckets, 200 per decade from 10 ns to 1000 s.

    A bucket spans a factor 10^(1/200) ≈ 1.0116, so a percentile read at the bucket's geometric
    middle is within 0.6% of the true value; the mean is kept exactly. `record` only appends to
    a list (the hot path); `flush` bins what was recorded, in one numpy pass.
    """

    PER_DECADE = 200
    LOW = 1e-8
    DECADES = 11
    SIZE = PER_DECADE * DECADES + 1

    __slots__ = ("counts", "total", "n", "pending", "record")

    def __init__(self):
        self.counts = np.zeros(self.SIZE, dtype=np.int64)
        self.total = 0.0
        self.n = 0
        self.pending: list[float] = []
        self.record = self.pending.append

    def __getstate__(self):
        self.flush()
        return self.counts, self.total, self.n

    def __setstate__(self, state):
        self.counts, self.total, self.n = state
        self.pending = []
        self.record = self.pending.append

    def reset(self) -> None:
        self.counts[:] = 0
        self.total = 0.0
        self.n = 0
        self.pending.clear()

    def _index(self, seconds: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            i = np.floor(np.log10(np.maximum(seconds, 0.0) / self.LOW) * self.PER_DECADE)
        return np.clip(np.nan_to_num(i, neginf=0), 0, self.SIZE - 1).astype(np.int64)

    def flush(self) -> None:
        if not self.pending:
            return
        x = np.asarray(self.pending, dtype=np.float64)
        self.pending.clear()
        self.counts += np.bincount(self._index(x), minlength=self.SIZE)
        self.total += float(x.sum())
        self.n += len(x)

    def add(self, seconds: float, count: int = 1) -> None:
        self.flush()
        self.counts[self._index(np.array([seconds]))[0]] += count
        self.total += seconds * count
        self.n += count

    def merge(self, other: LatencyHistogram) -> None:
        self.flush()
        other.flush()
        self.counts += other.counts
        self.total += other.total
        self.n += other.n

    def edges(self, i: int) -> tuple[float, float]:
        lo = self.LOW * 10 ** (i / self.PER_DECADE)
        return lo, lo * 10 ** (1 / self.PER_DECADE)

    def mean(self) -> float:
        self.flush()
        return self.total / self.n if self.n else float("nan")

    def percentile(self, q: float) -> float:
        """The q-th percentile (0..100), at the geometric middle of its bucket."""
        self.flush()
        if not self.n:
            return float("nan")
        cum = np.cumsum(self.counts)
        i = int(np.searchsorted(cum, max(q / 100 * self.n, 1), side="left"))
        lo, hi = self.edges(i)
        return math.sqrt(lo * hi)

    def rows(self):
        """(lo_s, hi_s, count) of every non-empty bucket."""
        self.flush()
        for i in np.flatnonzero(self.counts):
            lo, hi = self.edges(int(i))
            yield lo, hi, int(self.counts[i])
