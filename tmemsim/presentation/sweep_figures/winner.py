"""Who wins: over two swept parameters, the best policy per cell in the policy's colour, paler
the smaller its margin over the runner-up, hatched where the two 95 % confidence intervals
overlap (the win is not established by the replications)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Polygon, Rectangle

from ..style import NEUTRAL, lighten, policy_colors
from .parameters import Axis, better_direction, facets, metric_rows, policies_in, select, subtitle

FULL_MARGIN = 0.25  # a winner ahead by this relative margin (or more) is drawn in full colour
PALEST = 0.82  # how far towards white a winner by a hair is drawn
HATCH = "///"
HATCH_COLOR = (0.15, 0.15, 0.15, 0.4)
MISSING = "#F2F2F2"


def winner_cells(result, x: str, y: str, metric: str, guest: str = "ALL",
                 better: str | None = None, where: dict | None = None) -> pd.DataFrame:
    """One row per cell (and panel): winner, runner_up, margin (relative), status.

    status: "clear" (the winner's and runner-up's 95 % CIs do not overlap), "uncertain" (they
    overlap), "tie" (equal means; `tied` lists the policies), "no-ci" (fewer than 2
    replications), "single" (one policy), "missing" (no results at that cell).
    """
    params = result.parameters
    direction = better_direction(metric, better)
    fixed, dims = facets(result, [x, y], where, 1)
    rows = select(metric_rows(result, metric, guest), fixed)
    policies = policies_in(result, rows)
    rank = {p: i for i, p in enumerate(policies)}
    panels = params[dims[0]] if dims else [None]
    out = []
    for panel in panels:
        prow = rows[rows[dims[0]] == panel] if dims else rows
        for xv in params[x]:
            for yv in params[y]:
                cell = prow[(prow[x] == xv) & (prow[y] == yv)]
                rec = {"panel": panel, x: xv, y: yv}
                rec.update(_winner(cell, direction, rank))
                out.append(rec)
    frame = pd.DataFrame(out)
    frame.attrs.update(direction=direction, dims=dims, fixed=fixed, policies=policies)
    return frame


def _winner(cell: pd.DataFrame, direction: str, rank: dict) -> dict:
    empty = {"winner": None, "runner_up": None, "tied": (), "best": np.nan, "second": np.nan,
             "margin": np.nan, "status": "missing"}
    cell = cell[np.isfinite(cell["mean"].to_numpy(float))]
    if cell.empty:
        return empty
    sign = 1.0 if direction == "higher" else -1.0
    order = sorted(cell.itertuples(index=False),
                   key=lambda r: (-sign * r.mean, rank.get(r.policy, len(rank))))
    best = order[0]
    if len(order) == 1:
        return {**empty, "winner": best.policy, "best": best.mean, "status": "single"}
    second = order[1]
    scale = max(abs(best.mean), abs(second.mean))
    margin = abs(best.mean - second.mean) / scale if scale > 0 else 0.0
    tied = tuple(r.policy for r in order
                 if abs(r.mean - best.mean) <= 1e-12 * max(scale, 1e-300))
    if len(tied) > 1:
        status = "tie"
    elif min(best.n, second.n) < 2:
        status = "no-ci"
    elif direction == "higher":
        status = "uncertain" if best.ci95_low <= second.ci95_high else "clear"
    else:
        status = "uncertain" if best.ci95_high >= second.ci95_low else "clear"
    return {"winner": best.policy, "runner_up": second.policy, "tied": tied,
            "best": best.mean, "second": second.mean, "margin": margin, "status": status}


def _shade(color: str, margin: float) -> str:
    strength = 1.0 if not np.isfinite(margin) else min(margin / FULL_MARGIN, 1.0)
    return lighten(color, PALEST * (1.0 - strength))


def _ink(face: str) -> str:
    r, g, b = to_rgb(face)
    return "white" if 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.45 else "#222222"


def _margin_text(margin: float) -> str:
    if not np.isfinite(margin):
        return ""
    if margin < 0.0005:
        return "tie"
    return f"+{margin:.0%}" if margin >= 0.01 else f"+{margin:.1%}"


def _axes_names(params: dict, x: str | None, y: str | None, mode: str | None) -> tuple[str, str]:
    """The two parameters of the map (default: the first two); ValueError if it cannot be."""
    if mode == "zip":
        raise ValueError("a winner map needs a grid sweep (mode zip moves the parameters "
                         "together)")
    if len(params) < 2:
        raise ValueError("a winner map needs two swept parameters")
    names = list(params)
    x = x or names[0]
    y = y or next(n for n in names if n != x)
    for name, what in ((x, "x"), (y, "y")):
        if name not in params:
            raise ValueError(f"{what}: {name!r} is not a swept parameter; swept: "
                             f"{', '.join(params)}")
    if x == y:
        raise ValueError("x and y must be two different parameters")
    return x, y


def winner_figure(result, x: str | None = None, y: str | None = None,
                  metric: str = "read_hit_ratio", guest: str = "ALL", better: str | None = None,
                  where: dict | None = None) -> Figure:
    """The winner map of metric over swept parameters x and y (default: the first two)."""
    params = result.parameters
    x, y = _axes_names(params, x, y, result.meta.get("mode"))
    cells = winner_cells(result, x, y, metric, guest, better, where)
    direction, dims, fixed = cells.attrs["direction"], cells.attrs["dims"], cells.attrs["fixed"]
    policies = list(result.policies) or cells.attrs["policies"]
    colors = policy_colors(policies)
    xa, ya = Axis(params[x]), Axis(params[y])
    xs, ys = xa.ordered(), ya.ordered()
    panels = params[dims[0]] if dims else [None]
    cell_w, cell_h = (1.35, 0.62) if len(xs) * len(ys) <= 120 else (0.5, 0.35)
    width = len(panels) * max(len(xs) * cell_w + 1.2, 3.2) + 3.4
    height = max(len(ys) * cell_h + 2.0, 3.8)
    fig = Figure(figsize=(min(width, 26), min(height, 20)), layout="constrained")
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    text = len(xs) * len(ys) <= 120
    for ax, panel in zip(axes, panels, strict=True):
        sub = cells[cells["panel"] == panel] if dims else cells
        for rec in sub.to_dict("records"):
            _draw_cell(ax, xs.index(rec[x]), ys.index(rec[y]), rec, colors, text)
        _panel_axes(ax, xa, ya, xs, ys, x)
        if dims:
            ax.set_title(f"{dims[0]} = {panel}", fontsize=10)
    axes[0].set_ylabel(y)
    fig.suptitle(f"Who wins on {metric} ({direction} is better) — "
                 f"{result.meta.get('scenario', '')}\n{subtitle(result, guest, fixed)}",
                 fontsize=11)
    fig.legend(handles=_winner_legend(policies, colors, cells, set(cells["status"])),
               loc="outside right center", frameon=False, title="winner", alignment="left")
    return fig


def _panel_axes(ax, xa: Axis, ya: Axis, xs: list, ys: list, x: str) -> None:
    """One panel's frame: a cell per value pair, the values as tick labels, no spines."""
    ax.set_xlim(-0.5, len(xs) - 0.5)
    ax.set_ylim(-0.5, len(ys) - 0.5)
    ax.set_xticks(range(len(xs)), [xa.text(v) for v in xs])
    ax.set_yticks(range(len(ys)), [ya.text(v) for v in ys])
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    if any(len(xa.text(v)) > 6 for v in xs):
        for label in ax.get_xticklabels():
            label.set_rotation(30)
            label.set_horizontalalignment("right")
    ax.set_xlabel(x)


