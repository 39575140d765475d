"""Comparison figures drawn from results only: summary, timeseries, latency DataFrames and meta.

Built with the object API (`matplotlib.figure.Figure`): no pyplot state, no GUI backend.
"""

from __future__ import annotations

import hashlib
import math
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.colors import to_hex, to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from tmemsim.units import PAGE_SIZE

MIB = 2**20
ALL = "ALL"
HOST = "HOST"

# Okabe–Ito colours: distinguishable under the common colour-vision deficiencies.
POLICY_COLORS: Mapping[str, str] = MappingProxyType(
    {
        "none": "#666666",
        "host-cache": "#0072B2",
        "tmem": "#D55E00",
        "dedup": "#009E73",
    }
)

# Unknown policies (variants such as "tmem+shared") draw from the Okabe–Ito colours left over,
# extended with dark Tol "muted" colours so several variants rarely have to share one.
FALLBACK_PALETTE: tuple[str, ...] = (
    "#E69F00",
    "#56B4E9",
    "#CC79A7",
    "#000000",
    "#882255",
    "#332288",
    "#999933",
    "#DDCC77",
)

# Guests are told apart by colour only inside one panel; Tol "muted" is colour-blind safe.
GUEST_PALETTE: tuple[str, ...] = (
    "#332288",
    "#88CCEE",
    "#44AA99",
    "#117733",
    "#999933",
    "#DDCC77",
    "#CC6677",
    "#882255",
    "#AA4499",
)

DISK_FACE = "#E8E8E8"
NEUTRAL = "#555555"

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

MEMORY_METRICS: tuple[tuple[str, str], ...] = (
    ("guest_cache_pages", "guest page caches"),
    ("host_pool_used_pages", "hypervisor pool used"),
    ("double_cached_pages", "double-cached"),
    ("distinct_contents_cached", "distinct contents cached"),
)


DOUBLE_CACHED_NOTE = (
    "double-cached: a page held by the hypervisor and by a guest; a shared host page counts once "
    "for every guest that also holds it, so the total can exceed the pool"
)
SHARED_LABEL = "shared by several guests"
SHARED_STYLE: Mapping[str, object] = MappingProxyType(
    {"facecolor": "#E3E3E3", "edgecolor": "#A0A0A0", "hatch": "//"}
)


class PlotDataWarning(UserWarning):
    """The results lack data a figure needs; the figure skips that part."""


@dataclass(frozen=True)
class _Results:
    """The inputs of every figure, with the policy order and colours settled once."""

    summary: pd.DataFrame
    timeseries: pd.DataFrame
    latency: pd.DataFrame
    meta: Mapping
    policies: tuple[str, ...]
    colors: Mapping[str, str]
    guests: tuple[str, ...]


# ---------------------------------------------------------------------------------------------
# colours


def _stable_index(name: str, modulo: int) -> int:
    # sha256, not hash(): str hashes are salted per process and would change colours per run.
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % modulo


def policy_color(name: str) -> str:
    """The colour of one policy: fixed for known names, a stable hash pick for the others."""
    if name in POLICY_COLORS:
        return POLICY_COLORS[name]
    return FALLBACK_PALETTE[_stable_index(name, len(FALLBACK_PALETTE))]


def policy_colors(policies: Iterable[str]) -> dict[str, str]:
    """Colours for the policies of one comparison; a hash collision moves on to a free colour."""
    policies = list(policies)
    taken = {POLICY_COLORS[p] for p in policies if p in POLICY_COLORS}
    colors: dict[str, str] = {}
    for name in policies:
        if name in POLICY_COLORS:
            colors[name] = POLICY_COLORS[name]
            continue
        colors[name] = _free_fallback(name, taken)
        taken.add(colors[name])
    return colors


def _free_fallback(name: str, taken: set[str]) -> str:
    start = _stable_index(name, len(FALLBACK_PALETTE))
    for step in range(len(FALLBACK_PALETTE)):
        candidate = FALLBACK_PALETTE[(start + step) % len(FALLBACK_PALETTE)]
        if candidate not in taken:
            return candidate
    # More variants than colours: repeating one beats failing to draw.
    return FALLBACK_PALETTE[start]


