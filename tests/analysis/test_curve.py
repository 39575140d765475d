"""One-pass hit-ratio curves (tmemsim.analysis.curves) against full runs, brute force and
each other.

Exactness is checked in hit counts: a curve's reads, guest hits, host hits and disk reads at
a point equal those of a full run (World) of the scenario at that point. Runs end at a request
budget with no warm-up (both count the same requests), or at a duration where the times are
exact (one guest, flash disk). Several guests are exact when no outcome moves any time: zero
costs and a disk of zero service time fix every request's time to its think times.
"""

from __future__ import annotations

import copy
from collections import OrderedDict

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tmemsim
from tmemsim.analysis.curves import Curves, curve, read_curves
from tmemsim.analysis.curves import axes as curve_axes
from tmemsim.analysis.curves.pool import FLUSH, GET, PUT, pool_hits
from tmemsim.analysis.curves.ranks import (
    count_greater,
    kth_smallest,
    lru_distances,
    lru_evictions,
    previous_occurrence,
)
from tmemsim.analysis.curves.sampling import SampledStream
from tmemsim.analysis.curves.world import CurveWorld
from tmemsim.api import select_policies
from tmemsim.errors import ScenarioError
from tmemsim.model import World
from tmemsim.units import PAGE_SIZE

NO_COSTS = {"guest_hit": 0, "virtio": 0, "hypercall": 0, "page_copy": 0}
ZERO_DISK = {"kind": "custom", "read": 0}
COUNTS = ("reads", "guest_hits", "host_hits", "disk_reads")


def guest(**kw) -> dict:
    g = {"name": "g", "memory": "2MiB", "reserved": "512KiB", "disk": {"size": "64MiB"},
         "writeback_interval": 0,
         "workload": {"kind": "zipf", "alpha": 0.8, "footprint": 3000, "read_fraction": 1.0,
                      "think_time": {"kind": "exponential", "mean": "50us"}}}
    g.update(kw)
    return g


def scenario(**kw) -> dict:
    s = {"seed": 3, "requests": 6000, "sample_interval": "1000s",
         "host": {"memory": "64MiB", "reserved": "8MiB"},
         "disks": {"d": {"kind": "nvme"}}, "guests": [guest()],
         "policies": ["none", "host-cache", {"kind": "tmem", "keep_free": 0}, "tmem",
                      "dedup"]}
    s.update(kw)
    return s


def assert_exact(data: dict, axis: str = "pool", points: int = 5, value_range=None,
                 policies=None):
    """The curve equals a full run at every point, in every count of every guest."""
    s = tmemsim.load_scenario(copy.deepcopy(data))
    specs = select_policies(s, policies)
    c = curve(s, specs, axis=axis, points=points, value_range=value_range)
    t = c.table
    checked = 0
    for pt in curve_axes.points(s, axis, points, curve_axes.parse_range(value_range)):
        ps = curve_axes.point_scenario(s, axis, pt)
        for spec in specs:
            out = World(ps, spec).run()
            for g, name in enumerate(out.guest_names):
                row = t[(t.policy == spec.name) & (t.axis_bytes == pt.value) & (t.guest == name)
                        & (t.source == "curve")].set_index("metric")["value"]
                got = {m: int(row[m]) for m in COUNTS}
                want = {m: out.counters[g][m] for m in COUNTS}
                assert got == want, (spec.name, pt, name)
                checked += 1
    assert checked
    return c


# ---------------------------------------------------------------- the vectorised pieces


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 12), max_size=60))
def test_lru_distances_count_the_distinct_keys_since_the_last_access(keys):
    keys = np.array(keys, dtype=np.int64)
    d = lru_distances(keys)
    for i in range(len(keys)):
        before = np.flatnonzero(keys[:i] == keys[i])
        want = -1 if not len(before) else len(set(keys[before[-1] + 1:i].tolist()))
        assert d[i] == want


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=50), st.data())
def test_wavelet_counts_and_quantiles_match_sorting(values, data):
    v = np.array(values, dtype=np.int64)
    n = len(v)
    lo = data.draw(st.integers(0, n - 1))
    hi = data.draw(st.integers(lo + 1, n))
    threshold = data.draw(st.integers(-2, 45))
    k = data.draw(st.integers(0, hi - lo - 1))
    got = count_greater(v, np.array([lo]), np.array([hi]), np.array([threshold]))[0]
    assert got == int((v[lo:hi] > threshold).sum())
    assert kth_smallest(v, np.array([lo]), np.array([hi]), np.array([k]))[0] == \
        np.sort(v[lo:hi])[k]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 15), max_size=70), st.integers(1, 8))
