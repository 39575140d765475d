"""What a verification check is (Check) and what it finds (Measurement), and the table's columns.

Plain data: a family module declares its checks with a measure function of its own, the
registry (registry.py) gathers them, run.py runs them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tmemsim.library import scenario_path
from tmemsim.scenario import load_scenario

COLUMNS = ["family", "check", "expected", "simulated", "error", "tolerance", "passed",
           "seconds", "note"]


@dataclass(frozen=True)
class Measurement:
    """What one check (or one row of a check that yields several) found.

    `passed` is left None to be decided from |error| <= tolerance; a measurement that checks
    several invariants at once sets it. `skipped` gives the reason a row could not run.
    """

    expected: float
    simulated: float
    note: str = ""
    suffix: str = ""
    passed: bool | None = None
    skipped: str | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class Check:
    """A named check: its family, scenario, how to measure it and what it must achieve.

    measure(check, quick) returns a Measurement, or a list of them (one row each; their
    `suffix` completes the name). `tolerance` is absolute, or relative to the expected value
    when `relative`. `quick_params` replace `params` in the quick set (shorter runs).
    `adjust` transforms the expected value before the comparison: a hook for tests that must
    see a wrong expectation fail.
    """

    family: str
    point: str
    scenario: str  # a library scenario: its path below scenarios/ (tmemsim.library)
    measure: Callable[[Check, bool], Measurement | list[Measurement]]
    tolerance: float
    quick: bool = False
    relative: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)
    quick_params: Mapping[str, Any] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    adjust: Callable[[float], float] | None = None

    @property
    def name(self) -> str:
        """"family/point"."""
        return f"{self.family}/{self.point}"

    def settings(self, quick: bool) -> dict:
        """The parameters of this run: params, with quick_params over them in the quick set."""
        return {**self.params, **(self.quick_params if quick else {})}

    def load(self, overrides: Iterable[str] = ()):
        """The check's scenario, with dotted overrides applied."""
        return load_scenario(scenario_path(self.scenario), list(overrides))
