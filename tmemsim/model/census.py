"""The double-caching census, kept up to date as pages move instead of scanned at every sample.

A page is double cached when a guest's page cache holds it and hypervisor memory holds a copy
too. For a policy whose census is by location (`census_mode = "location"`: it holds a guest
page exactly when it holds the page's location), the guests report the locations of the file
pages entering and leaving their caches (Guest.census_update) and the policy reports the
locations entering and leaving its memory (pool_added, pool_removed); each guest's count
then changes by one at each such step, and a sample reads it. Under `check: true` every
sample compares the counts with the scan they replace (model/invariants.py).
"""

from __future__ import annotations


class Census:
    """Per guest, how many of its cached file pages the policy holds too."""

    __slots__ = ("counts", "cachers", "pooled")

    def __init__(self, guests: int):
        self.counts = [0] * guests
        # location -> the guests whose cache holds the page there, as a bit mask (bit g: guest
        # g): one int per cached location, most often a single bit
        self.cachers: dict = {}
        self.pooled: set = set()  # locations the policy holds

    def moved(self, guest: int, loc: int | None, out: int | None) -> None:
        """Guest's cache now holds the page at loc (if not None) and no longer the page at out
        (if not None): a miss's insert and its victim in one call."""
        cachers, pooled = self.cachers, self.pooled
        if loc is not None:
            cachers[loc] = cachers.get(loc, 0) | 1 << guest
            if loc in pooled:
                self.counts[guest] += 1
        if out is not None:
            left = cachers.pop(out) & ~(1 << guest)
            if left:
                cachers[out] = left
            if out in pooled:
                self.counts[guest] -= 1

    def entered(self, guest: int, loc: int) -> None:
        """Guest's cache now holds the page at loc."""
        self.moved(guest, loc, None)

    def left(self, guest: int, loc: int) -> None:
        """Guest's cache no longer holds the page at loc."""
        self.moved(guest, None, loc)

    def pool_added(self, loc: int) -> None:
        """The policy now holds the page at loc (it did not)."""
        self.pooled.add(loc)
        mask = self.cachers.get(loc)
        if mask:
            self._count(mask, 1)

    def pool_removed(self, loc: int) -> None:
        """The policy no longer holds the page at loc (it did)."""
        self.pooled.discard(loc)
        mask = self.cachers.get(loc)
        if mask:
            self._count(mask, -1)

    def pool_moved(self, loc: int, out: int) -> None:
        """The policy now holds the page at loc and no longer the one at out (an insert and
        its victim, in one call; loc == out: a cache of no room refused it)."""
        pooled, cachers, counts = self.pooled, self.cachers, self.counts
        pooled.add(loc)
        mask = cachers.get(loc)
        if mask:  # most often one guest's page: its bit, without a call
            if mask & (mask - 1):
                self._count(mask, 1)
            else:
                counts[mask.bit_length() - 1] += 1
        pooled.discard(out)
        mask = cachers.get(out)
        if mask:
            if mask & (mask - 1):
                self._count(mask, -1)
            else:
                counts[mask.bit_length() - 1] -= 1

    def _count(self, mask: int, delta: int) -> None:
        counts = self.counts
        while mask:
            low = mask & -mask
            counts[low.bit_length() - 1] += delta
            mask ^= low
