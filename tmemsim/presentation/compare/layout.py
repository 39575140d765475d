"""The frame shared by the comparison figures: size, title, legends and grouped bars."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .data import ComparisonData

FIGURE_TITLES: Mapping[str, str] = MappingProxyType(
    {
        "reads_served": "Where reads are served",
        "latency_cdf": "Read latency distribution",
        "memory": "Memory use",
        "disk_reads_over_time": "Disk reads over time",
        "pool_occupancy": "Hypervisor pool occupancy per guest",
        "throughput": "Throughput per guest",
    }
)


def new_figure(width: float, height: float) -> Figure:
    """A figure of about that size (the width kept between 6 and 22 inches)."""
    # Constrained layout makes room for legends placed outside the axes.
    return Figure(figsize=(min(max(width, 6.0), 22.0), height), layout="constrained")


def title(fig: Figure, name: str, r: ComparisonData) -> None:
    """The figure's title, with the scenario's name when the results know it."""
    scenario = r.meta.get("scenario")
    text = FIGURE_TITLES[name]
    fig.suptitle(f"{text} — {scenario}" if scenario else text, fontweight="bold")


def policy_handles(r: ComparisonData, policies: Iterable[str]) -> list[Patch]:
    """Legend entries: one swatch per policy, in its colour."""
    return [Patch(facecolor=r.colors[p], label=p) for p in policies]


def legend(fig: Figure, handles: Sequence, heading: str, loc: str = "outside right upper") -> None:
    """A frameless figure legend (nothing when there are no handles)."""
    if handles:
        fig.legend(handles=list(handles), loc=loc, title=heading, frameon=False)


def bar_offsets(n_bars: int, group_width: float = 0.8) -> tuple[np.ndarray, float]:
    """Offsets from a group's centre and the width of n_bars bars side by side."""
    width = group_width / max(n_bars, 1)
    return (np.arange(n_bars) - (n_bars - 1) / 2) * width, width


def grouped_bars(ax, groups: Sequence[str], values: pd.DataFrame, r: ComparisonData) -> list[str]:
    """One group per row label of values, one bar per policy column; returns policies drawn."""
    drawn = [p for p in r.policies if p in values.columns and values[p].notna().any()]
    offsets, width = bar_offsets(len(drawn))
    x = np.arange(len(groups))
    for offset, policy in zip(offsets, drawn, strict=True):
        ax.bar(x + offset, values[policy].to_numpy(dtype=float), width, color=r.colors[policy])
    ax.set_xticks(x, [str(g) for g in groups])
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    return drawn
