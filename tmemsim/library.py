"""The scenario library: the scenarios shipped with tmemsim, found wherever tmemsim is installed.

The files live in the repository's top-level `scenarios/` folder. The wheel ships that folder as
the package `tmemsim.scenarios` (package data), and an editable install maps the same package
onto the folder, so a source checkout, an editable install and an installed wheel all find the
library the same way: through importlib.resources, never relative to the working directory.
Without the package (a checkout on sys.path but not installed, or an editable install made
before the library was packaged) the folder beside the package is used.

A library scenario is named by its path below the folder without `.yaml`: `quickstart`,
`verify/irm`. Wherever a scenario file is expected (the commands, load_scenario), a name that is
no file in the working directory is looked up in the library (`resolve`).
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from .errors import RunError, ScenarioError

PACKAGE = "tmemsim.scenarios"
SUFFIX = ".yaml"


class LibraryMissing(RunError):
    """The scenario library is not installed with tmemsim (a broken or partial install)."""


def library_dir() -> Path:
    """The folder holding the library's scenarios; LibraryMissing if it cannot be found."""
    try:
        root = importlib.resources.files(PACKAGE)
    except ModuleNotFoundError:
        checkout = Path(__file__).resolve().parent.parent / "scenarios"
        if (checkout / "__init__.py").is_file():
            return checkout
        raise LibraryMissing(f"the scenario library is not installed with tmemsim (no package "
                             f"{PACKAGE}); reinstall tmemsim") from None
    # A zipped install gives a Traversable that is not a folder on disk; scenarios name their
    # traces by relative path, so the library must be real files.
    if not isinstance(root, Path) or not root.is_dir():
        raise LibraryMissing(f"the scenario library ({PACKAGE}) is not a folder on disk: "
                             f"{root}; install tmemsim unzipped")
    return root


def bundled_scenarios() -> list[str]:
    """The names of the library's scenarios (the folder's own *.yaml, not verify/), sorted."""
    return sorted(p.stem for p in library_dir().glob(f"*{SUFFIX}"))


def scenario_path(name: str) -> Path:
    """The file of a library scenario by name (`quickstart`, `verify/irm`; `.yaml` optional).

    ScenarioError if the library has no such scenario; LibraryMissing if there is no library.
    """
    root = library_dir()
    relative = name if name.endswith(SUFFIX) else name + SUFFIX
    path = root / relative
    # a name is a place inside the library, never a way out of it
    if ".." in Path(relative).parts or Path(relative).is_absolute() or not path.is_file():
        raise ScenarioError(f"no scenario named {name!r} in the library; it has "
                            f"{', '.join(bundled_scenarios())}")
    return path


def resolve(source) -> Path:
    """Where a scenario named by a user is: the file itself if it exists, else the library
    scenario of that name (`quickstart`), else the path as given (whose loading then says
    there is no such file)."""
    path = Path(source)
    if path.exists() or path.is_absolute():
        return path
    try:
        return scenario_path(str(source))
    except (ScenarioError, LibraryMissing):
        return path


__all__ = ["LibraryMissing", "bundled_scenarios", "library_dir", "resolve", "scenario_path"]
