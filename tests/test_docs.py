"""Every example in README.md and docs/*.md runs and does what its text says.

Each fenced block carries a label, and the label says how it is checked:

- `sh`: commands, run by bash in a scratch copy of the repository (scenarios/ and the
  baseline), with this interpreter's `tmemsim` first on the PATH. The block must exit 0, and
  each command keep its promise: `--out DIR` leaves a results (or sweep) directory there,
  `plot DIR` redraws into DIR/plots, `validate` says ok, `compare` prints its table.
- `console`: a transcript. The `$ ` lines run in one shell; the lines after each are its
  output (stdout and stderr), compared exactly.
- `python`: run as a script in a scratch copy; it must exit 0 and what it saves must exist.
- `yaml`: a whole scenario (it has `name` and `guests`) is loaded; a fragment is spliced into a
  small scenario (BASE: a `workload:` becomes the guest's, other keys replace BASE's), loaded
  from the scratch copy's scenarios/ folder and run briefly under each of its policies. A
  `sweep:` block is parsed as a sweep.
- `text`: data. Marked `file NAME`, it is written as scenarios/NAME of the scratch copy, for the
  trace example that reads it.

An HTML comment right before a block adjusts it: `<!-- docs-test: skip (why) -->` (never run;
the reason is required), `slow` (run under `pytest -m slow` only), `setup-done` (the environment
setup before the first `tmemsim` is this test's own environment, so it is not run again),
`file NAME`. A block without a label fails: say what it is.
"""

from __future__ import annotations

import copy
import gzip
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

import tmemsim
from tmemsim.sweep import parse_spec

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LABELS = {"sh", "console", "python", "yaml", "text"}
MARKS = ("skip", "slow", "setup-done", "file")
FENCE = re.compile(r"^```([\w-]*)\s*$")
MARKER = re.compile(r"^<!--\s*docs-test:\s*(.*?)\s*-->\s*$")
SEPARATOR = "----- docs-test: next command -----"

# what a fragment is spliced into: roomy enough for every example's footprint and guests
BASE = {
    "name": "docs-example",
    "seed": 1,
    "requests": 300,
    "sample_interval": "100ms",
    "host": {"memory": "2GiB", "reserved": "128MiB"},
    "disks": {"d": {"kind": "ssd"}},
    "policies": ["none", "host-cache", "tmem", "dedup"],
    "guests": [{"name": "g", "memory": "64MiB", "reserved": "16MiB", "disk": {"size": "20GiB"},
                "workload": {"kind": "zipf", "alpha": 0.9, "footprint": 10000}}],
}


@dataclass(frozen=True)
class Block:
    doc: str
    line: int
    label: str
    text: str
    marks: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"

    def mark(self, name: str) -> str | None:
        """The mark's argument ('' if it has none), or None if the block lacks it."""
        for mark in self.marks:
            word, _, rest = mark.partition(" ")
            if word == name:
                return rest.strip()
        return None


def _blocks() -> list[Block]:
    found = []
    for doc in DOCS:
        lines = doc.read_text(encoding="utf-8").splitlines()
        marks: list[str] = []
        i = 0
        while i < len(lines):
            marker, fence = MARKER.match(lines[i]), FENCE.match(lines[i])
            if marker:
                # marks are comma-separated; a skip's reason in parentheses may hold commas
                marks += [m.strip() for m in re.findall(r"(?:\([^)]*\)|[^,])+", marker.group(1))]
            elif fence:
                end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
                found.append(Block(doc.relative_to(ROOT).as_posix(), i + 1, fence.group(1),
                                   "\n".join(lines[i + 1:end]) + "\n", tuple(marks)))
                marks, i = [], end
            elif lines[i].strip():
                marks = []  # a marker belongs to the block right after it
            i += 1
    return found


BLOCKS = _blocks()


def _params(label: str):
    params = []
    for b in BLOCKS:
        if b.label != label:
            continue
        marks = []
        if b.mark("skip") is not None:
            marks.append(pytest.mark.skip(reason=b.mark("skip")))
        if b.mark("slow") is not None:
            marks.append(pytest.mark.slow)
        params.append(pytest.param(b, id=b.id, marks=marks))
    return params


@pytest.fixture
def scratch(tmp_path) -> Path:
    """A scratch copy of what the examples read: the scenario library and the baseline."""
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "results").mkdir()
    shutil.copy(ROOT / "results" / "baseline.csv", tmp_path / "results")
    return tmp_path


def _env() -> dict:
    return {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep
            + os.environ.get("PATH", "")}


def _run(args, cwd: Path, check_exit: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=1800)
    if check_exit:
        assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


# ---------------------------------------------------------------- the blocks themselves


