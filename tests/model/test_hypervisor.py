"""The hypervisor's paths and their costs, policy by policy, without a World (model/factory.py).

Costs are the scenario defaults: guest_hit, hypercall and page_copy 1 µs, virtio 20 µs; the
nvme disk reads in 20 µs and writes in 10 µs on 32 channels.
"""

from __future__ import annotations

import pytest

from tmemsim.model.factory import build_host
from tmemsim.policies import POLICIES
from tmemsim.policies.base import IGNORED, READ_DISK, WRITE_DISK, Policy, PolicyCounters
from tmemsim.results import summary_columns

US = 1e-6
VIRTIO, CALL, COPY = 20 * US, 1 * US, 1 * US
NVME_READ, NVME_WRITE = 20 * US, 10 * US


def test_none_sends_every_miss_and_write_to_the_disk():
    b = build_host("none")
    hv, c = b.hypervisor, b.counters[0]
    assert hv.read(0, 5, b.loc(0, 5), 1.0) == (pytest.approx(1.0 + NVME_READ + VIRTIO), 0)
    assert hv.write(0, 5, b.loc(0, 5), 7, 2.0) == pytest.approx(2.0 + NVME_WRITE + VIRTIO)
    assert hv.read(0, 5, b.loc(0, 5), 3.0)[1] == 7  # the disk holds what was written
    assert (c.disk_reads, c.disk_writes, c.host_hits) == (2, 1, 0)
    assert (b.disk.reads, b.disk.writes) == (2, 1)
    assert hv.evicted(0, 5, b.loc(0, 5), 7, 0.0) == 0.0 and hv.invalidate(0, [(5, 0)], 0.0) == 0.0


def test_host_cache_serves_its_second_read_from_memory():
    b = build_host("host-cache")
    hv, c = b.hypervisor, b.counters[0]
    assert hv.read(0, 5, b.loc(0, 5), 0.0)[0] == pytest.approx(NVME_READ + VIRTIO)
    assert hv.read(0, 5, b.loc(0, 5), 1.0)[0] == pytest.approx(1.0 + VIRTIO + COPY)
    assert (c.disk_reads, c.host_hits, b.disk.reads) == (1, 1, 1)
    # writethrough: the write reaches the disk, and the cached copy follows it
    assert hv.write(0, 5, b.loc(0, 5), 9, 2.0) == pytest.approx(2.0 + NVME_WRITE + VIRTIO)
    assert hv.read(0, 5, b.loc(0, 5), 3.0) == (pytest.approx(3.0 + VIRTIO + COPY), 9)


def test_host_cache_writeback_absorbs_then_its_flusher_writes():
    b = build_host("host-cache", {"mode": "writeback", "dirty_expire": "1s"})
    hv, c = b.hypervisor, b.counters[0]
    assert hv.write(0, 5, b.loc(0, 5), 9, 0.0) == pytest.approx(VIRTIO + COPY)
    assert (c.disk_writes, b.disk.writes) == (0, 0)
    hv.tick(0.5, 1)  # not yet expired
    assert b.disk.writes == 0
    hv.tick(1.0, 1)
    assert (c.disk_writes, b.disk.writes) == (1, 1)  # charged to the page's owner
    assert b.policy.store[b.loc(0, 5)] == 9


def test_tmem_get_put_and_flush_costs():
    # 300 pages less keep_free (1 MiB, 256 pages): 44 for ephemeral pages
    b = build_host("tmem", pool_pages=300)
    hv, pc = b.hypervisor, b.policy_counters[0]
    miss = hv.read(0, 5, b.loc(0, 5), 0.0)[0]
    assert miss == pytest.approx(CALL + NVME_READ + VIRTIO)  # the get missed, then the disk
    assert hv.evicted(0, 5, b.loc(0, 5), 0, 0.0) == pytest.approx(CALL + COPY)  # a put
    assert hv.read(0, 5, b.loc(0, 5), 1.0) == (pytest.approx(1.0 + CALL + COPY), 0)
    assert hv.read(0, 5, b.loc(0, 5), 2.0)[0] > 2.0 + NVME_READ  # exclusive: the get took it
    assert hv.invalidate(0, [(5, b.loc(0, 5)), (6, b.loc(0, 6))], 0.0) == pytest.approx(CALL)
    assert (pc.tmem_gets, pc.tmem_get_hits, pc.tmem_puts, pc.tmem_flushes) == (3, 1, 1, 1)
    assert (b.counters[0].host_hits, b.counters[0].disk_reads) == (1, 2)


