"""HTML for people: tables with the best value per column marked, figures as inline SVG, the
self-contained report.html, and the `_repr_html_` bodies of Result, SweepResult and Curves.

A page needs nothing from elsewhere: its style and its table sorter are inline, its figures are
SVG text in the page, and a Content-Security-Policy forbids every fetch, so a report opened
offline or from a CI artefact looks the same as anywhere.
"""

from __future__ import annotations

import io
import json
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

import pandas as pd

REPORT_HTML = "report.html"
ALL = "ALL"
MIB = 2**20
# the curves' table shows at most this many axis values (spread evenly), as the CLI does
CURVE_COLUMNS = 12


@dataclass(frozen=True)
class Cell:
    """One cell: the text shown, the number it sorts by, and whether it is its column's best."""

    text: str
    value: float | None = None
    best: bool = False


@dataclass(frozen=True)
class Table:
    """A table as plain data: headers, rows of cells (the first cell of a row names it)."""

    headers: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    caption: str = ""


# ------------------------------------------------------------------------------ tables


def table_html(table: Table, sortable: bool = False) -> str:
    """The table as HTML: best cells bold on a tint (title "best in its column")."""
    klass = "tmemsim-table sortable" if sortable else "tmemsim-table"
    out = [f'<table class="{klass}">']
    if table.caption:
        out.append(f"<caption>{escape(table.caption)}</caption>")
    out.append("<thead><tr>" + "".join(f'<th scope="col">{escape(h)}</th>'
                                       for h in table.headers) + "</tr></thead><tbody>")
    for row in table.rows:
        out.append("<tr>" + "".join(_cell_html(c, i == 0) for i, c in enumerate(row)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _cell_html(cell: Cell, heading: bool) -> str:
    tag = "th" if heading else "td"
    scope = ' scope="row"' if heading else ""
    value = "" if cell.value is None else f' data-value="{cell.value!r}"'
    if cell.best:
        return (f'<{tag}{scope}{value} class="best" title="best in its column" '
                f'style="background:#e3f2e1"><strong>{escape(cell.text)}</strong></{tag}>')
    return f"<{tag}{scope}{value}>{escape(cell.text)}</{tag}>"


def comparison_table(summary: pd.DataFrame) -> Table:
    """The comparison table of a results summary (the ALL rows), as the terminal shows it."""
    from .table import COMPARISON_COLUMNS, best_policies, format_cell, table_rows

    rows = table_rows(summary)
    best = best_policies(rows)
    body = [[Cell(row["policy"]), *(Cell(format_cell(c, row[c.key]), row[c.key],
                                         row["policy"] in best[c.key])
                                    for c in COMPARISON_COLUMNS)] for row in rows]
    return Table(["policy", *(c.header for c in COMPARISON_COLUMNS)], body,
                 "Over all guests. Bold: the best value in its column (ties as shown "
                 "included); pool used is not ranked.")


def _best_in_column(values: Sequence[float | None], texts: Sequence[str],
                    better: str | None) -> set:
    """Row indices holding the column's best value, ties read as shown; none if all read alike."""
    known = [(v, t) for v, t in zip(values, texts, strict=True) if v is not None and v == v]
    if better is None or len({t for _, t in known}) < 2:
        return set()
    pick = max if better == "max" else min
    shown = dict(known)[pick(v for v, _ in known)]
    return {i for i, t in enumerate(texts) if t == shown and values[i] is not None}


def _column_table(names: Sequence[str], headers: Sequence[str], values: Sequence[Sequence],
                  fmt, better: str | None, caption: str, label: str = "policy") -> Table:
    """Rows `names`, columns `headers`; values[r][c] a number or None; best per column."""
    texts = [[fmt(v) if v is not None and v == v else "–" for v in row] for row in values]
    best = [_best_in_column([row[c] for row in values], [row[c] for row in texts], better)
            for c in range(len(headers))]
    rows = [[Cell(name), *(Cell(texts[r][c], values[r][c], r in best[c])
                           for c in range(len(headers)))] for r, name in enumerate(names)]
    return Table([label, *headers], rows, caption)


def sweep_table(result, metric: str | None = None, guest: str = ALL) -> Table:
    """Policies against the sweep's points: the metric's mean over replications (± the 95 %
    interval's half width when there are several), best policy at each point marked."""
    from .sweep_figures import better_direction, metric_label

    s = result.summary
    metric = metric or (result.meta.get("metrics") or ["read_hit_ratio"])[0]
    rows = s[(s["metric"] == metric) & (s["guest"] == guest)] if len(s) else s
    params = list(result.parameters)
    points = list(dict.fromkeys(rows["point"])) if len(rows) else []
    first = rows.drop_duplicates("point").set_index("point") if len(rows) else rows
    headers = [", ".join(f"{p}={first.loc[pt, p]}" for p in params) or "(one point)"
               for pt in points]
    policies = [p for p in result.policies if p in set(rows["policy"])] if len(rows) else []
    means, halves = {}, {}
    for r in rows.itertuples(index=False):
        means[(r.policy, r.point)] = float(r.mean)
        halves[(r.policy, r.point)] = (r.ci95_high - r.mean) if r.n >= 2 else None
    values = [[means.get((p, pt)) for pt in points] for p in policies]
    try:
        better = {"higher": "max", "lower": "min"}[better_direction(metric)]
    except ValueError:  # a metric with no better end: nothing is marked
        better = None
    table = _column_table(policies, headers, values, _metric_format(metric),
                          better, f"{metric_label(metric)} ({guest}), mean "
                          f"over replications; bold: the best policy at each point")
    return _with_intervals(table, policies, points, halves, _metric_format(metric))


def _with_intervals(table: Table, policies, points, halves, fmt) -> Table:
    rows = []
    for r, row in enumerate(table.rows):
        cells = [row[0]]
        for c, cell in enumerate(row[1:]):
            half = halves.get((policies[r], points[c]))
            text = cell.text if half is None or half != half else f"{cell.text} ± {fmt(half)}"
            cells.append(Cell(text, cell.value, cell.best))
        rows.append(cells)
    return Table(table.headers, rows, table.caption)


def _metric_format(metric: str):
    if metric.endswith("_ratio"):
        return lambda v: f"{v:.1%}"
    return lambda v: f"{v:,.1f}" if abs(v) < 1000 else f"{v:,.0f}"


def curves_table(curves, metric: str = "read_hit_ratio") -> Table:
    """Policies against (at most CURVE_COLUMNS) axis values: the curve's metric over all guests,
    the best policy at each size marked."""
    t = curves.table
    t = t[(t.source == "curve") & (t.guest == ALL) & (t.metric == metric)]
    sizes = sorted(set(t.axis_bytes))
    if len(sizes) > CURVE_COLUMNS:
        step = (len(sizes) - 1) / (CURVE_COLUMNS - 1)
        sizes = [sizes[round(i * step)] for i in range(CURVE_COLUMNS)]
    policies = [p for p in curves.meta.get("policies", sorted(set(t.policy)))
                if p in set(t.policy)]
    lookup = {(r.policy, r.axis_bytes): float(r.value) for r in t.itertuples(index=False)}
    values = [[lookup.get((p, b)) for b in sizes] for p in policies]
    better = "min" if metric == "disk_reads" else "max"
    axis = curves.meta.get("axis", "axis")
    return _column_table(policies, [f"{b / MIB:.1f}" for b in sizes], values,
                         _metric_format(metric), better,
                         f"{metric.replace('_', ' ')} by {axis} size (MiB), all guests; bold: "
                         f"the best policy at each size")


# ------------------------------------------------------------------------------ figures


def figure_svg(fig, prefix: str) -> str:
    """A matplotlib figure as an inline <svg> element whose ids start with prefix."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "tmemsim"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return inline_svg(buffer.getvalue(), prefix)


def inline_svg(text: str, prefix: str) -> str:
    """An SVG document as an element to put in a page: no XML prolog, ids made unique by prefix
    (several figures in one page would otherwise share ids such as their clip paths), scaled
    to the page's width."""
    start = text.find("<svg")
    if start < 0:
        raise ValueError("not an SVG document")
    body = text[start:]
    body = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', body)
    body = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m.group(1)})", body)
    body = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}-{m.group(1)}"', body)
    return body.replace("<svg", '<svg class="figure" role="img"', 1)


