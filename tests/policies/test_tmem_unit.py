"""The hypervisor policies as plain state machines: put, get, flush, write, evict, one call at a
time, on worlds built from tiny scenarios (no simulation is run)."""

from __future__ import annotations

import pytest

import tmemsim
from tmemsim.api import select_policies
from tmemsim.model import World
from tmemsim.policies.base import (
    IGNORED,
    PUT_ACCEPTED,
    PUT_REJECTED,
    READ_DISK,
    READ_DISK_AFTER_CALL,
    READ_HOST_CALL,
    READ_HOST_IO,
    WRITE_ABSORBED,
    WRITE_DISK,
)

PAGE = 4096
A, B = 0, 1  # guest indexes


def make_world(policy, *, clone="cow", pool_pages=4, guests=("a", "b")) -> World:
    """Guests of 4 pages cloning a 64-page base image, and a pool of pool_pages pages."""
    data = {
        "seed": 0,
        "requests": 10,
        "host": {"memory": (4 * len(guests) + pool_pages) * PAGE},
        "disks": {"d": {"kind": "ssd"}},
        "images": {"base": {"size": 64 * PAGE}},
        "policies": [policy],
        "guests": [{"name": g, "memory": 4 * PAGE, "disk": {"image": "base", "clone": clone},
                    "workload": {"kind": "script", "steps": ["r 0"]}} for g in guests],
    }
    s = tmemsim.load_scenario(data)
    return World(s, select_policies(s)[0])


def loc(world, guest, vpage, written=False):
    return world.guests[guest].gdisk.location(vpage, written)


def write(world, guest, vpage, pooled=False):
    """A new version of the guest's vpage, as the guest would make it: (location, data)."""
    data = world.contents.new_write(guest, vpage, pooled)
    return loc(world, guest, vpage, True), data


def tmem(clone="cow", pool_pages=4, **options):
    return make_world({"kind": "tmem", "keep_free": 0, **options}, clone=clone,
                      pool_pages=pool_pages)


# ---------------------------------------------------------------- tmem: put / get / flush


def test_get_hit_is_exclusive():
    w = tmem()
    tm = w.policy
    assert tm.evicted(A, 3, loc(w, A, 3), 0) == PUT_ACCEPTED
    assert tm.holds(A, 3, loc(w, A, 3)) and tm.used_pages() == 1 and tm.guest_pages(A) == 1
    assert tm.read(A, 3, loc(w, A, 3)) == (READ_HOST_CALL, 0)
    assert tm.used_pages() == 0 and not tm.holds(A, 3, loc(w, A, 3))
    assert tm.read(A, 3, loc(w, A, 3))[0] == READ_DISK_AFTER_CALL  # the second get misses
    c = w.policy_counters[A]
    assert (c.tmem_puts, c.tmem_gets, c.tmem_get_hits) == (1, 2, 1)


def test_private_pools_are_per_guest():
    w = tmem()
    tm = w.policy
    tm.evicted(A, 3, loc(w, A, 3), 0)
    assert tm.read(B, 3, loc(w, B, 3))[0] == READ_DISK_AFTER_CALL  # b's own key: absent
    assert tm.read(A, 3, loc(w, A, 3))[0] == READ_HOST_CALL


def test_get_miss_returns_what_is_on_disk():
    w = tmem()
    where, data = write(w, A, 7)
    w.store[where] = data
    assert w.policy.read(A, 7, where) == (READ_DISK_AFTER_CALL, data)


@pytest.mark.parametrize("dedup", [False, True])
def test_overwrite_put_replaces_the_old_copy(dedup):
    w = tmem(dedup=dedup)
    tm = w.policy
    where, first = write(w, A, 5)
    _, second = write(w, A, 5)
    assert tm.evicted(A, 5, where, first) == PUT_ACCEPTED
    assert tm.evicted(A, 5, where, second) == PUT_ACCEPTED
    assert tm.used_pages() == 1 and tm.distinct_contents() == 1 and tm.guest_pages(A) == 1
    assert tm.read(A, 5, where) == (READ_HOST_CALL, second)
    tm.check_deep()


def test_put_into_a_pool_of_no_pages_is_rejected():
    """keep_free larger than the pool: capacity 0, nothing is ever stored."""
    w = make_world("tmem", pool_pages=16)  # keeps 1 MiB free of a 64 KiB pool
    tm = w.policy
    assert tm.evicted(A, 3, loc(w, A, 3), 0) == PUT_REJECTED
    assert tm.used_pages() == 0 and not tm.holds(A, 3, loc(w, A, 3))
    assert tm.read(A, 3, loc(w, A, 3))[0] == READ_DISK_AFTER_CALL
    assert w.policy_counters[A].tmem_puts_rejected == 1


