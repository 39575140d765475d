"""Anonymous memory, swap and frontswap; memory balancing (self-ballooning).

- anonymous pages are never lost: the coherence oracle (`check: true`) under every policy, and a
  Hypothesis property over small random configurations;
- frontswap: a load of a stored page always succeeds and is non-destructive, a free removes it,
  a refused store goes to the swap disk, persistent pages stay within the allowance;
- memory accounting (guests + pool + reserved = host) at every step of a ballooned run;
- ballooning respects its floor and gives memory back when the guest needs little;
- swap counts: a hand-computed cyclic case, and a reference LRU model replaying the exact
  request stream a World consumed;
- swap-pressure.yaml: frontswap serves swap-ins from memory where `none` goes to disk.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tmemsim
from tmemsim.api import select_policies
from tmemsim.errors import RunError
from tmemsim.model import World
from tmemsim.model import invariants as invariants_module
from tmemsim.model.hypervisor import Hypervisor
from tmemsim.policies.tmem import Tmem
from tmemsim.workloads import base as workloads_base
from tmemsim.workloads.base import OP_ANON_READ, OP_ANON_WRITE, OP_READ, PageSampler

InvariantError = invariants_module.InvariantError

PAGE = 4096
KiB = 1024
MiB = 1 << 20
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"

# every policy the coherence checks run through
SWAP_POLICIES = [
    "none",
    "host-cache",
    {"kind": "host-cache", "mode": "writeback", "dirty_expire": "2ms",
     "writeback_interval": "1ms", "name": "host-cache-wb"},
    "tmem",
    {"kind": "tmem", "keep_free": 0, "name": "tmem-nokeep"},
    {"kind": "tmem", "dedup": True, "keep_free": 0, "name": "tmem-dedup"},
    "dedup",
]


def _name(p) -> str:
    return p if isinstance(p, str) else p["name"]


def guest(name="g", *, cache=64, reserved=64, anon=None, **kw) -> dict:
    """A guest with `cache` pages of page cache and `reserved` pages reserved (sizes in pages)."""
    g = {
        "name": name,
        "memory": (reserved + cache) * PAGE,
        "reserved": reserved * PAGE,
        "disk": {"size": "4MiB"},
        "writeback_interval": "2ms",
        "dirty_expire": "4ms",
        "workload": {
            "kind": "uniform", "footprint": 64, "read_fraction": 0.7,
            "think_time": {"kind": "exponential", "mean": "20us"},
            "anon": anon if anon is not None else {
                "size": 3 * cache, "fraction": 0.7, "alpha": 0.4, "read_fraction": 0.5},
        },
    }
    g.update(kw)
    return g


def scenario(guests, *, pool_pages=512, policies=("none",), **kw) -> dict:
    host_reserved = MiB
    memory = sum(g["memory"] * g.get("count", 1) for g in guests)
    s = {
        "seed": 11, "duration": "60ms", "sample_interval": "10ms",
        "host": {"memory": memory + pool_pages * PAGE + host_reserved,
                 "reserved": host_reserved},
        "disks": {"d": {"kind": "ssd"}},
        "guests": guests,
        "policies": list(policies),
    }
    s.update(kw)
    return s


def world_for(d: dict, policy=None) -> World:
    s = tmemsim.load_scenario(d)
    spec = select_policies(s, [policy] if policy is not None else None)[0]
    return World(s, spec)


def accounting_total(w: World) -> int:
    return sum(w.memory) + w.pool_pages * PAGE + w.slack + w.scenario.host.reserved


def balloon(floor_pages: int, interval="2ms", headroom_pages=8) -> dict:
    return {"kind": "selfballoon", "interval": interval, "floor": floor_pages * PAGE,
            "headroom": headroom_pages * PAGE}


# ---------------------------------------------------------------------------------------------
# anonymous pages are never lost


@pytest.mark.parametrize("policy", SWAP_POLICIES, ids=_name)
def test_checked_run_swaps_and_reads_back_every_latest_version(policy):
    d = scenario(
        [guest("a", cache=48, balloon=balloon(64 + 16), max_memory=(64 + 48 + 64) * PAGE),
         guest("b", cache=32, max_memory=(64 + 32 + 128) * PAGE)],
        policies=[policy], check=True)
    w = world_for(d)
    out = w.run()  # an InvariantError would propagate
    for c in out.counters:
        assert c["swap_outs"] > 50, c
        assert c["swap_ins"] > 50, c
        assert c["stale_reads"] == 0, c
    _check_no_anonymous_page_lost(w)
    # and the public door: simulate with the oracle raises on a stale read, here it does not
    result = tmemsim.simulate(tmemsim.load_scenario(d), check=True)
    assert result.row()["stale_reads"] == 0
    assert accounting_total(w) == w.scenario.host.memory


def test_oracle_catches_a_lost_swap_out(monkeypatch):
    """Positive control: a swap-out that stores nothing is caught as stale reads."""
    monkeypatch.setattr(Hypervisor, "swap_out",
                        lambda self, guest, apage, loc, data, t: 0.0)
    d = scenario([guest("a", cache=32)], check=True)
    with pytest.raises(RunError, match="stale"):
        tmemsim.simulate(tmemsim.load_scenario(d), check=True)


@st.composite
def small_configs(draw, ballooned=None):
    """1–3 guests; anonymous working set below or above the page cache; selfballoon on/off."""
    n = draw(st.integers(1, 3))
    guests = []
    for i in range(n):
        cache = draw(st.integers(8, 80))
        reserved = draw(st.integers(8, 48))
        anon_size = draw(st.integers(2, 4 * cache))
        anon = {"size": anon_size,
                "fraction": draw(st.sampled_from([0.2, 0.5, 0.9, 1.0])),
                "alpha": draw(st.sampled_from([0.0, 0.6, 1.2])),
                "read_fraction": draw(st.sampled_from([0.0, 0.3, 0.7, 1.0]))}
        g = guest(f"g{i}", cache=cache, reserved=reserved, anon=anon,
                  max_memory=(reserved + cache + draw(st.integers(0, 96))) * PAGE)
        g["workload"]["read_fraction"] = draw(st.sampled_from([0.5, 1.0]))
        on = draw(st.booleans()) if ballooned is None else ballooned
        if on:
            # floor at most the initial memory (above it: see
            # test_floor_above_initial_memory_keeps_persistent_pages_within_allowance)
            floor = draw(st.integers(reserved + 1, reserved + cache))
            g["balloon"] = balloon(floor, interval=draw(st.sampled_from(["1ms", "3ms"])),
                                   headroom_pages=draw(st.integers(0, 32)))
        guests.append(g)
    policy = draw(st.sampled_from(SWAP_POLICIES))
    # at least tmem's default keep_free (1 MiB = 256 pages): below it, see the xfail tests
    pool = draw(st.integers(256, 900))
    d = scenario(guests, pool_pages=pool, policies=[policy], check=True,
                 duration="30ms", sample_interval="5ms",
                 seed=draw(st.integers(0, 2**16)))
    return d


def _check_no_anonymous_page_lost(w: World) -> None:
    """After the run: every written anonymous page is resident or has a swap slot, and reading
    each slot back (frontswap first, then the swap area) returns the page's latest version."""
    t = w.env.now
    for i, g in enumerate(w.guests):
        anon = g.anon
        assert not (set(anon.slots) & anon.dirty), "a page both dirty and with a valid slot"
        for key in g.versions:
            if key < 0:
                assert key in g.cache or key in anon.slots, f"{g.name}: anonymous page {key} lost"
        for key in list(anon.slots):
            if key in g.cache:
                continue
            apage = -1 - key
            _, data, _ = w.hv.swap_in(i, apage, anon.swap_loc | apage, t)
            assert data == g.versions.get(key, 0), (g.name, apage)


