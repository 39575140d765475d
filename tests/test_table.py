"""Tests of the comparison and summary tables, on a small synthetic summary.

The table's numbers must be the summary's numbers, and the best marks must sit on the right rows.
"""

from __future__ import annotations

import pandas as pd
import pytest
from rich.console import Console

from tmemsim import results
from tmemsim.presentation.table import (
    COMPARISON_COLUMNS,
    TableDataWarning,
    comparison_table,
    format_cell,
    summary_table,
    table_rows,
)

SUMMARY_COLUMNS = results.SUMMARY_COLUMNS  # the fixtures build summaries of the real format
GUESTS = ["web-0", "db-1"]
# Per policy (ALL row): guest hits, host hits, disk reads of 3000 reads; p50; throughput;
# pool used pages; double-cached pages. p50 ties between host-cache and tmem, double-cached
# ties at 0 between none and tmem: ties mark every holder.
ALL_VALUES = {
    "none": (1800, 0, 1200, 2.0, 300.0, 0, 0),
    "host-cache": (1800, 900, 300, 1.0, 450.5, 51_200, 12_800),
    "tmem": (1800, 1050, 150, 1.0, 600.25, 30_000, 0),
}


def _row(policy: str, guest: str, share: float) -> dict:
    guest_hits, host_hits, disk, p50, throughput, pool, double = ALL_VALUES[policy]
    guest_hits, host_hits, disk = (round(n * share) for n in (guest_hits, host_hits, disk))
    reads = guest_hits + host_hits + disk
    row = dict.fromkeys(SUMMARY_COLUMNS, 0)
    row.update(
        policy=policy,
        guest=guest,
        requests=reads + 500,
        reads=reads,
        writes=500,
        guest_hits=guest_hits,
        host_hits=host_hits,
        disk_reads=disk,
        guest_hit_ratio=guest_hits / reads,
        host_hit_ratio=host_hits / reads,
        read_hit_ratio=(guest_hits + host_hits) / reads,
        mean_read_latency_us=3000.0 * disk / reads,
        p50_read_latency_us=p50,
        p99_read_latency_us=9000.0 + disk,
        throughput_ops=throughput * share,
        host_pool_pages=51_200,
        host_pool_used_pages=pool,
        double_cached_pages=double,
    )
    return row


def make_summary() -> pd.DataFrame:
    rows = []
    for policy in ALL_VALUES:
        rows += [
            _row(policy, "web-0", 1 / 3),
            _row(policy, "db-1", 2 / 3),
            _row(policy, "ALL", 1.0),
        ]
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


@pytest.fixture
def summary():
    return make_summary()


def _name(column) -> str:
    # Terminal headers stack one word per line; compare them as one line.
    return " ".join(column.header.split()).replace("- ", "-")


def _cells(table) -> dict[str, list[str]]:
    return {_name(col): [str(c) for c in col.cells] for col in table.columns}


def _render(table) -> str:
    console = Console(record=True, width=250, color_system=None)
    console.print(table)
    return console.export_text()


def test_table_rows_equal_summary(summary):
    rows = table_rows(summary)
    totals = summary[summary["guest"] == "ALL"].set_index("policy")
    assert [r["policy"] for r in rows] == ["none", "host-cache", "tmem"]
    for row in rows:
        expected = totals.loc[row["policy"]]
        for key in (
            "read_hit_ratio",
            "guest_hit_ratio",
            "host_hit_ratio",
            "disk_reads",
            "p50_read_latency_us",
            "p99_read_latency_us",
            "throughput_ops",
        ):
            assert row[key] == expected[key]
        assert row["pool_used_mib"] == expected["host_pool_used_pages"] * 4096 / 2**20
        assert row["double_cached_mib"] == expected["double_cached_pages"] * 4096 / 2**20
        assert all(type(v) in (str, float) for v in row.values())


def test_table_shows_the_rows_numbers(summary):
    table = comparison_table(summary, title="cmp")
    cells = _cells(table)
    rows = table_rows(summary)
    assert cells["policy"] == [r["policy"] for r in rows]
    for column in COMPARISON_COLUMNS:
        shown = [c.removeprefix("*") for c in cells[column.header]]
        assert shown == [format_cell(column, r[column.key]) for r in rows], column.header
    assert table.title == "cmp"


