"""The command line: exit codes, one-or-two-line errors, --set/--seed/--policy, --force, --check,
and no results directory left behind by a bad or failed run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml
from click.testing import CliRunner

import tmemsim.api
from tmemsim.cli import main
from tmemsim.errors import RunError, ScenarioError
from tmemsim.results import Result

SCENARIO = {
    "seed": 1,
    "requests": 20000,
    "policies": ["none", "tmem"],
    "host": {"memory": "1GiB", "reserved": "128MiB"},
    "disks": {"d": {"kind": "nvme"}},
    "guests": [{
        "name": "g", "memory": "64MiB", "reserved": "16MiB", "disk": {"size": "2GiB"},
        "workload": {"kind": "zipf", "alpha": 0.9, "footprint": 100000,
                     "read_fraction": 0.9},
    }],
}


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.yaml"
    path.write_text(yaml.safe_dump(SCENARIO, sort_keys=False))
    return path


@pytest.fixture
def bad(tmp_path):
    """guests[0].memory, on line 12, has a unit nobody knows."""
    text = yaml.safe_dump(SCENARIO, sort_keys=False).replace("memory: 64MiB",
                                                             "memory: 12 parsecs")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    line = next(i + 1 for i, t in enumerate(text.splitlines()) if "parsecs" in t)
    return path, line


@pytest.fixture(autouse=True)
def no_plots(monkeypatch):
    """matplotlib costs seconds per save; tests/test_plots.py covers the figures."""
    monkeypatch.setattr(Result, "_save_plots", lambda self, directory: [])


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_input_error(result, *fragments):
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)


def siblings(path):
    return sorted(p.name for p in path.parent.iterdir())


# ---------------------------------------------------------------------------------------------
# validate


def test_validate_ok(good):
    r = invoke("validate", good)
    assert r.exit_code == 0, r.output
    assert "ok" in r.stdout and "1 guest(s)" in r.stdout and "none, tmem" in r.stdout
    assert r.stderr == ""


def test_validate_bad_input_names_file_path_and_line(bad):
    path, line = bad
    r = invoke("validate", path)
    assert_input_error(r, str(path), "guests[0].memory", f"line {line}", "parsecs")


def test_validate_with_set_and_seed(good):
    r = invoke("validate", good, "--set", "guests.0.count=3", "--seed", "5")
    assert r.exit_code == 0 and "3 guest(s)" in r.stdout


@pytest.mark.parametrize("args, fragments", [
    (["--set", "guests.5.memory=1GiB"], ["good.yaml", "guests.5.memory", "no item 5"]),
    (["--set", "guests.0.nosuch.x=1"], ["good.yaml", "does not exist"]),
    (["--set", "seed"], ["--set seed", "key.path=value"]),
    (["--set", "guests.0.memory=12 parsecs"], ["good.yaml", "guests[0].memory", "parsecs"]),
])
def test_validate_bad_set(good, args, fragments):
    assert_input_error(invoke("validate", good, *args), *fragments)


def test_validate_missing_file(tmp_path):
    missing = tmp_path / "missing.yaml"
    assert_input_error(invoke("validate", missing), str(missing), "no such scenario file")


def test_validate_yaml_syntax_error(tmp_path):
    path = tmp_path / "syntax.yaml"
    path.write_text("seed: 1\nhost: [\n")
    assert_input_error(invoke("validate", path), str(path), "YAML syntax error", "line")


def test_debug_shows_the_exception(bad):
    path, _ = bad
    r = invoke("validate", path, "--debug")
    assert r.exit_code != 0
    assert isinstance(r.exception, ScenarioError)
    assert r.exception.path == "guests[0].memory"


# ---------------------------------------------------------------------------------------------
# run


def test_run_writes_a_results_directory(good, tmp_path):
    out = tmp_path / "out"
    r = invoke("run", good, "--out", out, "--quiet")
    assert r.exit_code == 0, (r.output, r.exception)
    assert r.stdout == ""  # --quiet: no table
    summary = tmemsim.read_results(out).summary
    assert list(summary.guest) == ["g", "ALL"]
    assert set(summary.policy) == {"none"}  # the scenario's first policy
    assert (summary.requests == 20000).all()
    meta = json.loads((out / "meta.json").read_text())
    assert meta["seed"] == 1
    assert meta["command"].startswith("tmemsim")
    assert siblings(out) == ["good.yaml", "out"]


def test_run_prints_a_table_unless_quiet(good):
    r = invoke("run", good)
    assert r.exit_code == 0
    assert "ALL" in r.stdout and "20,000" in r.stdout


def test_run_policy_seed_and_set(good, tmp_path):
    out = tmp_path / "out"
    r = invoke("run", good, "--out", out, "--quiet", "--policy", "tmem", "--seed", "9",
               "--set", "requests=5000", "--set", "guests.0.workload.read_fraction=1")
    assert r.exit_code == 0, (r.output, r.exception)
    res = tmemsim.read_results(out)
    row = res.row()
    assert row.policy == "tmem" and row.requests == 5000 and row.writes == 0
    assert res.meta["seed"] == 9
    again = tmemsim.load_scenario(out / "scenario.yaml")
    assert again.seed == 9 and again.requests == 5000


def test_run_unknown_policy(good, tmp_path):
    out = tmp_path / "out"
    assert_input_error(invoke("run", good, "--out", out, "--policy", "nosuch"), "nosuch")
    assert not out.exists()


def test_run_refuses_an_existing_directory_without_force(good, tmp_path):
    out = tmp_path / "out"
    assert invoke("run", good, "--out", out, "--quiet").exit_code == 0
    before = (out / "summary.csv").read_bytes()
    r = invoke("run", good, "--out", out, "--quiet", "--seed", "2")
    assert_input_error(r, "--force")
    assert (out / "summary.csv").read_bytes() == before
    assert json.loads((out / "meta.json").read_text())["seed"] == 1

    r = invoke("run", good, "--out", out, "--quiet", "--seed", "2", "--force")
    assert r.exit_code == 0
    assert json.loads((out / "meta.json").read_text())["seed"] == 2
    assert (out / "summary.csv").read_bytes() != before
    assert siblings(out) == ["good.yaml", "out"]


def test_bad_input_leaves_no_directory(bad, tmp_path):
    path, line = bad
    out = tmp_path / "out"
    assert_input_error(invoke("run", path, "--out", out), "guests[0].memory", f"line {line}")
    assert not out.exists()
    assert siblings(out) == ["bad.yaml"]


def test_bad_set_leaves_no_directory(good, tmp_path):
    out = tmp_path / "out"
    assert_input_error(invoke("run", good, "--out", out, "--set", "guests.5.memory=1GiB"),
                       "no item 5")
    assert not out.exists()


def test_failed_run_exits_1_and_leaves_no_directory(good, tmp_path, monkeypatch):
    def failing(*args, **kwargs):
        raise RunError("coherence check failed: stale reads (none: 3)")

    monkeypatch.setattr(tmemsim.api, "run_policy", failing)
    out = tmp_path / "out"
    r = invoke("run", good, "--out", out, "--quiet")
    assert r.exit_code == 1
    assert "stale reads" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 2
    assert not out.exists()
    assert siblings(out) == ["good.yaml"]


def test_failed_run_with_force_keeps_the_old_directory(good, tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert invoke("run", good, "--out", out, "--quiet").exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    def failing(*args, **kwargs):
        raise RunError("boom")

    monkeypatch.setattr(tmemsim.api, "run_policy", failing)
    r = invoke("run", good, "--out", out, "--quiet", "--force")
    assert r.exit_code == 1
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert siblings(out) == ["good.yaml", "out"]


def test_failure_while_writing_keeps_the_old_directory(good, tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert invoke("run", good, "--out", out, "--quiet").exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    def broken(self, directory):
        raise OSError("disk full")

    monkeypatch.setattr(Result, "_save_plots", broken)
    r = invoke("run", good, "--out", out, "--quiet", "--force", "--seed", "3")
    assert r.exit_code != 0
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert siblings(out) == ["good.yaml", "out"]  # no temporary directory left beside it


# ---------------------------------------------------------------------------------------------
# --out: what --force may replace, checked before anything is simulated


@pytest.fixture
def no_simulation(monkeypatch):
    """Makes any simulation fail loudly: what these tests refuse must be refused before one."""

    def simulating(*args, **kwargs):
        raise AssertionError("the simulation started")

    monkeypatch.setattr(tmemsim.api, "run_policy", simulating)


def users_folder(path):
    """A folder of the user's own files (a meta.json too, but not one tmemsim wrote)."""
    path.mkdir(parents=True)
    (path / "notes.txt").write_text("my thesis")
    (path / "meta.json").write_text('{"author": "me"}')
    (path / "plots").mkdir()
    (path / "plots" / "figure.png").write_bytes(b"mine")
    return {p.relative_to(path): p.read_bytes() for p in path.rglob("*") if p.is_file()}