def test_tmem_refused_put_pays_the_hypercall_only():
    b = build_host("tmem", pool_pages=300, guests=2)
    for vpage in range(44):
        b.hypervisor.evicted(0, vpage, b.loc(0, vpage), 0, 0.0)
    # full: a put evicts the oldest; with no room at all (keep_free is the whole pool) it fails
    assert b.hypervisor.evicted(1, 0, b.loc(1, 0), 0, 0.0) == pytest.approx(CALL + COPY)
    assert b.policy_counters[0].tmem_evictions == 1
    small = build_host("tmem", pool_pages=256)
    assert small.hypervisor.evicted(0, 1, small.loc(0, 1), 0, 0.0) == pytest.approx(CALL)
    assert small.policy_counters[0].tmem_puts_rejected == 1


def test_frontswap_store_and_load_and_a_refusal():
    b = build_host("tmem", pool_pages=300, swap_pages=16)
    hv, c, pc = b.hypervisor, b.counters[0], b.policy_counters[0]
    assert hv.swap_out(0, 3, b.swap_loc(0, 3), 11, 0.0) == pytest.approx(CALL + COPY)
    assert hv.swap_in(0, 3, b.swap_loc(0, 3), 1.0) == (pytest.approx(1.0 + CALL + COPY), 11,
                                                       True)
    assert (pc.frontswap_stores, pc.frontswap_loads, c.swap_disk_io) == (1, 1, 0)
    b.policy.set_allowance(0, 1)  # the one persistent page held: the next store is refused
    assert hv.swap_out(0, 4, b.swap_loc(0, 4), 12, 2.0) == pytest.approx(CALL)
    assert (pc.frontswap_rejected, c.swap_disk_io, c.disk_writes, b.disk.writes) == (1, 1, 1, 1)
    done, data, in_memory = hv.swap_in(0, 4, b.swap_loc(0, 4), 3.0)
    assert (data, in_memory) == (12, False) and done == pytest.approx(3.0 + NVME_READ + VIRTIO)


# ---------------------------------------------------------------- the declared contract

INFERRED = 3  # a new eviction outcome, priced by the toy policy alone


class Inferring(Policy):
    """A transparent policy that learns of every eviction without a word from the guest (as
    host-exclusive caching by inference would): it observes evictions, yet makes no
    hypercalls, and prices its own outcome (a trap) from its options."""

    name = "inferring"
    observes_evictions = True

    class Options(Policy.Options):
        trap: float = 3e-6

    class Counters(PolicyCounters):
        __slots__ = ("inferred_evictions",)

    def eviction_costs(self, costs):
        return {IGNORED: 0.0, INFERRED: self.options.trap}

    def read(self, guest, vpage, loc):
        return READ_DISK, self.store.get(loc, 0)

    def write(self, guest, vpage, loc, data):
        self.store[loc] = data
        return WRITE_DISK

    def evicted(self, guest, vpage, loc, data):
        self.counters[guest].inferred_evictions += 1
        return INFERRED


@pytest.fixture
def inferring(monkeypatch):
    monkeypatch.setitem(POLICIES, Inferring.name, Inferring)


def test_a_new_outcome_is_charged_as_its_policy_prices_it(inferring):
    b = build_host("inferring", {"trap": 5e-6}, swap_pages=4)
    assert b.hypervisor.evicted(0, 1, b.loc(0, 1), 0, 0.0) == pytest.approx(5e-6)
    assert b.policy_counters[0].inferred_evictions == 1


def test_a_transparent_policy_that_observes_evictions_pays_no_hypercall_on_swap_out(inferring):
    b = build_host("inferring", swap_pages=4)
    assert b.hypervisor.swap_out(0, 1, b.swap_loc(0, 1), 5, 0.0) == 0.0
    assert b.counters[0].swap_disk_io == 1


def test_a_policy_counter_becomes_a_summary_column(inferring):
    columns = summary_columns()
    assert "inferred_evictions" in columns and "tmem_puts" in columns
    assert columns.index("inferred_evictions") > columns.index("fairness_jain")


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_every_policy_declares_its_contract(name):
    cls = POLICIES[name]
    assert cls.examples, f"{name} declares no examples"
    for options in cls.examples:
        b = build_host(name, options, pool_pages=300, swap_pages=4)
        assert isinstance(b.policy, cls)
        assert set(b.hypervisor.policy.eviction_costs(b.costs)) >= {IGNORED}
        b.hypervisor.read(0, 1, b.loc(0, 1), 0.0)
        if cls.observes_evictions:
            b.hypervisor.evicted(0, 1, b.loc(0, 1), 0, 0.0)
        b.hypervisor.swap_out(0, 1, b.swap_loc(0, 1), 3, 0.0)
        b.policy.check()
        b.policy.check_deep()
    assert cls.guest_hypercalls or not cls.frontswap  # frontswap is a hypercall interface


