"""Hit-rate regression: re-run scenarios and diff what moved against a baseline CSV.

The simulator is deterministic, so by default counts must match exactly and ratios to 1e-9. A
scenario's `regress:` block holds the shorter settings (dotted overrides) that keep CI quick,
and may say which policies and metrics to check, with what tolerance and how many replications
(tmemsim.analysis.regress_settings; the comparison itself is tmemsim.analysis.tolerance).

Which scenarios: without `scenarios`, the baseline's, from the folder `scenarios/` (what this
repository's CI runs); with it (a folder or a glob), every scenario it matches, each named by
its file's stem, and the baseline's rows of other scenarios are left alone.
"""

from __future__ import annotations

import glob
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..api import compare
from ..errors import ScenarioError
from ..infra.atomic import write_atomic
from ..scenario import load_scenario
from ..scenario.yamlmap import line_of, load_yaml
from .regress_settings import COUNTS, RATIOS, RegressSettings, parse_settings
from .tolerance import judge

KEYS = ["scenario", "policy", "guest"]
RATIOS = list(RATIOS)
COUNTS = list(COUNTS)
TOLERANCE = 1e-9
REPLICATION = "replication"  # a baseline column only when some scenario has replications
ABSENT = ("missing now", "not in baseline")


def _numeric_columns() -> set[str]:
    from ..results import EXTRA_COLUMNS, SUMMARY_COLUMNS

    return set(SUMMARY_COLUMNS + EXTRA_COLUMNS) - {"policy", "guest"}


def settings_of(path: Path) -> RegressSettings:
    """The regress settings of a scenario file; a bad block is a ScenarioError naming the file,
    the YAML path and its line."""
    path = Path(path)
    scenario = load_scenario(path)
    _, lines = load_yaml(path.read_text(encoding="utf-8"), str(path))

    def err(message: str, where: str) -> ScenarioError:
        steps = tuple(int(s) if s.isdigit() else s for s in where.split("."))
        return ScenarioError(message, file=str(path), path=where, line=line_of(lines, steps))

    return parse_settings(scenario.regress, _numeric_columns(), err)


def regress_overrides(path: Path) -> list[str]:
    """The overrides of a scenario's `regress:` block (empty if it has none)."""
    return list(settings_of(path).overrides)


def current_rows(path: Path, jobs: int | None = None,
                 settings: RegressSettings | None = None) -> pd.DataFrame:
    """The checked columns of one scenario's comparison, run with its regress settings (one
    block of rows per replication, with a `replication` column when there are several)."""
    from ..sweep import replication_seed

    settings = settings or settings_of(path)
    s = load_scenario(path, list(settings.overrides))
    frames = []
    for r in range(settings.replications):
        run = s if r == 0 else load_scenario(s, [f"seed={replication_seed(s.seed, r)}"])
        summary = compare(run, policies=settings.policies, jobs=jobs).summary
        rows = summary[["policy", "guest", *settings.metrics]].copy()
        rows.insert(0, "scenario", Path(path).stem)
        if settings.replications > 1:
            rows.insert(3, REPLICATION, r)
        frames.append(rows)
    return pd.concat(frames, ignore_index=True)


def _values(rows: pd.DataFrame, metric: str) -> list[float]:
    if metric not in rows.columns:
        return [float("nan")]
    return [float(v) for v in rows[metric]]


def checks(baseline: pd.DataFrame, current: pd.DataFrame,
           settings: dict[str, RegressSettings] | None = None) -> pd.DataFrame:
    """One row per compared value: scenario, policy, guest, metric, baseline, now (means),
    baseline_text, now_text (intervals with replications), tolerance (text), moved; a row
    that vanished or appeared is one row with metric "missing now" / "not in baseline"."""
    settings = settings or {}
    out = []
    old_groups = {k: g for k, g in baseline.groupby(KEYS, sort=False)}
    new_groups = {k: g for k, g in current.groupby(KEYS, sort=False)}
    for key in sorted(set(old_groups) | set(new_groups)):
        st = settings.get(key[0], RegressSettings())
        if key not in new_groups or key not in old_groups:
            what = ABSENT[0] if key not in new_groups else ABSENT[1]
            out.append((*key, what, float("nan"), float("nan"), "", "", "", True))
            continue
        for m in st.metrics:
            v = judge(_values(old_groups[key], m), _values(new_groups[key], m), st.tolerance(m),
                      m in RATIOS or m.endswith("_ratio"), st.confidence)
            out.append((*key, m, v.old.mean, v.new.mean, v.old.describe(), v.new.describe(),
                        v.tolerance, v.moved))
    return pd.DataFrame(out, columns=KEYS + ["metric", "baseline", "now", "baseline_text",
                                             "now_text", "tolerance", "moved"])


