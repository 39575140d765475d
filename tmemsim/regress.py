"""Hit-rate regression: re-run the scenarios of results/baseline.csv and diff what moved.

The simulator is deterministic, so counts must match exactly and ratios to 1e-9; a scenario's
`regress:` block holds the shorter settings (dotted overrides) that keep CI quick.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .api import compare
from .errors import ScenarioError
from .infra import dotted
from .infra.atomic import write_atomic
from .scenario import load_scenario

KEYS = ["scenario", "policy", "guest"]
RATIOS = ["guest_hit_ratio", "host_hit_ratio", "read_hit_ratio"]
COUNTS = ["disk_reads", "double_cached_pages"]
TOLERANCE = 1e-9


def regress_overrides(path: Path) -> list[str]:
    """The overrides of a scenario's `regress:` block (empty if it has none)."""
    block = load_scenario(path).regress or {}
    return [f"{k}={v}" for k, v in dotted.flatten(block).items()]


def current_rows(path: Path, jobs: int | None = None) -> pd.DataFrame:
    """The tracked columns of one scenario's comparison, run with its regress settings."""
    s = load_scenario(path, regress_overrides(path))
    summary = compare(s, jobs=jobs).summary
    rows = summary[["policy", "guest"] + RATIOS + COUNTS].copy()
    rows.insert(0, "scenario", path.stem)
    return rows


def diff(baseline: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """One row per tracked value that moved (or a row that appeared or vanished)."""
    merged = baseline.merge(current, on=KEYS, how="outer", suffixes=("_baseline", "_now"),
                            indicator=True)
    moved = []
    for r in merged.to_dict("records"):
        if r["_merge"] != "both":
            what = "missing now" if r["_merge"] == "left_only" else "not in baseline"
            moved.append({**{k: r[k] for k in KEYS}, "metric": what, "baseline": np.nan,
                          "now": np.nan})
            continue
        for m in RATIOS + COUNTS:
            a, b = r[f"{m}_baseline"], r[f"{m}_now"]
            same = abs(a - b) <= TOLERANCE if m in RATIOS else a == b
            if not same:
                moved.append({**{k: r[k] for k in KEYS}, "metric": m, "baseline": a, "now": b})
    return pd.DataFrame(moved, columns=KEYS + ["metric", "baseline", "now"])


def regress(baseline_path, scenario_dir="scenarios", only=None, update=False,
            jobs: int | None = None, progress=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the baseline's scenarios (or `only`); returns (current rows, what moved).

    update=True rewrites the baseline rows of the scenarios run (and adds `only` ones).
    """
    baseline_path, scenario_dir = Path(baseline_path), Path(scenario_dir)
    if baseline_path.exists():
        baseline = pd.read_csv(baseline_path)
    elif update:
        baseline = pd.DataFrame(columns=KEYS + RATIOS + COUNTS)
    else:
        raise ScenarioError("no baseline; run `tmemsim regress --update` to make one",
                            file=str(baseline_path))
    names = list(only) if only else list(dict.fromkeys(baseline["scenario"]))
    frames = []
    for i, name in enumerate(names):
        path = scenario_dir / f"{name}.yaml"
        if not path.exists():
            raise ScenarioError(f"scenario {name!r} of the baseline is not in {scenario_dir}",
                                file=str(baseline_path))
        frames.append(current_rows(path, jobs))
        if progress:
            progress(i + 1, len(names))
    current = pd.concat(frames, ignore_index=True)
    old = baseline[baseline["scenario"].isin(names)]
    moved = diff(old.reset_index(drop=True), current)
    if update:
        kept = baseline[~baseline["scenario"].isin(names)]
        new = pd.concat([kept, current], ignore_index=True) if len(kept) else current
        write_atomic(baseline_path, lambda tmp: new.to_csv(tmp, index=False, float_format="%.17g"))
    return current, moved
