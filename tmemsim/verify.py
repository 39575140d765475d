"""Verification: the simulator against closed forms, a peer simulator and its own invariants.

Every check runs a scenario (scenarios/verify/, or for `conservation` the library scenarios of
scenarios/) and compares one simulated number with an expectation obtained without the model:
a formula of `tmemsim.theory`, libCacheSim replaying the same requests, or arithmetic on the
scenario itself. `run_checks` returns the table, `save` writes it with one figure per family.

Families (a check's name is "family/point"):

- irm: one LRU or FIFO page cache under Zipf IRM reads vs Che's approximation and the FIFO
  characteristic-time approximation (absolute hit-ratio tolerance 0.01).
- peer: LRU, FIFO and CLOCK guest caches vs libcachesim.LRU/FIFO/Clock on the same request
  sequence: equal miss ratios. libCacheSim's Clock is FIFO-reinsertion with an n-bit counter
  (default 1 bit, init 0): a hit sets the counter, the hand re-inserts a page whose counter is
  set (decrementing it) — with one bit exactly tmemsim's one-bit second-chance `clock`.
- exclusive: guest LRU of C1 pages + private tmem pool of C2 pages vs one LRU of C1 + C2 pages
  (Wong & Wilkes' DEMOTE): guest + host hits equal its hits, exactly.
- queue: a `custom` disk under Poisson arrivals: mean response vs M/M/1 and M/D/1
  (Pollaczek-Khinchine), mean wait vs M/M/c (Erlang C), within 3% (relative); Little's law,
  lambda W from the disk's counters vs a time average sampled from the recorded timings.
- sharing: disk reads of a base image read by clones: D, N×D or D by clone kind and policy.
- conservation: every library scenario under every policy, short, `check: true`: reads add up,
  the disks saw the guests' reads, the pool holds no more than its size, no stale read.
- engine: the batched engine measures exactly the requests due before the horizon.

The expectations never use a simulated number other than the measured arrival rate (queue)
and the request sequence the simulator drew (peer, exclusive). Scenario files are the
library's (`tmemsim.library`), found wherever tmemsim is installed; without them `run_checks`
says so (LibraryMissing) instead of failing every check.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib.util
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .api import select_policies
from .caches import make_cache
from .errors import OptionError, ScenarioError, check_jobs
from .infra.atomic import Staged, marked, stage
from .infra.parallel import run_many
from .library import LibraryMissing, bundled_scenarios, library_dir, scenario_path
from .model import World
from .scenario import load_scenario
from .theory import (
    che_characteristic_time,
    che_lru_hit_ratio,
    fifo_characteristic_time,
    fifo_irm_hit_ratio,
    md1_response,
    mm1_response,
    mmc_response,
    mmc_wait,
    zipf_popularities,
)
from .units import PAGE_SIZE
from .workloads.traces import write_oracle_general

COLUMNS = ["family", "check", "expected", "simulated", "error", "tolerance", "passed",
           "seconds", "note"]

@dataclass(frozen=True)
class Measurement:
    """What one check (or one row of a check that yields several) found.

    `passed` is left None to be decided from |error| <= tolerance; a measurement that checks
    several invariants at once sets it. `skipped` gives the reason a row could not run.
    """

    expected: float
    simulated: float
    note: str = ""
    suffix: str = ""
    passed: bool | None = None
    skipped: str | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class Check:
    """A named check: its family, scenario, how to measure it and what it must achieve.

    measure(check, quick) returns a Measurement, or a list of them (one row each; their
    `suffix` completes the name). `tolerance` is absolute, or relative to the expected value
    when `relative`. `quick_params` replace `params` in the quick set (shorter runs).
    `adjust` transforms the expected value before the comparison: a hook for tests that must
    see a wrong expectation fail.
    """

    family: str
    point: str
    scenario: str  # a library scenario: its path below scenarios/ (tmemsim.library)
    measure: Callable[[Check, bool], Measurement | list[Measurement]]
    tolerance: float
    quick: bool = False
    relative: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)
    quick_params: Mapping[str, Any] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    adjust: Callable[[float], float] | None = None

    @property
    def name(self) -> str:
        return f"{self.family}/{self.point}"

    def settings(self, quick: bool) -> dict:
        return {**self.params, **(self.quick_params if quick else {})}

    def load(self, overrides: Iterable[str] = ()):
        return load_scenario(scenario_path(self.scenario), list(overrides))


# ---------------------------------------------------------------- running the model


def _run(scenario):
    """One World under the scenario's first policy; its RunOutput."""
    return World(scenario, select_policies(scenario)[0]).run()


