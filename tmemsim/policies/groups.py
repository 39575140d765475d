"""The optional parts of the policy contract, each a group of verbs with defaults.

A policy inherits every group through `Policy` and overrides only what it does:
- `SwapGroup`: anonymous memory that leaves a guest (frontswap, swap I/O);
- `BalancingGroup`: memory moving between the guests and the pool, and periodic host work;
- `ObservationGroup`: what the model samples and checks (the policy's census and invariants);
  `CacheObservation` answers its page questions for a policy whose memory is one cache of
  block locations (host-cache, host-exclusive).
The defaults are those of a policy that holds nothing: `none` overrides none of them.
"""

from __future__ import annotations


class SwapGroup:
    """Swap: a transparent policy sees swap I/O as ordinary disk I/O (a host cache caches it
    too); a policy with `frontswap` may take swapped-out pages into a persistent pool."""

    frontswap = False  # frontswap_store may take a page (else it always refuses)

    def swap_read(self, guest: int, loc: int) -> tuple[int, int]:
        """A swap-in that frontswap did not hold: read the swap slot at loc like any block."""
        return self.read(guest, -1, loc)

    def frontswap_store(self, guest: int, apage: int, data: int) -> bool:
        """Offer a swapped-out page to a persistent pool; False sends it to the swap disk."""
        return False

    def frontswap_load(self, guest: int, apage: int):
        """The data of a page frontswap holds (the get must succeed), or None."""
        return None

    def frontswap_free(self, guest: int, apage: int) -> None:
        """The guest freed the page's swap slot."""


class BalancingGroup:
    """Memory balancing and the host's periodic work."""

    tick_interval = None  # seconds between tick() calls, None if the policy needs none

    def resize(self, pool_pages: int) -> int:
        """The hypervisor pool is to become pool_pages; returns the size actually reached
        (a pool may not shrink below what it cannot evict)."""
        self.host.pool_pages = pool_pages
        return pool_pages

    def tick(self, now: float) -> None:
        """Periodic host work (expiry of dirty host pages); may fill pending_writes."""

    def persistent_pages(self, guest: int) -> int:
        """Persistent (frontswap) pages held for this guest: charged to its memory."""
        return 0

    def set_allowance(self, guest: int, pages: int) -> None:
        """Persistent pages this guest may hold (max_memory − memory, in pages)."""


class ObservationGroup:
    """What the model reads of the pool to sample it and to check it."""

    distinct_is_cheap = True  # distinct_contents() fast enough to sample every interval
    # How the model counts a guest's double-cached pages (docs/architecture.md, "The census"):
    # - "scan": at every sample, double_cached() over the guest's cached pages (the default);
    # - "location": the policy holds a guest page exactly when it holds the page's location,
    #   and it reports every location entering or leaving its memory to `census`
    #   (pool_added, pool_removed); the model keeps the counts as pages move, scanning nothing;
    # - "none": the policy never holds a page a guest caches: the count is 0, unscanned.
    # Under `check: true` every sample compares the count with double_cached()'s scan.
    census_mode = "scan"
    census = None  # under "location": the model's Census (model/census.py), from attach_census

    def attach_census(self, census) -> None:
        """The model's census, given before the first request (the pool is empty then)."""
        self.census = census

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

    def stored_pages(self) -> int | None:
        """Guest pages stored, when the pool packs several into one of its pages (compression);
        None when every stored page is a pool page (used_pages says both)."""
        return None

    def check(self) -> None:
        """Raise AssertionError if a cheap invariant is broken (capacity): after every action."""

    def check_deep(self) -> None:
        """Raise AssertionError if an invariant that costs a pass over the pool is broken."""


class CacheObservation:
    """ObservationGroup's page questions for a policy whose memory is one cache keyed by block
    location (`self.cache`): a guest page is held exactly when its location is. Listed before
    `Policy` among the bases, so that these answers win."""

    def holds(self, guest, vpage, loc):
        return loc in self.cache

    def double_cached(self, guest, vpages, locs):
        return sum(map(self.cache.__contains__, locs))

    def used_pages(self):
        return len(self.cache)
