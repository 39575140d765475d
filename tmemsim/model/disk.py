"""Disks as FIFO queues with `channels` parallel servers and per-kind service times.

Each completion is computed when the I/O is submitted: service starts when the earliest channel
frees up. No SimPy event is needed for a disk I/O. This is an exact FIFO because the model
submits every I/O in time order (tests/model/test_engine.py checks it): what a guest does after
its request's start waits in its agenda whenever something else could come first.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from ..units import PAGE_SIZE

_DRAWS = 4096  # uniform draws fetched from the rng at a time


class Disk:
    """FIFO with c channels. Subclasses give `service(block, is_write)` in seconds, and
    `transfer`, the seconds each page after the first of a multi-page read adds."""

    def __init__(self, name: str, channels: int, rng: np.random.Generator):
        self.name = name
        self.rng = rng
        self._free = [0.0] * channels  # heap of the times each channel becomes free
        self._draws: list[float] = []
        self.fixed: tuple[float, float] | None = None  # (read, write) when service is constant
        self.reset_stats()

    def reset_stats(self) -> None:
        self.reads = 0
        self.writes = 0
        self.busy = 0.0
        self.waiting = 0.0

    @property
    def requests(self) -> int:
        return self.reads + self.writes

    @property
    def response(self) -> float:
        """Total response time (waiting + service) of every request."""
        return self.waiting + self.busy

    def _uniform(self) -> float:
        if not self._draws:
            self._draws = self.rng.random(_DRAWS).tolist()
        return self._draws.pop()

    def submit(self, t: float, block: int, is_write: bool) -> float:
        """Queue one page I/O arriving at t; returns its completion time."""
        free = self._free
        start = free[0] if free[0] > t else t
        fixed = self.fixed
        service = fixed[is_write] if fixed else self.service(block, is_write)
        done = start + service
        heapq.heapreplace(free, done)
        if is_write:
            self.writes += 1
        else:
            self.reads += 1
        self.busy += service
        self.waiting += start - t
        return done

    def service(self, block: int, is_write: bool) -> float:
        raise NotImplementedError

    def submit_run(self, t: float, block: int, pages: int) -> float:
        """Queue one read of `pages` consecutive pages from block (readahead) arriving at t: one
        request, served as its first page is, plus the transfer of the others. One page is
        exactly `submit`."""
        if pages == 1:
            return self.submit(t, block, False)
        free = self._free
        start = free[0] if free[0] > t else t
        fixed = self.fixed
        service = (fixed[False] if fixed else self.service(block, False)) + (
            pages - 1) * self.transfer
        self.ran_to(block + pages - 1)
        done = start + service
        heapq.heapreplace(free, done)
        self.reads += 1
        self.busy += service
        self.waiting += start - t
        return done

    def ran_to(self, block: int) -> None:
        """A multi-page request ended at block (where an hdd's head now is)."""


class FlashDisk(Disk):
    """ssd / nvme: fixed read and write service times."""

    def __init__(self, name, spec, rng, pages: int):
        super().__init__(name, spec.channels, rng)
        self.fixed = (spec.read, spec.write)
        self.transfer = PAGE_SIZE / spec.bandwidth  # each further page of a request

    def service(self, block, is_write):
        return self.fixed[is_write]


class HddDisk(Disk):
    """seek(d) = single_track + (full_stroke - single_track)·sqrt(d/D), uniform rotation, transfer.

    A request for the block after the previous one is sequential: no seek, no rotation. With
    several channels the head position is that of the last request submitted (a simplification).
    """

    def __init__(self, name, spec, rng, pages: int):
        super().__init__(name, spec.channels, rng)
        self._pages = max(pages, 1)
        self._single = spec.single_track
        self._stroke = spec.full_stroke - spec.single_track
        self._rotation = 60.0 / spec.rpm
        self._transfer = self.transfer = PAGE_SIZE / spec.bandwidth
        self._head = 0

    def ran_to(self, block):
        self._head = block

    def service(self, block, is_write):
        distance = abs(block - self._head - 1)
        self._head = block
        if distance == 0:
            return self._transfer
        seek = self._single + self._stroke * math.sqrt(distance / self._pages)
        return seek + self._uniform() * self._rotation + self._transfer


class CustomDisk(Disk):
    """Service times drawn from the scenario's distributions (validation disks)."""

    def __init__(self, name, spec, rng, pages: int):
        super().__init__(name, spec.channels, rng)
        self._dist = {False: spec.read, True: spec.write or spec.read}
        self.transfer = PAGE_SIZE / spec.bandwidth  # each further page of a request
        self._buffers = {False: [], True: []}

    def service(self, block, is_write):
        buf = self._buffers[is_write]
        if not buf:
            buf.extend(self._dist[is_write].sample(self.rng, _DRAWS).tolist()[::-1])
        return buf.pop()


DISKS = {"hdd": HddDisk, "ssd": FlashDisk, "nvme": FlashDisk, "custom": CustomDisk}


def make_disk(name: str, spec, rng, pages: int) -> Disk:
    return DISKS[spec.kind](name, spec, rng, pages)
