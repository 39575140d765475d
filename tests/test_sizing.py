"""What a scenario costs to simulate: sizes no machine can simulate are refused when the
scenario is loaded, with the estimate, before anything is simulated or allocated."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import tmemsim
from tmemsim.cli import main
from tmemsim.errors import ScenarioError
from tmemsim.scenario import sizing

ROOT = Path(__file__).resolve().parent.parent

HUGE_FOOTPRINT = """\
seed: 1
duration: 1s
host: {memory: 4GiB}
disks: {d: {kind: ssd}}
images: {base: {size: 64TiB}}
guests:
  - name: g
    memory: 1GiB
    disk: {image: base}
    workload:
      kind: zipf
      footprint: 64TiB
"""

MANY_GUESTS = """\
seed: 1
duration: 1s
host: {memory: 400GiB}
disks: {d: {kind: ssd}}
guests:
  - name: g
    count: 100000
    memory: 4MiB
    disk: {size: 1GiB}
    workload: {kind: uniform, footprint: 1000}
"""


@pytest.fixture
def machine(monkeypatch):
    """A machine of 16 GiB, whatever machine runs the tests."""
    monkeypatch.setattr(sizing, "machine_memory", lambda: 16 << 30)


def _write(tmp_path, text, name="s.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _refused(result, *fragments):
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1, err
    for fragment in ("this scenario needs about", "of memory to simulate",
                     "this machine has 16 GiB", *fragments):
        assert fragment in err, (fragment, err)
    return err


@pytest.mark.parametrize("command", ["validate", "run", "compare"])
def test_a_64_tib_footprint_is_refused_at_load(machine, tmp_path, command):
    path = _write(tmp_path, HUGE_FOOTPRINT)
    args = [command, str(path)] + (["--out", str(tmp_path / "out")] if command != "validate"
                                   else [])
    err = _refused(CliRunner().invoke(main, args), str(path),
                   "guests[0].workload.footprint", "line 12")
    assert "about 1 TiB" in err  # alias tables and layouts of 2^34 pages alone: 896 GiB
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]  # nothing written


@pytest.mark.parametrize("command", ["validate", "run"])
def test_100000_guests_are_refused_naming_their_count(machine, tmp_path, command):
    path = _write(tmp_path, MANY_GUESTS)
    # one such guest fits: it is the count that does not (7 MiB of request buffers each)
    _refused(CliRunner().invoke(main, [command, str(path)]), str(path), "guests[0].count",
             "line 7", "for the 100000 guest(s) of guests[0]")


def test_a_sweep_value_too_large_is_refused_before_any_point_runs(machine, tmp_path):
    text = MANY_GUESTS.replace("count: 100000", "count: 2") + textwrap.dedent("""\
        sweep:
          parameters:
            guests.0.count: [1, 100000]
        """)
    path = _write(tmp_path, text)
    r = CliRunner().invoke(main, ["sweep", str(path), "--out", str(tmp_path / "sw")])
    assert r.exit_code == 2, r.output
    assert "value 100000" in r.stderr and "this scenario needs about" in r.stderr
    assert not (tmp_path / "sw").exists()


def test_one_guest_too_large_is_blamed_on_its_footprint_not_its_count(machine):
    data = {
        "seed": 1, "duration": "1s", "host": {"memory": "8GiB"}, "disks": {"d": {"kind": "ssd"}},
        "guests": [{"name": "g", "count": 2, "memory": "1GiB", "disk": {"size": "8TiB"},
                    "workload": {"kind": "zipf", "footprint": "8TiB"}}],
    }
    with pytest.raises(ScenarioError) as info:
        tmemsim.load_scenario(data)
    assert info.value.path == "guests[0].workload.footprint"


def test_more_pages_than_a_location_holds_are_refused_even_with_the_memory(monkeypatch):
    monkeypatch.setattr(sizing, "machine_memory", lambda: 1 << 60)
    data = {
        "seed": 1, "duration": "1s", "host": {"memory": "4GiB"}, "disks": {"d": {"kind": "ssd"}},
        "guests": [{"name": "g", "memory": "1GiB", "disk": {"size": "20TiB"},
                    "workload": {"kind": "uniform", "footprint": "20TiB"}}],
    }
    with pytest.raises(ScenarioError, match="at most 4294967296 pages") as info:
        tmemsim.load_scenario(data)
    assert info.value.path == "guests[0].workload.footprint"


def test_the_refusal_uses_this_machines_memory(tmp_path):
    # no stand-in machine: a real process, its real memory (no machine has 1 TiB to spare here)
    path = _write(tmp_path, HUGE_FOOTPRINT)
    r = subprocess.run([sys.executable, "-m", "tmemsim", "validate", str(path)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "this machine has" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_validate_says_what_a_scenario_costs(machine):
    r = CliRunner().invoke(main, ["validate", str(ROOT / "scenarios" / "quickstart.yaml")])
    assert r.exit_code == 0, r.output
    assert "to simulate" in r.stdout and "about" in r.stdout


BUNDLED = sorted((ROOT / "scenarios").glob("*.yaml")) + sorted(
    (ROOT / "scenarios" / "verify").glob("*.yaml"))


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_every_bundled_scenario_fits_a_small_machine(path):
    need = sizing.total(sizing.estimate(tmemsim.load_scenario(path)))
    assert need < 1 << 30, sizing.spoken(need)


# A child's own peak RSS: VmHWM, which an exec resets. Not ru_maxrss: Linux carries it over
# the exec from the fork of this (large) test process.
PEAK_KIB = "int(re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1))"


def _peak_rss(data: dict) -> int:
    script = textwrap.dedent(f"""
        import re
        import tmemsim
        tmemsim.compare({data!r}, jobs=1)
        print({PEAK_KIB})
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return int(out.stdout.split()[-1]) * 1024


