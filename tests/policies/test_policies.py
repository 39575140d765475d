"""Correctness of the hypervisor policies, end to end through the simulator.

Coherence under random mixes (Hypothesis), the DEMOTE equivalence of an exclusive tmem pool,
the waste of an inclusive host cache, sharing across clones, flush semantics, writeback vs
writethrough, and the cost of every read path.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tmemsim
from tmemsim.api import select_policies
from tmemsim.model import World
from tmemsim.model.invariants import InvariantError
from tmemsim.policies import POLICIES
from tmemsim.policies.base import READ_HOST_CALL

PAGE = 4096
KiB = 1024
MiB = 1 << 20

# every policy and option the coherence property runs through; tmem with keep_free: 0 so that the
# tiny pools of the generated scenarios are really used (the default keeps 1 MiB: capacity 0)
ALL_POLICIES = [
    "none",
    "host-cache",
    {"kind": "host-cache", "mode": "writeback"},
    {"kind": "host-cache", "mode": "writeback", "dirty_expire": "100us",
     "writeback_interval": "50us", "name": "host-cache-wb-fast"},
    {"kind": "host-cache", "cache": "clock", "name": "host-cache-clock"},
    {"kind": "host-cache", "mode": "writeback", "cache": "twolist", "dirty_expire": 0,
     "writeback_interval": "20us", "name": "host-cache-wb-twolist"},
    "tmem",
    {"kind": "tmem", "keep_free": 0, "name": "tmem-private"},
    {"kind": "tmem", "pool": "shared", "keep_free": 0, "name": "tmem-shared"},
    {"kind": "tmem", "dedup": True, "keep_free": 0, "name": "tmem-dedup"},
    {"kind": "tmem", "pool": "shared", "dedup": True, "keep_free": 0,
     "name": "tmem-shared-dedup"},
    {"kind": "tmem", "weights": {"g0": 3.0}, "keep_free": 0, "name": "tmem-weighted"},
    "dedup",
    {"kind": "dedup", "cache": "fifo", "name": "dedup-fifo"},
]


def all_row(result, policy=None):
    return result.row(policy, "ALL")


def guest_rows(result):
    return result.summary[result.summary["guest"] != "ALL"]


def stream_pages(scenario, guest: int, thread: int = 0) -> np.ndarray:
    """The exact vpages one guest thread asks for (request streams do not depend on policy)."""
    world = World(scenario, select_policies(scenario)[0])
    g = world.guests[guest]
    streams, _, _ = np.random.SeedSequence(scenario.seed).spawn(3)
    seed = streams.spawn(len(world.guests))[guest].spawn(len(g.threads))[thread]
    stream = g.threads[thread].stream
    fresh = type(stream)(stream.spec, seed)
    chunks, n = [], 0
    while n < scenario.requests:
        chunk = np.asarray(fresh.next_chunk()[1])
        if not len(chunk):
            break
        chunks.append(chunk)
        n += len(chunk)
    return np.concatenate(chunks)[: scenario.requests]


def lru_hits(pages, capacity: int) -> int:
    """Hits of one LRU of `capacity` pages (a plain reference next to libCacheSim)."""
    from collections import OrderedDict

    d: OrderedDict = OrderedDict()
    hits = 0
    for p in pages.tolist():
        if p in d:
            hits += 1
            d.move_to_end(p)
        else:
            d[p] = None
            if len(d) > capacity:
                d.popitem(last=False)
    return hits


# ---------------------------------------------------------------- 1. coherence (Hypothesis)


@st.composite
def mixes(draw, max_threads: int, policies: list):
    """2–3 guests, caches of a few pages, small footprints, every kind of disk, random scripts."""
    n = draw(st.integers(2, 3))
    footprint = draw(st.integers(2, 12))
    file_pages = draw(st.sampled_from([1, 2, 4]))
    image_pages = 16
    guests = []
    for i in range(n):
        kind = draw(st.sampled_from(["cow", "copy", "private"]))
        disk = ({"size": image_pages * PAGE} if kind == "private"
                else {"image": "base", "clone": kind})
        steps = draw(st.lists(
            st.tuples(st.sampled_from("rrrwt"), st.integers(0, footprint - 1)),
            min_size=1, max_size=30))
        think = draw(st.sampled_from(
            [0, "10us", {"kind": "exponential", "mean": "40us"}]))
        # several threads, or (with concurrency) an open loop: requests arrive whether or not
        # the previous miss has completed
        threads = draw(st.integers(1, max_threads))
        arrival = None
        if max_threads > 1 and draw(st.booleans()):
            arrival = {"kind": draw(st.sampled_from(["poisson", "constant"])),
                       "rate": draw(st.sampled_from(["5000/s", "50000/s"]))}
        guests.append({
            "name": f"g{i}",
            "memory": draw(st.integers(1, 4)) * PAGE,
            "cache": draw(st.sampled_from(["lru", "lru", "fifo", "clock", "twolist"])),
            "disk": disk,
            "writeback_interval": draw(st.sampled_from([0, "50us", "300us"])),
            "dirty_expire": draw(st.sampled_from([0, "100us"])),
            "workload": {
                "kind": "script",
                "steps": [f"{op} {page}" for op, page in steps],
                "file_pages": file_pages,
                "threads": threads,
                "think_time": think,
                **({"arrival": arrival} if arrival else {}),
                "dup_writes": draw(st.sampled_from([0.0, 0.5, 1.0])),
                "sync": draw(st.booleans()),
            },
        })
    pool = draw(st.integers(0, 8))
    return {
        "seed": draw(st.integers(0, 2**16)),
        "requests": 10_000,
        "check": True,
        "sample_interval": "20us",  # the deep checks (tmem exclusivity) run at every sample
        "host": {"memory": sum(g["memory"] for g in guests) + pool * PAGE},
        "disks": {"d": {"kind": "ssd", "channels": draw(st.sampled_from([1, 8]))}},
        "images": {"base": {"size": image_pages * PAGE,
                            "internal_dup": draw(st.sampled_from([0.0, 0.5]))}},
        "policies": policies,
        "guests": guests,
    }


def _kind(p):
    return p if isinstance(p, str) else p["kind"]


def _transparent(p) -> bool:
    """The guest does not talk to the policy (no exclusive copy it puts and gets)."""
    return not POLICIES[_kind(p)].guest_hypercalls


TRANSPARENT = [p for p in ALL_POLICIES if _transparent(p)]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixes(max_threads=1, policies=ALL_POLICIES))
def test_coherence_every_policy(data):
    """No stale read, no broken invariant, and every read is a guest hit, host hit or disk read."""
    _check_coherent(data, same_hits=True)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixes(max_threads=2, policies=TRANSPARENT))
def test_coherence_transparent_policies_with_threads(data):
    """Several threads or open-loop arrivals per guest (concurrent misses) under the policies
    that keep no exclusive copy; tmem with concurrent misses of one page breaks exclusivity
    (test_concurrent_misses_keep_tmem_exclusive, a known bug)."""
    _check_coherent(data, same_hits=False)


@settings(max_examples=25, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_coherence_every_policy_example(policy_example, data):
    """Every registered policy, with each option set it declares (conftest lists them from the
    registry): no stale read, no broken invariant. A pool's `keep_free`, where the policy has
    one, is 0 so the tiny pools of the generated scenarios are really used."""
    kind, options = policy_example
    if "keep_free" in POLICIES[kind].Options.model_fields:
        options = {"keep_free": 0, **options}
    _check_coherent(data.draw(mixes(max_threads=1, policies=[{"kind": kind, **options}])),
                    same_hits=True)


@settings(max_examples=15, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_coherence_every_transparent_policy_example_with_threads(policy_example, data):
    """As test_coherence_transparent_policies_with_threads, for every registered transparent
    policy and option set (a policy the guest makes hypercalls to is skipped: see there)."""
    kind, options = policy_example
    if not _transparent(kind):
        pytest.skip(f"{kind}: the guest makes hypercalls to it")
    _check_coherent(data.draw(mixes(max_threads=2, policies=[{"kind": kind, **options}])),
                    same_hits=False)


def _check_coherent(data, same_hits: bool):
    s = tmemsim.load_scenario(data)
    hits, reads = {}, {}
    for spec in select_policies(s):
        world = World(s, spec)
        out = world.run()
        world.check_deep()  # also at the very end, whatever the length of the run
        world.check_invariants()
        for name, c in zip(out.guest_names, out.counters, strict=True):
            assert c["stale_reads"] == 0, (spec.name, name)
            served = c["guest_hits"] + c["host_hits"] + c["disk_reads"] + c["page_lock_waits"]
            assert served == c["reads"], (
                spec.name, name, c)
        reads[spec.name] = [(c["reads"], c["writes"]) for c in out.counters]
        hits[spec.name] = [c["guest_hits"] for c in out.counters]
        if spec.kind == "none":
            assert all(c["host_hits"] == 0 for c in out.counters)
    # every policy sees the same requests; with one thread a guest's page cache does not depend
    # on the policy either
    assert len(set(map(tuple, reads.values()))) == 1, reads
    if same_hits:
        assert len(set(map(tuple, hits.values()))) == 1, hits


def _one_guest(steps, *, cache_pages=1, threads=1, think=0, policy=None, pool_pages=16,
               disk=None, costs=None, **workload):
    """One guest on a private disk, a script workload, no flusher, a fixed-service disk."""
    host = {"memory": (cache_pages + pool_pages) * PAGE}
    if costs:
        host["costs"] = costs
    return {
        "seed": 3,
        "requests": 10_000,
        "check": True,
        "host": host,
        "disks": {"d": disk or {"kind": "custom", "read": "100us", "write": "50us"}},
        "policies": [policy or {"kind": "tmem", "keep_free": 0}],
        "guests": [{
            "name": "g", "memory": cache_pages * PAGE, "disk": {"size": "256KiB"},
            "writeback_interval": 0,
            "workload": {"kind": "script", "steps": steps, "threads": threads,
                         "think_time": think, **workload},
        }],
    }


def test_concurrent_misses_keep_tmem_exclusive():
    """Threads A and B of one guest (1-page cache, one disk channel) both miss on page 1: A's
    read completes first, A fills 1, re-reads 0 from the pool, which pushes 1 out into the pool
    (put); then B's read of 1 completes and its fill inserts 1 again, while the pool holds it."""
    data = _one_guest(["r 0", "r 1", "r 1", "r 0"], threads=2, think="10us",
                      disk={"kind": "ssd", "channels": 1})
    data["sample_interval"] = "20us"
    tmemsim.simulate(data, check=True)