def test_lru_evictions_are_those_of_an_lru_cache(keys, capacity):
    keys = np.array(keys, dtype=np.int64)
    n = len(keys)
    cache: OrderedDict = OrderedDict()
    last, evicted = {}, np.full(n, n)
    for i, k in enumerate(keys.tolist()):
        if k in cache:
            cache.move_to_end(k)
        else:
            cache[k] = None
            if len(cache) > capacity:
                evicted[last[cache.popitem(last=False)[0]]] = i
        last[k] = i
    prev = previous_occurrence(keys)
    nxt = np.full(n, n)
    nxt[prev[prev >= 0]] = np.flatnonzero(prev >= 0)
    u = lru_evictions(prev, capacity)
    assert np.array_equal(np.where(u < nxt, u, n), evicted)


def _pools(kinds, keys, capacities):
    """One oldest-put-first pool per capacity, exclusive gets, flushes: the first capacity
    index at which each event finds its key (the set must be a suffix)."""
    pools = [OrderedDict() for _ in capacities]
    first = np.full(len(kinds), len(capacities))
    for i, (kind, key) in enumerate(zip(kinds, keys, strict=True)):
        found = []
        for j, (cap, pool) in enumerate(zip(capacities, pools, strict=True)):
            if kind == PUT:
                pool.pop(key, None)
                if cap:
                    while len(pool) >= cap:
                        pool.popitem(last=False)
                    pool[key] = True
            elif pool.pop(key, False):
                found.append(j)
        if kind != PUT and found:
            assert found == list(range(found[0], len(capacities)))
            first[i] = found[0]
    return first


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from([PUT, PUT, GET, GET, FLUSH]), st.integers(0, 10)),
                max_size=80),
       st.lists(st.integers(0, 9), min_size=1, max_size=6, unique=True))
def test_the_pool_criterion_is_one_pool_per_capacity(events, capacities):
    kinds = np.array([k for k, _ in events], dtype=np.int8)
    keys = np.array([key for _, key in events], dtype=np.int64)
    capacities = sorted(capacities)
    got = pool_hits(kinds, keys, capacities)
    want = _pools(kinds.tolist(), keys.tolist(), capacities)
    removals = kinds != PUT
    assert np.array_equal(got[removals], want[removals])


# ---------------------------------------------------------------- replays


