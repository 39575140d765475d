"""`tmemsim.curve`: the one-pass curves of a scenario given as a notebook or the command line
gives it (a path, a dict or a Scenario, with overrides), for its policies or the named ones.

It lives here, above the api layer it uses (loading a scenario, choosing its policies), so
that tmemsim.api never imports the analysis above it."""

from __future__ import annotations

from ...api import as_scenario
from ...scenario import select_policies
from .curve import curve as policies_curve
from .result import Curves


def curve(scenario, axis: str = "pool", points: int = 32, value_range=None,
          sample: float | None = None, policies=None, check_points: int = 0, overrides=None,
          command: str = "", progress=None) -> Curves:
    """Hit-ratio curves of the scenario's policies (or the named ones) at `points` sizes along
    `axis` ("pool", "split" or "guest-memory"), in one pass over the requests.

    value_range: "16MiB:1GiB" or (low, high) bytes; sample: keep that fraction of the pages
    (SHARDS); check_points: also run that many full simulations at spread points (their
    numbers are the table's source "simulated"). See tmemsim.analysis.curves.
    """
    s = as_scenario(scenario, overrides)
    return policies_curve(s, select_policies(s, policies), axis=axis, points=points,
                          value_range=value_range, sample=sample, check_points=check_points,
                          command=command, progress=progress)