def files(path):
    return {p.relative_to(path): p.read_bytes() for p in path.rglob("*") if p.is_file()}


@pytest.mark.parametrize("command", ["run", "compare", "sweep"])
def test_force_never_replaces_a_users_folder(command, good, tmp_path, no_simulation):
    precious = tmp_path / "precious"
    before = users_folder(precious)
    flag = "--resume" if command == "sweep" else "--force"  # a sweep's way to write into one
    r = invoke(command, good, "--out", precious, flag, "--quiet")
    assert_input_error(r, f"{precious} is not a tmemsim ")
    assert files(precious) == before
    assert siblings(precious) == ["good.yaml", "precious"]


def test_force_replaces_an_empty_directory_or_one_tmemsim_wrote(good, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    assert invoke("run", good, "--out", out, "--force", "--quiet").exit_code == 0
    assert json.loads((out / "meta.json").read_text())["tmemsim"] == "results"
    r = invoke("compare", good, "--out", out, "--force", "--quiet", "--seed", "5", "--jobs", "1")
    assert r.exit_code == 0, (r.output, r.exception)
    assert json.loads((out / "meta.json").read_text())["seed"] == 5
    # written by a version before the marker: meta.json with tmemsim_version only
    (out / "meta.json").write_text('{"tmemsim_version": "0.0.9"}')
    assert invoke("run", good, "--out", out, "--force", "--quiet").exit_code == 0
    assert siblings(out) == ["good.yaml", "out"]


def test_out_never_names_the_working_directory_or_the_scenarios(tmp_path, monkeypatch,
                                                                no_simulation):
    """., .., the cwd's and the scenario's directories and their ancestors: refused even with
    a results marker in them."""
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    scenario = scenarios / "s.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO, sort_keys=False))
    work = tmp_path / "work" / "deep"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    for d in (tmp_path, work, scenarios):
        (d / "meta.json").write_text('{"tmemsim": "results"}')
    before = files(tmp_path)
    for out in (".", "..", str(work), str(scenarios), str(tmp_path), "/"):
        for command in ("run", "compare"):
            r = invoke(command, scenario, "--out", out, "--force", "--quiet")
            assert_input_error(r, f"{out} ", "refusing")
        assert_input_error(invoke("sweep", scenario, "--out", out, "--resume"), "refusing")
    assert files(tmp_path) == before


@pytest.mark.parametrize("where", ["parent-is-a-file", "proc", "symlink"])
def test_out_that_cannot_be_written_fails_before_simulating(where, good, tmp_path,
                                                            no_simulation):
    if where == "parent-is-a-file":
        (tmp_path / "afile").write_text("a file")
        out = tmp_path / "afile" / "res"
    elif where == "proc":
        if not os.path.isdir("/proc/self"):
            pytest.skip("no /proc")
        out = "/proc/tmemsim-test"
    else:
        (tmp_path / "real").mkdir()
        (tmp_path / "real" / "notes.txt").write_text("mine")
        out = tmp_path / "link"
        out.symlink_to(tmp_path / "real")
    before, names = files(tmp_path), sorted(os.listdir(tmp_path))
    for command in ("run", "compare"):
        for force in ([], ["--force"]):
            r = invoke(command, good, "--out", out, *force, "--quiet")
            assert_input_error(r, str(out))
    assert files(tmp_path) == before and sorted(os.listdir(tmp_path)) == names


def test_out_checked_before_simulating_makes_its_workspace_first(good, tmp_path, monkeypatch):
    """The hidden workspace beside --out exists while the simulation runs."""
    out = tmp_path / "out"
    seen = []
    real = tmemsim.api.run_policy

    def run_policy(*args, **kwargs):
        seen.append(sorted(p.name for p in tmp_path.iterdir()))
        return real(*args, **kwargs)

    monkeypatch.setattr(tmemsim.api, "run_policy", run_policy)
    assert invoke("run", good, "--out", out, "--quiet").exit_code == 0
    assert len(seen) == 1 and len(seen[0]) == 2 and seen[0][0].startswith(".out.")
    assert siblings(out) == ["good.yaml", "out"]


def test_check_exits_0_on_a_coherent_run(good, tmp_path):
    out = tmp_path / "out"
    r = invoke("run", good, "--out", out, "--quiet", "--check", "--policy", "tmem",
               "--set", "requests=5000", "--set", "guests.0.reserved=60MiB")  # 1024-page cache
    assert r.exit_code == 0, (r.output, r.exception)
    row = tmemsim.read_results(out).row()
    assert row.stale_reads == 0 and row.writes > 0 and row.tmem_puts > 0
    assert tmemsim.load_scenario(out / "scenario.yaml").check is True


def test_unparsable_set_value_is_bad_input(good):
    assert_input_error(invoke("validate", good, "--set", "seed=["), "seed")


def test_negative_seed_is_bad_input(good, tmp_path):
    out = tmp_path / "out"
    assert_input_error(invoke("run", good, "--seed", "-1", "--out", out, "--quiet"), "seed")
    assert not out.exists()


def test_infinite_memory_is_bad_input(tmp_path):
    text = yaml.safe_dump(SCENARIO, sort_keys=False).replace("memory: 64MiB", "memory: .inf")
    path = tmp_path / "inf.yaml"
    path.write_text(text)
    assert_input_error(invoke("validate", path), "guests[0].memory")


# ---------------------------------------------------------------------------------------------
# the real entry point, in a process of its own


def test_python_m_tmemsim_bad_input(bad, tmp_path):
    path, line = bad
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "tmemsim", "run", str(path), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2 and "Traceback" not in proc.stderr
    assert str(path) in proc.stderr and "guests[0].memory" in proc.stderr
    assert f"line {line}" in proc.stderr
    assert proc.stdout == ""
    assert not out.exists()


def test_python_m_tmemsim_validate(good):
    proc = subprocess.run([sys.executable, "-m", "tmemsim", "validate", str(good)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "ok" in proc.stdout and proc.stderr == ""
