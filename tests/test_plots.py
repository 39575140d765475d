"""Tests of the comparison figures, drawn from a small synthetic results set.

Figures are checked through their matplotlib objects (titles, labels, artists), never pixels.
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from tmemsim import results
from tmemsim.presentation import compare, style
from tmemsim.presentation.style import PlotDataWarning

SUMMARY_COLUMNS = results.SUMMARY_COLUMNS  # the fixtures build summaries of the real format
POLICIES = ["none", "host-cache", "tmem"]
GUESTS = ["web-0", "db-1"]
# Per policy: guest hits, host hits and disk reads out of 1000 reads per guest.
SPLITS = {"none": (600, 0, 400), "host-cache": (600, 300, 100), "tmem": (600, 350, 50)}
SAMPLES = 10


def _summary_row(policy: str, guest: str, scale: int) -> dict:
    guest_hits, host_hits, disk = (n * scale for n in SPLITS[policy])
    reads = guest_hits + host_hits + disk
    row = dict.fromkeys(SUMMARY_COLUMNS, 0)
    row.update(
        policy=policy,
        guest=guest,
        requests=reads + 200 * scale,
        reads=reads,
        writes=200 * scale,
        guest_hits=guest_hits,
        host_hits=host_hits,
        disk_reads=disk,
        disk_writes=50 * scale,
        guest_hit_ratio=guest_hits / reads,
        host_hit_ratio=host_hits / reads,
        read_hit_ratio=(guest_hits + host_hits) / reads,
        mean_read_latency_us=1000.0 * disk / reads + 5,
        p50_read_latency_us=1.0,
        p95_read_latency_us=300.0 + disk,
        p99_read_latency_us=8000.0 + 10 * disk,
        throughput_ops=(reads + 200 * scale) / 10.0 * (2 if policy == "tmem" else 1),
        guest_cache_pages=25_600 * scale,
        host_pool_pages=51_200,
        host_pool_used_pages={"none": 0, "host-cache": 51_200, "tmem": 30_000}[policy],
        double_cached_pages={"none": 0, "host-cache": 12_800, "tmem": 0}[policy],
        distinct_contents_cached=20_000 * scale,
    )
    return row


def make_summary() -> pd.DataFrame:
    rows = []
    for policy in POLICIES:
        guest_rows = [_summary_row(policy, g, i + 1) for i, g in enumerate(GUESTS)]
        total = _summary_row(policy, "ALL", 3)  # scale 1 + 2: the sum of the two guests
        total["host_pool_used_pages"] = guest_rows[0]["host_pool_used_pages"]
        rows += guest_rows + [total]
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def make_timeseries() -> pd.DataFrame:
    rows = []
    for policy in POLICIES:
        pool = 0.0 if policy == "none" else 1.0
        for k in range(1, SAMPLES + 1):
            t = float(k)
            for i, guest in enumerate(GUESTS):
                disk = SPLITS[policy][2] * (i + 1) / SAMPLES * (2.0 - k / SAMPLES)
                for metric, value in (
                    ("requests", 120.0),
                    ("reads", 100.0),
                    ("guest_hits", 60.0),
                    ("host_hits", 30.0),
                    ("disk_reads", disk),
                    ("disk_writes", 5.0),
                    ("guest_cache_pages", 25_600.0 * (i + 1)),
                    ("pool_pages", pool * 1000.0 * k * (i + 1)),
                ):
                    rows.append((t, policy, guest, metric, value))
            for metric, value in (
                ("pool_used_pages", pool * 3000.0 * k),
                ("double_cached_pages", 0.0),
                ("distinct_contents", 500.0 * k),
            ):
                rows.append((t, policy, "HOST", metric, value))
    return pd.DataFrame(rows, columns=["time_s", "policy", "guest", "metric", "value"])


def make_latency() -> pd.DataFrame:
    edges = 2.0 ** np.arange(0, 16)  # 1 µs .. 32 ms
    rows = []
    for policy in POLICIES:
        guest_hits, host_hits, disk = SPLITS[policy]
        host_bucket = 1 if policy == "tmem" else 4  # tmem gets ~2 µs, host cache ~20 µs
        counts = {0: guest_hits, host_bucket: host_hits, 12: disk * 0.7, 13: disk * 0.3}
        for guest in [*GUESTS, "ALL"]:
            for b, n in counts.items():
                if n:
                    rows.append((policy, guest, edges[b], edges[b + 1], int(n)))
    return pd.DataFrame(rows, columns=["policy", "guest", "lo_us", "hi_us", "count"])


def make_meta() -> dict:
    return {
        "scenario": "two-guests",
        "description": "A web and a db guest share one host.",
        "seed": 7,
        "policies": list(POLICIES),
        "sample_interval_s": 1.0,
        "duration_s": 10.0,
        "wall_seconds": {p: 0.5 for p in POLICIES},
        "tmemsim_version": "0.1.0",
        "command": "tmemsim compare scenarios/two-guests.yaml",
    }


@pytest.fixture
def results():
    return make_summary(), make_timeseries(), make_latency(), make_meta()


@pytest.fixture(scope="module")
def figs():
    # Built once for the module: the tests only read the figures.
    with warnings.catch_warnings():
        warnings.simplefilter("error", PlotDataWarning)  # complete results must not warn
        return compare.figures(make_summary(), make_timeseries(), make_latency(), make_meta())


def _artists(fig: Figure) -> int:
    return sum(len(ax.patches) + len(ax.lines) + len(ax.collections) for ax in fig.axes)


def _messages(record) -> str:
    return "\n".join(str(w.message) for w in record)


def _visible_axes(fig: Figure):
    return [ax for ax in fig.axes if ax.get_visible()]


EXPECTED = {
    "reads_served": ("Where reads are served", "share of reads (%)"),
    "latency_cdf": ("Read latency distribution", "fraction of reads ≤ latency"),
    "memory": ("Memory use", "memory (MiB, 4 KiB pages)"),
    "disk_reads_over_time": ("Disk reads over time", "disk reads (reads/s, all guests)"),
    "pool_occupancy": ("Hypervisor pool occupancy per guest", "pool pages (MiB)"),
    "throughput": ("Throughput per guest", "throughput (ops/s)"),
}


def test_every_figure_is_built_with_content(figs):
    assert set(figs) == set(EXPECTED)
    for name, fig in figs.items():
        assert isinstance(fig, Figure)
        assert _artists(fig) > 0, name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_titles_labels_and_legend(figs, name):
    fig = figs[name]
    title, ylabel = EXPECTED[name]
    assert fig.get_suptitle() == f"{title} — two-guests"
    first = _visible_axes(fig)[0]
    assert first.get_ylabel() == ylabel
    assert all(ax.get_xlabel() for ax in _visible_axes(fig))
    assert fig.legends, "legend belongs outside the axes, on the figure"
    assert not any(ax.get_legend() for ax in fig.axes)


def test_latency_axis_is_log_microseconds(figs):
    ax = figs["latency_cdf"].axes[0]
    assert ax.get_xscale() == "log"
    assert "µs" in ax.get_xlabel()
    cdf = ax.lines[0].get_ydata()
    assert cdf[-1] == pytest.approx(1.0)
    assert np.all(np.diff(cdf) >= 0)


def test_reads_served_has_a_per_guest_panel(figs):
    ax_all, ax_guests = figs["reads_served"].axes
    assert [t.get_text() for t in ax_all.get_xticklabels()] == POLICIES
    assert [t.get_text() for t in ax_guests.get_xticklabels()] == GUESTS
    # Three stacked segments per policy bar; none has no hypervisor share, drawn as 0 height.
    assert len(ax_all.patches) == 3 * len(POLICIES)
    heights = [p.get_height() for p in ax_all.patches]
    assert sum(heights) == pytest.approx(100.0 * len(POLICIES))


def test_policies_keep_meta_order_and_colours(results):
    summary, timeseries, latency, meta = results
    meta = {**meta, "policies": ["tmem", "none", "host-cache"]}
    fig = compare.figures(summary, timeseries, latency, meta)["throughput"]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["tmem", "none", "host-cache"]
    colours = [h.get_facecolor() for h in fig.legends[0].legend_handles]
    from matplotlib.colors import to_rgba

    assert colours == [to_rgba(style.policy_color(p)) for p in labels]


def test_memory_bars_are_mebibytes(figs):
    ax = figs["memory"].axes[0]
    heights = sorted(p.get_height() for p in ax.patches)
    # host-cache pool used: 51,200 pages of 4 KiB = 200 MiB
    assert 200.0 in heights


def test_disk_reads_are_per_second(results):
    summary, timeseries, latency, meta = results
    doubled = {**meta, "sample_interval_s": 2.0}  # the same counts over intervals twice as long
    slower = timeseries.assign(time_s=timeseries.time_s * 2)
    one = compare.figures(summary, timeseries, latency, meta)["disk_reads_over_time"]
    two = compare.figures(summary, slower, latency, doubled)["disk_reads_over_time"]
    y1, y2 = one.axes[0].lines[0].get_ydata(), two.axes[0].lines[0].get_ydata()
    assert np.allclose(np.asarray(y1) / 2, y2)
    assert np.allclose(two.axes[0].lines[0].get_xdata(), 2 * one.axes[0].lines[0].get_xdata())


def test_a_shorter_last_interval_is_drawn_as_such(results):
    """A run that ends on its request budget ends between two sample times: its last sample
    covers less than a sample interval, and its rate is the count over that shorter time."""
    summary, timeseries, latency, meta = results
    last = timeseries.time_s == timeseries.time_s.max()
    cut = timeseries.assign(time_s=timeseries.time_s.where(~last, timeseries.time_s - 0.75))
    whole = compare.figures(summary, timeseries, latency, meta)["disk_reads_over_time"]
    short = compare.figures(summary, cut, latency, meta)["disk_reads_over_time"]
    (x1, y1), (x2, y2) = ((f.axes[0].lines[0].get_xdata(), f.axes[0].lines[0].get_ydata())
                          for f in (whole, short))
    assert np.allclose(x2[-2:], [SAMPLES - 1, SAMPLES - 0.75])  # the last interval: 0.25 s
    assert np.allclose(y2[-1], 4 * y1[-1])  # the same count in a quarter of the time
    assert np.allclose(y2[:-2], y1[:-2]) and np.allclose(x2[:-2], x1[:-2])


def test_pool_occupancy_skips_policies_without_pool(figs):
    titles = [ax.get_title() for ax in _visible_axes(figs["pool_occupancy"])]
    assert titles == ["host-cache", "tmem"]


def test_policy_colours_are_stable_and_distinct():
    assert style.policy_color("tmem") == style.POLICY_COLORS["tmem"]
    variant = style.policy_color("tmem+shared")
    assert variant in style.FALLBACK_PALETTE
    # Stable across processes: str hash() is salted, so check in a fresh interpreter.
    code = "from tmemsim.presentation.style import policy_color; print(policy_color('tmem+shared'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == variant
    names = ["none", "host-cache", "tmem", "dedup", "tmem+shared", "tmem+dedup", "host-cache+wb"]
    colours = style.policy_colors(names)
    assert len(set(colours.values())) == len(names)


def test_every_policy_kind_has_a_colour_of_its_own():
    from tmemsim.policies import POLICIES

    assert set(POLICIES) <= set(style.POLICY_COLORS)
    kinds = [style.POLICY_COLORS[kind] for kind in POLICIES]
    assert len(set(kinds)) == len(kinds)


def test_import_needs_no_pyplot_or_backend():
    code = "import sys, tmemsim.presentation.compare; print('matplotlib.pyplot' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- degrading on older results -------------------------------------------------------------


def test_missing_summary_columns_warn_and_skip(results):
    summary, timeseries, latency, meta = results
    old = summary.drop(
        columns=["double_cached_pages", "distinct_contents_cached", "throughput_ops"]
    )
    with pytest.warns(PlotDataWarning) as record:
        figs = compare.figures(old, timeseries, latency, meta)
    assert "double_cached_pages" in _messages(record)
    assert "throughput_ops" in _messages(record)
    assert "throughput" not in figs
    groups = [t.get_text() for t in figs["memory"].axes[0].get_xticklabels()]
    assert groups == ["guest page caches", "hypervisor pool used"]


def test_hit_counts_stand_in_for_missing_ratios(results):
    summary, timeseries, latency, meta = results
    old = summary.drop(columns=["guest_hit_ratio", "host_hit_ratio"])
    figs = compare.figures(old, timeseries, latency, meta)
    assert len(figs["reads_served"].axes[0].patches) == 3 * len(POLICIES)


def test_missing_metric_warns_and_skips_figure(results):
    summary, timeseries, latency, meta = results
    old = timeseries[~timeseries["metric"].isin(["disk_reads", "pool_pages"])]
    with pytest.warns(PlotDataWarning) as record:
        figs = compare.figures(summary, old, latency, meta)
    assert "'disk_reads'" in _messages(record) and "'pool_pages'" in _messages(record)
    assert "disk_reads_over_time" not in figs
    assert "pool_occupancy" not in figs
    assert "reads_served" in figs


def test_no_timeseries_nor_latency(results):
    summary, _, _, meta = results
    with pytest.warns(PlotDataWarning) as record:
        figs = compare.figures(summary, None, None, meta)
    assert "no latency histogram" in _messages(record)
    assert set(figs) == {"reads_served", "memory", "throughput"}


def test_latency_without_all_rows_sums_the_guests(results):
    summary, timeseries, latency, meta = results
    with pytest.warns(PlotDataWarning, match="summing the guests"):
        figs = compare.figures(summary, timeseries, latency[latency["guest"] != "ALL"], meta)
    assert figs["latency_cdf"].axes[0].lines[0].get_ydata()[-1] == pytest.approx(1.0)


def test_missing_meta_fields_are_inferred(results):
    summary, timeseries, latency, meta = results
    bare = {k: v for k, v in meta.items() if k not in ("policies", "sample_interval_s")}
    with pytest.warns(PlotDataWarning) as record:
        figs = compare.figures(summary, timeseries, latency, bare)
    assert "sample_interval_s" in _messages(record) and "'policies'" in _messages(record)
    assert "disk_reads_over_time" in figs


# --- saving -----------------------------------------------------------------------------------


def test_save_writes_png_and_svg(figs, tmp_path):
    out = tmp_path / "run" / "plots"
    written = compare.save(figs, out)
    assert sorted(p.name for p in written) == sorted(
        f"{name}.{ext}" for name in figs for ext in ("png", "svg")
    )
    for path in written:
        assert path.parent == out and path.stat().st_size > 0
    assert (out / "memory.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (out / "memory.svg").read_text()


# --- reading a figure without the README ----------------------------------------------------

SHARED = "shared by several guests"


def _with_shared_pages(results):
    """host-cache's pool holds 5,000 x k pages for no one guest (CoW base pages); a dedup
    policy's pool holds 2,000 x k pages, none counted to a guest (content-keyed)."""
    summary, timeseries, latency, meta = results
    ts = timeseries.copy()
    extra = (ts["policy"] == "host-cache") & (ts["guest"] == "HOST") & (
        ts["metric"] == "pool_used_pages")
    ts.loc[extra, "value"] += 5000.0 * ts.loc[extra, "time_s"]
    dedup = ts[ts["policy"] == "host-cache"].copy()
    dedup["policy"] = "dedup"
    dedup.loc[dedup["metric"] == "pool_pages", "value"] = 0.0
    used = dedup["metric"] == "pool_used_pages"
    dedup.loc[used, "value"] = 2000.0 * dedup.loc[used, "time_s"]
    ts = pd.concat([ts, dedup], ignore_index=True)
    summary = pd.concat([summary, summary[summary["policy"] == "host-cache"].assign(
        policy="dedup")], ignore_index=True)
    latency = pd.concat([latency, latency[latency["policy"] == "host-cache"].assign(
        policy="dedup")], ignore_index=True)
    return summary, ts, latency, {**meta, "policies": [*POLICIES, "dedup"]}