def _lighten(color: str, amount: float) -> str:
    """Mix a colour with white; amount 0 keeps it, 1 gives white."""
    rgb = np.array(to_rgb(color))
    return to_hex(rgb + (1.0 - rgb) * amount)


def _guest_colors(guests: Sequence[str]) -> list[str]:
    if len(guests) <= len(GUEST_PALETTE):
        return list(GUEST_PALETTE[: len(guests)])
    cmap = matplotlib.colormaps["viridis"]
    return [to_hex(cmap(x)) for x in np.linspace(0.0, 0.95, len(guests))]


# ---------------------------------------------------------------------------------------------
# reading the results defensively


def _warn(message: str) -> None:
    warnings.warn(message, PlotDataWarning, stacklevel=3)


def _frame(df: pd.DataFrame | None) -> pd.DataFrame:
    return pd.DataFrame() if df is None else df


def _has_columns(df: pd.DataFrame, columns: Iterable[str], what: str) -> bool:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        _warn(f"{what}: results lack {', '.join(missing)}; skipped")
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
        _warn("meta: no 'policies' list; policies drawn in the order the results list them")
    extra = [p for p in seen if p not in declared]
    if declared and extra:
        _warn(f"meta: policies {extra} are in the results but not in meta['policies']; drawn last")
    return tuple(declared + extra)


def _guest_order(summary: pd.DataFrame, timeseries: pd.DataFrame) -> tuple[str, ...]:
    named = [g for g in _column_values(summary, "guest") if g != ALL]
    rest = [g for g in _column_values(timeseries, "guest") if g not in (ALL, HOST)]
    return tuple(named + sorted(set(rest) - set(named), key=_natural_key))


def _column_values(df: pd.DataFrame, column: str) -> list[str]:
    return [str(v) for v in _ordered_unique(df[column])] if column in df.columns else []


def _all_rows(r: _Results, what: str) -> pd.DataFrame:
    """The summary's guest == ALL row per policy, indexed by policy, in draw order."""
    if not _has_columns(r.summary, ("policy", "guest"), what):
        return pd.DataFrame()
    rows = r.summary[r.summary["guest"] == ALL].drop_duplicates("policy").set_index("policy")
    missing = [p for p in r.policies if p not in rows.index]
    if missing:
        _warn(f"{what}: no guest == 'ALL' summary row for {missing}; those policies skipped")
    return rows.reindex([p for p in r.policies if p in rows.index])


def _guest_rows(r: _Results, what: str) -> pd.DataFrame:
    if not _has_columns(r.summary, ("policy", "guest"), what):
        return pd.DataFrame()
    return r.summary[r.summary["guest"] != ALL]


def _metric(r: _Results, metric: str, what: str) -> pd.DataFrame:
    """Rows of one time-series metric, or an empty frame after a warning."""
    columns = ("time_s", "policy", "guest", "metric", "value")
    if r.timeseries.empty:
        _warn(f"{what}: no timeseries in the results; skipped")
        return pd.DataFrame(columns=columns)
    if not _has_columns(r.timeseries, columns, what):
        return pd.DataFrame(columns=columns)
    rows = r.timeseries[r.timeseries["metric"] == metric]
    if rows.empty:
        _warn(f"{what}: timeseries has no '{metric}' metric; skipped")
    return rows


def _sample_interval(r: _Results, times: pd.Series) -> float | None:
    interval = r.meta.get("sample_interval_s")
    if interval:
        return float(interval)
    steps = np.diff(np.unique(times.to_numpy(dtype=float)))
    if len(steps) == 0:
        _warn("meta: no 'sample_interval_s' and a single sample; rates cannot be drawn")
        return None
    _warn("meta: no 'sample_interval_s'; using the spacing of the samples")
    return float(np.median(steps))


# ---------------------------------------------------------------------------------------------
# figure scaffolding


def _new_figure(width: float, height: float) -> Figure:
    # Constrained layout makes room for legends placed outside the axes.
    return Figure(figsize=(min(max(width, 6.0), 22.0), height), layout="constrained")


