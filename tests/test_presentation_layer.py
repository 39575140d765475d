"""Presentation sits on top: results, sweeps and analysis draw through it only lazily (never
loading matplotlib on import), and no module reaches into another's private names."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import tmemsim

PACKAGE = Path(tmemsim.__file__).parent

# Importing these must not load matplotlib: they are used from batch jobs, sweeps on a cluster
# and `tmemsim verify` without figures; only presenting a result (Result.plot(), save(plots=
# True), SweepResult.plot()) imports tmemsim.presentation, inside that method.
NO_MATPLOTLIB = ["tmemsim", "tmemsim.api", "tmemsim.results", "tmemsim.sweep",
                 "tmemsim.analysis", "tmemsim.analysis.theory", "tmemsim.analysis.regress",
                 "tmemsim.analysis.verify", "tmemsim.analysis.curves"]


def test_import_does_not_load_matplotlib():
    # One interpreter for all: what they load together is a superset of what each loads alone.
    code = (f"import sys, {', '.join(NO_MATPLOTLIB)}; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def _private_uses(path: Path) -> list[str]:
    """`from tmemsim... import _x` and `module._x` on a tmemsim module imported by name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found, modules = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or
                                                 (node.module or "").startswith("tmemsim")):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"line {node.lineno}: imports {alias.name}")
                modules.add(alias.asname or alias.name)  # may be a module: checked below
        elif isinstance(node, ast.Import):
            modules.update(a.asname or a.name for a in node.names
                           if a.name.startswith("tmemsim"))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in modules and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            found.append(f"line {node.lineno}: uses {node.value.id}.{node.attr}")
    return found


def test_no_module_uses_a_private_name_of_another():
    broken = {str(p.relative_to(PACKAGE)): uses for p in sorted(PACKAGE.rglob("*.py"))
              if (uses := _private_uses(p))}
    assert broken == {}


def test_the_private_name_scan_sees_both_forms(tmp_path):
    """The scan above is only worth its silence if it would speak."""
    sample = tmp_path / "sample.py"
    sample.write_text("from .plots import NEUTRAL, _lighten\nfrom . import style\n"
                      "x = style._stable_index('a', 3)\n")
    assert _private_uses(sample) == ["line 1: imports _lighten",
                                     "line 3: uses style._stable_index"]