def _check_world_after_run(w: World, out) -> None:
    host = w.scenario.host
    assert sum(w.memory) + w.pool_pages * PAGE + w.slack + host.reserved == host.memory
    for i, c in enumerate(out.counters):
        assert c["stale_reads"] == 0, (w.guest_names[i], c)
        assert w.policy.persistent_pages(i) <= (w.max_memory[i] - w.memory[i]) // PAGE
        assert len(w.guests[i].cache) <= w.guests[i].cache.capacity


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_configs())
def test_property_anonymous_pages_never_lost(d):
    w = world_for(d)
    out = w.run()  # InvariantError or a stale read under check: true would fail here
    _check_world_after_run(w, out)
    _check_no_anonymous_page_lost(w)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_configs(ballooned=True))
def test_property_memory_accounting_at_every_balloon_step(d):
    """guests + pool + reserved = host after every set_memory, checked outside the model's own
    invariant check too; persistent pages within max_memory − memory at every step."""
    w = world_for(d)
    steps = []
    original = w.set_memory

    def checked_set_memory(i, target, t):
        original(i, target, t)
        steps.append((i, w.memory[i]))
        assert accounting_total(w) == w.scenario.host.memory, steps[-1]
        for j in range(len(w.guests)):
            assert w.policy.persistent_pages(j) <= (w.max_memory[j] - w.memory[j]) // PAGE
            assert w.memory[j] >= min(w.floor[j], w.guests[j].spec.memory)
            assert w.guests[j].cache.capacity == (w.memory[j] - w.guests[j].spec.reserved) // PAGE

    w.set_memory = checked_set_memory  # guests call self.observer.set_memory
    out = w.run()
    assert steps, "no balloon step ran"
    _check_world_after_run(w, out)


