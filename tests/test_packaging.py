"""What an installed tmemsim carries: the scenario library as package data, found from anywhere.

The wheel is built from a copy of the sources (what `pip install .` builds); the library must
be inside it and be found by tmemsim.library from another directory, with no checkout in sight.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tmemsim import library
from tmemsim.errors import ScenarioError

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "tmemsim", "scenarios")


def library_files() -> list[str]:
    """Every file of the scenario library, relative to scenarios/ (what the wheel must ship)."""
    root = ROOT / "scenarios"
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts)


def copy_sources(dest: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    dest.mkdir()
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=ignore)
        else:
            shutil.copy(source, dest / name)
    return dest


def run(args, cwd, env=None, timeout=900):
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_every_package_is_listed():
    """pyproject lists the packages (the library is mapped in, not found): a new subpackage of
    tmemsim/ must be listed too, or the wheel would lack it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {p.parent.relative_to(ROOT).as_posix().replace("/", ".")
               for p in (ROOT / "tmemsim").rglob("__init__.py")}
    assert on_disk | {library.PACKAGE} == set(config["packages"])
    assert config["package-dir"][library.PACKAGE] == "scenarios"


def test_library_names():
    assert {"quickstart", "cow-clones", "shifting-demand"} <= set(library.bundled_scenarios())
    assert "irm" not in library.bundled_scenarios()  # verify/ holds checks, not the library
    assert library.scenario_path("quickstart") == library.library_dir() / "quickstart.yaml"
    assert library.scenario_path("verify/irm.yaml").is_file()
    for bad in ("nosuch", "../pyproject", "verify"):
        with pytest.raises(ScenarioError, match="no scenario named"):
            library.scenario_path(bad)


def test_library_missing_is_said(monkeypatch, tmp_path):
    """No package and no checkout beside the code: a clear LibraryMissing, not a None path."""
    monkeypatch.setattr(library, "PACKAGE", "tmemsim.no_such_library")
    monkeypatch.setattr(library, "__file__", str(tmp_path / "tmemsim" / "library.py"))
    with pytest.raises(library.LibraryMissing, match="not installed with tmemsim"):
        library.library_dir()


def test_wheel_ships_the_library(tmp_path):
    """The wheel holds every library file; unpacked elsewhere, tmemsim finds its scenarios
    there and a verify check passes from an unrelated working directory."""
    src = copy_sources(tmp_path / "src")
    built = run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                 tmp_path / "dist", src], cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("tmemsim-*.whl")
    with zipfile.ZipFile(wheel) as z:
        shipped = {n.removeprefix("tmemsim/scenarios/") for n in z.namelist()
                   if n.startswith("tmemsim/scenarios/")}
        z.extractall(tmp_path / "site")
    assert set(library_files()) <= shipped
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # the unpacked wheel first on the path: it, not this checkout, is what gets imported
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    found = run([sys.executable, "-c", "from tmemsim.library import library_dir, "
                 "bundled_scenarios; print(library_dir()); print(len(bundled_scenarios()))"],
                cwd=elsewhere, env=env)
    assert found.returncode == 0, found.stderr
    where, count = found.stdout.split()
    assert Path(where) == tmp_path / "site" / "tmemsim" / "scenarios"
    assert int(count) == len(library.bundled_scenarios())
    checked = run([sys.executable, "-m", "tmemsim", "verify", "--quiet", "--only",
                   "sharing/cow-host-cache"], cwd=elsewhere, env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "1 passed, 0 failed" in checked.stdout


@pytest.mark.slow
def test_installed_tmemsim_verifies_itself(tmp_path):
    """`pip install .` (not editable) into a fresh venv, then `tmemsim verify --quick` from
    another directory: every check passes (peer checks skip without the verify extra)."""
    src = copy_sources(tmp_path / "src")
    venv = tmp_path / "venv"
    made = run([sys.executable, "-m", "venv", venv], cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    installed = run([bindir / "python", "-m", "pip", "install", "-q", src], cwd=tmp_path,
                    timeout=1800)
    assert installed.returncode == 0, installed.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    verified = run([bindir / "tmemsim", "verify", "--quick", "--quiet", "--jobs", "2"],
                   cwd=elsewhere, env=env, timeout=1800)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    summary = verified.stdout.strip().splitlines()[-1]
    passed = int(summary.split()[0])
    assert passed > 20 and " 0 failed" in summary, summary
