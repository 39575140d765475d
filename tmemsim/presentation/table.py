"""Terminal tables of a run's summary: one row per policy to compare, or per guest for one run.

The numbers come straight from the summary DataFrame; `table_rows` exposes them for tests.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
from rich import box
from rich.table import Table
from rich.text import Text

from tmemsim.units import PAGE_SIZE

MIB = 2**20
ALL = "ALL"
MISSING = "–"


class TableDataWarning(UserWarning):
    """The summary lacks a column a table shows; the cells show a dash."""


@dataclass(frozen=True)
class Column:
    """One numeric column of a table: where its number comes from and how it is shown."""

    key: str
    header: str
    source: str  # the summary column the number is read from
    fmt: Callable[[float], str]
    best: str | None = None  # "max", "min" or None (not ranked)
    scale: float = 1.0


def _ratio(value: float) -> str:
    return f"{value:.1%}"


def _count(value: float) -> str:
    return f"{value:,.0f}"


def _decimal(value: float) -> str:
    # A tenth matters at 2.0 µs, not at 9,150 µs.
    return f"{value:,.1f}" if abs(value) < 1000 else f"{value:,.0f}"


PAGES_TO_MIB = PAGE_SIZE / MIB
CAPTION = "* and bold: best in its column, ties as shown included; pool used not ranked"

COMPARISON_COLUMNS: tuple[Column, ...] = (
    Column("read_hit_ratio", "read hit ratio", "read_hit_ratio", _ratio, "max"),
    Column("guest_hit_ratio", "guest hit", "guest_hit_ratio", _ratio, "max"),
    Column("host_hit_ratio", "host hit", "host_hit_ratio", _ratio, "max"),
    Column("disk_reads", "disk reads", "disk_reads", _count, "min"),
    Column("p50_read_latency_us", "p50 read (µs)", "p50_read_latency_us", _decimal, "min"),
    Column("p99_read_latency_us", "p99 read (µs)", "p99_read_latency_us", _decimal, "min"),
    Column("throughput_ops", "throughput (ops/s)", "throughput_ops", _decimal, "max"),
    # Pool use is not ranked: more used is neither better nor worse by itself.
    Column(
        "pool_used_mib", "pool used (MiB)", "host_pool_used_pages", _decimal, None, PAGES_TO_MIB
    ),
    Column(
        "double_cached_mib",
        "double-cached (MiB)",
        "double_cached_pages",
        _decimal,
        "min",
        PAGES_TO_MIB,
    ),
)

GUEST_COLUMNS: tuple[Column, ...] = (
    Column("requests", "requests", "requests", _count),
    Column("read_hit_ratio", "read hit ratio", "read_hit_ratio", _ratio),
    Column("guest_hit_ratio", "guest hit", "guest_hit_ratio", _ratio),
    Column("host_hit_ratio", "host hit", "host_hit_ratio", _ratio),
    Column("disk_reads", "disk reads", "disk_reads", _count),
    Column("mean_read_latency_us", "mean read (µs)", "mean_read_latency_us", _decimal),
    Column("p99_read_latency_us", "p99 read (µs)", "p99_read_latency_us", _decimal),
)


def _number(value) -> float | None:
    """A summary cell as a plain float, None when absent or not a number."""
    if value is None or pd.isna(value):
        return None
    return float(value)


def _warn_missing(summary: pd.DataFrame, columns: Sequence[Column]) -> None:
    missing = [c.source for c in columns if c.source not in summary.columns]
    if missing:
        warnings.warn(
            f"summary lacks {', '.join(missing)}; shown as {MISSING}",
            TableDataWarning,
            stacklevel=3,
        )


def _row_values(row: Mapping, columns: Sequence[Column]) -> dict[str, float | None]:
    values = {}
    for column in columns:
        value = _number(row.get(column.source))
        values[column.key] = None if value is None else value * column.scale
    return values


def _all_rows(summary: pd.DataFrame) -> pd.DataFrame:
    if "guest" not in summary.columns:
        return summary.iloc[0:0]
    # First ALL row per policy, in the order the summary lists the policies.
    return summary[summary["guest"] == ALL].drop_duplicates("policy")


def table_rows(summary: pd.DataFrame) -> list[dict]:
    """The numbers the comparison table shows, one dict per policy (None where absent)."""
    _warn_missing(summary, COMPARISON_COLUMNS)
    return [
        {"policy": str(row["policy"]), **_row_values(row, COMPARISON_COLUMNS)}
        for row in _all_rows(summary).to_dict("records")
    ]


def best_policies(
    rows: Sequence[Mapping], columns: Sequence[Column] = COMPARISON_COLUMNS
) -> dict[str, set[str]]:
    """Per ranked column, the policies holding its best value.

    A tie is decided on the value as shown, not on the raw number: every policy whose cell reads
    the same as the best cell is marked too, so two cells that read alike always carry the same
    mark (70.41% and 70.38% both read "70.4%"). A column whose cells all read the same marks
    nobody: there is no winner to show. The terminal table and report.md both mark from here.
    """
    best: dict[str, set[str]] = {}
    for column in columns:
        values = {r["policy"]: r[column.key] for r in rows if _finite(r.get(column.key))}
        shown = {p: format_cell(column, v) for p, v in values.items()}
        if column.best is None or len(set(shown.values())) < 2:
            best[column.key] = set()
            continue
        target = max(values.values()) if column.best == "max" else min(values.values())
        best[column.key] = {p for p, text in shown.items() if text == format_cell(column, target)}
    return best


def _finite(value) -> bool:
    return value is not None and math.isfinite(value)


def format_cell(column: Column, value: float | None) -> str:
    """The text of one cell, without any best mark."""
    return MISSING if value is None else column.fmt(value)


def comparison_table(summary: pd.DataFrame, title: str | None = None) -> Table:
    """One row per policy (ALL rows); the best value per ranked column bold with a "*"."""
    rows = table_rows(summary)
    best = best_policies(rows)
    body = [
        [Text(row["policy"])]
        + [_cell(c, row[c.key], row["policy"] in best[c.key]) for c in COMPARISON_COLUMNS]
        for row in rows
    ]
    table = _new_table(title, caption=CAPTION)
    _add_columns(table, ["policy", *(c.header for c in COMPARISON_COLUMNS)], body)
    for cells in body:
        table.add_row(*cells)
    return table


def _cell(column: Column, value: float | None, is_best: bool) -> Text:
    text = format_cell(column, value)
    # The "*" keeps the mark visible where bold is lost (plain logs, CI output); in front, so
    # right-aligned digits stay aligned with the unmarked cells.
    return Text(f"*{text}", style="bold") if is_best else Text(text)


def _new_table(title: str | None, caption: str | None = None) -> Table:
    # No side edges and single spaces between columns: ten columns still fit 80 characters.
    return Table(
        title=title,
        caption=caption,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        collapse_padding=True,
        pad_edge=False,
    )


def _add_columns(table: Table, headers: Sequence[str], body: Sequence[Sequence[Text]]) -> None:
    """Label columns left, numbers right, one header word per line.

    Rich squeezes a table that is too wide by cutting cells, numbers included; stacked header
    words keep each column as narrow as its numbers, so ten columns fit 80 characters.
    """
    for i, header in enumerate(headers):
        table.add_column(
            _stacked(header),
            justify="left" if i == 0 else "right",
            no_wrap=True,
            style="bold" if i == 0 else None,
        )


def _stacked(header: str) -> str:
    """One word per line, hyphenated words broken after the hyphen: "double-/cached/(MiB)"."""
    return "\n".join(header.replace("-", "- ").split())


def summary_table(summary: pd.DataFrame, title: str | None = None) -> Table:
    """Per-guest rows of a single-policy run, the ALL row last; a policy column if several."""
    _warn_missing(summary, GUEST_COLUMNS)
    several = "policy" in summary.columns and summary["policy"].nunique() > 1
    records = _guest_rows_all_last(summary).to_dict("records")
    body = []
    for row in records:
        values = _row_values(row, GUEST_COLUMNS)
        lead = [str(row["policy"])] if several else []
        cells = [
            *lead,
            str(row.get("guest", MISSING)),
            *(format_cell(c, values[c.key]) for c in GUEST_COLUMNS),
        ]
        body.append([Text(c) for c in cells])
    table = _new_table(title)
    labels = ["policy", "guest"] if several else ["guest"]
    _add_columns(table, [*labels, *(c.header for c in GUEST_COLUMNS)], body)
    if several:
        table.columns[1].justify = "left"
    for row, cells in zip(records, body, strict=True):
        table.add_row(*cells, end_section=row.get("guest") == ALL)
    return table


def _guest_rows_all_last(summary: pd.DataFrame) -> pd.DataFrame:
    if "guest" not in summary.columns:
        return summary
    is_all = (summary["guest"] == ALL).to_numpy()
    # Keep each policy's guests together, its ALL row closing the block.
    order = summary.assign(_all=is_all, _pos=range(len(summary)))
    if "policy" in summary.columns:
        order["_policy"] = pd.factorize(summary["policy"])[0]
        return order.sort_values(["_policy", "_all", "_pos"]).drop(
            columns=["_all", "_pos", "_policy"]
        )
    return order.sort_values(["_all", "_pos"]).drop(columns=["_all", "_pos"])
