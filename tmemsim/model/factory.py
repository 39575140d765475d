"""A hypervisor and its policy without a World: for testing a policy, or the hypervisor's
paths and costs, alone.

The layout is tiny and plain: n guests, each with a private disk image (and, if asked, a swap
area) on one shared disk of the given kind; every guest's counters; a pool of `pool_pages`.
Nothing runs on SimPy: the caller says when each call happens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import TypeAdapter

from ..images import PAGE_BITS, Contents, Layout
from ..policies import POLICIES
from ..policies.base import Host
from ..scenario import Costs, Disk
from .costs import CostModel
from .disk import make_disk
from .hypervisor import Hypervisor
from .metrics import GuestCounters

DISK_NAME = "disk0"


@dataclass
class HostBench:
    """What build_host made: the hypervisor and everything it was given."""

    hypervisor: Hypervisor
    policy: object
    costs: CostModel
    disk: object
    layout: Layout
    contents: Contents
    counters: list  # GuestCounters per guest
    policy_counters: list  # the policy's Counters per guest
    files: list  # per guest: its image file id
    swap_files: list  # per guest: its swap file id, or None

    def loc(self, guest: int, vpage: int) -> int:
        """The location of page vpage of the guest's image."""
        return self.files[guest] << PAGE_BITS | vpage

    def swap_loc(self, guest: int, apage: int) -> int:
        """The location of the guest's swap slot for anonymous page apage."""
        return self.swap_files[guest] << PAGE_BITS | apage


def build_host(policy: str = "none", options: dict | None = None, *, guests: int = 1,
               disk: dict | None = None, guest_pages: int = 1024, swap_pages: int = 0,
               pool_pages: int = 64, costs: dict | None = None, seed: int = 0) -> HostBench:
    """A hypervisor running `policy` (a registry name, with its options as a scenario writes
    them) over `guests` private images of guest_pages pages on one disk (a scenario's disk
    mapping, default nvme), with a pool of pool_pages and the scenario's costs (overrides
    in `costs`)."""
    cls = POLICIES[policy]
    layout = Layout()
    names = [f"g{i}" for i in range(guests)]
    files = [layout.add(f"{n}.img", DISK_NAME, guest_pages, owner=i).id
             for i, n in enumerate(names)]
    swaps = [layout.add(f"{n}.swap", DISK_NAME, swap_pages, owner=i).id if swap_pages else None
             for i, n in enumerate(names)]
    spec = TypeAdapter(Disk).validate_python(disk or {"kind": "nvme"})
    device = make_disk(DISK_NAME, spec, np.random.default_rng(seed),
                       layout.disk_pages[DISK_NAME])
    contents = Contents(layout)

    counters = [GuestCounters() for _ in names]
    policy_counters = [cls.Counters() for _ in names]
    host = Host(pool_pages, {}, contents, names, layout, policy_counters)
    instance = cls(cls.Options.model_validate(options or {}), host)
    for i in range(guests):
        instance.set_allowance(i, pool_pages)
    cost_model = CostModel(Costs.model_validate(costs or {}))
    hv = Hypervisor(instance, cost_model, {DISK_NAME: device}, layout, counters)
    return HostBench(hv, instance, cost_model, device, layout, contents, counters,
                     policy_counters, files, swaps)
