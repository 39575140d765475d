"""Memory use: per policy, the memory the guests' caches, the pool, double caching and the
distinct contents hold over all guests, with the pool's capacity marked, and what KSM's
merging saved when a policy ran with it."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from tmemsim.units import PAGE_SIZE

from ..style import NEUTRAL
from .data import MIB, ComparisonData, all_rows, warn
from .layout import grouped_bars, legend, new_figure, policy_handles, title

NAME = "memory"

MEMORY_METRICS: tuple[tuple[str, str], ...] = (
    ("guest_cache_pages", "guest page caches"),
    ("host_pool_used_pages", "hypervisor pool used"),
    ("double_cached_pages", "double-cached"),
    ("distinct_contents_cached", "distinct contents cached"),
)

# drawn only when some policy merged pages (results without KSM, or older ones, lack it)
MERGED = ("pages_sharing", "saved by KSM merging")

DOUBLE_CACHED_NOTE = (
    "double-cached: a page held by the hypervisor and by a guest; a shared host page counts once "
    "for every guest that also holds it, so the total can exceed the pool"
)


def figure(r: ComparisonData) -> Figure | None:
    """The figure, or None when the summary holds none of the memory columns."""
    rows = all_rows(r, NAME)
    if rows.empty:
        return None
    present = [(c, label) for c, label in MEMORY_METRICS if c in rows.columns]
    missing = [c for c, _ in MEMORY_METRICS if c not in rows.columns]
    if missing:
        warn(f"{NAME}: results lack {', '.join(missing)}; those groups skipped")
    if MERGED[0] in rows.columns and (rows[MERGED[0]] > 0).any():
        present.append(MERGED)
    if not present:
        return None
    mib = rows[[c for c, _ in present]].astype(float).T * PAGE_SIZE / MIB
    fig = new_figure(2.5 + 0.5 * len(present) * (len(rows) + 1), 4.8)
    ax = fig.subplots()
    drawn = grouped_bars(ax, [label for _, label in present], mib, r)
    for container in ax.containers:
        ax.bar_label(container, fmt="{:,.0f}", fontsize=7, padding=2)
    handles = policy_handles(r, drawn) + _capacity_marker(ax, rows, [c for c, _ in present])
    ax.margins(y=0.12)  # headroom for the value labels
    ax.set_xlabel("memory held (ALL guests)")
    if "double_cached_pages" in mib.index and (mib.loc["double_cached_pages"] > 0).any():
        # it can exceed the pool used, which puzzles anyone who does not know why
        ax.text(0.5, -0.13, DOUBLE_CACHED_NOTE, transform=ax.transAxes, ha="center", va="top",
                fontsize=8, color=NEUTRAL)
    ax.set_ylabel("memory (MiB, 4 KiB pages)")
    title(fig, NAME, r)
    legend(fig, handles, "policy")
    return fig


def _capacity_marker(ax, rows: pd.DataFrame, present: list[str]) -> list:
    """Dashed line at the pool's capacity over the "pool used" group, if the results have it."""
    if "host_pool_pages" not in rows.columns or "host_pool_used_pages" not in present:
        return []
    capacity = float(rows["host_pool_pages"].max()) * PAGE_SIZE / MIB
    if not capacity > 0:
        return []
    x = present.index("host_pool_used_pages")
    (line,) = ax.plot(
        [x - 0.45, x + 0.45],
        [capacity, capacity],
        color="black",
        linestyle="--",
        linewidth=1.0,
        label="pool capacity",
    )
    return [line]
