"""Synthetic page-access patterns: zipf, uniform and explicit scripts.

Each is a pydantic spec (its YAML block) with a `sampler` that draws vpages from a seeded rng.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, PrivateAttr, field_validator

from ..fields import Pages, PagesOrZero
from .base import OP_READ, OP_TRUNCATE, OP_WRITE, PageSampler, WorkloadBase


def alias_table(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias tables (Vose's construction) for drawing index i with probability p[i].

    A draw costs two uniforms and one table look-up, whatever the size of p — a binary search
    of a large CDF costs a cache miss per step instead.
    """
    n = len(p)
    scaled = (p * (n / p.sum())).tolist()
    prob = [1.0] * n
    alias = list(range(n))
    small = [i for i, x in enumerate(scaled) if x < 1.0]
    large = [i for i, x in enumerate(scaled) if x >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        prob[s], alias[s] = scaled[s], g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    return np.array(prob), np.array(alias, dtype=np.int64)


class AliasSampler(PageSampler):
    """Draws from fixed page probabilities; rank r lives at a fixed, seeded, scattered vpage."""

    def __init__(self, tables, offset: int, rng, scatter: bool):
        self._prob, alias = tables
        n = len(self._prob)
        where = rng.permutation(n) if scatter else np.arange(n)
        where += offset
        self._page = where  # index -> vpage
        self._alias_page = where[alias]
        self._rng = rng

    def draw(self, n: int) -> np.ndarray:
        u = self._rng.random(n) * len(self._prob)
        k = u.astype(np.int64)
        return np.where(u - k < self._prob[k], self._page[k], self._alias_page[k])


class Zipf(WorkloadBase):
    """Popularity ∝ 1/rank^alpha over `footprint` pages (the independent reference model)."""

    kind: Literal["zipf"] = "zipf"
    alpha: float = Field(0.9, ge=0)
    footprint: Pages
    offset: PagesOrZero = 0
    scatter: bool = True  # popular pages spread over the file, not packed at its start

    def footprint_pages(self) -> int:
        return self.offset + self.footprint

    _tables = PrivateAttr(default=None)  # alias tables, built once and shared by all threads

    def sampler(self, rng):
        if self._tables is None:
            self._tables = alias_table(np.arange(1, self.footprint + 1, dtype=float) ** -self.alpha)
        return AliasSampler(self._tables, self.offset, rng, self.scatter)


class UniformSampler(PageSampler):
    def __init__(self, footprint: int, offset: int, rng):
        self._footprint, self._offset, self._rng = footprint, offset, rng

    def draw(self, n: int) -> np.ndarray:
        return self._rng.integers(0, self._footprint, n) + self._offset


class Uniform(WorkloadBase):
    """Every page of the footprint equally likely."""

    kind: Literal["uniform"] = "uniform"
    footprint: Pages
    offset: PagesOrZero = 0

    def footprint_pages(self) -> int:
        return self.offset + self.footprint

    def sampler(self, rng):
        return UniformSampler(self.footprint, self.offset, rng)


_SCRIPT_OPS = {"r": OP_READ, "w": OP_WRITE, "t": OP_TRUNCATE}


class ScriptSampler(PageSampler):
    """Replays the script's steps once, then stops (an empty draw ends the stream)."""

    def __init__(self, steps: list[tuple[int, int]]):
        self._ops = np.array([op for op, _ in steps], dtype=np.uint8)
        self._pages = np.array([page for _, page in steps], dtype=np.int64)
        self._pos = 0
        self._last = 0

    def draw(self, n: int) -> np.ndarray:
        start, self._pos = self._pos, min(self._pos + n, len(self._pages))
        self._last = start
        return self._pages[start:self._pos]

    def ops(self, n: int) -> np.ndarray:
        return self._ops[self._last:self._last + n]


class Script(WorkloadBase):
    """An explicit list of steps, "r 5", "w 5", "t 5" (read, write, truncate the file of page 5).

    Used by tests and tiny examples: every policy sees exactly these requests.
    """

    kind: Literal["script"] = "script"
    steps: list[str] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _parse(cls, steps):
        for i, step in enumerate(steps):
            parts = str(step).split()
            if len(parts) != 2 or parts[0] not in _SCRIPT_OPS or not parts[1].isdigit():
                raise ValueError(f'step {i}: expected "r PAGE", "w PAGE" or "t PAGE", got {step!r}')
        return steps

    def parsed(self) -> list[tuple[int, int]]:
        return [(_SCRIPT_OPS[s.split()[0]], int(s.split()[1])) for s in self.steps]

    def footprint_pages(self) -> int:
        return max(page for _, page in self.parsed()) + 1

    def sampler(self, rng):
        return ScriptSampler(self.parsed())