def test_docs_have_examples():
    labels = {b.label for b in BLOCKS}
    assert {"sh", "console", "python", "yaml", "text"} <= labels
    assert {b.doc for b in BLOCKS} >= {"README.md", "docs/workloads.md"}


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_every_block_is_labelled_and_marked_as_known(block):
    assert block.label in LABELS, (
        f"{block.id}: label the block (```sh, console, python, yaml or text), so the docs test "
        f"knows how to check it")
    for mark in block.marks:
        assert mark.partition(" ")[0] in MARKS, f"{block.id}: unknown docs-test mark {mark!r}"
    if block.mark("skip") is not None:
        assert re.fullmatch(r"\(.+\)", block.mark("skip")), f"{block.id}: say why it is skipped"
    if block.mark("file") is not None:
        assert block.label == "text" and block.mark("file"), block.id


def test_the_workload_page_has_an_example_of_each_promised_key():
    """The README promises a YAML example of anon, churn, balloon and max_memory."""
    readme = (ROOT / "README.md").read_text()
    assert "docs/workloads.md" in readme
    examples = [b.text for b in BLOCKS if b.doc == "docs/workloads.md" and b.label == "yaml"]
    for key in ("anon:", "churn:", "balloon:", "max_memory:"):
        assert any(key in text for text in examples), key


WRITTEN_BY_TMEMSIM = {"report.md", "regress.md"}  # named in the docs, made by a run (regress.md:
# `tmemsim regress --markdown` in docs/ci.md), not in the repository


def _anchors(doc: Path) -> set[str]:
    """GitHub's anchors of a document's headings: lower case, punctuation dropped, spaces to -."""
    headings = re.findall(r"^#+ (.+)$", doc.read_text(encoding="utf-8"), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_the_docs_send_readers_only_to_what_the_repository_holds(doc):
    """Every relative link resolves (its anchor too), and every document named is in the
    repository: nothing points at notes the reader does not have."""
    text = doc.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (doc.parent / path).resolve() if path else doc
        assert resolved.is_file(), f"{doc.name}: broken link {target}"
        if anchor:
            assert anchor in _anchors(resolved), f"{doc.name}: no heading for #{anchor}"
    for name in set(re.findall(r"[\w./-]+\.md\b", text)) - WRITTEN_BY_TMEMSIM:
        assert (doc.parent / name).is_file() or (ROOT / name).is_file(), (
            f"{doc.name} names {name}, which is not in the repository")


def test_the_model_page_lists_the_summary_columns_in_order():
    from tmemsim.results import SUMMARY_COLUMNS

    text = (ROOT / "docs" / "model.md").read_text(encoding="utf-8")
    listed = re.search(r"more follow them\):\n`([^`]+)`", text).group(1)
    names = [n.strip() for n in listed.replace("\n", " ").split(",")]
    assert names == list(SUMMARY_COLUMNS[:len(names)])
    assert len(names) >= 30


def test_the_model_page_gives_the_cost_defaults_the_code_has():
    from tmemsim.scenario import Costs

    text = (ROOT / "docs" / "model.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(\w+)` \| (\d+) µs \|", text, re.M))
    defaults = Costs()
    assert set(rows) == set(Costs.model_fields)
    for name, micros in rows.items():
        assert getattr(defaults, name) == pytest.approx(int(micros) * 1e-6), name


# ---------------------------------------------------------------- sh


def _commands(text: str) -> list[list[str]]:
    """The tmemsim command lines of a block, as argument lists (comments dropped)."""
    commands = []
    for line in text.splitlines():
        for part in re.split(r"&&|;", line):
            args = shlex.split(part, comments=True)
            if args and args[0] == "tmemsim":
                commands.append(args)
    return commands


def _option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def _keeps_its_promise(args: list[str], cwd: Path, stdout: str) -> None:
    command = args[1]
    out = _option(args, "--out")
    if out and command in ("run", "compare"):
        directory = cwd / out
        for name in ("meta.json", "summary.csv", "scenario.yaml", "report.md"):
            assert (directory / name).is_file(), (args, name)
        assert list((directory / "plots").glob("*.png")), args
    if out and command == "curve":
        for name in ("curves.parquet", "meta.json", "curve.png"):
            assert (cwd / out / name).is_file(), (args, name)
    if out and command == "sweep":
        for name in ("sweep.parquet", "sweep_summary.csv", "failures.csv"):
            assert (cwd / out / name).is_file(), (args, name)
    if command == "plot":
        assert f"files in {Path(args[2]) / 'plots'}" in stdout, args
        assert (cwd / args[2] / "report.md").is_file()
    if command == "validate":
        assert f"{args[2]}: ok" in stdout, args
    if command == "compare" and not out:
        policies = (_option(args, "--policies") or "").split(",")
        shown = [line.split()[0] for line in stdout.splitlines() if line.strip()]
        assert all(p in shown for p in policies if p), (args, stdout)


