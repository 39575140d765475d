"""The YAML scenario: pydantic models by block, loading with located errors, and overrides.

`load_scenario` is the one door in: whatever is wrong with a file comes out as a ScenarioError
naming the file, the YAML path (`guests[1].memory`) and its line.

The names below load on first use (PEP 562), so that `tmemsim.scenario.yamlmap` (what the
command line reads a file with before anything else) does not import the models.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "Balloon": "guests", "Guest": "guests", "GuestDiskSpec": "guests", "Image": "guests",
    "Workload": "guests",
    "Costs": "host", "CustomDisk": "host", "Disk": "host", "HddDisk": "host", "Host": "host",
    "NvmeDisk": "host", "SsdDisk": "host",
    "apply_override": "loading", "load_scenario": "loading", "resolved_yaml": "loading",
    "select_policies": "loading",
    "PolicySpec": "policies",
    "Scenario": "scenario",
    "SweepBlock": "blocks", "RegressBlock": "blocks",
}


def __getattr__(name: str):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value  # once found, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])


__all__ = sorted(_HOMES)
