"""The scenario's blocks for other commands: `sweep:` (what `tmemsim sweep` varies) and
`regress:` (the shorter settings `tmemsim regress` runs with, and what it checks).

Both are typed here, so that a misspelt key or a bad mode is found when the scenario loads,
whatever the command. What needs the whole scenario is checked where it is used: a sweep's
parameter paths, values, policies and metrics by tmemsim.sweep.spec; the regress overrides by
loading the scenario with them, its metrics by tmemsim.analysis.regress_settings.

The checks of single settings are functions (check_mode, check_replications, policy_names) so
that the sweep applies the same ones, with the same words, to the arguments it is given.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator, model_serializer, model_validator

from ..fields import Strict
from ..infra import dotted
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


# the keys both blocks have, checked alike
Replications = Annotated[int, BeforeValidator(check_replications)]
PolicyNames = Annotated[list[str] | None, BeforeValidator(policy_names)]


class SweepBlock(Strict):
    """`sweep:` — setting paths and their values (a list or a range, linspace or geomspace),
    how they combine, replications, policies and the metrics save() draws."""

    parameters: dict[str, Any] = Field(default_factory=dict)
    mode: str = "grid"
    replications: Replications = 1
    policies: PolicyNames = None
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

    @field_validator("metrics", mode="before")
    @classmethod
    def _metrics(cls, value):
        return [value] if isinstance(value, str) else value


REGRESS_KEYS = ("policies", "metrics", "tolerance", "replications", "confidence")
TOLERANCE_KEYS = ("atol", "rtol")


def check_tolerance(value) -> dict[str, Any]:
    """{atol: X, rtol: Y} for every metric and/or {METRIC: {atol: X, rtol: Y}} per metric, each
    number finite and ≥ 0; ValueError otherwise. Whether a metric is checked at all is
    tmemsim.analysis.regress_settings' question (it knows the summary's columns)."""
    value = {} if value is None else value
    if not isinstance(value, dict):
        raise ValueError("expected {atol: X, rtol: Y} or per metric {METRIC: {atol: X}}")
    for name, spec in value.items():
        numbers = {name: spec} if name in TOLERANCE_KEYS else spec
        if not isinstance(numbers, dict) or not numbers or set(numbers) - set(TOLERANCE_KEYS):
            raise ValueError(f"{name}: expected {{atol: X, rtol: Y}} (either or both), "
                             f"got {spec!r}")
        for key, number in numbers.items():
            if isinstance(number, bool) or not isinstance(number, int | float) \
                    or not math.isfinite(number) or number < 0:
                raise ValueError(f"{key}: expected a number of at least 0, got {number!r}")
    return {str(k): v for k, v in value.items()}


class RegressBlock(Strict):
    """`regress:` — what `tmemsim regress` runs and checks. Its own keys (REGRESS_KEYS):
    policies, metrics (summary columns), tolerance, replications (seeds) and confidence (of
    the Student-t intervals). Every other key is a setting of the scenario, a dotted path
    (nested or written with dots: {duration: 2s, guests.0.count: 2}) to the value regress runs
    with; those are checked by loading the scenario with them (overrides()), since any
    setting may be named."""

    settings: dict[str, Any] = Field(default_factory=dict)
    policies: PolicyNames = None
    metrics: list[str] | None = None
    tolerance: dict[str, Any] = Field(default_factory=dict)
    replications: Replications = 1
    confidence: float = Field(0.95, gt=0, lt=1)

    @model_validator(mode="before")
    @classmethod
    def _split(cls, value):
        if isinstance(value, RegressBlock) or not isinstance(value, dict):
            return value
        own = {k: v for k, v in value.items() if k in REGRESS_KEYS}
        return {**own, "settings": {k: v for k, v in value.items() if k not in REGRESS_KEYS}}

    @field_validator("metrics", mode="before")
    @classmethod
    def _metrics(cls, value):
        value = [value] if isinstance(value, str) else value
        if value is not None and (not isinstance(value, list) or not value):
            raise ValueError("expected a non-empty list of summary columns")
        return value

    @field_validator("tolerance", mode="before")
    @classmethod
    def _tolerance(cls, value):
        return check_tolerance(value)

    @model_serializer(mode="plain")
    def _as_written(self) -> dict[str, Any]:
        """The block as a user writes it (settings beside the own keys), so that a dumped
        scenario loads back the same."""
        own = {k: getattr(self, k) for k in REGRESS_KEYS if k in self.model_fields_set}
        return {**self.settings, **own}

    def overrides(self) -> list[str]:
        """The settings as --set overrides: ["duration=2s", "guests.0.count=2"]."""
        return [f"{k}={v}" for k, v in dotted.flatten(self.settings).items()]


__all__ = ["MODES", "REGRESS_KEYS", "TOLERANCE_KEYS", "RegressBlock", "SweepBlock",
           "check_mode", "check_replications", "check_tolerance", "policy_names"]