@pytest.mark.parametrize("kind,cache", [("host-cache", "clock"), ("host-cache", "twolist"),
                                        ("dedup", "clock"), ("dedup", "twolist")])
def test_zero_page_pool_any_replacement(kind, cache):
    """The guests take all of the host's memory: a pool of 0 pages, whatever its replacement
    (clock and twolist used to evict from the empty cache: KeyError)."""
    data = _one_guest(["r 0", "r 1", "r 0"], pool_pages=0, policy={"kind": kind, "cache": cache})
    r = tmemsim.simulate(data, check=True)
    # a zero-page host cache holds nothing: every miss goes to the disk, as under lru
    assert r.row()["disk_reads"] == 3
    assert r.row()["host_hits"] == 0


def test_oracle_catches_a_host_cache_that_ignores_writes(monkeypatch):
    """The coherence oracle has teeth: a host cache that keeps serving the old bytes after a
    write-back is reported as stale reads and fails the checked run."""
    from tmemsim.errors import RunError
    from tmemsim.policies import host_cache
    from tmemsim.policies.base import WRITE_DISK

    def write(self, guest, vpage, loc, data):
        self.store[loc] = data  # on disk, but the cached copy is left as it was
        return WRITE_DISK

    monkeypatch.setattr(host_cache.HostCache, "write", write)
    # read 0 (host caches v0), write 0 (sync), push 0 out of the guest, read it again
    data = _one_guest(["r 0", "w 0", "r 1", "r 0"], policy="host-cache", sync=True)
    with pytest.raises(RunError, match="stale reads"):
        tmemsim.simulate(data, check=True)