@pytest.mark.parametrize("block", _params("sh"))
def test_shell_block(block, scratch):
    script = block.text
    if block.mark("setup-done") is not None:
        script = script[script.index("tmemsim "):]
    done = _run(["bash", "-e", "-c", script], scratch)
    commands = _commands(script)
    assert commands, f"{block.id}: no tmemsim command to check"
    for args in commands:
        _keeps_its_promise(args, scratch, done.stdout)


# ---------------------------------------------------------------- console


def _transcript(text: str) -> list[tuple[str, str]]:
    steps: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            assert steps, f"output before the first command: {line!r}"
            steps[-1][1].append(line.rstrip())
    return [(command, "\n".join(out)) for command, out in steps]


@pytest.mark.parametrize("block", _params("console"))
def test_console_transcript(block, scratch):
    steps = _transcript(block.text)
    # each command's output is cut off by a separator; $? survives for the next command
    script = "".join(f"{{ {command}\n}} 2>&1\n__rc=$?\nprintf '%s\\n' '{SEPARATOR}'\n"
                     f"(exit $__rc)\n" for command, _ in steps)
    done = _run(["bash", "-c", script], scratch, check_exit=False)
    outputs = done.stdout.split(SEPARATOR + "\n")[:-1]
    assert len(outputs) == len(steps), done.stdout + done.stderr
    for (command, expected), got in zip(steps, outputs, strict=True):
        got = "\n".join(line.rstrip() for line in got.splitlines())
        assert got == expected, f"$ {command}"


# ---------------------------------------------------------------- python


@pytest.mark.parametrize("block", _params("python"))
def test_python_block(block, scratch):
    (scratch / "example.py").write_text(block.text)
    _run([sys.executable, "example.py"], scratch)
    for saved in re.findall(r"\.save\(\"([^\"]+)\"\)", block.text):
        kind = json.loads((scratch / saved / "meta.json").read_text())["tmemsim"]
        table = {"results": "summary.csv", "curves": "curves.parquet"}[kind]
        assert (scratch / saved / table).is_file(), saved


# ---------------------------------------------------------------- yaml


def _write_data_files(doc: str, folder: Path) -> None:
    """The doc's `file NAME` text blocks, as files of folder (gzipped for .gz names)."""
    for b in BLOCKS:
        name = b.mark("file")
        if b.doc == doc and name:
            data = b.text.encode()
            (folder / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)


def _write_binary_trace(workload: dict, folder: Path) -> None:
    """A binary trace has no text sample: two oracleGeneral records (u32 time, u64 obj_id,
    u32 size, i64 next_access) or two vscsi version 1 records, as the page describes them."""
    path = folder / workload["path"]
    if workload.get("format") in ("oracle", "oracleGeneral") and not path.exists():
        records = np.zeros(2, dtype=[("time", "<u4"), ("obj_id", "<u8"), ("size", "<u4"),
                                     ("next_access", "<i8")])
        records["time"], records["obj_id"], records["size"] = [0, 1], [17, 4096 * 9], 4096
        records["next_access"] = -1
        path.write_bytes(records.tobytes())
    if workload.get("format") == "vscsi" and not path.exists():
        # version 1: u32 sn, u32 len, u32 nSG, u16 cmd, u16 ver, u64 lbn, u64 ts
        records = np.zeros(2, dtype=[("sn", "<u4"), ("len", "<u4"), ("nSG", "<u4"),
                                     ("cmd", "<u2"), ("ver", "<u2"), ("lbn", "<u8"),
                                     ("ts", "<u8")])
        records["cmd"], records["ver"] = [0x28, 0x2A], 1 << 8
        records["len"], records["lbn"], records["ts"] = [6656, 512], [17, 4096], [0, 10**6]
        path.write_bytes(records.tobytes())


@pytest.mark.parametrize("block", _params("yaml"))
def test_yaml_block(block, scratch):
    example = yaml.safe_load(block.text)
    assert isinstance(example, dict), block.id
    folder = scratch / "scenarios"
    whole = "guests" in example and "name" in example
    if whole:
        data = example
    else:
        data = copy.deepcopy(BASE)
        for key, value in example.items():
            if key == "workload":
                data["guests"][0]["workload"] = value
            else:
                data[key] = value
    _write_data_files(block.doc, folder)
    for guest in data["guests"]:
        if guest.get("workload", {}).get("kind") == "trace":
            _write_binary_trace(guest["workload"], folder)
    path = folder / "docs-example.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    scenario = tmemsim.load_scenario(path)
    if "sweep" in example:
        parse_spec(scenario)
    if whole or "sweep" in example:
        return  # a whole scenario says how long it runs; a sweep block is a plan, not a run
    summary = tmemsim.compare(scenario).summary
    totals = summary[summary["guest"] == "ALL"]
    assert len(totals) == len(scenario.policy_specs())
    assert (totals["requests"] > 0).all(), totals[["policy", "requests"]]
