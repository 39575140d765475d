"""A guest's own readahead (model/guest_readahead.py) under every policy: batched ==
unbatched, checked runs, coherence over generated scripts, off equals absent, the setting's
errors, and what a window costs per policy."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tmemsim
from tmemsim.api import select_policies
from tmemsim.errors import TmemsimError
from tmemsim.model import World
from tmemsim.policies import POLICIES

PAGE = 4096


def scenario(policies=("none",), readahead="32KiB", **kw) -> dict:
    """Readers that are partly sequential over small caches, so windows are read, hit, wasted
    and evicted: threads, writes, file churn (truncates), anonymous memory, CoW clones."""
    seq = {"kind": "mix", "file_pages": 256, "read_fraction": 0.9, "think_time": "50us",
           "parts": [{"weight": 2, "workload": {"kind": "scan", "footprint": 6000}},
                     {"weight": 1, "workload": {"kind": "zipf", "alpha": 0.8,
                                                "footprint": 3000}}]}
    ra = {"max": readahead}
    s = {"seed": 5, "duration": "100ms", "sample_interval": "50ms",
         "host": {"memory": "40MiB", "reserved": "4MiB"},
         "disks": {"d": {"kind": "ssd", "channels": 2}},
         "images": {"base": {"size": "32MiB", "zero_fraction": 0.1}},
         "policies": list(policies),
         "guests": [
             {"name": "c", "count": 2, "memory": "4MiB", "reserved": "2MiB", "readahead": ra,
              "dirty_expire": "30ms", "writeback_interval": "10ms",
              "disk": {"image": "base", "clone": "cow"},
              "workload": {**seq, "threads": 2, "churn": {"rate": "50/s"}}},
             {"name": "p", "memory": "4MiB", "reserved": "2MiB", "readahead": ra,
              "disk": {"size": "64MiB"},
              "workload": {**seq, "anon": {"size": "512KiB", "fraction": 0.2}}}]}
    s.update(kw)
    return s


def simulate(d, policy=None, **overrides):
    d = copy.deepcopy(d)
    d.update(overrides)
    return tmemsim.simulate(tmemsim.load_scenario(d), policy=policy)


def _policy(policy_example) -> dict:
    kind, options = policy_example
    if "keep_free" in POLICIES[kind].Options.model_fields:
        options = {"keep_free": 0, **options}  # so the small pool is really used
    return {"kind": kind, **options}


# ---------------------------------------------------------------------------------------------
# under every policy (conftest lists every registered policy's examples)


def test_batched_equals_unbatched_every_policy_example_with_guest_readahead(policy_example):
    """The two engines give the same tables: windows, their arrivals and page-lock waits are
    ordered the same way whether the guest runs ahead on its clock or not."""
    d = scenario(policies=[_policy(policy_example)])
    batched = simulate(d, engine="batched")
    unbatched = simulate(d, engine="unbatched")
    pd.testing.assert_frame_equal(batched.summary, unbatched.summary)
    pd.testing.assert_frame_equal(batched.timeseries, unbatched.timeseries)
    pd.testing.assert_frame_equal(batched.latency, unbatched.latency)
    row = batched.row()
    assert row.guest_readahead_pages > 0 and row.guest_readahead_hits > 0
    assert row.guest_readahead_wasted > 0 and row.page_lock_waits > 0


def test_checked_runs_with_guest_readahead_every_policy_example(policy_example):
    """check: true (the invariants after every action, the deep checks at every sample), no
    stale read, every read a hit, a host hit, a disk read or a wait."""
    result = simulate(scenario(policies=[_policy(policy_example)]), check=True)
    for _, r in result.summary.iterrows():
        assert r.stale_reads == 0
        if r.guest.startswith("c-"):  # (p's swap-ins count in disk_reads too)
            assert r.guest_hits + r.host_hits + r.disk_reads + r.page_lock_waits == r.reads
    assert result.row().guest_readahead_pages > 0


@st.composite
def _scripts(draw):
    """One or two guests of a few pages of cache running scripts of sequential stretches,
    random pages, writes and truncates, under one registered policy example."""
    kind, options = draw(st.sampled_from(
        [(k, o) for k, cls in POLICIES.items() for o in cls.examples]))
    policy = _policy((kind, options))
    guests = []
    for i in range(draw(st.integers(1, 2))):
        steps = []
        for _ in range(draw(st.integers(1, 8))):
            start, op = draw(st.integers(0, 40)), draw(st.sampled_from("rrrwt"))
            length = draw(st.integers(1, 12)) if op == "r" else 1
            steps += [f"{op} {p}" for p in range(start, start + length)]
        guests.append({
            "name": f"g{i}", "memory": draw(st.integers(2, 6)) * PAGE,
            "cache": draw(st.sampled_from(["lru", "fifo", "clock", "twolist"])),
            "readahead": {"max": draw(st.sampled_from(["8KiB", "16KiB", "32KiB"]))},
            "disk": draw(st.sampled_from([{"size": 64 * PAGE},
                                          {"image": "base", "clone": "cow"}])),
            "writeback_interval": "50us", "dirty_expire": "100us",
            "workload": {"kind": "script", "steps": steps,
                         "file_pages": draw(st.sampled_from([8, 16, 64])),
                         "threads": draw(st.integers(1, 2)),
                         "think_time": draw(st.sampled_from([0, "10us"]))}})
    pool = draw(st.integers(0, 8))
    return {"seed": draw(st.integers(0, 2**16)), "requests": 3000, "check": True,
            "sample_interval": "20us",
            "host": {"memory": sum(g["memory"] for g in guests) + pool * PAGE},
            "disks": {"d": {"kind": draw(st.sampled_from(["ssd", "hdd"]))}},
            "images": {"base": {"size": 64 * PAGE}},
            "policies": [policy], "guests": guests}


@pytest.mark.slow  # (~10-20 s) every policy example also runs checked above
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_scripts())
def test_coherence_with_guest_readahead(d):
    """No stale read, no broken invariant (check: true), every read accounted for, under
    generated scripts (tiny caches, windows over file ends, truncates, two threads) and every
    registered policy example."""
    s = tmemsim.load_scenario(d)
    world = World(s, select_policies(s)[0])
    out = world.run()
    world.check_deep()
    world.check_invariants()
    for c in out.counters:
        assert c["stale_reads"] == 0
        assert c["guest_hits"] + c["host_hits"] + c["disk_reads"] + c["page_lock_waits"] \
            == c["reads"]


# ---------------------------------------------------------------------------------------------
# on and off


def test_readahead_off_equals_no_setting():
    """max 0, one page (no window can be read) or no `max` give exactly the tables of no
    setting, under none and tmem."""
    plain = scenario(policies=["none", "tmem"], duration="60ms")
    for g in plain["guests"]:
        del g["readahead"]
    results = {p: simulate(plain, p) for p in ("none", "tmem")}
    for off in ({"max": 0}, {"max": "4KiB"}, {}):
        other = copy.deepcopy(plain)
        for g in other["guests"]:
            g["readahead"] = off
        for policy, a in results.items():
            b = simulate(other, policy)
            pd.testing.assert_frame_equal(a.summary, b.summary)
            pd.testing.assert_frame_equal(a.latency, b.latency)
            assert b.row().guest_readahead_pages == 0 and b.row().reads > 1000


@pytest.mark.parametrize("value, expected", [
    ("-4KiB", "readahead.max"), ("lots", "readahead.max"), ({"mx": 1}, "readahead.mx")])
def test_a_bad_setting_is_a_located_error(value, expected):
    d = scenario()
    d["guests"][1]["readahead"] = value if isinstance(value, dict) else {"max": value}
    with pytest.raises(TmemsimError) as e:
        tmemsim.load_scenario(d)
    assert f"guests[1].{expected}" in str(e.value)