def test_oracle_catches_a_tmem_without_flush(monkeypatch):
    """A tmem that ignores flushes keeps an old copy of a page the guest rewrote: the checked run
    stops on the exclusivity invariant."""
    from tmemsim.policies import tmem

    monkeypatch.setattr(tmem.Tmem, "invalidate", lambda self, guest, pages: 1)
    data = _one_guest(["r 0", "r 1", "w 0", "r 0"], sync=True)  # 0 put, then rewritten
    data["sample_interval"] = "10us"
    with pytest.raises(InvariantError, match="private pool"):
        tmemsim.simulate(data, check=True)


@pytest.mark.parametrize("engine", ["batched", "unbatched"])
def test_oracle_catches_a_tmem_get_that_keeps_its_copy(monkeypatch, engine):
    """A mutant tmem whose get hits but leaves the page in the private pool (a non-exclusive
    get): the checked run stops on the exclusivity rule. The miss's fill flushes any copy the
    pool holds, so only a check at the get itself can see this."""
    from tmemsim.policies import tmem

    read = tmem.Tmem.read

    def keeping_read(self, guest, vpage, loc):
        before = dict(self.eph)
        got = read(self, guest, vpage, loc)
        for key in before.keys() - self.eph.keys():  # what the get took: put it back
            self.eph[key] = before[key]
            self.private_of[guest] += 1
        return got

    monkeypatch.setattr(tmem.Tmem, "read", keeping_read)
    data = _one_guest(["r 0", "r 1", "r 0"])  # 0 put, then a get that hits
    data["engine"] = engine
    data["sample_interval"] = "10us"
    with pytest.raises(InvariantError, match="still in its private pool after a get"):
        tmemsim.simulate(data, check=True)
    monkeypatch.undo()  # the same run under the real tmem passes, with the get that hits
    assert tmemsim.simulate(data, check=True).row()["tmem_get_hits"] == 1


