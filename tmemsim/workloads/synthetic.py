"""Synthetic page-access patterns: zipf, uniform, scan, loop, hotset, mix and explicit scripts.

Each is a pydantic spec (its YAML block) with a `sampler` that draws vpages from a seeded rng.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np
from pydantic import Field, PrivateAttr, field_validator, model_validator

from ..fields import Fraction, Pages, PagesOrZero, Strict
from .alias import alias_table
from .base import OP_READ, OP_TRUNCATE, OP_WRITE, PageSampler, WorkloadBase

_LAYOUT_KEY = 0x686F74  # "hot": a spawn key no stream of the scenario's root seed uses


def shared_layout(cache: dict, rng, n: int, offset: int, layout_seed: int) -> np.ndarray:
    """Index -> vpage, a seeded permutation shared by every thread and guest of the scenario.

    The threads' rngs differ, but they descend from one root seed: its entropy (the scenario
    seed) is what they share, so the same files are popular in every guest (clones read the
    same system files). `layout_seed` gives a spec a layout of its own.
    """
    entropy = getattr(rng.bit_generator.seed_seq, "entropy", None)
    if entropy is None:  # an rng without a seed sequence: a layout of its own
        entropy = int(rng.integers(1 << 62))
    key = entropy if isinstance(entropy, int) else tuple(entropy)
    if key not in cache:
        seq = np.random.SeedSequence(entropy, spawn_key=(_LAYOUT_KEY, layout_seed))
        cache[key] = np.random.default_rng(seq).permutation(n) + offset
    return cache[key]


class AliasSampler(PageSampler):
    """Draws from fixed page probabilities; index i lives at vpage where[i]."""

    def __init__(self, tables, where: np.ndarray, rng):
        self._prob, alias = tables
        self._page = where  # index -> vpage
        self._alias_page = where[alias]
        self._rng = rng

    def draw(self, n: int) -> np.ndarray:
        u = self._rng.random(n) * len(self._prob)
        k = u.astype(np.int64)
        return np.where(u - k < self._prob[k], self._page[k], self._alias_page[k])


class Pattern(WorkloadBase):
    """An endless synthetic pattern: pages from its sampler, ops from read_fraction.

    Only patterns can be parts of a mix: a part must never run dry, and the mix decides ops.
    """


class Zipf(Pattern):
    """Popularity ∝ 1/rank^alpha over `footprint` pages (the independent reference model)."""

    kind: Literal["zipf"] = "zipf"
    examples: ClassVar[list[dict]] = [{"footprint": 2000}, {"footprint": 500, "alpha": 1.2,
                                                            "read_fraction": 0.7}]
    alpha: float = Field(0.9, ge=0)
    footprint: Pages
    offset: PagesOrZero = 0
    scatter: bool = True  # popular pages spread over the file, not packed at its start
    layout_seed: int = Field(0, ge=0)  # which pages are popular: the same in every guest

    def footprint_pages(self) -> int:
        return self.offset + self.footprint

    def array_bytes(self) -> tuple[int, int]:
        shared, each = super().array_bytes()
        n = self.footprint
        # alias tables: 16 B a page, 40 while built (weights, index lists); the shared layout 8
        # (16 while built); each thread: its alias targets' vpages, and an unscattered layout
        shared += n * (40 + (16 if self.scatter else 0))
        return shared, each + n * (8 if self.scatter else 16)

    _tables = PrivateAttr(default=None)  # alias tables, built once and shared by all threads
    _layouts = PrivateAttr(default_factory=dict)  # root entropy -> rank-to-vpage map

    def sampler(self, rng):
        if self._tables is None:
            self._tables = alias_table(np.arange(1, self.footprint + 1, dtype=float) ** -self.alpha)
        if self.scatter:
            where = shared_layout(self._layouts, rng, self.footprint, self.offset, self.layout_seed)
        else:
            where = np.arange(self.offset, self.offset + self.footprint, dtype=np.int64)
        return AliasSampler(self._tables, where, rng)


class UniformSampler(PageSampler):
    def __init__(self, footprint: int, offset: int, rng):
        self._footprint, self._offset, self._rng = footprint, offset, rng

    def draw(self, n: int) -> np.ndarray:
        return self._rng.integers(0, self._footprint, n) + self._offset


class Uniform(Pattern):
    """Every page of the footprint equally likely."""

    kind: Literal["uniform"] = "uniform"
    examples: ClassVar[list[dict]] = [{"footprint": 2000}]
    footprint: Pages
    offset: PagesOrZero = 0

    def footprint_pages(self) -> int:
        return self.offset + self.footprint

    def sampler(self, rng):
        return UniformSampler(self.footprint, self.offset, rng)


class ScanSampler(PageSampler):
    """offset, offset + stride, ... for `count` pages, then again from offset."""

    def __init__(self, offset: int, stride: int, count: int):
        self._offset, self._stride, self._count = offset, stride, count
        self._pos = 0

    def draw(self, n: int) -> np.ndarray:
        k = (self._pos + np.arange(n, dtype=np.int64)) % self._count
        self._pos = (self._pos + n) % self._count
        return self._offset + k * self._stride


class Scan(Pattern):
    """A sequential pass over the footprint from offset, every `stride`-th page, repeated."""

    kind: Literal["scan"] = "scan"
    examples: ClassVar[list[dict]] = [{"footprint": 2000}]
    footprint: Pages
    offset: PagesOrZero = 0
    stride: int = Field(1, ge=1)

    def _count(self) -> int:
        return -(-self.footprint // self.stride)  # pages one pass touches

    def footprint_pages(self) -> int:
        return self.offset + (self._count() - 1) * self.stride + 1

    def sampler(self, rng):
        return ScanSampler(self.offset, self.stride, self._count())


class Loop(Pattern):
    """A cycle over `length` pages: the pattern that defeats LRU once length > cache size."""

    kind: Literal["loop"] = "loop"
    examples: ClassVar[list[dict]] = [{"length": 1500}]
    length: Pages
    offset: PagesOrZero = 0

    def footprint_pages(self) -> int:
        return self.offset + self.length

    def sampler(self, rng):
        return ScanSampler(self.offset, 1, self.length)


class HotsetSampler(PageSampler):
    """Index < hot goes to the hot part; `where` maps an index to its vpage."""

    def __init__(self, where: np.ndarray, hot: int, probability: float, rng):
        self._where, self._hot, self._rng = where, hot, rng
        self._cold = len(where) - hot
        self._p = probability if self._cold else 1.0  # no cold page: every access is hot

    def draw(self, n: int) -> np.ndarray:
        # One uniform per request picks the part and the page within it (u / p is uniform
        # given u < p), so the stream is the same whatever the chunk sizes.
        u = self._rng.random(n)
        p, hot, cold = self._p, self._hot, self._cold
        is_hot = u < p
        index = np.empty(n, dtype=np.int64)
        index[is_hot] = np.minimum(u[is_hot] / p * hot, hot - 1)
        u_cold = u[~is_hot]
        index[~is_hot] = hot + np.minimum((u_cold - p) / (1 - p) * cold, cold - 1)
        return self._where[index]


class Hotset(Pattern):
    """`hot_fraction` of the footprint gets `hot_probability` of the accesses, uniform inside.

    The hot pages sit at random places of the footprint (`scatter`), drawn from the scenario
    seed and `layout_seed`: every thread and guest running this spec shares one hot set.
    """

    kind: Literal["hotset"] = "hotset"
    examples: ClassVar[list[dict]] = [{"footprint": 2000}]
    footprint: Pages
    offset: PagesOrZero = 0
    hot_fraction: float = Field(0.2, gt=0, le=1)
    hot_probability: Fraction = 0.8
    scatter: bool = True
    layout_seed: int = Field(0, ge=0)

    _layouts = PrivateAttr(default_factory=dict)  # root entropy -> index-to-vpage map

    def hot_pages(self) -> int:
        return min(self.footprint, max(1, round(self.hot_fraction * self.footprint)))

    def array_bytes(self) -> tuple[int, int]:
        shared, each = super().array_bytes()
        if self.scatter:  # one layout for all (16 B a page while built), else one per thread
            return shared + 16 * self.footprint, each
        return shared, each + 8 * self.footprint

    def footprint_pages(self) -> int:
        return self.offset + self.footprint

    def layout(self, rng) -> np.ndarray:
        """Index -> vpage, the first hot_pages() indices hot; shared by all threads."""
        if not self.scatter:
            return np.arange(self.offset, self.offset + self.footprint, dtype=np.int64)
        return shared_layout(self._layouts, rng, self.footprint, self.offset, self.layout_seed)

    def sampler(self, rng):
        return HotsetSampler(self.layout(rng), self.hot_pages(), self.hot_probability, rng)


if TYPE_CHECKING:
    MixableWorkload = Pattern  # at run time: the union of pattern kinds, set by the registry

# Knobs that belong to the whole stream; in a mix they are the mix's, never a part's.
COMMON_KNOBS = tuple(name for name in WorkloadBase.model_fields if name != "kind")


class MixPart(Strict):
    """One part of a mix: its share of the requests (relative weight) and its pattern."""

    weight: float = Field(gt=0)
    workload: MixableWorkload

    @model_validator(mode="after")
    def _no_common_knobs(self):
        given = [k for k in COMMON_KNOBS if k in self.workload.model_fields_set]
        if given:
            raise ValueError(f"{given[0]} is a knob of the whole mix: set it on the mix, "
                             f"not on a part")
        return self


class MixSampler(PageSampler):
    """Each request picks a part by weight; each part draws from its own sampler and rng."""

    def __init__(self, weights: np.ndarray, samplers: list[PageSampler], rng):
        self._p, self._samplers, self._rng = weights / weights.sum(), samplers, rng

    def draw(self, n: int) -> np.ndarray:
        part = self._rng.choice(len(self._samplers), size=n, p=self._p)
        pages = np.empty(n, dtype=np.int64)
        for k, sampler in enumerate(self._samplers):
            at = np.flatnonzero(part == k)
            pages[at] = sampler.draw(len(at))
        return pages


class Mix(Pattern):
    """A weighted mix of patterns; the mix's own read_fraction, threads, etc. apply."""

    kind: Literal["mix"] = "mix"
    examples: ClassVar[list[dict]] = [{"parts": [
        {"weight": 3, "workload": {"kind": "zipf", "footprint": 1000}},
        {"weight": 1, "workload": {"kind": "scan", "footprint": 500, "offset": 1000}}]}]
    parts: list[MixPart] = Field(min_length=1)

    def footprint_pages(self) -> int:
        return max(part.workload.footprint_pages() for part in self.parts)

    def array_bytes(self) -> tuple[int, int]:
        shared, each = super().array_bytes()
        for part in self.parts:
            s, e = part.workload.array_bytes()
            shared, each = shared + s, each + e
        return shared, each

    def sampler(self, rng):
        # each part's own child rng: a part's pages do not depend on another part's draws
        children = rng.spawn(len(self.parts))
        samplers = [part.workload.sampler(child) for part, child in zip(self.parts, children,
                                                                         strict=True)]
        weights = np.array([part.weight for part in self.parts], dtype=float)
        return MixSampler(weights, samplers, rng)


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
    examples: ClassVar[list[dict]] = [{"steps": ["r 1", "w 2", "r 2", "t 70", "r 70", "r 3"]}]
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

    def may_write(self) -> bool:
        return any(op != OP_READ for op, _ in self.parsed())

    def footprint_pages(self) -> int:
        return max(page for _, page in self.parsed()) + 1

    def sampler(self, rng):
        return ScriptSampler(self.parsed())
