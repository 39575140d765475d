"""What a scenario's `regress:` block asks of `tmemsim regress`.

    regress:
      duration: 1s                 # shorter settings (dotted overrides), as before
      warmup: 1s
      policies: [none, tmem]       # run and check only these (names or kinds)
      metrics: [read_hit_ratio, disk_reads]        # summary columns (default: the five tracked)
      tolerance: {atol: 0.002, disk_reads: {rtol: 0.05}}   # for all metrics, or per metric
      replications: 5              # seeds; moved only when the Student-t intervals are disjoint
      confidence: 0.95

The five keys `policies`, `metrics`, `tolerance`, `replications` and `confidence` are the
block's own; every other key is a setting of the scenario that regress overrides. Tolerances
given on the command line (`--atol`, `--rtol`) take precedence over the block's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import ScenarioError
from .tolerance import Tolerance

OWN_KEYS = ("policies", "metrics", "tolerance", "replications", "confidence")
RATIOS = ("guest_hit_ratio", "host_hit_ratio", "read_hit_ratio")
COUNTS = ("disk_reads", "double_cached_pages")
ALL_METRICS = "*"  # the tolerance for every metric without one of its own


@dataclass(frozen=True)
class RegressSettings:
    overrides: tuple[str, ...] = ()
    policies: tuple[str, ...] | None = None
    metrics: tuple[str, ...] = RATIOS + COUNTS
    tolerances: Mapping[str, Tolerance] = field(default_factory=dict)
    replications: int = 1
    confidence: float = 0.95

    def tolerance(self, metric: str) -> Tolerance:
        return self.tolerances.get(metric) or self.tolerances.get(ALL_METRICS) or Tolerance()

    def with_command_line(self, given: Mapping[str, Tolerance]) -> RegressSettings:
        """The command line's tolerances over the block's (per metric, then for all)."""
        if not given:
            return self
        merged = dict(self.tolerances)
        if ALL_METRICS in given:  # a tolerance for every metric replaces the block's
            merged = {}
        merged.update(given)
        return RegressSettings(self.overrides, self.policies, self.metrics, merged,
                               self.replications, self.confidence)


def _flatten(block: dict, prefix: str = "") -> list[str]:
    """{guests: {0: {memory: 1GiB}}} -> ["guests.0.memory=1GiB"]."""
    items = []
    for key, value in block.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            items += _flatten(value, path + ".")
        else:
            items.append(f"{path}={value}")
    return items


def _number(value, where: str, err, low: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or value < low:
        raise err(f"expected a number of at least {low:g}, got {value!r}", where)
    return float(value)


def _tolerance(spec, where: str, err) -> Tolerance:
    if not isinstance(spec, dict) or not spec or set(spec) - {"atol", "rtol"}:
        raise err(f"expected {{atol: X, rtol: Y}} (either or both), got {spec!r}", where)
    return Tolerance(*(_number(spec.get(k, 0.0), f"{where}.{k}", err) for k in ("atol", "rtol")))


def parse_settings(block: dict | None, numeric: set[str], err) -> RegressSettings:
    """The settings of a `regress:` block; err(message, yaml_path) builds the located error.

    numeric: the summary columns a metric may name.
    """
    block = dict(block or {})
    own = {k: block.pop(k) for k in OWN_KEYS if k in block}
    policies = own.get("policies")
    if policies is not None:
        if isinstance(policies, str):
            policies = [p.strip() for p in policies.split(",") if p.strip()]
        if not isinstance(policies, list) or not policies \
                or not all(isinstance(p, str) for p in policies):
            raise err("expected a list of policy names", "regress.policies")
    metrics = own.get("metrics", list(RATIOS + COUNTS))
    if not isinstance(metrics, list) or not metrics:
        raise err("expected a list of summary columns", "regress.metrics")
    for i, m in enumerate(metrics):
        if m not in numeric:
            raise err(f"{m!r} is not a numeric column of summary.csv", f"regress.metrics.{i}")
    tolerances = {}
    spec = own.get("tolerance", {})
    if not isinstance(spec, dict):
        raise err("expected {atol: X, rtol: Y} or per metric {METRIC: {atol: X}}",
                  "regress.tolerance")
    overall = {k: spec[k] for k in ("atol", "rtol") if k in spec}
    if overall:
        tolerances[ALL_METRICS] = _tolerance(overall, "regress.tolerance", err)
    for name, value in spec.items():
        if name in ("atol", "rtol"):
            continue
        if name not in metrics:
            raise err(f"a tolerance for {name!r}, which is not among the metrics checked "
                      f"({', '.join(metrics)})", f"regress.tolerance.{name}")
        tolerances[name] = _tolerance(value, f"regress.tolerance.{name}", err)
    k = own.get("replications", 1)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise err(f"expected a whole number of at least 1, got {k!r}", "regress.replications")
    confidence = own.get("confidence", 0.95)
    if isinstance(confidence, bool) or not isinstance(confidence, float | int) \
            or not 0 < confidence < 1:
        raise err(f"expected a number between 0 and 1, got {confidence!r}",
                  "regress.confidence")
    return RegressSettings(tuple(_flatten(block)), tuple(policies) if policies else None,
                           tuple(metrics), tolerances, k, float(confidence))


def command_line_tolerances(atol: tuple[str, ...], rtol: tuple[str, ...]) -> dict:
    """--atol/--rtol values: `0.01` (every metric) or `METRIC=0.01`, repeatable."""
    found: dict[str, dict] = {}
    for option, values in (("atol", atol), ("rtol", rtol)):
        for text in values:
            metric, _, number = text.rpartition("=")
            try:
                value = float(number)
            except ValueError:
                value = math.nan
            if not math.isfinite(value) or value < 0:
                raise ScenarioError(f"--{option} {text}: expected a number of at least 0, or "
                                    f"METRIC=NUMBER")
            found.setdefault(metric.strip() or ALL_METRICS, {})[option] = value
    return {m: Tolerance(v.get("atol", 0.0), v.get("rtol", 0.0)) for m, v in found.items()}


__all__ = ["ALL_METRICS", "COUNTS", "OWN_KEYS", "RATIOS", "RegressSettings",
           "command_line_tolerances", "parse_settings"]
