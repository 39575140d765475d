"""Content and duplication: images' zero and duplicate pages, drawn page by page; dup_writes
and copy clones make the duplicates they claim; trace replays report what they skipped."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner

import tmemsim
from tmemsim.cli import main
from tmemsim.images import PAGE_BITS, PAGE_MASK, ZERO_CONTENT, ImageContent
from tmemsim.workloads.traces import write_msr


def _scenario(policy, *, clone="copy", count=3, steps=None, workload=None):
    return {
        "seed": 4, "requests": len(steps) if steps else 3000,
        "host": {"memory": "64MiB", "reserved": "8MiB"},
        "disks": {"d": {"kind": "ssd"}},
        "images": {"base": {"size": "4MiB"}},
        "policies": [policy],
        "guests": [{"name": "g", "count": count, "memory": "2MiB", "reserved": "1MiB",
                    "disk": {"image": "base", "clone": clone},
                    "workload": workload or {"kind": "script", "steps": steps}}],
    }


def _all(result):
    s = result.summary
    return s[s.guest == "ALL"].iloc[0]


def test_copy_clones_hold_the_same_bytes_at_different_locations():
    steps = [f"r {p}" for p in range(64)]
    host = _all(tmemsim.simulate(_scenario("host-cache", steps=steps)))
    dedup = _all(tmemsim.simulate(_scenario("dedup", steps=steps)))
    # the host cache keeps one page per location: 3 guests x 64 pages, 64 distinct contents
    assert host.host_pool_used_pages == 3 * 64
    assert host.distinct_contents_cached == 64
    # the content-keyed cache keeps each distinct page once
    assert dedup.host_pool_used_pages == 64 == dedup.distinct_contents_cached


@pytest.mark.parametrize("dup, expect_shared", [(1.0, True), (0.0, False)])
def test_dup_writes_are_the_same_bytes_in_every_guest(dup, expect_shared):
    workload = {"kind": "uniform", "footprint": 32, "read_fraction": 0.0, "dup_writes": dup,
                "sync": True}
    d = _scenario("dedup", clone="cow", workload=workload)
    d["requests"] = 200
    row = _all(tmemsim.simulate(d))
    writes = row.writes
    distinct = row.distinct_contents_cached
    if expect_shared:
        # pooled writes of a vpage carry the same bytes in every guest: at most one per vpage
        assert distinct <= 32
    else:
        # every write is new bytes: as many distinct contents as writes the pool could keep
        assert distinct == min(writes, row.host_pool_pages)


def _trace_scenario(path, on_error):
    return {
        "seed": 1, "duration": "10s",
        "host": {"memory": "64MiB", "reserved": "8MiB"},
        "disks": {"d": {"kind": "ssd"}},
        "policies": ["none"],
        "guests": [{"name": "t", "memory": "4MiB", "reserved": "2MiB",
                    "disk": {"size": "64MiB"},
                    "workload": {"kind": "trace", "format": "msr", "path": str(path),
                                 "on_error": on_error}}],
    }


@pytest.fixture()
def bad_trace(tmp_path):
    path = tmp_path / "t.csv"
    write_msr(path, [(0.001 * i, i % 2, 4096 * i, 4096, 0) for i in range(20)])
    lines = path.read_text().splitlines()
    lines.insert(7, "not,a,valid,line")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_skipped_trace_lines_are_counted_in_meta(bad_trace, tmp_path):
    r = tmemsim.simulate(_trace_scenario(bad_trace, "skip"))
    stats = r.meta["traces"]["none"]["t"]
    assert stats["skipped"] == 1 and stats["records"] == 20
    r.save(tmp_path / "out")
    assert '"skipped": 1' in (tmp_path / "out" / "meta.json").read_text()


def test_a_malformed_trace_line_stops_the_run_naming_file_and_line(bad_trace, tmp_path):
    import yaml

    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(_trace_scenario(bad_trace, "raise")))
    result = CliRunner().invoke(main, ["run", str(scenario), "--quiet"])
    assert result.exit_code == 2
    assert "t.csv" in result.output and "line 8" in result.output
    assert "Traceback" not in result.output


# ---------------------------------------------------------------- an image's original bytes


def _image(pages=100_000, zero=0.1, dup=0.2, seed=5, file_id=3):
    return ImageContent(file_id, pages, zero, dup, np.random.SeedSequence(seed))


def test_image_pages_are_zero_duplicate_or_unique_in_the_stated_shares():
    image = _image()
    pages = np.arange(image.pages)
    content = image.of_pages(pages)
    own = image.own | pages
    zero = content == ZERO_CONTENT
    dup = ~zero & (content != own)
    n = image.pages  # binomial shares: 5 standard deviations is under 0.7 points here
    assert abs(zero.mean() - 0.1) < 5 * (0.1 * 0.9 / n) ** 0.5
    assert abs(dup.mean() - 0.2) < 5 * (0.2 * 0.8 / n) ** 0.5
    # a duplicate copies a unique page of the same image, any of them alike
    source = content[dup] & PAGE_MASK
    assert (content[source] == own[source]).all()
    assert (content[dup] >> PAGE_BITS == own[0] >> PAGE_BITS).all()
    unique = np.flatnonzero(~zero & ~dup)
    copies = np.bincount(np.searchsorted(unique, source), minlength=len(unique))
    # drawn uniformly, the copies of each unique page are Poisson: variance = mean (a source
    # found by probing from a random page instead would favour pages after zeros and copies)
    assert copies.var() / copies.mean() == pytest.approx(1, abs=0.03)


def test_a_page_reads_the_same_alone_in_any_order_and_in_bulk():
    pages = np.random.default_rng(1).integers(0, 100_000, 3000)
    bulk = _image().of_pages(pages)
    one_by_one = _image()
    assert [one_by_one.of(int(p)) for p in pages[::-1]] == bulk[::-1].tolist()
    assert len(one_by_one.memo) == len(set(pages.tolist()))  # only the pages asked for
    assert not np.array_equal(_image(seed=6).of_pages(pages), bulk)


def test_a_huge_image_costs_only_the_pages_asked_for():
    image = _image(pages=1 << 32)  # 16 TiB
    pages = [0, 12345, (1 << 32) - 1] * 2
    contents = [image.of(p) for p in pages]
    assert len(image.memo) == 3 and contents[:3] == contents[3:]
    assert all(c == ZERO_CONTENT or c >> PAGE_BITS == image.own >> PAGE_BITS for c in contents)


def test_images_without_zeros_or_duplicates_need_no_memo():
    image = _image(zero=0.0, dup=0.0)
    assert image.of(77) == image.own | 77 and not image.memo


def test_with_no_unique_page_a_duplicate_keeps_its_own_bytes():
    image = _image(pages=5000, zero=0.5, dup=0.5)
    pages = np.arange(5000)
    content = image.of_pages(pages)
    zero = content == ZERO_CONTENT
    assert 0.4 < zero.mean() < 0.6
    assert (content[~zero] == (image.own | pages)[~zero]).all()


def _peak_rss_mib_simulating(image_size: str) -> float:
    """Peak RSS of a fresh process simulating a copy clone of an image under dedup, reading
    Zipf over 20,000 pages of it, whatever the image's size."""
    scenario = {
        "seed": 1, "requests": 5000,
        "host": {"memory": "256MiB", "reserved": "32MiB"},
        "disks": {"d": {"kind": "hdd"}},
        "images": {"base": {"size": image_size, "zero_fraction": 0.05, "internal_dup": 0.05}},
        "policies": ["dedup"],
        "guests": [{"name": "g", "memory": "64MiB", "disk": {"image": "base", "clone": "copy"},
                    "workload": {"kind": "zipf", "footprint": 20000}}],
    }
    # VmHWM, which the exec resets (ru_maxrss would carry over this test process's peak)
    script = textwrap.dedent(f"""
        import re
        import tmemsim
        r = tmemsim.simulate({scenario!r})
        assert r.summary.requests.max() >= 5000
        print(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True)
    return int(out.stdout.split()[-1]) / 1024


def test_memory_follows_the_pages_touched_not_the_image_size():
    # a 1 TiB image read through 20,000 pages needs what a 20,000-page image needs (the
    # whole-image content array took 6.4 GiB more): only the touched pages' contents are kept
    small = _peak_rss_mib_simulating("80000KiB")
    huge = _peak_rss_mib_simulating("1TiB")
    assert huge - small < 32, f"peak RSS {huge:.0f} MiB against {small:.0f} MiB"
