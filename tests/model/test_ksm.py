"""KSM (model/ksm.py): the scanner's rules, the memory it lends the pool, COW breaks, the
settings, and KSM under every policy: batched == unbatched, checked runs, policy order."""

from __future__ import annotations

import copy

import pandas as pd
import pytest

import tmemsim
from tmemsim.api import select_policies
from tmemsim.errors import TmemsimError
from tmemsim.model import World
from tmemsim.units import PAGE_SIZE

KSM = {"pages_to_scan": 400, "sleep": "5ms"}


def scenario(policies=("host-cache",), ksm=None, guests=None, **kw) -> dict:
    """Clones of one base image with zero pages and duplicates: copies and CoW clones, writes,
    file churn and anonymous memory, and a pool small enough to move with merging."""
    w = {"kind": "zipf", "alpha": 0.8, "footprint": 3000, "read_fraction": 0.9,
         "think_time": "50us"}
    anon = {"size": "1MiB", "fraction": 0.2, "alpha": 0.6, "read_fraction": 0.5}
    s = {"seed": 3, "duration": "200ms", "sample_interval": "50ms",
         "host": {"memory": "52MiB", "reserved": "4MiB", "ksm": ksm or KSM},
         "disks": {"d": {"kind": "ssd"}},
         "images": {"base": {"size": "32MiB", "zero_fraction": 0.1, "internal_dup": 0.1}},
         "policies": list(policies),
         "guests": guests or [
             {"name": "c", "count": 2, "memory": "8MiB", "reserved": "2MiB",
              "dirty_expire": "30ms", "writeback_interval": "10ms",
              "disk": {"image": "base", "clone": "cow"},
              "workload": {**w, "churn": {"rate": "50/s"}}},
             {"name": "p", "memory": "8MiB", "reserved": "2MiB",
              "disk": {"image": "base", "clone": "copy"},
              "workload": {**w, "anon": anon}}]}
    s.update(kw)
    return s


def world(d, policy=None) -> World:
    s = tmemsim.load_scenario(d)
    return World(s, select_policies(s, [policy] if policy else None)[0])


def simulate(d, policy=None, **overrides):
    d = copy.deepcopy(d)
    d.update(overrides)
    return tmemsim.simulate(tmemsim.load_scenario(d), policy=policy)


# ---------------------------------------------------------------------------------------------
# under every policy


def test_batched_equals_unbatched_every_policy_example_with_ksm(policy_example):
    """Every registered policy, each option set it declares, with KSM scanning fast: the two
    engines give the same tables (the scanner, COW breaks and un-merging are world events)."""
    kind, options = policy_example
    d = scenario(policies=[{"kind": kind, **options}])
    batched = simulate(d, engine="batched")
    unbatched = simulate(d, engine="unbatched")
    pd.testing.assert_frame_equal(batched.summary, unbatched.summary)
    pd.testing.assert_frame_equal(batched.timeseries, unbatched.timeseries)
    pd.testing.assert_frame_equal(batched.latency, unbatched.latency)
    row = batched.row()
    assert row.pages_sharing > 0 and row.cow_breaks > 0 and row.full_scans > 0


def test_checked_runs_with_ksm_every_policy_example(policy_example):
    """check: true (invariants after every action, the trees against the guests at every
    sample, the memory accounting with what merging lent the pool) and no stale read."""
    kind, options = policy_example
    result = simulate(scenario(policies=[{"kind": kind, **options}]), check=True)
    assert result.row().stale_reads == 0 and result.row().pages_sharing > 0


def test_results_do_not_depend_on_policy_order_or_jobs():
    d = scenario(policies=["tmem", {"kind": "host-cache", "ksm": True},
                           {"kind": "host-cache", "ksm": False}], duration="100ms")
    one = tmemsim.compare(tmemsim.load_scenario(d), jobs=1).summary
    d["policies"] = list(reversed(d["policies"]))
    two = tmemsim.compare(tmemsim.load_scenario(d), jobs=2).summary
    key = ["policy", "guest"]
    pd.testing.assert_frame_equal(one.sort_values(key).reset_index(drop=True),
                                  two.sort_values(key).reset_index(drop=True))


# ---------------------------------------------------------------------------------------------
# on, off, per policy


def test_without_ksm_nothing_changes_and_the_columns_are_zero():
    d = scenario()
    del d["host"]["ksm"]
    plain = simulate(d).summary
    off = simulate(scenario(policies=[{"kind": "host-cache", "ksm": False}])).summary
    on = simulate(scenario()).summary
    columns = ["pages_shared", "pages_sharing", "pages_unshared", "full_scans", "cow_breaks"]
    assert (plain[columns] == 0).all().all()
    pd.testing.assert_frame_equal(plain.drop(columns="policy"), off.drop(columns="policy"))
    assert on.iloc[-1].pages_sharing > 0 and on.iloc[-1].host_pool_pages > \
        plain.iloc[-1].host_pool_pages
    ts = simulate(d).timeseries
    assert "pages_sharing" not in set(ts.metric)


def test_a_policy_entry_turns_ksm_on_with_linux_defaults():
    d = scenario(policies=["none", {"kind": "none", "ksm": True}], duration="100ms")
    del d["host"]["ksm"]
    s = tmemsim.load_scenario(d)
    plain, merged = select_policies(s)
    assert (plain.name, merged.name) == ("none", "none+ksm")
    w = World(s, merged)
    assert (w.ksm.pages_to_scan, w.ksm.sleep) == (100, 0.020)
    assert w.ksm.cow_fault == pytest.approx(2e-6)  # hypercall + page_copy
    assert World(s, plain).ksm is None


