"""The SimPy world: determinism, batched == unbatched, disks fed in time order, request
accounting, the LRU guest cache against libCacheSim, an M/M/1 disk against queueing theory, and
dirty-page write-back."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tmemsim
from tmemsim.api import select_policies
from tmemsim.caches import LRU
from tmemsim.model import World
from tmemsim.model.anon import AnonMemory
from tmemsim.model.disk import Disk
from tmemsim.results import Result
from tmemsim.units import PAGE_SIZE
from tmemsim.workloads.traces import write_oracle_general

ALL_POLICIES = [
    "none",
    "host-cache",
    {"kind": "host-cache", "mode": "writeback", "dirty_expire": "200ms",
     "writeback_interval": "100ms"},
    "tmem",
    {"kind": "tmem", "pool": "shared"},
    "dedup",
]
NO_COSTS = {"guest_hit": 0, "virtio": 0, "hypercall": 0, "page_copy": 0}


def guest(name="g", **kw) -> dict:
    g = {"name": name, "memory": "8MiB", "reserved": "2MiB", "disk": {"size": "256MiB"},
         "workload": {"kind": "zipf", "alpha": 0.9, "footprint": 20000}}
    g.update(kw)
    return g


def workload(**kw) -> dict:
    return {"kind": "zipf", "alpha": 0.9, "footprint": 20000, **kw}


def scenario(**kw) -> dict:
    s = {"seed": 7, "duration": "1s", "sample_interval": "250ms",
         "host": {"memory": "512MiB", "reserved": "64MiB"},
         "disks": {"d": {"kind": "ssd"}}, "guests": [guest()]}
    s.update(kw)
    return s


def simulate(d, policy=None, **overrides):
    d = copy.deepcopy(d)
    d.update(overrides)
    return tmemsim.simulate(tmemsim.load_scenario(d), policy=policy)


def run_world(d, policy=None):
    s = tmemsim.load_scenario(d)
    spec = select_policies(s, [policy] if policy else None)[0]
    return World(s, spec).run()


# ---------------------------------------------------------------------------------------------
# determinism and common random numbers


def test_same_seed_gives_identical_results():
    d = scenario(guests=[guest("a", workload=workload(read_fraction=0.8, threads=2,
                                                      think_time={"kind": "exponential",
                                                                  "mean": "200us"})),
                         guest("b", workload={"kind": "uniform", "footprint": 4000,
                                              "think_time": "50us"})],
                 policies=["tmem"])
    one, two = simulate(d), simulate(d)
    pd.testing.assert_frame_equal(one.summary, two.summary)
    pd.testing.assert_frame_equal(one.timeseries, two.timeseries)
    pd.testing.assert_frame_equal(one.latency, two.latency)
    assert one.row().requests > 1000


def test_different_seed_gives_different_results():
    d = scenario()
    one, other = simulate(d), simulate(d, seed=8)
    assert one.row().guest_hits != other.row().guest_hits
    with pytest.raises(AssertionError):
        pd.testing.assert_frame_equal(one.summary, other.summary)


def test_every_policy_sees_the_same_requests():
    """Common random numbers: with a request budget and one thread, the guest's own cache sees
    the same sequence whatever the policy, so its hits are identical too."""
    d = scenario(duration=None, requests=20000, policies=ALL_POLICIES,
                 guests=[guest(workload=workload(read_fraction=0.9))])
    rows = [simulate(d, policy=p.name).row() for p in select_policies(tmemsim.load_scenario(d))]
    for col in ("requests", "reads", "writes"):
        assert len({r[col] for r in rows}) == 1, col
    # a transparent host cache never changes the guest's page cache
    assert len({r.guest_hits for r in rows}) == 1
    assert rows[0].requests == 20000 and rows[0].host_hits == 0  # policy none
    assert all(r.host_hits > 0 for r in rows[1:])


# ---------------------------------------------------------------------------------------------
# batched == unbatched


def _mixed() -> dict:
    return scenario(
        policies=ALL_POLICIES,
        guests=[
            guest("a", dirty_expire="300ms", writeback_interval="100ms",
                  workload=workload(read_fraction=0.8, think_time="100us")),
            guest("b", count=2, dirty_expire="300ms", writeback_interval="100ms",
                  workload={"kind": "uniform", "footprint": 5000, "read_fraction": 0.9,
                            "think_time": {"kind": "exponential", "mean": "200us"}}),
        ])


def _cow() -> dict:
    w = workload(alpha=0.8, footprint=16000, read_fraction=0.9, think_time="100us")
    return scenario(
        images={"base": {"size": "64MiB", "zero_fraction": 0.1}},
        policies=["host-cache", "tmem", {"kind": "tmem", "pool": "shared"}, "dedup"],
        guests=[guest("c", count=2, disk={"image": "base", "clone": "cow"}, workload=w),
                guest("p", disk={"image": "base", "clone": "copy"}, workload=w)])



def _swap() -> dict:
    """Anonymous working sets above guest memory on one single-channel ssd: swap-ins end after
    others' requests start, and the page they evict may have to be swapped out."""
    anon = {"size": "2MiB", "fraction": 0.9, "alpha": 0.6, "read_fraction": 0.5}
    small = {"memory": "3MiB", "reserved": "2MiB"}  # 256 pages of page cache
    return scenario(
        disks={"d": {"kind": "ssd", "channels": 1}}, duration="300ms",
        policies=["none", "host-cache", "tmem"],
        guests=[guest("s", count=2, **small, max_memory="4MiB",
                      workload=workload(footprint=256, anon=anon, think_time="50us")),
                guest("t", **small, workload=workload(footprint=256, anon=anon, threads=2,
                                                      think_time="50us"))])


