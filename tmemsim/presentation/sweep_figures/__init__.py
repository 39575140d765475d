"""Sweep figures, drawn from a SweepResult's summary only (no live model objects).

- line_figure (lines.py): a metric against one swept parameter, one line per policy with its
  95 % CI band; the other swept parameters are fixed (`where`) or laid out as panels.
- winner_figure (winner.py, "who wins"): over two swept parameters, the best policy per cell in
  the policy's colour, paler the smaller its margin over the runner-up, hatched where the two
  95 % confidence intervals overlap (the win is not established by the replications).

Colours are tmemsim.presentation.style's (policy_colors), so a policy looks the same in every
figure. `default_figures` is the set SweepResult.save() draws.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable

from matplotlib.figure import Figure

from ..style import PlotDataWarning
from .lines import line_figure
from .parameters import Axis, better_direction, metric_label, slug
from .winner import winner_cells, winner_figure


def default_figures(result, metrics) -> dict[str, Figure]:
    """Per metric: the metric against every varying parameter; with a grid of two or more, the
    winner map of the first two. A figure that would need `where` (too many free parameters), or
    a winner map of a metric with no known better end, is left out."""
    figs: dict[str, Figure] = {}
    for name, draw in _wanted(result, metrics):
        try:
            figs[name] = draw()
        except ValueError:
            continue
        except Exception as exc:  # a figure must never cost the results of a whole sweep
            warnings.warn(f"sweep figure {name} skipped: {type(exc).__name__}: {exc}",
                          PlotDataWarning, stacklevel=2)
    return figs


def _wanted(result, metrics) -> list[tuple[str, Callable[[], Figure]]]:
    """The default figures by file name, each as a call that draws it."""
    params = result.parameters
    varying = [p for p, v in params.items() if len(v) > 1]
    # lines against numeric parameters; categories (cow/copy) are panels, unless all are
    numeric = [p for p in varying if Axis(params[p]).numeric] or varying
    axes = numeric[:1] if result.meta.get("mode") == "zip" else numeric
    wanted: list[tuple[str, Callable[[], Figure]]] = []
    for metric in metrics:
        for x in axes:
            wanted.append((f"{metric}_vs_{slug(x)}",
                           functools.partial(line_figure, result, metric, x=x)))
        if result.meta.get("mode") != "zip" and len(varying) >= 2:
            wanted.append((f"winner_{metric}_{slug(varying[0])}_{slug(varying[1])}",
                           functools.partial(winner_figure, result, varying[0], varying[1],
                                             metric)))
    return wanted


__all__ = ["better_direction", "default_figures", "line_figure", "metric_label",
           "winner_cells", "winner_figure"]
