"""report.md for a results directory: scenario, comparison table, figures and run metadata.

Markdown meant to be pasted into a review; figures are linked relative to the results directory.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from .compare import FIGURE_TITLES
from .table import COMPARISON_COLUMNS, best_policies, format_cell, table_rows

REPORT_NAME = "report.md"


def _escape(text: str) -> str:
    # A "|" would split a markdown table cell.
    return str(text).replace("|", "\\|")


def comparison_markdown(summary: pd.DataFrame) -> str:
    """The comparison table as a markdown table; best values bold behind an escaped "*"."""
    rows = table_rows(summary)
    best = best_policies(rows)
    header = ["policy", *(c.header for c in COMPARISON_COLUMNS)]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join([":---", *("---:" for _ in COMPARISON_COLUMNS)]) + "|",
    ]
    for row in rows:
        cells = [_markdown_cell(c, row, best) for c in COMPARISON_COLUMNS]
        lines.append("| " + " | ".join([_escape(row["policy"]), *cells]) + " |")
    return "\n".join(lines)


def _markdown_cell(column, row: Mapping, best: Mapping[str, set[str]]) -> str:
    text = format_cell(column, row[column.key])
    return f"**\\*{text}**" if row["policy"] in best[column.key] else text


def _figure_section(outdir: Path, figure_files: Iterable[Path | str]) -> list[str]:
    # Only PNGs are embedded; the SVG beside each is linked for print-quality copies.
    pngs = [_locate(Path(f), outdir) for f in figure_files if Path(f).suffix.lower() == ".png"]
    if not pngs:
        return ["_No figures were written._", ""]
    lines: list[str] = []
    for png in pngs:
        title = FIGURE_TITLES.get(png.stem, png.stem.replace("_", " "))
        lines += [f"### {title}", "", f"![{title}]({_relative(png, outdir)})"]
        svg = png.with_suffix(".svg")
        if svg.exists():
            lines += ["", f"[{svg.name}]({_relative(svg, outdir)})"]
        lines.append("")
    return lines


def _locate(path: Path, outdir: Path) -> Path:
    """The file on disk: as given (absolute or from the working directory), else under outdir."""
    if path.is_absolute() or path.exists() or not (outdir / path).exists():
        return path
    return outdir / path


def _relative(path: Path, outdir: Path) -> str:
    """A link relative to the report, in forward slashes, so it works on any machine."""
    return Path(os.path.relpath(path.resolve(), outdir.resolve())).as_posix()


def _command(meta: Mapping) -> str | None:
    command = meta.get("command")
    if not command:
        return None
    return command if isinstance(command, str) else shlex.join(str(c) for c in command)


def _wall_seconds(meta: Mapping) -> str:
    wall = meta.get("wall_seconds")
    if isinstance(wall, Mapping):
        return ", ".join(f"{p}: {float(s):.2f} s" for p, s in wall.items()) or "–"
    return "–" if wall is None else f"{float(wall):.2f} s"


def _metadata_section(meta: Mapping) -> list[str]:
    policies = meta.get("policies")
    fields = [
        ("scenario", meta.get("scenario")),
        ("seed", meta.get("seed")),
        ("policies", ", ".join(map(str, policies)) if policies else None),
        ("tmemsim version", meta.get("tmemsim_version")),
        ("simulated duration", _seconds(meta.get("duration_s"))),
        ("sample interval", _seconds(meta.get("sample_interval_s"))),
        ("wall seconds", _wall_seconds(meta)),
    ]
    lines = ["| field | value |", "|:---|:---|"]
    for name, value in fields:
        lines.append(f"| {name} | {_escape('–' if value is None else value)} |")
    command = _command(meta)
    if command:
        # A code block, not a table cell: commands contain "|" and long paths.
        lines += ["", "Command:", "", "```sh", command, "```"]
    return lines


def _seconds(value) -> str | None:
    return None if value is None else f"{float(value):g} s"


def write_report(
    outdir: str | Path,
    summary: pd.DataFrame,
    meta: Mapping,
    figure_files: Iterable[Path | str],
) -> Path:
    """Write outdir/report.md and return its path."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    scenario = meta.get("scenario") or "unnamed scenario"
    lines = [f"# tmemsim report: {scenario}", ""]
    if meta.get("description"):
        lines += [str(meta["description"]).strip(), ""]
    lines += ["## Comparison", "", "Reads, latency and memory over all guests (the ALL rows).", ""]
    lines += [comparison_markdown(summary), ""]
    lines += ["**\\*bold** marks the best value in its column, and every value that reads the "
              "same; pool used is not ranked.", ""]
    lines += ["## Figures", "", *_figure_section(outdir, figure_files)]
    lines += ["## Run metadata", "", *_metadata_section(meta), ""]
    path = outdir / REPORT_NAME
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
