"""The figures of `tmemsim verify`: one per family, the simulated numbers against their
expectations (theory curves for irm and queue, bars of expected and simulated for the rest)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tmemsim.analysis.theory import (
    che_lru_hit_ratio,
    fifo_irm_hit_ratio,
    md1_response,
    mm1_response,
    mmc_wait,
    zipf_popularities,
)
from tmemsim.analysis.verify import CHECKS, Check

from .style import SERIES_PALETTE

PASSED, FAILED, SKIPPED = "#009E73", "#D55E00", "#DDDDDD"  # Okabe–Ito green, vermilion
BAR_TITLES = {
    "peer": "Miss ratio: tmemsim guest cache vs libCacheSim (must be equal)",
    "exclusive": "Guest + tmem hits vs one LRU of the summed size (must be equal)",
    "sharing": "Disk reads of the base image vs sharing arithmetic (must be equal)",
    "rmw": "Reads of pages written in part while cold: one each (must be equal)",
    "conservation": "Broken invariants per scenario and policy (must be 0)",
    "engine": "Requests measured in the duration (must equal the duration in s)",
    "curve": "One-pass curve against full runs (exact: hits; library: read hit ratio)",
    "compression": "Compressed pool vs the uncompressed pool it must equal (hits; read seconds)",
}

Params = Callable[[str], dict]  # a row's check name -> the check's parameters


def figures(table: pd.DataFrame, checks: Mapping[str, Check] | None = None) -> dict:
    """One matplotlib Figure per family present in the table, by family name.

    `checks` is the registry the table was run with, if not CHECKS (figures read the checks'
    parameters: cache sizes, loads)."""
    registry = CHECKS if checks is None else checks
    by_name = {c.name: c for c in registry.values()}

    def params(name: str) -> dict:
        check = by_name.get(name.split(":")[0])
        return dict(check.params) if check is not None else {}

    draw = {"irm": _figure_irm, "queue": _figure_queue, "inferred": _figure_inferred}
    out = {}
    for family, rows in table.groupby("family", sort=False):
        out[family] = draw.get(family, _figure_bars)(family, rows, params)
    return out


def _new_figure(width: float, height: float, panels: int = 1):
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, panels, squeeze=False)[0]
    return fig, axes


def _figure_irm(family: str, rows: pd.DataFrame, params: Params) -> Figure:
    """Hit ratio against cache size: theory curves, simulated points, per alpha."""
    fig, axes = _new_figure(11, 4.2, 2)
    labels = {"lru": "LRU vs Che's approximation", "fifo": "FIFO vs FIFO IRM approximation"}
    points = [(r, params(r.check)) for r in rows.itertuples()]
    for ax, kind in zip(axes, ("lru", "fifo"), strict=True):
        mine = [(r, p) for r, p in points if p.get("cache") == kind]
        alphas = sorted({p["alpha"] for _, p in mine})
        for color, alpha in zip(SERIES_PALETTE, alphas, strict=False):
            _irm_alpha(ax, kind, alpha, [(r, p) for r, p in mine if p["alpha"] == alpha], color)
        ax.set_xscale("log")
        ax.set_xlabel("page cache, % of the footprint")
        ax.set_ylabel("hit ratio")
        ax.set_title(labels[kind])
        ax.grid(alpha=0.3)
        if alphas:
            ax.legend(fontsize=8, title="lines: theory, dots: simulated", title_fontsize=8)
    fig.suptitle("IRM hit ratios (tolerance ±0.01; red = failed)")
    return fig


def _irm_alpha(ax, kind: str, alpha: float, points: list, color: str) -> None:
    """One Zipf alpha: its theory curve over cache sizes and its simulated points."""
    theory = {"lru": che_lru_hit_ratio, "fifo": fifo_irm_hit_ratio}[kind]
    n = points[0][1]["footprint"]
    pop = zipf_popularities(n, alpha)
    grid = np.geomspace(0.005, 0.4, 40)
    ax.plot(grid * 100, [theory(pop, round(f * n)) for f in grid], color=color,
            lw=1.2, label=f"theory α={alpha}")
    for r, p in points:
        ax.plot(p["fraction"] * 100, r.simulated, "o", color=color if r.passed else "red",
                mfc="none" if r.passed is None else None, ms=6)


def _figure_queue(family: str, rows: pd.DataFrame, params: Params) -> Figure:
    """Mean response and wait against load: M/M/1, M/D/1, M/M/c curves, simulated points;
    Little's law as simulated L against lambda W."""
    fig, (ax, ax2, ax3) = _new_figure(14, 4.2, 3)
    channels = sorted({params(r.check).get("channels", 1) for r in rows.itertuples()} - {1})
    _queue_theory(ax, ax2, channels)
    for r in rows.itertuples():
        p = params(r.check)
        color = "black" if r.passed else "red"
        if p.get("model") == "mm1" and not r.check.startswith("queue/little"):
            ax.plot(p["rho"], r.simulated * 1e3, "o", color=color)
        elif p.get("model") == "md1":
            ax.plot(p["rho"], r.simulated * 1e3, "s", color=color)
        elif p.get("model") == "mmc":
            ax2.plot(p["rho"], r.simulated * 1e3, "o", color=color)
        if r.check.startswith("queue/little"):
            ax3.plot(r.expected, r.simulated, "o", color=color)
            ax3.annotate(f"ρ={p.get('rho')}", (r.expected, r.simulated), fontsize=8,
                         xytext=(4, -10), textcoords="offset points")
    for a in (ax, ax2):
        a.set_xlabel("utilisation ρ")
        a.set_yscale("log")
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    lim = [0, max([1.0] + [r.expected * 1.2 for r in rows.itertuples()
                           if r.check.startswith("queue/little")])]
    ax3.plot(lim, lim, color="grey", lw=1)
    ax3.set_xlabel("λ W from the disk's counters")
    ax3.set_ylabel("sampled time average of requests in system")
    ax3.set_title("Little's law")
    ax3.grid(alpha=0.3)
    fig.suptitle("Disk as a queue (points: simulated, red = failed; tolerance 3%)")
    return fig


