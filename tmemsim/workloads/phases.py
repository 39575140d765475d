"""`phases`: a list of workloads, each for a duration — working sets that shift over time.

The guest switches every thread to the next phase at the phase's start time (an agenda action,
so the switch is exact in simulated time); each phase's requests come from their own seed.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from ..fields import Duration, Strict
from .base import WorkloadBase


class Phase(Strict):
    duration: Duration
    workload: PhaseWorkload  # noqa: F821 - any registered kind but phases; resolved in __init__

    @model_validator(mode="after")
    def _no_delay(self):
        if self.workload.start_delay():
            raise ValueError("a phase starts when the one before ends: time_shift applies to "
                             "a guest's own workload, not to a phase's")
        return self


class Phases(WorkloadBase):
    """Each phase's workload keeps its own read_fraction, think_time or arrival; `threads`,
    `anon` and the other guest-level knobs come from this block. `repeat` cycles the phases."""

    kind: Literal["phases"] = "phases"
    examples: ClassVar[list[dict]] = [{"phases": [
        {"duration": "20ms", "workload": {"kind": "zipf", "footprint": 1000}},
        {"duration": "20ms", "workload": {"kind": "uniform", "footprint": 1000,
                                          "read_fraction": 0.8}}]}]
    phases: list[Phase] = Field(min_length=1)
    repeat: bool = True

    def footprint_pages(self) -> int:
        return max(p.workload.footprint_pages() for p in self.phases)

    def may_write(self) -> bool:
        return self.churn is not None or any(p.workload.may_write() for p in self.phases)

    def array_bytes(self) -> tuple[int, int]:
        # a phase keeps its tables once built: every phase counts
        shared, each = super().array_bytes()
        for p in self.phases:
            s, e = p.workload.array_bytes()
            shared, each = shared + s, each + e
        return shared, each

    def open_loop(self) -> bool:
        return self.phases[0].workload.open_loop()

    def stream(self, seed: np.random.SeedSequence) -> PhasedStream:
        return PhasedStream(self, seed)

    def switches(self):
        """(time, phase index, cycle) of every switch after the start, in order."""
        t, cycle = 0.0, 0
        while True:
            for k, phase in enumerate(self.phases):
                if t > 0:
                    yield t, k, cycle
                t += phase.duration
            cycle += 1
            if not self.repeat:
                return


class PhasedStream:
    """The stream of the phase in force; a switch starts the next phase's own stream."""

    __slots__ = ("spec", "seed", "current")

    def __init__(self, spec: Phases, seed: np.random.SeedSequence):
        self.spec, self.seed = spec, seed
        self.current = None
        self.switch(0, 0)

    def switch(self, k: int, cycle: int) -> None:
        # a seed per (phase, cycle): what a phase asks does not depend on how far the previous
        # phase got, which differs between policies
        child = np.random.SeedSequence(self.seed.entropy,
                                       spawn_key=self.seed.spawn_key + (k, cycle))
        self.current = self.spec.phases[k].workload.stream(child)

    def next_chunk(self, n: int | None = None):
        return self.current.next_chunk() if n is None else self.current.next_chunk(n)
