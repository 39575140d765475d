"""Where reads are served: the share of reads from the guest cache, hypervisor memory and disk.

One stacked bar per policy over all guests; with several guests, a second panel per guest.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..style import DISK_FACE, NEUTRAL, lighten
from .data import ComparisonData, all_rows, guest_rows, warn
from .layout import bar_offsets, legend, new_figure, policy_handles, title

NAME = "reads_served"


def _read_shares(rows: pd.DataFrame, what: str) -> pd.DataFrame | None:
    """Fractions of reads served by guest cache, hypervisor memory and (the rest) disk."""
    if {"guest_hit_ratio", "host_hit_ratio"} <= set(rows.columns):
        guest, host = rows["guest_hit_ratio"], rows["host_hit_ratio"]
    elif {"guest_hits", "host_hits", "reads"} <= set(rows.columns):
        reads = rows["reads"].where(rows["reads"] > 0)
        guest, host = rows["guest_hits"] / reads, rows["host_hits"] / reads
    else:
        warn(f"{what}: results lack guest_hit_ratio/host_hit_ratio (and the hit counts); skipped")
        return None
    # Disk is the remainder, so a bar always sums to 100 % even if counters race at the end.
    shares = pd.DataFrame({"guest_cache": guest, "hypervisor": host}).astype(float)
    shares["disk"] = (1.0 - shares["guest_cache"] - shares["hypervisor"]).clip(lower=0.0)
    return shares * 100.0


def _source_styles(color: str) -> dict[str, dict]:
    return {
        "guest_cache": {"facecolor": color},
        "hypervisor": {"facecolor": lighten(color, 0.6), "hatch": "///"},
        "disk": {"facecolor": DISK_FACE},
    }


def _stacked_bar(ax, x: float, shares: pd.Series, color: str, width: float, labels: bool) -> None:
    bottom = 0.0
    for source, style in _source_styles(color).items():
        value = float(shares[source])
        if np.isnan(value):
            return
        ax.bar(x, value, width, bottom=bottom, edgecolor=color, linewidth=0.8, **style)
        if labels and value >= 6.0:
            _share_label(ax, x, bottom + value / 2, value, on_colour=source == "guest_cache")
        bottom += value


def _share_label(ax, x: float, y: float, value: float, on_colour: bool) -> None:
    # A white box keeps the number readable over the hatching.
    box = None if on_colour else {"facecolor": "white", "edgecolor": "none", "pad": 1}
    ax.text(
        x,
        y,
        f"{value:.0f}%",
        ha="center",
        va="center",
        fontsize=8,
        color="white" if on_colour else "black",
        bbox=box,
    )


def _source_handles() -> list[Patch]:
    styles = _source_styles(NEUTRAL)
    names = {"guest_cache": "guest page cache", "hypervisor": "hypervisor memory", "disk": "disk"}
    # Listed top to bottom as the segments are stacked.
    return [
        Patch(edgecolor=NEUTRAL, label=names[s], **styles[s])
        for s in ("disk", "hypervisor", "guest_cache")
    ]


def figure(r: ComparisonData) -> Figure | None:
    """The figure, or None when the results hold no read shares."""
    rows = all_rows(r, NAME)
    shares = _read_shares(rows, NAME) if not rows.empty else None
    if shares is None or shares.dropna(how="all").empty:
        return None
    per_guest = guest_rows(r, NAME)
    guests = [g for g in r.guests if g in set(per_guest.get("guest", []))]
    two_panels = len(guests) > 1
    n_pol = len(shares)
    units = (n_pol + 1) + (len(guests) * (n_pol + 1) if two_panels else 0)
    fig = new_figure(3.0 + 0.45 * units, 4.8)
    if two_panels:
        ax_all, ax_guests = fig.subplots(
            1, 2, width_ratios=[n_pol + 1, len(guests) * (n_pol + 1)], sharey=True
        )
    else:
        ax_all, ax_guests = fig.subplots(1, 1), None
    _draw_shares_all(ax_all, shares, r)
    if two_panels:
        _draw_shares_per_guest(ax_guests, per_guest, guests, list(shares.index), r)
    title(fig, NAME, r)
    legend(fig, _source_handles(), "served by")
    if two_panels:
        legend(fig, policy_handles(r, shares.index), "policy", loc="outside right lower")
    return fig


def _draw_shares_all(ax, shares: pd.DataFrame, r: ComparisonData) -> None:
    for x, (policy, row) in enumerate(shares.iterrows()):
        _stacked_bar(ax, x, row, r.colors[policy], 0.65, labels=True)
    # Slanted, so long variant names ("tmem+shared") do not run into each other.
    ax.set_xticks(
        range(len(shares)), list(shares.index), rotation=30, ha="right", rotation_mode="anchor"
    )
    for label, policy in zip(ax.get_xticklabels(), shares.index, strict=True):
        label.set_color(r.colors[policy])
    ax.set_ylim(0, 100)
    ax.set_xlim(-0.6, len(shares) - 0.4)
    ax.set_title("all guests")
    ax.set_xlabel("policy")
    ax.set_ylabel("share of reads (%)")


def _draw_shares_per_guest(
    ax, per_guest, guests: list[str], policies: list[str], r: ComparisonData
) -> None:
    # Same columns as the ALL rows, which were already checked: no second warning needed.
    shares = _read_shares(per_guest, NAME)
    table = pd.concat([per_guest[["policy", "guest"]], shares], axis=1).set_index(
        ["guest", "policy"]
    )
    table = table[~table.index.duplicated()]
    offsets, width = bar_offsets(len(policies))
    for gx, guest in enumerate(guests):
        for offset, policy in zip(offsets, policies, strict=True):
            if (guest, policy) in table.index:
                _stacked_bar(
                    ax,
                    gx + offset,
                    table.loc[(guest, policy)],
                    r.colors[policy],
                    width * 0.9,
                    labels=False,
                )
    ax.set_xticks(range(len(guests)), guests)
    ax.set_title("per guest (bars in policy order)")
    ax.set_xlabel("guest")
