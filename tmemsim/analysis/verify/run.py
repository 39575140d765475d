"""Selecting and running checks into one table, and saving it (verify.csv and the figures)."""

from __future__ import annotations

import fnmatch
import functools
import json
import math
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from tmemsim.errors import OptionError, check_jobs
from tmemsim.infra.atomic import Staged, marked, stage
from tmemsim.infra.parallel import run_many
from tmemsim.library import LibraryMissing, library_dir

from . import harness
from .checks import COLUMNS, Check, Measurement
from .registry import CHECKS


def select(quick: bool = True, only: Iterable[str] | None = None,
           checks: Mapping[str, Check] | None = None) -> list[Check]:
    """The checks to run, in registry order: the quick set or all of CHECKS, or those `only`
    names (check names, family names or shell patterns such as "queue/mm1-*"). A registry
    passed as `checks` is run whole unless `only` narrows it."""
    if only is None and checks is not None:
        return list(checks.values())  # the caller's own checks are all wanted
    registry = CHECKS if checks is None else checks
    if only is None:
        return [c for c in registry.values() if c.quick or not quick]
    wanted = [only] if isinstance(only, str) else list(only)
    chosen = [c for c in registry.values()
              if any(w in (c.name, c.family) or fnmatch.fnmatchcase(c.name, w) for w in wanted)]
    unknown = [w for w in wanted if not any(
        w in (c.name, c.family) or fnmatch.fnmatchcase(c.name, w) for c in registry.values())]
    if unknown:
        raise OptionError(f"no check matches {', '.join(unknown)}; families are "
                          f"{', '.join(sorted({c.family for c in registry.values()}))}")
    return chosen


def run_checks(quick: bool = True, only: list[str] | None = None, progress=None, *,
               checks: Mapping[str, Check] | None = None, jobs: int = 1) -> pd.DataFrame:
    """Run the quick set (or every check) and return one row per check.

    Columns: family, check, expected, simulated, error (simulated - expected; relative to
    expected for relative checks), tolerance, passed (True / False, None when skipped),
    seconds, note. `only` picks checks by name, family or pattern (see `select`); `quick`
    then still chooses the shorter runs. progress(done, total) is called after each check.
    `checks` replaces the registry and is run whole unless `only` narrows it (tests and the
    notebook run altered checks this way; `quick` then only picks the shorter runs).
    `jobs` > 1 runs checks in that many processes (each check is seeded by its scenario, so
    the table is the same); checks must then be picklable (no lambdas). LibraryMissing, before
    anything runs, when a selected check's scenario is not installed.
    """
    check_jobs(jobs)
    selected = select(quick, only, checks)
    _require_scenarios(selected)
    found = run_many(functools.partial(_execute, quick=quick), selected, jobs, progress)
    rows = []
    for check, (measurements, seconds) in zip(selected, found, strict=True):
        for m in measurements:
            share = m.seconds if m.seconds is not None else seconds / len(measurements)
            rows.append(_row(check, m, share))
    return pd.DataFrame(rows, columns=COLUMNS)


def _execute(check: Check, quick: bool) -> tuple[list[Measurement], float]:
    """Run one check: its measurements (a crash is a failed one) and its wall seconds."""
    t0 = time.perf_counter()
    missing = [m for m in check.requires if not harness.installed(m)]
    if missing:
        found = [Measurement(math.nan, math.nan, skipped=f"{missing[0]} not installed")]
    else:
        try:
            found = check.measure(check, quick)
        except Exception as exc:  # a crash is a failed check, with its reason
            found = Measurement(math.nan, math.nan, f"{type(exc).__name__}: {exc}",
                                passed=False)
    return (found if isinstance(found, list) else [found]), time.perf_counter() - t0


def _row(check: Check, m: Measurement, seconds: float) -> dict:
    name = f"{check.name}:{m.suffix}" if m.suffix else check.name
    expected = m.expected
    if check.adjust is not None and not math.isnan(expected):
        expected = check.adjust(expected)
    if m.skipped is not None:
        error, passed, note = math.nan, None, m.skipped
    else:
        diff = m.simulated - expected
        error = diff / expected if check.relative and expected else diff
        passed = m.passed
        if passed is None:
            passed = bool(abs(error) <= check.tolerance)  # NaN compares False: a failure
        note = m.note
    return dict(family=check.family, check=name, expected=expected, simulated=m.simulated,
                error=error, tolerance=check.tolerance, passed=passed, seconds=seconds,
                note=note)


def _require_scenarios(checks: Iterable[Check]) -> None:
    """LibraryMissing, naming the files, unless every check's scenario is installed: a check
    without its scenario would only fail with NaN values."""
    root = library_dir()
    missing = sorted({c.scenario for c in checks if not (root / c.scenario).is_file()})
    if missing:
        raise LibraryMissing(f"the scenario library in {root} lacks {', '.join(missing)}; "
                             f"reinstall tmemsim")


def save(table: pd.DataFrame, out_dir, checks: Mapping[str, Check] | None = None, *,
         force: bool = False) -> list[Path]:
    """Write verify.csv, meta.json and one PNG per family (simulated against theory) into
    out_dir, a directory of its own built whole and renamed into place (infra.atomic): an
    existing one is replaced only with force, and only if tmemsim wrote it or it is empty.

    out_dir may be a target staged by infra.atomic.stage() (the CLI stages it before running).
    `checks` is the registry the table was run with, if not CHECKS (figures read the checks'
    parameters: cache sizes, loads). The figures are drawn by tmemsim.presentation, imported
    only here: running checks never loads matplotlib."""
    from tmemsim.presentation.verify_figures import figures

    staged = out_dir if isinstance(out_dir, Staged) else stage(out_dir, force=force)
    with staged:
        build = staged.build
        (build / "meta.json").write_text(json.dumps(marked({}, "verify")) + "\n")
        table.to_csv(build / "verify.csv", index=False)
        names = ["meta.json", "verify.csv"]
        for family, fig in figures(table, checks).items():
            fig.savefig(build / f"verify-{family}.png", dpi=110, bbox_inches="tight")
            names.append(f"verify-{family}.png")
        out = staged.commit()
    return [out / name for name in names]