def _bug1_scenario(anon_size: int, memory="2MiB", headroom="512KiB") -> dict:
    g = {"name": "a", "memory": memory, "reserved": "1MiB", "max_memory": "3MiB",
         "balloon": {"kind": "selfballoon", "interval": "50ms", "floor": "1100KiB",
                     "headroom": headroom},
         "disk": {"size": "16MiB"},
         "workload": {"kind": "uniform", "footprint": 64, "read_fraction": 0.7,
                      "anon": {"size": anon_size, "fraction": 0.6}}}
    # the pool: 3 MiB − 512 KiB − 2 MiB = 512 KiB, less than tmem's keep_free (1 MiB)
    return {"seed": 3, "duration": "300ms", "sample_interval": "100ms", "check": True,
            "host": {"memory": "3MiB", "reserved": "512KiB"}, "disks": {"d": {"kind": "ssd"}},
            "guests": [g], "policies": ["tmem"]}


def test_small_tmem_pool_balloon_down_keeps_accounting():
    w = world_for(_bug1_scenario(anon_size=10))
    w.run()  # raises InvariantError: memory accounting
    assert accounting_total(w) == w.scenario.host.memory


def test_small_tmem_pool_balloon_up_loses_no_page():
    d = _bug1_scenario(anon_size=300, headroom="256KiB")
    w = world_for(d)
    grew_down = []
    original = w.set_memory

    def watch(i, target, t):
        before = w.memory[i]
        original(i, target, t)
        if target > before and w.memory[i] < before:
            grew_down.append((before, target, w.memory[i]))

    w.set_memory = watch
    out = w.run()
    assert not grew_down, grew_down
    assert out.counters[0]["stale_reads"] == 0


# ---------------------------------------------------------------------------------------------
# frontswap, unit-tested on a World's Tmem policy


def tmem_world(max_extra_pages=8, pool_pages=300, keep_free=None) -> World:
    policy = {"kind": "tmem"} if keep_free is None else {"kind": "tmem", "keep_free": keep_free}
    g = guest("a", cache=16, reserved=16, max_memory=(32 + max_extra_pages) * PAGE)
    w = world_for(scenario([g, guest("b", cache=16, reserved=16)], pool_pages=pool_pages,
                           policies=[policy]))
    assert isinstance(w.policy, Tmem)
    return w


def test_frontswap_load_returns_stored_data_and_is_non_destructive():
    w = tmem_world()
    p = w.policy
    assert p.frontswap_store(0, 5, 1234) is True
    assert p.frontswap_load(0, 5) == 1234
    assert p.frontswap_load(0, 5) == 1234  # a second load: still there
    assert p.persistent_pages(0) == 1 and p.guest_pages(0) == 1
    assert p.used_pages() == 1
    assert p.counters[0].frontswap_stores == 1
    assert p.counters[0].frontswap_loads == 2
    # the same apage of another guest is another page
    assert p.frontswap_load(1, 5) is None
    # a zero-filled page never written has data 0: stored and loaded like any other
    assert p.frontswap_store(0, 6, 0) is True
    assert p.frontswap_load(0, 6) == 0


def test_frontswap_store_of_a_present_page_overwrites_without_a_second_charge():
    p = tmem_world().policy
    assert p.frontswap_store(0, 5, 1)
    assert p.frontswap_store(0, 5, 2)
    assert p.frontswap_load(0, 5) == 2
    assert p.persistent_pages(0) == 1 and p.used_pages() == 1