def _requested_pages(scenario, n: int) -> np.ndarray:
    """The first n vpages guest 0's only thread asks for: drawn from a World's own stream.

    Streams are seeded from the scenario alone, never the policy, so an unrun World of the same
    scenario holds the very sequence the simulated one will serve.
    """
    world = World(scenario, select_policies(scenario)[0])
    guest = world.guests[0]
    if len(guest.threads) != 1:
        raise ValueError("the page sequence is defined for one thread")
    th = guest.threads[0]
    ops, pages = list(th.ops[th.i:th.n]), list(th.pages[th.i:th.n])
    while len(pages) < n:
        chunk = th.stream.next_chunk()
        if not len(chunk[0]):
            break
        ops += list(chunk[0])
        pages += list(chunk[1])
    if any(op != 0 for op in ops[:n]):
        raise ValueError("the sequence has requests other than reads")
    return np.asarray(pages[:n], dtype=np.int64)


def _libcachesim_misses(kind: str, capacity: int, pages: np.ndarray) -> int:
    """Misses of libcachesim's LRU / FIFO / Clock of `capacity` pages replaying `pages`.

    The sequence goes through an oracleGeneral file (24-byte records: u32 time, u64 obj_id,
    u32 size, i64 next_access), every object one page, the cache `capacity` pages in bytes.
    """
    import libcachesim as lcs

    caches = {"lru": lcs.LRU, "fifo": lcs.FIFO, "clock": lcs.Clock}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pages.oracleGeneral"
        write_oracle_general(path, pages + 1)  # object id 0 is best avoided
        reader = lcs.TraceReader(str(path), lcs.TraceType.ORACLE_GENERAL_TRACE)
        miss_ratio, _ = caches[kind](capacity * PAGE_SIZE).process_trace(reader)
    return round(miss_ratio * len(pages))


def _replay_misses(kind: str, capacity: int, pages: np.ndarray) -> int:
    """Misses of tmemsim.caches' structure replaying `pages` (the fallback without libcachesim)."""
    cache = make_cache(kind, capacity)
    misses = 0
    for page in pages.tolist():
        if not cache.get(page):
            misses += 1
            cache.insert(page)
    return misses


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


# ---------------------------------------------------------------- irm


def _irm(check: Check, quick: bool) -> Measurement:
    p = check.settings(quick)
    n, alpha, kind = p["footprint"], p["alpha"], p["cache"]
    pages = round(p["fraction"] * n)
    popularity = zipf_popularities(n, alpha)
    if kind == "lru":
        expected = che_lru_hit_ratio(popularity, pages)
        t = che_characteristic_time(popularity, pages)
    else:
        expected = fifo_irm_hit_ratio(popularity, pages)
        t = fifo_characteristic_time(popularity, pages)
    # Warm-up of three characteristic times: a page stays cached about T requests, so the
    # initial fill is long forgotten (for LRU the state is exactly stationary once C distinct
    # pages were requested, which takes about T). The theory only sizes the warm-up here.
    warm = max(math.ceil(3 * t), 10 * pages)
    n_measured = p["requests"]
    s = check.load([f"guests.0.workload.footprint={n}", f"guests.0.workload.alpha={alpha}",
                    f"guests.0.cache={kind}", f"guests.0.memory={pages * PAGE_SIZE}",
                    f"warmup={warm}", f"requests={warm + n_measured}"])
    c = _run(s).counters[0]
    note = f"C={pages} pages of {n}; {c['reads']} reads after {warm} warm-up requests"
    if c["reads"] != n_measured:
        note += f" (expected {n_measured} measured reads)"
    return Measurement(expected, c["guest_hits"] / c["reads"], note)


# ---------------------------------------------------------------- peer


def _peer(check: Check, quick: bool) -> Measurement:
    p = check.settings(quick)
    kind, pages = p["cache"], p["pages"]
    s = check.load([f"guests.0.cache={kind}", f"guests.0.memory={pages * PAGE_SIZE}"])
    c = _run(s).counters[0]
    sequence = _requested_pages(s, c["reads"])
    misses = _libcachesim_misses(kind, pages, sequence)
    simulated = (c["reads"] - c["guest_hits"]) / c["reads"]
    return Measurement(misses / len(sequence), simulated,
                       f"{c['reads']} reads, C={pages}; misses tmemsim "
                       f"{c['reads'] - c['guest_hits']}, libcachesim {misses}")


# ---------------------------------------------------------------- exclusive


def _exclusive(check: Check, quick: bool) -> Measurement:
    p = check.settings(quick)
    c1, c2 = p["guest_pages"], p["pool_pages"]
    s = check.load([f"guests.0.memory={c1 * PAGE_SIZE}", f"host.memory={(c1 + c2) * PAGE_SIZE}"])
    out = _run(s)
    c = out.counters[0]
    sequence = _requested_pages(s, c["reads"])
    if _has("libcachesim"):
        misses, peer = _libcachesim_misses("lru", c1 + c2, sequence), "libcachesim.LRU"
    else:
        misses, peer = _replay_misses("lru", c1 + c2, sequence), "tmemsim.caches.LRU replay"
    expected = len(sequence) - misses
    note = (f"C1={c1} + C2={c2} (pool {out.pool_pages} pages); guest {c['guest_hits']} + "
            f"tmem {c['host_hits']} hits vs {peer}({c1 + c2})")
    return Measurement(expected, c["guest_hits"] + c["host_hits"], note)