def _panels(fig) -> dict:
    return {ax.get_title(): ax for ax in _visible_axes(fig)}


def test_pool_pages_no_guest_owns_are_their_own_area(results):
    """The stack reaches the total line: the pages above the guests' own are drawn, labelled
    "shared by several guests", and only where there are such pages."""
    fig = compare.figures(*_with_shared_pages(results))["pool_occupancy"]
    panels = _panels(fig)
    host = panels["host-cache"]
    layers = host.collections
    assert [c.get_label() for c in layers] == [*GUESTS, SHARED]
    assert layers[-1].get_hatch()
    # top of the stack at the last sample = total used: 3,000 + 5,000 pages per s at t = 10
    top = max(v[1] for path in layers[-1].get_paths() for v in path.vertices)
    assert top == pytest.approx(80_000 * 4096 / 2**20)
    assert [c.get_label() for c in panels["tmem"].collections] == GUESTS  # nothing shared
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert SHARED in legend


def test_a_pool_no_guest_owns_gets_its_panel_and_a_note(results):
    """dedup counts no page to a guest: it is drawn (all shared) and says why, not left out."""
    fig = compare.figures(*_with_shared_pages(results))["pool_occupancy"]
    panels = _panels(fig)
    assert list(panels) == ["host-cache", "tmem", "dedup"]
    dedup = panels["dedup"]
    shared = dedup.collections[-1]
    assert shared.get_label() == SHARED
    top = max(v[1] for path in shared.get_paths() for v in path.vertices)
    assert top == pytest.approx(20_000 * 4096 / 2**20)
    assert any("no page is counted to one guest" in t.get_text() for t in dedup.texts)
    assert not any("counted" in t.get_text() for t in panels["host-cache"].texts)


