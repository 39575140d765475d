"""Statistics over a sweep's replications: mean, standard deviation and a Student-t
confidence interval per point, policy, guest and metric."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from ..results import EXTRA_COLUMNS, SUMMARY_COLUMNS

METRICS = [c for c in SUMMARY_COLUMNS + EXTRA_COLUMNS if c not in ("policy", "guest")]
CONFIDENCE = 0.95


@functools.lru_cache(maxsize=1024)
def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t with df > 0 degrees of freedom (t_{0.975,4} = 2.7764...)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if not df > 0:
        raise ValueError(f"df must be positive, got {df}")
    from scipy import stats as scipy_stats

    return float(scipy_stats.t.ppf(p, df))


def summarize(table: pd.DataFrame, parameters: list[str],
              confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Mean, std (ddof 1) and the Student-t confidence interval of every metric over the
    replications, per point × policy × guest; long form, one row per metric.

    ci95_low/high = mean ∓ t_{(1+confidence)/2, n-1} · std / sqrt(n); NaN when n < 2. Metrics
    that are undefined for a group (NaN in every replication) are left out.
    """
    keys = ["point", *parameters, "policy", "guest"]
    columns = [*keys, "metric", "n", "mean", "std", "ci95_low", "ci95_high"]
    metrics = [m for m in METRICS if m in table.columns]
    if table.empty or not metrics:
        return pd.DataFrame(columns=columns)
    groups = table[keys].drop_duplicates().reset_index(drop=True)
    groups["_group"] = np.arange(len(groups))
    long = table[keys + metrics].melt(id_vars=keys, value_vars=metrics, var_name="metric")
    long["value"] = long["value"].astype(float)
    stats = (long.groupby(keys + ["metric"], sort=False, dropna=False)["value"]
             .agg(n="count", mean="mean", std="std").reset_index())
    stats = stats[stats["n"] > 0]
    n = stats["n"].to_numpy()
    q = (1.0 + confidence) / 2.0
    t = np.array([t_quantile(q, k - 1) if k >= 2 else np.nan for k in n])
    half = t * stats["std"].to_numpy() / np.sqrt(n)
    stats["ci95_low"] = stats["mean"] - half
    stats["ci95_high"] = stats["mean"] + half
    stats = stats.merge(groups, on=keys, how="left")
    stats["_metric"] = stats["metric"].map({m: i for i, m in enumerate(metrics)})
    stats = stats.sort_values(["_group", "_metric"], kind="stable")
    return stats[columns].reset_index(drop=True)


__all__ = ["CONFIDENCE", "METRICS", "summarize", "t_quantile"]
