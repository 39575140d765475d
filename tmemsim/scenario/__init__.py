"""The YAML scenario: pydantic models by block, loading with located errors, and overrides.

`load_scenario` is the one door in: whatever is wrong with a file comes out as a ScenarioError
naming the file, the YAML path (`guests[1].memory`) and its line.
"""

from __future__ import annotations

from .guests import Balloon, Guest, GuestDiskSpec, Image, Workload
from .host import Costs, CustomDisk, Disk, HddDisk, Host, NvmeDisk, SsdDisk
from .loading import apply_override, load_scenario, resolved_yaml, select_policies
from .policies import PolicySpec
from .scenario import Scenario

__all__ = ["Balloon", "Costs", "CustomDisk", "Disk", "Guest", "GuestDiskSpec", "HddDisk", "Host",
           "Image", "NvmeDisk", "PolicySpec", "Scenario", "SsdDisk", "Workload", "apply_override",
           "load_scenario", "resolved_yaml", "select_policies"]