@pytest.mark.parametrize("dedup", [False, True])
def test_rejected_put_leaves_no_old_copy(dedup):
    """A put that cannot be stored must not leave the previous version of its key readable."""
    w = tmem(dedup=dedup)
    tm = w.policy
    where, old = write(w, A, 5)
    assert tm.evicted(A, 5, where, old) == PUT_ACCEPTED
    new = write(w, A, 5)[1]
    w.store[where] = new  # written back before its put, as the guest does
    tm.capacity = 0  # the pool has no room left for anyone (memory given to a guest)
    assert tm.evicted(A, 5, where, new) == PUT_REJECTED
    assert not tm.holds(A, 5, where)
    assert tm.read(A, 5, where) == (READ_DISK_AFTER_CALL, new)
    assert w.policy_counters[A].tmem_puts_rejected == 1


def test_put_rejected_when_persistent_pages_fill_the_pool():
    """Frontswap pages are never evicted for an ephemeral put: a full pool refuses it."""
    w = tmem(pool_pages=2)
    tm = w.policy
    tm.set_allowance(A, 2)
    assert tm.frontswap_store(A, 0, 11) and tm.frontswap_store(A, 1, 12)
    assert tm.evicted(B, 3, loc(w, B, 3), 0) == PUT_REJECTED
    assert tm.read(B, 3, loc(w, B, 3))[0] == READ_DISK_AFTER_CALL
    assert tm.frontswap_load(A, 0) == 11 and tm.frontswap_load(A, 0) == 11  # loads keep it
    tm.check()


def test_flush_drops_the_guests_copies_only():
    w = tmem()
    tm = w.policy
    for g in (A, B):
        tm.evicted(g, 3, loc(w, g, 3), 0)
        tm.evicted(g, 4, loc(w, g, 4), 0)
    assert tm.invalidate(A, [(3, loc(w, A, 3)), (4, loc(w, A, 4))]) == 1  # one hypercall
    assert w.policy_counters[A].tmem_flushes == 1
    assert tm.read(A, 3, loc(w, A, 3))[0] == READ_DISK_AFTER_CALL
    assert tm.read(A, 4, loc(w, A, 4))[0] == READ_DISK_AFTER_CALL
    assert tm.read(B, 3, loc(w, B, 3))[0] == READ_HOST_CALL
    assert tm.guest_pages(A) == 0 and tm.guest_pages(B) == 1


@pytest.mark.parametrize("options", [{}, {"pool": "shared"}, {"dedup": True}])
def test_truncate_then_read_never_returns_the_put_copy(options):
    """Put the original bytes, truncate (flush), rewrite: a read gets the new bytes from disk."""
    w = tmem(**options)
    tm = w.policy
    assert tm.evicted(A, 9, loc(w, A, 9), 0) == PUT_ACCEPTED
    tm.invalidate(A, [(9, loc(w, A, 9))])
    where, new = write(w, A, 9)
    assert tm.write(A, 9, where, new) == WRITE_DISK  # tmem is not in the write path
    assert tm.read(A, 9, where) == (READ_DISK_AFTER_CALL, new)


# ---------------------------------------------------------------- tmem: the shared pool


def test_shared_pool_gets_are_non_destructive_and_shared_by_clones():
    w = tmem(pool="shared")
    tm = w.policy
    base = loc(w, A, 3)
    assert base == loc(w, B, 3)  # an unwritten CoW page: one location for every clone
    assert tm.evicted(A, 3, base, 0) == PUT_ACCEPTED
    assert tm.guest_pages(A) == 0 and tm.used_pages() == 1  # not charged to a private pool
    assert tm.read(A, 3, base) == (READ_HOST_CALL, 0)
    assert tm.read(A, 3, base) == (READ_HOST_CALL, 0)  # still there
    assert tm.read(B, 3, base) == (READ_HOST_CALL, 0)  # and for the other clone
    assert tm.holds(A, 3, base) and tm.holds(B, 3, base)
    # a flush by one clone does not take the base page from the others
    tm.invalidate(A, [(3, base)])
    assert tm.read(B, 3, base)[0] == READ_HOST_CALL
    tm.check_deep()


