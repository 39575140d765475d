"""Pydantic field types for scenario values written in human units.

Sizes become bytes, durations seconds, rates events per second; a bad unit becomes a pydantic
error whose message says what was expected, and the scenario layer adds file, path and line.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from .units import parse_duration, parse_pages, parse_rate, parse_size

Size = Annotated[int, BeforeValidator(parse_size), Field(gt=0)]
SizeOrZero = Annotated[int, BeforeValidator(parse_size), Field(ge=0)]
Pages = Annotated[int, BeforeValidator(parse_pages), Field(gt=0)]
PagesOrZero = Annotated[int, BeforeValidator(parse_pages), Field(ge=0)]
Duration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
DurationOrZero = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]
Rate = Annotated[float, BeforeValidator(parse_rate), Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]


class Strict(BaseModel):
    """Every scenario block rejects keys it does not know (typos must not pass silently), and
    every float in it is finite: `.inf` or `.nan` is never a rate, weight or exponent."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Distribution(Strict):
    """A random duration: `5ms` (constant) or {kind: exponential, mean: 5ms}."""

    kind: Literal["constant", "exponential", "lognormal"] = "constant"
    mean: DurationOrZero = 0.0
    sigma: Annotated[float, Field(gt=0)] = 1.0

    @model_validator(mode="before")
    @classmethod
    def _plain_duration(cls, value):
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return {"kind": "constant", "mean": value}
        return value

    def sample(self, rng, n: int) -> np.ndarray:
        """n draws in seconds."""
        return _SAMPLERS[self.kind](self, rng, n)


def _lognormal(d: Distribution, rng, n: int) -> np.ndarray:
    # parametrised by its mean: mu is chosen so that E[X] = mean
    mu = np.log(d.mean) - d.sigma**2 / 2 if d.mean > 0 else -np.inf
    return rng.lognormal(mu, d.sigma, n)


_SAMPLERS = {
    "constant": lambda d, rng, n: np.full(n, d.mean),
    "exponential": lambda d, rng, n: rng.exponential(d.mean, n),
    "lognormal": _lognormal,
}
