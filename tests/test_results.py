"""Results: what a results directory holds, reading it back, and the atomic write."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tmemsim
from tmemsim.api import select_policies
from tmemsim.errors import TmemsimError
from tmemsim.infra.atomic import OutputError, stage
from tmemsim.model import World
from tmemsim.model.metrics import LatencyHistogram
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
    assert times == pytest.approx([0.25, 0.5, 0.75, 1.0])  # each interval, stamped at its end
    # per-interval counts: they add up to the run's totals, the last interval's included
    for guest in ("web-0", "web-1"):
        row = result.row(guest=guest)
        for metric in ("requests", "reads", "guest_hits", "host_hits", "disk_reads",
                       "disk_writes"):
            series = ts[(ts.metric == metric) & (ts.guest == guest)]
            assert len(series) == 4 and series.value.sum() == row[metric], (guest, metric)
    assert result.row().reads > 0


# ---------------------------------------------------------------------------------------------
# the directory


def test_directory_contents(saved):
    names = {p.name for p in saved.iterdir()}
    assert {"scenario.yaml", "meta.json", "summary.csv", "timeseries.parquet",
            "latency.parquet", "plots"} <= names
    # the plots were drawn into the directory being built, in a hidden workspace beside the
    # target (.run.<random>/run), not into it
    built_in = Path((saved / "plots" / "asked.txt").read_text())
    assert built_in != saved and built_in.name == "run"
    assert built_in.parent.parent == saved.parent and built_in.parent.name.startswith(".run.")
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


def test_failed_write_leaves_no_parents_it_created(result, tmp_path, monkeypatch):
    no_plots(monkeypatch)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken)
    with pytest.raises(OSError):
        result.save(tmp_path / "a" / "b" / "run")
    assert list(tmp_path.iterdir()) == []


def test_save_creates_missing_parents(result, tmp_path, monkeypatch):
    no_plots(monkeypatch)
    out = tmp_path / "a" / "b" / "run"
    result.save(out)
    assert (out / "summary.csv").exists()
    assert os.listdir(out.parent) == ["run"]


# ---------------------------------------------------------------------------------------------
# what force may replace; leftovers of killed saves; concurrent saves


def test_force_never_replaces_a_users_folder(result, tmp_path, monkeypatch):
    no_plots(monkeypatch)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("my thesis")
    (precious / "meta.json").write_text('{"author": "me"}')  # a meta.json, but not ours
    with pytest.raises(OutputError, match="precious is not a tmemsim results directory; "
                                          "refusing to replace it"):
        result.save(precious, force=True)
    assert (precious / "notes.txt").read_text() == "my thesis"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious"]
    assert issubclass(OutputError, TmemsimError)  # the CLI's exit 2


def test_force_replaces_empty_or_marked_directories(result, tmp_path, monkeypatch):
    no_plots(monkeypatch)
    empty, old = tmp_path / "empty", tmp_path / "old"
    empty.mkdir()
    old.mkdir()
    (old / "meta.json").write_text('{"tmemsim_version": "0.0.9"}')  # before the marker
    for out in (empty, old):
        result.save(out, force=True)
        assert json.loads((out / "meta.json").read_text())["tmemsim"] == "results"


def test_save_refuses_the_working_directory_and_its_parents(result, tmp_path, monkeypatch):
    no_plots(monkeypatch)
    out = tmp_path / "run"
    result.save(out)
    monkeypatch.chdir(out)
    before = snapshot(out)
    for target in (".", out, tmp_path, ".."):
        with pytest.raises(OutputError, match="working directory"):
            result.save(target, force=True)
    assert snapshot(out) == before


KILL_A_SAVE = """
import os, signal, sys
import tmemsim
from tmemsim.results import Result

def killed(self, directory):  # dies half-way through the build, as under kill -9 or kill
    os.kill(os.getpid(), getattr(signal, sys.argv[3]))

