"""A sweep's summary as its figures read it: the swept parameters as axes, the metrics, which
end of a metric wins, and the rows of one metric and guest (no live model objects)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from tmemsim.units import parse_duration, parse_size

HIGHER_IS_BETTER = {"guest_hit_ratio", "host_hit_ratio", "read_hit_ratio", "throughput_ops",
                    "fairness_jain", "guest_hits", "host_hits", "tmem_get_hits"}
LOWER_IS_BETTER = {"disk_reads", "disk_writes", "swap_disk_io", "stale_reads",
                   "double_cached_pages", "double_cached_pages_avg", "tmem_puts_rejected",
                   "frontswap_rejected"}
_LABELS = {
    "read_hit_ratio": "read hit ratio (guest + hypervisor memory)",
    "guest_hit_ratio": "guest page-cache hit ratio",
    "host_hit_ratio": "hypervisor-memory hit ratio",
    "throughput_ops": "throughput (requests/s)",
    "fairness_jain": "fairness (Jain's index)",
}


def metric_label(metric: str) -> str:
    """A metric's axis label: its own words where known, else its name spelled out."""
    if metric in _LABELS:
        return _LABELS[metric]
    text = metric
    if text.endswith("_us"):
        text = text[:-3] + " (µs)"
    return text.replace("_", " ")


def better_direction(metric: str, better: str | None = None) -> str:
    """"higher" or "lower": which end of the metric wins."""
    if better is not None:
        if better not in ("higher", "lower"):
            raise ValueError(f"better must be 'higher' or 'lower', got {better!r}")
        return better
    if metric in HIGHER_IS_BETTER:
        return "higher"
    if metric in LOWER_IS_BETTER or "latency" in metric:
        return "lower"
    raise ValueError(f"cannot tell whether a higher or a lower {metric} wins; "
                     "pass better='higher' or better='lower'")


class Axis:
    """Where a parameter's values go on an axis: numbers, sizes and durations by value, anything
    else in sweep order."""

    def __init__(self, labels: list):
        self.labels = list(labels)
        self.numeric = True
        self.kind = "number"
        values = self._values(self.labels)
        if values is None:
            self.numeric, self.kind = False, "category"
            values = [float(i) for i in range(len(self.labels))]
        self.values = values
        self.pos = {self._key(label): v for label, v in zip(self.labels, values, strict=True)}
        positive = self.numeric and min(values) > 0
        self.log = bool(positive and len(values) > 2 and max(values) / min(values) >= 16)

    def _values(self, labels):
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in labels):
            return [float(v) for v in labels]
        if not all(isinstance(v, str) for v in labels):
            return None
        for kind, parse in (("size", parse_size), ("duration", parse_duration)):
            try:
                out = [float(parse(v)) for v in labels]
            except ValueError:
                continue
            self.kind = kind
            return out
        return None

    @staticmethod
    def _key(label):
        return label.item() if isinstance(label, np.generic) else label

    def position(self, label) -> float:
        """Where a value of the parameter sits on the axis."""
        return self.pos[self._key(label)]

    def ordered(self) -> list:
        """Labels in axis order (ascending values; sweep order for categories)."""
        if not self.numeric:
            return list(self.labels)
        return [lab for _, lab in sorted(zip(self.values, self.labels, strict=True),
                                         key=lambda t: t[0])]

    def text(self, label) -> str:
        """A value as a tick label."""
        if isinstance(label, float):
            return f"{label:g}"
        return str(label)


def slug(text: str) -> str:
    """A parameter path as part of a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def metric_rows(result, metric: str, guest: str) -> pd.DataFrame:
    """The summary rows of one metric and guest; ValueError naming the choices if unknown."""
    s = result.summary
    if s.empty:
        raise ValueError("the sweep has no results to draw (every point failed?)")
    metrics = list(dict.fromkeys(s["metric"]))
    if metric not in metrics:
        raise ValueError(f"unknown metric {metric!r}; the summary has {', '.join(metrics)}")
    guests = list(dict.fromkeys(s["guest"]))
    if guest not in guests:
        raise ValueError(f"unknown guest {guest!r}; the summary has {', '.join(guests)}")
    return s[(s["metric"] == metric) & (s["guest"] == guest)]


def facets(result, used: list[str], where, max_dims: int) -> tuple[dict, list[str]]:
    """(fixed values, parameters laid out as panels) for a figure over the `used` parameters."""
    params = result.parameters
    where = dict(where or {})
    for name, value in where.items():
        if name not in params:
            raise ValueError(f"where: {name!r} is not a swept parameter; swept: "
                             f"{', '.join(params)}")
        if name in used:
            raise ValueError(f"where: {name!r} is on an axis of the figure; it cannot be fixed")
        if value not in params[name]:
            raise ValueError(f"where: {name}={value!r} is not one of its values {params[name]}")
    if result.meta.get("mode") == "zip":  # the other parameters move with the axis
        return where, []
    free = [p for p in params if p not in used and p not in where and len(params[p]) > 1]
    if len(free) > max_dims:
        raise ValueError(f"too many free parameters for one figure: fix some of {free} with "
                         "where={...}")
    return where, free


def select(rows: pd.DataFrame, fixed: dict) -> pd.DataFrame:
    """The rows where every fixed parameter has its value."""
    for name, value in fixed.items():
        rows = rows[rows[name] == value]
    return rows


def policies_in(result, rows: pd.DataFrame) -> list[str]:
    """The policies of the rows: the sweep's order first, any others after, sorted."""
    present = set(rows["policy"])
    order = [p for p in result.policies if p in present]
    return order + sorted(present - set(order))


def subtitle(result, guest: str, fixed: dict) -> str:
    """The second title line: guest, replications and the parameters held fixed."""
    reps = result.meta.get("replications", 1)
    parts = [f"guest {guest}" if guest != "ALL" else "all guests",
             f"{reps} replication{'s' if reps != 1 else ''}"]
    parts += [f"{k} = {v}" for k, v in fixed.items()]
    others = [f"{k} = {v[0]}" for k, v in result.parameters.items() if len(v) == 1]
    return " · ".join(parts + others)


def panel_title(names: list[str], values: tuple) -> str:
    """A panel's title: the values of the parameters laid out as panels."""
    return ",  ".join(f"{n} = {v}" for n, v in zip(names, values, strict=True) if n)
