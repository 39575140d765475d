"""Tests of report.md: scenario, comparison table, relative figure links and run metadata.

The summary is a small synthetic one; one test draws and saves the real figures.
"""

from __future__ import annotations

import pandas as pd
import pytest

from tmemsim import results
from tmemsim.presentation import compare, style
from tmemsim.presentation.report import comparison_markdown, write_report
from tmemsim.presentation.table import COMPARISON_COLUMNS, format_cell, table_rows

SUMMARY_COLUMNS = results.SUMMARY_COLUMNS  # the fixtures build summaries of the real format
# Per policy: guest hits, host hits, disk reads, p99 µs, throughput, pool used pages.
VALUES = {
    "none": (600, 0, 400, 9000.0, 100.0, 0),
    "host-cache": (600, 300, 100, 8500.0, 180.0, 51_200),
    "tmem": (600, 350, 50, 8000.0, 210.0, 25_600),
}
GUESTS = ["web-0", "db-1"]


def _row(policy: str, guest: str) -> dict:
    guest_hits, host_hits, disk, p99, throughput, pool = VALUES[policy]
    reads = guest_hits + host_hits + disk
    row = dict.fromkeys(SUMMARY_COLUMNS, 0)
    row.update(
        policy=policy,
        guest=guest,
        requests=reads,
        reads=reads,
        guest_hits=guest_hits,
        host_hits=host_hits,
        disk_reads=disk,
        guest_hit_ratio=guest_hits / reads,
        host_hit_ratio=host_hits / reads,
        read_hit_ratio=(guest_hits + host_hits) / reads,
        mean_read_latency_us=p99 / 10,
        p50_read_latency_us=1.0,
        p99_read_latency_us=p99,
        throughput_ops=throughput,
        guest_cache_pages=25_600,
        host_pool_pages=51_200,
        host_pool_used_pages=pool,
        double_cached_pages=12_800 if policy == "host-cache" else 0,
    )
    return row


def make_summary() -> pd.DataFrame:
    rows = [_row(p, g) for p in VALUES for g in [*GUESTS, "ALL"]]
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def make_meta() -> dict:
    return {
        "scenario": "two-guests",
        "description": "A web and a db guest share one host; who serves the re-reads?",
        "seed": 1234,
        "policies": list(VALUES),
        "sample_interval_s": 1.0,
        "duration_s": 10.0,
        "wall_seconds": {"none": 1.25, "host-cache": 1.5, "tmem": 2.0},
        "tmemsim_version": "0.1.0",
        "command": ["tmemsim", "compare", "scenarios/two guests.yaml", "--set", "seed=1234"],
    }


@pytest.fixture
def summary():
    return make_summary()


@pytest.fixture
def figure_files(tmp_path):
    plots_dir = tmp_path / "run" / "plots"
    plots_dir.mkdir(parents=True)
    files = []
    for name in ("reads_served", "memory"):
        for ext in ("png", "svg"):
            path = plots_dir / f"{name}.{ext}"
            path.write_bytes(b"")
            files.append(path)
    return files


def test_report_has_scenario_table_figures_and_meta(tmp_path, summary, figure_files):
    path = write_report(tmp_path / "run", summary, make_meta(), figure_files)
    assert path == tmp_path / "run" / "report.md"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# tmemsim report: two-guests\n")
    assert "who serves the re-reads?" in text
    assert comparison_markdown(summary) in text
    assert "![Where reads are served](plots/reads_served.png)" in text
    assert "![Memory use](plots/memory.png)" in text
    assert "(plots/memory.svg)" in text
    for expected in (
        "| seed | 1234 |",
        "| policies | none, host-cache, tmem |",
        "| tmemsim version | 0.1.0 |",
        "none: 1.25 s, host-cache: 1.50 s, tmem: 2.00 s",
        "tmemsim compare 'scenarios/two guests.yaml' --set seed=1234",
    ):
        assert expected in text


def test_report_has_no_absolute_paths(tmp_path, summary, figure_files):
    text = write_report(tmp_path / "run", summary, make_meta(), figure_files).read_text()
    assert str(tmp_path) not in text


def test_markdown_table_numbers_and_marks(summary):
    lines = comparison_markdown(summary).splitlines()
    assert lines[0] == "| policy | " + " | ".join(c.header for c in COMPARISON_COLUMNS) + " |"
    assert len(lines) == 2 + 3
    for row, line in zip(table_rows(summary), lines[2:], strict=True):
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        assert cells[0] == row["policy"]
        for column, cell in zip(COMPARISON_COLUMNS, cells[1:], strict=True):
            plain = format_cell(column, row[column.key])
            assert cell in (plain, f"**\\*{plain}**"), column.header
    tmem = lines[4]
    assert "**\\*95.0%**" in tmem  # best read hit ratio
    assert "**\\*8,000**" in tmem  # best p99
    assert "**" not in lines[2].split(" | ")[8]  # pool used is never ranked


def test_markdown_marks_ties_as_the_terminal_table_does(summary):
    """Cells that read the same carry the same mark in report.md: 95.04% and 94.96% both read
    95.0%, and both are bold with a star, as in the terminal table."""
    for policy, ratio in (("host-cache", 0.9496), ("tmem", 0.9504)):
        summary.loc[(summary["policy"] == policy) & (summary["guest"] == "ALL"),
                    "read_hit_ratio"] = ratio
    lines = comparison_markdown(summary).splitlines()
    read_hit = [line.strip("|").split(" | ")[1].strip() for line in lines[2:]]
    assert read_hit == ["60.0%", "**\\*95.0%**", "**\\*95.0%**"]


def test_relative_figure_paths_are_taken_from_outdir(tmp_path, summary, monkeypatch):
    outdir = tmp_path / "run"
    (outdir / "plots").mkdir(parents=True)
    (outdir / "plots" / "throughput.png").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    # Relative to the working directory, and relative to the results directory: same link.
    for given in ("run/plots/throughput.png", "plots/throughput.png"):
        text = write_report("run", summary, make_meta(), [given]).read_text()
        assert "![Throughput per guest](plots/throughput.png)" in text


def test_report_without_figures_or_optional_meta(tmp_path, summary):
    meta = {"scenario": "bare", "policies": ["none"]}
    text = write_report(tmp_path, summary, meta, []).read_text()
    assert "_No figures were written._" in text
    assert "| seed | – |" in text


def test_report_with_real_figures(tmp_path, summary):
    meta = make_meta()
    with pytest.warns(style.PlotDataWarning):  # no timeseries nor latency: three figures
        figs = compare.figures(summary, None, None, meta)
    files = compare.save(figs, tmp_path / "plots")
    text = write_report(tmp_path, summary, meta, files).read_text()
    assert set(figs) == {"reads_served", "memory", "throughput"}
    for name in figs:
        assert f"(plots/{name}.png)" in text
        assert f"(plots/{name}.svg)" in text