def test_weights_with_a_shared_pool():
    data = {
        "seed": 0, "requests": 100, "check": True,
        "host": {"memory": 3 * PAGE}, "disks": {"d": {"kind": "ssd"}},
        "images": {"base": {"size": "64KiB"}},
        "policies": [{"kind": "tmem", "pool": "shared", "weights": {"a": 1}, "keep_free": 0}],
        "guests": [
            {"name": "a", "memory": PAGE, "disk": {"image": "base"}, "writeback_interval": 0,
             "workload": {"kind": "script", "steps": ["r 0", "r 1", "r 2"]}},
            {"name": "b", "memory": PAGE, "disk": {"image": "base"}, "writeback_interval": 0,
             "workload": {"kind": "script", "steps": ["r 4", "r 5", "r 6"]}},
        ],
    }
    r = tmemsim.simulate(data, check=True)
    # one page of pool, every put is a shared base page: each put after the first evicts one
    assert all_row(r)["tmem_puts"] == 4
    assert all_row(r)["tmem_evictions"] == 3


# ---------------------------------------------------------------- 2. DEMOTE equivalence


def _zipf_guest(c1: int, c2: int, alpha: float, *, requests: int, footprint: int,
                policy) -> dict:
    """One guest, read-only Zipf, a page cache of c1 pages, a hypervisor pool of exactly c2."""
    return {
        "seed": 11,
        "requests": requests,
        "sample_interval": "1000s",
        "host": {"memory": (c1 + c2) * PAGE},
        "disks": {"d": {"kind": "nvme"}},
        "policies": [policy],
        "guests": [{
            "name": "g", "memory": c1 * PAGE, "disk": {"size": footprint * PAGE},
            "workload": {"kind": "zipf", "alpha": alpha, "footprint": footprint},
        }],
    }


def _libcachesim_lru_hits(pages: np.ndarray, capacity_pages: int, tmp_path) -> int:
    lcs = pytest.importorskip("libcachesim")
    from tmemsim.workloads.traces import write_oracle_general

    trace = tmp_path / "seq.oracleGeneral"
    write_oracle_general(trace, pages + 1)  # libCacheSim's object ids start at 1
    reader = lcs.TraceReader(str(trace), lcs.TraceType.ORACLE_GENERAL_TRACE)
    miss_ratio, _ = lcs.LRU(capacity_pages * PAGE).process_trace(reader)
    return round((1 - miss_ratio) * len(pages))


@pytest.mark.parametrize("c1,c2,alpha", [(60, 140, 0.9), (150, 50, 0.7), (100, 100, 1.1)])
def test_demote_equivalence(c1, c2, alpha, tmp_path):
    """Wong & Wilkes (2002): an LRU page cache over an exclusive pool that keeps the demoted pages
    in demotion order hits exactly like one LRU of c1 + c2 pages."""
    requests = 30_000
    s = tmemsim.load_scenario(_zipf_guest(c1, c2, alpha, requests=requests, footprint=2000,
                                          policy={"kind": "tmem", "keep_free": 0}))
    pages = stream_pages(s, 0)
    assert len(pages) == requests
    r = tmemsim.simulate(s)
    row = all_row(r)
    assert row["host_pool_pages"] == c2
    assert row["reads"] == requests
    expected = _libcachesim_lru_hits(pages, c1 + c2, tmp_path)
    assert expected == lru_hits(pages, c1 + c2)  # the reference agrees with libCacheSim
    assert row["guest_hits"] == lru_hits(pages, c1)  # the page cache alone is one LRU of c1
    assert row["guest_hits"] + row["host_hits"] == expected
    assert row["host_hits"] == row["tmem_get_hits"] > 0
    # the pool is full at the end and holds no page the guest has
    assert row["host_pool_used_pages"] == c2
    assert row["double_cached_pages"] == 0