def test_a_bad_ksm_entry_is_located():
    with pytest.raises(TmemsimError, match=r"policies\[0\]\.ksm: expected true or false"):
        tmemsim.load_scenario(scenario(policies=[{"kind": "none", "ksm": "maybe"}]))


def test_bad_ksm_settings_are_refused():
    with pytest.raises(TmemsimError, match="pages_to_scan"):
        tmemsim.load_scenario(scenario(ksm={"pages_to_scan": 0}))
    with pytest.raises(TmemsimError, match="sleep"):
        tmemsim.load_scenario(scenario(ksm={"sleep": "0s"}))


# ---------------------------------------------------------------------------------------------
# the scanner's rules, on a world built and driven by hand


def _resident(w, g: int, keys) -> None:
    guest = w.guests[g]
    for key in keys:
        victim = guest.cache.insert(key)
        if guest.census is not None:  # as a miss tells the double-caching census
            guest.census_update(key, victim)


def _copies(**ksm):
    """Three full copies of an image of unique pages, nothing running."""
    guests = [{"name": "p", "count": 3, "memory": "8MiB", "reserved": "2MiB",
               "disk": {"image": "base", "clone": "copy"},
               "workload": {"kind": "script", "steps": ["r 0"]}}]
    d = scenario(ksm={"pages_to_scan": 1000, "sleep": "1ms", **ksm}, guests=guests)
    d["images"]["base"] = {"size": "32MiB"}
    return world(d)


def test_a_page_merges_when_seen_unchanged_on_a_second_scan():
    w = _copies()
    _resident(w, 0, range(10))
    _resident(w, 1, range(5))
    k = w.ksm
    k.wake(0.0)  # a first full scan (the batch is larger): every page seen once, none merged
    assert (k.pages_sharing, k.pages_unshared, k.full_scans) == (0, 0, 1)
    pool = w.pool_pages
    k.wake(0.0)  # second scan: pages 0-4 of guest 0 enter the unstable tree, guest 1's merge
    assert (k.pages_shared, k.pages_sharing, k.pages_unshared, k.full_scans) == (5, 5, 5, 2)
    # what merging saved, the pool got
    assert w.lent == 5 and w.pool_pages == w.policy.host.pool_pages == pool + 5
    k.check_deep()


def _one_merged_page():
    """Copies whose guests 0 and 1 both hold page 1, merged after two scans: (world, ksm)."""
    w = _copies()
    _resident(w, 0, [1])
    _resident(w, 1, [1])
    k = w.ksm
    k.wake(0.0)
    k.wake(0.0)
    assert k.pages_sharing == 1
    return w, k


def test_a_stable_node_takes_a_new_page_at_once_and_a_write_breaks_it():
    w, k = _one_merged_page()
    _resident(w, 2, [1])
    k.wake(0.0)  # seen once only, but its content is in a stable node: it joins at once
    assert (k.pages_shared, k.pages_sharing) == (1, 2)
    w.guests[2].evict(0.5, 1)
    w.guests[2].cache.remove(1)
    assert (k.pages_shared, k.pages_sharing) == (1, 1)
    pool = w.pool_pages
    g = w.guests[1]
    end = g.write(1.0, 1, False)  # a write to a merged page: a COW fault
    assert end == pytest.approx(1.0 + g.hit_cost + k.cow_fault)
    assert (k.pages_sharing, k.pages_shared, k.cow_breaks) == (0, 0, [0, 1, 0])
    assert w.pool_pages == pool - 1 and w.lent == 0  # the pool gave the page back
    # the lone page left is an ordinary page again: written, it breaks nothing
    assert w.guests[0].write(1.0, 1, False) == pytest.approx(1.0 + g.hit_cost)
    assert k.cow_breaks == [0, 1, 0]
    k.check_deep()


def test_an_evicted_merged_page_leaves_the_merge():
    w = _copies()
    _resident(w, 0, [1, 2])
    _resident(w, 1, [1, 2])
    k = w.ksm
    for _ in range(4):
        k.wake(0.0)
    assert k.pages_sharing == 2
    w.guests[0].evict(1.0, 2)
    w.guests[0].cache.remove(2)
    assert (k.pages_sharing, k.cow_breaks) == (1, [0, 0, 0])
    assert w.lent == 1
    k.check_deep()


def test_the_memory_accounting_holds_while_merging():
    """guests + pool + reserved = host memory + what merging lent the pool, after each batch."""
    w = _copies()
    _resident(w, 0, range(100))
    _resident(w, 1, range(100))
    host = w.scenario.host
    for _ in range(4):
        w.ksm.wake(0.0)
        total = sum(w.memory) + w.pool_pages * PAGE_SIZE + w.slack + host.reserved
        assert total == host.memory + w.lent * PAGE_SIZE
    assert w.lent == w.ksm.pages_sharing == 100


def test_a_truncated_merged_page_leaves_the_merge_without_a_cow_break():
    w, k = _one_merged_page()
    w.guests[0].truncate(1.0, 1)  # drops the file's pages, then writes them anew
    assert (k.pages_sharing, k.cow_breaks) == (0, [0, 0, 0])
    k.check_deep()
