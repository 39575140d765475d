"""What every workload shares: read/write mix, threads or arrivals, and the request stream.

A workload kind only says which pages it touches (`PageSampler.draw`); this module turns that
into seeded numpy chunks of (op, vpage, gap) — gap is the think time before the request in a
closed loop, or the inter-arrival time in an open loop.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from ..fields import Distribution, Fraction, Rate, Strict

OP_READ = 0
OP_WRITE = 1
OP_TRUNCATE = 2  # drop and recreate the file holding the page (file = page // file_pages)

CHUNK = 1 << 16


class Arrival(Strict):
    """Open-loop arrivals: requests come at their own times, whatever the guest is doing."""

    kind: Literal["poisson", "constant"] = "poisson"
    rate: Rate

    def gaps(self, rng, n: int) -> np.ndarray:
        if self.kind == "constant":  # the two kinds of this Literal, not a registry
            return np.full(n, 1.0 / self.rate)
        return rng.exponential(1.0 / self.rate, n)


class WorkloadBase(Strict):
    """Knobs common to every workload kind."""

    kind: str
    read_fraction: Fraction = 1.0
    sync: bool = False
    dup_writes: Fraction = 0.0
    threads: int = Field(1, ge=1)
    think_time: Distribution = Field(default_factory=Distribution)
    arrival: Arrival | None = None
    file_pages: int = Field(64, ge=1)

    def footprint_pages(self) -> int:
        """One past the highest vpage the workload may touch."""
        raise NotImplementedError

    def open_loop(self) -> bool:
        """True when requests arrive at their own times (gaps are inter-arrival times)."""
        return self.arrival is not None

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


class RequestStream:
    """A guest thread's requests as numpy chunks, identical whatever the policy."""

    __slots__ = ("spec", "_pages_rng", "_ops_rng", "_gap_rng", "_sampler", "_content_rng")

    def __init__(self, spec: WorkloadBase, seed: np.random.SeedSequence):
        pages, ops, gaps, content = (np.random.default_rng(s) for s in seed.spawn(4))
        self.spec = spec
        self._pages_rng, self._ops_rng, self._gap_rng = pages, ops, gaps
        self._content_rng = content
        self._sampler = spec.sampler(pages)

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
            ops = (self._ops_rng.random(n) >= spec.read_fraction).tolist()
        else:
            ops = ops.tolist()
        if spec.arrival is not None:
            gaps = spec.arrival.gaps(self._gap_rng, n)
        else:
            gaps = spec.think_time.sample(self._gap_rng, n)
        dup = (self._content_rng.random(n) < spec.dup_writes).tolist()
        return ops, pages.tolist(), gaps.tolist(), dup