# ---------------------------------------------------------------- queue


def _queue_scenario(check: Check, p: dict):
    """The queue scenario at utilisation rho: exponential (or constant) service on c channels,
    the total service rate kept at that of one channel of the scenario's mean."""
    base = check.load()
    mean = base.disks["d0"].read.mean
    c = p.get("channels", 1)
    # c channels of mean c x mean serve 1/mean requests per second in all, as one channel does
    overrides = [f"guests.0.workload.arrival.rate={p['rho'] / mean}",
                 f"duration={p['duration']}", f"disks.d0.channels={c}",
                 f"disks.d0.read.mean={mean * c}"]
    if p.get("service") == "constant":
        overrides.append("disks.d0.read.kind=constant")
    if "seed" in p:
        overrides.append(f"seed={p['seed']}")
    return check.load(overrides), mean * c, c


def _queue(check: Check, quick: bool) -> Measurement:
    p = check.settings(quick)
    s, service, c = _queue_scenario(check, p)
    out = _run(s)
    d = out.disks["d0"]
    n = d["requests"]
    lam = n / out.measured  # the arrival rate the disk saw
    mu = 1.0 / service
    note = f"{n} disk requests, measured rho={lam * service / c:.4f}"
    if p["model"] == "mm1":
        expected, simulated = mm1_response(lam, mu), d["response"] / n
        note += "; mean response vs 1/(mu - lambda)"
    elif p["model"] == "md1":
        expected, simulated = md1_response(lam, service), d["response"] / n
        note += "; mean response vs Pollaczek-Khinchine M/D/1"
    else:
        expected, simulated = mmc_wait(lam, mu, c), d["waiting"] / n
        note += (f"; mean wait vs Erlang C (c={c}); mean response {d['response'] / n:.6g} vs "
                 f"{mmc_response(lam, mu, c):.6g}")
    return Measurement(expected, simulated, note)


def _little(check: Check, quick: bool) -> Measurement:
    """Little's law L = lambda W, with L measured apart from the disk's counters.

    The disk's counters give lambda = requests / measured time and W = response / requests.
    L is measured otherwise: every request's arrival and completion time, as the disk handed
    them back to the guest, is recorded; the number in the disk system is counted at 100,000
    instants evenly spread over the measured window and averaged. The two agree when the
    counters the results report are those of the timing the model actually used.
    """
    p = check.settings(quick)
    s, _service, _c = _queue_scenario(check, p)
    world = World(s, select_policies(s)[0])
    disk = world.disks["d0"]
    arrivals: list[float] = []
    departures: list[float] = []
    submit = disk.submit

    def recording(t, block, is_write):
        done = submit(t, block, is_write)
        arrivals.append(t)
        departures.append(done)
        return done

    disk.submit = recording
    out = world.run()
    d = out.disks["d0"]
    if len(arrivals) < d["requests"]:
        return Measurement(math.nan, math.nan, "the disk was called without its submit(): "
                           "the instrumentation saw fewer requests than the disk counted",
                           passed=False)
    start, end = s.warmup, s.warmup + out.measured
    instants = start + (np.arange(100_000) + 0.5) * (end - start) / 100_000
    a = np.sort(np.asarray(arrivals))
    e = np.sort(np.asarray(departures))
    in_system = np.searchsorted(a, instants, "right") - np.searchsorted(e, instants, "right")
    lam = d["requests"] / out.measured
    w = d["response"] / d["requests"]
    return Measurement(lam * w, float(in_system.mean()),
                       f"lambda={lam:.2f}/s x W={w * 1e3:.4f} ms (disk counters) vs time "
                       f"average of requests in the disk at 100,000 instants")


# ---------------------------------------------------------------- sharing


def _sharing(check: Check, quick: bool) -> Measurement:
    p = check.settings(quick)
    s = check.load([f"guests.0.disk.clone={p['clone']}", f"policies=[{p['policy']}]"])
    # the arithmetic, from the scenario text: distinct pages read, number of clones
    steps = [str(step).split() for step in s.guests[0].workload.steps]
    distinct = len({int(page) for op, page in steps if op == "r"})
    clones = s.guests[0].count
    expected = distinct * (clones if p["copies"] else 1)
    out = _run(s)
    at_disk = sum(d["reads"] for d in out.disks.values())
    guest = sum(c["disk_reads"] for c in out.counters)
    note = (f"{clones} {p['clone']} clones x {distinct} distinct pages under {p['policy']}; "
            f"guests counted {guest} disk reads")
    return Measurement(expected, at_disk, note)


# ---------------------------------------------------------------- read-modify-write


