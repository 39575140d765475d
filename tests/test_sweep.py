"""Tests of parameter sweeps: specs, seeds, statistics, executors (local pool and Dask), resume,
failures, results files and figures.

Every sweep here runs a tiny scenario (two small guests, 1,500 requests each) so a whole sweep
takes a second or two; the Dask tests start a real LocalCluster of two worker processes.
"""

from __future__ import annotations

import json
import math
import sys

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy import stats  # a test dependency: the cross-checks must run, never skip

import tmemsim.api
from tmemsim import sweep as sw
from tmemsim.errors import RunError, ScenarioError, TmemsimError
from tmemsim.infra.atomic import OutputError
from tmemsim.presentation.sweep_figures import winner_cells
from tmemsim.sweep import (
    SweepResult,
    expand_values,
    parse_spec,
    read_sweep,
    replication_seed,
    runners,
    summarize,
    sweep,
    t_quantile,
)


def tiny(**sweep_block) -> dict:
    data = {
        "name": "tiny",
        "seed": 3,
        "requests": 1500,
        "sample_interval": "100s",
        "host": {"memory": "48MiB", "reserved": "8MiB"},
        "disks": {"ssd0": {"kind": "ssd"}},
        "images": {"base": {"size": "16MiB"}},
        "policies": ["none", "host-cache", "tmem"],
        "guests": [{
            "name": "vm", "count": 2, "memory": "4MiB", "reserved": "2MiB",
            "disk": {"image": "base", "clone": "cow"},
            "workload": {"kind": "zipf", "alpha": 0.8, "footprint": 2000,
                         "read_fraction": 0.9},
        }],
    }
    if sweep_block:
        data["sweep"] = sweep_block
    return data


SMALL = {"guests.0.count": [1, 2], "guests.0.workload.read_fraction": [0.7, 1.0]}


def _err(message):
    return ScenarioError(message)


# ------------------------------------------------------------------------------- Student's t

# t_{0.975, df} from the standard tables (to the digits they print)
T975 = {1: 12.7062047362, 2: 4.30265272975, 3: 3.18244630528, 4: 2.77644510520,
        5: 2.57058183564, 9: 2.26215716280, 10: 2.22813885196, 30: 2.04227245630,
        100: 1.98397151845, 1000: 1.96233908082}


@pytest.mark.parametrize("df", sorted(T975))
def test_t_quantile_matches_the_tables(df):
    assert t_quantile(0.975, df) == pytest.approx(T975[df], rel=1e-10)
    assert t_quantile(0.025, df) == pytest.approx(-T975[df], rel=1e-10)


def test_t_quantile_rejects_nonsense():
    with pytest.raises(ValueError):
        t_quantile(1.0, 3)
    with pytest.raises(ValueError):
        t_quantile(0.9, 0)


def test_summary_ci_matches_numpy_by_hand():
    rng = np.random.default_rng(0)
    rows = []
    for point, mem in enumerate(["8GiB", "16GiB"]):
        for policy in ("none", "tmem"):
            for r in range(5 if point == 0 else 2):
                rows.append({"point": point, "host.memory": mem, "policy": policy,
                             "guest": "ALL", "replication": r,
                             "read_hit_ratio": rng.random(), "disk_reads": int(rng.integers(100))})
    table = pd.DataFrame(rows)
    summary = summarize(table, ["host.memory"])
    assert list(summary.columns) == ["point", "host.memory", "policy", "guest", "metric", "n",
                                     "mean", "std", "ci95_low", "ci95_high"]
    for (point, policy), group in table.groupby(["point", "policy"]):
        for metric in ("read_hit_ratio", "disk_reads"):
            x = group[metric].to_numpy(float)
            row = summary[(summary.point == point) & (summary.policy == policy)
                          & (summary.metric == metric)].iloc[0]
            n = len(x)
            half = T975[n - 1] * x.std(ddof=1) / math.sqrt(n)
            assert row.n == n
            assert row["mean"] == pytest.approx(x.mean())
            assert row["std"] == pytest.approx(x.std(ddof=1))
            assert row.ci95_low == pytest.approx(x.mean() - half)
            assert row.ci95_high == pytest.approx(x.mean() + half)
    g = table[(table.point == 0) & (table.policy == "tmem")]["read_hit_ratio"].to_numpy()
    lo, hi = stats.t.interval(0.95, len(g) - 1, loc=g.mean(), scale=stats.sem(g))
    row = summary[(summary.point == 0) & (summary.policy == "tmem")
                  & (summary.metric == "read_hit_ratio")].iloc[0]
    assert (row.ci95_low, row.ci95_high) == pytest.approx((lo, hi), rel=1e-10)


