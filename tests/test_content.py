"""Content and duplication: dup_writes and copy clones make the duplicates they claim; trace
replays report what they skipped."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import tmemsim
from tmemsim.cli import main
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