def test_shared_pool_keeps_written_pages_private():
    w = tmem(pool="shared")
    tm = w.policy
    where, data = write(w, A, 3)
    assert tm.evicted(A, 3, where, data) == PUT_ACCEPTED
    assert tm.guest_pages(A) == 1
    assert tm.read(B, 3, loc(w, B, 3, True))[0] == READ_DISK_AFTER_CALL
    assert tm.read(B, 3, loc(w, B, 3))[0] == READ_DISK_AFTER_CALL  # not the base page either
    assert tm.read(A, 3, where) == (READ_HOST_CALL, data)
    assert tm.read(A, 3, where)[0] == READ_DISK_AFTER_CALL  # private: exclusive


def test_shared_pool_does_not_share_copy_clones():
    w = tmem(clone="copy", pool="shared")
    tm = w.policy
    assert loc(w, A, 3) != loc(w, B, 3)
    tm.evicted(A, 3, loc(w, A, 3), 0)
    assert tm.read(B, 3, loc(w, B, 3))[0] == READ_DISK_AFTER_CALL


def test_shared_get_refreshes_the_page():
    w = tmem(pool="shared", pool_pages=2)
    tm = w.policy
    tm.evicted(A, 1, loc(w, A, 1), 0)
    tm.evicted(A, 2, loc(w, A, 2), 0)
    assert tm.read(B, 1, loc(w, B, 1))[0] == READ_HOST_CALL  # 1 becomes the youngest
    tm.evicted(A, 3, loc(w, A, 3), 0)  # evicts the oldest: 2
    assert tm.holds(A, 1, loc(w, A, 1)) and not tm.holds(A, 2, loc(w, A, 2))


# ---------------------------------------------------------------- tmem: eviction and weights


def test_eviction_is_oldest_put_first_across_guests():
    w = tmem(pool_pages=3)
    tm = w.policy
    tm.evicted(A, 1, loc(w, A, 1), 0)
    tm.evicted(B, 1, loc(w, B, 1), 0)
    tm.evicted(A, 2, loc(w, A, 2), 0)
    assert tm.evicted(B, 2, loc(w, B, 2), 0) == PUT_ACCEPTED  # a's page 1 goes
    assert not tm.holds(A, 1, loc(w, A, 1))
    assert [w.policy_counters[g].tmem_evictions for g in (A, B)] == [1, 0]
    tm.evicted(A, 3, loc(w, A, 3), 0)  # then b's page 1
    assert not tm.holds(B, 1, loc(w, B, 1)) and tm.holds(A, 2, loc(w, A, 2))
    assert [w.policy_counters[g].tmem_evictions for g in (A, B)] == [1, 1]
    assert tm.used_pages() == 3
    tm.check()


def _fill(w, puts):
    for g, vpage in puts:
        assert w.policy.evicted(g, vpage, loc(w, g, vpage), 0) == PUT_ACCEPTED


def test_without_weights_the_global_oldest_goes():
    w = tmem()
    _fill(w, [(B, 0), (A, 1), (A, 2), (A, 3)])
    w.policy.evicted(A, 4, loc(w, A, 4), 0)
    assert not w.policy.holds(B, 0, loc(w, B, 0))


def test_a_putter_over_its_share_loses_its_own_oldest_page():
    w = tmem(weights={"a": 1, "b": 1})
    tm = w.policy
    _fill(w, [(B, 0), (A, 1), (A, 2), (A, 3)])  # a holds 3 of 4 pages, its share is 2
    tm.evicted(A, 4, loc(w, A, 4), 0)
    assert tm.holds(B, 0, loc(w, B, 0))  # b's older page survives
    assert not tm.holds(A, 1, loc(w, A, 1))
    assert (tm.guest_pages(A), tm.guest_pages(B)) == (3, 1)
    assert [w.policy_counters[g].tmem_evictions for g in (A, B)] == [1, 0]


def test_a_guest_over_its_weighted_share_loses_pages_to_others_puts():
    w = tmem(weights={"a": 3, "b": 1})  # shares: a 3 pages, b 1
    tm = w.policy
    _fill(w, [(B, 0), (B, 1), (B, 2), (A, 0)])
    tm.evicted(A, 1, loc(w, A, 1), 0)  # b is over its share: its oldest goes
    assert not tm.holds(B, 0, loc(w, B, 0)) and tm.holds(A, 0, loc(w, A, 0))
    tm.evicted(A, 2, loc(w, A, 2), 0)
    assert not tm.holds(B, 1, loc(w, B, 1))
    assert (tm.guest_pages(A), tm.guest_pages(B)) == (3, 1)
    assert w.policy_counters[B].tmem_evictions == 2 and w.policy_counters[A].tmem_evictions == 0


