"""Hypervisor pool occupancy per guest: per policy, the pool's pages stacked by the guest they
are held for over time, with the pool's total use and size drawn over the stack."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from tmemsim.units import PAGE_SIZE

from ..style import guest_colors
from .data import ALL, HOST, MIB, ComparisonData, host_metric, metric
from .layout import legend, new_figure, title

NAME = "pool_occupancy"

SHARED_LABEL = "shared by several guests"
SHARED_STYLE: Mapping[str, object] = MappingProxyType(
    {"facecolor": "#E3E3E3", "edgecolor": "#A0A0A0", "hatch": "//"}
)


def figure(r: ComparisonData) -> Figure | None:
    """Per policy, the pool's pages stacked by the guest they are held for, and on top the pages
    held for no one guest: the total used (HOST pool_used_pages) less the guests' own. A
    location-keyed host cache counts a CoW base page to no clone, tmem's shared pool likewise,
    and a content-keyed cache counts none of its pages to a guest."""
    rows = metric(r, "pool_pages", NAME)
    rows = rows[~rows["guest"].isin([HOST, ALL])]
    if rows.empty:
        return None
    used = host_metric(r, "pool_used_pages")
    size = host_metric(r, "pool_pages")  # the pool itself grows and shrinks with ballooning
    # a compressed pool: guest pages stored, more than the pool pages it uses (the dashed line)
    stored = host_metric(r, "pool_stored_pages")
    # A policy whose pool never holds a page (none) gets no panel.
    held = rows.groupby("policy")["value"].sum()
    used_total = used.groupby("policy")["value"].sum() if not used.empty else pd.Series(
        dtype=float)
    with_pool = [p for p in r.policies if held.get(p, 0) > 0 or used_total.get(p, 0) > 0]
    if not with_pool:
        return None
    guests = [g for g in r.guests if g in set(rows["guest"])]
    colors = guest_colors(guests)
    cols, nrows = _panel_grid(len(with_pool))
    fig = new_figure(2.5 + 4.2 * cols, 0.8 + 3.4 * nrows)
    axes = np.atleast_1d(fig.subplots(nrows, cols, sharex=True, sharey=True, squeeze=False)).ravel()
    top, any_shared = 0.0, False
    for ax, policy in zip(axes, with_pool, strict=False):
        panel_top, shared = _draw_pool_panel(ax, rows[rows["policy"] == policy],
                                             (used, size, stored), policy, guests, colors, r)
        top, any_shared = max(top, panel_top), any_shared or shared
    # the panels share one y axis: it must hold the tallest of them, set once for all
    axes[0].set_ylim(0, top * 1.05 if top > 0 else 1)
    for ax in axes[len(with_pool) :]:
        ax.set_visible(False)
    for ax in axes[: len(with_pool)]:
        # Shared axes hide inner tick labels; every panel keeps its time axis readable.
        ax.tick_params(labelbottom=True)
    title(fig, NAME, r)
    legend(fig, _handles(guests, colors, any_shared, used, size), "held for")
    return fig


def _handles(guests: list[str], colors: list[str], any_shared: bool, used: pd.DataFrame,
             size: pd.DataFrame) -> list:
    """The legend: guests top to bottom as stacked, the shared layer, the two overlay lines."""
    handles = [Patch(facecolor=c, label=g) for g, c in zip(guests, colors, strict=True)][::-1]
    if any_shared:
        handles.insert(0, Patch(label=SHARED_LABEL, **SHARED_STYLE))  # drawn on top of the stack
    if not used.empty:
        handles.append(Line2D([], [], color="black", linestyle="--", label="pool used (total)"))
    if not size.empty:
        handles.append(Line2D([], [], color="grey", linestyle=":", label="pool size"))
    return handles


def _compression_note(ax, stored: pd.Series, used: pd.Series) -> None:
    """The pages stored per pool page used, at the last sample."""
    if used.empty or not used.iloc[-1]:
        return
    ax.text(0.97, 0.04, f"compressed: {stored.iloc[-1] / used.iloc[-1]:.2f} pages stored per "
            "pool page", transform=ax.transAxes, fontsize=8, ha="right", va="bottom",
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 2})


def _panel_grid(n: int) -> tuple[int, int]:
    """Columns and rows for n panels: one row up to three, then a near-square grid."""
    cols = n if n <= 3 else min(3, math.ceil(math.sqrt(n)))
    return cols, math.ceil(n / cols)


def _host_series(frame: pd.DataFrame, policy: str) -> pd.Series:
    """One policy's HOST gauge in MiB, indexed by time (empty if the results lack it)."""
    if frame.empty:
        return pd.Series(dtype=float)
    line = frame[frame["policy"] == policy].drop_duplicates("time_s").sort_values("time_s")
    return pd.Series(line["value"].to_numpy(dtype=float) * PAGE_SIZE / MIB,
                     index=line["time_s"].to_numpy(dtype=float))


def _draw_pool_panel(ax, rows, host, policy, guests, colors,
                     r: ComparisonData) -> tuple[float, bool]:
    """One policy's stacked occupancy; returns the highest value drawn (MiB) and whether it
    drew pages shared by several guests. host: the HOST gauges (pool used, pool size, pages
    stored: the last only for a compressed pool, whose stack is of pages stored and so may
    rise above the pool pages used)."""
    used, size, stored = host
    table = rows.pivot_table(index="time_s", columns="guest", values="value", aggfunc="sum")
    total = _host_series(used, policy)
    held = _host_series(stored, policy)
    if not held.empty:
        _compression_note(ax, held, total)
        total, held = held, total  # the stack tops out at the pages stored; the line is used
    else:
        held = total
    table = table.reindex(index=table.index.union(total.index), columns=guests).fillna(0.0)
    table = table * PAGE_SIZE / MIB
    # Pages held for no one guest: what the pool holds beyond the guests' own pages.
    shared = (total.reindex(table.index) - table.sum(axis=1)).clip(lower=0.0).fillna(0.0)
    has_shared = bool((shared > 0).any())
    layers = [table[g].to_numpy() for g in guests]
    stack = ax.stackplot(table.index, *layers, *([shared.to_numpy()] if has_shared else []),
                         colors=colors + ([SHARED_STYLE["facecolor"]] if has_shared else []),
                         labels=guests + ([SHARED_LABEL] if has_shared else []), linewidth=0)
    if has_shared:
        stack[-1].set_hatch(SHARED_STYLE["hatch"])
        stack[-1].set_edgecolor(SHARED_STYLE["edgecolor"])
    top = float((table.sum(axis=1) + shared).max()) if len(table) else 0.0
    for line, style in ((held, dict(color="black", linestyle="--")),
                        (_host_series(size, policy), dict(color="grey", linestyle=":"))):
        if not line.empty:
            ax.plot(line.index, line.to_numpy(), linewidth=1.0, **style)
            top = max(top, float(line.max()))
    if has_shared and not table.to_numpy().any():
        # a content-keyed cache, for one: nothing is counted to a guest, so all is shared
        ax.text(0.03, 0.04, "no page is counted to one guest", transform=ax.transAxes,
                fontsize=8, color="black", va="bottom",
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 2})
    ax.set_title(policy, color=r.colors[policy], fontweight="bold")
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("pool pages (MiB)")
    ax.grid(alpha=0.3)
    return top, has_shared
