"""When things happen at each size: request start times, the measured window, and the order
in which the guests' host events meet at the hypervisor.

A guest's k-th request starts when its (k-1)-th ended plus the think time (a closed loop), or
at its arrival time (an open loop). A request lasts what its path costs (model/costs.py): a
guest hit, a host hit, a disk read, a put... Disks are taken at their mean service time with
no queueing (flash: exact; a rotating disk: seek over the laid-out blocks, half a turn,
transfer). So at every size the time of every request is a cumulative sum, in numpy.

Only the host's outcomes differ between sizes, so the times differ only through them; the
window (warm-up, duration) and the order of different guests' events are read from these
times. One guest's events keep its own order whatever the times, so a single guest's curve
needs no order at all; several guests are ordered by their times at a reference size.
"""

from __future__ import annotations

import numpy as np

from ...images import PAGE_BITS
from ...policies.base import PUT_ACCEPTED, PUT_REJECTED, READ_DISK, READ_HOST_CALL, WRITE_DISK
from .guest_log import AT_ARRIVAL, AT_TIME, EVICT, FLUSH, READ, SWAP_IN, SWAP_OUT, WRITE
from .sampling import adjusted

FRONTSWAP = 4  # a swap-in served by frontswap (hypercall + copy), beside the READ_* paths


def disk_service(spec, pages: int) -> tuple[float, float]:
    """(read, write) mean service time of one page on a disk spec; `pages` laid out on it."""
    fixed = getattr(spec, "read", None)
    if hasattr(spec, "rpm"):  # rotating: sqrt seek over a uniform distance, half a turn
        seek = spec.single_track + (spec.full_stroke - spec.single_track) * 8 / 15
        t = seek + 30.0 / spec.rpm + 4096 / spec.bandwidth
        return t, t
    if hasattr(fixed, "mean"):  # custom: service-time distributions
        write = spec.write or spec.read
        return float(fixed.mean), float(write.mean)
    return float(spec.read), float(spec.write)


class Costs:
    """Per-event latencies of one policy at one size: what each host event adds to the
    request that waits for it."""

    def __init__(self, cost_model, file_service: np.ndarray, policy_class, flush_calls: int,
                 scale: float = 1.0, eviction: dict | None = None,
                 read: list | None = None):
        self.c = cost_model
        self.scale = scale  # a sampled request stands for 1/R requests' latency
        self.read_service = file_service[:, 0]  # by file id
        self.write_service = file_service[:, 1]
        # the policy's declared capabilities (policies/base.py): puts are heard, and a
        # refused swap-out still paid for its hypercall
        self.observes_evictions = policy_class.observes_evictions
        self.guest_hypercalls = policy_class.guest_hypercalls
        self.flush_calls = flush_calls
        # what a clean eviction taken or refused costs: the policy's own prices
        # (Policy.eviction_costs; a put and a refused put unless it says otherwise)
        prices = eviction or {}
        self.put = prices.get(PUT_ACCEPTED, cost_model.put)
        self.put_rejected = prices.get(PUT_REJECTED, cost_model.put_rejected)
        # each read path's cost (Policy.read_costs); a frontswap load is priced as a get hit
        read = list(cost_model.read if read is None else read)
        self.read_table = np.array(read + [read[READ_HOST_CALL]])

    def read_latency(self, paths: np.ndarray, files: np.ndarray,
                     service: bool = True) -> np.ndarray:
        """A miss's latency by its path (READ_* or FRONTSWAP) and file; service: with the
        disk's mean service time (queueing.py adds the disk's own instead)."""
        lat = self.read_table[paths]
        if service:
            disk = (paths >= READ_DISK) & (paths != FRONTSWAP)
            lat = lat + np.where(disk, self.read_service[files], 0.0)
        return lat


