"""Results: what a results directory holds, reading it back, and the atomic write."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

import tmemsim
from tmemsim.results import Result

# docs/model.md, "Results": the fixed names, in this order (more may follow them)
SUMMARY_COLUMNS = [
    "policy", "guest", "requests", "reads", "writes", "guest_hits", "host_hits", "disk_reads",
    "disk_writes", "guest_hit_ratio", "host_hit_ratio", "read_hit_ratio",
    "mean_read_latency_us", "p50_read_latency_us", "p95_read_latency_us",
    "p99_read_latency_us", "throughput_ops", "guest_cache_pages", "host_pool_pages",
    "host_pool_used_pages", "double_cached_pages", "distinct_contents_cached", "tmem_puts",
    "tmem_puts_rejected", "tmem_gets", "tmem_get_hits", "tmem_flushes", "tmem_evictions",
    "frontswap_stores", "frontswap_loads", "swap_disk_io", "stale_reads",
]


def scenario_dict(seed=1) -> dict:
    return {
        "name": "results-test", "description": "two guests under tmem", "seed": seed,
        "duration": "1s", "sample_interval": "250ms", "policies": ["tmem", "none"],
        "host": {"memory": "512MiB", "reserved": "64MiB"},
        "disks": {"d": {"kind": "ssd"}},
        "guests": [{
            "name": "web", "count": 2, "memory": "8MiB", "reserved": "2MiB",
            "disk": {"size": "256MiB"},
            "workload": {"kind": "zipf", "alpha": 0.9, "footprint": 20000, "read_fraction": 0.9,
                         "think_time": "100us"},
        }],
    }


@pytest.fixture(scope="module")
def result() -> Result:
    return tmemsim.simulate(tmemsim.load_scenario(scenario_dict()))


def fake_plots(self, directory):
    """Stands in for matplotlib (seconds per save; tests/test_plots.py covers the figures):
    records where the plots were asked for, so the test can see they are built in place."""
    plots = directory / "plots"
    plots.mkdir()
    (plots / "asked.txt").write_text(str(directory))
    return [plots / "asked.txt"]


@pytest.fixture(scope="module")
def saved(result, tmp_path_factory):
    """One save, shared by the content tests."""
    out = tmp_path_factory.mktemp("saved") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Result, "_save_plots", fake_plots)
        assert result.save(out) == out
    return out


def no_plots(monkeypatch):
    monkeypatch.setattr(Result, "_save_plots", lambda self, directory: [])


def snapshot(directory) -> dict:
    return {p.relative_to(directory).as_posix(): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------------------------
# the tables in memory


def test_summary_rows_and_columns(result):
    s = result.summary
    assert list(s.columns[:len(SUMMARY_COLUMNS)]) == SUMMARY_COLUMNS
    assert list(zip(s.policy, s.guest, strict=True)) == [
        ("tmem", "web-0"), ("tmem", "web-1"), ("tmem", "ALL")]
    all_row = result.row()
    guests = s[s.guest != "ALL"]
    for col in ("requests", "reads", "writes", "guest_hits", "host_hits", "disk_reads",
                "disk_writes", "tmem_puts", "tmem_gets", "tmem_get_hits"):
        assert guests[col].sum() == all_row[col], col
    assert all_row.tmem_puts > 0 and all_row.tmem_get_hits > 0
    assert all_row.host_hits == all_row.tmem_get_hits  # tmem serves hits through gets
    assert all_row.read_hit_ratio == pytest.approx(
        (all_row.guest_hits + all_row.host_hits) / all_row.reads)
    assert all_row.throughput_ops == pytest.approx(all_row.requests / 1.0)  # over the 1 s run
    assert all_row.p50_read_latency_us <= all_row.p95_read_latency_us <= \
        all_row.p99_read_latency_us
    assert all_row.guest_cache_pages <= 2 * 6 * 256  # two guests of 6 MiB page cache


def test_latency_histogram_counts_every_read(result):
    lat = result.latency
    assert list(lat.columns) == ["policy", "guest", "lo_us", "hi_us", "count"]
    assert (lat.lo_us < lat.hi_us).all() and (lat["count"] > 0).all()
    counts = lat.groupby("guest")["count"].sum()
    for _, row in result.summary.iterrows():
        # every completed read; a read still in flight when the run ends (one per thread) is
        # counted in reads but has no latency yet
        in_flight = 2 if row.guest == "ALL" else 1
        assert row.reads - in_flight <= counts[row.guest] <= row.reads, row.guest
    # the mean recomputed from the buckets' middles is close to the exact one
    g = lat[lat.guest == "ALL"]
    approx_mean = ((g.lo_us * g.hi_us) ** 0.5 * g["count"]).sum() / g["count"].sum()
    assert approx_mean == pytest.approx(result.row().mean_read_latency_us, rel=0.01)


def test_timeseries_samples_every_interval(result):
    ts = result.timeseries
    assert list(ts.columns[:5]) == ["time_s", "policy", "guest", "metric", "value"]
    times = sorted(ts.time_s.unique())
    assert times[:3] == pytest.approx([0.25, 0.5, 0.75])
    reads = ts[(ts.metric == "reads") & ts.guest.isin(["web-0", "web-1"])]
    # per-interval counts: they add up to at most the run's total (the last interval may be
    # cut by the end of the run)
    assert 0 < reads.value.sum() <= result.row().reads


# ---------------------------------------------------------------------------------------------
# the directory


def test_directory_contents(saved):
    names = {p.name for p in saved.iterdir()}
    assert {"scenario.yaml", "meta.json", "summary.csv", "timeseries.parquet",
            "latency.parquet", "plots"} <= names
    # the plots were drawn into the directory being built, beside the target, not into it
    built_in = (saved / "plots" / "asked.txt").read_text()
    assert built_in != str(saved)
    assert os.path.dirname(built_in) == str(saved.parent)
    # nothing left beside it: no temporary or old directories
    assert [p.name for p in saved.parent.iterdir()] == ["run"]


@pytest.mark.slow
def test_directory_with_real_plots(result, tmp_path):
    out = result.save(tmp_path / "run")
    pngs = list((out / "plots").glob("*.png"))
    assert pngs and all(p.stat().st_size > 1000 for p in pngs)
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_scenario_yaml_reloads_to_the_same_scenario(saved):
    again = tmemsim.load_scenario(saved / "scenario.yaml")
    original = tmemsim.load_scenario(scenario_dict())
    assert again.model_dump() == original.model_dump()
    # every default is written out, not just what the user gave
    text = (saved / "scenario.yaml").read_text()
    for key in ("warmup:", "engine:", "writeback_interval:", "dirty_expire:", "costs:",
                "read_fraction:", "channels:"):
        assert key in text, key


def test_meta_json(saved, result):
    meta = json.loads((saved / "meta.json").read_text())
    assert meta["tmemsim_version"] == tmemsim.__version__
    assert meta["seed"] == 1
    assert meta["scenario"] == "results-test"
    assert meta["policies"] == ["tmem"]
    for key in ("wall_seconds", "simulated_requests", "events", "versions", "command"):
        assert key in meta, key
    assert meta["simulated_requests"]["tmem"] == result.row().requests
    assert meta["events"]["tmem"] > 0
    assert meta["wall_seconds"]["tmem"] >= 0
    for lib in ("python", "numpy", "simpy"):
        assert meta["versions"][lib], lib


def test_summary_csv(saved, result):
    with open(saved / "summary.csv") as f:
        header = f.readline().strip().split(",")
    assert header[:len(SUMMARY_COLUMNS)] == SUMMARY_COLUMNS
    csv = pd.read_csv(saved / "summary.csv")
    assert len(csv) == 3
    pd.testing.assert_frame_equal(csv, result.summary, check_dtype=False)


def test_parquet_files_are_readable(saved, result):
    ts = pd.read_parquet(saved / "timeseries.parquet")
    lat = pd.read_parquet(saved / "latency.parquet")
    pd.testing.assert_frame_equal(ts, result.timeseries, check_dtype=False)
    pd.testing.assert_frame_equal(lat, result.latency, check_dtype=False)


def test_read_results_round_trip(saved, result):
    back = tmemsim.read_results(saved)
    pd.testing.assert_frame_equal(back.summary, result.summary, check_dtype=False)
    pd.testing.assert_frame_equal(back.timeseries, result.timeseries, check_dtype=False)
    assert back.meta["seed"] == 1
    assert back.row().reads == result.row().reads
    assert back.scenario_yaml == result.scenario_yaml


def test_read_results_refuses_a_directory_without_summary(tmp_path):
    with pytest.raises(FileNotFoundError, match="summary.csv"):
        tmemsim.read_results(tmp_path)


def test_directory_mode_follows_the_umask(saved, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    assert (saved.stat().st_mode & 0o777) == (plain.stat().st_mode & 0o777)


# ---------------------------------------------------------------------------------------------
# --force and the atomic write


def test_existing_directory_needs_force(result, tmp_path, monkeypatch):
    no_plots(monkeypatch)
    out = tmp_path / "run"
    result.save(out)
    before = snapshot(out)
    with pytest.raises(FileExistsError, match="force"):
        result.save(out)
    assert snapshot(out) == before


def test_force_replaces_the_directory(result, tmp_path, monkeypatch):
    no_plots(monkeypatch)
    out = tmp_path / "run"
    result.save(out)
    (out / "stray.txt").write_text("from an older run")
    other = tmemsim.simulate(tmemsim.load_scenario(scenario_dict(seed=2)), policy="none")
    other.save(out, force=True)
    assert not (out / "stray.txt").exists()  # replaced, not merged
    assert json.loads((out / "meta.json").read_text())["seed"] == 2
    assert tmemsim.read_results(out).row().policy == "none"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_failed_write_keeps_the_old_directory_intact(result, tmp_path, monkeypatch):
    no_plots(monkeypatch)
    out = tmp_path / "run"
    result.save(out)
    before = snapshot(out)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken)
    with pytest.raises(OSError, match="disk full"):
        result.save(out, force=True)
    assert snapshot(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no temporary directory left


def test_failed_write_leaves_no_directory(result, tmp_path, monkeypatch):
    no_plots(monkeypatch)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken)
    with pytest.raises(OSError):
        result.save(tmp_path / "run")
    assert list(tmp_path.iterdir()) == []


def test_save_creates_missing_parents(result, tmp_path, monkeypatch):
    no_plots(monkeypatch)
    out = tmp_path / "a" / "b" / "run"
    result.save(out)
    assert (out / "summary.csv").exists()
    assert os.listdir(out.parent) == ["run"]
