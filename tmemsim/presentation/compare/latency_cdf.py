"""Read latency distribution: the CDF of read latency per policy, and its tail on log axes.

Drawn from the latency histogram (log-spaced buckets), so the curves rise across each bucket.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .data import ALL, ComparisonData, has_columns, warn
from .layout import legend, new_figure, policy_handles, title

NAME = "latency_cdf"


def _policy_histogram(latency: pd.DataFrame, policy: str) -> pd.DataFrame:
    rows = latency[latency["policy"] == policy]
    total = rows[rows["guest"] == ALL] if "guest" in rows.columns else rows
    if total.empty and not rows.empty:
        # Buckets are the same log grid for every guest, so summing guests rebuilds ALL.
        warn(f"{NAME}: no guest == 'ALL' histogram for {policy}; summing the guests")
        total = rows.groupby(["lo_us", "hi_us"], as_index=False)["count"].sum()
    return total[total["count"] > 0].sort_values("lo_us")


def _cdf_points(hist: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Corner points of the CDF: flat across empty buckets, rising across each full one."""
    lo = hist["lo_us"].to_numpy(dtype=float)
    hi = hist["hi_us"].to_numpy(dtype=float)
    # An open-ended overflow bucket has no upper edge; end its rise one octave above lo.
    hi = np.where(np.isfinite(hi), hi, lo * 2.0)
    counts = hist["count"].to_numpy(dtype=float)
    after = np.cumsum(counts) / counts.sum()
    before = after - counts / counts.sum()
    x = np.column_stack([lo, hi]).ravel()
    y = np.column_stack([before, after]).ravel()
    keep = x > 0  # a bucket starting at 0 has no place on a log axis; its upper edge still does
    return x[keep], y[keep]


def figure(r: ComparisonData) -> Figure | None:
    """The figure, or None when the results hold no latency histogram."""
    if r.latency.empty:
        warn(f"{NAME}: no latency histogram in the results; skipped")
        return None
    if not has_columns(r.latency, ("policy", "lo_us", "hi_us", "count"), NAME):
        return None
    fig = new_figure(11.0, 4.5)
    ax_cdf, ax_tail = fig.subplots(1, 2)
    drawn = [p for p in r.policies if _draw_latency(ax_cdf, ax_tail, r, p)]
    if not drawn:
        return None
    _style_latency_axes(ax_cdf, ax_tail)
    title(fig, NAME, r)
    legend(fig, policy_handles(r, drawn), "policy")
    return fig


def _draw_latency(ax_cdf, ax_tail, r: ComparisonData, policy: str) -> bool:
    hist = _policy_histogram(r.latency, policy)
    if hist.empty:
        return False
    x, cdf = _cdf_points(hist)
    color = r.colors[policy]
    ax_cdf.plot(x, cdf, color=color, linewidth=1.8, label=policy)
    tail = 1.0 - cdf
    keep = tail > 1e-12  # log axis: the final point (nothing slower) cannot be drawn
    ax_tail.plot(x[keep], tail[keep], color=color, linewidth=1.8, label=policy)
    return True


def _style_latency_axes(ax_cdf, ax_tail) -> None:
    ax_cdf.set_xscale("log")
    ax_cdf.set_ylim(0, 1.02)
    _reference_line(ax_cdf, 0.5, "median")
    ax_cdf.set_title("cumulative distribution")
    ax_cdf.set_xlabel("read latency (µs)")
    ax_cdf.set_ylabel("fraction of reads ≤ latency")
    ax_tail.set_xscale("log")
    ax_tail.set_yscale("log")
    _reference_line(ax_tail, 0.01, "p99")
    ax_tail.set_title("tail (dotted line: p99)")
    ax_tail.set_xlabel("read latency (µs)")
    ax_tail.set_ylabel("fraction of reads > latency")
    for ax in (ax_cdf, ax_tail):
        ax.grid(which="major", alpha=0.3)


def _reference_line(ax, y: float, name: str) -> None:
    """A dotted horizontal line with its name on the axes: a reader needs no caption."""
    ax.axhline(y, color="0.6", linestyle=":", linewidth=0.8, label=name)
    # at the right, where the slow end of the curves has left the line behind
    ax.text(0.99, y, name, transform=ax.get_yaxis_transform(), ha="right", va="bottom",
            fontsize=8, color="0.3")
