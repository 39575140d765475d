"""Counting a curve: the guests' replays, each policy's engine, and the measured window.

For each policy, the guests' host events are put in one order (a single guest: its own;
several: their times when every read misses, which no outcome moves), the policy's engine
serves them at every size, and each size's request times give the window whose reads are
counted.
"""

from __future__ import annotations

import numpy as np

from ...policies import POLICIES
from .engines import Context, StackOutcomes, host_model
from .queueing import DiskPlan, queued_starts
from .replay import EVICT, SWAP_IN, SWAP_OUT
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
    cls = POLICIES[spec.kind]
    options = spec.make_options()
    evs = [guest_events(log, i) for i, log in enumerate(logs)]
    events = _concat(evs)
    kind = events["kind"]
    has_swap = bool(((kind == SWAP_OUT) | (kind == SWAP_IN)).any())
    model = host_model(cls, options, has_swap)
    rate = world.rate if world.rate is not None else 1.0
    ctx = Context(world.layout, world.contents, world.names, world.allowances(guests),
                  model.scaled(options, rate) if world.rate is not None else options, rate)
    costs = Costs(world.costs, world.file_service, cls, model.flush_calls, 1.0 / rate)
    bounds = np.cumsum([0] + [len(e["kind"]) for e in evs])
    n_sizes = len(pools)

    def serve(order: np.ndarray | None):
        """The engine's outcomes with the events in this order (None: as they are)."""
        if order is None:
            return model.engine(events, pools, ctx, model)
        out = model.engine(_take(events, order), pools, ctx, model)
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        return out.reordered(inverse)

    s = world.scenario
    timings = [GuestTiming(log, evs[g], costs, int(bounds[g]), s.warmup, world.horizon)
               for g, log in enumerate(logs)]

    queued = world.queued and all(t.monotone for t in timings)
    if queued:
        index = {name: i for i, name in enumerate(s.disks)}
        plans = [DiskPlan(timing, evs[g], int(bounds[g]), world.layout, index)
                 for g, timing in enumerate(timings)]

    def starts_at(out, k: int, with_events: bool = False):
        """Per guest at size k: request start times (and every event's time, concatenated)."""
        if queued:
            starts = queued_starts(s, world.layout, plans, timings, out, k, with_events)
        else:
            starts = [timing.starts(timing.latency(out, k)[0]) for timing in timings]
        if not with_events:
            return starts, None
        times = [event_times(evs[g], starts[g], timing.latency(out, k)[1])
                 for g, timing in enumerate(timings)]
        return starts, np.concatenate(times)

    def order_by(times: np.ndarray) -> np.ndarray:
        return np.lexsort((events["seq"], events["guest"], times))

    if len(logs) == 1:
        ordered = "the guest's own order"
        out = serve(None)
    else:
        # the times when every read misses, as at a pool of 0: no outcome enters them (the
        # library's errors against full runs: README "Curves")
        blank = StackOutcomes(np.full(len(kind), n_sizes, dtype=np.int64), kind == EVICT,
                              model.hit_path, model.miss_path, 0, model.write_disk)
        out = serve(order_by(starts_at(blank, 0, True)[1]))
        ordered = "times with every read missing"
    counts = np.zeros((n_sizes, len(logs), len(COUNTS)))
    for k in range(n_sizes):
        if out.unchanged(k):
            counts[k] = counts[k - 1]
            continue
        every = starts_at(out, k)[0] if queued else None
        for g, timing in enumerate(timings):
            if every is not None:
                starts = every[g]
            else:
                starts = None if timing.monotone else timing.starts(timing.latency(out, k)[0])
            counts[k, g] = timing.counts(out, k, starts)
    return PolicyCurve(counts, model.name, ordered)
