"""Sweep figures, drawn from a SweepResult's summary only (no live model objects).

- line_figure: a metric against one swept parameter, one line per policy with its 95 % CI band;
  the other swept parameters are fixed (`where`) or laid out as panels.
- winner_figure ("who wins"): over two swept parameters, the best policy per cell in the
  policy's colour, paler the smaller its margin over the runner-up, hatched where the two 95 %
  confidence intervals overlap (the win is not established by the replications).

Colours are tmemsim.plots' (policy_colors), so a policy looks the same in every figure.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Polygon, Rectangle

from .plots import NEUTRAL, PlotDataWarning, _lighten, policy_colors
from .units import parse_duration, parse_size

FULL_MARGIN = 0.25  # a winner ahead by this relative margin (or more) is drawn in full colour
PALEST = 0.82  # how far towards white a winner by a hair is drawn
HATCH = "///"
HATCH_COLOR = (0.15, 0.15, 0.15, 0.4)
MISSING = "#F2F2F2"
# Policies with equal results draw on top of each other: shapes and dashes keep each visible.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<")
DASHES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (3, 1)))

HIGHER_IS_BETTER = {"guest_hit_ratio", "host_hit_ratio", "read_hit_ratio", "throughput_ops",
                    "fairness_jain", "guest_hits", "host_hits", "tmem_get_hits"}
LOWER_IS_BETTER = {"disk_reads", "disk_writes", "swap_disk_io", "stale_reads",
                   "double_cached_pages", "double_cached_pages_avg", "tmem_puts_rejected",
                   "frontswap_rejected"}
_LABELS = {
    "read_hit_ratio": "read hit ratio (guest + hypervisor memory)",
    "guest_hit_ratio": "guest page-cache hit ratio",
    "host_hit_ratio": "hypervisor-memory hit ratio",
    "throughput_ops": "throughput (requests/s)",
    "fairness_jain": "fairness (Jain's index)",
}


# ---------------------------------------------------------------------------------------------
# reading the summary


def metric_label(metric: str) -> str:
    if metric in _LABELS:
        return _LABELS[metric]
    text = metric
    if text.endswith("_us"):
        text = text[:-3] + " (µs)"
    return text.replace("_", " ")


def better_direction(metric: str, better: str | None = None) -> str:
    """"higher" or "lower": which end of the metric wins."""
    if better is not None:
        if better not in ("higher", "lower"):
            raise ValueError(f"better must be 'higher' or 'lower', got {better!r}")
        return better
    if metric in HIGHER_IS_BETTER:
        return "higher"
    if metric in LOWER_IS_BETTER or "latency" in metric:
        return "lower"
    raise ValueError(f"cannot tell whether a higher or a lower {metric} wins; "
                     "pass better='higher' or better='lower'")


class Axis:
    """Where a parameter's values go on an axis: numbers, sizes and durations by value, anything
    else in sweep order."""

    def __init__(self, labels: list):
        self.labels = list(labels)
        self.numeric = True
        self.kind = "number"
        values = self._values(self.labels)
        if values is None:
            self.numeric, self.kind = False, "category"
            values = [float(i) for i in range(len(self.labels))]
        self.values = values
        self.pos = {self._key(label): v for label, v in zip(self.labels, values, strict=True)}
        positive = self.numeric and min(values) > 0
        self.log = bool(positive and len(values) > 2 and max(values) / min(values) >= 16)

    def _values(self, labels):
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in labels):
            return [float(v) for v in labels]
        if not all(isinstance(v, str) for v in labels):
            return None
        for kind, parse in (("size", parse_size), ("duration", parse_duration)):
            try:
                out = [float(parse(v)) for v in labels]
            except ValueError:
                continue
            self.kind = kind
            return out
        return None

    @staticmethod
    def _key(label):
        return label.item() if isinstance(label, np.generic) else label

    def position(self, label) -> float:
        return self.pos[self._key(label)]

    def ordered(self) -> list:
        """Labels in axis order (ascending values; sweep order for categories)."""
        if not self.numeric:
            return list(self.labels)
        return [lab for _, lab in sorted(zip(self.values, self.labels, strict=True),
                                         key=lambda t: t[0])]

    def text(self, label) -> str:
        if isinstance(label, float):
            return f"{label:g}"
        return str(label)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def _check(result, metric: str, guest: str) -> pd.DataFrame:
    s = result.summary
    if s.empty:
        raise ValueError("the sweep has no results to draw (every point failed?)")
    metrics = list(dict.fromkeys(s["metric"]))
    if metric not in metrics:
        raise ValueError(f"unknown metric {metric!r}; the summary has {', '.join(metrics)}")
    guests = list(dict.fromkeys(s["guest"]))
    if guest not in guests:
        raise ValueError(f"unknown guest {guest!r}; the summary has {', '.join(guests)}")
    return s[(s["metric"] == metric) & (s["guest"] == guest)]


def _facets(result, used: list[str], where, max_dims: int) -> tuple[dict, list[str]]:
    """(fixed values, parameters laid out as panels) for a figure over the `used` parameters."""
    params = result.parameters
    where = dict(where or {})
    for name, value in where.items():
        if name not in params:
            raise ValueError(f"where: {name!r} is not a swept parameter; swept: "
                             f"{', '.join(params)}")
        if name in used:
            raise ValueError(f"where: {name!r} is on an axis of the figure; it cannot be fixed")
        if value not in params[name]:
            raise ValueError(f"where: {name}={value!r} is not one of its values {params[name]}")
    if result.meta.get("mode") == "zip":  # the other parameters move with the axis
        return where, []
    free = [p for p in params if p not in used and p not in where and len(params[p]) > 1]
    if len(free) > max_dims:
        raise ValueError(f"too many free parameters for one figure: fix some of {free} with "
                         "where={...}")
    return where, free


def _select(rows: pd.DataFrame, fixed: dict) -> pd.DataFrame:
    for name, value in fixed.items():
        rows = rows[rows[name] == value]
    return rows


def _policies(result, rows: pd.DataFrame) -> list[str]:
    present = set(rows["policy"])
    order = [p for p in result.policies if p in present]
    return order + sorted(present - set(order))


def _subtitle(result, guest: str, fixed: dict) -> str:
    reps = result.meta.get("replications", 1)
    parts = [f"guest {guest}" if guest != "ALL" else "all guests",
             f"{reps} replication{'s' if reps != 1 else ''}"]
    parts += [f"{k} = {v}" for k, v in fixed.items()]
    others = [f"{k} = {v[0]}" for k, v in result.parameters.items() if len(v) == 1]
    return " · ".join(parts + others)


def _panel_title(names: list[str], values: tuple) -> str:
    return ",  ".join(f"{n} = {v}" for n, v in zip(names, values, strict=True) if n)


# ---------------------------------------------------------------------------------------------
# metric against a parameter


def line_figure(result, metric: str = "read_hit_ratio", x: str | None = None,
                guest: str = "ALL", where: dict | None = None) -> Figure:
    params = result.parameters
    if not params:
        raise ValueError("the sweep has no parameters to draw against")
    x = x or next(iter(params))
    if x not in params:
        raise ValueError(f"x: {x!r} is not a swept parameter; swept: {', '.join(params)}")
    rows = _check(result, metric, guest)
    fixed, dims = _facets(result, [x], where, 2)
    rows = _select(rows, fixed)
    axis = Axis(params[x])
    policies = _policies(result, rows)
    colors = policy_colors(policies)

    if len(dims) == 2:
        grid_vals = [(a, b) for a in params[dims[0]] for b in params[dims[1]]]
        nrows, ncols = len(params[dims[0]]), len(params[dims[1]])
    elif len(dims) == 1:
        grid_vals = [(a,) for a in params[dims[0]]]
        ncols = min(len(grid_vals), 4)
        nrows = -(-len(grid_vals) // ncols)
    else:
        grid_vals, nrows, ncols = [()], 1, 1
    fig = Figure(figsize=(min(max(3.6 * ncols + 2.6, 8.0), 24), min(2.9 * nrows + 1.4, 30)),
                 layout="constrained")
    axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False)
    reps = int(result.meta.get("replications", 1))
    for k, values in enumerate(grid_vals):
        ax = axes.flat[k]
        panel = _select(rows, dict(zip(dims, values, strict=True)))
        for policy in policies:
            sub = panel[panel["policy"] == policy]
            if sub.empty:
                continue
            xs = np.array([axis.position(v) for v in sub[x]])
            order = np.argsort(xs, kind="stable")
            xs = xs[order]
            mean = sub["mean"].to_numpy(float)[order]
            lo = sub["ci95_low"].to_numpy(float)[order]
            hi = sub["ci95_high"].to_numpy(float)[order]
            color = colors[policy]
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
        if dims:
            ax.set_title(_panel_title(dims, values), fontsize=9)
        ax.grid(alpha=0.3)
        ax.set_axisbelow(True)
    for ax in axes.flat[len(grid_vals):]:
        ax.set_visible(False)
    _x_ticks(axes.flat[0], axis)
    fig.supxlabel(x + _unit_hint(axis))
    fig.supylabel(metric_label(metric))
    fig.suptitle(f"{metric} vs {x} — {result.meta.get('scenario', '')}\n"
                 f"{_subtitle(result, guest, fixed)}", fontsize=11)
    handles = [Line2D([], [], label=p, **_style(policies, p, colors[p])) for p in policies]
    if reps >= 2 and axis.numeric:
        handles.append(Patch(facecolor=NEUTRAL, alpha=0.25, label="95 % CI (Student t)"))
    elif reps >= 2:
        handles.append(Line2D([], [], color=NEUTRAL, marker="|", markersize=10, linestyle="none",
                              label="95 % CI (Student t)"))
    fig.legend(handles=handles, loc="outside right upper", frameon=False, title="policy")
    return fig


def _style(policies: list[str], policy: str, color: str) -> dict:
    k = policies.index(policy)
    return {"color": color, "marker": MARKERS[k % len(MARKERS)],
            "linestyle": DASHES[k % len(DASHES)], "markersize": 6 - 0.6 * (k % 4),
            "markerfacecolor": color if k % 2 == 0 else "white", "markeredgecolor": color,
            "linewidth": 2.0 - 0.25 * (k % 4), "zorder": 3 + k}


def _unit_hint(axis: Axis) -> str:
    return " (log scale)" if axis.log else ""


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
        from .units import format_size

        ax.xaxis.set_major_formatter(lambda v, _pos: format_size(v))


# ---------------------------------------------------------------------------------------------
# who wins


def winner_cells(result, x: str, y: str, metric: str, guest: str = "ALL",
                 better: str | None = None, where: dict | None = None) -> pd.DataFrame:
    """One row per cell (and panel): winner, runner_up, margin (relative), status.

    status: "clear" (the winner's and runner-up's 95 % CIs do not overlap), "uncertain" (they
    overlap), "tie" (equal means; `tied` lists the policies), "no-ci" (fewer than 2
    replications), "single" (one policy), "missing" (no results at that cell).
    """
    params = result.parameters
    direction = better_direction(metric, better)
    fixed, dims = _facets(result, [x, y], where, 1)
    rows = _select(_check(result, metric, guest), fixed)
    policies = _policies(result, rows)
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
    return _lighten(color, PALEST * (1.0 - strength))


def _ink(face: str) -> str:
    r, g, b = to_rgb(face)
    return "white" if 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.45 else "#222222"


def _margin_text(margin: float) -> str:
    if not np.isfinite(margin):
        return ""
    if margin < 0.0005:
        return "tie"
    return f"+{margin:.0%}" if margin >= 0.01 else f"+{margin:.1%}"


def winner_figure(result, x: str | None = None, y: str | None = None,
                  metric: str = "read_hit_ratio", guest: str = "ALL", better: str | None = None,
                  where: dict | None = None) -> Figure:
    params = result.parameters
    if result.meta.get("mode") == "zip":
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
    statuses = set(cells["status"])
    for ax, panel in zip(axes, panels, strict=True):
        sub = cells[cells["panel"] == panel] if dims else cells
        for rec in sub.to_dict("records"):
            i, j = xs.index(rec[x]), ys.index(rec[y])
            _draw_cell(ax, i, j, rec, colors, text)
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
        if dims:
            ax.set_title(f"{dims[0]} = {panel}", fontsize=10)
    axes[0].set_ylabel(y)
    fig.suptitle(f"Who wins on {metric} ({direction} is better) — "
                 f"{result.meta.get('scenario', '')}\n{_subtitle(result, guest, fixed)}",
                 fontsize=11)
    fig.legend(handles=_winner_legend(policies, colors, cells, statuses),
               loc="outside right center", frameon=False, title="winner", alignment="left")
    return fig


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
    if not text:
        return
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


# ---------------------------------------------------------------------------------------------
# the set save() draws


def default_figures(result, metrics) -> dict[str, Figure]:
    """Per metric: the metric against every varying parameter; with a grid of two or more, the
    winner map of the first two. A figure that would need `where` (too many free parameters), or
    a winner map of a metric with no known better end, is left out."""
    params = result.parameters
    varying = [p for p, v in params.items() if len(v) > 1]
    # lines against numeric parameters; categories (cow/copy) are panels, unless all are
    numeric = [p for p in varying if Axis(params[p]).numeric] or varying
    axes = numeric[:1] if result.meta.get("mode") == "zip" else numeric
    wanted: list[tuple[str, Callable[[], Figure]]] = []
    for metric in metrics:
        for x in axes:
            wanted.append((f"{metric}_vs_{_slug(x)}",
                           functools.partial(line_figure, result, metric, x=x)))
        if result.meta.get("mode") != "zip" and len(varying) >= 2:
            wanted.append((f"winner_{metric}_{_slug(varying[0])}_{_slug(varying[1])}",
                           functools.partial(winner_figure, result, varying[0], varying[1],
                                             metric)))
    figs: dict[str, Figure] = {}
    for name, draw in wanted:
        try:
            figs[name] = draw()
        except ValueError:
            continue
        except Exception as exc:  # a figure must never cost the results of a whole sweep
            warnings.warn(f"sweep figure {name} skipped: {type(exc).__name__}: {exc}",
                          PlotDataWarning, stacklevel=2)
    return figs
