"""The house rules of docs/architecture.md, checked on the code: modules stay small, functions
short, imports flow down the layers, and no module reaches for another's private names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tmemsim"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60
# The long functions, kept whole because splitting them costs a Python call per request on a
# hot path (docs/architecture.md, "Long functions"; each one's docstring says why): the guest's
# hit loop, and its twin in the curves' timed replay (split, it took 31% more CPU).
LONG_FUNCTIONS = {"tmemsim.model.guest.Guest._server", "tmemsim.model.guest.Guest._server.serve",
                  "tmemsim.analysis.curves.timed_replay.run_timed"}

# Layers, lowest first (docs/architecture.md, "Layers"): a module imports, at module level,
# only from its own layer or below. Keys are module names or package prefixes; the longest
# matching key decides.
LAYERS = {
    "tmemsim.errors": 0, "tmemsim.units": 0, "tmemsim.counters": 0, "tmemsim.infra": 0,
    "tmemsim.fields": 1, "tmemsim.images": 1, "tmemsim.compression": 1, "tmemsim.caches": 1,
    "tmemsim.policies": 1,
    "tmemsim.workloads": 1, "tmemsim.library": 1,
    "tmemsim.scenario": 2,
    "tmemsim.model": 3,
    "tmemsim.results": 4,
    "tmemsim.api": 5,
    "tmemsim.analysis": 6, "tmemsim.sweep": 6,
    "tmemsim.presentation": 7,
    "tmemsim.cli": 8, "tmemsim.__main__": 8, "tmemsim": 8,
}


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path, path.name == "__init__.py"


MODULES = list(modules())


def layer(name: str) -> int:
    key = max((k for k in LAYERS if name == k or name.startswith(k + ".")), key=len)
    return LAYERS[key]


def absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def module_level_imports(tree: ast.Module, module: str, is_package: bool):
    """(imported module, names, line) of the imports run when the module is imported."""
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for sub in ast.walk(node) if isinstance(node, (ast.If, ast.Try)) else [node]:
            if isinstance(sub, ast.ImportFrom):
                yield absolute(sub, module, is_package), [a.name for a in sub.names], sub.lineno
            elif isinstance(sub, ast.Import):
                for a in sub.names:
                    yield a.name, [], sub.lineno


@pytest.mark.parametrize("name, path, is_package", MODULES, ids=[m[0] for m in MODULES])
def test_a_module_is_small_and_says_what_it_is(name, path, is_package):
    text = path.read_text()
    lines = text.count("\n")
    assert lines <= MAX_MODULE_LINES, f"{name}: {lines} lines (at most {MAX_MODULE_LINES})"
    assert ast.get_docstring(ast.parse(text)), f"{name} opens with no docstring"


def test_functions_are_short():
    long = []
    for name, path, _ in MODULES:
        tree = ast.parse(path.read_text())
        stack = [(tree, name)]
        while stack:
            node, prefix = stack.pop()
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    qual = f"{prefix}.{child.name}"
                    if not isinstance(child, ast.ClassDef):
                        n = child.end_lineno - child.lineno + 1
                        if n > MAX_FUNCTION_LINES and qual not in LONG_FUNCTIONS:
                            long.append(f"{qual}: {n} lines")
                    stack.append((child, qual))
    assert not long, "functions over 60 lines:\n" + "\n".join(sorted(long))


def test_imports_flow_down_the_layers_and_never_take_private_names():
    wrong = []
    for name, path, is_package in MODULES:
        tree = ast.parse(path.read_text())
        for target, names, line in module_level_imports(tree, name, is_package):
            if target.startswith("tmemsim") and target != "tmemsim":
                if layer(target) > layer(name):
                    wrong.append(f"{name}:{line} imports {target} (a higher layer)")
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if target.startswith("tmemsim") and private:
                wrong.append(f"{name}:{line} takes private {', '.join(private)} from {target}")
        for node in ast.walk(tree):  # private names imported inside functions too
            if isinstance(node, ast.ImportFrom):
                target = absolute(node, name, is_package)
                private = [a.name for a in node.names
                           if a.name.startswith("_") and not a.name.startswith("__")]
                if target.startswith("tmemsim") and private and node not in tree.body:
                    wrong.append(f"{name}:{node.lineno} takes private {', '.join(private)} "
                                 f"from {target}")
    assert not wrong, "\n".join(sorted(set(wrong)))


def test_no_star_imports():
    stars = [f"{name}:{node.lineno}" for name, path, _ in MODULES
             for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names)]
    assert not stars, stars


@pytest.mark.parametrize("module", ["tmemsim", "tmemsim.results", "tmemsim.sweep",
                                    "tmemsim.analysis", "tmemsim.api"])
def test_importing_the_library_loads_no_plotting(module):
    import subprocess
    import sys

    probe = f"import sys, {module}; print('matplotlib' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120)
    assert run.stdout.strip() == "False", run.stdout + run.stderr


def test_the_facade_names_what_a_notebook_needs_and_each_resolves():
    import tmemsim

    needed = {"load_scenario", "simulate", "compare", "curve", "run_sweep", "verify",
              "read_results", "read_curves", "read_sweep", "Result", "Comparison", "Curves",
              "SweepResult", "Scenario", "ScenarioError", "TraceError", "RunError",
              "TmemsimError", "__version__"}
    assert needed <= set(tmemsim.__all__)
    for name in tmemsim.__all__:
        assert getattr(tmemsim, name) is not None, name
    assert tmemsim.verify.__module__.startswith("tmemsim.analysis.verify")