@pytest.mark.parametrize("kw", [
    {},
    {"workload": {"kind": "zipf", "alpha": 0.9, "footprint": 2000, "read_fraction": 0.7,
                  "dup_writes": 0.3}},
    {"workload": {"kind": "uniform", "footprint": 1500, "read_fraction": 0.8, "sync": True}},
    {"disk": {"image": "base", "clone": "cow"},
     "workload": {"kind": "zipf", "alpha": 0.7, "footprint": 2500, "read_fraction": 0.85}},
    {"memory": "516KiB"},  # a page cache of one page
])
def test_the_vectorised_lru_replay_is_the_python_replay(kw):
    data = scenario(guests=[guest(**kw)], images={"base": {"size": "32MiB"}})
    s = tmemsim.load_scenario(data)
    fast, slow = CurveWorld(s), CurveWorld(s)
    slow.python = True
    g = s.expanded_guests()[0][1]
    a = fast.replay(0, g, g.cache_pages(), record_accesses=True)
    b = slow.replay(0, g, g.cache_pages(), record_accesses=True)
    for field in ("op", "gap", "hit", "ev_kind", "ev_req", "ev_when", "ev_vpage", "ev_loc",
                  "ev_data", "ev_aux", "ev_call", "accesses", "access_req"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    assert len(a.ev_kind) > 100


# ---------------------------------------------------------------- exact against full runs


def test_one_guest_on_the_pool_axis_is_exact_for_every_policy():
    data = scenario(guests=[guest(workload={"kind": "zipf", "alpha": 0.8, "footprint": 3000,
                                            "read_fraction": 0.8, "dup_writes": 0.2})])
    data["policies"] += [{"kind": "host-cache", "mode": "writeback"}]
    c = assert_exact(data, points=6, value_range="0:12MiB")
    host = c.series("host-cache", "host_hits")
    assert host.iloc[0] == 0 and host.iloc[-1] > 1000  # the curve does move


def test_one_guest_is_exact_with_fifo_and_clock_caches_and_python_replays():
    for cache in ("fifo", "clock", "twolist"):
        assert_exact(scenario(guests=[guest(cache=cache)]), points=4, value_range="0:12MiB",
                     policies=["host-cache", "tmem"])


def test_one_guest_with_a_warm_up_and_a_duration_is_exact_on_a_flash_disk():
    data = scenario(requests=None, duration="150ms", warmup="50ms")
    assert_exact(data, points=5, value_range="0:12MiB")


def test_guest_memory_axis_is_an_lru_of_every_size():
    c = assert_exact(scenario(), axis="guest-memory", points=5, value_range="1MiB:12MiB",
                     policies=["none", "host-cache"])
    ratios = c.series("none").to_numpy()
    assert (np.diff(ratios) >= 0).all() and ratios[-1] > ratios[0] + 0.2


def test_split_axis_is_exact_for_one_guest():
    assert_exact(scenario(host={"memory": "16MiB", "reserved": "2MiB"}), axis="split",
                 points=4, value_range="1MiB:12MiB")


def test_the_global_pool_is_exact_when_no_outcome_moves_any_time():
    """Three guests share tmem's one oldest-put list (and a host cache): with zero costs and a
    zero-time disk every request starts at its think times whatever hits, so the curve's
    order is the run's at every size and the counts must be equal."""
    guests = [guest(name=f"g{i}", workload={
        "kind": "zipf", "alpha": 0.6 + 0.2 * i, "footprint": 2000 + 500 * i,
        "read_fraction": 0.9, "think_time": {"kind": "exponential", "mean": f"{30 + 20 * i}us"}})
        for i in range(3)]
    data = scenario(guests=guests, host={"memory": "64MiB", "reserved": "8MiB",
                                         "costs": NO_COSTS},
                    disks={"d": ZERO_DISK}, requests=5000)
    c = assert_exact(data, points=6, value_range="0:24MiB")
    assert c.meta["engines"]["tmem"]["order"].startswith("times")


def test_policies_served_by_instances_are_exact_for_one_guest():
    data = scenario(guests=[guest(disk={"image": "base", "clone": "cow"})],
                    images={"base": {"size": "32MiB", "internal_dup": 0.3}},
                    policies=[{"kind": "tmem", "pool": "shared"}, {"kind": "tmem", "dedup": True},
                              {"kind": "host-cache", "cache": "fifo"}])
    c = assert_exact(data, points=4, value_range="0:12MiB")
    assert {e["engine"] for e in c.meta["engines"].values()} == {"instances"}


def test_anonymous_memory_and_frontswap_are_exact_for_one_guest():
    g = guest(memory="3MiB", max_memory="5MiB",
              workload={"kind": "uniform", "footprint": 300, "read_fraction": 1.0,
                        "anon": {"size": 1500, "fraction": 0.7, "alpha": 0.5}})
    assert_exact(scenario(guests=[g], policies=["none", "host-cache", "tmem"]), points=4,
                 value_range="0:8MiB")


def test_several_guests_with_real_costs_are_close():
    """The approximation: guests ordered by the times at a reference size."""
    guests = [guest(name=f"g{i}", count=2, disk={"image": "base", "clone": "cow"},
                    workload={"kind": "zipf", "alpha": 0.8, "footprint": 2500,
                              "read_fraction": 0.95,
                              "think_time": {"kind": "exponential", "mean": "40us"}})
              for i in range(1)]
    data = scenario(guests=guests, images={"base": {"size": "32MiB"}}, requests=6000,
                    warmup="20ms", disks={"d": {"kind": "ssd"}})
    s = tmemsim.load_scenario(data)
    c = curve(s, select_policies(s), points=5, value_range="0:16MiB", check_points=3)
    errors = c.errors()
    assert len(errors) == 3 * len(s.policy_specs())
    assert errors.error.abs().max() <= 0.005, errors


def assert_close(data: dict, tolerance: float, points: int = 3, value_range="0:16MiB"):
    """The curve within `tolerance` (read hit ratio) of full runs at every point."""
    s = tmemsim.load_scenario(copy.deepcopy(data))
    c = curve(s, s.policy_specs(), points=points, value_range=value_range,
              check_points=points)
    errors = c.errors()
    assert len(errors) == points * len(s.policy_specs())
    assert errors.error.abs().max() <= tolerance, errors
    return c


@pytest.mark.parametrize("kw, timed", [
    # the flusher writes back during the run, files are truncated and recreated
    ({"writeback_interval": "5ms", "dirty_expire": "10ms",
      "workload": {"kind": "zipf", "alpha": 0.8, "footprint": 3000, "read_fraction": 0.7,
                   "churn": {"rate": "200/s"},
                   "think_time": {"kind": "exponential", "mean": "50us"}}}, True),
    # two closed-loop threads interleave by their latencies
    ({"workload": {"kind": "zipf", "alpha": 0.8, "footprint": 3000, "threads": 2,
                   "think_time": {"kind": "exponential", "mean": "50us"}}}, True),
    # an open loop: requests keep arriving while a miss is out
    ({"workload": {"kind": "zipf", "alpha": 0.8, "footprint": 3000,
                   "arrival": {"kind": "poisson", "rate": "20000/s"}}}, True),
])
def test_timed_guests_are_close(kw, timed):
    data = scenario(guests=[guest(**kw)], policies=["none", "host-cache", "tmem"])
    c = assert_close(data, 0.01)
    assert c.meta["engines"]["tmem"]["timed_guests"] == ([0] if timed else [])


def test_phases_and_several_guests_are_close():
    phase = {"kind": "zipf", "alpha": 0.8, "footprint": 2500,
             "think_time": {"kind": "exponential", "mean": "50us"}}
    small = {**phase, "footprint": 300}
    guests = [guest(name=f"g{i}", workload={"kind": "phases", "phases": [
        {"duration": "100ms", "workload": phase if i == j else small} for j in range(2)]})
        for i in range(2)]
    # phase switches are placed on the reference clock (a miss costs a disk read): the
    # shorter the phases, the more a pool that speeds the guests up moves them
    assert_close(scenario(guests=guests, requests=None, duration="300ms", warmup="100ms",
                          policies=["host-cache", "tmem"]), 0.01)


# ---------------------------------------------------------------- sampling


def test_a_sampled_stream_keeps_think_time_and_counts_the_budget():
    class Stream:
        def __init__(self):
            self.i = 0

        def next_chunk(self):
            if self.i >= 5:
                return [], [], [], []
            self.i += 1
            pages = list(range(self.i * 100, self.i * 100 + 100))
            return [0] * 100, pages, [1.0] * 100, [False] * 100

    out = SampledStream(Stream(), 0.3, budget=350)
    ops, pages, gaps = [], [], []
    while True:
        o, p, g, _ = out.next_chunk()
        if not o:
            break
        ops += o
        pages += p
        gaps += g
    assert 0.15 * 350 < len(pages) < 0.45 * 350 and max(pages) < 450
    assert out.start + sum(gaps) == pytest.approx(350.0)


def test_sampling_follows_the_exact_curve():
    data = scenario(guests=[guest(memory="16MiB", reserved="4MiB", disk={"size": "256MiB"},
                                  workload={"kind": "zipf", "alpha": 0.8,
                                            "footprint": 40000, "read_fraction": 1.0})],
                    host={"memory": "512MiB", "reserved": "8MiB"}, requests=60000,
                    policies=["host-cache", "tmem"])
    s = tmemsim.load_scenario(data)
    exact = curve(s, s.policy_specs(), points=8, value_range="0:160MiB")
    sampled = curve(s, s.policy_specs(), points=8, value_range="0:160MiB", sample=0.1)
    assert sampled.meta["sample"] == 0.1
    for p in ("host-cache", "tmem"):
        diff = sampled.series(p).to_numpy() - exact.series(p).to_numpy()
        assert np.abs(diff).mean() <= 0.01, (p, diff)
        reads = sampled.series(p, "reads").to_numpy() / exact.series(p, "reads").to_numpy()
        assert np.all(np.abs(reads - 1) < 0.2)  # counts are scaled back


# ---------------------------------------------------------------- input and results


def test_memory_that_moves_by_itself_is_refused_with_its_path():
    balloon = {"kind": "selfballoon", "floor": "1MiB", "headroom": "128KiB"}
    s = tmemsim.load_scenario(scenario(guests=[guest(balloon=balloon)]))
    with pytest.raises(ScenarioError) as err:
        curve(s, s.policy_specs(), axis="split", points=3)
    assert err.value.path == "guests[0].balloon"
    grows = tmemsim.load_scenario(scenario(guests=[guest(
        memory="2MiB", max_memory="8MiB",
        balloon={"kind": "selfballoon", "floor": "1MiB", "headroom": "4MiB"})]))
    with pytest.raises(ScenarioError, match="grow"):
        curve(grows, grows.policy_specs(), points=3)


def test_ksm_is_refused_with_its_path():
    d = scenario(policies=["none", {"kind": "host-cache", "ksm": True}])
    s = tmemsim.load_scenario(d)
    with pytest.raises(ScenarioError, match="KSM") as err:
        curve(s, s.policy_specs(), points=3)
    assert err.value.path == "policies[1].ksm"
    d = scenario(host={"memory": "64MiB", "reserved": "8MiB", "ksm": {}})
    s = tmemsim.load_scenario(d)
    with pytest.raises(ScenarioError, match="KSM") as err:
        curve(s, s.policy_specs(), points=3)
    assert err.value.path == "host.ksm"
    s = tmemsim.load_scenario(scenario(policies=[{"kind": "none", "ksm": False},
                                                 {"kind": "tmem", "ksm": False}],
                                       host=d["host"]))
    assert curve(s, s.policy_specs(), points=3).table is not None  # KSM off for each


def test_ballooning_that_shrinks_guests_gives_the_pool_their_memory():
    balloon = {"kind": "selfballoon", "floor": "1MiB", "headroom": "128KiB",
               "interval": "1ms"}
    s = tmemsim.load_scenario(scenario(guests=[guest(balloon=balloon)], policies=["tmem"],
                                       requests=4000))
    c = curve(s, s.policy_specs(), points=3, value_range="0:4MiB", check_points=3)
    assert c.errors().error.abs().max() < 0.03


def test_ranges_points_and_bad_input():
    s = tmemsim.load_scenario(scenario())
    pts = curve_axes.points(s, "pool", 5, curve_axes.parse_range("1MiB:5MiB"))
    assert [p.value for p in pts] == [i << 20 for i in range(1, 6)]
    assert all(p.value % PAGE_SIZE == 0 for p in curve_axes.points(s, "split", 7, None))
    with pytest.raises(ValueError, match="range"):
        curve_axes.parse_range("1MiB")
    with pytest.raises(ScenarioError, match="no page cache"):
        curve(s, s.policy_specs(), axis="guest-memory", points=3, value_range="0:1MiB")
    with pytest.raises(ScenarioError, match="axis"):
        curve(s, s.policy_specs(), axis="disk", points=3)


def test_curves_are_saved_atomically_and_read_back(tmp_path):
    s = tmemsim.load_scenario(scenario())
    c = curve(s, s.policy_specs()[:2], points=3, value_range="0:4MiB")
    out = c.save(tmp_path / "c")
    assert {p.name for p in out.iterdir()} == {"curves.parquet", "meta.json", "scenario.yaml",
                                               "curve.png", "curve.svg"}
    back = read_curves(out)
    assert isinstance(back, Curves) and back.table.equals(c.table)
    assert back.meta["axis"] == "pool" and back.meta["points"] == 3
    with pytest.raises(FileExistsError):
        c.save(out)
    c.save(out, force=True)
    assert read_curves(out).table.equals(c.table)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]  # nothing left beside it


