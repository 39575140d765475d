"""The world: one scenario under one policy, built, run on SimPy, and read out as plain rows.

Seeds are split so that every guest thread's request stream depends on the scenario seed and the
guest's place only — never on the policy — which gives every policy the same requests.
"""

from __future__ import annotations

import time

import numpy as np
import simpy

from ..images import Contents, GuestDisk, ImageContent, Layout
from ..policies import POLICIES, Host
from ..units import PAGE_SIZE
from .census import Census
from .clock import At
from .config import GuestConfig
from .costs import CostModel
from .disk import make_disk
from .guest import Guest
from .hypervisor import Hypervisor
from .invariants import check_action, check_get, check_sample
from .ksm import Ksm, ksm_settings
from .metrics import GuestCounters, LatencyHistogram
from .turns import Turns

RANK_OBSERVER = 0  # sampler and warm-up reset go first at a tie: they see the state before it
RANK_HOST = 1
RANK_GUEST = 2  # + guest index


def _seeds(seed: int):
    """Independent seed trees for request streams, images and disks."""
    streams, images, disks = np.random.SeedSequence(seed).spawn(3)
    return streams, images, disks


def guest_seeds(scenario) -> list[tuple[list, np.random.SeedSequence]]:
    """Per guest (expanded order): its threads' stream seeds and its churn seed. The request
    streams depend on these alone, so anything that replays a guest's requests (the curves of
    tmemsim.analysis) draws exactly what a run draws."""
    stream_seed, _, _ = _seeds(scenario.seed)
    named = scenario.expanded_guests()
    out = []
    for (_, g), seed in zip(named, stream_seed.spawn(len(named)), strict=True):
        *thread_seeds, churn_seed = seed.spawn(g.workload.threads + 1)
        out.append((thread_seeds, churn_seed))
    return out


def make_disks(scenario, layout) -> dict:
    """Every disk of the scenario, seeded as a run seeds them (a replay of a run's disk I/Os
    draws the same service times)."""
    _, _, disk_seed = _seeds(scenario.seed)
    return {
        name: make_disk(name, spec, np.random.default_rng(seed), layout.disk_pages.get(name, 1))
        for (name, spec), seed in zip(scenario.disks.items(),
                                      disk_seed.spawn(len(scenario.disks)), strict=True)
    }