def test_frontswap_free_removes_the_page():
    p = tmem_world().policy
    p.frontswap_store(0, 5, 77)
    p.frontswap_store(0, 6, 78)
    p.frontswap_free(0, 5)
    assert p.frontswap_load(0, 5) is None
    assert p.frontswap_load(0, 6) == 78
    assert p.persistent_pages(0) == 1 and p.used_pages() == 1
    p.frontswap_free(0, 5)  # freeing twice is harmless
    p.frontswap_free(0, 6)
    assert p.persistent_pages(0) == 0 and p.used_pages() == 0


def test_frontswap_store_is_refused_beyond_the_allowance():
    w = tmem_world(max_extra_pages=8)
    p = w.policy
    assert p.allowance[0] == 8 and p.allowance[1] == 0  # max_memory − memory, in pages
    assert all(p.frontswap_store(0, a, 100 + a) for a in range(8))
    assert p.frontswap_store(0, 8, 108) is False
    assert p.frontswap_load(0, 8) is None
    assert p.frontswap_store(1, 0, 1) is False  # no max_memory: no allowance
    assert p.counters[0].frontswap_rejected == 1 and p.counters[1].frontswap_rejected == 1
    assert p.persistent_pages(0) == 8
    # every accepted page still loads
    assert [p.frontswap_load(0, a) for a in range(8)] == [100 + a for a in range(8)]
    p.check()


def test_frontswap_store_evicts_ephemeral_pages_never_persistent_ones():
    # capacity = pool − keep_free = 300 − 256 = 44 pages
    w = tmem_world(max_extra_pages=200, pool_pages=300)
    p = w.policy
    assert p.capacity == 44
    loc = w.guests[0].own_loc
    for vp in range(44):
        assert p.evicted(0, vp, loc | vp, 0) == 1  # PUT_ACCEPTED
    assert p.used_pages() == 44
    assert p.frontswap_store(0, 0, 9)  # evicts the oldest ephemeral page
    assert not p.holds(0, 0, loc) and p.holds(0, 1, loc | 1)
    assert p.counters[0].tmem_evictions == 1
    for a in range(1, 44):
        assert p.frontswap_store(0, a, 9 + a)
    assert p.used_pages() == 44 and p.persistent_pages(0) == 44 and not p.eph
    assert p.frontswap_store(0, 44, 1) is False  # full of persistent pages: refused
    assert p.evicted(0, 50, loc | 50, 0) == 2  # PUT_REJECTED: an ephemeral put cannot evict them
    assert [p.frontswap_load(0, a) for a in range(44)] == [9] + [9 + a for a in range(1, 44)]
    p.check()


def test_pool_cannot_shrink_below_its_persistent_pages():
    w = tmem_world(max_extra_pages=200, pool_pages=300)
    p = w.policy
    for a in range(30):
        assert p.frontswap_store(0, a, a + 1)
    # keep_free is tmem's margin, not a floor: a pool that still holds its 30 persistent
    # pages shrinks to what is asked...
    assert p.resize(100) == 100
    # ...but never below them
    assert p.resize(10) == 30
    assert [p.frontswap_load(0, a) for a in range(30)] == [a + 1 for a in range(30)]
    p.check()