def _rmw(check: Check, quick: bool) -> Measurement:
    """Sub-page writes to cold pages read each page exactly once, whole-page writes never.

    The clones of `verify/sharing.yaml` replay a trace written here: in turn, a write of part
    of each of P cold pages (twice over: the second finds it cached), whole-page writes to
    other cold pages, and requests spanning pages, whose inner pages are written whole and
    whose edge pages in part. Expected: P + 2 x spans reads per guest, every one a rmw_read,
    under the policy `params` names."""
    from .workloads.traces import WRITE, write_msr

    p = check.settings(quick)
    cold, spans = p["pages"], p["spans"]
    rows = [(0.0, WRITE, 4096 * page + 512 * (page % 7), 100 + page % 3000, 0)
            for page in range(cold)] * 2
    rows += [(0.0, WRITE, 4096 * (cold + page), 4096, 0) for page in range(cold)]
    first = 2 * cold
    rows += [(0.0, WRITE, 4096 * (first + 4 * i) + 2048, 3 * 4096, 0) for i in range(spans)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "subpage.csv"
        write_msr(path, rows)
        s = check.load([f"policies=[{p['policy']}]",
                        f"guests.0.workload={{kind: trace, format: msr, path: '{path}', "
                        f"timing: closed}}"])
        out = _run(s)
    expected = cold + 2 * spans
    wrong = [f"{name}: {c['reads']} reads, {c['rmw_reads']} rmw_reads"
             for name, c in zip(out.guest_names, out.counters, strict=True)
             if c["reads"] != expected or c["rmw_reads"] != expected or c["guest_hits"]]
    c = out.counters[0]
    note = "; ".join(wrong) if wrong else (
        f"{len(out.counters)} clones x {cold} sub-page-written pages + {spans} spans of 2 "
        f"partial pages: {c['rmw_reads']} reads each ({c['host_hits']} host, "
        f"{c['disk_reads']} disk)")
    return Measurement(expected, c["rmw_reads"], note, passed=not wrong)


# ---------------------------------------------------------------- conservation


def _invariants(out) -> list[str]:
    """The invariants a finished run must hold; returns what is broken."""
    broken = []
    for name, c in zip(out.guest_names, out.counters, strict=True):
        served = c["guest_hits"] + c["host_hits"] + c["disk_reads"]
        if served != c["reads"]:
            broken.append(f"{name}: hits {c['guest_hits']} + host {c['host_hits']} + disk "
                          f"{c['disk_reads']} != reads {c['reads']}")
        if c["stale_reads"]:
            broken.append(f"{name}: {c['stale_reads']} stale reads")
    disk_reads = sum(d["reads"] for d in out.disks.values())
    guest_reads = sum(c["disk_reads"] for c in out.counters)
    if disk_reads < guest_reads:
        broken.append(f"disks saw {disk_reads} reads < guests' {guest_reads} disk reads")
    disk_writes = sum(d["writes"] for d in out.disks.values())
    guest_writes = sum(c["disk_writes"] for c in out.counters)
    if disk_writes < guest_writes:
        broken.append(f"disks saw {disk_writes} writes < guests' {guest_writes} disk writes")
    if out.used_pages > out.pool_pages:
        broken.append(f"pool holds {out.used_pages} pages > its {out.pool_pages}")
    return broken


def _conservation(check: Check, quick: bool) -> list[Measurement]:
    p = check.settings(quick)
    overrides = [f"duration={p['duration']}", f"warmup={p['warmup']}", "check=true"]
    try:
        s = check.load(overrides)
        specs = select_policies(s)
    except ScenarioError as exc:
        # no machine paths in the table: the library's files are named as in the repository
        reason = str(exc).replace(f"{library_dir()}{os.sep}", "scenarios/")
        return [Measurement(math.nan, math.nan, skipped=f"does not load: {reason}")]
    rows = []
    for spec in specs:
        t0 = time.perf_counter()
        try:
            out = World(s, spec).run()
        except AssertionError as exc:  # InvariantError: broken during the checked run
            rows.append(Measurement(0, 1, f"invariant broken during the run: {exc}",
                                    suffix=spec.name, seconds=time.perf_counter() - t0))
            continue
        except Exception as exc:
            rows.append(Measurement(0, math.nan, f"the run failed: {type(exc).__name__}: {exc}",
                                    suffix=spec.name, passed=False,
                                    seconds=time.perf_counter() - t0))
            continue
        broken = _invariants(out)
        reads = sum(c["reads"] for c in out.counters)
        disk_reads = sum(d["reads"] for d in out.disks.values())
        puts = sum(c.get("tmem_puts", 0) for c in out.policy_counters)
        note = "; ".join(broken) if broken else (
            f"{reads} reads = hits + host + disk; disks {disk_reads} reads; pool "
            f"{out.used_pages}/{out.pool_pages} pages" + (f", {puts} tmem puts" if puts else "")
            + "; 0 stale")
        rows.append(Measurement(0, len(broken), note, suffix=spec.name,
                                seconds=time.perf_counter() - t0))
    return rows


# ---------------------------------------------------------------- engine


def _engine(check: Check, quick: bool) -> Measurement:
    """Requests measured in `duration` seconds at exactly one request per second."""
    p = check.settings(quick)
    s = check.load(["requests=null", f"warmup={p['warmup']}", f"duration={p['duration']}",
                    f"engine={p['engine']}", f"guests.0.workload.alpha={p['alpha']}",
                    f"guests.0.memory={p['pages'] * PAGE_SIZE}"])
    c = _run(s).counters[0]
    expected = round(s.duration)  # requests at warmup, warmup + 1 s, ..., before the horizon
    return Measurement(expected, c["requests"],
                       f"{p['engine']} engine; {c['guest_hits']} guest hits; requests at "
                       f"t >= warmup + duration must not be served")


# ---------------------------------------------------------------- the registry


def _library_names() -> list[str]:
    """The library's scenarios for the conservation family; none without a library (run_checks
    then says the library is missing rather than running a shorter list)."""
    try:
        return bundled_scenarios()
    except LibraryMissing:
        return []


def _require_scenarios(checks: Iterable[Check]) -> None:
    """LibraryMissing, naming the files, unless every check's scenario is installed: a check
    without its scenario would only fail with NaN values."""
    root = library_dir()
    missing = sorted({c.scenario for c in checks if not (root / c.scenario).is_file()})
    if missing:
        raise LibraryMissing(f"the scenario library in {root} lacks {', '.join(missing)}; "
                             f"reinstall tmemsim")


def _registry() -> dict[str, Check]:
    checks: list[Check] = []
    quick_irm = {("lru", 0.8, 0.1), ("lru", 1.2, 0.01), ("fifo", 0.6, 0.03),
                 ("fifo", 1.0, 0.1)}
    for kind in ("lru", "fifo"):
        for alpha in (0.6, 0.8, 1.0, 1.2):
            for fraction in (0.01, 0.03, 0.1, 0.3):
                checks.append(Check(
                    "irm", f"{kind}-a{alpha}-c{fraction:.0%}", "verify/irm.yaml", _irm, 0.01,
                    quick=(kind, alpha, fraction) in quick_irm,
                    params=dict(cache=kind, alpha=alpha, fraction=fraction,
                                footprint=100_000, requests=200_000),
                    quick_params=dict(requests=100_000)))
    for kind in ("lru", "fifo", "clock"):
        for pages in (500, 5000):
            checks.append(Check("peer", f"{kind}-c{pages}", "verify/peer.yaml", _peer, 0.0,
                                quick=pages == 5000, params=dict(cache=kind, pages=pages),
                                requires=("libcachesim",)))
    for c1, c2 in ((2000, 6000), (6000, 2000), (5000, 15000)):
        checks.append(Check("exclusive", f"lru{c1}+tmem{c2}", "verify/exclusive.yaml",
                            _exclusive, 0.0, quick=c1 == 2000,
                            params=dict(guest_pages=c1, pool_pages=c2)))
    # Run lengths: the relative standard error of a mean response over a run of T seconds is
    # about sqrt(2 rho (1 + rho) / (1 - rho)^4 / (mu T)) / L, L = rho / (1 - rho) (Whitt,
    # "Planning queueing simulations", Management Science 35(11), 1989, for M/M/1); for the
    # M/M/4 waits it was measured over 16 seeds (1.65% at 280,000 arrivals, rho = 0.7). Each
    # run is long enough for the 3% tolerance to be three standard errors or more.
    # (point, params, duration in the quick set; None: not in the quick set)
    queue = [
        ("mm1-rho0.3", dict(model="mm1", rho=0.3, duration=1000), 300),
        ("mm1-rho0.6", dict(model="mm1", rho=0.6, duration=1000), 600),
        ("mm1-rho0.9", dict(model="mm1", rho=0.9, duration=4500), None),
        ("md1-rho0.5", dict(model="md1", rho=0.5, service="constant", duration=600), 300),
        ("md1-rho0.9", dict(model="md1", rho=0.9, service="constant", duration=3000), None),
        ("mmc4-rho0.5", dict(model="mmc", rho=0.5, channels=4, duration=2500), None),
        ("mmc4-rho0.7", dict(model="mmc", rho=0.7, channels=4, duration=2000), 2000),
        ("mmc4-rho0.8", dict(model="mmc", rho=0.8, channels=4, duration=3000), None),
    ]
    for point, params, quick_duration in queue:
        checks.append(Check("queue", point, "verify/queue.yaml", _queue, 0.03,
                            quick=quick_duration is not None, relative=True, params=params,
                            quick_params={"duration": quick_duration} if quick_duration else {}))
    checks.append(Check("queue", "little-rho0.8", "verify/queue.yaml", _little, 0.01,
                        quick=True, relative=True,
                        params=dict(model="mm1", rho=0.8, duration=500),
                        quick_params=dict(duration=200)))
    sharing = [("cow-host-cache", "cow", "host-cache", False),
               ("copy-host-cache", "copy", "host-cache", True),
               ("copy-dedup", "copy", "dedup", False),
               ("cow-dedup", "cow", "dedup", False),
               ("cow-none", "cow", "none", True),
               ("cow-tmem", "cow", "tmem", True)]
    for point, clone, policy, copies in sharing:
        checks.append(Check("sharing", point, "verify/sharing.yaml", _sharing, 0.0, quick=True,
                            params=dict(clone=clone, policy=policy, copies=copies)))
    for policy in ("none", "host-cache", "tmem", "dedup"):
        checks.append(Check("rmw", f"subpage-{policy}", "verify/sharing.yaml", _rmw, 0.0,
                            quick=True, params=dict(policy=policy, pages=300, spans=40)))
    # the library's scenarios, plus one of ours that keeps a tmem pool busy (the short library
    # runs barely fill a guest cache, so they put little or nothing)
    library = [f"{name}.yaml" for name in _library_names()] + ["verify/exclusive.yaml"]
    for path in library:
        point = path.removesuffix(".yaml").replace("/", "-")
        checks.append(Check("conservation", point, path, _conservation, 0.0,
                            quick=True, params=dict(duration="0.5s", warmup="0.2s"),
                            quick_params=dict(duration="0.1s", warmup="0.05s")))
    for engine in ("batched", "unbatched"):
        checks.append(Check("engine", f"horizon-{engine}", "verify/irm.yaml", _engine, 0.0,
                            quick=True, params=dict(engine=engine, alpha=1.2, pages=3000,
                                                    warmup=2000, duration=10000)))
    from .analysis.curve_checks import checks as curve_checks  # it builds on Check

    checks += curve_checks()
    return {c.name: c for c in checks}


CHECKS: dict[str, Check] = _registry()
"""Every check by name ("family/point"); `quick` marks the quick set."""

FAMILIES = ("irm", "peer", "exclusive", "queue", "sharing", "rmw", "conservation", "engine",
            "curve")


def select(quick: bool = True, only: Iterable[str] | None = None,
           checks: Mapping[str, Check] | None = None) -> list[Check]:
    """The checks to run, in registry order: the quick set or all of CHECKS, or those `only`
    names (check names, family names or shell patterns such as "queue/mm1-*"). A registry
    passed as `checks` is run whole unless `only` narrows it."""
    if only is None and checks is not None:
        return list(checks.values())  # the caller's own checks are all wanted
    registry = CHECKS if checks is None else checks
    if only is None:
        return [c for c in registry.values() if c.quick or not quick]
    wanted = [only] if isinstance(only, str) else list(only)
    chosen = [c for c in registry.values()
              if any(w in (c.name, c.family) or fnmatch.fnmatchcase(c.name, w) for w in wanted)]
    unknown = [w for w in wanted if not any(
        w in (c.name, c.family) or fnmatch.fnmatchcase(c.name, w) for c in registry.values())]
    if unknown:
        raise OptionError(f"no check matches {', '.join(unknown)}; families are "
                          f"{', '.join(sorted({c.family for c in registry.values()}))}")
    return chosen


def run_checks(quick: bool = True, only: list[str] | None = None, progress=None, *,
               checks: Mapping[str, Check] | None = None, jobs: int = 1) -> pd.DataFrame:
    """Run the quick set (or every check) and return one row per check.

    Columns: family, check, expected, simulated, error (simulated - expected; relative to
    expected for relative checks), tolerance, passed (True / False, None when skipped),
    seconds, note. `only` picks checks by name, family or pattern (see `select`); `quick`
    then still chooses the shorter runs. progress(done, total) is called after each check.
    `checks` replaces the registry and is run whole unless `only` narrows it (tests and the
    notebook run altered checks this way; `quick` then only picks the shorter runs).
    `jobs` > 1 runs checks in that many processes (each check is seeded by its scenario, so
    the table is the same); checks must then be picklable (no lambdas). LibraryMissing, before
    anything runs, when a selected check's scenario is not installed.
    """
    check_jobs(jobs)
    selected = select(quick, only, checks)
    _require_scenarios(selected)
    found = run_many(functools.partial(_execute, quick=quick), selected, jobs, progress)
    rows = []
    for i, check in enumerate(selected):
        measurements, seconds = found[i]
        for m in measurements:
            share = m.seconds if m.seconds is not None else seconds / len(measurements)
            rows.append(_row(check, m, share))
    return pd.DataFrame(rows, columns=COLUMNS)


def _execute(check: Check, quick: bool) -> tuple[list[Measurement], float]:
    """Run one check: its measurements (a crash is a failed one) and its wall seconds."""
    t0 = time.perf_counter()
    missing = [m for m in check.requires if not _has(m)]
    if missing:
        found = [Measurement(math.nan, math.nan, skipped=f"{missing[0]} not installed")]
    else:
        try:
            found = check.measure(check, quick)
        except Exception as exc:  # a crash is a failed check, with its reason
            found = Measurement(math.nan, math.nan, f"{type(exc).__name__}: {exc}",
                                passed=False)
    return (found if isinstance(found, list) else [found]), time.perf_counter() - t0


def _row(check: Check, m: Measurement, seconds: float) -> dict:
    name = f"{check.name}:{m.suffix}" if m.suffix else check.name
    expected = m.expected
    if check.adjust is not None and not math.isnan(expected):
        expected = check.adjust(expected)
    if m.skipped is not None:
        error, passed, note = math.nan, None, m.skipped
    else:
        diff = m.simulated - expected
        error = diff / expected if check.relative and expected else diff
        passed = m.passed
        if passed is None:
            passed = bool(abs(error) <= check.tolerance)  # NaN compares False: a failure
        note = m.note
    return dict(family=check.family, check=name, expected=expected, simulated=m.simulated,
                error=error, tolerance=check.tolerance, passed=passed, seconds=seconds,
                note=note)


# ---------------------------------------------------------------- figures and files


def save(table: pd.DataFrame, out_dir, checks: Mapping[str, Check] | None = None, *,
         force: bool = False) -> list[Path]:
    """Write verify.csv, meta.json and one PNG per family (simulated against theory) into
    out_dir, a directory of its own built whole and renamed into place (infra.atomic): an
    existing one is replaced only with force, and only if tmemsim wrote it or it is empty.

    out_dir may be a target staged by infra.atomic.stage() (the CLI stages it before running).
    `checks` is the registry the table was run with, if not CHECKS (figures read the checks'
    parameters: cache sizes, loads)."""
    staged = out_dir if isinstance(out_dir, Staged) else stage(out_dir, force=force)
    with staged:
        build = staged.build
        (build / "meta.json").write_text(json.dumps(marked({}, "verify")) + "\n")
        table.to_csv(build / "verify.csv", index=False)
        names = ["meta.json", "verify.csv"]
        for family, fig in figures(table, checks).items():
            fig.savefig(build / f"verify-{family}.png", dpi=110, bbox_inches="tight")
            names.append(f"verify-{family}.png")
        out = staged.commit()
    return [out / name for name in names]


def figures(table: pd.DataFrame, checks: Mapping[str, Check] | None = None) -> dict:
    """One matplotlib Figure per family present in the table, by family name."""
    registry = CHECKS if checks is None else checks
    by_name = {c.name: c for c in registry.values()}

    def params(name: str) -> dict:
        check = by_name.get(name.split(":")[0])
        return dict(check.params) if check is not None else {}

    draw = {"irm": _figure_irm, "queue": _figure_queue}
    out = {}
    for family, rows in table.groupby("family", sort=False):
        out[family] = draw.get(family, _figure_bars)(family, rows, params)
    return out


def _new_figure(width: float, height: float, panels: int = 1):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, panels, squeeze=False)[0]
    return fig, axes


_COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]


def _figure_irm(family: str, rows: pd.DataFrame, params):
    """Hit ratio against cache size: theory curves, simulated points, per alpha."""
    fig, axes = _new_figure(11, 4.2, 2)
    theory = {"lru": che_lru_hit_ratio, "fifo": fifo_irm_hit_ratio}
    labels = {"lru": "LRU vs Che's approximation", "fifo": "FIFO vs FIFO IRM approximation"}
    points = [(r, params(r.check)) for r in rows.itertuples()]
    for ax, kind in zip(axes, ("lru", "fifo"), strict=True):
        mine = [(r, p) for r, p in points if p.get("cache") == kind]
        alphas = sorted({p["alpha"] for _, p in mine})
        for color, alpha in zip(_COLORS, alphas, strict=False):
            at = [(p["fraction"], r) for r, p in mine if p["alpha"] == alpha]
            n = next(p["footprint"] for _, p in mine if p["alpha"] == alpha)
            pop = zipf_popularities(n, alpha)
            grid = np.geomspace(0.005, 0.4, 40)
            ax.plot(grid * 100, [theory[kind](pop, round(f * n)) for f in grid], color=color,
                    lw=1.2, label=f"theory α={alpha}")
            for f, r in at:
                ax.plot(f * 100, r.simulated, "o", color=color if r.passed else "red",
                        mfc="none" if r.passed is None else None, ms=6)
        ax.set_xscale("log")
        ax.set_xlabel("page cache, % of the footprint")
        ax.set_ylabel("hit ratio")
        ax.set_title(labels[kind])
        ax.grid(alpha=0.3)
        if alphas:
            ax.legend(fontsize=8, title="lines: theory, dots: simulated", title_fontsize=8)
    fig.suptitle("IRM hit ratios (tolerance ±0.01; red = failed)")
    return fig


