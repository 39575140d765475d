"""A guest's part in counting double caching: where its pages are, and the census it keeps.

A mixin of Guest (model/guest.py). A page is double cached when the guest's page cache holds it
and hypervisor memory holds a copy too; a guest reports its pages' locations as they enter and
leave its cache if the policy's census is by location (model/census.py), else a sample scans.
"""

from __future__ import annotations


class DoubleCaching:
    """The double-cached count of one guest: kept as pages move, or scanned."""

    def double_cached(self) -> int:
        """Pages in this guest's cache that hypervisor memory holds too: counted as pages move
        if the policy's census is by location (model/census.py), else scanned."""
        policy = self.hv.policy
        if not policy.holds_guest_pages or policy.census_mode == "none":
            return 0
        if self.census is not None:
            return self.census.counts[self.index]
        return self.double_cached_scan()

    def double_cached_scan(self) -> int:
        """double_cached() by a pass over the cached pages (policy.double_cached)."""
        policy = self.hv.policy
        versions, own, base, cow = self.versions, self.own_loc, self.base_loc, self.cow
        vpages = [vp for vp in self.cache.keys() if vp >= 0]
        locs = [(base if cow and vp not in versions else own) | vp for vp in vpages]
        return policy.double_cached(self.index, vpages, locs)

    def location_of(self, vpage: int) -> int:
        """Where the file page vpage is read from now: its CoW base block until written."""
        return (self.base_loc if self.cow and vpage not in self.versions else self.own_loc) | vpage

    def census_update(self, vpage: int | None, victim) -> None:
        """For the census: file page vpage (if not None) entered the cache, and `victim` (what
        an insert or a resize gave up: (key, value), or None) left it. Anonymous pages (keys
        below 0) are no file's and never counted."""
        loc = self.location_of(vpage) if vpage is not None and vpage >= 0 else None
        out = self.location_of(victim[0]) if victim is not None and victim[0] >= 0 else None
        self.census.moved(self.index, loc, out)

    def census_rewritten(self, vpage: int) -> None:
        """For the census: the cached CoW page vpage was written for the first time, so it is
        now its overlay's block, no longer the base's."""
        if self.cow:
            self.census.left(self.index, self.base_loc | vpage)
            self.census.entered(self.index, self.own_loc | vpage)
