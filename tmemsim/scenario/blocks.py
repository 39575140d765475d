"""The scenario's blocks for other commands: `sweep:` (what `tmemsim sweep` varies) and
`regress:` (the shorter settings `tmemsim regress` runs with).

Both are typed here, so that a misspelt key or a bad mode is found when the scenario loads,
whatever the command. What needs the whole scenario is checked where it is used: a sweep's
parameter paths, values, policies and metrics by tmemsim.sweep.spec; the regress overrides by
loading the scenario with them.

The checks of single settings are functions (check_mode, check_replications, policy_names) so
that the sweep applies the same ones, with the same words, to the arguments it is given.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from ..fields import Strict
from ..infra.suggest import suggest

MODES = ("grid", "zip")


def check_mode(value) -> str:
    """grid (the default) or zip; ValueError otherwise."""
    value = value or "grid"
    if value not in MODES:
        raise ValueError(f"unknown mode {value!r}{suggest(value, MODES)}; expected grid or zip")
    return value


def check_replications(value) -> int:
    """A whole number ≥ 1 (default 1); ValueError otherwise."""
    value = 1 if value is None else value
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"replications must be a whole number ≥ 1, got {value!r}")
    return value


def policy_names(value) -> list[str] | None:
    """A non-empty list of policy names or kinds ("tmem,none" is split); None for all."""
    if isinstance(value, str):
        value = [p.strip() for p in value.split(",") if p.strip()]
    if value is not None and (not isinstance(value, list) or not value
                              or not all(isinstance(p, str) for p in value)):
        raise ValueError("expected a non-empty list of policy names or kinds")
    return value


class SweepBlock(Strict):
    """`sweep:` — setting paths and their values (a list or a range, linspace or geomspace),
    how they combine, replications, policies and the metrics save() draws."""

    parameters: dict[str, Any] = Field(default_factory=dict)
    mode: str = "grid"
    replications: int = 1
    policies: list[str] | None = None
    metrics: list[str] | None = None

    @field_validator("parameters", mode="before")
    @classmethod
    def _parameters(cls, value):
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ValueError("expected a mapping of setting paths to values")
        return {str(k): v for k, v in value.items()}

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value):
        return check_mode(value)

    @field_validator("replications", mode="before")
    @classmethod
    def _replications(cls, value):
        return check_replications(value)

    @field_validator("policies", mode="before")
    @classmethod
    def _policies(cls, value):
        return policy_names(value)

    @field_validator("metrics", mode="before")
    @classmethod
    def _metrics(cls, value):
        return [value] if isinstance(value, str) else value


# `regress:` — dotted setting paths (nested or written with dots) to the values `tmemsim
# regress` runs with: {duration: 2s, guests.0.count: 2}. Checked by loading the scenario with
# them (regress_overrides), since any setting may be named.
RegressBlock = dict[str, Any]


__all__ = ["MODES", "RegressBlock", "SweepBlock", "check_mode", "check_replications",
           "policy_names"]
