"""What a guest is given: its configuration (plain data the world builds) and the observer
protocol (the little it needs of the world)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class GuestConfig:
    """One guest of one run, as the world lays it out."""

    index: int  # the guest's place (counters, policy calls)
    name: str
    spec: object  # the scenario's Guest: memory, cache, workload, flusher, balloon
    disk: object  # its images.GuestDisk
    streams: list  # one request stream per thread (or the open-loop arrivals)
    rank: int  # its SimPy priority at a tie (model/clock.py)
    batched: bool  # run ahead on its own clock when nothing can interfere
    horizon: float  # no action at or after this time
    budget: int | None = None  # requests to serve, None for no limit
    swap_file: int | None = None  # the file id of its swap area, if it has anonymous memory
    churn_rng: object = None  # draws which file churn recreates (the guest's seed only)


class Observer(Protocol):
    """What a guest needs of the world: when counters are next read or reset (a guest must not
    run its clock past it), and ballooning."""

    next_time: float

    def set_memory(self, guest: int, target: int, t: float) -> None:
        """Balloon the guest towards target bytes at t."""