def _figure_queue(family: str, rows: pd.DataFrame, params):
    """Mean response and wait against load: M/M/1, M/D/1, M/M/c curves, simulated points;
    Little's law as simulated L against lambda W."""
    fig, axes = _new_figure(14, 4.2, 3)
    rho = np.linspace(0.05, 0.93, 80)
    service = 1e-3  # the queue scenario's mean service time (total rate 1000/s)
    ax = axes[0]
    ax.plot(rho, [mm1_response(r / service, 1 / service) * 1e3 for r in rho],
            color=_COLORS[0], label="M/M/1 theory")
    ax.plot(rho, [md1_response(r / service, service) * 1e3 for r in rho],
            color=_COLORS[1], label="M/D/1 theory")
    ax.set_title("single channel: mean response")
    ax.set_ylabel("ms")
    ax2 = axes[1]
    channels = sorted({params(r.check).get("channels", 1) for r in rows.itertuples()} - {1})
    busy = rho[rho >= 0.3]  # below, an M/M/c wait is vanishingly small
    for color, c in zip(_COLORS[2:], channels or [4], strict=False):
        ax2.plot(busy, [mmc_wait(r / service, 1 / (service * c), c) * 1e3 for r in busy],
                 color=color, label=f"M/M/{c} Erlang C wait")
    ax2.set_title("several channels: mean wait in queue")
    ax2.set_ylabel("ms")
    ax3 = axes[2]
    for r in rows.itertuples():
        p = params(r.check)
        color = "black" if r.passed else "red"
        if p.get("model") == "mm1" and not r.check.startswith("queue/little"):
            ax.plot(p["rho"], r.simulated * 1e3, "o", color=color)
        elif p.get("model") == "md1":
            ax.plot(p["rho"], r.simulated * 1e3, "s", color=color)
        elif p.get("model") == "mmc":
            ax2.plot(p["rho"], r.simulated * 1e3, "o", color=color)
        if r.check.startswith("queue/little"):
            ax3.plot(r.expected, r.simulated, "o", color=color)
            ax3.annotate(f"ρ={p.get('rho')}", (r.expected, r.simulated), fontsize=8,
                         xytext=(4, -10), textcoords="offset points")
    for a in (ax, ax2):
        a.set_xlabel("utilisation ρ")
        a.set_yscale("log")
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    lim = [0, max([1.0] + [r.expected * 1.2 for r in rows.itertuples()
                           if r.check.startswith("queue/little")])]
    ax3.plot(lim, lim, color="grey", lw=1)
    ax3.set_xlabel("λ W from the disk's counters")
    ax3.set_ylabel("sampled time average of requests in system")
    ax3.set_title("Little's law")
    ax3.grid(alpha=0.3)
    fig.suptitle("Disk as a queue (points: simulated, red = failed; tolerance 3%)")
    return fig