def _title(fig: Figure, name: str, r: _Results) -> None:
    scenario = r.meta.get("scenario")
    title = FIGURE_TITLES[name]
    fig.suptitle(f"{title} — {scenario}" if scenario else title, fontweight="bold")


def _policy_handles(r: _Results, policies: Iterable[str]) -> list[Patch]:
    return [Patch(facecolor=r.colors[p], label=p) for p in policies]


def _legend(fig: Figure, handles: Sequence, title: str, loc: str = "outside right upper") -> None:
    if handles:
        fig.legend(handles=list(handles), loc=loc, title=title, frameon=False)


def _bar_offsets(n_bars: int, group_width: float = 0.8) -> tuple[np.ndarray, float]:
    width = group_width / max(n_bars, 1)
    return (np.arange(n_bars) - (n_bars - 1) / 2) * width, width


def _grouped_bars(ax, groups: Sequence[str], values: pd.DataFrame, r: _Results) -> list[str]:
    """One group per row label of values, one bar per policy column; returns policies drawn."""
    drawn = [p for p in r.policies if p in values.columns and values[p].notna().any()]
    offsets, width = _bar_offsets(len(drawn))
    x = np.arange(len(groups))
    for offset, policy in zip(offsets, drawn, strict=True):
        ax.bar(x + offset, values[policy].to_numpy(dtype=float), width, color=r.colors[policy])
    ax.set_xticks(x, [str(g) for g in groups])
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    return drawn


# ---------------------------------------------------------------------------------------------
# 1. where reads are served


def _read_shares(rows: pd.DataFrame, what: str) -> pd.DataFrame | None:
    """Fractions of reads served by guest cache, hypervisor memory and (the rest) disk."""
    if {"guest_hit_ratio", "host_hit_ratio"} <= set(rows.columns):
        guest, host = rows["guest_hit_ratio"], rows["host_hit_ratio"]
    elif {"guest_hits", "host_hits", "reads"} <= set(rows.columns):
        reads = rows["reads"].where(rows["reads"] > 0)
        guest, host = rows["guest_hits"] / reads, rows["host_hits"] / reads
    else:
        _warn(f"{what}: results lack guest_hit_ratio/host_hit_ratio (and the hit counts); skipped")
        return None
    # Disk is the remainder, so a bar always sums to 100 % even if counters race at the end.
    shares = pd.DataFrame({"guest_cache": guest, "hypervisor": host}).astype(float)
    shares["disk"] = (1.0 - shares["guest_cache"] - shares["hypervisor"]).clip(lower=0.0)
    return shares * 100.0


def _source_styles(color: str) -> dict[str, dict]:
    return {
        "guest_cache": {"facecolor": color},
        "hypervisor": {"facecolor": _lighten(color, 0.6), "hatch": "///"},
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
            text_color = "white" if source == "guest_cache" else "black"
            # A white box keeps the number readable over the hatching.
            box = (
                None
                if source == "guest_cache"
                else {"facecolor": "white", "edgecolor": "none", "pad": 1}
            )
            ax.text(
                x,
                bottom + value / 2,
                f"{value:.0f}%",
                ha="center",
                va="center",
                fontsize=8,
                color=text_color,
                bbox=box,
            )
        bottom += value


def _source_handles() -> list[Patch]:
    styles = _source_styles(NEUTRAL)
    names = {"guest_cache": "guest page cache", "hypervisor": "hypervisor memory", "disk": "disk"}
    # Listed top to bottom as the segments are stacked.
    return [
        Patch(edgecolor=NEUTRAL, label=names[s], **styles[s])
        for s in ("disk", "hypervisor", "guest_cache")
    ]


def _reads_served(r: _Results) -> Figure | None:
    what = "reads_served"
    rows = _all_rows(r, what)
    shares = _read_shares(rows, what) if not rows.empty else None
    if shares is None or shares.dropna(how="all").empty:
        return None
    per_guest = _guest_rows(r, what)
    guests = [g for g in r.guests if g in set(per_guest.get("guest", []))]
    two_panels = len(guests) > 1
    n_pol = len(shares)
    units = (n_pol + 1) + (len(guests) * (n_pol + 1) if two_panels else 0)
    fig = _new_figure(3.0 + 0.45 * units, 4.8)
    if two_panels:
        ax_all, ax_guests = fig.subplots(
            1, 2, width_ratios=[n_pol + 1, len(guests) * (n_pol + 1)], sharey=True
        )
    else:
        ax_all, ax_guests = fig.subplots(1, 1), None
    _draw_shares_all(ax_all, shares, r)
    if two_panels:
        _draw_shares_per_guest(ax_guests, per_guest, guests, list(shares.index), r)
    _title(fig, what, r)
    _legend(fig, _source_handles(), "served by")
    if two_panels:
        _legend(fig, _policy_handles(r, shares.index), "policy", loc="outside right lower")
    return fig


def _draw_shares_all(ax, shares: pd.DataFrame, r: _Results) -> None:
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
    ax, per_guest, guests: list[str], policies: list[str], r: _Results
) -> None:
    # Same columns as the ALL rows, which were already checked: no second warning needed.
    shares = _read_shares(per_guest, "reads_served")
    table = pd.concat([per_guest[["policy", "guest"]], shares], axis=1).set_index(
        ["guest", "policy"]
    )
    table = table[~table.index.duplicated()]
    offsets, width = _bar_offsets(len(policies))
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