# ---------------------------------------------------------------- 3. inclusive waste


def test_inclusive_host_cache_wastes_its_pool():
    """A host cache no larger than the guest's mostly holds what the guest holds already: few
    host hits, and most of its pool double-cached; the exclusive pool of the same size does not."""
    c1, c2 = 200, 120
    figures = {}
    for policy in ("host-cache", {"kind": "tmem", "keep_free": 0}):
        s = tmemsim.load_scenario(_zipf_guest(c1, c2, 0.9, requests=30_000, footprint=2000,
                                              policy=policy))
        figures[s.policy_specs()[0].kind] = all_row(tmemsim.simulate(s, check=False))
    hc, tm = figures["host-cache"], figures["tmem"]
    for name, row in figures.items():
        print(f"\ninclusive waste, C1={c1} C2={c2}: {name}: host_hits={row['host_hits']} "
              f"guest_hits={row['guest_hits']} disk_reads={row['disk_reads']} "
              f"pool_used={row['host_pool_used_pages']} double_cached={row['double_cached_pages']}"
              f" double_cached_avg={row['double_cached_pages_avg']:.1f}")
    assert hc["guest_hits"] == tm["guest_hits"]  # same guest, same requests
    assert hc["host_pool_used_pages"] == tm["host_pool_used_pages"] == c2
    assert tm["host_hits"] > 1000
    assert hc["host_hits"] < 0.5 * tm["host_hits"]
    assert hc["double_cached_pages"] > 0.5 * hc["host_pool_used_pages"]
    assert hc["double_cached_pages_avg"] > 0.5 * c2
    assert tm["double_cached_pages"] == 0


# ---------------------------------------------------------------- 4. sharing across clones


def _clones(clone: str, policy, *, n=3, requests=600, footprint=32) -> dict:
    return {
        "seed": 5,
        "requests": requests,
        "check": True,
        "host": {"memory": n * 4 * PAGE + 4 * n * footprint * PAGE},
        "disks": {"d": {"kind": "ssd"}},
        "images": {"base": {"size": 64 * PAGE}},
        "policies": [policy],
        "guests": [{"name": "vm", "count": n, "memory": 4 * PAGE,
                    "disk": {"image": "base", "clone": clone},
                    "workload": {"kind": "uniform", "footprint": footprint}}],
    }


# (policy, clone) -> how many times each base page is read from disk: "once" in total over all
# clones, or "each" guest once
SHARING = [
    ("host-cache", "cow", "once"),
    ("host-cache", "copy", "each"),
    ("dedup", "cow", "once"),
    ("dedup", "copy", "once"),
    ({"kind": "tmem", "keep_free": 0}, "cow", "each"),
    ({"kind": "tmem", "keep_free": 0}, "copy", "each"),
    ({"kind": "tmem", "keep_free": 0, "dedup": True}, "cow", "each"),
    ({"kind": "tmem", "keep_free": 0, "pool": "shared"}, "copy", "each"),
    ("none", "cow", "many"),
]


@pytest.mark.parametrize("policy,clone,expect", SHARING,
                         ids=[f"{p if isinstance(p, str) else 'tmem'}-{c}-{e}-{i}"
                              for i, (p, c, e) in enumerate(SHARING)])
def test_sharing_across_clones(policy, clone, expect):
    """Clones re-reading the same base pages, with room in the pool for everything."""
    s = tmemsim.load_scenario(_clones(clone, policy))
    touched = [set(stream_pages(s, g).tolist()) for g in range(3)]
    union, per_guest = len(set().union(*touched)), sum(map(len, touched))
    assert union == 32 and per_guest == 96
    r = tmemsim.simulate(s, check=True)
    row = all_row(r)
    if expect == "once":
        assert row["disk_reads"] == union
    elif expect == "each":
        assert row["disk_reads"] == per_guest
        for g, pages in enumerate(touched):
            assert r.row(None, f"vm-{g}")["disk_reads"] == len(pages)
    else:  # none: every guest miss is a disk read
        assert row["disk_reads"] == row["reads"] - row["guest_hits"] > 3 * per_guest
    assert row["guest_hits"] + row["host_hits"] + row["disk_reads"] == row["reads"]


