"""`tmemsim compare`: parallel = serial, policy selection, the results directory the CLI writes,
`tmemsim plot`, atomic results (a failed run leaves nothing), and latency percentiles checked
against the raw latencies of a run.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

import tmemsim
from tmemsim import api
from tmemsim.api import select_policies
from tmemsim.cli import main
from tmemsim.errors import RunError, ScenarioError
from tmemsim.model import World
from tmemsim.model.metrics import LatencyHistogram
from tmemsim.presentation.compare import FIGURE_TITLES
from tmemsim.presentation.table import COMPARISON_COLUMNS, format_cell, table_rows
from tmemsim.results import Result, read_results

FIGURES = sorted(FIGURE_TITLES)  # the six comparison figures
RESULT_FILES = {"summary.csv", "timeseries.parquet", "latency.parquet", "meta.json",
                "scenario.yaml", "report.md", "report.html", "plots"}


def tiny(**kw) -> dict:
    """Two CoW clones with a little anonymous memory: every policy has something to do."""
    d = {
        "name": "tiny", "seed": 4, "duration": "200ms", "warmup": "50ms",
        "sample_interval": "50ms",
        "host": {"memory": "96MiB", "reserved": "8MiB"},
        "disks": {"d": {"kind": "ssd"}},
        "images": {"base": {"size": "64MiB", "internal_dup": 0.2}},
        "guests": [{
            "name": "web", "count": 2, "memory": "12MiB", "reserved": "8MiB",
            "max_memory": "16MiB", "disk": {"image": "base", "clone": "cow"},
            "workload": {"kind": "zipf", "alpha": 0.8, "footprint": 6000, "read_fraction": 0.9,
                         "think_time": {"kind": "exponential", "mean": "20us"},
                         "anon": {"size": 1500, "fraction": 0.2}},
        }],
        "policies": ["none", "host-cache", "tmem", "dedup"],
    }
    d.update(kw)
    return d


@pytest.fixture
def scenario_file(tmp_path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny()))
    return path


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# ---------------------------------------------------------------------------------------------
# parallel = serial


def test_parallel_compare_equals_serial():
    s = tmemsim.load_scenario(tiny())
    serial = tmemsim.compare(s, jobs=1)
    parallel = tmemsim.compare(s, jobs=2)
    pd.testing.assert_frame_equal(parallel.summary, serial.summary)
    pd.testing.assert_frame_equal(parallel.timeseries, serial.timeseries)
    pd.testing.assert_frame_equal(parallel.latency, serial.latency)
    assert parallel.meta["policies"] == serial.meta["policies"] == [
        "none", "host-cache", "tmem", "dedup"]
    assert list(serial.summary["policy"].unique()) == serial.meta["policies"]
    # not vacuous: the policies really differ, and every guest saw the same requests
    rows = serial.summary[serial.summary["guest"] == "ALL"].set_index("policy")
    assert rows.loc["none", "host_hits"] == 0 < rows.loc["host-cache", "host_hits"]
    assert rows.loc["tmem", "tmem_puts"] > 0 and rows.loc["tmem", "frontswap_stores"] > 0
    assert rows["requests"].nunique() > 1  # faster policies serve more requests in 200 ms


# ---------------------------------------------------------------------------------------------
# policy subset and order


def test_policy_subset_keeps_the_order_given():
    """select_policies walks the *given* list (its docstring says "in the scenario's order";
    the code, and so this test, keeps the order asked for)."""
    s = tmemsim.load_scenario(tiny())
    assert [p.name for p in select_policies(s, "tmem,none")] == ["tmem", "none"]
    assert [p.name for p in select_policies(s, ["dedup", "host-cache"])] == [
        "dedup", "host-cache"]
    assert [p.name for p in select_policies(s, " tmem , tmem,none")] == ["tmem", "none"]
    assert [p.name for p in select_policies(s)] == ["none", "host-cache", "tmem", "dedup"]
    r = tmemsim.compare(s, policies="tmem,none")
    assert list(r.summary["policy"].unique()) == ["tmem", "none"]
    assert r.meta["policies"] == ["tmem", "none"]
    assert len(r.summary) == 2 * 3  # two guests and ALL, per policy


def test_policy_by_kind_and_registry_policy_not_in_scenario():
    s = tmemsim.load_scenario(tiny(policies=["none", {"kind": "tmem", "pool": "shared"}]))
    # a kind matches the scenario's variant of it
    assert [p.name for p in select_policies(s, "tmem")] == ["tmem+pool=shared"]
    # a registry policy the scenario does not list runs with its default options
    spec = select_policies(s, "dedup")[0]
    assert spec.kind == "dedup" and spec.name == "dedup"


@pytest.mark.parametrize("bad", ["bogus", "none,bogus", "tmem+pool=shared"])
def test_unknown_policy_is_a_scenario_error(bad):
    s = tmemsim.load_scenario(tiny())
    with pytest.raises(ScenarioError, match="unknown policy") as info:
        tmemsim.compare(s, policies=bad)
    assert bad.split(",")[-1] in str(info.value)
    assert "none, host-cache, tmem, dedup" in str(info.value)


def test_cli_unknown_policy_exits_2(scenario_file, tmp_path):
    r = invoke("compare", scenario_file, "--policies", "none,bogus", "--out",
               tmp_path / "out", "--quiet", "--jobs", 1)
    assert r.exit_code == 2
    assert "bogus" in r.stderr
    assert "Traceback" not in r.output
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------
# the results directory


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory):
    """One CLI `compare --out DIR --quiet` (figures included: the slow part, done once)."""
    base = tmp_path_factory.mktemp("cli")
    path = base / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny()))
    out = base / "res"
    r = CliRunner().invoke(main, ["compare", str(path), "--out", str(out), "--quiet",
                                  "--jobs", "2"])
    assert r.exit_code == 0, r.output
    return base, out, r


def test_compare_quiet_writes_the_results_directory(cli_results):
    base, out, r = cli_results
    assert r.stdout == ""  # --quiet: no table, no chatter
    assert set(listing(out)) == RESULT_FILES
    assert listing(out / "plots") == sorted(
        f"{name}.{ext}" for name in FIGURES for ext in ("png", "svg"))
    for f in (out / "plots").iterdir():
        assert f.stat().st_size > 1000
    assert listing(base) == ["res", "tiny.yaml"]  # no temporary directory left beside it
    summary = pd.read_csv(out / "summary.csv")
    policies = ["none", "host-cache", "tmem", "dedup"]
    assert list(summary["policy"].unique()) == policies
    assert list(summary["guest"]) == ["web-0", "web-1", "ALL"] * 4
    assert list(summary.columns[:32]) == [
        "policy", "guest", "requests", "reads", "writes", "guest_hits", "host_hits",
        "disk_reads", "disk_writes", "guest_hit_ratio", "host_hit_ratio", "read_hit_ratio",
        "mean_read_latency_us", "p50_read_latency_us", "p95_read_latency_us",
        "p99_read_latency_us", "throughput_ops", "guest_cache_pages", "host_pool_pages",
        "host_pool_used_pages", "double_cached_pages", "distinct_contents_cached", "tmem_puts",
        "tmem_puts_rejected", "tmem_gets", "tmem_get_hits", "tmem_flushes", "tmem_evictions",
        "frontswap_stores", "frontswap_loads", "swap_disk_io", "stale_reads"]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["policies"] == policies and meta["seed"] == 4
    assert meta["command"].startswith("tmemsim")  # (in-process: the rest is pytest's argv)
    ts = pd.read_parquet(out / "timeseries.parquet")
    assert list(ts.columns) == ["time_s", "policy", "guest", "metric", "value"]
    assert set(ts["policy"]) == set(policies)
    lat = pd.read_parquet(out / "latency.parquet")
    assert list(lat.columns) == ["policy", "guest", "lo_us", "hi_us", "count"]
    # the latency histogram holds the measured reads: a read counts when it starts and is
    # timed when it ends, so at most the one in flight per thread at the start and at the end
    # of the measurement differ
    for (policy, guest), n in lat.groupby(["policy", "guest"])["count"].sum().items():
        row = summary[(summary["policy"] == policy) & (summary["guest"] == guest)].iloc[0]
        assert abs(n - row["reads"]) <= (4 if guest == "ALL" else 2), (policy, guest)
    resolved = yaml.safe_load((out / "scenario.yaml").read_text())
    assert resolved["guests"][0]["writeback_interval"] == 5.0  # defaults filled in
    report = (out / "report.md").read_text()
    for name in FIGURES:
        assert f"plots/{name}.png" in report
    for policy in policies:
        assert f"| {policy} |" in report


def test_results_directory_has_ordinary_permissions(tmp_path):
    """Built by tempfile.mkdtemp (mode 0700) and renamed: it must still honour the umask."""
    result = tmemsim.compare(tmemsim.load_scenario(tiny()), policies="none")
    old = os.umask(0o022)
    try:
        out = result.save(tmp_path / "res", plots=False)
        ordinary = tmp_path / "ordinary"
        ordinary.mkdir()
    finally:
        os.umask(old)
    assert stat.S_IMODE(ordinary.stat().st_mode) == 0o755
    assert stat.S_IMODE(out.stat().st_mode) == 0o755


def test_printed_table_shows_the_summary_all_rows(cli_results):
    """`compare` without --quiet prints one line per policy; its cells are table_rows of the
    summary.csv the same scenario wrote (runs are deterministic)."""
    base, out, _ = cli_results
    r = invoke("compare", base / "tiny.yaml", "--jobs", 1)
    assert r.exit_code == 0, r.output
    summary = pd.read_csv(out / "summary.csv")
    rows = table_rows(summary)
    assert [row["policy"] for row in rows] == ["none", "host-cache", "tmem", "dedup"]
    all_rows = summary[summary["guest"] == "ALL"].set_index("policy")
    lines = r.stdout.splitlines()
    for row in rows:
        # table_rows' numbers are summary.csv's ALL row (memory scaled to MiB)
        for key in ("read_hit_ratio", "disk_reads", "p99_read_latency_us", "throughput_ops"):
            assert row[key] == pytest.approx(all_rows.loc[row["policy"], key])
        assert row["pool_used_mib"] == pytest.approx(
            all_rows.loc[row["policy"], "host_pool_used_pages"] * 4096 / 2**20)
        # the printed line of this policy shows every cell, in column order
        [line] = [ln for ln in lines if ln.split() and ln.split()[0] == row["policy"]]
        shown = [cell.lstrip("*") for cell in line.split()[1:]]
        assert shown == [format_cell(c, row[c.key]) for c in COMPARISON_COLUMNS], line
    assert "tiny" in r.stdout  # the scenario's name is the title


def test_plot_redraws_from_a_results_directory(cli_results, tmp_path):
    _, out, _ = cli_results
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    for f in (copy / "plots").iterdir():
        f.unlink()
    (copy / "report.md").unlink()
    r = invoke("plot", copy)
    assert r.exit_code == 0, r.output
    assert f"12 files in {copy / 'plots'}" in r.stdout
    assert listing(copy / "plots") == listing(out / "plots")
    assert (copy / "report.md").read_text() == (out / "report.md").read_text()
    # figures are byte-stable (fixed svg hash salt, no dates)
    for svg in (out / "plots").glob("*.svg"):
        assert (copy / "plots" / svg.name).read_bytes() == svg.read_bytes(), svg.name


def _without_double_cached(out: Path, copy: Path) -> None:
    shutil.copytree(out, copy)
    summary = pd.read_csv(copy / "summary.csv").drop(columns=["double_cached_pages"])
    summary.to_csv(copy / "summary.csv", index=False)
    for f in (copy / "plots").iterdir():
        f.unlink()


def test_results_lacking_a_summary_column_still_plot_with_a_warning(cli_results, tmp_path):
    _, out, _ = cli_results
    copy = tmp_path / "copy"
    _without_double_cached(out, copy)
    with pytest.warns(UserWarning, match="double_cached_pages"):
        figs = read_results(copy).plot()
    assert set(figs) == set(FIGURES)  # the column only changes what one figure shows


@pytest.mark.slow
def test_cli_plot_of_results_lacking_a_column_exits_0(cli_results, tmp_path):
    _, out, _ = cli_results
    copy = tmp_path / "copy"
    _without_double_cached(out, copy)
    with pytest.warns(UserWarning, match="double_cached_pages"):
        r = invoke("plot", copy)
    assert r.exit_code == 0, r.output
    assert len(list((copy / "plots").glob("*.png"))) == 6
    assert (copy / "report.md").exists()


def test_plot_on_a_directory_without_results_exits_2(tmp_path):
    r = invoke("plot", tmp_path)
    assert r.exit_code == 2
    assert "not a tmemsim results directory" in r.stderr


# ---------------------------------------------------------------------------------------------
# interrupted runs leave nothing


def _fail_second_policy(monkeypatch, exc: BaseException | None = None):
    exc = exc if exc is not None else RuntimeError("boom")
    real = api.run_policy
    calls = []

    def run_policy(scenario, spec, progress=None):
        calls.append(spec.name)
        if len(calls) == 2:
            raise exc
        return real(scenario, spec, progress)

    monkeypatch.setattr(api, "run_policy", run_policy)
    return calls


def test_failed_policy_exits_1_naming_it_and_leaves_no_directory(monkeypatch, scenario_file,
                                                                  tmp_path):
    calls = _fail_second_policy(monkeypatch)
    r = invoke("compare", scenario_file, "--out", tmp_path / "res", "--quiet", "--jobs", 1)
    assert calls == ["none", "host-cache"]
    assert r.exit_code == 1
    assert "policy 'host-cache' failed" in r.stderr and "boom" in r.stderr
    assert "Traceback" not in r.output
    assert listing(tmp_path) == ["tiny.yaml"]


@pytest.mark.skipif(multiprocessing.get_start_method() != "fork",
                    reason="the patched policy reaches the workers only when they fork")
def test_policy_failing_inside_a_worker_process_exits_1(monkeypatch, scenario_file, tmp_path):
    from tmemsim.policies.tmem import Tmem

    def read(self, guest, vpage, loc):
        raise ValueError("worker boom")

    monkeypatch.setattr(Tmem, "read", read)
    r = invoke("compare", scenario_file, "--out", tmp_path / "res", "--quiet", "--jobs", 2,
               "--policies", "tmem,none")
    assert r.exit_code == 1
    assert "policy 'tmem' failed: ValueError: worker boom" in r.stderr
    assert "Traceback" not in r.output
    assert listing(tmp_path) == ["tiny.yaml"]


def test_api_failure_is_a_run_error_naming_the_policy(monkeypatch):
    _fail_second_policy(monkeypatch)
    with pytest.raises(RunError, match="policy 'host-cache' failed: RuntimeError: boom"):
        tmemsim.compare(tmemsim.load_scenario(tiny()), jobs=1)


def test_interrupt_leaves_no_directory(monkeypatch, scenario_file, tmp_path):
    _fail_second_policy(monkeypatch, KeyboardInterrupt())
    r = invoke("compare", scenario_file, "--out", tmp_path / "res", "--quiet", "--jobs", 1)
    assert r.exit_code != 0
    assert listing(tmp_path) == ["tiny.yaml"]


def test_existing_directory_is_refused_without_force(scenario_file, tmp_path):
    out = tmp_path / "res"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    r = invoke("compare", scenario_file, "--out", out, "--quiet", "--jobs", 1)
    assert r.exit_code == 2
    assert "exists" in r.stderr and "--force" in r.stderr
    assert listing(out) == ["keep.txt"]


def _files(directory: Path) -> dict:
    return {p.relative_to(directory): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


def test_force_keeps_the_old_directory_when_the_new_run_fails(monkeypatch, cli_results,
                                                               scenario_file, tmp_path):
    out = tmp_path / "res"
    shutil.copytree(cli_results[1], out)
    before = _files(out)

    # a forced run whose simulation fails: the old directory survives untouched
    _fail_second_policy(monkeypatch)
    r = invoke("compare", scenario_file, "--out", out, "--quiet", "--jobs", 1, "--force",
               "--seed", 99)
    assert r.exit_code == 1
    assert _files(out) == before
    assert listing(tmp_path) == ["res", "tiny.yaml"]
    monkeypatch.undo()

    # a forced run whose save fails half-way (writing the figures): the same
    from tmemsim.presentation import compare as plots

    def broken_save(figs, plots_dir):
        raise OSError("disk full")

    monkeypatch.setattr(plots, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        tmemsim.compare(tmemsim.load_scenario(scenario_file), policies="none").save(
            out, force=True)
    r = invoke("compare", scenario_file, "--out", out, "--quiet", "--jobs", 1, "--force",
               "--policies", "none", "--seed", 99)
    assert r.exit_code != 0
    assert _files(out) == before
    assert listing(tmp_path) == ["res", "tiny.yaml"]


def test_force_replaces_the_directory_and_leaves_no_temporary(cli_results, tmp_path):
    out = tmp_path / "res"
    shutil.copytree(cli_results[1], out)
    (out / "stray.txt").write_text("from the old run")
    result = tmemsim.compare(tmemsim.load_scenario(tiny(seed=99)), policies="none")
    result.save(out, force=True, plots=False)
    assert json.loads((out / "meta.json").read_text())["seed"] == 99
    assert not (out / "stray.txt").exists() and not (out / "plots").exists()
    assert listing(tmp_path) == ["res"]


@pytest.mark.slow
def test_cli_force_replaces_the_directory(cli_results, scenario_file, tmp_path):
    out = tmp_path / "res"
    shutil.copytree(cli_results[1], out)
    r = invoke("compare", scenario_file, "--out", out, "--quiet", "--jobs", 1, "--force",
               "--policies", "none", "--seed", 99)
    assert r.exit_code == 0, r.output
    assert json.loads((out / "meta.json").read_text())["seed"] == 99
    assert listing(tmp_path) == ["res", "tiny.yaml"]
    assert set(listing(out)) == RESULT_FILES


def test_save_failure_leaves_nothing(monkeypatch, tmp_path):
    from tmemsim.presentation import compare as plots

    result = tmemsim.compare(tmemsim.load_scenario(tiny()), policies="none")

    def broken_save(figs, plots_dir):
        raise OSError("disk full")

    monkeypatch.setattr(plots, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        result.save(tmp_path / "res")
    assert listing(tmp_path) == []
    # and an existing directory is refused without force, before anything is written
    (tmp_path / "res").mkdir()
    with pytest.raises(FileExistsError):
        result.save(tmp_path / "res", plots=False)
    assert listing(tmp_path) == ["res"] and listing(tmp_path / "res") == []


# ---------------------------------------------------------------------------------------------
# latency percentiles against the raw latencies


def _raw_latency_run(monkeypatch, d: dict):
    """Run one World with every recorded latency kept.

    The guest binds `self.record = self.hist.record` when it is built, and a histogram's
    `record` is its `pending.append`; LatencyHistogram.__init__ is patched so that `record`
    appends to `pending` and to a list of our own. Misses are recorded one by one; read hits
    are not recorded (each costs exactly host.costs.guest_hit) and are added as a count when
    the run ends (RunOutput: `hist.add(guest_hit, guest_hits)`), so the raw latencies of a guest
    are its recorded list plus guest_hits copies of guest_hit. warmup is 0: nothing is reset.
    """
    kept: list[tuple[LatencyHistogram, list]] = []
    real_init = LatencyHistogram.__init__

    def init(self):
        real_init(self)
        raw, pending = [], self.pending

        def record(x):
            raw.append(x)
            pending.append(x)

        self.record = record
        kept.append((self, raw))

    monkeypatch.setattr(LatencyHistogram, "__init__", init)
    s = tmemsim.load_scenario(d)
    world = World(s, select_policies(s)[0])
    out = world.run()
    recorded = [next(raw for h, raw in kept if h is g.hist) for g in world.guests]
    result = Result.from_runs(s, [out])
    return world, out, recorded, result


def test_percentiles_match_numpy_on_raw_latencies(monkeypatch, tmp_path):
    hit_cost = 3e-6
    d = tiny(warmup=0, duration="150ms", policies=["host-cache"],
             host={"memory": "96MiB", "reserved": "8MiB",
                   "costs": {"guest_hit": "3us"}})
    d["guests"][0]["workload"].pop("anon")  # reads and writes only: every latency a read's
    world, out, recorded, result = _raw_latency_run(monkeypatch, d)
    out_dir = result.save(tmp_path / "res", plots=False)
    summary = pd.read_csv(out_dir / "summary.csv")
    everything = []
    for i, name in enumerate(out.guest_names):
        c = out.counters[i]
        misses = recorded[i]
        # every read miss is recorded once when it completes, every hit never; a read still
        # in flight when the run ends is counted in reads but has no latency yet
        assert c["reads"] - c["guest_hits"] - len(misses) in (0, 1)
        assert len(misses) > 500
        assert min(misses) > hit_cost
        raw = np.array(misses + [hit_cost] * c["guest_hits"])
        everything.append(raw)
        _check_percentiles(summary, name, raw)
    _check_percentiles(summary, "ALL", np.concatenate(everything))


def _check_percentiles(summary: pd.DataFrame, guest: str, raw: np.ndarray) -> None:
    row = summary[summary["guest"] == guest].iloc[0]
    assert 0 <= row["reads"] - len(raw) <= (2 if guest == "ALL" else 1)  # in flight at the end
    assert row["mean_read_latency_us"] == pytest.approx(raw.mean() * 1e6, rel=1e-9)
    for q in (50, 95, 99):
        # the histogram reports the bucket holding the q-th ranked value: numpy's inverted CDF
        want = np.percentile(raw, q, method="inverted_cdf") * 1e6
        got = row[f"p{q}_read_latency_us"]
        assert got == pytest.approx(want, rel=0.01), (guest, q, got, want)


def test_every_read_hit_costs_exactly_guest_hit(monkeypatch):
    """With 3 µs hits, 21 µs host-cache hits (virtio + copy) and ≥ 100 µs disk reads, the
    latency histogram's bucket holding 3 µs has exactly guest_hits reads, the one holding 21 µs
    exactly host_hits, and p50 is the hit cost when more than half the reads hit the guest."""
    d = tiny(warmup=0, duration="150ms", policies=["host-cache"],
             host={"memory": "96MiB", "reserved": "8MiB", "costs": {"guest_hit": "3us"}})
    d["guests"][0]["workload"].update(alpha=1.2, read_fraction=1.0)
    d["guests"][0]["workload"].pop("anon")
    world, out, recorded, result = _raw_latency_run(monkeypatch, d)
    lat = result.latency
    for i, name in enumerate(out.guest_names):
        c = out.counters[i]
        rows = lat[lat["guest"] == name]
        at3 = rows[(rows["lo_us"] <= 3.0) & (rows["hi_us"] > 3.0)]["count"].sum()
        at21 = rows[(rows["lo_us"] <= 21.0) & (rows["hi_us"] > 21.0)]["count"].sum()
        assert at3 == c["guest_hits"] > 0
        assert at21 == c["host_hits"] > 0
        assert sorted(set(np.round(np.array(recorded[i]) * 1e6, 6)))[0] == pytest.approx(21.0)
        row = result.row("host-cache", name)
        assert row["guest_hit_ratio"] > 0.5
        assert row["p50_read_latency_us"] == pytest.approx(3.0, rel=0.006)


def test_read_results_round_trips(cli_results):
    _, out, _ = cli_results
    r = read_results(out)
    assert list(r.summary.columns[:4]) == ["policy", "guest", "requests", "reads"]
    assert r.meta["policies"] == ["none", "host-cache", "tmem", "dedup"]
    assert set(r.timeseries["metric"]) >= {"requests", "memory_pages", "pool_pages"}
    assert os.path.getsize(out / "latency.parquet") > 0
    with pytest.raises(FileNotFoundError):
        read_results(out / "plots")
