"""What a guest's replay hands on: its requests and, in the guest's order, the host events
they cause (the GuestLog), the event kinds and when each happens relative to its request, and
the disk contents every read finds (fill_disk_data). Written by replay.py, timed_replay.py and
lru_replay.py; read by the engines, the timing and the queueing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# host events, in the guest's order
READ = 0  # a file page-cache miss: hypervisor read (a get under tmem)
WRITE = 1  # a write reaching the host: write-back, flusher, O_SYNC write, swap to disk
EVICT = 2  # a file page left the cache (a tmem put; transparent policies hear nothing)
FLUSH = 3  # the guest dropped a page's contents (write to an uncached page, truncate)
SWAP_OUT = 4  # an anonymous page leaves memory: frontswap, else the swap disk
SWAP_IN = 5  # a swapped-out anonymous page is touched
SWAP_FREE = 6  # an anonymous page was rewritten: its swap copy is dropped

# when an event happens, relative to its request
AT_START = 0  # when the request starts
AT_ARRIVAL = 1  # when the page the request waited for arrives (puts and write-backs of a miss)
AT_TIME = 2  # at a time of its own on the reference clock (the flusher, churn)

REMOVAL = 1 << 61  # in the access sequence: the page was removed (a truncate)


@dataclass
class GuestLog:
    """A guest's replay. Per request: op, gap after it, thread, whether a read (or anonymous
    touch) hit the guest cache, and its reference start time (timed replays only). Per host
    event: kind, request, when (AT_*), reference time, vpage, location, data, aux (see below)
    and the invalidate call it belongs to (flushes: one hypercall per call)."""

    op: np.ndarray
    gap: np.ndarray
    thread: np.ndarray
    hit: np.ndarray
    ref_time: np.ndarray | None
    closed: bool
    ev_kind: np.ndarray
    ev_req: np.ndarray
    ev_when: np.ndarray
    ev_time: np.ndarray
    ev_vpage: np.ndarray
    ev_loc: np.ndarray
    ev_data: np.ndarray
    ev_aux: np.ndarray  # READ, SWAP_IN: the data the disk holds there; WRITE: 1 if O_SYNC
    ev_call: np.ndarray
    accesses: np.ndarray | None  # guest-cache keys in access order (REMOVAL | key: removed)
    access_req: np.ndarray | None
    exact: bool  # no reference clock was needed
    start: float = 0.0  # when the first request comes (sampled streams: the first kept one)
    weight: np.ndarray | None = None  # sampled: original reads each request stands for

    @property
    def requests(self) -> int:
        return len(self.op)

    def trim(self, n: int) -> GuestLog:
        """The log of the first n requests (and of their events only)."""
        keep = self.ev_req < n
        acc = None if self.accesses is None else self.access_req < n
        return GuestLog(
            self.op[:n], self.gap[:n], self.thread[:n], self.hit[:n],
            None if self.ref_time is None else self.ref_time[:n], self.closed,
            *(a[keep] for a in (self.ev_kind, self.ev_req, self.ev_when, self.ev_time,
                                self.ev_vpage, self.ev_loc, self.ev_data, self.ev_aux,
                                self.ev_call)),
            None if acc is None else self.accesses[acc],
            None if acc is None else self.access_req[acc], self.exact, self.start,
            None if self.weight is None else self.weight[:n])



class Events:
    """Column lists of host events, appended to one event at a time."""

    def __init__(self):
        self.kind, self.req, self.when, self.time = [], [], [], []
        self.vpage, self.loc, self.data, self.aux, self.call = [], [], [], [], []

    def add(self, kind, req, when, time, vpage, loc, data, aux=0, call=-1):
        self.kind.append(kind)
        self.req.append(req)
        self.when.append(when)
        self.time.append(time)
        self.vpage.append(vpage)
        self.loc.append(loc)
        self.data.append(data)
        self.aux.append(aux)
        self.call.append(call)

    def arrays(self):
        i64 = np.int64
        return (np.asarray(self.kind, dtype=np.int8), np.asarray(self.req, dtype=i64),
                np.asarray(self.when, dtype=np.int8), np.asarray(self.time, dtype=float),
                np.asarray(self.vpage, dtype=i64), np.asarray(self.loc, dtype=i64),
                np.asarray(self.data, dtype=i64), np.asarray(self.aux, dtype=i64),
                np.asarray(self.call, dtype=i64))


def fill_disk_data(kind, loc, data, aux) -> None:
    """Fill aux of every read (READ, SWAP_IN) with the data its location holds on the disk:
    that of the latest write (write-back, O_SYNC write, swap-out) to it before, else 0."""
    reads = (kind == READ) | (kind == SWAP_IN)
    writes = (kind == WRITE) | (kind == SWAP_OUT)
    at = np.flatnonzero(reads | writes)
    if not len(at) or not writes.any():
        aux[reads] = 0
        return
    order = at[np.argsort(loc[at], kind="stable")]  # by location, in time within each
    where = loc[order]
    start = np.concatenate(([True], where[1:] != where[:-1]))
    pos = np.arange(len(order))
    last_write = np.where(writes[order], pos, -1)
    last_write = np.maximum.accumulate(last_write)
    group_start = np.maximum.accumulate(np.where(start, pos, 0))
    valid = last_write >= group_start
    value = np.where(valid, data[order][np.maximum(last_write, 0)], 0)
    is_read = reads[order]
    aux[order[is_read]] = value[is_read]