def test_every_swap_in_of_a_stored_page_is_served_from_frontswap(monkeypatch):
    """In a run where frontswap refuses some stores, every swap-in of a page it holds is a
    hypercall + copy returning the stored data; the others go to the swap disk."""
    stored: dict = {}
    seen = Counter()
    real_store, real_free = Tmem.frontswap_store, Tmem.frontswap_free
    real_swap_in = Hypervisor.swap_in

    def store(self, guest, apage, data):
        ok = real_store(self, guest, apage, data)
        if ok:
            stored[guest, apage] = data
        return ok

    def free(self, guest, apage):
        real_free(self, guest, apage)
        stored.pop((guest, apage), None)

    def swap_in(self, guest, apage, loc, t):
        done, data, in_memory = real_swap_in(self, guest, apage, loc, t)
        key = (guest, apage)
        if key in stored:
            seen["frontswap"] += 1
            assert in_memory and data == stored[key]
            assert done == pytest.approx(t + self.costs.hypercall + self.costs.page_copy)
        else:
            seen["disk"] += 1
            assert not in_memory
        return done, data, in_memory

    monkeypatch.setattr(Tmem, "frontswap_store", store)
    monkeypatch.setattr(Tmem, "frontswap_free", free)
    monkeypatch.setattr(Hypervisor, "swap_in", swap_in)
    # allowance 40 pages against an anonymous set of 150 pages over a 32-page cache
    g = guest("a", cache=32, max_memory=(64 + 32 + 40) * PAGE,
              anon={"size": 150, "fraction": 0.9, "alpha": 0.3, "read_fraction": 0.6})
    w = world_for(scenario([g], pool_pages=600, policies=["tmem"], check=True))
    out = w.run()
    c, pc = out.counters[0], out.policy_counters[0]
    assert seen["frontswap"] > 100 and seen["disk"] > 100, seen
    assert pc["frontswap_rejected"] > 0
    assert pc["frontswap_loads"] == c["swap_ins_memory"] == seen["frontswap"]
    assert c["swap_ins"] == seen["frontswap"] + seen["disk"]
    assert c["stale_reads"] == 0


def test_with_room_for_everything_no_swap_reaches_the_disk():
    g = guest("a", cache=32, max_memory=(64 + 32 + 400) * PAGE,
              anon={"size": 150, "fraction": 0.9, "alpha": 0.3, "read_fraction": 0.6})
    out = world_for(scenario([g], pool_pages=1200, policies=["tmem"], warmup=0)).run()
    c, pc = out.counters[0], out.policy_counters[0]
    assert c["swap_outs"] > 100 and c["swap_ins"] > 100
    assert pc["frontswap_rejected"] == 0
    assert pc["frontswap_stores"] == c["swap_outs"]
    assert pc["frontswap_loads"] == c["swap_ins"] == c["swap_ins_memory"]
    assert c["swap_disk_io"] == 0


def test_a_refused_store_goes_to_the_swap_disk():
    """No max_memory: allowance 0, every store is refused and every swap is disk I/O."""
    g = guest("a", cache=32, anon={"size": 150, "fraction": 0.9, "read_fraction": 0.5})
    d = scenario([g], pool_pages=1200, policies=["tmem"], warmup=0)
    w = world_for(d)
    assert w.policy.allowance == [0]
    out = w.run()
    c, pc = out.counters[0], out.policy_counters[0]
    assert pc["frontswap_stores"] == 0
    assert pc["frontswap_rejected"] == c["swap_outs"] > 0
    assert c["swap_disk_io"] == c["swap_outs"] + c["swap_ins"] > 0
    assert c["swap_ins_memory"] == 0
    row = tmemsim.simulate(tmemsim.load_scenario(d)).row()
    assert row["frontswap_stores"] == 0
    assert row["swap_disk_io"] > 0
    assert row["frontswap_rejected"] > 0


# ---------------------------------------------------------------------------------------------
# the allowance, and ballooning


def test_persistent_pages_never_exceed_the_allowance_under_ballooning(monkeypatch):
    high = Counter()
    real_store = Tmem.frontswap_store
    world_ref: list[World] = []

    def store(self, guest, apage, data):
        ok = real_store(self, guest, apage, data)
        w = world_ref[0]
        allowed = (w.max_memory[guest] - w.memory[guest]) // PAGE
        assert self.persistent_pages(guest) <= allowed
        assert self.persistent_pages(guest) <= self.allowance[guest]
        high[guest] = max(high[guest], self.persistent_pages(guest))
        return ok

    monkeypatch.setattr(Tmem, "frontswap_store", store)
    # a grows (large anon set) into a frontswap that is already charged; b shrinks
    a = guest("a", cache=48, max_memory=(64 + 48 + 64) * PAGE, balloon=balloon(80, "3ms", 4),
              anon={"size": 400, "fraction": 0.9, "alpha": 0.2, "read_fraction": 0.3})
    b = guest("b", cache=48, max_memory=(64 + 48 + 32) * PAGE, balloon=balloon(72, "3ms", 4),
              anon={"size": 12, "fraction": 0.3, "read_fraction": 0.5})
    w = world_for(scenario([a, b], pool_pages=1200, policies=["tmem"], check=True))
    world_ref.append(w)
    steps = []
    original = w.set_memory

    def checked(i, target, t):
        original(i, target, t)
        steps.append(i)
        for j in range(2):
            assert w.policy.persistent_pages(j) <= (w.max_memory[j] - w.memory[j]) // PAGE

    w.set_memory = checked
    out = w.run()
    assert steps
    # the bound was reached (the test is not vacuous): a ran out of allowance at some point
    assert out.policy_counters[0]["frontswap_rejected"] > 0
    assert high[0] >= 32
    assert w.memory[0] + w.policy.persistent_pages(0) * PAGE <= w.max_memory[0]