def moved_rows(table: pd.DataFrame) -> pd.DataFrame:
    """What moved, as `tmemsim regress` has always shown it."""
    return table[table["moved"]][KEYS + ["metric", "baseline", "now"]].reset_index(drop=True)


def diff(baseline: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """One row per tracked value that moved (or a row that appeared or vanished), exact."""
    return moved_rows(checks(baseline, current))


def find_scenarios(pattern) -> dict[str, Path]:
    """The scenarios a folder (its *.yaml) or a glob matches, by stem; a ScenarioError when
    none does or two share a name."""
    folder = Path(pattern)
    if folder.is_dir():
        files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    else:
        files = sorted(Path(f) for f in glob.glob(str(pattern), recursive=True)
                       if f.endswith((".yaml", ".yml")) and Path(f).is_file())
    if not files:
        raise ScenarioError(f"no scenario file (*.yaml) matches {pattern}")
    found: dict[str, Path] = {}
    for f in files:
        if f.stem in found:
            raise ScenarioError(f"two scenarios are named {f.stem!r}: {found[f.stem]} and {f}; "
                                f"the baseline tells scenarios apart by name")
        found[f.stem] = f
    return found


@dataclass
class Outcome:
    """A regression run: the new rows, every check, and each scenario's wall seconds."""

    current: pd.DataFrame
    checks: pd.DataFrame
    seconds: dict

    @property
    def moved(self) -> pd.DataFrame:
        return moved_rows(self.checks)


def _read_baseline(path: Path, update: bool) -> pd.DataFrame:
    if path.exists():
        return pd.read_csv(path)
    if update:
        return pd.DataFrame(columns=KEYS + RATIOS + COUNTS)
    raise ScenarioError("no baseline; run `tmemsim regress --update` to make one", file=str(path))


def _selected(baseline: pd.DataFrame, baseline_path: Path, scenarios, only) -> dict[str, Path]:
    if scenarios is None:  # the baseline's scenarios, from scenarios/ (this repository's CI)
        folder = Path("scenarios")
        names = list(only) if only else list(dict.fromkeys(baseline["scenario"]))
        paths = {name: folder / f"{name}.yaml" for name in names}
        for name, path in paths.items():
            if not path.exists():
                raise ScenarioError(f"scenario {name!r} of the baseline is not in {folder}",
                                    file=str(baseline_path))
        return paths
    found = find_scenarios(scenarios)
    if only:
        unknown = [n for n in only if n not in found]
        if unknown:
            raise ScenarioError(f"no scenario {', '.join(map(repr, unknown))} in {scenarios}")
        found = {n: found[n] for n in only}
    return found


def _columns(frame: pd.DataFrame) -> list[str]:
    """The baseline's columns: the keys, a replication column if any, the tracked metrics,
    then any other metric a scenario checks."""
    first = [c for c in KEYS + [REPLICATION] + RATIOS + COUNTS if c in frame.columns]
    return first + [c for c in frame.columns if c not in first]


def run(baseline_path, scenarios=None, only=None, update: bool = False,
        jobs: int | None = None, progress=None, tolerances=None) -> Outcome:
    """Run the scenarios (see the module) and check them against the baseline.

    tolerances: the command line's, {metric or "*": Tolerance}, over the blocks'. Every
    scenario's settings are read before anything runs, so a bad block fails at once.
    update=True rewrites the baseline rows of the scenarios run (atomically).
    """
    baseline_path = Path(baseline_path)
    baseline = _read_baseline(baseline_path, update)
    paths = _selected(baseline, baseline_path, scenarios, only)
    settings = {name: settings_of(path).with_command_line(tolerances or {})
                for name, path in paths.items()}
    frames, seconds = [], {}
    for i, (name, path) in enumerate(paths.items()):
        start = time.perf_counter()
        frames.append(current_rows(path, jobs, settings[name]))
        seconds[name] = time.perf_counter() - start
        if progress:
            progress(i + 1, len(paths))
    current = pd.concat(frames, ignore_index=True)
    old = baseline[baseline["scenario"].isin(list(paths))].reset_index(drop=True)
    outcome = Outcome(current, checks(old, current, settings), seconds)
    if update:
        kept = baseline[~baseline["scenario"].isin(list(paths))]
        new = pd.concat([kept, current], ignore_index=True) if len(kept) else current
        if REPLICATION in new.columns:
            new[REPLICATION] = new[REPLICATION].fillna(0).astype(int)
        write_atomic(baseline_path, lambda p: new[_columns(new)].to_csv(
            p, index=False, float_format="%.17g"))
    return outcome


def regress(baseline_path, scenario_dir=None, only=None, update=False,
            jobs: int | None = None, progress=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """run() as (current rows, what moved); scenario_dir as run()'s `scenarios`."""
    outcome = run(baseline_path, scenario_dir, only=only, update=update, jobs=jobs,
                  progress=progress)
    return outcome.current, outcome.moved
