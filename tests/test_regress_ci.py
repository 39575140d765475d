"""tmemsim regress for anyone's scenarios: tolerances, replications, the regress: block, JUnit
and markdown, and the CI recipes of docs/ci.md run against a scratch repository."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from tmemsim.analysis.tolerance import Tolerance, interval, judge
from tmemsim.cli import main

ROOT = Path(__file__).resolve().parent.parent


def scenario(name: str, memory: str = "6MiB", regress: dict | None = None,
             footprint: int = 2500) -> dict:
    return {
        "name": name, "seed": 5, "requests": 2500, "sample_interval": "50ms",
        "policies": ["none", "tmem"],
        "host": {"memory": "192MiB", "reserved": "32MiB"}, "disks": {"d": {"kind": "ssd"}},
        "guests": [{"name": "g", "memory": memory, "reserved": "2MiB",
                    "disk": {"size": "128MiB"},
                    "workload": {"kind": "zipf", "alpha": 0.9, "footprint": footprint}}],
        **({"regress": regress} if regress else {}),
    }


def write(folder: Path, data: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# ------------------------------------------------------------------------- tolerances


def test_exact_by_default():
    assert not judge([10], [10], Tolerance(), ratio=False).moved
    assert judge([10], [11], Tolerance(), ratio=False).moved
    assert not judge([0.5], [0.5 + 1e-12], Tolerance(), ratio=True).moved
    assert judge([0.5], [0.5 + 1e-6], Tolerance(), ratio=True).moved


def test_absolute_and_relative_tolerance():
    assert not judge([100], [104], Tolerance(atol=5), ratio=False).moved
    assert judge([100], [106], Tolerance(atol=5), ratio=False).moved
    assert not judge([1000], [1040], Tolerance(rtol=0.05), ratio=False).moved
    assert judge([1000], [1060], Tolerance(rtol=0.05), ratio=False).moved
    assert judge([100], [106], Tolerance(atol=5), ratio=False).tolerance == "atol 5"


def test_student_t_intervals():
    from scipy import stats

    values = [0.70, 0.72, 0.71, 0.74]
    got = interval(values, 0.95)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=sum(values) / 4,
                                 scale=stats.sem(values))
    assert got.low == pytest.approx(low) and got.high == pytest.approx(high)
    # overlapping intervals: not moved, although the means differ
    assert not judge(values, [0.72, 0.73, 0.71, 0.75], Tolerance(), ratio=True).moved
    # disjoint: moved
    assert judge(values, [0.80, 0.81, 0.82, 0.80], Tolerance(), ratio=True).moved
    # disjoint but within the tolerance: not moved
    assert not judge(values, [0.80, 0.81, 0.82, 0.80], Tolerance(atol=0.2), ratio=True).moved


# ------------------------------------------------------------------------- the block


def test_a_bad_block_is_named_with_its_line(tmp_path):
    path = write(tmp_path / "s", scenario("bad", regress={"duration": "1s",
                                                          "metrics": ["read_hit_ratio", "hits"]}))
    baseline = tmp_path / "b.csv"
    done = CliRunner().invoke(main, ["regress", "--scenarios", str(path.parent), "--baseline",
                                     str(baseline), "--update"])
    assert done.exit_code == 2, done.output
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if "- hits" in t)
    assert re.search(rf"bad\.yaml, regress\.metrics\.1, line {line}: 'hits' is not a numeric "
                     r"column of summary\.csv", done.output), done.output
    assert not baseline.exists()


@pytest.mark.parametrize(("block", "where", "words"), [
    ({"replications": 0}, "regress.replications", "whole number"),
    ({"confidence": 1.5}, "regress.confidence", "less than 1"),
    ({"tolerance": {"disk_reads": {"btol": 1}}}, "regress.tolerance", "atol: X, rtol: Y"),
    ({"policies": []}, "regress.policies", "non-empty list"),
])
def test_the_blocks_own_keys_are_typed_with_the_scenario(tmp_path, block, where, words):
    """A bad own key is refused when the scenario loads (validate, run, ...), not only by
    regress: the block is part of the scenario's types."""
    path = write(tmp_path, scenario("typed", regress={"duration": "1s", **block}))
    done = CliRunner().invoke(main, ["validate", str(path)])
    assert done.exit_code == 2, done.output
    assert f"typed.yaml, {where}, line" in done.output and words in done.output, done.output