# ---------------------------------------------------------------------------------------------
# 2. latency CDF


def _policy_histogram(latency: pd.DataFrame, policy: str, what: str) -> pd.DataFrame:
    rows = latency[latency["policy"] == policy]
    total = rows[rows["guest"] == ALL] if "guest" in rows.columns else rows
    if total.empty and not rows.empty:
        # Buckets are the same log grid for every guest, so summing guests rebuilds ALL.
        _warn(f"{what}: no guest == 'ALL' histogram for {policy}; summing the guests")
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


def _latency_cdf(r: _Results) -> Figure | None:
    what = "latency_cdf"
    if r.latency.empty:
        _warn(f"{what}: no latency histogram in the results; skipped")
        return None
    if not _has_columns(r.latency, ("policy", "lo_us", "hi_us", "count"), what):
        return None
    fig = _new_figure(11.0, 4.5)
    ax_cdf, ax_tail = fig.subplots(1, 2)
    drawn = [p for p in r.policies if _draw_latency(ax_cdf, ax_tail, r, p, what)]
    if not drawn:
        return None
    _style_latency_axes(ax_cdf, ax_tail)
    _title(fig, what, r)
    _legend(fig, _policy_handles(r, drawn), "policy")
    return fig


def _draw_latency(ax_cdf, ax_tail, r: _Results, policy: str, what: str) -> bool:
    hist = _policy_histogram(r.latency, policy, what)
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


# ---------------------------------------------------------------------------------------------
# 3. memory


def _memory(r: _Results) -> Figure | None:
    what = "memory"
    rows = _all_rows(r, what)
    if rows.empty:
        return None
    present = [(c, label) for c, label in MEMORY_METRICS if c in rows.columns]
    missing = [c for c, _ in MEMORY_METRICS if c not in rows.columns]
    if missing:
        _warn(f"{what}: results lack {', '.join(missing)}; those groups skipped")
    if not present:
        return None
    mib = rows[[c for c, _ in present]].astype(float).T * PAGE_SIZE / MIB
    fig = _new_figure(2.5 + 0.5 * len(present) * (len(rows) + 1), 4.8)
    ax = fig.subplots()
    drawn = _grouped_bars(ax, [label for _, label in present], mib, r)
    for container in ax.containers:
        ax.bar_label(container, fmt="{:,.0f}", fontsize=7, padding=2)
    handles = _policy_handles(r, drawn) + _capacity_marker(ax, rows, [c for c, _ in present])
    ax.margins(y=0.12)  # headroom for the value labels
    ax.set_xlabel("memory held (ALL guests)")
    if "double_cached_pages" in mib.index and (mib.loc["double_cached_pages"] > 0).any():
        # it can exceed the pool used, which puzzles anyone who does not know why
        ax.text(0.5, -0.13, DOUBLE_CACHED_NOTE, transform=ax.transAxes, ha="center", va="top",
                fontsize=8, color=NEUTRAL)
    ax.set_ylabel("memory (MiB, 4 KiB pages)")
    _title(fig, what, r)
    _legend(fig, handles, "policy")
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