def test_tmem_dedup_stores_shared_content_once():
    """Private tmem with dedup: clones still read from disk once each, but a base page put by
    several clones takes one physical page."""
    s = tmemsim.load_scenario(_clones("copy", {"kind": "tmem", "keep_free": 0, "dedup": True}))
    world = World(s, select_policies(s)[0])
    world.run()
    tm = world.policy
    keys = sum(tm.guest_pages(g) for g in range(3))
    assert tm.used_pages() == tm.distinct_contents() <= 32
    assert keys > tm.used_pages()  # some page is held for two clones in one physical page


def _staggered(clone: str, policy, n=3, f=8) -> dict:
    """Guest k reads a page of its own, waits k·5 ms, reads base pages 0..f-1 and its own page
    again: by the time a later clone reads a base page, an earlier one has put it (1-page cache)."""
    guests = []
    for k in range(n):
        own = 40 + k
        guests.append({
            "name": f"vm{k}", "memory": PAGE, "disk": {"image": "base", "clone": clone},
            "writeback_interval": 0,
            "workload": {"kind": "script", "think_time": f"{5 * k}ms",
                         "steps": [f"r {own}"] + [f"r {p}" for p in range(f)] + [f"r {own}"]},
        })
    return {
        "seed": 1, "requests": 1000, "check": True,
        "host": {"memory": n * PAGE + 64 * PAGE},
        "disks": {"d": {"kind": "ssd"}},
        "images": {"base": {"size": 64 * PAGE}},
        "policies": [policy],
        "guests": guests,
    }


@pytest.mark.parametrize("policy,clone,reads", [
    ("host-cache", "cow", 8 + 3),
    ("host-cache", "copy", 3 * (8 + 1)),
    ("dedup", "cow", 8 + 3),
    ("dedup", "copy", 8 + 3),
    ({"kind": "tmem", "keep_free": 0}, "cow", 3 * (8 + 1)),
    ({"kind": "tmem", "keep_free": 0, "pool": "shared"}, "cow", 8 + 3),
    ({"kind": "tmem", "keep_free": 0, "pool": "shared"}, "copy", 3 * (8 + 1)),
    ("none", "cow", 3 * (8 + 2)),
])
def test_sharing_exact_counts(policy, clone, reads):
    """3 clones, 8 common base pages and one page of each's own (read twice): disk reads are
    8 + 3 when the pool shares base pages, 3 × 9 when it does not (none: 3 × 10)."""
    r = tmemsim.simulate(_staggered(clone, policy), check=True)
    row = all_row(r)
    assert row["reads"] == 3 * 10
    assert row["disk_reads"] == reads
    assert row["host_hits"] == row["reads"] - row["disk_reads"]


# ---------------------------------------------------------------- 5. flush semantics


@pytest.mark.parametrize("policy", [p for p in ALL_POLICIES
                                    if _kind(p) == "tmem" and "weights" not in p],
                         ids=lambda p: p if isinstance(p, str) else p["name"])
def test_truncate_then_read_after_put(policy, monkeypatch):
    """Page 5 is put, its file truncated and recreated (new bytes), then read: the get returns
    the new version, never the put one."""
    from tmemsim.policies import tmem

    puts, gets = [], []
    real_evicted, real_read = tmem.Tmem.evicted, tmem.Tmem.read

    def evicted(self, guest, vpage, loc, d):
        puts.append((vpage, d))
        return real_evicted(self, guest, vpage, loc, d)

    def read(self, guest, vpage, loc):
        result = real_read(self, guest, vpage, loc)
        gets.append((vpage, result))
        return result

    monkeypatch.setattr(tmem.Tmem, "evicted", evicted)
    monkeypatch.setattr(tmem.Tmem, "read", read)
    steps = ["r 5", "r 20", "r 21",  # 5 leaves the 2-page cache: put
             "t 5",                  # flush the file 4..7, write it anew
             "r 30", "r 31",         # the new pages leave the cache too (written back, put)
             "r 5"]                  # a miss: get
    data = _one_guest(steps, cache_pages=2, file_pages=4, policy=policy)
    s = tmemsim.load_scenario(data)
    world = World(s, select_policies(s)[0])
    out = world.run()
    assert out.counters[0]["stale_reads"] == 0
    assert out.policy_counters[0]["tmem_flushes"] >= 1
    assert puts[0] == (5, 0)  # the original bytes of 5 were put before the truncate
    new = world.guests[0].versions[5]
    assert new != 0
    vpage, (_, returned) = gets[-1]
    assert vpage == 5 and returned == new