# many guests, several threads, writes, a swap area, a full pool
BUSY = {
    "seed": 3, "duration": "2s", "requests": 10000, "sample_interval": "100ms",
    "host": {"memory": "600MiB", "reserved": "64MiB"},
    "disks": {"d": {"kind": "nvme"}},
    "images": {"base": {"size": "256MiB", "zero_fraction": 0.1, "internal_dup": 0.1}},
    "policies": ["tmem", "dedup"],  # the largest pool entries
    "guests": [{"name": "g", "count": 6, "memory": "24MiB", "reserved": "4MiB",
                "disk": {"image": "base", "clone": "copy"},
                "workload": {"kind": "zipf", "alpha": 0.6, "footprint": 20000, "threads": 2,
                             "read_fraction": 0.7,
                             "think_time": {"kind": "exponential", "mean": "20us"},
                             "anon": {"size": 8000, "fraction": 0.2}}}],
}


def test_the_estimate_is_above_what_a_run_takes():
    # what each structure costs is what the estimate's constants claim, or less
    need = sizing.total(sizing.estimate(tmemsim.load_scenario(BUSY)))
    peak = _peak_rss(BUSY)
    assert peak <= need, f"peak {sizing.spoken(peak)} above the estimate {sizing.spoken(need)}"
    assert need < 2 * peak, f"estimate {sizing.spoken(need)} for a peak of {sizing.spoken(peak)}"


def test_a_comparison_holds_one_world_at_a_time():
    # each policy's world is freed before the next is built: a second policy costs what its
    # results take, not a second world (a world here: 32 request streams, about 230 MiB)
    guests = [{**BUSY["guests"][0], "count": 8,
               "workload": {**BUSY["guests"][0]["workload"], "threads": 4}}]
    short = {**BUSY, "requests": 100, "guests": guests}
    one = _peak_rss({**short, "policies": ["none"]})
    two = _peak_rss({**short, "policies": ["none", "host-cache"]})
    assert two - one < 80 << 20, (f"{sizing.spoken(one)} for one policy, "
                                  f"{sizing.spoken(two)} for two")