def test_a_loaded_block_dumps_as_written():
    """Settings (nested or dotted) beside the own keys; a dumped scenario loads back the same."""
    from tmemsim.scenario import load_scenario

    block = {"duration": "1s", "guests": {"0": {"count": 2}}, "warmup": "0s",
             "policies": ["tmem"], "tolerance": {"atol": 0.01}, "replications": 2}
    s = load_scenario(scenario("dump", regress=block))
    assert s.regress.overrides() == ["duration=1s", "guests.0.count=2", "warmup=0s"]
    assert s.model_dump(mode="json")["regress"] == block
    assert load_scenario(s).regress == s.regress


def test_a_bad_tolerance_option_is_bad_input(tmp_path):
    write(tmp_path / "s", scenario("a"))
    done = CliRunner().invoke(main, ["regress", "--scenarios", str(tmp_path / "s"),
                                     "--baseline", str(tmp_path / "b.csv"), "--atol", "x"])
    assert done.exit_code == 2 and "--atol x: expected a number" in done.output


def test_tolerance_and_policies_from_the_block_and_the_command_line(tmp_path):
    folder = tmp_path / "s"
    write(folder, scenario("a", regress={"policies": ["tmem"], "metrics": ["disk_reads"]}))
    baseline = tmp_path / "b.csv"
    made = CliRunner().invoke(main, ["regress", "--scenarios", str(folder), "--baseline",
                                     str(baseline), "--update"])
    assert made.exit_code == 0, made.output
    rows = pd.read_csv(baseline)
    assert set(rows.policy) == {"tmem"}
    assert rows[rows.guest == "ALL"].disk_reads.notna().all()
    assert "read_hit_ratio" not in rows.columns  # not checked, not kept
    # move it a little: a larger footprint, more disk reads (the first touches)
    write(folder, scenario("a", footprint=2600,
                           regress={"policies": ["tmem"], "metrics": ["disk_reads"]}))
    args = ["regress", "--scenarios", str(folder), "--baseline", str(baseline)]
    exact = CliRunner().invoke(main, args)
    assert exact.exit_code == 1, exact.output
    loose = CliRunner().invoke(main, [*args, "--rtol", "disk_reads=0.9"])
    assert loose.exit_code == 0 and "nothing moved" in loose.output, loose.output


def test_replications_store_each_seed_and_compare_intervals(tmp_path):
    folder = tmp_path / "s"
    block = {"replications": 3, "metrics": ["read_hit_ratio"]}
    write(folder, scenario("r", regress=block))
    baseline = tmp_path / "b.csv"
    args = ["regress", "--scenarios", str(folder), "--baseline", str(baseline)]
    assert CliRunner().invoke(main, [*args, "--update"]).exit_code == 0
    rows = pd.read_csv(baseline)
    assert sorted(set(rows.replication)) == [0, 1, 2]
    assert rows[rows.guest == "ALL"].groupby("policy").read_hit_ratio.nunique().min() > 1
    same = CliRunner().invoke(main, args)
    assert same.exit_code == 0, same.output
    write(folder, scenario("r", footprint=800, regress=block))  # far fewer first touches
    moved = CliRunner().invoke(main, [*args, "--junit", str(tmp_path / "j.xml")])
    assert moved.exit_code == 1, moved.output
    failure = ET.parse(tmp_path / "j.xml").getroot().find(".//failure")
    assert re.search(r"read_hit_ratio moved: baseline 0\.\d+ \[0\.\d+, 0\.\d+\] \(n=3\), now "
                     r"0\.\d+ \[0\.\d+, 0\.\d+\] \(n=3\), tolerance: 95% intervals overlap",
                     failure.get("message")), failure.get("message")


# ------------------------------------------------------------------------- docs/ci.md


def blocks(label: str) -> list[str]:
    text = (ROOT / "docs" / "ci.md").read_text()
    return re.findall(rf"^```{label}\n(.*?)^```", text, flags=re.M | re.S)


def shell(command: str, cwd: Path, extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep
           + os.environ["PATH"], **(extra or {})}
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)