def test_truncate_leaves_no_old_copy_in_the_pool():
    """After a truncate the pool holds no old version of any page of the file: the pages the
    guest wrote back and put again are the new bytes, the one still dirty in the guest is not
    in the pool at all (its put original was flushed)."""
    # cache 1 page, file 4..7: 7 is put (original bytes) before the truncate; after it 4..6 are
    # written back and put anew and 7 is the dirty page left in the cache
    data = _one_guest(["r 7", "r 0", "t 5"], cache_pages=1, file_pages=4)
    s = tmemsim.load_scenario(data)
    world = World(s, select_policies(s)[0])
    world.run()
    tm, g = world.policy, world.guests[0]
    assert world.policy_counters[0].tmem_flushes >= 1
    assert list(g.cache.keys()) == [7] and 7 in g.dirty
    assert not tm.holds_private(0, 7)
    for p in (4, 5, 6):
        assert tm.read(0, p, g.gdisk.location(p, True)) == (READ_HOST_CALL, g.versions[p])
    assert tm.read(0, 0, g.gdisk.location(0, False)) == (READ_HOST_CALL, 0)  # not in the file


# ---------------------------------------------------------------- 6. writeback vs writethrough


def _writer(policy, *, sync: bool, requests=2000, pool_pages=512) -> dict:
    return {
        "seed": 2,
        "requests": requests,
        "check": True,
        "host": {"memory": (8 + pool_pages) * PAGE},
        "disks": {"d": {"kind": "custom", "read": "100us", "write": "50us"}},
        "policies": [policy],
        "guests": [{
            "name": "g", "memory": 8 * PAGE, "disk": {"size": 256 * PAGE},
            "writeback_interval": "10ms", "dirty_expire": "20ms",
            "workload": {"kind": "uniform", "footprint": 64, "read_fraction": 0.5,
                         "sync": sync},
        }],
    }


def test_sync_writes_writeback_vs_writethrough():
    """O_SYNC writes: writethrough completes on the disk (virtio + device), every write is a disk
    write; writeback completes in host memory (virtio + page copy) and, in a run shorter than the
    host's dirty_expire with room for every page, writes nothing to disk."""
    wt = all_row(tmemsim.simulate(_writer("host-cache", sync=True), check=True))
    wb = all_row(tmemsim.simulate(
        _writer({"kind": "host-cache", "mode": "writeback"}, sync=True), check=True))
    none = all_row(tmemsim.simulate(_writer("none", sync=True), check=True))
    assert wt["writes"] == wb["writes"] == none["writes"] > 500
    assert wt["disk_writes"] == wt["writes"] == none["disk_writes"]
    assert wb["disk_writes"] == 0
    # 1 channel, one thread: no queueing. writethrough = virtio 20 + device 50
    assert wt["mean_write_latency_us"] == pytest.approx(70.0)
    assert none["mean_write_latency_us"] == pytest.approx(70.0)
    assert wb["mean_write_latency_us"] == pytest.approx(21.0)  # virtio 20 + page copy 1


def test_writeback_coalesces_and_flushes_later():
    """Buffered writes: writethrough writes every guest write-back to disk (as `none` does);
    writeback absorbs them, and its own flusher writes each dirty page once per expiry."""
    wt = all_row(tmemsim.simulate(_writer("host-cache", sync=False), check=True))
    none = all_row(tmemsim.simulate(_writer("none", sync=False), check=True))
    wb = all_row(tmemsim.simulate(_writer({"kind": "host-cache", "mode": "writeback"},
                                          sync=False), check=True))
    fast = all_row(tmemsim.simulate(_writer(
        {"kind": "host-cache", "mode": "writeback", "dirty_expire": "5ms",
         "writeback_interval": "5ms"}, sync=False), check=True))
    small = all_row(tmemsim.simulate(_writer(
        {"kind": "host-cache", "mode": "writeback"}, sync=False, pool_pages=16), check=True))
    assert wt["disk_writes"] == none["disk_writes"] > 500  # every write-back reaches the disk
    assert wb["disk_writes"] == 0  # absorbed: the run is shorter than the host's 30 s expiry
    assert 0 < fast["disk_writes"] < wt["disk_writes"]  # flushed, several writes coalesced
    assert 0 < small["disk_writes"] <= wt["disk_writes"]  # dirty pages flushed on eviction
    assert wb["disk_reads"] <= wt["disk_reads"]


