"""`host-exclusive`: a transparent, exclusive host cache filled by eviction inference.

The hypervisor infers that a guest evicted a clean page when the guest reuses the page frame
for another page (Geiger: Jones, Arpaci-Dusseau & Arpaci-Dusseau, ASPLOS 2006) and copies the
evicted contents into its own cache before the frame is overwritten (the hypervisor exclusive
cache of Lu & Shen, USENIX ATC 2007). No guest changes and no hypercalls: every guest read still
goes over virtio, and a hit costs virtio plus a page copy. Keyed by location, like the disk
I/O the host sees; a hit removes the page (exclusive), but for a CoW base block read by another
clone than the one that evicted it (`shared_base`).

Simplifications (README): an inference happens when the replacing page arrives, which is when
tmemsim's guest evicts; which clean evictions are missed (`inference.accuracy` < 1) is drawn by a
hash of (seed, guest, page, the guest's eviction serial), independent and identically likely,
never from a shared random stream; the host sees a guest's write only when it reaches the disk,
so until then it may keep the older copy of a page the guest has rewritten in its own cache
(never served: the guest holds the newer one until its write-back drops the copy).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..caches import MISSING, CacheSpec, make_cache
from ..fields import DurationOrZero, Fraction, Strict
from ..images import PAGE_BITS
from .base import (
    IGNORED,
    PUT_ACCEPTED,
    PUT_REJECTED,
    READ_DISK,
    READ_HOST_IO,
    WRITE_DISK,
    Policy,
    PolicyCounters,
)
from .groups import CacheObservation

_MASK = (1 << 64) - 1
# The default inference cost: one trap into the hypervisor when the guest rewrites a page
# table entry of a write-protected page-table page (how Geiger learns that a frame is reused):
# a VM exit and return, about 2,000-2,500 cycles (the `hypercall` cost, 1 µs; Adams & Agesen,
# ASPLOS 2006, report round trips of a few thousand cycles on the first VT-x processors), plus
# decoding and emulating the faulting write and updating the frame's bookkeeping, about as
# much again. So 2 µs: an estimate of that order, not a measurement of Geiger's code
# (docs/model.md, "Costs"). The copy of the evicted page is charged apart (page_copy).
INFERENCE_COST = 2e-6


def detected(seed: int, guest: int, vpage: int, serial: int, threshold: int) -> bool:
    """Is this eviction inferred? A 64-bit mix (splitmix64's finaliser) of who, what and the
    guest's eviction serial, below `threshold` = accuracy x 2^64: deterministic, the same in
    any policy order or engine, and independent between evictions."""
    x = (seed * 0x9E3779B97F4A7C15 + guest * 0xD1B54A32D192ED03
         + vpage * 0xAEF17502108EF2D9 + serial) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return (x ^ (x >> 31)) < threshold


class Inference(Strict):
    """How the hypervisor learns of clean evictions."""

    accuracy: Fraction = 1.0  # fraction of clean evictions detected; missed ones are lost
    cost: DurationOrZero = INFERENCE_COST  # the trap per clean eviction, detected or not
    seed: int = Field(0, ge=0)  # which evictions are missed (with accuracy < 1)


class HostExclusive(CacheObservation, Policy):
    """Entries come only from inferred evictions (never from disk reads); a hit removes the
    page. A CoW clone's unwritten base block is one location for every clone: by default
    (`shared_base: keep`) a hit by a clone other than the one whose eviction cached it leaves
    the page cached (refreshed) for the others, as tmem's shared pool does; `exclusive` removes
    it like any other. Keep is the default because exclusivity is owed to the guest that
    evicted the page, and the hypervisor, which keeps the CoW chain, knows the block is shared:
    on scenarios/cow-clones.yaml it cuts disk reads by 36% (README, docs/model.md). One guest
    only ever hits its own evictions, so there both are exclusive."""

    name = "host-exclusive"
    observes_evictions = True  # by inference: the guest says nothing
    guest_hypercalls = False
    holds_guest_pages = True  # shared base pages kept, and copies the guest has rewritten
    distinct_is_cheap = False
    examples = [{}, {"inference": {"accuracy": 0.7, "seed": 3}},
                {"shared_base": "exclusive", "inference": {"cost": 0}}, {"cache": "fifo"}]

    class Counters(PolicyCounters):
        __slots__ = ("inferred_entries", "inferences_missed", "exclusive_evictions",
                     "exclusive_invalidations")

    class Options(Strict):
        inference: Inference = Field(default_factory=Inference)
        shared_base: Literal["keep", "exclusive"] = "keep"
        cache: CacheSpec = Field("lru", validate_default=True)

    @classmethod
    def per_pool_page(cls, options):
        return super().per_pool_page(options) + ("pair",)  # location -> (data, guest)

    def __init__(self, options, host):
        super().__init__(options, host)
        self.cache = make_cache(options.cache, host.pool_pages)
        inference = options.inference
        self.threshold = min(int(inference.accuracy * (1 << 64)), 1 << 64)
        self.every = inference.accuracy >= 1.0
        self.seed = inference.seed
        self.keep = options.shared_base == "keep"
        self._base = [f.owner is None for f in host.layout.files]
        self.serial = [0] * len(host.guests)  # clean evictions each guest made
        self.held = [0] * len(host.guests)  # pages whose entry this guest's eviction made

    def eviction_costs(self, costs):
        trap = self.options.inference.cost
        # an entered page was copied out of the frame; a missed or refused one was not
        return {IGNORED: 0.0, PUT_ACCEPTED: trap + costs.page_copy, PUT_REJECTED: trap}

    def read(self, guest, vpage, loc):
        cache = self.cache
        entry = cache.find(loc, MISSING)
        if entry is MISSING:
            return READ_DISK, self.store.get(loc, 0)
        if self.keep and entry[1] != guest and self._base[loc >> PAGE_BITS]:
            cache.get(loc)  # another clone's base page: it stays for the others
        else:
            cache.remove(loc)
            self.held[entry[1]] -= 1
        return READ_HOST_IO, entry[0]

    def write(self, guest, vpage, loc, data):
        # the host sees the write on virtio: a copy it holds of that location is now old
        entry = self.cache.remove(loc)
        if entry is not None:
            self.held[entry[1]] -= 1
            self.counters[guest].exclusive_invalidations += 1
        self.store[loc] = data
        return WRITE_DISK

    def evicted(self, guest, vpage, loc, data):
        """A clean eviction (a dirty page reaches here after its write-back): inferred or
        missed; an inferred page enters, pushing out the least recently entered."""
        c = self.counters[guest]
        if not self.every:
            serial = self.serial[guest] = self.serial[guest] + 1
            if not detected(self.seed, guest, vpage, serial, self.threshold):
                c.inferences_missed += 1
                return PUT_REJECTED
        cache = self.cache
        old = cache.remove(loc)  # another clone's copy of the same base block: same bytes
        if old is not None:
            self.held[old[1]] -= 1
        victim = cache.insert(loc, (data, guest))
        if victim is not None:
            if victim[0] == loc:  # a pool of no pages takes nothing
                return PUT_REJECTED
            self.held[victim[1][1]] -= 1
            self.counters[victim[1][1]].exclusive_evictions += 1
        self.held[guest] += 1
        c.inferred_entries += 1
        return PUT_ACCEPTED

    def resize(self, pool_pages):
        for _loc, (_data, owner) in self.cache.resize(pool_pages):
            self.held[owner] -= 1
            self.counters[owner].exclusive_evictions += 1
        self.host.pool_pages = pool_pages
        return pool_pages

    # ------------------------------------------------------------ observation

    def guest_pages(self, guest):
        return self.held[guest]

    def distinct_contents(self):
        content = self.host.contents.content
        return len({content(loc, data) for loc, (data, _) in self.cache.items()})

    def check(self):
        assert len(self.cache) <= self.host.pool_pages, "host-exclusive cache over the pool"

    def check_deep(self):
        assert sum(self.held) == len(self.cache), "per-guest accounting"
        assert all(self.store.get(loc, 0) == data for loc, (data, _) in self.cache.items()), \
            "a cached page differs from its location on disk"
