"""The hypervisor policy protocol, the outcomes it speaks in, and what a policy is given.

A policy is a plain state machine: it says *what happens* to a guest's miss, write-back, clean
eviction or truncate; the model (`model/hypervisor.py`) decides *when* and charges the costs.
"""

from __future__ import annotations

from ..caches import CACHES
from ..fields import Strict
from ..metrics import PolicyCounters

# Where a guest page-cache miss is served, and so which costs apply (model/costs.py).
READ_HOST_IO = 0  # hypervisor memory through the I/O path: virtio + page copy
READ_HOST_CALL = 1  # hypervisor memory through a hypercall: hypercall + page copy
READ_DISK = 2  # the disk: virtio + device
READ_DISK_AFTER_CALL = 3  # a hypercall that missed, then the disk: hypercall + virtio + device
HOST_READS = (READ_HOST_IO, READ_HOST_CALL)

# How a write-back from the guest completes.
WRITE_DISK = 0  # on the disk (O_DIRECT, writethrough, dedup storage)
WRITE_ABSORBED = 1  # in host memory (writeback host cache): virtio + page copy

# What became of a clean page the guest evicted.
IGNORED = 0  # the policy was not told (transparent policies)
PUT_ACCEPTED = 1
PUT_REJECTED = 2


class Host:
    """What a policy may know of the host: its pool size, the disks' contents, the guests."""

    def __init__(self, pool_pages: int, store: dict, contents, guests: list[str],
                 layout, counters: list[PolicyCounters]):
        self.pool_pages = pool_pages
        self.store = store  # location -> data that reached the disk (absent: original bytes)
        self.contents = contents
        self.guests = guests
        self.layout = layout
        self.counters = counters


class Policy:
    """The protocol. `none` implements it most plainly; read it first."""

    name = "policy"
    distinct_is_cheap = True  # distinct_contents() fast enough to sample every interval
    tick_interval = None  # seconds between tick() calls, None if the policy needs none

    class Options(Strict):
        pass

    @classmethod
    def check_scenario(cls, options, guest_names: list[str]) -> tuple[str, str] | None:
        """(option key, message) if the options do not fit the scenario's guests, else None."""
        return None

    @classmethod
    def per_pool_page(cls, options) -> tuple[str, ...]:
        """The containers one page of the pool sits in (scenario/sizing.py prices them)."""
        return CACHES[options.cache].PER_PAGE

    def __init__(self, options, host: Host):
        self.options = options
        self.host = host
        self.store = host.store
        self.counters = host.counters
        # host-side write-backs the model must put on the disks: list of locations
        self.pending_writes: list[int] = []

    def read(self, guest: int, vpage: int, loc: int) -> tuple[int, int]:
        """A guest page-cache miss: (READ_* outcome, data returned)."""
        raise NotImplementedError

    def write(self, guest: int, vpage: int, loc: int, data: int) -> int:
        """A write-back (or O_SYNC write) from the guest: WRITE_DISK or WRITE_ABSORBED."""
        raise NotImplementedError

    def evicted(self, guest: int, vpage: int, loc: int, data: int) -> int:
        """A clean page left the guest's page cache: IGNORED, PUT_ACCEPTED or PUT_REJECTED."""
        return IGNORED

    def invalidate(self, guest: int, pages: list[tuple[int, int]]) -> int:
        """The guest dropped these pages' contents (truncate, or a write without a read first):
        (vpage, location) of each. Returns the number of hypercalls the guest made (0 if the
        policy is transparent and the guest says nothing)."""
        return 0

    # ------------------------------------------------------------ swap (anonymous memory)

    def swap_read(self, guest: int, loc: int) -> tuple[int, int]:
        """A swap-in that frontswap did not hold: read the swap slot at loc like any block.

        Transparent policies see swap I/O as ordinary disk I/O (a host cache caches it too)."""
        return self.read(guest, -1, loc)

    def frontswap_store(self, guest: int, apage: int, data: int) -> bool:
        """Offer a swapped-out page to a persistent pool; False sends it to the swap disk."""
        return False

    def frontswap_load(self, guest: int, apage: int):
        """The data of a page frontswap holds (the get must succeed), or None."""
        return None

    def frontswap_free(self, guest: int, apage: int) -> None:
        """The guest freed the page's swap slot."""

    def persistent_pages(self, guest: int) -> int:
        """Persistent (frontswap) pages held for this guest: charged to its memory."""
        return 0

    def set_allowance(self, guest: int, pages: int) -> None:
        """Persistent pages this guest may hold (max_memory − memory, in pages)."""

    # ------------------------------------------------------------ memory balancing

    def resize(self, pool_pages: int) -> int:
        """The hypervisor pool is to become pool_pages; returns the size actually reached
        (a pool may not shrink below what it cannot evict)."""
        self.host.pool_pages = pool_pages
        return pool_pages

    def tick(self, now: float) -> None:
        """Periodic host work (expiry of dirty host pages); may fill pending_writes."""

    def holds(self, guest: int, vpage: int, loc: int) -> bool:
        """Is this guest page present in hypervisor memory (for double-caching counts)?"""
        return False

    def double_cached(self, guest: int, vpages: list, locs: list) -> int:
        """How many of the guest's cached pages (vpages, their locations) this policy holds."""
        holds = self.holds
        return sum(1 for vp, loc in zip(vpages, locs, strict=True) if holds(guest, vp, loc))

    def holds_private(self, guest: int, vpage: int) -> bool:
        """Is this page in the guest's own pool (one it must never share with its cache)?"""
        return False

    def used_pages(self) -> int:
        return 0

    def guest_pages(self, guest: int) -> int:
        """Pages of hypervisor memory held on behalf of this guest."""
        return 0

    def distinct_contents(self) -> int:
        return 0

    def check(self) -> None:
        """Raise AssertionError if a cheap invariant is broken (capacity): after every action."""

    def check_deep(self) -> None:
        """Raise AssertionError if an invariant that costs a pass over the pool is broken."""
