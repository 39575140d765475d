"""Hostile and careless input at the command line: each case exits 2 with one line naming the
file, YAML path and line where there is one, without a traceback, and leaves no results behind;
a trace that goes back in time runs, and says so once."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from tmemsim.cli import main
from tmemsim.results import Result
from tmemsim.workloads.traces import READ, WRITE, write_msr

SCENARIO = {
    "seed": 1,
    "requests": 3000,
    "policies": ["none", "tmem"],
    "host": {"memory": "1GiB", "reserved": "128MiB"},
    "disks": {"d": {"kind": "nvme"}},
    "guests": [{
        "name": "g", "memory": "64MiB", "reserved": "16MiB", "disk": {"size": "2GiB"},
        "workload": {"kind": "zipf", "alpha": 0.9, "footprint": 100000, "read_fraction": 0.9},
    }],
}


@pytest.fixture(autouse=True)
def no_plots(monkeypatch):
    """matplotlib costs seconds per save; tests/test_plots.py covers the figures."""
    monkeypatch.setattr(Result, "_save_plots", lambda self, directory: [])


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_one_line_error(result, *fragments) -> str:
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tmemsim: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def write_scenario(tmp_path, data=None, text=None, name="s.yaml"):
    path = tmp_path / name
    path.write_text(text if text is not None else yaml.safe_dump(data, sort_keys=False))
    return path


def line_with(path, fragment) -> int:
    return next(i + 1 for i, t in enumerate(path.read_text().splitlines()) if fragment in t)


def trace_scenario(tmp_path, rows, **workload):
    """A scenario replaying the MSR trace `rows` (time_s, op, offset, size, volume)."""
    write_msr(tmp_path / "t.csv", rows)
    data = json.loads(json.dumps(SCENARIO))
    data["guests"][0]["workload"] = {"kind": "trace", "format": "msr", "path": "t.csv",
                                     **workload}
    return write_scenario(tmp_path, data)


def rows_at(times, pages=None):
    pages = range(len(times)) if pages is None else pages
    return [(t, WRITE if i % 5 == 4 else READ, p * 4096, 4096, 0)
            for i, (t, p) in enumerate(zip(times, pages, strict=True))]


# every command that writes results, with --out; the out directory must not appear
WRITERS = [("run", "--quiet"), ("compare", "--quiet", "--jobs", "1"),
           ("sweep", "--quiet", "--jobs", "1")]


def assert_refused_everywhere(tmp_path, scenario, *fragments) -> None:
    assert_one_line_error(invoke("validate", scenario), *fragments)
    for command, *options in WRITERS:
        out = tmp_path / f"out-{command}"
        assert_one_line_error(invoke(command, scenario, "--out", out, *options), *fragments)
        assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # nor hidden leftovers


# ---------------------------------------------------------------------------------------------
# the scenario file itself


def test_a_billion_laughs_is_refused(tmp_path):
    levels = "abcdefghi"
    text = yaml.safe_dump(SCENARIO, sort_keys=False)
    text += f"x-a: &a [{', '.join(['lol'] * 9)}]\n"
    for before, name in zip(levels, levels[1:], strict=False):
        text += f"x-{name}: &{name} [{', '.join(['*' + before] * 9)}]\n"
    path = write_scenario(tmp_path, text=text)
    assert_refused_everywhere(tmp_path, path, str(path), "x-e[0]",
                              f"line {line_with(path, 'x-e:')}",
                              "aliases expand this document by more than")


HEAVY = ("numpy", "pandas", "pyarrow", "simpy", "pydantic", "matplotlib", "scipy")


def run_probe(args: list[str]):
    """tmemsim's command line in a fresh process: (exit code, the heavy libraries it imported,
    its peak memory in MiB (VmHWM: ru_maxrss would count the forked pytest), stderr)."""
    import subprocess
    import sys

    probe = ("import sys\n"
             "from tmemsim.cli import main\n"
             "try:\n"
             f"    main({args!r})\n"
             "except SystemExit as exc:\n"
             "    code = exc.code\n"
             f"print(code, [m for m in {HEAVY!r} if m in sys.modules],\n"
             "      [int(line.split()[1]) // 1024 for line in open('/proc/self/status')\n"
             "       if line.startswith('VmHWM')][0])\n")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120)
    code, rest = run.stdout.strip().splitlines()[-1].split(" ", 1)
    loaded, peak_mib = rest.rsplit(" ", 1)
    return int(code), loaded, int(peak_mib), run.stderr


def test_a_billion_laughs_is_refused_by_a_light_process(tmp_path):
    """The whole process stays small: the YAML is refused before the models (numpy, pydantic,
    pyarrow, pandas, SimPy) are imported, which is what would cost seconds and 100 MB."""
    text = "x-a: &a [" + ", ".join(["lol"] * 9) + "]\n"
    for before, name in zip("abcdefghi", "bcdefghi", strict=False):
        text += f"x-{name}: &{name} [{', '.join(['*' + before] * 9)}]\n"
    path = write_scenario(tmp_path, text=text)
    code, loaded, peak_mib, stderr = run_probe(["validate", str(path)])
    assert (code, loaded) == (2, "[]") and "aliases expand this document" in stderr
    assert peak_mib < 100


def test_an_out_that_cannot_be_written_is_refused_before_the_models_load(tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "mine.txt").write_text("mine")
    path = write_scenario(tmp_path, SCENARIO)
    code, loaded, _, stderr = run_probe(["run", str(path), "--out", str(precious), "--force"])
    assert (code, loaded) == (2, "[]") and "refusing to replace it" in stderr
    assert (precious / "mine.txt").read_text() == "mine"


def test_importing_the_command_line_loads_no_heavy_library():
    import subprocess
    import sys

    probe = (f"import sys, tmemsim, tmemsim.cli\n"
             f"print([m for m in {HEAVY!r} if m in sys.modules])")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120)
    assert run.stdout.strip() == "[]", run.stdout + run.stderr


@pytest.mark.parametrize("raw", [
    yaml.safe_dump(SCENARIO, sort_keys=False).replace("name: g", "name: g\xe9").encode("latin-1"),
    bytes(range(256)) * 8,
], ids=["latin-1", "binary"])
def test_a_scenario_that_is_not_utf8_is_refused(tmp_path, raw):
    path = tmp_path / "s.yaml"
    path.write_bytes(raw)
    line = raw.count(b"\n", 0, next(i for i, b in enumerate(raw) if b >= 0x80)) + 1
    assert_refused_everywhere(tmp_path, path, str(path), f"line {line}", "not UTF-8 text")


def test_a_duplicate_key_names_both_lines(tmp_path):
    text = yaml.safe_dump(SCENARIO, sort_keys=False)
    assert text.count("  reserved: 16MiB\n") == 1
    text = text.replace("  reserved: 16MiB\n", "  reserved: 16MiB\n  memory: 128MiB\n")
    path = write_scenario(tmp_path, text=text)
    first, second = line_with(path, "memory: 64MiB"), line_with(path, "memory: 128MiB")
    assert_refused_everywhere(tmp_path, path, str(path), "guests[0].memory", f"line {second}",
                              f"on lines {first} and {second}")


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan"])
def test_an_infinite_alpha_is_refused(tmp_path, value):
    text = yaml.safe_dump(SCENARIO, sort_keys=False).replace("alpha: 0.9", f"alpha: {value}")
    path = write_scenario(tmp_path, text=text)
    assert_refused_everywhere(tmp_path, path, "guests[0].workload.alpha",
                              f"line {line_with(path, 'alpha')}", "finite number")


# ---------------------------------------------------------------------------------------------
# options


@pytest.mark.parametrize("jobs", ["0", "-1"])
def test_jobs_below_one_is_refused(tmp_path, jobs):
    path = write_scenario(tmp_path, SCENARIO)
    for command in ("compare", "sweep"):
        out = tmp_path / "out"
        assert_one_line_error(invoke(command, path, "--out", out, "--jobs", jobs, "--quiet"),
                              f"jobs must be at least 1, got {jobs}")
        assert not out.exists()
    assert_one_line_error(invoke("verify", "--quick", "--only", "queue/mm1-rho0.5", "--jobs",
                                 jobs, "--quiet"), f"got {jobs}")
    assert_one_line_error(invoke("regress", "--baseline", tmp_path / "b.csv", "--update",
                                 "--scenarios", tmp_path, "--scenario", "s", "--jobs", jobs),
                          f"got {jobs}")
    assert not (tmp_path / "b.csv").exists()


def test_verify_of_an_unknown_check_is_refused():
    assert_one_line_error(invoke("verify", "--only", "nosuch"), "no check matches nosuch",
                          "families are")


def test_plot_of_a_directory_tmemsim_did_not_write_changes_nothing(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "summary.csv").write_text("a,b\n1,2\n")
    (mine / "report.md").write_text("my own notes\n")
    before = {p.name: p.read_bytes() for p in mine.iterdir()}
    assert_one_line_error(invoke("plot", mine), str(mine), "not a tmemsim results directory")
    assert {p.name: p.read_bytes() for p in mine.iterdir()} == before
    assert_one_line_error(invoke("plot", tmp_path / "nothing"), "not a tmemsim results")


# ---------------------------------------------------------------------------------------------
# traces


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_bad_trace_data_is_bad_input_under_every_command(tmp_path, jobs):
    # the fourth record lies beyond the declared footprint: found while running
    path = trace_scenario(tmp_path, rows_at([0.0, 0.1, 0.2, 0.3], [0, 1, 2, 100]),
                          footprint=8)
    assert invoke("validate", path).exit_code == 0
    for command, *options in WRITERS:
        out = tmp_path / f"out-{command}"
        options = [o if o != "1" else jobs for o in options]
        assert_one_line_error(invoke(command, path, "--out", out, *options),
                              str(tmp_path / "t.csv"), "request 4 is page 100, beyond")
        assert not out.exists()


@pytest.mark.parametrize("rows, workload, fragment", [
    ([], {}, "0 line(s)"),
    (rows_at([0.0, 0.1]), {"volume": 3}, "2 record(s), 2 filtered out"),
], ids=["empty-file", "no-such-volume"])
def test_a_trace_without_requests_is_refused(tmp_path, rows, workload, fragment):
    for footprint in ({}, {"footprint": 8}):
        path = trace_scenario(tmp_path, rows, **workload, **footprint)
        assert_refused_everywhere(tmp_path, path, str(path), "guests[0].workload",
                                  f"line {line_with(path, 'workload:')}", "no requests", fragment)


def test_timestamps_that_go_backwards_are_counted_and_told_once(tmp_path):
    # 0.3 and 0.4 come after 0.5, 0.1 after 0.6: three requests before the trace's clock
    times = [0.0, 0.5, 0.3, 0.4, 0.6, 0.1, 0.7]
    path = trace_scenario(tmp_path, rows_at(times))
    out = tmp_path / "out"
    r = invoke("compare", path, "--out", out, "--quiet", "--jobs", "1")
    assert r.exit_code == 0, (r.output, r.exception)
    notes = r.stderr.strip().splitlines()
    assert len(notes) == 1, r.stderr
    assert notes[0] == ("tmemsim: note: the trace of guest g has 3 page request(s) whose "
                        "timestamps go backwards; replayed in file order on the trace's running "
                        "clock, each issued at once (see docs/workloads.md)")
    traces = json.loads((out / "meta.json").read_text())["traces"]
    assert {p: s["g"]["backward"] for p, s in traces.items()} == {"none": 3, "tmem": 3}
    # sorted, or replayed closed-loop (its times unused), nothing goes back
    for rows, workload in ((rows_at(sorted(times)), {}),
                           (rows_at(times), {"timing": "closed"})):
        path = trace_scenario(tmp_path, rows, **workload)
        r = invoke("run", path, "--out", out, "--force", "--quiet")
        assert r.exit_code == 0 and r.stderr == "", r.stderr
        assert json.loads((out / "meta.json").read_text())["traces"]["none"]["g"][
            "backward"] == 0