def _churn() -> dict:
    """Files truncated and written anew, O_SYNC and not, by churn and by a script's thread."""
    steps = [f"{op} {page}" for page in range(0, 96, 3) for op in ("w", "r", "t")]
    return scenario(
        policies=["none", "tmem", "dedup"], duration="400ms",
        guests=[guest("c", count=2, dirty_expire="20ms", writeback_interval="10ms",
                      workload=workload(read_fraction=0.5, sync=True, think_time="20us",
                                        churn={"rate": "200/s"})),
                guest("w", workload=workload(read_fraction=0.5, think_time="20us",
                                             churn={"rate": "500/s"})),
                guest("s", workload={"kind": "script", "steps": steps, "sync": True,
                                     "think_time": "10us"})])


def _open_anon() -> dict:
    anon = {"size": "12MiB", "fraction": 0.5, "alpha": 0.6, "read_fraction": 0.5}
    return scenario(policies=["none", "tmem"], guests=[guest(workload=workload(
        anon=anon, arrival={"kind": "poisson", "rate": "20000/s"}))])


# work a request does after its start: swap-ins, truncated files rewritten, anonymous faults
# in an open loop
LATER_WORK_CASES = [
    *[pytest.param(_swap(), p, id=f"swap-{p}") for p in ["none", "host-cache", "tmem"]],
    *[pytest.param(_churn(), p, id=f"churn-{p}") for p in ["none", "tmem", "dedup"]],
    *[pytest.param(_open_anon(), p, id=f"open-loop-anon-{p}") for p in ["none", "tmem"]],
]

ENGINE_CASES = [
    pytest.param(scenario(), None, id="single-thread"),
    pytest.param(scenario(guests=[guest(workload=workload(
        threads=3, think_time={"kind": "exponential", "mean": "1ms"}))]), None,
        id="three-threads"),
    *[pytest.param(_mixed(), spec, id=f"mixed-{i}-{spec if isinstance(spec, str) else spec['kind']}")
      for i, spec in enumerate(ALL_POLICIES)],
    pytest.param(scenario(guests=[guest(workload=workload(
        arrival={"kind": "poisson", "rate": "20000/s"}))]), None, id="open-loop-poisson",
        ),
    pytest.param(scenario(guests=[guest(dirty_expire="50ms", writeback_interval="20ms",
                                        workload=workload(read_fraction=0.6,
                                                          think_time="50us"))]), None,
                 id="writes-short-dirty-expire"),
    *[pytest.param(_cow(), p, id=f"cow-copy-{p}")
      for p in ["host-cache", "tmem", "tmem+pool=shared", "dedup"]],
    *LATER_WORK_CASES,
]


def _policy_name(d, spec):
    if spec is None or isinstance(spec, str):
        return spec
    s = tmemsim.load_scenario({**d, "policies": [spec]})
    return s.policy_specs()[0].name


@pytest.mark.parametrize("d, policy", ENGINE_CASES)
def test_batched_equals_unbatched(d, policy):
    name = _policy_name(d, policy)
    batched = simulate(d, policy=name, engine="batched")
    unbatched = simulate(d, policy=name, engine="unbatched")
    pd.testing.assert_frame_equal(batched.summary, unbatched.summary)
    pd.testing.assert_frame_equal(batched.timeseries, unbatched.timeseries)
    pd.testing.assert_frame_equal(batched.latency, unbatched.latency)
    all_row = batched.row()
    assert all_row.requests > 1000 and all_row.disk_reads > 0


def assert_engines_agree(d, policy=None):
    """The batched and the unbatched engine give the same summary, timeseries and latency."""
    batched = simulate(d, policy=policy, engine="batched")
    unbatched = simulate(d, policy=policy, engine="unbatched")
    pd.testing.assert_frame_equal(batched.summary, unbatched.summary)
    pd.testing.assert_frame_equal(batched.timeseries, unbatched.timeseries)
    pd.testing.assert_frame_equal(batched.latency, unbatched.latency)
    return batched.row()


def test_batched_equals_unbatched_every_policy_example(policy_example):
    """Every registered policy, with each option set it declares (conftest lists them)."""
    kind, options = policy_example
    d = _mixed()
    d.update(duration="150ms", policies=[{"kind": kind, **options}])
    row = assert_engines_agree(d)
    assert row.requests > 1000 and row.disk_reads > 0