def test_floor_above_initial_memory_keeps_persistent_pages_within_allowance():
    g = {"name": "a", "memory": "2MiB", "reserved": "1MiB", "max_memory": "4MiB",
         "balloon": {"kind": "selfballoon", "interval": "200ms", "floor": "3MiB",
                     "headroom": 0},
         "disk": {"size": "16MiB"},
         "workload": {"kind": "uniform", "footprint": 16, "read_fraction": 1.0,
                      "anon": {"size": 1000, "fraction": 0.9}}}
    d = {"seed": 3, "duration": "500ms", "sample_interval": "100ms", "check": True,
         "host": {"memory": "32MiB", "reserved": "1MiB"}, "disks": {"d": {"kind": "ssd"}},
         "guests": [g], "policies": ["tmem"]}
    w = world_for(d)
    w.run()
    assert w.policy.persistent_pages(0) <= (w.max_memory[0] - w.memory[0]) // PAGE


@pytest.mark.parametrize("policy", ["none", "tmem", "host-cache"])
def test_ballooning_respects_the_floor_and_gives_memory_back(policy):
    small = guest("small", cache=200, reserved=64, balloon=balloon(64 + 40, "5ms", 8),
                  max_memory=(64 + 200 + 64) * PAGE,
                  anon={"size": 16, "fraction": 0.5, "read_fraction": 0.5})
    big = guest("big", cache=64, reserved=64, balloon=balloon(64 + 50, "5ms", 8),
                max_memory=(64 + 64 + 200) * PAGE,
                anon={"size": 600, "fraction": 0.8, "read_fraction": 0.5})
    d = scenario([small, big], pool_pages=800, policies=[policy], duration="100ms",
                 sample_interval="5ms", check=True)
    r = tmemsim.simulate(tmemsim.load_scenario(d), check=True)
    ts = r.timeseries
    mem = ts[ts["metric"] == "memory_pages"].groupby("guest")["value"]
    lowest, highest = mem.min(), mem.max()
    # never below the floor
    assert lowest["small"] >= 64 + 40
    assert lowest["big"] >= 64 + 50
    # small needs reserved + 16 anon pages + 8 headroom = 88 pages < floor: it sits at its floor
    assert lowest["small"] == 64 + 40 < 64 + 200
    # big needs more than it has: it grows above its initial memory, within max_memory
    assert highest["big"] > 64 + 64
    assert highest["big"] <= 64 + 64 + 200
    # the pool took what small gave and gave what big took
    pool = ts[(ts["metric"] == "pool_pages") & (ts["guest"] == "HOST")]["value"]
    per_time = ts[ts["metric"] == "memory_pages"].groupby("time_s")["value"].sum()
    host_pages = (d["host"]["memory"] - d["host"]["reserved"]) // PAGE
    assert (per_time.to_numpy() + pool.to_numpy() == host_pages).all()


# ---------------------------------------------------------------------------------------------
# swap counts against a hand computation and a reference model


class CyclicSampler(PageSampler):
    """0, 1, …, size−1, 0, 1, …: the anonymous set touched cyclically."""

    def __init__(self, size: int):
        self.size, self.pos = size, 0

    def draw(self, n: int) -> np.ndarray:
        out = (np.arange(n) + self.pos) % self.size
        self.pos += n
        return out


def _single_guest_swap_case(n_cache, anon_size, read_fraction, requests, policy="none"):
    g = guest("a", cache=n_cache, reserved=16, writeback_interval=0,
              anon={"size": anon_size, "fraction": 1.0, "alpha": 0.0,
                    "read_fraction": read_fraction},
              max_memory=(16 + n_cache + 4 * anon_size) * PAGE)
    d = scenario([g], pool_pages=4 * anon_size + 512, policies=[policy], warmup=0,
                 requests=requests)
    d.pop("duration")
    return world_for(d).run().counters[0]