def test_a_waiting_put_is_applied_in_time_then_rank_order():
    """Puts that wait (Hypervisor.put_later) reach the policy only when a use of it ordered
    after them comes: later, or at the same time from a higher rank; among themselves in
    (time, rank) order; a broken promise raises."""
    b = build_host("tmem", {"keep_free": 0}, guests=3, pool_pages=64)
    hv, tmem = b.hypervisor, b.policy
    hv.rank_of = [2, 3, 4]
    outcome = tmem.fixed_put_outcome(0)
    assert hv.put_later(2, 7, b.loc(2, 7), 0, 1.0, outcome) == pytest.approx(CALL + COPY)
    hv.put_later(1, 7, b.loc(1, 7), 0, 1.0, outcome)
    hv.read(0, 9, b.loc(0, 9), 1.0)  # guest 0 at t=1 ranks first: neither put is due
    assert not tmem.holds_private(1, 7) and not tmem.holds_private(2, 7)
    assert not hv.holds_private(2, 7, 1.0)  # guest 2 at t=1: after guest 1's put, not its own
    assert tmem.holds_private(1, 7) and not tmem.holds_private(2, 7)
    hv.settle(1.5, 0)
    assert list(tmem.eph) == [2 * (1 << 48) | 7, 3 * (1 << 48) | 7]  # guest 1's put first
    hv.put_later(0, 8, b.loc(0, 8), 0, 2.0, 2)  # promised a refusal: tmem will accept it
    with pytest.raises(AssertionError, match="promised"):
        hv.settle(2.5, 0)


# ---------------------------------------------------------------- a guest's multi-page read

NVME_PAGE = 4096 / 2e9  # each further page of a multi-page request (nvme: 2 GB/s)


def test_read_pages_under_none_is_one_request_per_run_and_counts_no_read():
    b = build_host("none")
    hv = b.hypervisor
    rows = hv.read_pages(0, [(p, b.loc(0, p)) for p in (5, 6, 7, 9)], 1.0)
    run = 1.0 + NVME_READ + 2 * NVME_PAGE + VIRTIO  # 5..7: one request, one virtio
    assert [r[0] for r in rows] == pytest.approx([run] * 3 + [1.0 + NVME_READ + VIRTIO])
    assert b.disk.reads == 2 and b.counters[0].disk_reads == 0


def test_read_pages_under_tmem_gets_page_by_page_then_reads_the_misses_as_a_run():
    b = build_host("tmem", pool_pages=300)
    hv, pc = b.hypervisor, b.policy_counters[0]
    for p in (5, 6):
        hv.evicted(0, p, b.loc(0, p), 0, 0.0)  # puts
    rows = hv.read_pages(0, [(p, b.loc(0, p)) for p in (5, 6, 7, 8)], 1.0)
    cpu = 2 * (CALL + COPY) + 2 * CALL + VIRTIO  # 2 hits, 2 misses, one I/O request
    assert [r[0] for r in rows] == pytest.approx([
        1.0 + CALL + COPY,  # the first page: its own get
        1.0 + cpu,  # the other hit: when the window's CPU is spent
        1.0 + NVME_READ + NVME_PAGE + cpu, 1.0 + NVME_READ + NVME_PAGE + cpu])
    assert (pc.tmem_gets, pc.tmem_get_hits, b.disk.reads) == (4, 2, 1)


def test_read_pages_under_host_cache_is_one_virtio_for_the_window():
    b = build_host("host-cache")
    hv = b.hypervisor
    hv.read(0, 5, b.loc(0, 5), 0.0)
    rows = hv.read_pages(0, [(p, b.loc(0, p)) for p in (5, 6, 7)], 1.0)
    cpu = COPY + VIRTIO  # page 5 copied from host memory; one request for the three
    assert [r[0] for r in rows] == pytest.approx([
        1.0 + VIRTIO + COPY, 1.0 + NVME_READ + NVME_PAGE + cpu,
        1.0 + NVME_READ + NVME_PAGE + cpu])
    assert b.disk.reads == 2 and b.counters[0].host_hits == 0
