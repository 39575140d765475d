"""Verification: the simulator against closed forms, a peer simulator and its own invariants.

Every check runs a scenario (scenarios/verify/, or for `conservation` the library scenarios of
scenarios/) and compares one simulated number with an expectation obtained without the model:
a formula of `tmemsim.analysis.theory`, libCacheSim replaying the same requests, or arithmetic
on the scenario itself. `run_checks` returns the table, `save` writes it with one figure per
family (drawn by tmemsim.presentation.verify_figures).

Families (a check's name is "family/point"), a module each, each contributing its checks to
the registry (registry.py): irm, peer, exclusive, queue, sharing, conservation, engine,
curve (see
their docstrings). checks.py holds the Check and Measurement types, harness.py what the
families share (running the model, the request sequence a run served, the peer caches),
run.py the selecting and running.

The expectations never use a simulated number other than the measured arrival rate (queue)
and the request sequence the simulator drew (peer, exclusive). Scenario files are the
library's (`tmemsim.library`), found wherever tmemsim is installed; without them `run_checks`
says so (LibraryMissing) instead of failing every check.
"""

from .checks import COLUMNS, Check, Measurement
from .registry import CHECKS, FAMILIES
from .run import run_checks, save, select

__all__ = ["CHECKS", "COLUMNS", "FAMILIES", "Check", "Measurement", "run_checks", "save",
           "select"]
