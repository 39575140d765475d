"""Presentation: what a person reads of results — figures, terminal tables and report.md.

The top of tmemsim's layers below cli: it reads results (DataFrames and meta) and the
analysis, and draws them; nothing below imports it at module level. A result draws itself
through it lazily (`Result.plot()`, `SweepResult.plot()`), so importing tmemsim.results,
tmemsim.sweep or tmemsim.analysis never loads matplotlib.

- style.py: the one style (policy and guest colours, shades, saving figures);
- compare/: the figures of a comparison, a module per figure;
- sweep_figures/: a metric against a swept parameter, and the winner map;
- verify_figures.py: the figures of `tmemsim verify`;
- table.py: terminal tables; report.py: report.md;
- html.py: HTML for notebooks (`_repr_html_`) and report.html.
"""