class GuestTiming:
    """One guest's latencies, start times and measured counts at any size, from the outcomes
    of its host events (`Outcomes`, engines.py).

    Everything that no outcome changes is summed once (guest hits, writes, flush hypercalls,
    O_SYNC writes, truncates); a size then costs a few gathers (each read's path, each put or
    frontswap store taken or not), one cumulative sum for the start times, and the window's
    counts from prefix sums. Events at a time of their own (the flusher, churn) delay no
    request. `offset` is where the guest's events start in the outcomes."""

    def __init__(self, log, ev: dict, costs: Costs, offset: int, warmup: float,
                 horizon: float):
        c = self.c = costs.c
        self.log, self.costs = log, costs
        self.warmup, self.horizon = warmup, horizon
        self.n = log.requests
        kind, req = ev["kind"], ev["req"]
        files = ev["loc"] >> PAGE_BITS
        fore = ev["when"] != AT_TIME
        base = np.where(log.op == 2, 0.0, c.guest_hit)
        flushes = fore & (kind == FLUSH)
        if costs.flush_calls and flushes.any():
            _, first = np.unique(ev["call"][flushes], return_index=True)
            _add(base, req[flushes][first], costs.flush_calls * c.hypercall)
        # a truncate writes every page of its file anew: one guest hit each
        truncated = flushes & (log.op[req] == 2)
        _add(base, req[truncated], c.guest_hit)
        sync = fore & (kind == WRITE) & (ev["aux"] == 1)
        self.base_cpu = base.copy()  # an O_SYNC write's disk time comes from the queue then
        _add(self.base_cpu, req[sync], c.write[WRITE_DISK])
        _add(base, req[sync], c.write[WRITE_DISK] + costs.write_service[files[sync]])
        reads = np.flatnonzero(fore & ((kind == READ) | (kind == SWAP_IN)))
        self.reads = offset + reads
        self.read_req = req[reads]
        self.read_files = files[reads]
        is_file = kind[reads] == READ
        self.miss_req = self.read_req[is_file]
        self.miss_at = np.flatnonzero(is_file)
        self.swap_req = self.read_req[~is_file]
        self.swap_at = np.flatnonzero(~is_file)
        base[self.miss_req] = 0.0  # a read miss costs its path instead of a guest hit
        self.base_cpu[self.miss_req] = 0.0
        self.base = base
        puts = np.flatnonzero(fore & (kind == EVICT)) if costs.observes_evictions else np.zeros(0, int)
        self.puts, self.put_req = offset + puts, req[puts]
        outs = np.flatnonzero(fore & (kind == SWAP_OUT))
        self.outs, self.out_req = offset + outs, req[outs]
        # the measured counts: prefix sums over requests, reads in request order
        is_read = log.op == 0
        self.read_prefix = np.concatenate(([0], np.cumsum(is_read)))
        self.hit_prefix = np.concatenate(([0], np.cumsum(is_read & log.hit)))
        self.monotone = not log.closed or not len(log.thread) or log.thread.max() == 0
        # one closed thread: a request starts at start + S[i] + the size-dependent latencies
        # of the events before it, so the window's bounds need only those (see bounds)
        self.single = log.closed and self.monotone
        if self.single:
            self.before = np.concatenate(([0.0], np.cumsum(base * costs.scale + log.gap)))
            self.swap_base = base[self.swap_req] if len(self.swap_req) else np.zeros(0)
            self.dep_req = np.concatenate((self.read_req, self.put_req, self.out_req))
            self.dep_order = np.argsort(self.dep_req, kind="stable")
            self.dep_req = self.dep_req[self.dep_order]
        # a sample counts its reads with SHARDS' adjustment (sampling.adjusted)
        self.weight_prefix = None if log.weight is None else np.concatenate(
            ([0.0], np.cumsum(log.weight)))

    def latency(self, out, k: int, service: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(latency of each request, latency of its read: AT_ARRIVAL events come that late)
        at size k of the outcomes `out`; service: the disk's mean service time included (else
        the CPU's share only: queueing.py adds the disk's)."""
        c = self.c
        lat = (self.base if service else self.base_cpu).copy()
        readlat = np.zeros(self.n)
        if len(self.reads):
            rl = self.costs.read_latency(out.paths_at(k, self.reads).astype(np.int64),
                                         self.read_files, service)
            readlat[self.read_req] = rl
            lat[self.miss_req] = rl[self.miss_at]
            lat[self.swap_req] = np.maximum(lat[self.swap_req], rl[self.swap_at])
        if len(self.puts):
            _add(lat, self.put_req, np.where(out.accepted_at(k, self.puts), self.costs.put,
                                             self.costs.put_rejected))
        if len(self.outs):
            refused = c.put_rejected if self.costs.guest_hypercalls else 0.0
            _add(lat, self.out_req, np.where(out.accepted_at(k, self.outs), self.costs.put,
                                             refused))
        if self.costs.scale != 1.0:
            lat *= self.costs.scale
        return lat, readlat

    def starts(self, lat: np.ndarray) -> np.ndarray:
        return start_times(self.log, lat)

    def bounds(self, out, k: int) -> tuple[int, int]:
        """The measured requests [lo, hi) at size k, without every request's start: one
        closed thread's starts grow, so two binary searches over the sum of the size-dependent
        latencies (reads, puts, frontswap stores) suffice. An open loop's starts are its
        arrival times, at every size."""
        log, c = self.log, self.c
        if not log.closed:
            t = start_times(log, self.base)
            return tuple(np.searchsorted(t, (self.warmup, self.horizon)).tolist())
        parts = []
        if len(self.reads):
            rl = self.costs.read_latency(out.paths_at(k, self.reads).astype(np.int64),
                                         self.read_files)
            rl[self.swap_at] = np.maximum(rl[self.swap_at] - self.swap_base, 0.0)
            parts.append(rl)
        if len(self.puts):
            parts.append(np.where(out.accepted_at(k, self.puts), self.costs.put,
                                  self.costs.put_rejected))
        if len(self.outs):
            refused = c.put_rejected if self.costs.guest_hypercalls else 0.0
            parts.append(np.where(out.accepted_at(k, self.outs), self.costs.put, refused))
        extra = np.concatenate(parts)[self.dep_order] if parts else np.zeros(0)
        cum = np.concatenate(([0.0], np.cumsum(extra * self.costs.scale)))
        before, dep_req, start = self.before, self.dep_req, log.start

        def t(i: int) -> float:  # the start of request i
            return start + before[i] + cum[np.searchsorted(dep_req, i, side="left")]

        out_bounds = []
        for limit in (self.warmup, self.horizon):
            lo, hi = 0, self.n  # the first request starting at or after the limit
            while lo < hi:
                mid = (lo + hi) // 2
                if t(mid) >= limit:
                    hi = mid
                else:
                    lo = mid + 1
            out_bounds.append(lo)
        return out_bounds[0], out_bounds[1]

    def counts(self, out, k: int, starts: np.ndarray | None = None) -> tuple:
        """(reads, guest hits, host hits, disk reads) of the requests measured at size k
        (starts: every request's start at k, needed with several threads only)."""
        if self.monotone:
            lo, hi = self.bounds(out, k) if starts is None else np.searchsorted(
                starts, (self.warmup, self.horizon))
            reads = int(self.read_prefix[hi] - self.read_prefix[lo])
            guest_hits = int(self.hit_prefix[hi] - self.hit_prefix[lo])
            if self.weight_prefix is not None:
                reads, guest_hits = adjusted(reads, guest_hits, self.weight_prefix[hi]
                                             - self.weight_prefix[lo], 1.0 / self.costs.scale)
            a, b = np.searchsorted(self.read_req, (lo, hi))
            at = self.reads[a:b]
            files = self.miss_at[(self.miss_at >= a) & (self.miss_at < b)] - a
        else:
            measured = window(starts, self.warmup, self.horizon)
            is_read = self.log.op == 0
            reads = int(np.count_nonzero(is_read & measured))
            guest_hits = int(np.count_nonzero(is_read & self.log.hit & measured))
            keep = measured[self.read_req]
            at = self.reads[keep]
            files = np.flatnonzero(np.isin(np.flatnonzero(keep), self.miss_at))
        paths = out.paths_at(k, at)
        file_paths = paths[files]
        host_hits = int(np.count_nonzero(file_paths < READ_DISK))
        disk = len(file_paths) - host_hits
        swaps = np.delete(paths, files)
        disk += int(np.count_nonzero((swaps >= READ_DISK) & (swaps != FRONTSWAP)))
        return reads, guest_hits, host_hits, disk


def _add(a: np.ndarray, idx: np.ndarray, values) -> None:
    """a[idx] += values, repeated indices adding up (np.add.at, but fast)."""
    if len(idx):
        a += np.bincount(idx, weights=np.broadcast_to(values, idx.shape), minlength=len(a))


def start_times(log, lat: np.ndarray) -> np.ndarray:
    """Each request's start: closed loops, per thread, end of the previous plus its gap; an
    open loop at its arrival time."""
    n = log.requests
    step = log.gap if not log.closed else lat + log.gap
    if log.closed and len(log.thread) and log.thread.max() > 0:
        t = np.empty(n)
        for th in np.unique(log.thread):
            at = np.flatnonzero(log.thread == th)
            s = step[at]
            t[at] = np.concatenate(([0.0], np.cumsum(s)[:-1]))
        return t + log.start
    if not n:
        return np.zeros(0)
    return log.start + np.concatenate(([0.0], np.cumsum(step)[:-1]))


def event_times(ev, t_req: np.ndarray, readlat: np.ndarray) -> np.ndarray:
    """Each event's time from its request's start (AT_ARRIVAL: plus its read's latency)."""
    req, when = ev["req"], ev["when"]
    t = t_req[req] + np.where(when == AT_ARRIVAL, readlat[req], 0.0)
    return np.where(when == AT_TIME, ev["time"], t)


def window(t_req: np.ndarray, warmup: float, horizon: float) -> np.ndarray:
    """Requests measured: started at or after the warm-up's end and before the horizon."""
    return (t_req >= warmup) & (t_req < horizon)