def _draw_cell(ax, i: int, j: int, rec: dict, colors: dict, text: bool) -> None:
    status = rec["status"]
    corner = (i - 0.5, j - 0.5)
    if status == "missing":
        ax.add_patch(Rectangle(corner, 1, 1, facecolor=MISSING, edgecolor="white", linewidth=2))
        if text:
            ax.text(i, j, "no data", ha="center", va="center", fontsize=7, color="#888888")
        return
    face = _shade(colors.get(rec["winner"], NEUTRAL), rec["margin"])
    if status == "tie":  # split the cell between the first two tied policies, palest shade
        a, b = (_shade(colors.get(p, NEUTRAL), 0.0) for p in rec["tied"][:2])
        face = a
        ax.add_patch(Polygon([(i - 0.5, j - 0.5), (i - 0.5, j + 0.5), (i + 0.5, j + 0.5)],
                             facecolor=a, edgecolor="none"))
        ax.add_patch(Polygon([(i - 0.5, j - 0.5), (i + 0.5, j - 0.5), (i + 0.5, j + 0.5)],
                             facecolor=b, edgecolor="none"))
        ax.add_patch(Rectangle(corner, 1, 1, fill=False, edgecolor="white", linewidth=2))
    else:
        ax.add_patch(Rectangle(corner, 1, 1, facecolor=face, edgecolor="white", linewidth=2))
    if status in ("uncertain", "tie"):
        ax.add_patch(Rectangle(corner, 1, 1, fill=False, hatch=HATCH, edgecolor=HATCH_COLOR,
                               linewidth=0))
    if text:
        _cell_text(ax, i, j, rec, face)