def test_summary_with_one_replication_has_no_interval():
    table = pd.DataFrame({"point": [0], "policy": ["none"], "guest": ["ALL"],
                          "replication": [0], "read_hit_ratio": [0.5]})
    row = summarize(table, []).iloc[0]
    assert row.n == 1 and row["mean"] == 0.5
    assert math.isnan(row["std"]) and math.isnan(row.ci95_low) and math.isnan(row.ci95_high)


# ------------------------------------------------------------------------------- specs


def test_value_generators():
    assert expand_values({"range": [1, 16], "step": 3}, _err) == [1, 4, 7, 10, 13]
    assert expand_values({"range": [10, 0], "step": -5}, _err) == [10, 5]
    assert expand_values({"range": [0, 1], "step": 0.25}, _err) == [0, 0.25, 0.5, 0.75]
    assert expand_values({"linspace": [0.5, 1.0, 6]}, _err) == [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    assert expand_values({"linspace": [1, 16, 6]}, _err) == [1, 4, 7, 10, 13, 16]
    assert expand_values({"range": ["8GiB", "33GiB"], "step": "8GiB"}, _err) == [
        "8GiB", "16GiB", "24GiB", "32GiB"]
    assert expand_values({"geomspace": ["1GiB", "8GiB", 4]}, _err) == [
        "1GiB", "2GiB", "4GiB", "8GiB"]
    assert expand_values({"linspace": ["1GiB", "2GiB", 3]}, _err) == [
        "1GiB", "1536MiB", "2GiB"]
    assert expand_values([{"kind": "exponential", "mean": "1ms"}, "2ms"], _err) == [
        {"kind": "exponential", "mean": "1ms"}, "2ms"]


def test_grid_and_zip():
    s = tmemsim.api.load_scenario(tiny())
    grid = parse_spec(s, {"guests.0.count": [1, 2, 3], "guests.0.memory": ["4MiB", "6MiB"]})
    assert grid.points() == [
        {"guests.0.count": c, "guests.0.memory": m} for c in (1, 2, 3) for m in ("4MiB", "6MiB")]
    zipped = parse_spec(s, {"guests.0.count": [1, 2, 3],
                            "guests.0.memory": ["4MiB", "6MiB", "8MiB"]}, mode="zip")
    assert zipped.points() == [{"guests.0.count": 1, "guests.0.memory": "4MiB"},
                               {"guests.0.count": 2, "guests.0.memory": "6MiB"},
                               {"guests.0.count": 3, "guests.0.memory": "8MiB"}]
    assert parse_spec(s).points() == [{}]  # no parameters: the scenario itself


def test_spec_from_the_scenario_block_and_arguments_override_it():
    s = tmemsim.api.load_scenario(tiny(parameters={"guests.0.count": [1, 2]}, mode="zip",
                                       replications=4, policies=["tmem"]))
    spec = parse_spec(s)
    assert (spec.mode, spec.replications, spec.policies) == ("zip", 4, ["tmem"])
    assert spec.parameters == {"guests.0.count": [1, 2]}
    spec = parse_spec(s, {"host.memory": ["64MiB"]}, mode="grid", replications=2)
    assert (spec.mode, spec.replications, list(spec.parameters)) == ("grid", 2, ["host.memory"])


@pytest.mark.parametrize("params, path, words", [
    ({"host.memry": ["8GiB"]}, "sweep.parameters.host.memry", "did you mean 'memory'"),
    ({"guests.3.count": [1]}, "sweep.parameters.guests.3.count", "has no item 3"),
    ({"guests.0.count": []}, "sweep.parameters.guests.0.count", "empty list"),
    ({"guests.0.count": 4}, "sweep.parameters.guests.0.count", "expected a list of values"),
    ({"guests.0.count": {"range": [1, 16], "step": 0}}, "sweep.parameters.guests.0.count",
     "step must not be 0"),
    ({"guests.0.count": {"range": [16, 1]}}, "sweep.parameters.guests.0.count",
     "negative step"),
    ({"guests.0.count": {"range": [1]}}, "sweep.parameters.guests.0.count",
     "expected [start, stop]"),
    ({"guests.0.count": {"linspace": [1, 4, 0]}}, "sweep.parameters.guests.0.count",
     "num must be"),
    ({"guests.0.count": {"rnage": [1, 4]}}, "sweep.parameters.guests.0.count",
     "did you mean 'range'"),
    ({"guests.0.count": [1, 2, 1]}, "sweep.parameters.guests.0.count", "listed twice"),
    ({"guests.0.workload.read_fraction": [0.5, 1.5]},
     "sweep.parameters.guests.0.workload.read_fraction", "value 1.5"),
    ({"host.memory": {"range": ["1GiB", "2GiB"], "step": "1XB"}}, "sweep.parameters.host.memory",
     "neither a number nor a size"),
    ({"seed": [1, 2]}, "sweep.parameters.seed", "use replications"),
])
def test_bad_specs_name_the_parameter(params, path, words):
    s = tmemsim.api.load_scenario(tiny())
    with pytest.raises(ScenarioError) as info:
        parse_spec(s, params)
    assert info.value.path == path
    assert words in info.value.message


@pytest.mark.parametrize("block, path, words", [
    ({"parameters": SMALL, "mode": "diagonal"}, "sweep.mode", "expected grid or zip"),
    ({"parameters": SMALL, "replications": 0}, "sweep.replications", "≥ 1"),
    ({"parameters": SMALL, "replicates": 3}, "sweep.replicates", "did you mean 'replications'"),
    ({"parameters": SMALL, "policies": ["tmme"]}, "sweep.policies", "unknown policy"),
    ({"parameters": SMALL, "metrics": ["hit_ratio"]}, "sweep.metrics", "unknown metric"),
    ({"parameters": {"guests.0.count": [1, 2], "host.memory": ["1GiB"]}, "mode": "zip"},
     "sweep.parameters.host.memory", "same number of values"),
])
def test_bad_sweep_blocks(block, path, words):
    with pytest.raises(ScenarioError) as info:
        sweep(tiny(**block))
    assert info.value.path == path
    assert words in info.value.message


@pytest.mark.parametrize("block, path, words", [
    ({"replicates": 3}, "sweep.replicates", "did you mean 'replications'"),
    ({"mode": "zpi"}, "sweep.mode", "did you mean 'zip'"),
    ({"replications": True}, "sweep.replications", "≥ 1"),
    ({"policies": []}, "sweep.policies", "non-empty list"),
])
def test_the_sweep_block_is_typed_and_checked_when_the_scenario_loads(block, path, words):
    """Any command finds a broken sweep block (not only `tmemsim sweep`), with its place."""
    with pytest.raises(ScenarioError) as info:
        tmemsim.load_scenario(tiny(**block))
    assert info.value.path == path
    assert words in info.value.message


def test_spec_errors_in_a_file_give_the_line(tmp_path):
    f = tmp_path / "s.yaml"
    data = tiny(parameters={"guests.0.count": [1, 2], "host.memroy": ["64MiB"]})
    import yaml

    f.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ScenarioError) as info:
        sweep(f)
    line = next(i for i, text in enumerate(f.read_text().splitlines(), 1) if "memroy" in text)
    assert info.value.file == str(f) and info.value.line == line
    assert "sweep.parameters.host.memroy" in str(info.value)