def build_layout(scenario):
    """Backing files for every image and guest disk; returns (layout, guest disks)."""
    _, image_seed, _ = _seeds(scenario.seed)
    layout = Layout()
    only_disk = next(iter(scenario.disks))
    base_ids = {}
    for (name, image), seed in zip(scenario.images.items(),
                                   image_seed.spawn(len(scenario.images)), strict=True):
        pages = image.size // PAGE_SIZE
        disk = image.disk or only_disk
        f = layout.add(name, disk, pages)
        f.content = ImageContent(f.id, pages, image.zero_fraction, image.internal_dup, seed)
        f.compressibility = image.compressibility
        base_ids[name] = f
    gdisks, swaps = [], []
    for index, (gname, g) in enumerate(scenario.expanded_guests()):
        spec = g.disk
        if spec.image is None:
            disk = spec.disk or only_disk
            own = layout.add(f"{gname}.img", disk, spec.size // PAGE_SIZE, owner=index)
            gdisks.append(GuestDisk("private", own.id, None, own.pages))
        else:
            base = base_ids[spec.image]
            disk = spec.disk or base.disk
            suffix = "overlay" if spec.clone == "cow" else "copy"
            content = base.content if spec.clone == "copy" else None
            own = layout.add(f"{gname}.{suffix}", disk, base.pages, owner=index, content=content)
            gdisks.append(GuestDisk(spec.clone, own.id, base.id, base.pages))
        anon = g.workload.anon
        # the swap area: after the guest's disk, on the same physical disk
        swap = layout.add(f"{gname}.swap", disk, anon.size, owner=index) if anon else None
        swaps.append(swap.id if swap else None)
    return layout, gdisks, swaps


class World:
    """Everything one run needs; `run()` returns a RunOutput."""

    def __init__(self, scenario, policy_spec, progress=None):
        self.scenario = scenario
        self.policy_spec = policy_spec
        self.progress = progress
        s = scenario
        self.env = simpy.Environment()
        self.layout, gdisks, swaps = build_layout(s)
        self.contents = Contents(self.layout)
        self.store: dict = {}
        self.costs = CostModel(s.host.costs)
        self.disks = make_disks(s, self.layout)
        named = s.expanded_guests()
        if policy_spec.balloon is not None:  # the policy sets every guest's balloon
            named = [(n, g.model_copy(update={"balloon": g.balloon.model_copy(
                update={"kind": policy_spec.balloon})})) for n, g in named]
        self.guest_names = [name for name, _ in named]
        self.counters = [GuestCounters() for _ in named]
        policy_class = POLICIES[policy_spec.kind]
        self.policy_counters = [policy_class.Counters() for _ in named]
        self.pool_pages = s.pool_bytes() // PAGE_SIZE
        host = Host(self.pool_pages, self.store, self.contents, self.guest_names, self.layout,
                    self.policy_counters)
        self.policy = policy_class(policy_spec.make_options(), host)
        merging = ksm_settings(s, policy_spec)
        # without persistent pages or resizes (ballooning, KSM lending the pool what it saves)
        # a put's outcome can be promised (put_waits)
        static_pool = merging is None and policy_spec.balloon is None and all(
            g.balloon.kind == "none" and g.workload.anon is None for _, g in named)
        self.hv = Hypervisor(self.policy, self.costs, self.disks, self.layout, self.counters,
                             [RANK_GUEST + i for i in range(len(named))], static_pool)
        self.horizon = s.warmup + s.duration if s.duration is not None else float("inf")
        self.next_time = s.warmup if s.warmup > 0 else s.sample_interval
        self.guests = self._make_guests(named, gdisks, swaps)
        self._merging(merging)
        # memory accounting: guests + pool + host reserved = host memory, at every step
        self.memory = [g.memory for _, g in named]
        self.max_memory = [g.max_bytes() for _, g in named]
        self.floor = [g.floor_bytes() for _, g in named]
        self.slack = s.pool_bytes() - self.pool_pages * PAGE_SIZE
        for i in range(len(named)):
            self.policy.set_allowance(i, self.allowance(i))
        if s.check:
            # the oracle: one request per action, invariants checked after each, and every
            # miss's get checked at once (the checked read costs nothing when check is off)
            for g in self.guests:
                g.checker = self.check_invariants
                g.hv_read = self.checked_read
        # (time, guest or "HOST", metric, value); see _sample for what a time stamp means
        self.samples: list[tuple] = []
        self.double_cached_samples: list[int] = []
        self.counted = [c.as_dict() for c in self.counters]  # the counters at the last sample
        # the latest sample: (time, its first row, the counters it was taken against)
        self.latest_sample: tuple | None = None
        self.measured_from = s.warmup

    def _make_guests(self, named, gdisks, swaps) -> list[Guest]:
        """One Guest per expanded guest, and the double-caching census they keep if the policy
        counts by location."""
        s = self.scenario
        batched = s.engine == "batched"
        guests = []
        for index, ((name, g), (thread_seeds, churn_seed)) in enumerate(
                zip(named, guest_seeds(s), strict=True)):
            config = GuestConfig(
                index, name, g, gdisks[index], [g.workload.stream(ts) for ts in thread_seeds],
                RANK_GUEST + index, batched, self.horizon, s.requests, swaps[index],
                np.random.default_rng(churn_seed))
            guests.append(Guest(self.env, config, self.hv, self.contents, self))
        if self.policy.holds_guest_pages and self.policy.census_mode == "location":
            census = Census(len(named))  # the double-cached counts, kept as pages move
            self.policy.attach_census(census)
            for g in guests:
                g.census = census
        return guests

    # ------------------------------------------------------------ observers

    def _observer(self):
        """Reset the counters at the end of the warm-up, then sample every interval; the run
        takes the last sample itself, at its end (run())."""
        env, s = self.env, self.scenario
        if s.warmup > 0:
            yield At(env, s.warmup - env.now, RANK_OBSERVER)
            self._reset()
        while True:
            # guests read next_time: they must not run their clocks past an observation
            self.next_time = env.now + s.sample_interval
            yield At(env, s.sample_interval, RANK_OBSERVER)
            self._observe(env.now)

    def _observe(self, now: float) -> None:
        self._sample(now)
        if self.scenario.check:
            self.check_deep()
        if self.progress is not None:
            self.progress(now)

    def _reset(self) -> None:
        self.hv.settle(self.env.now, RANK_OBSERVER)  # the puts due before the warm-up's end
        for c in self.counters + self.policy_counters:
            c.reset()
        for g in self.guests:
            g.hist.reset()
        for d in self.disks.values():
            d.reset_stats()
        if self.ksm is not None:
            self.ksm.reset()
        self.counted = [c.as_dict() for c in self.counters]

    _INTERVAL = ("requests", "reads", "guest_hits", "host_hits", "disk_reads", "disk_writes")

    def _sample(self, now: float) -> None:
        """One sample stamped `now`, the end of the interval it covers: the interval counts
        (what happened since the previous sample, or since the warm-up ended) and the gauges.

        Every sample interval's sample sees the state after every action due before its time
        and none due at it or later (the observer goes first at a tie). The run's last sample
        is stamped at the run's end: the horizon, or the last request's end when the budget was
        spent or the streams ended first (a shorter last interval). If that falls on the time
        of the sample before, it replaces it, so the counts sum to the run's totals.
        """
        self.hv.settle(now, RANK_OBSERVER)  # the puts due before the sample
        counted = self.counted
        if self.latest_sample is not None and self.latest_sample[0] == now:
            _, first, counted = self.latest_sample
            del self.samples[first:]
            self.double_cached_samples.pop()
        self.latest_sample = (now, len(self.samples), counted)
        add = self.samples.append
        total_double = 0
        self.counted = []
        for i, g in enumerate(self.guests):
            now_counts = g.counters.as_dict()
            for m in self._INTERVAL:
                add((now, g.name, m, now_counts[m] - counted[i][m]))
            self.counted.append(now_counts)
            add((now, g.name, "guest_cache_pages", len(g.cache)))
            add((now, g.name, "memory_pages", self.memory[i] // PAGE_SIZE))
            add((now, g.name, "pool_pages", self.policy.guest_pages(i)))
            double = g.double_cached()
            total_double += double
            add((now, g.name, "double_cached_pages", double))
        add((now, "HOST", "pool_used_pages", self.policy.used_pages()))
        add((now, "HOST", "pool_pages", self.pool_pages))
        stored = self.policy.stored_pages()
        if stored is not None:  # a compressed pool: guest pages stored in pool_used_pages
            add((now, "HOST", "pool_stored_pages", stored))
        add((now, "HOST", "double_cached_pages", total_double))
        if self.policy.distinct_is_cheap:
            add((now, "HOST", "distinct_contents", self.policy.distinct_contents()))
        if self.ksm is not None:
            for metric, value in self.ksm.gauges().items():
                add((now, "HOST", metric, value))
        self.double_cached_samples.append(total_double)

    def check_invariants(self) -> None:
        """After every action under `check: true` (invariants.check_action)."""
        check_action(self)

    def checked_read(self, guest: int, vpage: int, loc: int, t: float) -> tuple[float, int]:
        """A miss's get under `check: true`, then the rule that a private get is exclusive: the
        page is no longer in the guest's private pool. Checked at the get itself, because the
        miss's fill later flushes a copy put while the read was in flight, and so would hide a
        get that kept its copy from the deep check."""
        got = self.hv.read(guest, vpage, loc, t)
        check_get(self, guest, vpage)
        return got

    def set_memory(self, i: int, target: int, t: float) -> None:
        """Balloon guest i towards target bytes, within its floor and max_memory less the
        persistent pages charged to it; memory moves between the guest and the pool."""
        g = self.guests[i]
        cap = self.max_memory[i] - self.policy.persistent_pages(i) * PAGE_SIZE
        target = max(self.floor[i], min(target, cap))
        pages = (target - self.memory[i]) // PAGE_SIZE
        if pages < 0:  # give memory back: the guest evicts first (its puts see the old pool)
            g.shrink_cache(-pages, t)
            self.memory[i] += pages * PAGE_SIZE
            self.pool_pages = self.policy.resize(self.pool_pages - pages)
        elif pages > 0:  # take memory: the pool gives up what it can
            reached = self.policy.resize(self.pool_pages - pages)
            got = max(self.pool_pages - reached, 0)
            self.pool_pages = reached
            self.memory[i] += got * PAGE_SIZE
            g.grow_cache(got)
        self.policy.set_allowance(i, self.allowance(i))
        self.hv.drain(t)

    def _merging(self, settings) -> None:
        """KSM, if this run has it: the scanner, which every guest tells of its pages' fates."""
        self.ksm = self.lent = None  # the scanner, and the pool pages its merging lent the pool
        if settings is None:
            return
        self.ksm = Ksm(settings, self.guests, self.contents, self.costs, self.merged_memory)
        self.lent = 0
        for g in self.guests:
            g.observe_merging(self.ksm)

    def merged_memory(self, t: float) -> None:
        """KSM's savings changed: the pool grows by what merging freed and gives back what
        un-merging takes (README, "KSM"). A pool that cannot shrink (persistent tmem pages)
        keeps what it holds, and the host runs short of the rest until it can."""
        want = max(self.pool_pages + self.ksm.pages_sharing - self.lent, 0)
        reached = self.policy.resize(want)
        self.lent += reached - self.pool_pages
        self.pool_pages = reached
        self.hv.drain(t)

    def allowance(self, i: int) -> int:
        """Persistent pages guest i may hold: max_memory less the memory it has or may balloon
        up to (its floor), so memory + persistent never exceeds max_memory."""
        g = self.guests[i].spec
        floor = self.floor[i] if g.balloon.kind != "none" else 0
        return (self.max_memory[i] - max(self.memory[i], floor)) // PAGE_SIZE

    def check_deep(self) -> None:
        """At every sample under `check: true` (invariants.check_sample)."""
        check_sample(self)

    def _host_ticker(self, interval: float):
        while True:
            yield At(self.env, interval, RANK_HOST)
            self.hv.tick(self.env.now, RANK_HOST)

    def _ksm_scanner(self):
        """ksmd: a batch of pages every `sleep`, in simulated time, at the host's rank."""
        ksm = self.ksm
        while True:
            yield At(self.env, ksm.sleep, RANK_HOST)
            ksm.wake(self.env.now)

    # ------------------------------------------------------------ running

    def run(self) -> RunOutput:
        env = self.env
        wall = time.perf_counter()
        if self.scenario.engine == "batched":  # one process gives the guests their turns
            guests = env.process(Turns(env, self.guests).run())
        else:  # the reference: a process per guest, a SimPy event per action
            guests = env.all_of([env.process(g.process()) for g in self.guests])
        env.process(self._observer())
        tick = self.policy.tick_interval
        if tick:
            env.process(self._host_ticker(tick))
        if self.ksm is not None:
            env.process(self._ksm_scanner())
        env.run(until=guests)  # a guest stops at the horizon or when it is done
        end = self.end()
        if end > env.now:  # the host's ticks and the samples due before the end
            env.run(until=end)
        self._observe(end)  # the last interval, whole or shorter
        return RunOutput(self, end, time.perf_counter() - wall)

    def end(self) -> float:
        """When the run ends, once every guest has stopped: at the horizon if a guest still had
        requests to serve then (left or in flight); else (budgets spent, streams ended) when
        its last request ended."""
        last = max(g.last_end for g in self.guests)
        if self.horizon == float("inf") or all(g.requests_done() for g in self.guests):
            return min(last, self.horizon)
        return self.horizon


class RunOutput:
    """What a finished run hands to results: plain numbers, no live objects beyond this call."""

    def __init__(self, world: World, end: float, wall: float):
        self.policy = world.policy_spec.name
        self.guest_names = world.guest_names
        self.measured = max(end - world.measured_from, 0.0)
        self.wall_seconds = wall
        self.events = sum(g.events for g in world.guests)
        self.samples = world.samples
        self.pool_pages = world.pool_pages
        self.memory = list(world.memory)
        self.counters = [c.as_dict() for c in world.counters]
        self.policy_counters = [c.as_dict() for c in world.policy_counters]
        self.histograms = []
        for g in world.guests:
            if g.counters.guest_hits:  # a read hit costs exactly guest_hit: counted, added here
                g.hist.add(world.costs.guest_hit, g.counters.guest_hits)
            self.histograms.append(g.hist)
        self.cache_pages = [len(g.cache) for g in world.guests]
        self.pool_used = [world.policy.guest_pages(i) for i in range(len(world.guests))]
        self.double_cached = [g.double_cached() for g in world.guests]
        samples = world.double_cached_samples
        self.double_cached_avg = float(np.mean(samples)) if samples else float(sum(
            self.double_cached))
        self.used_pages = world.policy.used_pages()
        stored = world.policy.stored_pages()
        self.stored_pages = self.used_pages if stored is None else stored
        self.distinct = world.policy.distinct_contents()
        self.disks = {n: dict(requests=d.requests, reads=d.reads, writes=d.writes, busy=d.busy,
                              response=d.response, waiting=d.waiting)
                      for n, d in world.disks.items()}
        self.requests = sum(c["requests"] for c in self.counters)
        self.ksm = None if world.ksm is None else dict(world.ksm.gauges(),
                                                        cow_breaks=list(world.ksm.cow_breaks))
        self.trace_stats = {g.name: th.stream.trace_stats for g in world.guests
                            for th in g.threads if hasattr(th.stream, "trace_stats")}

    def merged_histogram(self) -> LatencyHistogram:
        total = LatencyHistogram()
        for h in self.histograms:
            total.merge(h)
        return total
