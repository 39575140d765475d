"""Throughput per guest: requests per second of each guest (and of ALL), one bar per policy."""

from __future__ import annotations

from matplotlib.figure import Figure

from .data import ALL, ComparisonData, has_columns
from .layout import grouped_bars, legend, new_figure, policy_handles, title

NAME = "throughput"


def figure(r: ComparisonData) -> Figure | None:
    """The figure, or None when the summary has no throughput."""
    if not has_columns(r.summary, ("policy", "guest", "throughput_ops"), NAME):
        return None
    rows = r.summary[r.summary["guest"] != ALL]
    if rows.empty:
        rows = r.summary  # a summary of totals only: draw those rather than nothing
    values = rows.pivot_table(
        index="guest", columns="policy", values="throughput_ops", aggfunc="first"
    )
    groups = [g for g in (*r.guests, ALL) if g in values.index]
    values = values.reindex(groups)
    fig = new_figure(2.5 + 0.35 * len(groups) * (len(r.policies) + 1), 4.5)
    ax = fig.subplots()
    drawn = grouped_bars(ax, groups, values, r)
    if not drawn:
        return None
    ax.set_xlabel("guest")
    ax.set_ylabel("throughput (ops/s)")
    title(fig, NAME, r)
    legend(fig, policy_handles(r, drawn), "policy")
    return fig
