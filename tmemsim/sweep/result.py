"""A finished sweep: its tables, statistics, failures and figures; saving it and reading it back."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..infra.atomic import claim_in_place, meta_json, stage, write_atomic
from .spec import DEFAULT_PLOT_METRICS
from .stats import summarize


class SweepResult:
    """A finished sweep: `.table` (every run), `.summary` (statistics over replications),
    `.failures` (points that did not run, with their error), `.meta`, figures, and `.save()`."""

    def __init__(self, table: pd.DataFrame, summary: pd.DataFrame, failures: pd.DataFrame,
                 meta: dict, scenario_yaml: str = ""):
        self.table = table
        self.summary = summary
        self.failures = failures
        self.meta = meta
        self.scenario_yaml = scenario_yaml

    @property
    def parameters(self) -> dict[str, list]:
        """Swept setting paths and their values, in sweep order."""
        return dict(self.meta.get("parameters", {}))

    @property
    def policies(self) -> list[str]:
        return list(self.meta.get("policies", []))

    def __repr__(self) -> str:
        c = self.meta.get("counts", {})
        return (f"<SweepResult {self.meta.get('scenario')!r}: {c.get('points')} points × "
                f"{len(self.policies)} policies × {self.meta.get('replications')} replications; "
                f"{c.get('ran')} ran, {c.get('cached')} cached, {c.get('failed')} failed>")

    def _repr_html_(self) -> str:
        """In a notebook: policies against points, best marked, and the main metric's figure."""
        from ..presentation.html import sweep_html

        return sweep_html(self)

    def plot(self, metric: str = "read_hit_ratio", x: str | None = None, guest: str = "ALL",
             where: dict | None = None):
        """The metric against swept parameter x (default: the first), one line per policy with
        its 95 % CI band; other parameters are fixed by `where` or become panels."""
        from ..presentation.sweep_figures import line_figure

        return line_figure(self, metric, x=x, guest=guest, where=where)

    def winner_map(self, x: str | None = None, y: str | None = None,
                   metric: str = "read_hit_ratio", guest: str = "ALL", better: str | None = None,
                   where: dict | None = None):
        """Who wins over two swept parameters: the best policy per cell, shaded by its margin
        over the runner-up, hatched where their 95 % CIs overlap."""
        from ..presentation.sweep_figures import winner_figure

        return winner_figure(self, x=x, y=y, metric=metric, guest=guest, better=better,
                             where=where)

    def figures(self, metrics: list[str] | None = None) -> dict:
        """The default figures by name (what save() draws)."""
        from ..presentation.sweep_figures import default_figures

        return default_figures(self, metrics or self.meta.get("metrics")
                               or DEFAULT_PLOT_METRICS)

    def save(self, directory, plots: bool = True) -> Path:
        """Write sweep.parquet, sweep_summary.csv, failures.csv, meta.json, scenario.yaml,
        plots/ and report.html into directory (each file replaced atomically; points/ is left alone). The
        directory must be new, empty or a tmemsim sweep directory."""
        d = claim_in_place(directory, "sweep", reuse=True)
        write_atomic(d / "sweep.parquet", lambda p: self.table.to_parquet(p, index=False))
        write_atomic(d / "sweep_summary.csv", lambda p: self.summary.to_csv(p, index=False))
        write_atomic(d / "failures.csv", lambda p: self.failures.to_csv(p, index=False))
        write_atomic(d / "meta.json", lambda p: Path(p).write_text(meta_json(self.meta, "sweep")))
        if self.scenario_yaml:
            write_atomic(d / "scenario.yaml", lambda p: Path(p).write_text(self.scenario_yaml))
        if plots and not self.table.empty:
            from ..presentation.style import save_figures

            figs = self.figures()
            # plots/ of a sweep directory is ours: replaced whole, never merged or half-drawn
            with stage(d / "plots", force=True, trusted=True) as staged:
                save_figures(figs, staged.build)
                staged.commit()
            from ..presentation.html import REPORT_HTML, sweep_report

            write_atomic(d / REPORT_HTML, lambda p: Path(p).write_text(
                sweep_report(d, self), encoding="utf-8"))
        return d


def read_sweep(directory) -> SweepResult:
    """A saved sweep back from its directory (for new figures without running it again)."""
    d = Path(directory)
    if not (d / "sweep.parquet").exists():
        raise FileNotFoundError(f"{d} is not a tmemsim sweep directory (no sweep.parquet)")
    meta = json.loads((d / "meta.json").read_text()) if (d / "meta.json").exists() else {}
    table = pd.read_parquet(d / "sweep.parquet")
    params = list(meta.get("parameters", {}))
    summary = summarize(table, params)  # recomputed: the CSV would lose the value types
    failures = pd.read_csv(d / "failures.csv") if (d / "failures.csv").exists() else \
        pd.DataFrame()
    scenario_yaml = (d / "scenario.yaml").read_text() if (d / "scenario.yaml").exists() else ""
    return SweepResult(table, summary, failures, meta, scenario_yaml)


__all__ = ["SweepResult", "read_sweep"]