def test_best_marks_on_the_right_rows(summary):
    table = comparison_table(summary)
    marked = {
        _name(col): {
            p
            for p, c in zip(_cells(table)["policy"], col.cells, strict=True)
            if str(c).startswith("*")
        }
        for col in table.columns[1:]
    }
    assert marked == {
        "read hit ratio": {"tmem"},
        "guest hit": set(),  # equal everywhere: no winner
        "host hit": {"tmem"},
        "disk reads": {"tmem"},
        "p50 read (µs)": {"host-cache", "tmem"},  # a tie marks both
        "p99 read (µs)": {"tmem"},
        "throughput (ops/s)": {"tmem"},
        "pool used (MiB)": set(),  # never ranked
        "double-cached (MiB)": {"none", "tmem"},
    }
    best_cell = list(table.columns[1].cells)[2]
    assert best_cell.style == "bold"


def _marked(table) -> dict[str, set[str]]:
    policies = _cells(table)["policy"]
    return {_name(col): {p for p, c in zip(policies, col.cells, strict=True)
                         if str(c).startswith("*")} for col in table.columns[1:]}


def _set_all(summary, policy, column, value):
    summary.loc[(summary["policy"] == policy) & (summary["guest"] == "ALL"), column] = value


def test_cells_that_read_the_same_carry_the_same_mark(summary):
    """A tie is decided as shown: 95.04% and 94.96% both read 95.0%, both are best; 8,150.4
    and 8,150.2 µs both read 8,150."""
    _set_all(summary, "host-cache", "read_hit_ratio", 0.9496)
    _set_all(summary, "tmem", "read_hit_ratio", 0.9504)
    _set_all(summary, "none", "p99_read_latency_us", 8150.2)
    _set_all(summary, "tmem", "p99_read_latency_us", 8150.4)
    table = comparison_table(summary)
    cells = _cells(table)
    assert cells["read hit ratio"][1:] == ["*95.0%", "*95.0%"]
    assert cells["p99 read (µs)"][0] == cells["p99 read (µs)"][2] == "*8,150"
    marked = _marked(table)
    assert marked["read hit ratio"] == {"host-cache", "tmem"}
    assert marked["p99 read (µs)"] == {"none", "tmem"}
    for column in table.columns[1:]:  # whatever reads alike is marked alike
        shown = {}
        for cell in column.cells:
            shown.setdefault(str(cell).removeprefix("*"), set()).add(str(cell).startswith("*"))
        assert all(len(marks) == 1 for marks in shown.values()), _name(column)


def test_a_column_that_reads_the_same_everywhere_marks_nobody(summary):
    for policy, ratio in (("none", 0.7041), ("host-cache", 0.7038), ("tmem", 0.7044)):
        _set_all(summary, policy, "guest_hit_ratio", ratio)  # all read 70.4%
    assert _marked(comparison_table(summary))["guest hit"] == set()


def test_rendered_table_has_values_and_marks(summary):
    text = _render(comparison_table(summary))
    assert "*95.0%" in text  # tmem read hit ratio, marked
    assert "200.0" in text  # host-cache pool: 51,200 pages = 200 MiB
    assert "1,200" in text  # none disk reads


def test_missing_column_warns_and_shows_dash(summary):
    old = summary.drop(columns=["double_cached_pages"])
    with pytest.warns(TableDataWarning, match="double_cached_pages"):
        table = comparison_table(old)
    assert set(_cells(table)["double-cached (MiB)"]) == {"–"}


def test_nan_is_shown_as_dash_and_not_ranked(summary):
    summary.loc[
        (summary["policy"] == "tmem") & (summary["guest"] == "ALL"), "p99_read_latency_us"
    ] = float("nan")
    rows = table_rows(summary)
    assert rows[2]["p99_read_latency_us"] is None
    p99 = _cells(comparison_table(summary))["p99 read (µs)"]
    assert p99[2] == "–" and p99[1].startswith("*")


def test_summary_table_lists_guests_then_all(summary):
    one = summary[summary["policy"] == "tmem"]
    table = summary_table(one, title="tmem")
    cells = _cells(table)
    assert "policy" not in cells
    assert cells["guest"] == ["web-0", "db-1", "ALL"]
    assert cells["requests"] == [f"{v:,}" for v in one["requests"]]
    assert cells["read hit ratio"][2] == f"{one['read_hit_ratio'].iloc[2]:.1%}"
    assert "mean read (µs)" in cells and "p99 read (µs)" in cells


def test_summary_table_with_several_policies_adds_policy_column(summary):
    shuffled = summary.iloc[[2, 0, 1, 5, 3, 4]]  # ALL rows first: they still close each block
    cells = _cells(summary_table(shuffled))
    assert cells["policy"] == ["none"] * 3 + ["host-cache"] * 3
    assert cells["guest"] == ["web-0", "db-1", "ALL"] * 2