@pytest.mark.parametrize("n_cache,k,requests", [(16, 4, 200), (16, 1, 17), (16, 4, 30),
                                                 (10, 30, 400)])
def test_cyclic_anonymous_reads_hand_computed(monkeypatch, n_cache, k, requests):
    """N cache pages, N+K anonymous pages read cyclically: LRU misses on every touch.

    The first N+K touches zero-fill; every later touch swaps in. Touch i ≥ N evicts the page
    touched at i − N; a page is swapped out once (dirty after its zero-fill), after that it comes
    back clean with its slot and leaves without I/O: swap_outs = min(R − N, N + K).
    """
    monkeypatch.setattr(workloads_base.Anon, "sampler",
                        lambda self, rng: CyclicSampler(self.size))
    size = n_cache + k
    c = _single_guest_swap_case(n_cache, size, 1.0, requests)
    assert c["requests"] == c["anon_touches"] == requests
    assert c["zero_fills"] == min(requests, size)
    assert c["swap_ins"] == max(requests - size, 0)
    assert c["swap_outs"] == min(max(requests - n_cache, 0), size)
    assert c["swap_disk_io"] == c["swap_outs"] + c["swap_ins"]
    assert c["disk_reads"] == c["swap_ins"] and c["disk_writes"] == c["swap_outs"]


@pytest.mark.parametrize("n_cache,k,requests", [(16, 4, 200), (8, 8, 100)])
def test_cyclic_anonymous_writes_hand_computed(monkeypatch, n_cache, k, requests):
    """The same cycle, every touch a write: every eviction swaps out (the page is dirty and the
    write freed its slot), so swap_outs = R − N."""
    monkeypatch.setattr(workloads_base.Anon, "sampler",
                        lambda self, rng: CyclicSampler(self.size))
    size = n_cache + k
    c = _single_guest_swap_case(n_cache, size, 0.0, requests)
    assert c["zero_fills"] == size
    assert c["swap_ins"] == requests - size
    assert c["swap_outs"] == requests - n_cache
    assert c["swap_disk_io"] == (requests - n_cache) + (requests - size)


def test_cyclic_counts_are_the_same_under_frontswap(monkeypatch):
    """The guest's swap decisions do not depend on the policy; only where the I/O goes does."""
    monkeypatch.setattr(workloads_base.Anon, "sampler",
                        lambda self, rng: CyclicSampler(self.size))
    none = _single_guest_swap_case(16, 20, 0.5, 300)
    tm = _single_guest_swap_case(16, 20, 0.5, 300, policy={"kind": "tmem", "keep_free": 0})
    for k in ("zero_fills", "swap_ins", "swap_outs", "anon_touches"):
        assert none[k] == tm[k], k
    assert none["swap_disk_io"] == none["swap_outs"] + none["swap_ins"] > 0
    assert tm["swap_disk_io"] == 0 and tm["swap_ins_memory"] == tm["swap_ins"]


def reference_model(ops, pages, capacity: int) -> Counter:
    """One LRU list over file pages and anonymous pages; a zero-filled or written anonymous page
    is dirty; evicting a dirty one swaps it out and gives it a slot; a swap-in keeps the slot (the
    page comes back clean); a write frees the slot. File pages are clean (read-only files)."""
    lru: OrderedDict = OrderedDict()
    dirty: set = set()
    slots: set = set()
    c = Counter()
    for op, page in zip(ops, pages, strict=True):
        if op == OP_READ:
            key = ("f", page)
        elif op in (OP_ANON_READ, OP_ANON_WRITE):
            key = ("a", page)
            c["anon_touches"] += 1
        else:
            raise AssertionError(f"unexpected op {op}")
        if key in lru:
            lru.move_to_end(key)
            c["hits"] += 1
        else:
            if key[0] == "f":
                c["file_misses"] += 1
            elif key in slots:
                c["swap_ins"] += 1
            else:
                c["zero_fills"] += 1
                dirty.add(key)
            lru[key] = None
            if len(lru) > capacity:
                victim, _ = lru.popitem(last=False)
                if victim in dirty:
                    dirty.discard(victim)
                    slots.add(victim)
                    c["swap_outs"] += 1
        if op == OP_ANON_WRITE:
            dirty.add(key)
            slots.discard(key)
    c["swap_disk_io"] = c["swap_outs"] + c["swap_ins"]
    return c