# ---------------------------------------------------------------- 7. costs


COSTS = {"guest_hit": "1us", "hypercall": "3us", "page_copy": "5us", "virtio": "20us"}


def _latencies(result) -> list[tuple[float, float, int]]:
    lat = result.latency[result.latency["guest"] == "g"]
    return list(zip(lat["lo_us"], lat["hi_us"], lat["count"], strict=True))


def _assert_histogram(result, expected: dict[float, int]) -> None:
    """Each expected latency (µs) lies in a bucket holding exactly its count."""
    rows = _latencies(result)
    assert sum(n for _, _, n in rows) == sum(expected.values())
    for value, count in expected.items():
        inside = [n for lo, hi, n in rows if lo <= value * (1 + 1e-9) and value < hi * (1 + 1e-9)]
        assert inside == [count], (value, rows)


@pytest.mark.parametrize("policy,expected", [
    # r0, r1 miss (virtio + device); r0, r1 again from the host cache (virtio + page copy);
    # r1 a third time from the page cache (guest_hit)
    ("host-cache", {120: 2, 25: 2, 1: 1}),
    ("dedup", {120: 2, 25: 2, 1: 1}),
    ("none", {120: 4, 1: 1}),
    # a get that misses costs a hypercall before the disk path; a hit hypercall + page copy;
    # every insert after the first evicts the other page: a put, hypercall + page copy
    ({"kind": "tmem", "keep_free": 0}, {123: 1, 131: 1, 16: 2, 1: 1}),
    # the pool has no room (keep_free 1 MiB of a 16-page pool): gets miss, puts are refused
    # and cost the exit alone
    ("tmem", {123: 1, 126: 3, 1: 1}),
])
def test_read_path_costs(policy, expected):
    data = _one_guest(["r 0", "r 1", "r 0", "r 1", "r 1"], policy=policy, costs=COSTS)
    r = tmemsim.simulate(data, check=True)
    row = r.row(None, "g")
    total = sum(v * n for v, n in expected.items())
    assert row["mean_read_latency_us"] == pytest.approx(total / 5, rel=1e-9)
    _assert_histogram(r, expected)
    # percentiles are read at a bucket's middle: within 0.6 %
    assert row["p50_read_latency_us"] == pytest.approx(sorted(
        v for v, n in expected.items() for _ in range(n))[2], rel=0.006)


def test_tmem_miss_costs_one_hypercall_more_than_none():
    means = {}
    for policy in ("none", {"kind": "tmem", "keep_free": 0}):
        r = tmemsim.simulate(_one_guest(["r 3"], policy=policy, costs=COSTS), check=True)
        means[r.summary["policy"].iloc[0]] = r.row(None, "g")["mean_read_latency_us"]
    assert means["none"] == pytest.approx(120.0)
    assert means["tmem+keep_free=0"] - means["none"] == pytest.approx(3.0)


def test_host_hit_and_get_hit_costs_follow_the_cost_model():
    """Change one cost at a time: a host-cache hit moves with virtio and page_copy, a tmem get
    hit with hypercall and page_copy, and neither with the other's cost."""
    def host_hit(policy, **costs):
        r = tmemsim.simulate(_one_guest(["r 0", "r 1", "r 0"], policy=policy,
                                        costs={**COSTS, **costs}, cache_pages=1), check=True)
        lat = r.row(None, "g")["mean_read_latency_us"] * 3
        return lat

    base_hc = host_hit("host-cache")
    assert host_hit("host-cache", virtio="30us") - base_hc == pytest.approx(3 * 10)
    assert host_hit("host-cache", page_copy="7us") - base_hc == pytest.approx(2)
    assert host_hit("host-cache", hypercall="9us") == pytest.approx(base_hc)
    tm = {"kind": "tmem", "keep_free": 0}
    base_tm = host_hit(tm)
    # r0 miss (hc), r1 miss (hc) + put, r0 get hit (hc + copy) + put (hc + copy)
    assert host_hit(tm, hypercall="9us") - base_tm == pytest.approx(6 * 5)
    assert host_hit(tm, virtio="30us") - base_tm == pytest.approx(2 * 10)
