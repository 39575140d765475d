"""The figures of a comparison, drawn from its results only: summary, timeseries, latency and
meta (a module per figure). `figures` draws every figure the results allow, `save` writes them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

import pandas as pd
from matplotlib.figure import Figure

from ..style import save_figures
from . import disk_reads, latency_cdf, memory, pool_occupancy, reads_served, throughput
from .data import ComparisonData
from .layout import FIGURE_TITLES

# In the order the figures are drawn and listed in report.md.
BUILDERS: Mapping[str, Callable[[ComparisonData], Figure | None]] = MappingProxyType(
    {module.NAME: module.figure
     for module in (reads_served, latency_cdf, memory, disk_reads, pool_occupancy, throughput)}
)


def figures(
    summary: pd.DataFrame,
    timeseries: pd.DataFrame | None,
    latency: pd.DataFrame | None,
    meta: Mapping,
) -> dict[str, Figure]:
    """Every comparison figure the results allow, by name; missing data warns and is skipped."""
    results = ComparisonData.of(summary, timeseries, latency, meta)
    built = {name: build(results) for name, build in BUILDERS.items()}
    return {name: fig for name, fig in built.items() if fig is not None}


def save(figs: Mapping[str, Figure], plots_dir: str | Path) -> list[Path]:
    """Write <name>.png (dpi 120) and <name>.svg per figure; returns the paths written."""
    return save_figures(figs, plots_dir)


__all__ = ["BUILDERS", "FIGURE_TITLES", "figures", "save"]
