"""Counting a curve: the guests' replays, each policy's engine, and the measured window.

For each policy, the guests' host events are put in one order (a single guest: its own;
several: their times when every read misses, which no outcome moves), the policy's engine
serves them at every size, and each size's request times give the window whose reads are
counted.
"""

from __future__ import annotations

import numpy as np

from ...policies import POLICIES
from .engines import Context, StackOutcomes, host_model, policy_prices
from .guest_log import EVICT, SWAP_IN, SWAP_OUT
from .queueing import DiskPlan, queued_starts
from .timing import Costs, GuestTiming, event_times

COUNTS = ("reads", "guest_hits", "host_hits", "disk_reads")
_EVENT_COLUMNS = ("kind", "req", "when", "time", "vpage", "loc", "data", "aux", "call")


def guest_events(log, index: int) -> dict:
    """A guest log's host events as a dict of arrays, with its guest index and sequence."""
    ev = {c: getattr(log, f"ev_{c}") for c in _EVENT_COLUMNS}
    n = len(ev["kind"])
    ev["guest"] = np.full(n, index, dtype=np.int64)
    ev["seq"] = np.arange(n, dtype=np.int64)
    return ev


def _concat(evs: list[dict]) -> dict:
    if len(evs) == 1:
        return evs[0]
    return {c: np.concatenate([e[c] for e in evs]) for c in evs[0]}


def _take(ev: dict, idx: np.ndarray) -> dict:
    return {c: a[idx] for c, a in ev.items()}


class PolicyCurve:
    """One policy's counts at every size: counts[k, guest, COUNTS] and how they were made."""

    def __init__(self, counts: np.ndarray, engine: str, ordered: str):
        self.counts, self.engine, self.ordered = counts, engine, ordered


def policy_curve(world, logs: list, guests: list, spec, pools: list[int]) -> PolicyCurve:
    """Counts of one policy (a PolicySpec) at each pool size (pages, ascending), from the
    guests' replays `logs` (their specs `guests`)."""
    run = _PolicyRun(world, logs, guests, spec, pools)
    if len(logs) == 1:
        ordered = "the guest's own order"
        out = run.serve(None)
    else:
        # the times when every read misses, as at a pool of 0: no outcome enters them (the
        # library's errors against full runs: README "Curves")
        out = run.serve(run.order_by(run.starts_at(run.blank(), 0, True)[1]))
        ordered = "times with every read missing"
    return PolicyCurve(run.counts(out), run.model.name, ordered)


class _PolicyRun:
    """One policy over the guests' events: its engine, the guests' timings, and (when the
    disks can queue) their disk plans."""

    def __init__(self, world, logs: list, guests: list, spec, pools: list[int]):
        cls = POLICIES[spec.kind]
        options = spec.make_options()
        self.world, self.pools = world, pools
        self.evs = [guest_events(log, i) for i, log in enumerate(logs)]
        self.events = _concat(self.evs)
        kind = self.events["kind"]
        has_swap = bool(((kind == SWAP_OUT) | (kind == SWAP_IN)).any())
        self.model = model = host_model(cls, options, has_swap)
        rate = world.rate if world.rate is not None else 1.0
        self.ctx = Context(world.layout, world.contents, world.names, world.allowances(guests),
                           model.scaled(options, rate) if world.rate is not None else options,
                           rate)
        costs = Costs(world.costs, world.file_service, cls, model.flush_calls, 1.0 / rate,
                      *policy_prices(cls, options, world))
        bounds = np.cumsum([0] + [len(e["kind"]) for e in self.evs])
        s = world.scenario
        self.timings = [GuestTiming(log, self.evs[g], costs, int(bounds[g]), s.warmup,
                                    world.horizon) for g, log in enumerate(logs)]
        self.queued = world.queued and all(t.monotone for t in self.timings)
        if self.queued:
            index = {name: i for i, name in enumerate(s.disks)}
            self.plans = [DiskPlan(timing, self.evs[g], int(bounds[g]), world.layout, index)
                          for g, timing in enumerate(self.timings)]

    def serve(self, order: np.ndarray | None):
        """The engine's outcomes with the events in this order (None: as they are)."""
        model = self.model
        if order is None:
            return model.engine(self.events, self.pools, self.ctx, model)
        out = model.engine(_take(self.events, order), self.pools, self.ctx, model)
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        return out.reordered(inverse)

    def blank(self) -> StackOutcomes:
        """Outcomes with every read missing (every event past the largest size)."""
        kind, model = self.events["kind"], self.model
        return StackOutcomes(np.full(len(kind), len(self.pools), dtype=np.int64),
                             kind == EVICT, model.hit_path, model.miss_path, 0,
                             model.write_disk)

    def starts_at(self, out, k: int, with_events: bool = False):
        """Per guest at size k: request start times (and every event's time, concatenated)."""
        timings = self.timings
        if self.queued:
            starts = queued_starts(self.world.scenario, self.world.layout, self.plans, timings,
                                   out, k, with_events)
        else:
            starts = [timing.starts(timing.latency(out, k)[0]) for timing in timings]
        if not with_events:
            return starts, None
        times = [event_times(self.evs[g], starts[g], timing.latency(out, k)[1])
                 for g, timing in enumerate(timings)]
        return starts, np.concatenate(times)

    def order_by(self, times: np.ndarray) -> np.ndarray:
        return np.lexsort((self.events["seq"], self.events["guest"], times))

    def counts(self, out) -> np.ndarray:
        """counts[k, guest, COUNTS] from the outcomes, each size's reads in its window."""
        counts = np.zeros((len(self.pools), len(self.timings), len(COUNTS)))
        for k in range(len(self.pools)):
            if out.unchanged(k):
                counts[k] = counts[k - 1]
                continue
            every = self.starts_at(out, k)[0] if self.queued else None
            for g, timing in enumerate(self.timings):
                if every is not None:
                    starts = every[g]
                else:
                    starts = None if timing.monotone else \
                        timing.starts(timing.latency(out, k)[0])
                counts[k, g] = timing.counts(out, k, starts)
        return counts