def _cell_text(ax, i: int, j: int, rec: dict, face: str) -> None:
    """The winner and its margin over the runner-up (or the tied policies) on a cell."""
    status = rec["status"]
    if status == "tie":
        names = list(rec["tied"])
        label = "\n".join(" = ".join(names[k:k + 2]) for k in range(0, len(names), 2))
        label = label + "\ntie"
    else:
        label = rec["winner"]
        if rec["runner_up"]:
            mark = "≈ " if status == "uncertain" else ""
            label += f"\n{mark}{_margin_text(rec['margin'])} vs {rec['runner_up']}"
    boxed = status in ("uncertain", "tie")
    ax.text(i, j, label, ha="center", va="center", fontsize=7, linespacing=1.35,
            color=_ink(face), fontweight="bold" if status in ("clear", "no-ci") else "normal",
            bbox=dict(boxstyle="round,pad=0.15", facecolor=face, edgecolor="none", alpha=0.9)
            if boxed else None)


def _winner_legend(policies, colors, cells, statuses) -> list:
    winners = cells["winner"].dropna()
    won = set(winners) | {p for tied in cells["tied"] for p in (tied or ())}
    handles = [Patch(facecolor=colors[p], label=p if p in won else f"{p} (never wins)")
               for p in policies]
    # the shading scale, in the colour of the policy that wins most cells
    example = winners.mode().iloc[0] if len(winners) else None
    ramp = colors.get(example, NEUTRAL)
    handles.append(Patch(facecolor="none", edgecolor="none",
                         label=f"shade: margin over the runner-up\n(e.g. {example} ahead by)"
                         if example else "shade: margin over the runner-up"))
    for margin in (0.0, FULL_MARGIN / 2, FULL_MARGIN):
        label = {0.0: "~0 %", FULL_MARGIN: f"≥ {FULL_MARGIN:.0%}"}.get(
            margin, f"{margin:.1%}".replace(".0%", "%"))
        handles.append(Patch(facecolor=_shade(ramp, margin), label=label))
    handles.append(Patch(facecolor="none", edgecolor="none", label=""))
    handles.append(Patch(facecolor="white", edgecolor=HATCH_COLOR, hatch=HATCH,
                         label="uncertain (≈): the 95 % CIs\nof the top two overlap"))
    if "tie" in statuses:
        handles.append(Patch(facecolor="none", edgecolor="none",
                             label="split cell: equal means (tie)"))
    if "no-ci" in statuses:
        handles.append(Patch(facecolor="none", edgecolor="none",
                             label="(1 replication: no CIs,\n uncertainty not assessed)"))
    if "missing" in statuses:
        handles.append(Patch(facecolor=MISSING, label="no data (failed)"))
    return handles