@pytest.mark.parametrize("putter", [
    pytest.param(A, id="putter-first"),
    pytest.param(B, id="putter-second"),
])
def test_with_nobody_over_its_share_the_global_oldest_goes(putter):
    """Each guest exactly at its weighted share: no one is over, so the oldest put of the global
    list goes, whichever guest puts (the same rule as without weights)."""
    other = B if putter == A else A
    weights = {"a": 1, "b": 3} if putter == A else {"a": 3, "b": 1}  # the putter's share: 1
    w = tmem(weights=weights)
    tm = w.policy
    _fill(w, [(other, 0), (putter, 0), (other, 1), (other, 2)])
    assert tm.guest_pages(putter) == 1 and tm.guest_pages(other) == 3
    tm.evicted(putter, 1, loc(w, putter, 1), 0)
    assert not tm.holds(other, 0, loc(w, other, 0))  # the global oldest
    assert tm.holds(putter, 0, loc(w, putter, 0))


# ---------------------------------------------------------------- tmem: dedup


@pytest.mark.parametrize("clone", ["cow", "copy"])
def test_dedup_stores_identical_pages_once(clone):
    w = tmem(clone=clone, pool_pages=1, dedup=True)
    tm = w.policy
    assert tm.evicted(A, 3, loc(w, A, 3), 0) == PUT_ACCEPTED
    assert tm.evicted(B, 3, loc(w, B, 3), 0) == PUT_ACCEPTED  # same bytes: no room needed
    assert tm.used_pages() == 1 and tm.distinct_contents() == 1
    assert w.policy_counters[A].tmem_evictions == 0
    assert tm.read(A, 3, loc(w, A, 3)) == (READ_HOST_CALL, 0)  # exclusive for a ...
    assert tm.used_pages() == 1  # ... b still holds the physical page
    assert tm.read(B, 3, loc(w, B, 3)) == (READ_HOST_CALL, 0)
    assert tm.used_pages() == 0
    tm.check_deep()


def test_dedup_evicts_until_a_physical_page_is_free():
    w = tmem(pool_pages=1, dedup=True)
    tm = w.policy
    tm.evicted(A, 3, loc(w, A, 3), 0)
    tm.evicted(B, 3, loc(w, B, 3), 0)
    assert tm.evicted(A, 4, loc(w, A, 4), 0) == PUT_ACCEPTED  # both sharers of page 3 go
    assert not tm.holds(A, 3, loc(w, A, 3)) and not tm.holds(B, 3, loc(w, B, 3))
    assert tm.used_pages() == 1
    assert [w.policy_counters[g].tmem_evictions for g in (A, B)] == [1, 1]
    tm.check_deep()


# ---------------------------------------------------------------- host-cache


def host(pool_pages=4, clone="cow", **options):
    return make_world({"kind": "host-cache", **options}, clone=clone, pool_pages=pool_pages)


def test_host_cache_fills_on_read_and_learns_nothing_of_the_guest():
    w = host()
    hc = w.policy
    assert not hc.observes_evictions  # the guest never calls it on a clean eviction
    assert hc.read(A, 3, loc(w, A, 3)) == (READ_DISK, 0)
    assert hc.read(A, 3, loc(w, A, 3)) == (READ_HOST_IO, 0)  # inclusive: stays on a hit
    assert hc.read(A, 3, loc(w, A, 3)) == (READ_HOST_IO, 0)
    assert hc.evicted(A, 3, loc(w, A, 3), 0) == IGNORED
    assert hc.invalidate(A, [(3, loc(w, A, 3))]) == 0  # no hypercall, nothing dropped
    assert hc.holds(A, 3, loc(w, A, 3)) and hc.used_pages() == 1


def test_host_cache_shares_cow_base_pages_not_copies():
    w = host()
    assert w.policy.read(A, 3, loc(w, A, 3))[0] == READ_DISK
    assert w.policy.read(B, 3, loc(w, B, 3))[0] == READ_HOST_IO
    assert w.policy.guest_pages(A) == w.policy.guest_pages(B) == 0  # base pages: no owner
    w = host(clone="copy")
    assert w.policy.read(A, 3, loc(w, A, 3))[0] == READ_DISK
    assert w.policy.read(B, 3, loc(w, B, 3))[0] == READ_DISK
    assert w.policy.guest_pages(A) == w.policy.guest_pages(B) == 1


