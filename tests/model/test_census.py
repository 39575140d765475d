"""The double-caching census kept as pages move (model/census.py) equals the scan it replaces,
at every sample, for every policy example: `check: true` compares them (invariants.check_sample)
and raises on the first difference."""

from __future__ import annotations

import pytest

import tmemsim
from tmemsim.api import select_policies
from tmemsim.model import World


def _moving(policy: dict, balloon: bool = False) -> dict:
    """CoW clones and a private-disk guest that write (first writes move a cached page from its
    base block to its overlay), truncate files (churn), fault anonymous pages in and out
    (victims of both kinds), share base blocks, and with `balloon` balloon (the cache shrinks
    and grows)."""
    workload = {"kind": "zipf", "alpha": 0.8, "footprint": 3000, "read_fraction": 0.8,
                "think_time": {"kind": "exponential", "mean": "100us"},
                "churn": {"rate": "20/s"},
                "anon": {"size": "2MiB", "fraction": 0.2, "alpha": 0.6, "read_fraction": 0.5}}
    balloon = {"kind": "selfballoon" if balloon else "none", "interval": "100ms",
               "floor": "4MiB", "headroom": "1MiB"}
    return {
        "seed": 3, "duration": "600ms", "sample_interval": "50ms", "check": True,
        "host": {"memory": "44MiB", "reserved": "16MiB"},
        "disks": {"d": {"kind": "ssd"}},
        "images": {"base": {"size": "32MiB"}},
        "policies": [policy],
        "guests": [
            {"name": "c", "count": 2, "memory": "8MiB", "reserved": "2MiB",
             "writeback_interval": "100ms", "dirty_expire": "200ms", "balloon": balloon,
             "disk": {"image": "base", "clone": "cow"}, "workload": workload},
            {"name": "p", "memory": "8MiB", "reserved": "2MiB",
             "disk": {"size": "32MiB"}, "workload": workload},
        ],
    }


def _run_checked(policy: dict, balloon: bool = False):
    s = tmemsim.load_scenario(_moving(policy, balloon))
    world = World(s, select_policies(s)[0])
    out = world.run()  # check: true raises InvariantError where the two differ
    assert len(world.double_cached_samples) >= 12
    assert out.counters[0]["truncates"] > 0 and out.counters[0]["swap_outs"] > 0
    if world.guests[0].census is not None:  # the counts moved: the comparison was not 0 == 0
        assert max(world.double_cached_samples) > 0
    return world


def test_census_equals_the_scan_at_every_sample(policy_example):
    kind, options = policy_example
    _run_checked({"kind": kind, **options})


@pytest.mark.parametrize("policy", [{"kind": "host-cache"}, {"kind": "tmem", "pool": "shared"}])
def test_census_equals_the_scan_while_ballooning(policy):
    """Ballooning shrinks and grows the guests' caches and the pool. (Not every example: a
    twolist host cache under ballooning breaks `host cache over the pool` on main already.)"""
    world = _run_checked(policy, balloon=True)
    assert world.policy_counters and min(world.memory) < 8 << 20  # some guest gave memory up