def _queue_theory(ax, ax2, channels: list[int]) -> None:
    """The theory curves: M/M/1 and M/D/1 response on ax, M/M/c waits on ax2."""
    rho = np.linspace(0.05, 0.93, 80)
    service = 1e-3  # the queue scenario's mean service time (total rate 1000/s)
    ax.plot(rho, [mm1_response(r / service, 1 / service) * 1e3 for r in rho],
            color=SERIES_PALETTE[0], label="M/M/1 theory")
    ax.plot(rho, [md1_response(r / service, service) * 1e3 for r in rho],
            color=SERIES_PALETTE[1], label="M/D/1 theory")
    ax.set_title("single channel: mean response")
    ax.set_ylabel("ms")
    busy = rho[rho >= 0.3]  # below, an M/M/c wait is vanishingly small
    for color, c in zip(SERIES_PALETTE[2:], channels or [4], strict=False):
        ax2.plot(busy, [mmc_wait(r / service, 1 / (service * c), c) * 1e3 for r in busy],
                 color=color, label=f"M/M/{c} Erlang C wait")
    ax2.set_title("several channels: mean wait in queue")
    ax2.set_ylabel("ms")


def _figure_inferred(family: str, rows: pd.DataFrame, params: Params) -> Figure:
    """Host hits against inference accuracy: the binomial expectation, simulated points, and
    the straight line a x H(1) (each missed eviction one hit lost) for comparison."""
    fig, axes = _new_figure(6.5, 4.2)
    ax = axes[0]
    points = sorted((params(r.check)["accuracy"], r) for r in rows.itertuples()
                    if "accuracy" in params(r.check))
    if points:
        a = np.array([p for p, _ in points])
        expected = np.array([r.expected for _, r in points], dtype=float)
        ax.plot(a, expected, color=SERIES_PALETTE[0], lw=1.2, label="expected (binomial)")
        full = [r.expected for p, r in points if p == 1.0]
        if full:
            grid = np.linspace(0, 1, 11)
            ax.plot(grid, grid * full[0], color="grey", lw=1, ls="--",
                    label="a × hits at a = 1")
        for p, r in points:
            ax.plot(p, r.simulated, "o", color="black" if r.passed else "red")
        ax.plot([], [], "o", color="black", label="simulated")
    ax.set_xlabel("inference accuracy a (fraction of clean evictions detected)")
    ax.set_ylabel("host hits")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("host-exclusive: host hits as inference misses evictions (red = failed)")
    return fig


def _figure_bars(family: str, rows: pd.DataFrame, params: Params) -> Figure:
    """Expected and simulated side by side for each check (skipped ones marked)."""
    names = [r.check.split("/", 1)[1] for r in rows.itertuples()]
    fig, axes = _new_figure(max(6.0, 0.45 * len(rows) + 2), 4.4)
    ax = axes[0]
    x = np.arange(len(rows))
    expected = rows["expected"].to_numpy(dtype=float)
    simulated = rows["simulated"].to_numpy(dtype=float)
    ax.bar(x - 0.2, np.nan_to_num(expected), 0.4, color="#999999", label="expected")
    colors = [PASSED if p is True else FAILED if p is False else SKIPPED for p in rows["passed"]]
    ax.bar(x + 0.2, np.nan_to_num(simulated), 0.4, color=colors, label="simulated")
    for i, p in enumerate(rows["passed"]):
        mark = "skipped" if p is None or (isinstance(p, float) and math.isnan(p)) else \
            ("ok" if p else "FAIL")
        top = np.nanmax([expected[i], simulated[i], 0]) if not (
            math.isnan(expected[i]) and math.isnan(simulated[i])) else 0
        ax.annotate(mark, (i, top), ha="center", va="bottom", fontsize=7,
                    xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(x, names, rotation=60, ha="right", fontsize=8)
    ax.set_ylim(bottom=0, top=None if np.nanmax(np.r_[expected, simulated, 0]) > 0 else 1)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(BAR_TITLES.get(family, family))
    return fig