def test_batched_equals_unbatched_every_workload_example(workload_example_spec):
    """Every registered workload kind, with each example spec it declares (conftest lists
    them), under a transparent and a tmem policy."""
    d = scenario(duration="60ms", policies=["host-cache", "tmem"],
                 guests=[guest(dirty_expire="20ms", writeback_interval="10ms",
                               workload=workload_example_spec)])
    for policy in ("host-cache", "tmem"):
        assert assert_engines_agree(d, policy).requests > 0


# ---------------------------------------------------------------------------------------------
# every disk is fed in time order
#
# A disk computes each completion when the I/O is submitted, so it is a FIFO queue only if I/Os
# reach it in the order they arrive. Work the guest does after its request's start (the eviction
# when a swap-in's page arrives, the writes of a truncated file) must wait in the agenda when
# something else could come first.


def _arrivals(monkeypatch) -> dict:
    seen: dict = {}
    submit = Disk.submit

    def recording(self, t, block, is_write):
        seen.setdefault(self.name, []).append(t)
        return submit(self, t, block, is_write)

    monkeypatch.setattr(Disk, "submit", recording)
    return seen


def _out_of_order(seen: dict) -> dict:
    late = {}
    for name, times in seen.items():
        latest = np.maximum.accumulate(np.asarray(times))
        early = latest - np.asarray(times)
        if early.max() > 0:
            late[name] = (int((early > 0).sum()), len(times), float(early.max()))
    return late


@pytest.mark.parametrize("d, policy", LATER_WORK_CASES)
@pytest.mark.parametrize("engine", ["batched", "unbatched"])
def test_every_disk_sees_its_requests_in_time_order(monkeypatch, d, policy, engine):
    seen = _arrivals(monkeypatch)
    out = run_world({**d, "engine": engine}, policy)
    assert sum(map(len, seen.values())) > 100, "too few I/Os to test anything"
    assert _out_of_order(seen) == {}, "(late I/Os, all I/Os, most seconds early) per disk"
    assert sum(c["swap_ins"] + c["truncates"] for c in out.counters) > 0  # what's tested ran


