"""A metric against one swept parameter: one line per policy with its 95 % CI band; the other
swept parameters are fixed (`where`) or laid out as panels."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from tmemsim.units import format_size

from ..style import NEUTRAL, policy_colors
from .parameters import (
    Axis,
    facets,
    metric_label,
    metric_rows,
    panel_title,
    policies_in,
    select,
    subtitle,
)

# Policies with equal results draw on top of each other: shapes and dashes keep each visible.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<")
DASHES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (3, 1)))


def line_figure(result, metric: str = "read_hit_ratio", x: str | None = None,
                guest: str = "ALL", where: dict | None = None) -> Figure:
    """The metric against swept parameter x (default: the first) for one guest (or ALL)."""
    params = result.parameters
    if not params:
        raise ValueError("the sweep has no parameters to draw against")
    x = x or next(iter(params))
    if x not in params:
        raise ValueError(f"x: {x!r} is not a swept parameter; swept: {', '.join(params)}")
    rows = metric_rows(result, metric, guest)
    fixed, dims = facets(result, [x], where, 2)
    rows = select(rows, fixed)
    axis = Axis(params[x])
    policies = policies_in(result, rows)
    colors = policy_colors(policies)
    grid_vals, nrows, ncols = _grid(params, dims)
    fig = Figure(figsize=(min(max(3.6 * ncols + 2.6, 8.0), 24), min(2.9 * nrows + 1.4, 30)),
                 layout="constrained")
    axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False)
    for k, values in enumerate(grid_vals):
        ax = axes.flat[k]
        panel = select(rows, dict(zip(dims, values, strict=True)))
        for policy in policies:
            _draw_policy(ax, panel[panel["policy"] == policy], x, axis, policies, policy,
                         colors[policy])
        if dims:
            ax.set_title(panel_title(dims, values), fontsize=9)
        ax.grid(alpha=0.3)
        ax.set_axisbelow(True)
    for ax in axes.flat[len(grid_vals):]:
        ax.set_visible(False)
    _x_ticks(axes.flat[0], axis)
    fig.supxlabel(x + (" (log scale)" if axis.log else ""))
    fig.supylabel(metric_label(metric))
    fig.suptitle(f"{metric} vs {x} — {result.meta.get('scenario', '')}\n"
                 f"{subtitle(result, guest, fixed)}", fontsize=11)
    reps = int(result.meta.get("replications", 1))
    fig.legend(handles=_handles(policies, colors, reps, axis), loc="outside right upper",
               frameon=False, title="policy")
    return fig


def _grid(params: dict, dims: list[str]) -> tuple[list[tuple], int, int]:
    """The panels' parameter values, rows and columns: a grid over two panel parameters, up to
    four columns over one, a single panel over none."""
    if len(dims) == 2:
        grid_vals = [(a, b) for a in params[dims[0]] for b in params[dims[1]]]
        return grid_vals, len(params[dims[0]]), len(params[dims[1]])
    if len(dims) == 1:
        grid_vals = [(a,) for a in params[dims[0]]]
        ncols = min(len(grid_vals), 4)
        return grid_vals, -(-len(grid_vals) // ncols), ncols
    return [()], 1, 1


def _draw_policy(ax, sub: pd.DataFrame, x: str, axis: Axis, policies: list[str], policy: str,
                 color: str) -> None:
    """One policy's means and 95 % CIs in one panel: a line and band along a numeric axis,
    dodged points with CI bars over categories."""
    if sub.empty:
        return
    xs = np.array([axis.position(v) for v in sub[x]])
    order = np.argsort(xs, kind="stable")
    xs = xs[order]
    mean = sub["mean"].to_numpy(float)[order]
    lo = sub["ci95_low"].to_numpy(float)[order]
    hi = sub["ci95_high"].to_numpy(float)[order]
    ok = np.isfinite(lo) & np.isfinite(hi)
    style = _style(policies, policy, color)
    if not axis.numeric:  # categories: dodged points with CI bars, no lines between
        k = policies.index(policy)
        xs = xs + (k - (len(policies) - 1) / 2) * min(0.3 / len(policies), 0.08)
        style["linestyle"] = "none"
        if ok.any():
            ax.errorbar(xs[ok], mean[ok], yerr=[mean[ok] - lo[ok], hi[ok] - mean[ok]],
                        fmt="none", ecolor=color, elinewidth=1.4, capsize=3)
    elif ok.any():
        ax.fill_between(xs, np.where(ok, lo, mean), np.where(ok, hi, mean), color=color,
                        alpha=0.18, linewidth=0)
    ax.plot(xs, mean, **style)


def _handles(policies: list[str], colors: dict, reps: int, axis: Axis) -> list:
    """The legend: a line per policy, and how the CI is drawn when there is one."""
    handles = [Line2D([], [], label=p, **_style(policies, p, colors[p])) for p in policies]
    if reps >= 2 and axis.numeric:
        handles.append(Patch(facecolor=NEUTRAL, alpha=0.25, label="95 % CI (Student t)"))
    elif reps >= 2:
        handles.append(Line2D([], [], color=NEUTRAL, marker="|", markersize=10, linestyle="none",
                              label="95 % CI (Student t)"))
    return handles


def _style(policies: list[str], policy: str, color: str) -> dict:
    k = policies.index(policy)
    return {"color": color, "marker": MARKERS[k % len(MARKERS)],
            "linestyle": DASHES[k % len(DASHES)], "markersize": 6 - 0.6 * (k % 4),
            "markerfacecolor": color if k % 2 == 0 else "white", "markeredgecolor": color,
            "linewidth": 2.0 - 0.25 * (k % 4), "zorder": 3 + k}


def _x_ticks(ax, axis: Axis) -> None:
    if axis.log:
        ax.set_xscale("log", base=2 if axis.kind == "size" else 10)
    if not axis.numeric:
        ax.set_xlim(-0.5, len(axis.values) - 0.5)
    if not axis.numeric or len(axis.values) <= 12:
        ax.set_xticks(axis.values, [axis.text(v) for v in axis.labels])
        ax.minorticks_off()
        if any(len(axis.text(v)) > 6 for v in axis.labels):
            for label in ax.get_xticklabels():
                label.set_rotation(30)
                label.set_horizontalalignment("right")
    if axis.kind == "size" and not (not axis.numeric or len(axis.values) <= 12):
        ax.xaxis.set_major_formatter(lambda v, _pos: format_size(v))