def _figure_block(title: str, svg: str) -> str:
    return f"<figure><figcaption>{escape(title)}</figcaption>{svg}</figure>"


# ------------------------------------------------------------------------------ notebooks

_NOTEBOOK_STYLE = ("<style>.tmemsim-table{border-collapse:collapse;margin:.5em 0}"
                   ".tmemsim-table td,.tmemsim-table th{padding:2px 8px;text-align:right}"
                   ".tmemsim-table caption{caption-side:bottom;font-size:85%;text-align:left}"
                   "svg.figure{max-width:100%;height:auto}</style>")


def _notebook(title: str, table: Table, svg: str | None) -> str:
    parts = [f'<div class="tmemsim">{_NOTEBOOK_STYLE}<h4>{escape(title)}</h4>',
             table_html(table)]
    if svg:
        parts.append(svg)
    return "".join(parts) + "</div>"


def result_html(result) -> str:
    """A Result (or Comparison) in a notebook: its comparison table and where reads are
    served."""
    figures = result.plot()
    main = figures.get("reads_served") or next(iter(figures.values()), None)
    svg = figure_svg(main, "reads") if main is not None else None
    return _notebook(f"tmemsim: {result.meta.get('scenario', '')}",
                     comparison_table(result.summary), svg)


def sweep_html(result) -> str:
    """A SweepResult in a notebook: policies against points, and the main metric's figure."""
    svg = figure_svg(result.plot(), "sweep") if len(result.table) else None
    return _notebook(f"tmemsim sweep: {result.meta.get('scenario', '')}", sweep_table(result),
                     svg)