Result._save_plots = killed
tmemsim.read_results(sys.argv[1]).save(sys.argv[2], force=True)
"""


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM"])
def test_next_save_removes_leftovers_of_a_killed_save_and_nothing_else(sig, result, tmp_path,
                                                                       monkeypatch):
    no_plots(monkeypatch)
    source, out = tmp_path / "source", tmp_path / "out" / "run"
    result.save(source)
    killed = subprocess.run([sys.executable, "-c", KILL_A_SAVE, str(source), str(out), sig],
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -getattr(signal, sig), killed.stderr
    leftovers = [p.name for p in out.parent.iterdir()]
    assert len(leftovers) == 1 and leftovers[0].startswith(".run.")  # what it left behind
    # the user's hidden folders of similar names, and a workspace still in use, stay
    users = {".run.backup": "mine", ".run.old": "mine too"}
    for name, text in users.items():
        (out.parent / name).mkdir()
        (out.parent / name / "notes.txt").write_text(text)
    (out.parent / ".run.lookalike").mkdir()
    (out.parent / ".run.lookalike" / "tmemsim-partial.lock").write_text("not json")
    live = stage(out.parent / "run")
    try:
        result.save(out)
        names = sorted(p.name for p in out.parent.iterdir())
        assert names == sorted(["run", ".run.backup", ".run.old", ".run.lookalike",
                                live.workspace.name])
        for name, text in users.items():
            assert (out.parent / name / "notes.txt").read_text() == text
        assert (out / "summary.csv").exists()
    finally:
        live.discard()


def test_concurrent_saves_never_fail_and_leave_a_whole_directory(result, tmp_path,
                                                                  monkeypatch):
    no_plots(monkeypatch)
    out = tmp_path / "run"
    whole = {"scenario.yaml", "meta.json", "summary.csv", "timeseries.parquet",
             "latency.parquet"}
    versions = []
    for seed in range(4):
        r = Result(result.summary, result.timeseries, result.latency,
                   dict(result.meta, seed=seed), result.scenario_yaml)
        versions.append(r)
    errors, seen, done = [], [], threading.Event()

    def writer(r):
        try:
            for _ in range(6):
                r.save(out, force=True)
        except BaseException as exc:  # noqa: BLE001 - any failure is the finding
            errors.append(exc)

    def reader():
        """Lists the target whenever there is one; a listing counts only if the target is still
        the directory listed (not one moved aside and being removed meanwhile)."""
        while not done.is_set():
            try:
                fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
            except FileNotFoundError:  # between a move aside and a rename in
                continue
            try:
                names = set(os.listdir(fd))
                if os.stat(out).st_ino == os.fstat(fd).st_ino:
                    seen.append(names)
            except FileNotFoundError:
                pass
            finally:
                os.close(fd)

    threads = [threading.Thread(target=writer, args=(r,)) for r in versions]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    watcher.join()
    assert errors == []
    assert seen and all(names == whole for names in seen)
    assert set(os.listdir(out)) == whole
    assert json.loads((out / "meta.json").read_text())["seed"] in range(4)
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no workspace left
# latency percentiles against numpy on the raw latencies


def test_read_latency_percentiles_match_numpy_on_the_raw_latencies(tmp_path, monkeypatch):
    """An exponential disk under Poisson arrivals spreads the latencies (p99 is about 1.5 x
    p95), so a percentile reported for another one cannot pass. Every latency is recorded as
    the histogram bins it; summary.csv must give numpy's percentiles of them (the histogram's
    rank rule, `inverted_cdf`) to the histogram's resolution: a bucket's geometric middle is
    within a factor 10^(1/400) (0.58%) of every value in the bucket."""
    raw: dict = {}
    flush, add = LatencyHistogram.flush, LatencyHistogram.add

    def recording_flush(self):
        raw.setdefault(id(self), []).extend(self.pending)
        flush(self)

    def recording_add(self, seconds, count=1):
        raw.setdefault(id(self), []).extend([seconds] * count)
        add(self, seconds, count)

    monkeypatch.setattr(LatencyHistogram, "flush", recording_flush)
    monkeypatch.setattr(LatencyHistogram, "add", recording_add)
    d = {"name": "spread", "seed": 3, "duration": "20s", "sample_interval": "5s",
         "policies": ["none"], "host": {"memory": "1GiB", "reserved": "128MiB"},
         "disks": {"d": {"kind": "custom", "read": {"kind": "exponential", "mean": "1ms"}}},
         "guests": [{"name": "g", "count": 2, "memory": "8MiB", "reserved": "4MiB",
                     "disk": {"size": "64GiB"},
                     "workload": {"kind": "uniform", "footprint": 10_000_000,
                                  "arrival": {"kind": "poisson", "rate": "200/s"}}}]}
    s = tmemsim.load_scenario(d)
    world = World(s, select_policies(s)[0])
    out = world.run()
    for h in out.histograms:
        h.flush()  # what is still pending, recorded too
    monkeypatch.undo()
    lat = {g.name: np.asarray(raw[id(g.hist)]) for g in world.guests}
    lat["ALL"] = np.concatenate(list(lat.values()))
    r = Result.from_runs(s, [out])
    r.save(tmp_path / "out", plots=False)
    summary = pd.read_csv(tmp_path / "out" / "summary.csv").set_index("guest")
    for guest, x in lat.items():
        row = summary.loc[guest]
        assert 0.99 * row.reads <= len(x) <= row.reads  # reads in flight at the end have none
        p = np.percentile(x, [50, 95, 99], method="inverted_cdf") * 1e6
        assert p[2] > 1.3 * p[1] and p[1] > 1.3 * p[0]  # spread: no swap can pass
        got = [row.p50_read_latency_us, row.p95_read_latency_us, row.p99_read_latency_us]
        assert got == pytest.approx(p, rel=0.006), guest