# ---------------------------------------------------------------------------------------------
# 4. disk reads over time


def _disk_reads_over_time(r: _Results) -> Figure | None:
    what = "disk_reads_over_time"
    rows = _metric(r, "disk_reads", what)
    rows = rows[rows["guest"] != HOST]
    if rows.empty:
        return None
    interval = _sample_interval(r, rows["time_s"])
    if interval is None:
        return None
    per_policy = rows.groupby(["policy", "time_s"])["value"].sum()
    warmup = float(r.meta.get("warmup_s") or 0.0)
    fig = _new_figure(10.0, 4.5)
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
    _title(fig, what, r)
    _legend(fig, _policy_handles(r, drawn), "policy")
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


# ---------------------------------------------------------------------------------------------
# 5. pool occupancy


def _pool_occupancy(r: _Results) -> Figure | None:
    """Per policy, the pool's pages stacked by the guest they are held for, and on top the pages
    held for no one guest: the total used (HOST pool_used_pages) less the guests' own. A
    location-keyed host cache counts a CoW base page to no clone, tmem's shared pool likewise,
    and a content-keyed cache counts none of its pages to a guest."""
    what = "pool_occupancy"
    rows = _metric(r, "pool_pages", what)
    rows = rows[~rows["guest"].isin([HOST, ALL])]
    if rows.empty:
        return None
    used = _metric_quiet(r, "pool_used_pages")
    size = _metric_quiet(r, "pool_pages")  # the pool itself grows and shrinks with ballooning
    # A policy whose pool never holds a page (none) gets no panel.
    held = rows.groupby("policy")["value"].sum()
    used_total = used.groupby("policy")["value"].sum() if not used.empty else pd.Series(
        dtype=float)
    with_pool = [p for p in r.policies if held.get(p, 0) > 0 or used_total.get(p, 0) > 0]
    if not with_pool:
        return None
    guests = [g for g in r.guests if g in set(rows["guest"])]
    colors = _guest_colors(guests)
    cols, nrows = _panel_grid(len(with_pool))
    fig = _new_figure(2.5 + 4.2 * cols, 0.8 + 3.4 * nrows)
    axes = np.atleast_1d(fig.subplots(nrows, cols, sharex=True, sharey=True, squeeze=False)).ravel()
    top, any_shared = 0.0, False
    for ax, policy in zip(axes, with_pool, strict=False):
        panel_top, shared = _draw_pool_panel(ax, rows[rows["policy"] == policy], used, size,
                                             policy, guests, colors, r)
        top, any_shared = max(top, panel_top), any_shared or shared
    # the panels share one y axis: it must hold the tallest of them, set once for all
    axes[0].set_ylim(0, top * 1.05 if top > 0 else 1)
    for ax in axes[len(with_pool) :]:
        ax.set_visible(False)
    for ax in axes[: len(with_pool)]:
        # Shared axes hide inner tick labels; every panel keeps its time axis readable.
        ax.tick_params(labelbottom=True)
    handles = [Patch(facecolor=c, label=g) for g, c in zip(guests, colors, strict=True)][::-1]
    if any_shared:
        handles.insert(0, Patch(label=SHARED_LABEL, **SHARED_STYLE))  # drawn on top of the stack
    if not used.empty:
        handles.append(Line2D([], [], color="black", linestyle="--", label="pool used (total)"))
    if not size.empty:
        handles.append(Line2D([], [], color="grey", linestyle=":", label="pool size"))
    _title(fig, what, r)
    _legend(fig, handles, "held for")
    return fig


def _panel_grid(n: int) -> tuple[int, int]:
    """Columns and rows for n panels: one row up to three, then a near-square grid."""
    cols = n if n <= 3 else min(3, math.ceil(math.sqrt(n)))
    return cols, math.ceil(n / cols)


