"""Disk reads over time: the rate of disk reads of all guests per policy, one step per sample
interval."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .data import HOST, ComparisonData, metric, sample_interval
from .layout import legend, new_figure, policy_handles, title

NAME = "disk_reads_over_time"


def figure(r: ComparisonData) -> Figure | None:
    """The figure, or None when the time series holds no disk reads."""
    rows = metric(r, "disk_reads", NAME)
    rows = rows[rows["guest"] != HOST]
    if rows.empty:
        return None
    interval = sample_interval(r, rows["time_s"])
    if interval is None:
        return None
    per_policy = rows.groupby(["policy", "time_s"])["value"].sum()
    warmup = float(r.meta.get("warmup_s") or 0.0)
    fig = new_figure(10.0, 4.5)
    ax = fig.subplots()
    drawn = []
    for policy in r.policies:
        if policy in per_policy.index.get_level_values("policy"):
            x, y = _interval_steps(per_policy.loc[policy], interval, warmup)
            ax.plot(
                x, y, drawstyle="steps-post", color=r.colors[policy], linewidth=1.6, label=policy
            )
            drawn.append(policy)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("disk reads (reads/s, all guests)")
    title(fig, NAME, r)
    legend(fig, policy_handles(r, drawn), "policy")
    return fig


def _interval_steps(counts: pd.Series, interval: float,
                   warmup: float) -> tuple[np.ndarray, np.ndarray]:
    """Step points that hold each interval's rate (per second) over it, (start, time_s]. A
    sample covers a sample interval up to its time stamp, but never before the sample before
    it or the warm-up's end: a run's last interval ends with the run and may be shorter."""
    times = counts.index.to_numpy(dtype=float)
    first = max(times[0] - interval, warmup) if times[0] > warmup else 0.0
    lengths = np.minimum(interval, np.diff(times, prepend=first))
    values = counts.to_numpy(dtype=float) / lengths
    return np.append(times - lengths, times[-1]), np.append(values, values[-1])
