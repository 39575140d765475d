"""The Scenario: the top level of a YAML scenario, holding the other blocks."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..fields import Duration, DurationOrZero, Strict
from .blocks import RegressBlock, SweepBlock
from .guests import Guest, Image
from .host import Disk, Host
from .policies import PolicySpec, policy_entry


class Scenario(Strict):
    name: str = "scenario"
    description: str = ""
    seed: int = Field(0, ge=0)
    duration: Duration | None = None
    requests: int | None = Field(None, gt=0)
    warmup: DurationOrZero = 0.0
    sample_interval: Duration = 1.0
    check: bool = False
    engine: Literal["batched", "unbatched"] = "batched"
    host: Host
    disks: dict[str, Disk] = Field(min_length=1)
    images: dict[str, Image] = Field(default_factory=dict)
    guests: list[Guest] = Field(min_length=1)
    policies: list = Field(default_factory=lambda: ["none"])
    policy: str | dict | None = None
    regress: RegressBlock | None = None
    sweep: SweepBlock | None = None

    @model_validator(mode="after")
    def _some_end(self):
        if self.duration is None and self.requests is None:
            raise ValueError("give duration (simulated time) or requests (per guest), or both")
        return self

    def policy_specs(self) -> list[PolicySpec]:
        entries = [self.policy] if self.policy is not None else self.policies
        return [policy_entry(e, i) for i, e in enumerate(entries)]

    def expanded_guests(self) -> list[tuple[str, Guest]]:
        return [(name, g) for g in self.guests for name in g.names()]

    def pool_bytes(self) -> int:
        guests = sum(g.memory * g.count for g in self.guests)
        return self.host.memory - self.host.reserved - guests


__all__ = ["Scenario"]