def github_steps() -> list[str]:
    """The workflow's `run:` steps, without the install (tmemsim is installed here)."""
    (workflow,) = [yaml.safe_load(b) for b in blocks("yaml") if "runs-on" in b]
    steps = workflow["jobs"]["regress"]["steps"]
    return [s["run"] for s in steps if "run" in s and s.get("name") != "Install tmemsim"]


def gitlab_script() -> list[str]:
    (job,) = [yaml.safe_load(b)["regress"] for b in blocks("yaml") if "image:" in b]
    return [line for line in job["script"] if not line.startswith("pip install")]


@pytest.fixture
def repo(tmp_path) -> Path:
    """A user's repository: two scenarios of their own, and the baseline docs/ci.md makes."""
    write(tmp_path / "scenarios", scenario("steady", regress={"tolerance": {"atol": 0.001}}))
    write(tmp_path / "scenarios", scenario("moving", regress={"metrics": ["read_hit_ratio",
                                                                          "disk_reads"]}))
    (tmp_path / "regress").mkdir()
    (make,) = [b for b in blocks("sh") if "--update" in b]
    done = shell(make, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    return tmp_path


def test_the_ci_recipes_report_what_moved(repo):
    summary = repo / "step-summary.md"
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    regress, *after = github_steps()
    assert "--junit" in regress and "--markdown" in regress
    # nothing changed: the job passes
    done = shell(regress, repo, env)
    assert done.returncode == 0 and "nothing moved" in done.stdout, done.stdout + done.stderr
    suites = ET.parse(repo / "regress-junit.xml").getroot()
    assert suites.get("failures") == "0"
    # one scenario moves: its step fails, the reports say what and where; the others pass
    path = repo / "scenarios" / "moving.yaml"
    path.write_text(path.read_text().replace("memory: 6MiB", "memory: 4MiB"))
    done = shell(regress, repo, env)
    assert done.returncode == 1, done.stdout + done.stderr
    for step in after:  # `if: always()`: they run after a failed step
        ran = shell(step, repo, env)
        assert ran.returncode == 0, ran.stderr
    suites = ET.parse(repo / "regress-junit.xml").getroot()
    by_name = {s.get("name"): s for s in suites.iter("testsuite")}
    assert set(by_name) == {"steady", "moving"}
    assert by_name["steady"].get("failures") == "0"
    steady_cases = by_name["steady"].findall("testcase")
    assert len(steady_cases) == 2 * 2 * 5  # (none, tmem) x (g, ALL) x five metrics
    moving_cases = by_name["moving"].findall("testcase")
    assert len(moving_cases) == 2 * 2 * 2
    failed = [c for c in moving_cases if c.find("failure") is not None]
    assert failed and int(by_name["moving"].get("failures")) == len(failed)
    message = failed[0].find("failure").get("message")
    assert re.fullmatch(r"(read_hit_ratio|disk_reads) moved: baseline [\d.e+-]+, now "
                        r"[\d.e+-]+, tolerance: exact", message), message
    md = (repo / "regress.md").read_text()
    assert f"**{len(failed)} value(s) moved** in 1 of 2 scenario(s)" in md
    assert "| moving |" in md and "| steady |" not in md
    assert summary.read_text() == md
    # the GitLab job runs the same command and fails the same way
    (repo / "regress.md").unlink()
    for line in gitlab_script():
        assert shell(line, repo).returncode == 1
    assert "| moving |" in (repo / "regress.md").read_text()


def test_the_block_of_the_docs_reads_as_it_says(tmp_path):
    """docs/ci.md's regress: block, in a scenario: the settings it describes."""
    from tmemsim.analysis.regress import settings_of

    (block,) = [yaml.safe_load(b) for b in blocks("yaml")
                if b.startswith("regress:") and "image:" not in b]
    st = settings_of(write(tmp_path, scenario("docs", regress=block["regress"])))
    assert st.overrides == ("duration=2s", "warmup=1s")
    assert st.policies == ("none", "tmem") and st.metrics == ("read_hit_ratio", "disk_reads")
    assert st.tolerance("read_hit_ratio") == Tolerance(atol=0.002)
    assert st.tolerance("disk_reads") == Tolerance(rtol=0.05)
    assert (st.replications, st.confidence) == (3, 0.95)
