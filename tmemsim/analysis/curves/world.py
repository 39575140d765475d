"""The model's world as the curves need it: layout, contents, costs, disks' service times, and
one replay per guest, seeded exactly as a run seeds it (model/world.py's `guest_seeds`)."""

from __future__ import annotations

import math

import numpy as np

from ...images import Contents
from ...model.costs import CostModel
from ...model.world import build_layout, guest_seeds
from ...policies.base import READ_DISK, WRITE_DISK
from ...units import PAGE_SIZE
from ...workloads.base import OP_WRITE, OP_WRITE_PARTIAL
from . import lru_replay
from .queueing import needs_queue
from .replay import Clock, GuestReplay
from .sampling import SampledStream
from .timing import disk_service


class CurveWorld:
    """One scenario's static parts: everything a replay and the timing need, no SimPy."""

    def __init__(self, scenario, rate: float | None = None):
        s = self.scenario = scenario
        self.rate = rate  # the sampled fraction of pages (SHARDS), None: every page
        self.cache: dict = {}  # replays already made, by guest page caches
        self.python = False  # True: every guest through GuestReplay (tests compare the two)
        self.layout, self.gdisks, self.swaps = build_layout(s)
        self.contents = Contents(self.layout)
        self.named = s.expanded_guests()
        self.names = [name for name, _ in self.named]
        self.costs = CostModel(s.host.costs)
        service = {name: disk_service(spec, self.layout.disk_pages.get(name, 1))
                   for name, spec in s.disks.items()}
        self.file_service = np.array([service[f.disk] for f in self.layout.files], dtype=float)
        self.horizon = s.warmup + s.duration if s.duration is not None else math.inf
        # disks where I/Os can wait for one another: times through the disks themselves
        self.queued = needs_queue(s, self.layout, self.gdisks, self.swaps)

    def allowances(self, guests) -> list[int]:
        """Frontswap pages each guest may hold (World.allowance at the start)."""
        out = []
        for g in guests:
            floor = g.floor_bytes() if g.balloon.kind != "none" else 0
            pages = (g.max_bytes() - max(g.memory, floor)) // PAGE_SIZE
            out.append(pages if self.rate is None else int(round(pages * self.rate)))
        return out

    def clock(self, index: int) -> Clock:
        """The reference clock of a timed replay: a miss costs a disk read (as under none)."""
        c = self.costs
        own = self.gdisks[index].own
        read, write = self.file_service[own]
        swap = self.swaps[index]
        swap_read = self.file_service[swap][0] if swap is not None else read
        return Clock(hit=c.guest_hit, miss=c.read[READ_DISK] + read,
                     swap_in=c.read[READ_DISK] + swap_read,
                     sync_write=c.write[WRITE_DISK] + write)

    def min_miss(self) -> float:
        """No read miss, under any policy at any size, is faster than this."""
        return float(min(self.costs.read))

    def pages(self, pages: int) -> int:
        """A page cache of `pages`, as the sample sees it (R times smaller, one page at
        least)."""
        return pages if self.rate is None else max(int(round(pages * self.rate)), 1)

    def scaled(self, pages: int) -> int:
        """A pool of `pages`, as the sample sees it."""
        return pages if self.rate is None else int(round(pages * self.rate))

    def replay(self, index: int, guest, pages: int, *, record_accesses: bool = False,
               flusher: bool = False):
        """Guest `index` (spec `guest`, a page cache of `pages`) replayed from its seeds."""
        thread_seeds, churn_seed = guest_seeds(self.scenario)[index]
        budget = self.scenario.requests
        pages = self.pages(pages)
        scale = 1.0 if self.rate is None else 1.0 / self.rate  # a kept request stands for
        hit, min_miss = self.costs.guest_hit * scale, self.min_miss() * scale  # 1/R requests

        def stream(seed, budget=budget):
            s = WholePageWrites(guest.workload.stream(seed))
            return s if self.rate is None else SampledStream(s, self.rate, budget)

        if self.rate is not None:
            budget = None  # the sampled streams count the original requests
        if not flusher and not self.python and lru_replay.supported(guest, pages):
            log = lru_replay.replay(index, guest, self.gdisks[index], self.contents,
                                    stream(thread_seeds[0]), pages, budget, self.horizon, hit,
                                    min_miss, record_accesses)
            if log is not None:
                return log
        clock = self.clock(index)
        clock = Clock(clock.hit * scale, clock.miss * scale, clock.swap_in * scale,
                      clock.sync_write * scale)
        r = GuestReplay(index, guest, self.gdisks[index], [stream(ts) for ts in thread_seeds],
                        self.contents, self.swaps[index], np.random.default_rng(churn_seed),
                        pages=pages, budget=budget, horizon=self.horizon, min_miss=min_miss,
                        clock=clock, record_accesses=record_accesses, rate=self.rate)
        return r.run(flusher)

    def flusher_fires(self, guest, log) -> bool:
        """Could the guest's flusher write anything back before the run ends? Only if some
        page was written and the run lasts past the first flush that can find an expired
        page; the end is bounded generously (every request at the slowest path, twice)."""
        wi = guest.writeback_interval
        writes = (log.op == 1) | (log.op == 2)
        if wi <= 0 or not writes.any():
            return False
        first = max(math.ceil(guest.dirty_expire / wi), 1) * wi
        c = self.costs
        slowest = float(max(self.costs.read)) + float(self.file_service.max()) + c.put \
            + c.hypercall
        per = np.where(log.op == 2, guest.workload.file_pages, 1) * slowest
        end = 2 * (float(np.sum(log.gap)) + float(np.sum(per)))
        return first < min(self.horizon, end)


class WholePageWrites:
    """A guest's stream with its sub-page writes taken as whole-page ones: the curves do not
    model the read a sub-page write to an uncached page does first (README, Curves)."""

    def __init__(self, stream):
        self._stream = stream

    def next_chunk(self):
        ops, pages, gaps, dups = self._stream.next_chunk()
        if OP_WRITE_PARTIAL in ops:
            ops = [OP_WRITE if op == OP_WRITE_PARTIAL else op for op in ops]
        return ops, pages, gaps, dups

    def __getattr__(self, name):  # everything else is the stream's (a phase switch, ...)
        return getattr(self._stream, name)