def _metric_quiet(r: _Results, metric: str) -> pd.DataFrame:
    """An optional overlay metric: absent is fine, so no warning."""
    if not {"metric", "guest", "policy", "time_s", "value"} <= set(r.timeseries.columns):
        return pd.DataFrame()
    rows = r.timeseries
    return rows[(rows["metric"] == metric) & (rows["guest"] == HOST)]


def _host_series(frame: pd.DataFrame, policy: str) -> pd.Series:
    """One policy's HOST gauge in MiB, indexed by time (empty if the results lack it)."""
    if frame.empty:
        return pd.Series(dtype=float)
    line = frame[frame["policy"] == policy].drop_duplicates("time_s").sort_values("time_s")
    return pd.Series(line["value"].to_numpy(dtype=float) * PAGE_SIZE / MIB,
                     index=line["time_s"].to_numpy(dtype=float))


def _draw_pool_panel(ax, rows, used, size, policy, guests, colors,
                     r: _Results) -> tuple[float, bool]:
    """One policy's stacked occupancy; returns the highest value drawn (MiB) and whether it
    drew pages shared by several guests."""
    table = rows.pivot_table(index="time_s", columns="guest", values="value", aggfunc="sum")
    total = _host_series(used, policy)
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
    for line, style in ((total, dict(color="black", linestyle="--")),
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


# ---------------------------------------------------------------------------------------------
# 6. throughput


def _throughput(r: _Results) -> Figure | None:
    what = "throughput"
    if not _has_columns(r.summary, ("policy", "guest", "throughput_ops"), what):
        return None
    rows = r.summary[r.summary["guest"] != ALL]
    if rows.empty:
        rows = r.summary  # a summary of totals only: draw those rather than nothing
    values = rows.pivot_table(
        index="guest", columns="policy", values="throughput_ops", aggfunc="first"
    )
    groups = [g for g in (*r.guests, ALL) if g in values.index]
    values = values.reindex(groups)
    fig = _new_figure(2.5 + 0.35 * len(groups) * (len(r.policies) + 1), 4.5)
    ax = fig.subplots()
    drawn = _grouped_bars(ax, groups, values, r)
    if not drawn:
        return None
    ax.set_xlabel("guest")
    ax.set_ylabel("throughput (ops/s)")
    _title(fig, what, r)
    _legend(fig, _policy_handles(r, drawn), "policy")
    return fig


# ---------------------------------------------------------------------------------------------
# public API

_BUILDERS: Mapping[str, Callable[[_Results], Figure | None]] = MappingProxyType(
    {
        "reads_served": _reads_served,
        "latency_cdf": _latency_cdf,
        "memory": _memory,
        "disk_reads_over_time": _disk_reads_over_time,
        "pool_occupancy": _pool_occupancy,
        "throughput": _throughput,
    }
)


def figures(
    summary: pd.DataFrame,
    timeseries: pd.DataFrame | None,
    latency: pd.DataFrame | None,
    meta: Mapping,
) -> dict[str, Figure]:
    """Every comparison figure the results allow, by name; missing data warns and is skipped."""
    summary, timeseries, latency = _frame(summary), _frame(timeseries), _frame(latency)
    meta = meta or {}
    policies = _policy_order(meta, (summary, timeseries, latency))
    results = _Results(
        summary=summary,
        timeseries=timeseries,
        latency=latency,
        meta=meta,
        policies=policies,
        colors=policy_colors(policies),
        guests=_guest_order(summary, timeseries),
    )
    built = {name: build(results) for name, build in _BUILDERS.items()}
    return {name: fig for name, fig in built.items() if fig is not None}


def save(figs: Mapping[str, Figure], plots_dir: str | Path) -> list[Path]:
    """Write <name>.png (dpi 120) and <name>.svg per figure; returns the paths written."""
    plots_dir = Path(plots_dir)
    plots_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    # A fixed salt and no dates make the files byte-identical across runs, so diffs stay quiet.
    with matplotlib.rc_context({"svg.hashsalt": "tmemsim"}):
        for name, fig in figs.items():
            png, svg = plots_dir / f"{name}.png", plots_dir / f"{name}.svg"
            fig.savefig(png, dpi=120, metadata={"Software": None})
            fig.savefig(svg, metadata={"Date": None})
            written += [png, svg]
    return written