# ---------------------------------------------------------------- the command line


def test_the_curve_command_writes_its_directory_and_prints_a_table(tmp_path):
    from click.testing import CliRunner

    from tmemsim.cli import main

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario(), sort_keys=False))
    out = tmp_path / "c"
    r = CliRunner().invoke(main, ["curve", str(path), "--points", "4", "--range", "0:8MiB",
                                  "--policies", "none,tmem", "--check-points", "2",
                                  "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "┃   tmem ┃" in r.output and "largest |curve - run| 0.0000" in r.output
    c = read_curves(out)
    assert c.meta["policies"] == ["none", "tmem"]
    assert set(c.table.source) == {"curve", "simulated"}
    assert c.errors().error.abs().max() == 0  # one guest, a request budget: exact
    again = CliRunner().invoke(main, ["curve", str(path), "--out", str(out)])
    assert again.exit_code == 2 and "exists" in again.output


def test_curve_force_never_replaces_a_users_folder(tmp_path):
    from click.testing import CliRunner

    from tmemsim.cli import main

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario(), sort_keys=False))
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    r = CliRunner().invoke(main, ["curve", str(path), "--points", "2", "--out", str(precious),
                                  "--force"])
    assert r.exit_code == 2 and "not a tmemsim results directory" in r.output
    assert (precious / "thesis.tex").read_text() == "years of work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious", "s.yaml"]