# ------------------------------------------------------------------------------- seeds


def test_replication_seeds_are_distinct_and_reproducible():
    seeds = [replication_seed(3, r) for r in range(50)]
    assert seeds[0] == 3
    assert len(set(seeds)) == 50
    assert seeds == [replication_seed(3, r) for r in range(50)]
    assert all(0 <= s < 2**63 for s in seeds)
    expected = np.random.SeedSequence(3).spawn(3)[2].generate_state(1, np.uint64)[0] >> 1
    assert seeds[2] == int(expected)
    assert replication_seed(4, 1) != replication_seed(3, 1)


def test_replications_use_their_seeds_and_differ():
    r = sweep(tiny(), {"guests.0.count": [2]}, replications=3, policies=["none"], jobs=1,
              plots=False)
    seeds = [replication_seed(3, k) for k in range(3)]
    all_rows = r.table[r.table.guest == "ALL"]
    assert list(all_rows.seed) == seeds
    assert list(all_rows.replication) == [0, 1, 2]
    assert all_rows.read_hit_ratio.nunique() == 3  # other seeds, other requests
    again = sweep(tiny(), {"guests.0.count": [2]}, replications=3, policies=["none"], jobs=1,
                  plots=False)
    pd.testing.assert_frame_equal(r.table, again.table)


