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
block's own (typed with the scenario: tmemsim.scenario.blocks.RegressBlock); every other key is
a setting of the scenario that regress overrides. Tolerances
given on the command line (`--atol`, `--rtol`) take precedence over the block's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import ScenarioError
from ..scenario.blocks import REGRESS_KEYS, TOLERANCE_KEYS, RegressBlock
from .tolerance import Tolerance

OWN_KEYS = REGRESS_KEYS
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


def _tolerances(spec: dict, metrics: tuple[str, ...], err) -> dict[str, Tolerance]:
    """The block's tolerance (its numbers checked when the scenario loaded) by metric; a
    tolerance for a metric that is not checked is an error."""
    tolerances = {}
    overall = {k: spec[k] for k in TOLERANCE_KEYS if k in spec}
    if overall:
        tolerances[ALL_METRICS] = Tolerance(*(float(overall.get(k, 0.0))
                                              for k in TOLERANCE_KEYS))
    for name, value in spec.items():
        if name in TOLERANCE_KEYS:
            continue
        if name not in metrics:
            raise err(f"a tolerance for {name!r}, which is not among the metrics checked "
                      f"({', '.join(metrics)})", f"regress.tolerance.{name}")
        tolerances[name] = Tolerance(*(float(value.get(k, 0.0)) for k in TOLERANCE_KEYS))
    return tolerances


def parse_settings(block: RegressBlock | None, numeric: set[str], err) -> RegressSettings:
    """The settings of a scenario's `regress:` block (typed and checked when the scenario
    loaded: tmemsim.scenario.blocks); err(message, yaml_path) builds the located error for
    what needs the summary's columns.

    numeric: the summary columns a metric may name.
    """
    if block is None:
        return RegressSettings()
    metrics = tuple(block.metrics or RATIOS + COUNTS)
    for i, m in enumerate(metrics):
        if m not in numeric:
            raise err(f"{m!r} is not a numeric column of summary.csv", f"regress.metrics.{i}")
    return RegressSettings(tuple(block.overrides()),
                           tuple(block.policies) if block.policies else None, metrics,
                           _tolerances(block.tolerance, metrics, err), block.replications,
                           float(block.confidence))


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
