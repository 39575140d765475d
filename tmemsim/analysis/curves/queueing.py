"""Disks that queue, at each size: the guests' disk I/Os through the model's own disks.

timing.py takes a disk at its mean service time, which is exact for flash with a channel
for every guest. A rotating disk (seeks, random rotation), a disk of drawn service times, or
fewer channels than guests sharing the disk make I/Os wait for one another: then each size's
I/Os go, in the order of their submission times, through an instance of the scenario's disk
(model/disk.py: FIFO channels, head position), and a request that waits for its I/O (a read
from the disk, an O_SYNC write) starts the guest's next requests that much later. Write-backs
and swap-outs to the disk wait for nobody, but take their channel. A Python loop over the
disk I/Os of each size; guests with several closed-loop threads keep the mean-service model.
"""

from __future__ import annotations

import heapq

import numpy as np

from ...images import PAGE_BITS, PAGE_MASK
from ...model.disk import make_disk
from ...model.world import make_disks
from ...policies.base import READ_DISK
from .guest_log import AT_ARRIVAL, AT_TIME, READ, SWAP_IN, SWAP_OUT, WRITE
from .timing import FRONTSWAP


def needs_queue(scenario, layout, gdisks, swaps) -> bool:
    """Whether a disk of the scenario can make I/Os wait: service times that vary, or fewer
    channels than guests whose files it holds."""
    users: dict[str, set] = {}
    for i, (gd, swap) in enumerate(zip(gdisks, swaps, strict=True)):
        for fid in (gd.own, gd.base, swap):
            if fid is not None:
                users.setdefault(layout.files[fid].disk, set()).add(i)
    for name, spec in scenario.disks.items():
        disk = make_disk(name, spec, np.random.default_rng(0), 1)
        if disk.fixed is None or spec.channels < len(users.get(name, ())):
            return True
    return False


class DiskPlan:
    """One guest's candidate disk I/Os (events that may reach a disk), their disk and block."""

    def __init__(self, timing, ev: dict, offset: int, layout, disk_index: dict):
        kind = ev["kind"]
        self.timing = timing
        cand = np.flatnonzero((kind == READ) | (kind == SWAP_IN) | (kind == WRITE)
                              | (kind == SWAP_OUT))
        self.local = cand
        self.at = offset + cand
        self.kind = kind[cand]
        self.req = ev["req"][cand]
        self.when = ev["when"][cand]
        self.time = ev["time"][cand]
        self.sync = (self.kind == WRITE) & (ev["aux"][cand] == 1)
        loc = ev["loc"][cand]
        files = loc >> PAGE_BITS
        self.disk = np.array([disk_index[layout.files[f].disk] for f in files.tolist()],
                             dtype=np.int64)
        self.block = np.array([layout.files[f].offset for f in files.tolist()],
                              dtype=np.int64) + (loc & PAGE_MASK)
        self.is_read = (self.kind == READ) | (self.kind == SWAP_IN)

    def at_size(self, out, k: int):
        """The I/Os that reach a disk at size k: (index into the plan, blocking)."""
        paths = out.paths_at(k, self.at)
        disk_read = self.is_read & (paths >= READ_DISK) & (paths != FRONTSWAP)
        writes = (self.kind == WRITE) | ((self.kind == SWAP_OUT)
                                         & ~out.accepted_at(k, self.at))
        to_disk = writes & out.to_disk_at(k, self.at)
        go = np.flatnonzero(disk_read | to_disk)
        return go, (disk_read | self.sync)[go], paths


def queued_starts(scenario, layout, plans: list, timings: list, out, k: int,
                  whole: bool = False):
    """Every guest's request start times at size k, its disk I/Os queued (see the module
    docstring). plans and timings: per guest. Past the horizon no start is needed exactly
    (it is not measured) unless `whole`: the order of the guests' events is read from these
    times, and it serves larger sizes, whose guests run further."""
    disks = list(make_disks(scenario, layout).values())  # seeded as a run's
    heap: list = []
    chains = [_chain(heap, g, plan, timing, out, k)
              for g, (plan, timing) in enumerate(zip(plans, timings, strict=True))]
    horizon = timings[0].horizon if timings and not whole else np.inf
    while heap:
        t, g, pos, j = heapq.heappop(heap)
        if t >= horizon:  # nothing submitted from now on delays a measured request
            break
        plan = plans[g]
        done = disks[plan.disk[j]].submit(t, int(plan.block[j]), not plan.is_read[j])
        if pos < 0:
            continue
        c = chains[g]
        c["pending"] = None
        if c["blocking"][pos]:
            c["waits"].append(done - t)
            c["wait_req"].append(int(plan.req[j]))
            if c["closed"]:
                c["added"] += done - t
            if plan.is_read[j]:  # the page arrives once the CPU side of the read is done
                r = int(plan.req[j])
                c["arrival"] = (r, done + float(c["readlat"][r]))
        _push(heap, g, c, plan)
    return [_starts(c, timing, plan, horizon)
            for c, timing, plan in zip(chains, timings, plans, strict=True)]


def _chain(heap: list, g: int, plan: DiskPlan, timing, out, k: int) -> dict:
    """Guest g's chain of disk I/Os at size k, its first one (and every background I/O: the
    flusher's and churn's, at their own times) on the heap."""
    lat, readlat = timing.latency(out, k, service=False)
    log = timing.log
    step = (lat + log.gap) if log.closed else log.gap
    before = log.start + np.concatenate(([0.0], np.cumsum(step)))
    go, blocking, paths = plan.at_size(out, k)
    background = plan.when[go] == AT_TIME
    for j in go[background].tolist():
        heapq.heappush(heap, (float(plan.time[j]), g, -1, j))
    chain = go[~background]
    c = dict(io=chain.tolist(), blocking=blocking[~background].tolist(), before=before,
             readlat=readlat, waits=[], wait_req=[], added=0.0, arrival=(-1, 0.0),
             closed=log.closed, next=0, pending=None)
    _push(heap, g, c, plan)
    return c


def _starts(c: dict, timing, plan: DiskPlan, horizon: float) -> np.ndarray:
    """A guest's request start times once its chain is done: its waits added."""
    n = timing.n
    added = np.zeros(n + 1)
    if c["closed"] and c["waits"]:
        # a wait delays every later request of the guest
        np.add.at(added, np.asarray(c["wait_req"]) + 1, np.asarray(c["waits"]))
        added = np.cumsum(added)
    t = c["before"][:n] + added[:n]
    pending = c["pending"]
    if c["closed"] and pending is not None:
        # the queue was left at the horizon with this guest's next I/O due at or after
        # it: its request (if it starts with it) and every later one start after it
        j = pending
        r = int(plan.req[j]) + (1 if plan.when[j] == AT_ARRIVAL else 0)
        t[r:] = np.maximum(t[r:], horizon)
    return t


def _push(heap: list, g: int, c: dict, plan: DiskPlan) -> None:
    """Schedule guest g's next disk I/O: at its request's start (the guest's waits so far
    included), or when its request's page arrived (a write-back the arrival caused)."""
    pos = c["next"]
    if pos >= len(c["io"]):
        return
    c["next"] = pos + 1
    j = c["io"][pos]
    r = int(plan.req[j])
    t = float(c["before"][r]) + c["added"]
    if plan.when[j] == AT_ARRIVAL:
        if c["arrival"][0] == r:
            t = c["arrival"][1]
        else:  # the read was served from memory: it arrived after its CPU latency
            t += float(c["readlat"][r])
    c["pending"] = j
    heapq.heappush(heap, (t, g, pos, j))