def test_one_replication_reproduces_compare():
    r = sweep(tiny(), {"guests.0.count": [1, 2]}, jobs=1, plots=False)
    data = tiny()
    data["guests"][0]["count"] = 2
    expected = tmemsim.api.compare(data).summary
    got = r.table[r.table["guests.0.count"] == 2].reset_index(drop=True)
    for col in ("policy", "guest", "reads", "read_hit_ratio", "mean_read_latency_us"):
        assert list(got[col]) == list(expected[col])


# ------------------------------------------------------------------------------- executors


def test_table_layout_and_order():
    r = sweep(tiny(), SMALL, replications=2, jobs=1, plots=False)
    t = r.table
    assert list(t.columns[:7]) == ["point", "guests.0.count", "guests.0.workload.read_fraction",
                                   "replication", "seed", "policy", "guest"]
    assert set(sw.METRICS) <= set(t.columns)
    # 4 points x 2 replications x 3 policies, with 1 or 2 guests + ALL
    assert len(t) == 2 * 2 * 3 * ((1 + 1) + (2 + 1))
    keys = list(zip(t.point, t.replication, t.policy.map({"none": 0, "host-cache": 1, "tmem": 2}),
                    strict=True))
    assert keys == sorted(keys)
    assert r.meta["counts"] == {"points": 4, "tasks": 24, "ran": 24, "cached": 0, "failed": 0,
                                "invalid_points": 0}
    assert set(r.summary.guest) == {"ALL", "vm", "vm-0", "vm-1"}


def test_process_pool_equals_serial():
    serial = sweep(tiny(), SMALL, replications=2, jobs=1, plots=False)
    done = []
    parallel = sweep(tiny(), SMALL, replications=2, jobs=2, plots=False,
                     progress=lambda d, t: done.append((d, t)))
    pd.testing.assert_frame_equal(serial.table, parallel.table)
    pd.testing.assert_frame_equal(serial.summary, parallel.summary)
    assert done[0] == (0, 24) and done[-1] == (24, 24)