def test_memory_says_why_double_cached_can_exceed_the_pool(figs, results):
    note = "a shared host page counts once for every guest that also holds it"
    assert any(note in t.get_text() for t in figs["memory"].axes[0].texts)
    summary, timeseries, latency, meta = results
    none_doubled = summary.assign(double_cached_pages=0)
    fig = compare.figures(none_doubled, timeseries, latency, meta)["memory"]
    assert not any(note in t.get_text() for t in fig.axes[0].texts)  # nothing to explain


def test_latency_reference_lines_are_named(figs):
    ax_cdf, ax_tail = figs["latency_cdf"].axes[:2]
    for ax, y, name in ((ax_cdf, 0.5, "median"), (ax_tail, 0.01, "p99")):
        (line,) = [ln for ln in ax.lines if list(ln.get_ydata()) == [y, y]]
        assert line.get_label() == name and line.get_linestyle() == ":"
        (text,) = [t for t in ax.texts if t.get_text() == name]
        assert text.get_position()[1] == y


def test_memory_shows_what_ksm_saved_only_when_a_policy_merged(results):
    summary, timeseries, latency, meta = results
    groups = [t.get_text() for t in compare.figures(summary, timeseries, latency, meta)[
        "memory"].axes[0].get_xticklabels()]
    assert "saved by KSM merging" not in groups
    merged = summary.assign(pages_sharing=[0] * (len(summary) - 1) + [1234])
    fig = compare.figures(merged, timeseries, latency, meta)["memory"]
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()][-1] == "saved by KSM merging"
    assert any(abs(h.get_height() - 1234 * 4096 / 2**20) < 1e-6 for h in ax.patches)
