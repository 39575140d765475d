"""What every workload shares: read/write mix, threads or arrivals, and the request stream.

A workload kind only says which pages it touches (`PageSampler.draw`); this module turns that
into seeded numpy chunks of (op, vpage, gap) — gap is the think time before the request in a
closed loop, or the inter-arrival time in an open loop.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from ..fields import Distribution, Fraction, Pages, Rate, Strict
from .alias import alias_table

OP_READ = 0
OP_WRITE = 1
OP_TRUNCATE = 2  # drop and recreate the file holding the page (file = page // file_pages)
OP_ANON_READ = 3  # touch an anonymous page (page = its index in the anonymous working set)
OP_ANON_WRITE = 4
# a write covering part of a page (a trace's unaligned or short request): the guest reads the
# page first when it is not cached (read-modify-write), as Linux does
OP_WRITE_PARTIAL = 5

CHUNK = 1 << 16


class Arrival(Strict):
    """Open-loop arrivals: requests come at their own times, whatever the guest is doing."""

    kind: Literal["poisson", "constant"] = "poisson"
    rate: Rate

    def gaps(self, rng, n: int) -> np.ndarray:
        if self.kind == "constant":  # the two kinds of this Literal, not a registry
            return np.full(n, 1.0 / self.rate)
        return rng.exponential(1.0 / self.rate, n)


class Anon(Strict):
    """An anonymous working set: `fraction` of the requests touch it instead of files.

    A first touch is a zero-fill (no I/O); an evicted anonymous page is swapped out.
    """

    size: Pages
    fraction: Fraction = 0.5
    alpha: float = Field(0.0, ge=0)  # popularity ∝ 1/rank^alpha; 0 is uniform
    read_fraction: Fraction = 0.5

    def sampler(self, rng) -> PageSampler:
        from .synthetic import AliasSampler  # the same draw as zipf's

        weights = np.arange(1, self.size + 1, dtype=float) ** -self.alpha
        return AliasSampler(alias_table(weights), np.arange(self.size, dtype=np.int64), rng)


class Churn(Strict):
    """Files of the footprint truncated and recreated at random times (Poisson, `rate`).

    The guest drops the file's pages (dirty ones unwritten), tmem flushes the object, and the
    new file is written through the page cache.
    """

    rate: Rate

    def times(self, rng: np.random.Generator):
        t = 0.0
        while True:
            gaps = rng.exponential(1.0 / self.rate, 1024)
            for gap in gaps.tolist():
                t += gap
                yield t


class WorkloadBase(Strict):
    """Knobs common to every workload kind."""

    kind: str
    # minimal specs (without `kind`) the registry-driven tests run; a spec naming a trace
    # `format` and `path` is replayed from that format's example file, which the tests write
    examples: ClassVar[list[dict]] = [{}]
    read_fraction: Fraction = 1.0
    sync: bool = False
    dup_writes: Fraction = 0.0
    threads: int = Field(1, ge=1)
    think_time: Distribution = Field(default_factory=Distribution)
    arrival: Arrival | None = None
    file_pages: int = Field(64, ge=1)
    anon: Anon | None = None
    churn: Churn | None = None

    def footprint_pages(self) -> int:
        """One past the highest vpage the workload may touch."""
        raise NotImplementedError

    def may_write(self) -> bool:
        """Whether a request may write or truncate a file page (scenario/sizing.py counts those)."""
        return self.read_fraction < 1 or self.churn is not None

    def array_bytes(self) -> tuple[int, int]:
        """(bytes of numpy arrays shared by every thread running this spec, bytes each thread
        holds), at their peak: the page tables scenario/sizing.py counts."""
        if self.anon is None:
            return 0, 0
        # each thread's own alias table, vpages and alias targets: 32 B a page, 56 while built
        return 0, 56 * self.anon.size

    def open_loop(self) -> bool:
        """True when requests arrive at their own times (gaps are inter-arrival times)."""
        return self.arrival is not None

    def start_delay(self) -> float:
        """Seconds before the guest's first request (a trace's `time_shift`)."""
        return 0.0

    def clone_of(self, index: int, count: int) -> WorkloadBase:
        """The workload of clone `index` of a guest's `count` (a trace spreads them over it)."""
        return self

    def sampler(self, rng: np.random.Generator) -> PageSampler:
        raise NotImplementedError

    def stream(self, seed: np.random.SeedSequence) -> RequestStream:
        return RequestStream(self, seed)


class PageSampler:
    """Draws vpages for a workload kind; may carry state (a scan's position)."""

    def draw(self, n: int) -> np.ndarray:
        raise NotImplementedError

    def ops(self, n: int) -> np.ndarray | None:
        """Explicit operations, for kinds that fix them (scripts); None draws from read_fraction."""
        return None


def as_list(a: np.ndarray) -> list:
    """a.tolist(), but an array of one repeated value (all reads, a constant think time) is
    built without converting each element: a large share of chunk time otherwise."""
    if len(a) and (a == a[0]).all():
        return [a[0].item()] * len(a)
    return a.tolist()


class RequestStream:
    """A guest thread's requests as numpy chunks, identical whatever the policy."""

    __slots__ = ("spec", "_pages_rng", "_ops_rng", "_gap_rng", "_sampler", "_content_rng",
                 "_anon_rng", "_anon_sampler")

    def __init__(self, spec: WorkloadBase, seed: np.random.SeedSequence):
        pages, ops, gaps, content, anon, anon_pages = (
            np.random.default_rng(s) for s in seed.spawn(6))
        self.spec = spec
        self._pages_rng, self._ops_rng, self._gap_rng = pages, ops, gaps
        self._content_rng = content
        self._sampler = spec.sampler(pages)
        self._anon_rng = anon
        self._anon_sampler = spec.anon.sampler(anon_pages) if spec.anon else None

    def next_chunk(self, n: int = CHUNK):
        """(ops, vpages, gaps, dup) as Python lists, the fastest form to index one by one.

        dup marks writes whose new content comes from the scenario's shared pool.
        """
        spec = self.spec
        pages = self._sampler.draw(n)
        n = len(pages)
        ops = self._sampler.ops(n)
        if ops is None:
            # draws are taken even when the answer is fixed, so a change of read_fraction or
            # dup_writes never shifts any other random stream
            ops = (self._ops_rng.random(n) >= spec.read_fraction).astype(np.int64)
        if self._anon_sampler is not None:
            ops, pages = self._mix_anon(ops, pages, n)
        if spec.arrival is not None:
            gaps = spec.arrival.gaps(self._gap_rng, n)
        else:
            gaps = spec.think_time.sample(self._gap_rng, n)
        dup = self._content_rng.random(n) < spec.dup_writes
        return as_list(ops), pages.tolist(), as_list(gaps), as_list(dup)

    def _mix_anon(self, ops, pages, n: int):
        """Turn a `fraction` of the requests into touches of anonymous pages."""
        anon = self.spec.anon
        u = self._anon_rng.random((2, n))
        is_anon = u[0] < anon.fraction
        ops = np.where(is_anon, np.where(u[1] < anon.read_fraction, OP_ANON_READ, OP_ANON_WRITE),
                       ops)
        pages = np.where(is_anon, self._anon_sampler.draw(n), pages)
        return ops, pages