@pytest.mark.parametrize("args, fragment", [
    (["--range", "1MiB"], "range: expected a range"),
    (["--points", "0"], "points: expected at least 1"),
    (["--sample", "0"], "sample: expected a sampling rate"),
    (["--axis", "guest-memory", "--range", "1KiB:4MiB"], "s.yaml, guests: range"),
])
def test_bad_curve_input_is_one_line_and_exit_2(tmp_path, args, fragment):
    from click.testing import CliRunner

    from tmemsim.cli import main

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario(), sort_keys=False))
    r = CliRunner().invoke(main, ["curve", str(path), *args, "--out", str(tmp_path / "c")])
    assert r.exit_code == 2
    assert fragment in r.output and len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "c").exists()


def test_tmemsim_curve_is_the_python_api():
    c = tmemsim.curve(scenario(), points=3, value_range="0:4MiB", policies="tmem")
    assert isinstance(c, tmemsim.Curves) and c.meta["policies"] == ["tmem"]
    assert len(c.series("tmem")) == 3


def test_the_api_layer_does_not_import_the_curves_above_it():
    """analysis sits above api (PLAN15's layers): importing tmemsim.api loads no analysis
    module, and tmemsim.curve is the curves package's own public function."""
    import subprocess
    import sys

    code = ("import sys, tmemsim.api; "
            "print(sorted(m for m in sys.modules if m.startswith('tmemsim.analysis')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
    from tmemsim.analysis.curves import public

    assert tmemsim.curve is public.curve
    assert not hasattr(tmemsim.api, "curve")


@pytest.mark.parametrize("inference", [{}, {"accuracy": 0.7, "cost": "5us"}])
def test_host_exclusive_is_exact_for_one_guest(inference):
    """An exclusive host cache filled by inferred evictions: served by the policy itself, its
    evictions priced as it prices them (a trap, and a copy when a page enters): with a warm-up
    and a duration, the window's requests depend on those prices."""
    data = scenario(guests=[guest(workload={"kind": "zipf", "alpha": 0.8, "footprint": 3000,
                                            "read_fraction": 0.8})],
                    requests=None, duration="150ms", warmup="50ms",
                    policies=[{"kind": "host-exclusive", "name": "hx", "inference": inference}])
    c = assert_exact(data, points=4, value_range="0:12MiB")
    assert c.series("hx", "host_hits").iloc[-1] > 500


def test_a_compressed_pool_is_exact_for_one_guest_in_a_timed_run():
    """Its puts cost the compression and its get hits the decompression (the policy's
    eviction_costs and read_costs), so a timed window holds the run's requests."""
    data = scenario(requests=None, duration="150ms", warmup="50ms",
                    policies=[{"kind": "tmem", "name": "ztmem", "keep_free": 0,
                               "compress": {"allocator": "zbud"}}])
    c = assert_exact(data, points=4, value_range="0:8MiB")
    assert c.series("ztmem", "host_hits").iloc[-1] > 100


def test_a_guest_that_reads_ahead_is_refused_with_its_path():
    s = tmemsim.load_scenario(scenario(guests=[guest(readahead={"max": "128KiB"})]))
    with pytest.raises(ScenarioError, match="reads ahead") as err:
        curve(s, s.policy_specs(), points=3)
    assert err.value.path == "guests[0].readahead"
    s = tmemsim.load_scenario(scenario(guests=[guest(readahead={"max": 0})]))
    curve(s, s.policy_specs(), points=3)  # off: curved as before
