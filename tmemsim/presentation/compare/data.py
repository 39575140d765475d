"""What every comparison figure reads: the results as one view, read defensively.

Results written by an older tmemsim, or trimmed by hand, may lack columns, metrics or meta
entries; a figure then warns (PlotDataWarning) and skips the part it cannot draw, never fails.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..style import PlotDataWarning, policy_colors

MIB = 2**20
ALL = "ALL"
HOST = "HOST"
TIMESERIES_COLUMNS = ("time_s", "policy", "guest", "metric", "value")


@dataclass(frozen=True)
class ComparisonData:
    """The inputs of every figure, with the policy order and colours settled once."""

    summary: pd.DataFrame
    timeseries: pd.DataFrame
    latency: pd.DataFrame
    meta: Mapping
    policies: tuple[str, ...]
    colors: Mapping[str, str]
    guests: tuple[str, ...]

    @classmethod
    def of(cls, summary: pd.DataFrame | None, timeseries: pd.DataFrame | None,
           latency: pd.DataFrame | None, meta: Mapping | None) -> ComparisonData:
        """The view of one comparison's tables (None stands for an empty table)."""
        summary, timeseries, latency = _frame(summary), _frame(timeseries), _frame(latency)
        meta = meta or {}
        policies = _policy_order(meta, (summary, timeseries, latency))
        return cls(summary=summary, timeseries=timeseries, latency=latency, meta=meta,
                   policies=policies, colors=policy_colors(policies),
                   guests=_guest_order(summary, timeseries))


def warn(message: str) -> None:
    """Say that a figure skips what the results lack (warned from the figure's caller)."""
    warnings.warn(message, PlotDataWarning, stacklevel=3)


def _frame(df: pd.DataFrame | None) -> pd.DataFrame:
    return pd.DataFrame() if df is None else df


def has_columns(df: pd.DataFrame, columns: Iterable[str], what: str) -> bool:
    """Whether df has every column; warns naming the missing ones if not."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        warn(f"{what}: results lack {', '.join(missing)}; skipped")
    return not missing


def _natural_key(name: str) -> list:
    # "web-2" before "web-10", as people number their guests.
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(name))]


def _ordered_unique(values: Iterable) -> list:
    return list(dict.fromkeys(v for v in values if pd.notna(v)))


def _policy_order(meta: Mapping, frames: Sequence[pd.DataFrame]) -> tuple[str, ...]:
    seen = _ordered_unique(v for df in frames if "policy" in df.columns for v in df["policy"])
    declared = [str(p) for p in meta.get("policies") or []]
    if not declared:
        warn("meta: no 'policies' list; policies drawn in the order the results list them")
    extra = [p for p in seen if p not in declared]
    if declared and extra:
        warn(f"meta: policies {extra} are in the results but not in meta['policies']; drawn last")
    return tuple(declared + extra)


def _guest_order(summary: pd.DataFrame, timeseries: pd.DataFrame) -> tuple[str, ...]:
    named = [g for g in _column_values(summary, "guest") if g != ALL]
    rest = [g for g in _column_values(timeseries, "guest") if g not in (ALL, HOST)]
    return tuple(named + sorted(set(rest) - set(named), key=_natural_key))


def _column_values(df: pd.DataFrame, column: str) -> list[str]:
    return [str(v) for v in _ordered_unique(df[column])] if column in df.columns else []


def all_rows(r: ComparisonData, what: str) -> pd.DataFrame:
    """The summary's guest == ALL row per policy, indexed by policy, in draw order."""
    if not has_columns(r.summary, ("policy", "guest"), what):
        return pd.DataFrame()
    rows = r.summary[r.summary["guest"] == ALL].drop_duplicates("policy").set_index("policy")
    missing = [p for p in r.policies if p not in rows.index]
    if missing:
        warn(f"{what}: no guest == 'ALL' summary row for {missing}; those policies skipped")
    return rows.reindex([p for p in r.policies if p in rows.index])


def guest_rows(r: ComparisonData, what: str) -> pd.DataFrame:
    """The summary's per-guest rows (every row but the ALL ones)."""
    if not has_columns(r.summary, ("policy", "guest"), what):
        return pd.DataFrame()
    return r.summary[r.summary["guest"] != ALL]


def metric(r: ComparisonData, name: str, what: str) -> pd.DataFrame:
    """Rows of one time-series metric, or an empty frame after a warning."""
    if r.timeseries.empty:
        warn(f"{what}: no timeseries in the results; skipped")
        return pd.DataFrame(columns=TIMESERIES_COLUMNS)
    if not has_columns(r.timeseries, TIMESERIES_COLUMNS, what):
        return pd.DataFrame(columns=TIMESERIES_COLUMNS)
    rows = r.timeseries[r.timeseries["metric"] == name]
    if rows.empty:
        warn(f"{what}: timeseries has no '{name}' metric; skipped")
    return rows


def host_metric(r: ComparisonData, name: str) -> pd.DataFrame:
    """An optional overlay: one metric's HOST rows; absent is fine, so no warning."""
    if not set(TIMESERIES_COLUMNS) <= set(r.timeseries.columns):
        return pd.DataFrame()
    rows = r.timeseries
    return rows[(rows["metric"] == name) & (rows["guest"] == HOST)]


def sample_interval(r: ComparisonData, times: pd.Series) -> float | None:
    """The time between samples: meta's, else the samples' spacing (warned), else None."""
    interval = r.meta.get("sample_interval_s")
    if interval:
        return float(interval)
    steps = np.diff(np.unique(times.to_numpy(dtype=float)))
    if len(steps) == 0:
        warn("meta: no 'sample_interval_s' and a single sample; rates cannot be drawn")
        return None
    warn("meta: no 'sample_interval_s'; using the spacing of the samples")
    return float(np.median(steps))
