"""The policy contract: a small core, declared capabilities, and the outcomes it speaks in.

A policy is a plain state machine: it says *what happens* to a guest's miss, write-back, clean
eviction or truncate; the model (`model/hypervisor.py`) decides *when* and charges the costs.
The core is `read`, `write`, `evicted`, `invalidate`; the optional groups (swap, balancing,
observation; `groups.py`) have defaults. What the model must know of a policy it reads from
declared class attributes, never from the policy's name or from which methods it overrides:

- `observes_evictions`: the hypervisor learns of every clean eviction (tmem by puts; a
  host-exclusive cache by inference). Only then does the guest call `evicted`.
- `guest_hypercalls`: the guest talks to the host by hypercalls (puts, gets, flushes), so a
  swap-out that frontswap refuses still paid for one.
- `holds_guest_pages`: the pool can hold copies of guest pages (the double-caching census
  asks `double_cached` only then).
- `frontswap` (swap group), `tick_interval` (balancing), `distinct_is_cheap` (observation).

Each policy also declares `Options` (pydantic), `Counters` (its own counters: summary.csv
collects them from the registry) and `examples` (option sets the registry-driven tests run).
"""

from __future__ import annotations

from ..caches import cache_class
from ..counters import Counters
from ..fields import Strict
from .groups import BalancingGroup, ObservationGroup, SwapGroup

# Where a guest page-cache miss is served, and so which costs apply (model/costs.py).
READ_HOST_IO = 0  # hypervisor memory through the I/O path: virtio + page copy
READ_HOST_CALL = 1  # hypervisor memory through a hypercall: hypercall + page copy
READ_DISK = 2  # the disk: virtio + device
READ_DISK_AFTER_CALL = 3  # a hypercall that missed, then the disk: hypercall + virtio + device
HOST_READS = (READ_HOST_IO, READ_HOST_CALL)

# How a write-back from the guest completes.
WRITE_DISK = 0  # on the disk (O_DIRECT, writethrough, dedup storage)
WRITE_ABSORBED = 1  # in host memory (writeback host cache): virtio + page copy

# What became of a clean page the guest evicted; each policy prices its own outcomes
# (Policy.eviction_costs), so a new outcome needs no change to the model.
IGNORED = 0  # nothing the guest pays for (the policy was not told, or learnt it for free)
PUT_ACCEPTED = 1
PUT_REJECTED = 2


class Host:
    """What a policy may know of the host: its pool size, the disks' contents, the guests."""

    def __init__(self, pool_pages: int, store: dict, contents, guests: list[str],
                 layout, counters: list):
        self.pool_pages = pool_pages
        self.store = store  # location -> data that reached the disk (absent: original bytes)
        self.contents = contents
        self.guests = guests
        self.layout = layout
        self.counters = counters  # one of the policy's Counters per guest


class PolicyCounters(Counters):
    """A policy that counts nothing of its own."""

    __slots__ = ()


class Policy(SwapGroup, BalancingGroup, ObservationGroup):
    """The core contract. `none` implements it most plainly; read it first."""

    name = "policy"
    observes_evictions = False
    guest_hypercalls = False
    holds_guest_pages = False
    Counters = PolicyCounters
    examples: list[dict] = [{}]

    class Options(Strict):
        pass

    @classmethod
    def check_scenario(cls, options, guest_names: list[str]) -> tuple[str, str] | None:
        """(option key, message) if the options do not fit the scenario's guests, else None."""
        return None

    @classmethod
    def per_pool_page(cls, options) -> tuple[str, ...]:
        """The containers one page of the pool sits in (scenario/sizing.py prices them)."""
        return cache_class(options.cache).PER_PAGE

    def __init__(self, options, host: Host):
        self.options = options
        self.host = host
        self.store = host.store
        self.counters = host.counters
        # host-side write-backs the model must put on the disks: list of locations
        self.pending_writes: list[int] = []
        # host-side readahead the model must put on the disks: (first location, pages) runs;
        # a run that starts at a read's location carries that read (policies/readahead.py)
        self.read_runs: list[tuple[int, int]] = []
        # location read ahead -> when it arrives in host memory (the model fills it)
        self.arriving: dict[int, float] = {}

    def eviction_costs(self, costs) -> dict[int, float]:
        """CPU seconds the guest spends on each outcome `evicted` can return, priced from the
        model's CostModel (and the policy's options, if an outcome has a cost of its own)."""
        return {IGNORED: 0.0}

    def read_costs(self, costs) -> list[float]:
        """CPU seconds of each READ_* path for this policy: the model's (costs.read), unless
        the policy's hits cost more (a compressed pool decompresses)."""
        return costs.read

    def read(self, guest: int, vpage: int, loc: int) -> tuple[int, int]:
        """A guest page-cache miss: (READ_* outcome, data returned)."""
        raise NotImplementedError

    def write(self, guest: int, vpage: int, loc: int, data: int) -> int:
        """A write-back (or O_SYNC write) from the guest: WRITE_DISK or WRITE_ABSORBED."""
        raise NotImplementedError

    def evicted(self, guest: int, vpage: int, loc: int, data: int) -> int:
        """A clean page left the guest's page cache (called only if observes_evictions): an
        outcome the policy prices in eviction_costs (IGNORED, PUT_ACCEPTED, PUT_REJECTED)."""
        return IGNORED

    def fixed_put_outcome(self, guest: int) -> int | None:
        """The outcome `evicted` will return for any clean page of this guest at any later time,
        whatever the other guests do before it, provided no persistent page is stored and the
        pool is not resized meanwhile (the model asks only then); None (the default) if it may
        depend on them. A promise lets a put wait for its turn without waking the guest
        (model/hypervisor.py); a broken promise raises there."""
        return None

    def invalidate(self, guest: int, pages: list[tuple[int, int]]) -> int:
        """The guest dropped these pages' contents (truncate, or a write without a read first):
        (vpage, location) of each. Returns the number of hypercalls the guest made (0 if the
        policy is transparent and the guest says nothing)."""
        return 0