def curves_html(curves) -> str:
    """Curves in a notebook: policies against sizes, and the curves' figure."""
    return _notebook(f"tmemsim curves: {curves.meta.get('scenario', '')}",
                     curves_table(curves), figure_svg(curves.plot(), "curve"))


# ------------------------------------------------------------------------------ report.html

_PAGE_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:75em;
padding:0 1em;color:#222}
h1{font-size:1.6em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}
.tmemsim-table{border-collapse:collapse;margin:.5em 0}
.tmemsim-table td,.tmemsim-table th{padding:3px 10px;text-align:right;border-bottom:1px solid #eee}
.tmemsim-table thead th{border-bottom:2px solid #888}
.tmemsim-table caption{caption-side:bottom;font-size:85%;text-align:left;color:#555}
table.sortable thead th{cursor:pointer;user-select:none}
table.sortable thead th[aria-sort=ascending]::after{content:" \\25B2"}
table.sortable thead th[aria-sort=descending]::after{content:" \\25BC"}
figure{margin:1em 0}figcaption{font-weight:600;margin-bottom:.3em}
svg.figure{max-width:100%;height:auto}
pre{background:#f6f6f6;padding:1em;overflow:auto}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dl.meta dt{font-weight:600}
"""

# Click a header to sort by it (again: the other way); `report.html#sort=HEADER` or
# `#sort=HEADER,desc` opens the page sorted. Numbers sort by data-value, text by its letters.
_SORTER = """
(function () {
  "use strict";
  function key(cell) {
    var v = cell.getAttribute("data-value");
    return v === null ? cell.textContent.trim() : parseFloat(v);
  }
  function compare(a, b) {
    var an = typeof a === "number" && !isNaN(a), bn = typeof b === "number" && !isNaN(b);
    if (an && bn) { return a - b; }
    if (an !== bn) { return an ? -1 : 1; }
    return String(a).localeCompare(String(b));
  }
  function sortBy(table, col, descending) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (r, s) {
      var c = compare(key(r.cells[col]), key(s.cells[col]));
      return descending ? -c : c;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    var heads = table.tHead.rows[0].cells;
    for (var i = 0; i < heads.length; i++) { heads[i].removeAttribute("aria-sort"); }
    heads[col].setAttribute("aria-sort", descending ? "descending" : "ascending");
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.tabIndex = 0;
      function toggle() { sortBy(table, col, th.getAttribute("aria-sort") === "ascending"); }
      th.addEventListener("click", toggle);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") { toggle(); } });
    });
  });
  var wanted = /^#sort=([^,]*)(,desc)?$/.exec(window.location.hash);
  if (wanted && tables.length) {
    var name = decodeURIComponent(wanted[1]);
    Array.prototype.forEach.call(tables[0].tHead.rows[0].cells, function (th, col) {
      if (th.textContent.trim() === name) { sortBy(tables[0], col, !!wanted[2]); }
    });
  }
  document.documentElement.setAttribute("data-sorter", "ready");
})();
"""

# everything inline, nothing fetched: the browser refuses any request the page would make
_CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
        "img-src data:")


def _command_text(meta: Mapping) -> str:
    command = meta.get("command")
    if not command:
        return ""
    return command if isinstance(command, str) else shlex.join(str(c) for c in command)


def _meta_list(items: Iterable[tuple[str, object]]) -> str:
    rows = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in items
                   if v not in (None, "", [], {}))
    return f'<dl class="meta">{rows}</dl>'


def report_page(title: str, description: str, table: Table, figures: Sequence[tuple[str, str]],
                scenario_yaml: str, meta: Mapping, extra: Iterable[tuple[str, object]] = ()) -> str:
    """A whole report page: the table (sortable), the figures (title, inline SVG), the resolved
    scenario, the version and the command."""
    version = meta.get("tmemsim_version") or (meta.get("versions") or {}).get("tmemsim") \
        or meta.get("code_version")
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{escape(title)}</title><style>{_PAGE_STYLE}</style></head><body>",
             f"<h1>{escape(title)}</h1>"]
    if description:
        parts.append(f"<p>{escape(description.strip())}</p>")
    parts += ["<h2>Summary</h2>", '<p>Click a column\'s header to sort by it.</p>',
              table_html(table, sortable=True), "<h2>Figures</h2>"]
    parts += [_figure_block(name, svg) for name, svg in figures] or ["<p>No figures.</p>"]
    parts += ["<h2>Run</h2>", _meta_list([("tmemsim version", version),
                                          ("scenario", meta.get("scenario")),
                                          ("seed", meta.get("seed")), *extra])]
    command = _command_text(meta)
    if command:
        parts += ["<p>Command:</p>", f'<pre class="command">{escape(command)}</pre>']
    if scenario_yaml:
        parts += ["<h2>Scenario</h2>", "<p>The resolved scenario, every default filled in:</p>",
                  f'<pre class="scenario">{escape(scenario_yaml)}</pre>']
    parts += [f"<script>{_SORTER}</script>", "</body></html>", ""]
    return "\n".join(parts)


def _svg_files(plots_dir: Path, titles: Mapping[str, str]) -> list[tuple[str, str]]:
    out = []
    for i, svg in enumerate(sorted(plots_dir.glob("*.svg"), key=_figure_order(titles))):
        title = titles.get(svg.stem, svg.stem.replace("_", " "))
        out.append((title, inline_svg(svg.read_text(encoding="utf-8"), f"f{i}")))
    return out


def _figure_order(titles: Mapping[str, str]):
    order = {name: i for i, name in enumerate(titles)}
    return lambda p: (order.get(p.stem, len(order)), p.stem)


def results_report(directory, result) -> str:
    """The report.html page of a results directory (its figures already in plots/)."""
    from .compare import FIGURE_TITLES

    d = Path(directory)
    meta = result.meta
    wall = meta.get("wall_seconds")
    return report_page(f"tmemsim report: {meta.get('scenario') or 'unnamed scenario'}",
                       str(meta.get("description") or ""), comparison_table(result.summary),
                       _svg_files(d / "plots", FIGURE_TITLES), result.scenario_yaml, meta,
                       [("policies", ", ".join(map(str, meta.get("policies", [])))),
                        ("simulated duration", f"{meta['duration_s']:g} s"
                         if meta.get("duration_s") is not None else None),
                        ("wall seconds", json.dumps(wall) if wall else None)])


def sweep_report(directory, result) -> str:
    """The report.html page of a sweep directory (its figures already in plots/)."""
    d = Path(directory)
    meta = result.meta
    counts = meta.get("counts", {})
    return report_page(f"tmemsim sweep: {meta.get('scenario') or 'unnamed scenario'}",
                       str(meta.get("description") or ""), sweep_table(result),
                       _svg_files(d / "plots", {}), result.scenario_yaml, meta,
                       [("parameters", json.dumps(result.parameters, default=str)),
                        ("policies", ", ".join(result.policies)),
                        ("replications", meta.get("replications")),
                        ("points", counts.get("points")), ("failed", counts.get("failed"))])


__all__ = ["REPORT_HTML", "Cell", "Table", "comparison_table", "curves_html", "curves_table",
           "figure_svg", "inline_svg", "report_page", "result_html", "sweep_html",
           "results_report", "sweep_report", "sweep_table", "table_html"]
