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


def test_version_is_one_number():
    """`tmemsim --version` says the package's version, the one meta.json records."""
    from click.testing import CliRunner

    import tmemsim
    from tmemsim.cli import main

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" in config["project"]["dynamic"]  # taken from tmemsim.__version__
    said = CliRunner().invoke(main, ["--version"])
    assert said.exit_code == 0 and said.output == f"tmemsim, version {tmemsim.__version__}\n"


def test_a_bundled_scenario_is_found_by_name(tmp_path, monkeypatch):
    """`tmemsim validate quickstart` from a directory without it finds the library's; a file
    of that name in the working directory comes first."""
    from click.testing import CliRunner

    from tmemsim.cli import main

    monkeypatch.chdir(tmp_path)
    said = CliRunner().invoke(main, ["validate", "quickstart"])
    assert said.exit_code == 0, said.output
    assert said.output.startswith("quickstart: ok — 4 guest(s)")
    (tmp_path / "quickstart").write_text((ROOT / "scenarios" / "trace-replay.yaml").read_text())
    assert library.resolve("quickstart") == Path("quickstart")
    missing = CliRunner().invoke(main, ["validate", "no-such-scenario"])
    assert missing.exit_code == 2 and "no such scenario file" in missing.output


@pytest.mark.parametrize("shell, says", [("bash", "complete -o nosort -F"),
                                         ("zsh", "#compdef tmemsim"),
                                         ("fish", "complete --no-files --command tmemsim")])
def test_shell_completion_scripts(shell, says):
    """The README's completion lines: click writes each shell's script for `tmemsim`."""
    env = {**os.environ, "_TMEMSIM_COMPLETE": f"{shell}_source"}
    done = run([Path(sys.executable).parent / "tmemsim"], cwd=ROOT, env=env)
    assert done.returncode == 0 and says in done.stdout, done.stdout + done.stderr


def _venv(path: Path) -> Path:
    made = run([sys.executable, "-m", "venv", path], cwd=path.parent)
    assert made.returncode == 0, made.stderr
    return path / ("Scripts" if os.name == "nt" else "bin")


@pytest.mark.slow
def test_the_built_wheel_works_from_an_empty_directory(tmp_path):
    """The release check: `python -m build` makes an sdist and a wheel; the wheel, installed
    into a fresh venv, runs `tmemsim verify --quick` and `tmemsim compare quickstart` from an
    empty directory (peer checks skip without the verify extra). `build` is installed into a
    venv of the test's own, so it is no dependency of tmemsim's."""
    src = copy_sources(tmp_path / "src")
    builder = _venv(tmp_path / "build-venv")
    got = run([builder / "python", "-m", "pip", "install", "-q", "build"], cwd=tmp_path)
    assert got.returncode == 0, got.stderr
    built = run([builder / "python", "-m", "build", "--outdir", tmp_path / "dist", src],
                cwd=tmp_path, timeout=1800)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp_path / "dist").glob("tmemsim-*.whl")
    (sdist,) = (tmp_path / "dist").glob("tmemsim-*.tar.gz")
    import tarfile

    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert {f"scenarios/{f}" for f in library_files()} <= names
    bindir = _venv(tmp_path / "venv")
    installed = run([bindir / "python", "-m", "pip", "install", "-q", wheel], cwd=tmp_path,
                    timeout=1800)
    assert installed.returncode == 0, installed.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    import tmemsim

    version = run([bindir / "tmemsim", "--version"], cwd=empty, env=env)
    assert version.stdout.strip() == f"tmemsim, version {tmemsim.__version__}"
    verified = run([bindir / "tmemsim", "verify", "--quick", "--quiet", "--jobs", "2"],
                   cwd=empty, env=env, timeout=1800)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    summary = verified.stdout.strip().splitlines()[-1]
    passed = int(summary.split()[0])
    assert passed > 20 and " 0 failed" in summary, summary
    assert list(empty.iterdir()) == []  # verify without --out writes nothing
    compared = run([bindir / "tmemsim", "compare", "quickstart", "--jobs", "2", "--set",
                    "duration=1s", "--set", "warmup=1s", "--out", "quick"],
                   cwd=empty, env=env, timeout=1800)
    assert compared.returncode == 0, compared.stdout + compared.stderr
    assert "quickstart" in compared.stdout and "host-cache" in compared.stdout
    meta = (empty / "quick" / "meta.json").read_text()
    assert f'"tmemsim_version": "{tmemsim.__version__}"' in meta
    assert (empty / "quick" / "report.md").is_file()
    assert (empty / "quick" / "report.html").is_file()