def test_host_cache_is_bounded_by_its_pool_lru():
    w = host(pool_pages=2)
    hc = w.policy
    for vpage in (1, 2, 1, 3):  # 1 refreshed, so 2 goes
        hc.read(A, vpage, loc(w, A, vpage))
    assert hc.used_pages() == 2
    assert hc.holds(A, 1, loc(w, A, 1)) and not hc.holds(A, 2, loc(w, A, 2))
    hc.check()
    hc.check_deep()


def test_writethrough_updates_disk_and_cached_copy():
    w = host()
    hc = w.policy
    hc.read(A, 3, loc(w, A, 3, True))
    where, data = write(w, A, 3)
    assert hc.write(A, 3, where, data) == WRITE_DISK
    assert w.store[where] == data
    assert hc.read(A, 3, where) == (READ_HOST_IO, data)
    assert hc.pending_writes == []


def test_writeback_absorbs_and_flushes_after_expiry():
    w = host(mode="writeback", dirty_expire="30s", writeback_interval="5s")
    hc = w.policy
    assert hc.tick_interval == 5.0
    hc.tick(1.0)
    where, data = write(w, A, 3)
    assert hc.write(A, 3, where, data) == WRITE_ABSORBED
    assert where not in w.store  # not on disk yet
    assert hc.read(A, 3, where) == (READ_HOST_IO, data)  # but readable from host memory
    hc.tick(30.0)
    assert hc.pending_writes == [] and where not in w.store
    hc.tick(31.0)
    assert hc.pending_writes == [where] and w.store[where] == data
    hc.pending_writes.clear()
    hc.tick(62.0)
    assert hc.pending_writes == []  # clean now: written once
    hc.check_deep()


def test_writeback_flushes_a_dirty_page_before_evicting_it():
    w = host(pool_pages=1, mode="writeback")
    hc = w.policy
    where, data = write(w, A, 3)
    assert hc.write(A, 3, where, data) == WRITE_ABSORBED
    assert hc.read(A, 4, loc(w, A, 4)) == (READ_DISK, 0)  # evicts the dirty page 3
    assert hc.pending_writes == [where] and w.store[where] == data
    assert hc.read(A, 3, where) == (READ_DISK, data)


def test_writeback_with_no_pool_writes_through():
    w = host(pool_pages=0, mode="writeback")
    where, data = write(w, A, 3)
    assert w.policy.write(A, 3, where, data) == WRITE_DISK
    assert w.store[where] == data and w.policy.used_pages() == 0


# ---------------------------------------------------------------- dedup and none


def test_dedup_is_keyed_by_content():
    w = make_world("dedup", clone="copy")
    d = w.policy
    assert loc(w, A, 3) != loc(w, B, 3)
    assert d.read(A, 3, loc(w, A, 3)) == (READ_DISK, 0)
    assert d.read(B, 3, loc(w, B, 3)) == (READ_HOST_IO, 0)  # same bytes elsewhere
    assert d.read(B, 4, loc(w, B, 4)) == (READ_DISK, 0)
    assert d.used_pages() == d.distinct_contents() == 2


def test_dedup_shares_identical_writes_and_writes_through():
    w = make_world("dedup", clone="copy")
    d = w.policy
    where_a, data_a = write(w, A, 5, pooled=True)  # the same update installed in both guests
    where_b, data_b = write(w, B, 5, pooled=True)
    assert data_a != data_b  # two versions ...
    assert d.write(A, 5, where_a, data_a) == WRITE_DISK and w.store[where_a] == data_a
    assert d.write(B, 5, where_b, data_b) == WRITE_DISK and w.store[where_b] == data_b
    assert d.used_pages() == 1  # ... of the same bytes, cached once
    assert d.read(B, 5, where_b) == (READ_HOST_IO, data_b)  # each location keeps its version
    assert d.read(A, 5, where_a) == (READ_HOST_IO, data_a)
    where, own = write(w, A, 6)  # unique bytes
    d.write(A, 6, where, own)
    assert d.used_pages() == 2


def test_none_always_goes_to_disk():
    w = make_world("none")
    n = w.policy
    where, data = write(w, A, 3)
    assert n.write(A, 3, where, data) == WRITE_DISK and w.store[where] == data
    assert n.read(A, 3, where) == (READ_DISK, data)
    assert n.read(A, 3, where) == (READ_DISK, data)
    assert n.evicted(A, 3, where, data) == IGNORED and n.used_pages() == 0
