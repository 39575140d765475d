"""When a regressed value has moved: exactly, beyond an absolute or relative tolerance, or, with
replications, when the baseline's and the new Student-t intervals do not overlap.

Exact is the default: counts must be equal, ratios within 1e-9 (their floating-point
rounding). A tolerance allows |new - old| <= atol + rtol * |old| (numpy.isclose's rule). With k
replications on either side, each side's values give a mean and its Student-t interval at the
given confidence; a metric has moved only when the two intervals are disjoint and the means
differ by more than the tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

RATIO_ROUNDING = 1e-9


@dataclass(frozen=True)
class Tolerance:
    """How far a value may move: atol + rtol * |old|; both 0 means exact."""

    atol: float = 0.0
    rtol: float = 0.0

    @property
    def exact(self) -> bool:
        return self.atol == 0 and self.rtol == 0

    def allowed(self, old: float) -> float:
        return self.atol + self.rtol * abs(old)

    def describe(self) -> str:
        if self.exact:
            return "exact"
        parts = ([f"atol {self.atol:g}"] if self.atol else []) + \
            ([f"rtol {self.rtol:g}"] if self.rtol else [])
        return ", ".join(parts)


@dataclass(frozen=True)
class Interval:
    """A sample's mean and its Student-t confidence interval (a point for one value)."""

    mean: float
    low: float
    high: float
    n: int

    def describe(self, fmt=lambda v: f"{v:.6g}") -> str:
        if self.n < 2:
            return fmt(self.mean)
        return f"{fmt(self.mean)} [{fmt(self.low)}, {fmt(self.high)}] (n={self.n})"


def interval(values: Sequence[float], confidence: float = 0.95) -> Interval:
    """Mean ∓ t_{(1+confidence)/2, n-1} · s / sqrt(n) of the values (s with ddof 1)."""
    xs = [float(v) for v in values]
    n = len(xs)
    mean = sum(xs) / n
    if n < 2:
        return Interval(mean, mean, mean, n)
    from scipy.stats import t

    s = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    half = float(t.ppf((1.0 + confidence) / 2.0, n - 1)) * s / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)


@dataclass(frozen=True)
class Verdict:
    """One comparison: moved or not, the two sides, and what was allowed (as text)."""

    moved: bool
    old: Interval
    new: Interval
    tolerance: str


def judge(old: Sequence[float], new: Sequence[float], tolerance: Tolerance, ratio: bool,
          confidence: float = 0.95) -> Verdict:
    """Whether a metric moved from the baseline's values to the new ones (see the module)."""
    old_nan = all(math.isnan(v) for v in old)
    new_nan = all(math.isnan(v) for v in new)
    if old_nan or new_nan:  # undefined on one side only is a change; on both, nothing to see
        a, b = Interval(math.nan, math.nan, math.nan, len(old)), \
            Interval(math.nan, math.nan, math.nan, len(new))
        return Verdict(old_nan != new_nan, a, b, tolerance.describe())
    a, b = interval(old, confidence), interval(new, confidence)
    allowed = tolerance.allowed(a.mean) + (RATIO_ROUNDING if ratio else 0.0)
    beyond = abs(b.mean - a.mean) > allowed
    if a.n < 2 and b.n < 2:
        return Verdict(beyond, a, b, tolerance.describe())
    disjoint = a.high < b.low or b.high < a.low
    text = f"{confidence:.0%} intervals overlap" + \
        ("" if tolerance.exact else f" or within {tolerance.describe()}")
    return Verdict(disjoint and beyond, a, b, text)


__all__ = ["Interval", "Tolerance", "Verdict", "interval", "judge"]
