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
        self.cachers: dict = {}  # location -> guests whose cache holds the page there
        self.pooled: set = set()  # locations the policy holds

    def entered(self, guest: int, loc: int) -> None:
        """Guest's cache now holds the page at loc."""
        guests = self.cachers.get(loc)
        if guests is None:
            self.cachers[loc] = {guest}
        else:
            guests.add(guest)
        if loc in self.pooled:
            self.counts[guest] += 1

    def left(self, guest: int, loc: int) -> None:
        """Guest's cache no longer holds the page at loc."""
        guests = self.cachers[loc]
        guests.discard(guest)
        if not guests:
            del self.cachers[loc]
        if loc in self.pooled:
            self.counts[guest] -= 1

    def pool_added(self, loc: int) -> None:
        """The policy now holds the page at loc (it did not)."""
        self.pooled.add(loc)
        counts = self.counts
        for guest in self.cachers.get(loc, ()):
            counts[guest] += 1

    def pool_removed(self, loc: int) -> None:
        """The policy no longer holds the page at loc (it did)."""
        self.pooled.discard(loc)
        counts = self.counts
        for guest in self.cachers.get(loc, ()):
            counts[guest] -= 1