def test_dask_local_cluster_equals_local_executor():
    distributed = pytest.importorskip("dask.distributed")
    local = sweep(tiny(), SMALL, jobs=2, plots=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        remote = sweep(tiny(), SMALL, executor="dask",
                       scheduler=cluster.scheduler_address, plots=False)
    pd.testing.assert_frame_equal(local.table, remote.table)
    pd.testing.assert_frame_equal(local.summary, remote.summary)
    assert remote.meta["executor"] == "dask"


@pytest.mark.slow
def test_dask_starts_its_own_cluster():
    pytest.importorskip("dask.distributed")
    local = sweep(tiny(), {"guests.0.count": [1, 2]}, jobs=1, plots=False)
    remote = sweep(tiny(), {"guests.0.count": [1, 2]}, executor="dask", jobs=2, plots=False)
    pd.testing.assert_frame_equal(local.table, remote.table)


def test_unknown_executor_and_stray_scheduler():
    with pytest.raises(TmemsimError, match="unknown executor"):
        sweep(tiny(), SMALL, executor="ray")
    with pytest.raises(TmemsimError, match="dask executor"):
        sweep(tiny(), SMALL, scheduler="tcp://127.0.0.1:8786")


def test_dask_is_optional(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(TmemsimError, match=r"pip install 'tmemsim\[dask\]'"):
        sweep(tiny(), {"guests.0.count": [1]}, executor="dask", plots=False)


# ------------------------------------------------------------------------------- resume


class Counter:
    """Counts the simulations actually run (serial executor: in this process)."""

    def __init__(self, monkeypatch):
        self.calls = []
        real = runners.run_point

        def counting(scenario, policy):
            self.calls.append((scenario["guests"][0]["count"], policy["name"], scenario["seed"]))
            return real(scenario, policy)

        monkeypatch.setattr(runners, "run_point", counting)


def test_resume_skips_finished_points(tmp_path, monkeypatch):
    out = tmp_path / "out"
    counter = Counter(monkeypatch)
    first = sweep(tiny(), SMALL, jobs=1, out=out, plots=False)
    points = sorted((out / "points").glob("*.parquet"))
    assert len(points) == 12 == len(counter.calls)
    assert (out / "sweep.parquet").exists() and (out / "sweep_summary.csv").exists()

    # nothing to do on a resume
    counter.calls.clear()
    mtimes = {p.name: p.stat().st_mtime_ns for p in points}
    again = sweep(tiny(), SMALL, jobs=1, out=out, resume=True, plots=False)
    assert counter.calls == []
    assert again.meta["counts"]["ran"] == 0 and again.meta["counts"]["cached"] == 12
    pd.testing.assert_frame_equal(first.table, again.table)

    # an interrupted sweep: some points lost; only those run again
    for p in points[:5]:
        p.unlink()
    counter.calls.clear()
    resumed = sweep(tiny(), SMALL, jobs=1, out=out, resume=True, plots=False)
    assert len(counter.calls) == 5 and resumed.meta["counts"]["ran"] == 5
    for p in points[5:]:
        assert p.stat().st_mtime_ns == mtimes[p.name]  # untouched
    pd.testing.assert_frame_equal(first.table, resumed.table)

    # a wider sweep reuses the points it shares with the first
    counter.calls.clear()
    wider = dict(SMALL, **{"guests.0.count": [1, 2, 3]})
    sweep(tiny(), wider, jobs=1, out=out, resume=True, plots=False)
    assert {c[0] for c in counter.calls} == {3} and len(counter.calls) == 6


def test_out_must_be_new_unless_resuming(tmp_path):
    out = tmp_path / "out"
    sweep(tiny(), {"guests.0.count": [1]}, policies=["none"], jobs=1, out=out, plots=False)
    with pytest.raises(FileExistsError, match="--resume"):
        sweep(tiny(), {"guests.0.count": [1]}, policies=["none"], jobs=1, out=out, plots=False)
    with pytest.raises(TmemsimError, match="resume needs"):
        sweep(tiny(), {"guests.0.count": [1]}, resume=True)


def _users_folder(path):
    path.mkdir(parents=True)
    (path / "notes.txt").write_text("my thesis")
    (path / "meta.json").write_text('{"author": "me"}')  # a meta.json, but not ours
    (path / "plots").mkdir()
    (path / "plots" / "figure.png").write_bytes(b"mine")
    return _files(path)


def _files(path):
    return {p.relative_to(path): p.read_bytes() for p in path.rglob("*") if p.is_file()}


def _no_tasks(monkeypatch):
    def run_point(*args, **kwargs):
        raise AssertionError("a task ran")

    monkeypatch.setattr(runners, "run_point", run_point)


def test_resume_and_save_never_write_into_a_users_folder(tmp_path, monkeypatch):
    precious = tmp_path / "precious"
    before = _users_folder(precious)
    done = sweep(tiny(), {"guests.0.count": [1]}, policies=["none"], jobs=1, plots=False)
    results = tmp_path / "results"  # a run's results directory is not a sweep's either
    tmemsim.api.simulate(tiny()).save(results, plots=False)
    _no_tasks(monkeypatch)
    for folder in (precious, results):
        with pytest.raises(OutputError, match="not a tmemsim sweep directory"):
            sweep(tiny(), {"guests.0.count": [1]}, jobs=1, out=folder, resume=True)
        with pytest.raises(OutputError, match="not a tmemsim sweep directory"):
            done.save(folder)
    assert _files(precious) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious", "results"]


def test_out_is_claimed_and_marked_before_any_task(tmp_path, monkeypatch):
    (tmp_path / "afile").write_text("a file")
    _no_tasks(monkeypatch)
    with pytest.raises(OutputError, match="cannot write"):
        sweep(tiny(), {"guests.0.count": [1]}, jobs=1, out=tmp_path / "afile" / "res")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputError, match="working directory"):
        sweep(tiny(), {"guests.0.count": [1]}, jobs=1, out=".", resume=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]
    # a sweep killed before it finished: its directory is marked, and can be resumed
    out = tmp_path / "out"
    with pytest.raises(AssertionError, match="a task ran"):
        sweep(tiny(), {"guests.0.count": [1]}, policies=["none"], jobs=1, out=out)
    assert json.loads((out / "meta.json").read_text()) == {"tmemsim": "sweep"}
    monkeypatch.undo()
    r = sweep(tiny(), {"guests.0.count": [1]}, policies=["none"], jobs=1, out=out,
              resume=True, plots=False)
    assert json.loads((out / "meta.json").read_text())["tmemsim"] == "sweep"
    pd.testing.assert_frame_equal(read_sweep(out).table, r.table)


def test_plots_of_a_sweep_directory_are_replaced_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(SweepResult, "figures", lambda self, metrics=None: {})
    out = tmp_path / "out"
    r = sweep(tiny(), {"guests.0.count": [1]}, policies=["none"], jobs=1, out=out)
    (out / "plots" / "from-before.png").write_bytes(b"old")
    r.save(out)
    assert list((out / "plots").iterdir()) == []
    assert sorted(p.name for p in out.iterdir()) == [
        "failures.csv", "meta.json", "plots", "points", "report.html", "scenario.yaml",
        "sweep.parquet", "sweep_summary.csv"]


def test_point_keys_depend_on_what_decides_the_numbers():
    s = tmemsim.api.load_scenario(tiny()).model_dump(mode="json", exclude_none=True)
    policy = {"kind": "tmem", "name": "tmem", "options": {}}
    key = sw.point_key(s, policy)
    assert sw.point_key(dict(s, name="other", description="x"), policy) == key
    assert sw.point_key(dict(s, seed=4), policy) != key
    assert sw.point_key(s, dict(policy, options={"pool": "shared"})) != key
    assert sw.point_key(dict(s, requests=1501), policy) != key


# ------------------------------------------------------------------------------- failures


def _boom_at_count(monkeypatch, count):
    real = tmemsim.api.run_policy

    def run_policy(scenario, spec, progress=None):
        if scenario.guests[0].count == count and spec.name == "tmem":
            raise RuntimeError("boom")
        return real(scenario, spec, progress)

    monkeypatch.setattr(tmemsim.api, "run_policy", run_policy)


def test_a_failing_point_is_reported_and_the_rest_complete(tmp_path, monkeypatch):
    _boom_at_count(monkeypatch, 2)
    r = sweep(tiny(), SMALL, replications=2, jobs=1, out=tmp_path / "out", plots=False)
    f = r.failures
    assert len(f) == 4  # 2 read fractions x 2 replications, tmem only
    assert set(f.policy) == {"tmem"} and set(f["guests.0.count"]) == {2}
    assert set(f["guests.0.workload.read_fraction"]) == {0.7, 1.0}
    assert all(e == "RuntimeError: boom" for e in f.error)
    assert r.meta["counts"]["failed"] == 4 and r.meta["counts"]["ran"] == 20
    t = r.table
    assert not ((t["guests.0.count"] == 2) & (t.policy == "tmem")).any()
    assert len(t[t.policy == "none"]) == 2 * 2 * (2 + 3)
    saved = pd.read_csv(tmp_path / "out" / "failures.csv")
    assert list(saved.error) == list(f.error)
    # failed points are not stored: a resume tries them again
    monkeypatch.undo()
    again = sweep(tiny(), SMALL, replications=2, jobs=1, out=tmp_path / "out", resume=True,
                  plots=False)
    assert again.failures.empty and again.meta["counts"]["ran"] == 4


def test_a_failure_in_a_worker_process_is_reported(monkeypatch):
    import multiprocessing

    if multiprocessing.get_start_method() != "fork":
        pytest.skip("the patched run_policy reaches the workers only through fork")
    _boom_at_count(monkeypatch, 2)
    r = sweep(tiny(), SMALL, jobs=2, plots=False)
    assert len(r.failures) == 2 and set(r.failures.error) == {"RuntimeError: boom"}
    assert r.meta["counts"]["ran"] == 10


def test_fail_fast_stops_at_the_first_failure(monkeypatch):
    _boom_at_count(monkeypatch, 1)
    with pytest.raises(RunError, match=r"guests.0.count=1.*policy tmem: RuntimeError: boom"):
        sweep(tiny(), SMALL, jobs=1, fail_fast=True, plots=False)


def test_an_invalid_point_is_reported_in_a_process_pool():
    # 12 guests of 4 MiB do not fit in 48 MiB - 8 MiB: that point cannot be built
    r = sweep(tiny(), {"guests.0.count": [1, 12, 2]}, policies=["none", "tmem"], jobs=2,
              plots=False)
    assert list(r.failures["guests.0.count"]) == [12]
    assert "invalid scenario" in r.failures.error[0] and "host.memory" in r.failures.error[0]
    assert sorted(set(r.table["guests.0.count"])) == [1, 2]
    with pytest.raises(ScenarioError, match="guests.0.count=12"):
        sweep(tiny(), {"guests.0.count": [1, 12]}, jobs=1, fail_fast=True, plots=False)


# ------------------------------------------------------------------------------- results, figures


def test_save_read_and_figures(tmp_path):
    r = sweep(tiny(), {"guests.0.count": [1, 2], "host.memory": ["48MiB", "64MiB"]},
              replications=2, jobs=2, out=tmp_path / "out", metrics=["read_hit_ratio"])
    out = tmp_path / "out"
    for name in ("sweep.parquet", "sweep_summary.csv", "failures.csv", "meta.json",
                 "scenario.yaml"):
        assert (out / name).exists(), name
    meta = json.loads((out / "meta.json").read_text())
    assert meta["parameters"] == {"guests.0.count": [1, 2], "host.memory": ["48MiB", "64MiB"]}
    assert meta["replication_seeds"] == [3, replication_seed(3, 1)]
    pngs = sorted(p.name for p in (out / "plots").glob("*.png"))
    assert "winner_read_hit_ratio_guests.0.count_host.memory.png" in pngs
    assert "read_hit_ratio_vs_host.memory.png" in pngs and len(pngs) == 3
    csv = pd.read_csv(out / "sweep_summary.csv")
    assert len(csv) == len(r.summary)
    back = read_sweep(out)
    pd.testing.assert_frame_equal(back.table, r.table)
    pd.testing.assert_frame_equal(back.summary, r.summary)
    fig = back.plot("mean_read_latency_us", x="host.memory", where={"guests.0.count": 2})
    assert isinstance(fig, Figure)
    assert [line.get_label() for line in fig.legends[0].get_lines()] == [
        "none", "host-cache", "tmem"]
    assert isinstance(back.winner_map("guests.0.count", "host.memory", "disk_reads"), Figure)
    with pytest.raises(ValueError, match="not a swept parameter"):
        back.plot("read_hit_ratio", x="guests.0.memory")
    with pytest.raises(ValueError, match="better="):
        back.winner_map("guests.0.count", "host.memory", "tmem_puts")


def _synthetic(cells: dict) -> SweepResult:
    """cells: {(x, y): {policy: [replicate values]}} on a 'read_hit_ratio' metric."""
    rows = []
    for point, ((x, y), policies) in enumerate(cells.items()):
        for policy, values in policies.items():
            for r, v in enumerate(values):
                rows.append({"point": point, "a": x, "b": y, "replication": r, "seed": r,
                             "policy": policy, "guest": "ALL", "read_hit_ratio": v,
                             "mean_read_latency_us": 100 * (1 - v)})
    table = pd.DataFrame(rows)
    meta = {"parameters": {"a": sorted({k[0] for k in cells}), "b": sorted({k[1] for k in cells})},
            "mode": "grid", "replications": 3, "policies": ["none", "host-cache", "tmem"],
            "scenario": "synthetic"}
    return SweepResult(table, summarize(table, ["a", "b"]), pd.DataFrame(), meta)


def test_winner_cells_mark_overlapping_intervals_uncertain(tmp_path):
    res = _synthetic({
        (1, "x"): {"none": [0.10, 0.11, 0.12], "host-cache": [0.50, 0.51, 0.52],
                   "tmem": [0.30, 0.31, 0.32]},                       # clear host-cache win
        (1, "y"): {"none": [0.10, 0.11, 0.12], "host-cache": [0.40, 0.50, 0.60],
                   "tmem": [0.45, 0.46, 0.47]},                       # overlapping CIs
        (2, "x"): {"none": [0.2, 0.2, 0.2], "host-cache": [0.2, 0.2, 0.2],
                   "tmem": [0.1, 0.1, 0.1]},                          # a tie
        (2, "y"): {"none": [0.1, 0.1, 0.1], "host-cache": [0.2, 0.2, 0.2],
                   "tmem": [0.9, 0.9, 0.9]},
    })
    cells = winner_cells(res, "a", "b", "read_hit_ratio").set_index(["a", "b"])
    assert cells.loc[(1, "x"), ["winner", "runner_up", "status"]].tolist() == [
        "host-cache", "tmem", "clear"]
    assert cells.loc[(1, "x"), "margin"] == pytest.approx((0.51 - 0.31) / 0.51)
    assert cells.loc[(1, "y"), ["winner", "status"]].tolist() == ["host-cache", "uncertain"]
    assert cells.loc[(2, "x"), "status"] == "tie"
    assert cells.loc[(2, "x"), "tied"] == ("none", "host-cache")
    assert cells.loc[(2, "y"), ["winner", "status"]].tolist() == ["tmem", "clear"]
    # lower latency wins: the same winners
    lat = winner_cells(res, "a", "b", "mean_read_latency_us").set_index(["a", "b"])
    assert lat.loc[(1, "x"), "winner"] == "host-cache" and lat.loc[(2, "y"), "winner"] == "tmem"
    fig = res.winner_map("a", "b", "read_hit_ratio")
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "host-cache\n+39% vs tmem" in texts
    assert any(t.startswith("host-cache\n≈") for t in texts)
    fig.savefig(tmp_path / "winner.png")