@pytest.mark.parametrize("n_cache,anon_size,fraction,alpha,read_fraction", [
    (64, 64 + 16, 1.0, 0.0, 0.5),
    (64, 200, 0.8, 0.7, 0.3),
    (32, 40, 0.5, 0.0, 1.0),
    (48, 500, 0.9, 1.1, 0.0),
])
def test_swap_counts_match_a_reference_lru_model(monkeypatch, n_cache, anon_size, fraction,
                                                 alpha, read_fraction):
    """Replay the exact requests the World consumed (recorded from its RequestStream) through
    reference_model and compare every swap counter exactly, under policy none."""
    chunks = []
    real_next = workloads_base.RequestStream.next_chunk

    def recording(self, n=workloads_base.CHUNK):
        chunk = real_next(self, n)
        chunks.append(chunk)
        return chunk

    monkeypatch.setattr(workloads_base.RequestStream, "next_chunk", recording)
    requests = 6000
    g = guest("a", cache=n_cache, reserved=16, writeback_interval=0,
              anon={"size": anon_size, "fraction": fraction, "alpha": alpha,
                    "read_fraction": read_fraction})
    g["workload"].update(read_fraction=1.0, footprint=48)
    d = scenario([g], policies=["none"], warmup=0, requests=requests)
    d.pop("duration")
    out = world_for(d).run()
    c = out.counters[0]
    ops = [op for chunk in chunks for op in chunk[0]][:requests]
    pages = [p for chunk in chunks for p in chunk[1]][:requests]
    assert len(ops) == requests == c["requests"]
    ref = reference_model(ops, pages, n_cache)
    for k in ("anon_touches", "zero_fills", "swap_ins", "swap_outs", "swap_disk_io"):
        assert c[k] == ref[k], (k, c[k], ref[k])
    assert c["guest_hits"] + c["anon_touches"] - ref["swap_ins"] - ref["zero_fills"] == ref["hits"]
    assert c["disk_reads"] == ref["file_misses"] + ref["swap_ins"]
    assert c["disk_writes"] == ref["swap_outs"]
    assert ref["swap_outs"] > 0 and ref["swap_ins"] > 0  # the case exercises swap


# ---------------------------------------------------------------------------------------------
# the swap-pressure scenario, shortened


def test_swap_pressure_frontswap_serves_swap_ins_from_memory():
    # duration=2s, warmup=1s alone never fills the 64 MiB page caches (the first seconds wait on
    # the HDD for the 256 file pages): smaller caches and a smaller file footprint make it swap
    r = tmemsim.compare(SCENARIOS / "swap-pressure.yaml", policies="none,tmem",
                        overrides=["duration=2s", "warmup=1s", "guests.0.memory=80MiB",
                                   "guests.0.workload.footprint=32"])
    s = r.summary
    rows = s[s["guest"] == "ALL"].set_index("policy")
    none, tm = rows.loc["none"], rows.loc["tmem"]
    assert none["swap_disk_io"] > 200
    assert tm["swap_disk_io"] <= 0.05 * none["swap_disk_io"]
    assert tm["frontswap_stores"] > 1000 and tm["frontswap_loads"] > 1000
    assert tm["frontswap_loads"] <= tm["frontswap_stores"]
    assert none["frontswap_stores"] == none["frontswap_loads"] == 0
    assert tm["throughput_ops"] > 2 * none["throughput_ops"]
    for policy in ("none", "tmem"):
        assert 0 < rows.loc[policy, "fairness_jain"] <= 1
        assert rows.loc[policy, "stale_reads"] == 0
    # per-guest rows carry no fairness figure; ALL's is Jain's index of their throughputs
    per_guest = s[(s["policy"] == "tmem") & (s["guest"] != "ALL")]
    assert per_guest["fairness_jain"].isna().all()
    x = per_guest["throughput_ops"].to_numpy()
    assert tm["fairness_jain"] == pytest.approx(x.sum() ** 2 / (len(x) * (x**2).sum()))


def test_jain_index_bounds():
    from tmemsim.results import jain

    assert jain([5, 5, 5]) == pytest.approx(1.0)
    assert jain([9, 0, 0]) == pytest.approx(1 / 3)
    assert 1 / 3 < jain([1, 2, 3]) < 1