@st.composite
def io_heavy_scenarios(draw):
    """1–3 guests on a shared 1–2 channel disk: swap, truncates, O_SYNC writes, open loops."""
    guests = []
    for i in range(draw(st.integers(1, 3))):
        w = workload(footprint=draw(st.sampled_from([300, 3000])),
                     read_fraction=draw(st.sampled_from([0.5, 0.9, 1.0])),
                     sync=draw(st.booleans()))
        if draw(st.booleans()):
            w["arrival"] = {"kind": "poisson", "rate": draw(st.sampled_from(["5000/s",
                                                                             "50000/s"]))}
        else:
            w["threads"] = draw(st.integers(1, 3))
            w["think_time"] = {"kind": "exponential", "mean": "100us"}
        if draw(st.booleans()):
            w["anon"] = {"size": draw(st.sampled_from(["2MiB", "12MiB"])),
                         "fraction": draw(st.sampled_from([0.3, 0.9])),
                         "alpha": 0.6, "read_fraction": 0.5}
        if draw(st.booleans()):
            w["churn"] = {"rate": draw(st.sampled_from(["50/s", "1000/s"]))}
        guests.append(guest(f"g{i}", dirty_expire="20ms", writeback_interval="10ms",
                            workload=w))
    disk = {"kind": draw(st.sampled_from(["hdd", "ssd"])), "channels": draw(st.integers(1, 2))}
    policy = draw(st.sampled_from(ALL_POLICIES))
    budget = draw(st.sampled_from([None, 3000]))  # a budget: the run ends with a request
    return scenario(guests=guests, disks={"d": disk}, policies=[policy], duration="150ms",
                    sample_interval=draw(st.sampled_from(["10ms", "40ms", "250ms"])),
                    requests=budget, check=True, seed=draw(st.integers(0, 2**16)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(io_heavy_scenarios())
def test_property_disks_see_requests_in_time_order_and_engines_agree(d):
    with pytest.MonkeyPatch.context() as mp:
        seen = _arrivals(mp)
        batched = run_world({**d, "engine": "batched"})  # check: true raises if broken
    assert _out_of_order(seen) == {}
    unbatched = run_world({**d, "engine": "unbatched"})
    assert batched.counters == unbatched.counters
    assert batched.measured == unbatched.measured
    assert batched.samples == unbatched.samples
    assert all(c["stale_reads"] == 0 for c in batched.counters)
    check_samples(batched, d.get("warmup", 0.0))


# Work that waits in the agenda meets a world that moved on: what each such wait must keep.


def _count_calls(monkeypatch, cls, name: str) -> list:
    """Record the first argument of every call of cls.name."""
    calls = []
    method = getattr(cls, name)

    def counted(self, *args):
        calls.append(args[0])
        return method(self, *args)

    monkeypatch.setattr(cls, name, counted)
    return calls


@pytest.mark.parametrize("engine", ["batched", "unbatched"])
def test_truncates_among_readers_keep_guest_and_private_pool_apart(engine):
    """Three threads read a small file set that churn keeps truncating and rewriting (O_SYNC)
    under tmem: no page is ever both in the guest cache and its private pool (check: true raises
    InvariantError), and no read is stale."""
    d = scenario(policies=["tmem"], duration="300ms", seed=1, check=True, engine=engine,
                 guests=[guest("c", memory="2560KiB", reserved="2MiB", workload=workload(
                     footprint=512, alpha=0.3, threads=3, sync=True, think_time="20us",
                     churn={"rate": "300/s"}))])
    out = run_world(d)
    c = out.counters[0]
    assert c["truncates"] > 50 and c["stale_reads"] == 0
    assert out.policy_counters[0]["tmem_puts"] > 0


@pytest.mark.parametrize("memory", ["2052KiB", "2064KiB"])  # 1 and 4 pages of page cache
@pytest.mark.parametrize("engine", ["batched", "unbatched"])
def test_a_fault_on_a_page_already_coming_in_waits_for_it(monkeypatch, memory, engine):
    """Eight threads fault on 16 anonymous pages through a tiny cache: a page enters the cache
    only by a zero-fill or a swap-in of its own, however many requests fault on it while its
    first fault waits in the agenda (and however soon it is evicted after it arrives)."""
    waited = _count_calls(monkeypatch, AnonMemory, "arrived")
    inserted = _count_calls(monkeypatch, LRU, "insert")
    anon = {"size": "64KiB", "fraction": 0.9, "alpha": 0.3, "read_fraction": 0.5}
    s = tmemsim.load_scenario(scenario(
        policies=["none"], duration="100ms", seed=7, engine=engine, check=True,
        guests=[guest(memory=memory, reserved="2MiB", workload=workload(
            footprint=8, anon=anon, threads=8, think_time="0us"))]))
    w = World(s, select_policies(s)[0])
    c = w.run().counters[0]
    assert waited and c["swap_ins"] > 1000 and c["stale_reads"] == 0
    pending = len(w.guests[0].anon.arriving)  # faults whose page had not arrived when the run ended
    entered = [key for key in inserted if key < 0]  # anonymous pages are keyed -1 - apage
    assert len(entered) + pending == c["zero_fills"] + c["swap_ins"]
    assert c["zero_fills"] == w.guests[0].anon.committed <= 16  # the area has 16 pages


def test_batching_saves_events():
    """The point of the batched engine: far fewer SimPy events for the same result."""
    d = scenario()
    batched = run_world({**d, "engine": "batched"})
    unbatched = run_world({**d, "engine": "unbatched"})
    assert batched.counters == unbatched.counters
    assert batched.events * 3 < unbatched.events


def test_open_loop_in_flight_page_minimal():
    """Two arrivals for page 1, 0.1 ms apart, on a 1 ms disk: both engines must agree."""
    d = {"seed": 1, "requests": 2, "host": {"memory": "1GiB", "reserved": "128MiB"},
         "disks": {"d": {"kind": "custom", "read": "1ms"}},
         "guests": [{"name": "g", "memory": "64MiB", "reserved": "16MiB",
                     "disk": {"size": "2GiB"},
                     "workload": {"kind": "script", "steps": ["r 1", "r 1"],
                                  "arrival": {"kind": "constant", "rate": "10000/s"}}}]}
    batched = run_world({**d, "engine": "batched"})
    unbatched = run_world({**d, "engine": "unbatched"})
    assert batched.counters == unbatched.counters
    assert batched.disks == unbatched.disks
    # the second read arrives before the page does: it cannot be served in 1 us
    assert batched.histograms[0].percentile(0) > 0.5e-3


# ---------------------------------------------------------------------------------------------
# the time series

INTERVAL_COUNTS = ["requests", "reads", "guest_hits", "host_hits", "disk_reads", "disk_writes"]


def check_samples(out, warmup: float) -> list[float]:
    """A run's samples: one after another in time, the last at the run's end with the gauges
    the run ends with, and per guest interval counts that add up to the run's own counts.
    Returns the sample times."""
    times = list(dict.fromkeys(t for t, *_ in out.samples))
    assert np.all(np.diff(times) > 0), times
    assert times[-1] == pytest.approx(warmup + out.measured, rel=1e-12, abs=1e-15)
    sums: dict = {}
    last: dict = {}
    for t, g, m, v in out.samples:
        if m in INTERVAL_COUNTS:
            sums[g, m] = sums.get((g, m), 0) + v
        if t == times[-1]:
            last[g, m] = v
    for i, (name, c) in enumerate(zip(out.guest_names, out.counters, strict=True)):
        assert {m: sums[name, m] for m in INTERVAL_COUNTS} == {m: c[m] for m in INTERVAL_COUNTS}
        assert last[name, "guest_cache_pages"] == out.cache_pages[i]
        assert last[name, "pool_pages"] == out.pool_used[i]
        assert last[name, "double_cached_pages"] == out.double_cached[i]
    assert last["HOST", "pool_used_pages"] == out.used_pages
    return times


def _series_scenario(**kw) -> dict:
    """Two guests that read and write, a flusher, swap and churn, on one disk."""
    anon = {"size": "2MiB", "fraction": 0.2, "alpha": 0.6, "read_fraction": 0.5}
    return scenario(**{
        "policies": ALL_POLICIES, "warmup": "1s", "duration": "4s", "sample_interval": "500ms",
        **kw}, guests=[guest("a", dirty_expire="300ms", writeback_interval="100ms",
                      workload=workload(read_fraction=0.8, think_time="300us", anon=anon)),
                guest("b", dirty_expire="300ms", writeback_interval="100ms",
                      workload={"kind": "uniform", "footprint": 5000, "read_fraction": 0.9,
                                "churn": {"rate": "20/s"},
                                "arrival": {"kind": "poisson", "rate": "3000/s"}})])


SERIES_POLICIES = [p.name for p in select_policies(tmemsim.load_scenario(_series_scenario()))]


@pytest.mark.parametrize("policy", SERIES_POLICIES)
def test_timeseries_has_every_interval_up_to_the_horizon(policy):
    """Warm-up 1 s, duration 4 s, samples every 0.5 s: 8 intervals, 8 samples, the last at the
    horizon; their counts add up to the summary's."""
    d = _series_scenario()
    s = tmemsim.load_scenario(d)
    out = World(s, select_policies(s, [policy])[0]).run()
    times = check_samples(out, 1.0)
    assert times == pytest.approx([1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0])
    assert sum(c["disk_writes"] for c in out.counters) > 0
    r = Result.from_runs(s, [out])  # the tables: per guest and ALL
    ts = r.timeseries[r.timeseries.metric.isin(INTERVAL_COUNTS)]
    sums = ts.groupby(["guest", "metric"])["value"].sum()
    for row in r.summary.itertuples():
        for m in INTERVAL_COUNTS:
            total = sums.loc[row.guest, m] if row.guest != "ALL" else sums.xs(m, level=1).sum()
            assert total == getattr(row, m), (row.guest, m)


@pytest.mark.parametrize("policy", SERIES_POLICIES)
@pytest.mark.parametrize("engine", ["batched", "unbatched"])
def test_timeseries_of_a_budget_run_ends_with_its_last_request(policy, engine):
    """A request budget: the last, shorter interval ends with the last request, and nothing the
    guests do after it (a flusher pass already due) is sampled or counted later."""
    d = _series_scenario(duration=None, requests=6000, warmup="200ms", sample_interval="250ms",
                         engine=engine)
    s = tmemsim.load_scenario(d)
    out = World(s, select_policies(s, [policy])[0]).run()
    times = check_samples(out, 0.2)
    assert times[-1] - times[-2] < 0.25 - 1e-9  # a shorter last interval, not on the grid
    assert 0 < out.requests < 2 * 6000  # the budgets, less what the warm-up took


@pytest.mark.parametrize("engine", ["batched", "unbatched"])
def test_nothing_of_a_guest_happens_after_its_last_request(engine):
    """The flusher's first pass falls due at 1 s, long after the budget of 2,000 requests is
    spent: it is dropped with the rest of what the guest had left to do, so no sample is
    stamped after the run's end and the pages dirty at the end stay dirty."""
    d = scenario(duration=None, requests=2000, sample_interval="50ms", engine=engine,
                 policies=["none"], guests=[guest(
                     dirty_expire=0, writeback_interval="1s",
                     workload=workload(read_fraction=0.5, think_time="100us"))])
    s = tmemsim.load_scenario(d)
    w = World(s, select_policies(s)[0])
    out = w.run()
    times = check_samples(out, 0.0)
    assert len(times) > 3 and times[-1] < 0.5
    assert w.env.now <= times[-1]
    assert w.guests[0].dirty and out.counters[0]["writes"] > 500


# ---------------------------------------------------------------------------------------------
# accounting


@pytest.mark.parametrize("policy", ["none", "host-cache", "tmem", "tmem+pool=shared", "dedup"])
def test_every_read_is_a_guest_hit_a_host_hit_or_a_disk_read(policy):
    d = _cow()
    d["policies"] = ALL_POLICIES
    for g in d["guests"]:
        g["workload"]["read_fraction"] = 1.0
    r = simulate(d, policy=policy)
    s = r.summary
    assert (s.guest_hits + s.host_hits + s.disk_reads + s.page_lock_waits == s.reads).all()
    assert (s.reads == s.requests).all() and (s.writes == 0).all()
    assert (s.disk_writes == 0).all()
    guests = s[s.guest != "ALL"]
    total = s[s.guest == "ALL"].iloc[0]
    for col in ("requests", "reads", "guest_hits", "host_hits", "disk_reads"):
        assert guests[col].sum() == total[col], col
    assert total.guest_hits > 0 and total.disk_reads > 0
    if policy != "none":
        assert total.host_hits > 0
    ratios = s.guest_hit_ratio + s.host_hit_ratio
    assert np.allclose(ratios, s.read_hit_ratio)
    assert np.allclose(s.guest_hit_ratio, s.guest_hits / s.reads)


def test_disk_counts_match_the_guests():
    out = run_world(scenario(guests=[guest(workload=workload(read_fraction=0.7,
                                                             think_time="100us"))],
                             duration="3s", sample_interval="1s",
                             policies=["none"]))
    c = out.counters[0]
    disk = out.disks["d"]
    assert disk["reads"] == c["disk_reads"] > 0
    assert disk["writes"] == c["disk_writes"]
    assert disk["requests"] == disk["reads"] + disk["writes"]
    ssd_read, ssd_write = 80e-6, 20e-6  # constant service times, 8 channels: no waiting here
    assert disk["busy"] == pytest.approx(disk["reads"] * ssd_read + disk["writes"] * ssd_write)
    assert disk["response"] == pytest.approx(disk["busy"] + disk["waiting"])


def test_request_budget_throughput_does_not_depend_on_the_flusher():
    d = {"seed": 1, "requests": 50000, "host": {"memory": "1GiB", "reserved": "128MiB"},
         "disks": {"d": {"kind": "nvme"}},
         "guests": [{"name": "g", "memory": "64MiB", "reserved": "16MiB",
                     "disk": {"size": "2GiB"},
                     "workload": {"kind": "zipf", "alpha": 0.9, "footprint": 100000}}]}
    rows = []
    for interval in (0, "1s", "5s"):  # read-only: the flusher has nothing to do
        d["guests"][0]["writeback_interval"] = interval
        rows.append(tmemsim.simulate(tmemsim.load_scenario(d)).row())
    assert rows[0].requests == rows[1].requests == rows[2].requests == 50000
    assert rows[1].throughput_ops == pytest.approx(rows[0].throughput_ops)
    assert rows[2].throughput_ops == pytest.approx(rows[0].throughput_ops)


def test_host_cache_with_no_pool_and_clock_replacement():
    d = {"seed": 1, "requests": 100, "host": {"memory": "1GiB", "reserved": "128MiB"},
         "disks": {"d": {"kind": "nvme"}}, "policies": [{"kind": "host-cache", "cache": "clock"}],
         "guests": [{"name": "g", "memory": "896MiB", "reserved": "16MiB",
                     "disk": {"size": "2GiB"},
                     "workload": {"kind": "zipf", "alpha": 0.9, "footprint": 1000}}]}
    row = tmemsim.simulate(tmemsim.load_scenario(d)).row()
    assert row.host_hits == 0 and row.host_pool_pages == 0


# ---------------------------------------------------------------------------------------------
# the LRU guest cache against libCacheSim


def requested_pages(s, n: int) -> np.ndarray:
    """The vpages guest 0's thread asks for: a second, unrun world built from the same
    scenario holds the same seeded stream (streams do not depend on the policy)."""
    th = World(s, select_policies(s)[0]).guests[0].threads[0]
    chunks = [np.asarray(th.pages)]
    while sum(map(len, chunks)) < n:
        chunks.append(np.asarray(th.stream.next_chunk()[1]))
    return np.concatenate(chunks)[:n]


def test_lru_guest_cache_matches_libcachesim(tmp_path):
    lcs = pytest.importorskip("libcachesim")
    cache_pages, footprint, n = 2000, 20000, 100_000
    d = {"seed": 3, "requests": n, "sample_interval": "1000s",
         "host": {"memory": "1GiB", "reserved": "128MiB"}, "disks": {"d": {"kind": "nvme"}},
         "policies": ["none"],
         "guests": [{"name": "g", "memory": cache_pages * PAGE_SIZE, "cache": "lru",
                     "disk": {"size": footprint * PAGE_SIZE},
                     "workload": {"kind": "zipf", "alpha": 0.9, "footprint": footprint}}]}
    s = tmemsim.load_scenario(d)
    out = World(s, select_policies(s)[0]).run()
    c = out.counters[0]
    assert c["reads"] == n
    pages = requested_pages(s, n)
    trace = tmp_path / "g.oracleGeneral"
    write_oracle_general(trace, pages + 1)  # libCacheSim ids start at 1
    reader = lcs.TraceReader(str(trace), lcs.TraceType.ORACLE_GENERAL_TRACE)
    miss_ratio, _ = lcs.LRU(cache_pages * PAGE_SIZE, hashpower=18).process_trace(reader)
    ours = n - c["guest_hits"]
    assert c["disk_reads"] == ours
    assert ours == round(miss_ratio * n)  # the exact number of misses
    assert ours / n == pytest.approx(miss_ratio, abs=1e-12)
    assert 0.1 < miss_ratio < 0.9


# ---------------------------------------------------------------------------------------------
# M/M/1


def mm1_run(seed=11, duration="400s"):
    d = {"seed": seed, "duration": duration, "sample_interval": "1000s",
         "host": {"memory": "1GiB", "reserved": "128MiB", "costs": NO_COSTS},
         "disks": {"d": {"kind": "custom", "read": {"kind": "exponential", "mean": "1ms"}}},
         "guests": [{"name": "g", "memory": "8MiB", "reserved": "4MiB", "disk": {"size": "64GiB"},
                     "workload": {"kind": "uniform", "footprint": 10_000_000,
                                  "arrival": {"kind": "poisson", "rate": "500/s"}}}]}
    s = tmemsim.load_scenario(d)
    return s, World(s, select_policies(s)[0]).run()


def mm1_error() -> float:
    s, out = mm1_run()
    disk = out.disks["d"]
    lam = disk["requests"] / s.duration
    mu = 1 / 1e-3
    return (disk["response"] / disk["requests"]) / (1 / (mu - lam)) - 1


def test_mm1_disk_response_time():
    s, out = mm1_run()
    disk, c = out.disks["d"], out.counters[0]
    assert disk["requests"] == c["disk_reads"] > 150_000
    assert c["guest_hits"] < 0.001 * c["reads"]  # nearly every read misses
    lam = disk["requests"] / s.duration
    mu = 1 / 1e-3
    assert lam / mu == pytest.approx(0.5, abs=0.01)
    assert disk["busy"] / disk["requests"] == pytest.approx(1e-3, rel=0.01)  # E[S]
    expected = 1 / (mu - lam)
    measured = disk["response"] / disk["requests"]
    assert measured == pytest.approx(expected, rel=0.03)
    # waiting alone: W_q = rho / (mu - lambda)
    assert disk["waiting"] / disk["requests"] == pytest.approx((lam / mu) * expected, rel=0.06)
    # with every cost zero, a read's latency is its disk response
    assert out.histograms[0].mean() == pytest.approx(measured, rel=0.01)


# ---------------------------------------------------------------------------------------------
# dirty pages


def script_scenario(steps, **guest_kw) -> dict:
    g = {"name": "g", "memory": 8 * PAGE_SIZE, "reserved": 4 * PAGE_SIZE,  # 4 pages of cache
         "disk": {"size": "1MiB"}, "writeback_interval": 0,  # no flusher: only evictions write
         "workload": {"kind": "script", "steps": steps}}
    g.update(guest_kw)
    return {"seed": 1, "requests": len(steps), "check": True,
            "host": {"memory": "1GiB", "reserved": "128MiB"},
            "disks": {"d": {"kind": "custom", "read": "1ms", "write": "1ms"}},
            "policies": ["none", "host-cache", {"kind": "host-cache", "mode": "writeback"},
                         "tmem", "dedup"],
            "guests": [g]}


@pytest.mark.parametrize("policy", ["none", "host-cache", "host-cache+mode=writeback", "tmem",
                                    "dedup"])
def test_dirty_page_is_written_back_before_eviction(policy):
    # w 1, then 4 reads fill the 4-page LRU cache and evict page 1; then page 1 is read again
    steps = ["w 1", "r 2", "r 3", "r 4", "r 5", "r 1"]
    r = simulate(script_scenario(steps), policy=policy)
    row = r.row(policy=policy, guest="g")
    assert row.writes == 1 and row.reads == 5
    assert row.stale_reads == 0  # the re-read of page 1 returns the written version
    assert row.guest_hits == 0  # page 1 had left the guest cache
    if policy == "none":
        assert row.disk_writes == 1  # the write-back, made at eviction
        assert row.disk_reads == 5
    elif policy == "host-cache+mode=writeback":
        assert row.host_hits == 1  # absorbed in the host and served from there
        assert row.disk_writes == 0  # the host's own expiry (30 s) has not come
    else:
        assert row.disk_writes == 1
        assert row.host_hits == 1  # the written-back page is re-read from host memory


def test_clean_eviction_writes_nothing():
    r = simulate(script_scenario(["r 1", "r 2", "r 3", "r 4", "r 5", "r 1"]), policy="none")
    row = r.row(guest="g")
    assert row.disk_writes == 0 and row.disk_reads == 6 and row.stale_reads == 0


def test_page_dirty_in_the_cache_is_never_written_without_eviction_or_flusher():
    r = simulate(script_scenario(["w 1", "r 1", "w 1", "r 2"]), policy="none")
    row = r.row(guest="g")
    assert row.disk_writes == 0 and row.guest_hits == 1 and row.disk_reads == 1


def flusher_scenario(dirty_expire) -> dict:
    return {"seed": 3, "duration": "10s", "sample_interval": "1s",
            "host": {"memory": "1GiB", "reserved": "128MiB"}, "disks": {"d": {"kind": "nvme"}},
            "guests": [{"name": "g", "memory": "16MiB", "reserved": "4MiB",
                        "disk": {"size": "1GiB"},
                        "writeback_interval": "1s", "dirty_expire": dirty_expire,
                        "workload": {"kind": "uniform", "footprint": 200, "read_fraction": 0.5,
                                     "think_time": "10ms"}}]}


def test_flusher_writes_back_expired_pages():
    r = simulate(flusher_scenario("2s"))
    row = r.row(guest="g")
    # 200 pages in a 3072-page cache: nothing is ever evicted
    assert row.guest_cache_pages <= 200
    assert row.writes > 300
    assert 0 < row.disk_writes <= row.writes
    # every written page is dirty at most ~dirty_expire + writeback_interval: at least all the
    # distinct pages first written before t = 7 s are written back by t = 10 s
    assert row.disk_writes > 150
    ts = r.timeseries
    writes = ts[(ts.guest == "g") & (ts.metric == "disk_writes")].set_index("time_s")["value"]
    assert writes.loc[1.0] == 0 and writes.loc[2.0] == 0  # nothing expires before 2 s
    assert writes.loc[4.0] > 0
    assert writes.sum() <= row.disk_writes


def test_flusher_waits_for_dirty_expire():
    row = simulate(flusher_scenario("30s")).row(guest="g")  # 30 s > the 10 s run
    assert row.writes > 300 and row.disk_writes == 0


def sync_scenario(sync: bool) -> dict:
    return {"seed": 3, "requests": 2, "host": {"memory": "1GiB", "reserved": "128MiB"},
            "disks": {"d": {"kind": "custom", "read": "1ms", "write": "1ms"}},
            "guests": [{"name": "g", "memory": "16MiB", "reserved": "4MiB",
                        "disk": {"size": "1GiB"}, "writeback_interval": 0,
                        "workload": {"kind": "script", "steps": ["w 1", "w 2"], "sync": sync}}]}


def test_sync_writes_go_to_disk_at_once_and_wait_for_it():
    sync = simulate(sync_scenario(True)).row(guest="g")
    lazy = simulate(sync_scenario(False)).row(guest="g")
    assert sync.writes == lazy.writes == 2
    assert sync.disk_writes == 2  # no eviction, no flusher: only O_SYNC puts them on disk
    assert lazy.disk_writes == 0
    # virtio (20 us) + the device (1 ms), against a page-cache write (guest_hit, 1 us)
    assert sync.mean_write_latency_us == pytest.approx(1020, rel=1e-6)
    assert lazy.mean_write_latency_us == pytest.approx(1, rel=1e-6)


def test_sync_writes_queue_on_a_busy_disk():
    d = sync_scenario(True)
    d["requests"] = 3
    d["guests"][0]["workload"]["steps"] = ["w 1", "w 2", "w 3"]
    d["guests"][0]["workload"]["arrival"] = {"kind": "constant", "rate": "1000000/s"}
    out = run_world(d)
    disk = out.disks["d"]
    assert disk["writes"] == 3
    # three writes 1 us apart on a one-channel 1 ms disk: they wait ~0, 1 and 2 ms
    assert disk["waiting"] == pytest.approx(3e-3 - 3e-6, rel=1e-3)


# ---------------------------------------------------------------------------------------------
# read-modify-write of sub-page writes


def _subpage_trace(path) -> None:
    """Trace rows with mostly unaligned sub-page and multi-page requests, 60% writes."""
    from tmemsim.workloads.traces import READ, WRITE, write_msr

    rng = np.random.default_rng(5)
    n = 4000
    t = np.cumsum(rng.integers(1, 400, n)) * 1e-6
    rows = [(float(a), WRITE if w else READ, int(p) * 4096 + int(o), int(s), 0)
            for a, w, p, o, s in zip(t, rng.random(n) < 0.6, rng.zipf(1.2, n) % 12000,
                                     rng.integers(0, 8, n) * 512,
                                     rng.choice([512, 3584, 4096, 12288, 65536], n),
                                     strict=True)]
    write_msr(path, rows)


@pytest.mark.parametrize("policy", ["none", "host-cache", "tmem", "dedup"])
def test_batched_equals_unbatched_with_subpage_writes(tmp_path, policy):
    _subpage_trace(tmp_path / "t.csv")
    w = {"kind": "trace", "format": "msr", "path": str(tmp_path / "t.csv")}
    d = scenario(images={"base": {"size": "64MiB"}}, policies=[policy], duration="2s",
                 guests=[guest("c", count=3, memory="6MiB", disk={"image": "base", "clone": "cow"},
                               dirty_expire="50ms", writeback_interval="20ms", workload=w)])
    batched = simulate(d, engine="batched")
    unbatched = simulate(d, engine="unbatched")
    pd.testing.assert_frame_equal(batched.summary, unbatched.summary)
    pd.testing.assert_frame_equal(batched.timeseries, unbatched.timeseries)
    row = batched.row()
    assert row.rmw_reads > 1000 and row.reads > row.rmw_reads
    assert row.guest_hits + row.host_hits + row.disk_reads + row.page_lock_waits == row.reads
    assert row.stale_reads == 0
    checked = simulate(d, check=True).row()  # the coherence oracle after every request
    assert checked.rmw_reads == row.rmw_reads
