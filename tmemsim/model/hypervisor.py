"""The hypervisor: runs the policy's decisions through the cost model and onto the disks.

It turns "served from host memory" or "go to disk" into completion times, and counts what each
guest's requests cost the host (host hits, disk reads and writes).

It also holds the puts that wait (README, "Speed"): when a policy promises a put's outcome
whatever the other guests do first, a guest whose miss's page arrives after the next event
elsewhere inserts the page at once and leaves the victim's put here, stamped with its time and
the guest's rank; every later use of the policy's state (any guest's call, a sample, a tick)
applies first the puts ordered before it, so the policy sees the same calls in the same order
as if the guest had woken up for each put.
"""

from __future__ import annotations

import heapq

from ..images import PAGE_BITS, PAGE_MASK
from ..policies.base import PUT_ACCEPTED, READ_DISK, READ_HOST_CALL, READ_HOST_IO, WRITE_DISK


class Hypervisor:
    __slots__ = ("policy", "costs", "counters", "_file_of", "_owner_of",
                 "_read_cost", "_write_cost", "_policy_read", "_policy_evicted",
                 "_eviction_cost", "_refused_swap_cost", "_pending", "_swap_store_cost",
                 "_swap_load_cost", "waiting", "_serial", "rank_of", "static_pool", "_runs",
                 "_arriving")

    def __init__(self, policy, costs, disks: dict, layout, counters: list,
                 rank_of: list | None = None, static_pool: bool = False):
        self.policy = policy
        self.costs = costs
        self.counters = counters
        self._file_of = [(disks[f.disk], f.offset) for f in layout.files]  # file -> disk, block 0
        self._owner_of = [f.owner for f in layout.files]
        self._read_cost = policy.read_costs(costs)
        self._write_cost = costs.write
        self._policy_read = policy.read
        self._policy_evicted = policy.evicted
        # the policy prices its own eviction outcomes; the model only charges them
        self._eviction_cost = policy.eviction_costs(costs)
        # a swap-out frontswap refuses: a guest that talks by hypercalls paid for the call
        self._refused_swap_cost = costs.put_rejected if policy.guest_hypercalls else 0.0
        self._pending = policy.pending_writes  # the same list for the policy's life
        # frontswap's store and load are a put and a get, priced as the policy prices those
        self._swap_store_cost = self._eviction_cost.get(PUT_ACCEPTED, costs.put)
        self._swap_load_cost = self._read_cost[READ_HOST_CALL]
        # puts that wait: a heap of (time, rank, serial, guest, vpage, loc, data, outcome)
        self.waiting: list = []
        self._serial = 0
        self.rank_of = rank_of or [0] * len(counters)  # each guest's SimPy rank (tie-break)
        # no persistent pages, no resizes: what fixed_put_outcome promises holds
        self.static_pool = static_pool
        self._runs, self._arriving = policy.read_runs, policy.arriving  # host readahead, same

    def put_waits(self, guest: int) -> int | None:
        """The outcome of a clean page's put by this guest if the policy promises it whatever
        the other guests do first (then the put may wait here), else None."""
        return self.policy.fixed_put_outcome(guest) if self.static_pool else None

    def put_later(self, guest: int, vpage: int, loc: int, data: int, t: float,
                  outcome: int) -> float:
        """A put at t that others must see in time order: it waits until a use of the policy
        ordered after it (settle). Returns the guest's CPU cost of the promised outcome."""
        self._serial += 1
        heapq.heappush(self.waiting, (t, self.rank_of[guest], self._serial, guest, vpage, loc,
                                      data, outcome))
        return self._eviction_cost[outcome]

    def settle(self, t: float, rank: int) -> None:
        """Apply the waiting puts ordered before (t, rank): earlier, or at t by a lower rank."""
        waiting = self.waiting
        while waiting and (waiting[0][0] < t or waiting[0][0] == t and waiting[0][1] < rank):
            _, _, _, guest, vpage, loc, data, promised = heapq.heappop(waiting)
            outcome = self._policy_evicted(guest, vpage, loc, data)
            if outcome != promised:
                raise AssertionError(f"{self.policy.name}: a put promised outcome {promised} "
                                     f"by fixed_put_outcome had {outcome}")

    def io(self, loc: int, t: float, is_write: bool) -> float:
        """Device completion time of one page I/O at location loc, issued at t."""
        disk, offset = self._file_of[loc >> PAGE_BITS]
        return disk.submit(t, offset + (loc & PAGE_MASK), is_write)

    def read(self, guest: int, vpage: int, loc: int, t: float) -> tuple[float, int]:
        """A guest page-cache miss at t: (completion time, data returned)."""
        waiting = self.waiting
        if waiting and waiting[0][0] <= t:
            self.settle(t, self.rank_of[guest])
        path, data = self._policy_read(guest, vpage, loc)
        if path >= READ_DISK:
            self.counters[guest].disk_reads += 1
            if self._runs:
                done = self.read_ahead(loc, t) + self._read_cost[path]
            else:
                disk, offset = self._file_of[loc >> PAGE_BITS]
                done = disk.submit(t, offset + (loc & PAGE_MASK), False) + self._read_cost[path]
        else:
            self.counters[guest].host_hits += 1
            done = t + self._read_cost[path]
            if self._arriving:
                arrives = self._arriving.get(loc)
                if arrives is not None and arrives > t:  # still being read ahead: wait for it
                    done += arrives - t
            if self._runs:  # the hit was on a readahead marker: the next window
                self.read_ahead(loc, t)
        if self._pending:
            self.drain(t)
        return done, data

    def read_pages(self, guest: int, pages: list, t: float) -> list:
        """A guest's multi-page read at t (its readahead, model/guest_readahead.py): pages is
        [(vpage, loc)] in file order, the page the guest missed first. The policy decides page
        by page, as for a miss (a cleancache get, a host-cache lookup, the disk); the pages it
        sends to the disk go as one request per run of consecutive locations (a host's own
        readahead, if the policy starts one, carries its pages as in `read`).

        Costs: what goes through the I/O path is one virtio request (one exit, then a page
        copy per page from host memory); a hypercall (a get) is per page. Every request is
        submitted at t and the CPU comes after (CostModel's simplification): the first page,
        from host memory, is ready after its own read path; the others from host memory when
        the window's CPU is spent; a disk page when its request completes plus that CPU. A
        page the host still reads ahead is ready that long after it arrives. Returns [ready,
        data, path] per page; counts nothing (readahead pages are no reads: the guest counts
        its first page)."""
        if self.waiting:
            self.settle(t, self.rank_of[guest])
        read, cost, arriving = self._policy_read, self._read_cost, self._arriving
        virtio = cost[READ_DISK]
        out, runs = [], []  # runs: [first loc, pages (0: the host's readahead run), rows]
        cpu, io = 0.0, False
        for vpage, loc in pages:
            path, data = read(guest, vpage, loc)
            row = [t, data, path]
            out.append(row)
            if path < READ_DISK:
                io = io or path == READ_HOST_IO
                cpu += cost[path] - virtio if path == READ_HOST_IO else cost[path]
                if len(out) == 1:  # the first page: its own read path
                    row[0] += cost[path]
                arrives = arriving.get(loc) if arriving else None
                if arrives is not None and arrives > t:  # the host still reads it ahead
                    row[0] += arrives - t
                if self._runs:  # a host readahead marker: the host's next window
                    self.read_ahead(loc, t)
                continue
            io = True
            cpu += cost[path] - virtio  # a get that missed first (guest hypercalls)
            if self._runs:  # the host reads ahead from here: its run carries this page
                runs.append([loc, 0, [row]])
                row[0] = self.read_ahead(loc, t)
            elif runs and runs[-1][1] and runs[-1][0] + runs[-1][1] == loc:
                runs[-1][1] += 1
                runs[-1][2].append(row)
            else:
                runs.append([loc, 1, [row]])
        cpu += virtio if io else 0.0
        for row in out[1:]:
            if row[2] < READ_DISK:
                row[0] += cpu
        for first, count, rows in runs:
            done = rows[0][0]
            if count:
                disk, offset = self._file_of[first >> PAGE_BITS]
                done = disk.submit_run(t, offset + (first & PAGE_MASK), count)
            for row in rows:
                row[0] = done + cpu
        if self._pending:
            self.drain(t)
        return out

    def read_ahead(self, loc: int, t: float) -> float:
        """Put the policy's readahead runs on the disks at t, each one request; every page of
        them arrives in host memory at its run's completion. Returns the completion of the run
        that starts at loc (the read that caused it), or t."""
        done, arriving = t, self._arriving
        for first, pages in self._runs:
            disk, offset = self._file_of[first >> PAGE_BITS]
            end = disk.submit_run(t, offset + (first & PAGE_MASK), pages)
            if first == loc:
                done = end
            for at in range(first, first + pages):
                arriving[at] = end
        self._runs.clear()
        if loc in arriving and arriving[loc] == done:
            del arriving[loc]
        return done

    def write(self, guest: int, vpage: int, loc: int, data: int, t: float) -> float:
        """A write-back or O_SYNC write reaching the host at t: its completion time."""
        if self.waiting:
            self.settle(t, self.rank_of[guest])
        path = self.policy.write(guest, vpage, loc, data)
        if path == WRITE_DISK:
            self.counters[guest].disk_writes += 1
            done = self.io(loc, t, True) + self._write_cost[path]
        else:
            done = t + self._write_cost[path]
        if self.policy.pending_writes:
            self.drain(t)
        return done

    def evicted(self, guest: int, vpage: int, loc: int, data: int, t: float) -> float:
        """A clean page left the guest cache at t: the CPU time the guest spends telling the
        host."""
        waiting = self.waiting
        if waiting and waiting[0][0] <= t:
            self.settle(t, self.rank_of[guest])
        return self._eviction_cost[self._policy_evicted(guest, vpage, loc, data)]

    def invalidate(self, guest: int, pages: list, t: float) -> float:
        """A truncate, or a write to an uncached page, at t: the CPU time of the flush
        hypercalls."""
        if self.waiting:
            self.settle(t, self.rank_of[guest])
        calls = self.policy.invalidate(guest, pages)
        return calls * self.costs.hypercall if calls else 0.0

    def swap_out(self, guest: int, apage: int, loc: int, data: int, t: float) -> float:
        """An anonymous page leaves the guest: frontswap if the policy takes it, else the swap
        disk through the policy's write path (in the background). Returns the guest's CPU cost."""
        if self.waiting:
            self.settle(t, self.rank_of[guest])
        policy = self.policy
        if policy.frontswap_store(guest, apage, data):
            return self._swap_store_cost
        refused = self._refused_swap_cost
        c = self.counters[guest]
        c.swap_disk_io += 1
        if policy.write(guest, apage, loc, data) == WRITE_DISK:
            c.disk_writes += 1
            self.io(loc, t, True)
        if self._pending:
            self.drain(t)
        return refused

    def swap_in(self, guest: int, apage: int, loc: int, t: float) -> tuple[float, int, bool]:
        """A touch of a swapped-out page: (completion time, data, served from host memory)."""
        if self.waiting:
            self.settle(t, self.rank_of[guest])
        data = self.policy.frontswap_load(guest, apage)
        if data is not None:
            return t + self._swap_load_cost, data, True
        path, data = self.policy.swap_read(guest, loc)
        c = self.counters[guest]
        if path >= READ_DISK:
            c.swap_disk_io += 1
            c.disk_reads += 1
            done = self.io(loc, t, False) + self._read_cost[path]
        else:
            done = t + self._read_cost[path]
        if self._pending:
            self.drain(t)
        return done, data, path < READ_DISK

    def swap_free(self, guest: int, apage: int) -> None:
        self.policy.frontswap_free(guest, apage)  # anonymous memory: no put ever waits

    def holds_private(self, guest: int, vpage: int, t: float) -> bool:
        """Does the guest's private pool hold vpage at t (a fill's check, Guest._fill)?"""
        if self.waiting:
            self.settle(t, self.rank_of[guest])
        return self.policy.holds_private(guest, vpage)

    def tick(self, t: float, rank: int) -> None:
        if self.waiting:
            self.settle(t, rank)
        self.policy.tick(t)
        if self.policy.pending_writes:
            self.drain(t)

    def drain(self, t: float) -> None:
        """Put the host's own write-backs (writeback host cache) on the disks, in the background."""
        pending = self.policy.pending_writes
        for loc in pending:
            self.io(loc, t, True)
            owner = self._owner_of[loc >> PAGE_BITS]
            if owner is not None:
                self.counters[owner].disk_writes += 1
        pending.clear()


def unheard_eviction(guest: int, vpage: int, loc: int, data: int, t: float) -> float:
    """Hypervisor.evicted's stand-in when the guest must see every eviction (KSM, its own
    readahead) but the policy observes none: the policy hears nothing and it costs nothing."""
    return 0.0