def _figure_bars(family: str, rows: pd.DataFrame, params):
    """Expected and simulated side by side for each check (skipped ones marked)."""
    names = [r.check.split("/", 1)[1] for r in rows.itertuples()]
    fig, axes = _new_figure(max(6.0, 0.45 * len(rows) + 2), 4.4)
    ax = axes[0]
    x = np.arange(len(rows))
    expected = rows["expected"].to_numpy(dtype=float)
    simulated = rows["simulated"].to_numpy(dtype=float)
    ax.bar(x - 0.2, np.nan_to_num(expected), 0.4, color="#999999", label="expected")
    colors = ["#009E73" if p is True else "#D55E00" if p is False else "#DDDDDD"
              for p in rows["passed"]]
    ax.bar(x + 0.2, np.nan_to_num(simulated), 0.4, color=colors, label="simulated")
    for i, p in enumerate(rows["passed"]):
        mark = "skipped" if p is None or (isinstance(p, float) and math.isnan(p)) else \
            ("ok" if p else "FAIL")
        top = np.nanmax([expected[i], simulated[i], 0]) if not (
            math.isnan(expected[i]) and math.isnan(simulated[i])) else 0
        ax.annotate(mark, (i, top), ha="center", va="bottom", fontsize=7,
                    xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(x, names, rotation=60, ha="right", fontsize=8)
    ax.set_ylim(bottom=0, top=None if np.nanmax(np.r_[expected, simulated, 0]) > 0 else 1)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    titles = {
        "peer": "Miss ratio: tmemsim guest cache vs libCacheSim (must be equal)",
        "exclusive": "Guest + tmem hits vs one LRU of the summed size (must be equal)",
        "sharing": "Disk reads of the base image vs sharing arithmetic (must be equal)",
        "conservation": "Broken invariants per scenario and policy (must be 0)",
        "engine": "Requests measured in the duration (must equal the duration in s)",
        "curve": "One-pass curve against full runs (exact: hits; library: read hit ratio)",
    }
    ax.set_title(titles.get(family, family))
    return fig


__all__ = ["CHECKS", "COLUMNS", "FAMILIES", "Check", "Measurement", "figures", "run_checks",
           "save", "select"]
