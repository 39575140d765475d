"""The hypervisor's side of a curve: every guest's host events, in one order, served at every
pool size at once.

Three engines, chosen per policy by the registry `MODELS` (keyed by policy class):

- `lru`: an LRU cache keyed by location (host-cache) or content (dedup). Reads and writes
  are accesses; an access hits at size P exactly when its stack distance is below P. One
  vectorised pass (ranks.lru_distances) serves every size.
- `pool`: tmem's private ephemeral pools (one global oldest-put list, exclusive gets,
  flushes): the criterion of pool.py, one pass for every capacity.
- `instances`: anything else (tmem's shared pool, content dedup, weights or compression,
  frontswap; FIFO, CLOCK or two-list host caches; a policy this module does not know): the
  policy class itself, one instance per size, fed the same events. Exact given the order, N
  times the work.

An engine returns Outcomes: per size, each read's path (READ_* of policies/base.py, or
FRONTSWAP for a swap-in frontswap served) and whether each put or frontswap store was taken.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ...caches import cache_class
from ...images import PAGE_BITS, PAGE_MASK
from ...policies.base import (
    PUT_ACCEPTED,
    READ_DISK,
    READ_DISK_AFTER_CALL,
    READ_HOST_CALL,
    READ_HOST_IO,
    WRITE_DISK,
    Host,
)
from ...policies.dedup import Dedup
from ...policies.host_cache import HostCache
from ...policies.none import NoCache
from ...policies.tmem import Tmem
from ...units import PAGE_SIZE
from .guest_log import EVICT, FLUSH, READ, SWAP_FREE, SWAP_IN, SWAP_OUT, WRITE
from .pool import FLUSH as P_FLUSH
from .pool import GET as P_GET
from .pool import PUT as P_PUT
from .pool import pool_hits
from .ranks import lru_distances
from .timing import FRONTSWAP

_PRIVATE_SHIFT = 48  # tmem's private keys: (guest + 1) << 48 | vpage (policies/tmem.py)


@dataclass
class Context:
    """What every engine may need besides the events: the host's layout and contents, the
    guests' names and frontswap allowances (pages), and the policy's options."""

    layout: object
    contents: object
    guests: list
    allowances: list
    options: object
    scale: float = 1.0  # a sample's R: sizes come scaled, so do margins such as keep_free


class Outcomes:
    """Per size k, of the events at positions idx: `paths_at(k, idx)` (int8),
    `accepted_at(k, idx)` (bool) and `to_disk_at(k, idx)` (a write reached the disk, not
    host memory); `unchanged(k)`: size k's outcomes equal size k - 1's."""

    def paths_at(self, k: int, idx: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def accepted_at(self, k: int, idx: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def to_disk_at(self, k: int, idx: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def unchanged(self, k: int) -> bool:
        return False


class StackOutcomes(Outcomes):
    """first[i]: the smallest size index at which event i hits (n_sizes: none). Puts (EVICT
    events) are taken at every size index >= first_put (a non-zero capacity); nothing else
    is ever stored (no frontswap)."""

    def __init__(self, first: np.ndarray, is_put: np.ndarray, hit_path: int, miss_path: int,
                 first_put: int, write_disk: bool = True):
        self.first, self.is_put = first, is_put
        self.hit_path, self.miss_path, self.first_put = hit_path, miss_path, first_put
        self.write_disk = write_disk
        moves = np.zeros(int(first.max(initial=0)) + 2, dtype=bool)
        moves[first] = True
        self._moves = set(np.flatnonzero(moves).tolist()) | {first_put}

    def paths_at(self, k, idx):
        return np.where(self.first[idx] <= k, self.hit_path, self.miss_path).astype(np.int8)

    def accepted_at(self, k, idx):
        return self.is_put[idx] & (k >= self.first_put)

    def to_disk_at(self, k, idx):
        return np.full(len(idx), self.write_disk)

    def unchanged(self, k):
        return k > 0 and k not in self._moves

    def reordered(self, inverse: np.ndarray) -> StackOutcomes:
        return StackOutcomes(self.first[inverse], self.is_put[inverse], self.hit_path,
                             self.miss_path, self.first_put, self.write_disk)


class MatrixOutcomes(Outcomes):
    def __init__(self, paths: np.ndarray, accepted: np.ndarray, to_disk: np.ndarray):
        self._paths, self._accepted, self._to_disk = paths, accepted, to_disk

    def paths_at(self, k, idx):
        return self._paths[k, idx]

    def accepted_at(self, k, idx):
        return self._accepted[k, idx]

    def to_disk_at(self, k, idx):
        return self._to_disk[k, idx]

    def unchanged(self, k):
        return k > 0 and np.array_equal(self._paths[k], self._paths[k - 1]) and \
            np.array_equal(self._accepted[k], self._accepted[k - 1])

    def reordered(self, inverse: np.ndarray) -> MatrixOutcomes:
        return MatrixOutcomes(self._paths[:, inverse], self._accepted[:, inverse],
                              self._to_disk[:, inverse])


# ---------------------------------------------------------------- engines


def never_engine(ev, sizes, ctx, model) -> Outcomes:
    """A policy that holds nothing (none): every read goes to the disk at every size."""
    kind = ev["kind"]
    return StackOutcomes(np.full(len(kind), len(sizes), dtype=np.int64), kind == EVICT,
                         model.hit_path, model.miss_path, 0, model.write_disk)


def lru_engine(key: str):
    """An LRU host cache keyed by `location` or `content`, capacity = the pool."""

    def engine(ev, sizes, ctx, model) -> Outcomes:
        kind = ev["kind"]
        access = (kind == READ) | (kind == WRITE) | (kind == SWAP_OUT) | (kind == SWAP_IN)
        at = np.flatnonzero(access)
        loc = ev["loc"][at]
        if key == "location":
            keys = loc
        else:
            # reads name the bytes on the disk (aux), writes their own data
            is_read = (kind[at] == READ) | (kind[at] == SWAP_IN)
            data = np.where(is_read, ev["aux"][at], ev["data"][at])
            keys = content_keys(ctx, loc, data)
        distance = lru_distances(keys)
        first = np.full(len(kind), len(sizes), dtype=np.int64)
        caps = np.asarray(sizes, dtype=np.int64)
        first[at] = np.where(distance >= 0, np.searchsorted(caps, distance, side="right"),
                             len(sizes))
        return StackOutcomes(first, kind == EVICT, model.hit_path, model.miss_path, 0,
                             model.write_disk)

    return engine


def content_keys(ctx, loc: np.ndarray, data: np.ndarray) -> np.ndarray:
    """Keys equal exactly when the bytes are (images.Contents.content, vectorised): a
    location's original bytes are its image's content (ImageContent.of_pages), or unique to the location
    (-1 - loc, apart from every content id); written bytes are asked of Contents."""
    keys = np.empty(len(loc), dtype=np.int64)
    written = data != 0
    original = np.flatnonzero(~written)
    files = loc[original] >> PAGE_BITS
    for f in np.unique(files).tolist():
        sel = original[files == f]
        table = ctx.layout.files[f].content
        keys[sel] = -1 - loc[sel] if table is None else table.of_pages(loc[sel] & PAGE_MASK)
    content = ctx.contents.content
    at = np.flatnonzero(written)
    keys[at] = [content(a, b) for a, b in zip(loc[at].tolist(), data[at].tolist(),
                                              strict=True)]
    return keys


def pool_engine(ev, sizes, ctx, model) -> Outcomes:
    """Tmem's private ephemeral pools: capacity = pool - keep_free."""
    kind = ev["kind"]
    use = (kind == EVICT) | (kind == READ) | (kind == FLUSH)
    at = np.flatnonzero(use)
    ops = np.select([kind[at] == EVICT, kind[at] == READ], [P_PUT, P_GET], P_FLUSH)
    keys = (ev["guest"][at] + 1) << _PRIVATE_SHIFT | ev["vpage"][at]
    keep = int(round(ctx.options.keep_free // PAGE_SIZE * ctx.scale))
    caps = [max(p - keep, 0) for p in sizes]
    first = np.full(len(kind), len(sizes), dtype=np.int64)
    first[at] = pool_hits(ops, keys, caps)
    first_put = next((k for k, c in enumerate(caps) if c > 0), len(caps))
    return StackOutcomes(first, kind == EVICT, model.hit_path, model.miss_path, first_put,
                         model.write_disk)


def instances_engine(policy_class):
    """The policy itself at every size: exact given the order, one pass per size."""

    def engine(ev, sizes, ctx, model) -> Outcomes:
        n = len(ev["kind"])
        paths = np.zeros((len(sizes), n), dtype=np.int8)
        accepted = np.zeros((len(sizes), n), dtype=bool)
        to_disk = np.zeros((len(sizes), n), dtype=bool)
        cols = [ev[c].tolist() for c in ("kind", "guest", "vpage", "loc", "data")]
        for k, pool in enumerate(sizes):
            paths[k], accepted[k], to_disk[k] = _serve(policy_class, ctx, int(pool), *cols)
        return MatrixOutcomes(paths, accepted, to_disk)

    return engine


def _serve(policy_class, ctx, pool: int, kinds, guests, vpages, locs, datas):
    """Feed one policy instance with pool pages every event; (paths, accepted)."""
    counters = [policy_class.Counters() for _ in ctx.guests]
    host = Host(pool, {}, ctx.contents, ctx.guests, ctx.layout, counters)
    policy = policy_class(ctx.options, host)
    for i, allowance in enumerate(ctx.allowances):
        policy.set_allowance(i, allowance)
    observed = policy.observes_evictions
    read, write, evicted = policy.read, policy.write, policy.evicted
    invalidate, pending = policy.invalidate, policy.pending_writes
    runs = policy.read_runs
    n = len(kinds)
    paths = bytearray(n)
    accepted = bytearray(n)
    to_disk = bytearray(n)
    for i in range(n):
        kind = kinds[i]
        if kind == READ:
            paths[i] = read(guests[i], vpages[i], locs[i])[0]
        elif kind == EVICT:
            if observed:
                accepted[i] = evicted(guests[i], vpages[i], locs[i], datas[i]) == PUT_ACCEPTED
        elif kind == WRITE:
            to_disk[i] = write(guests[i], vpages[i], locs[i], datas[i]) == WRITE_DISK
        elif kind == FLUSH:
            invalidate(guests[i], [(vpages[i], locs[i])])
        elif kind == SWAP_OUT:
            if policy.frontswap_store(guests[i], vpages[i], datas[i]):
                accepted[i] = 1
            else:
                to_disk[i] = write(guests[i], vpages[i], locs[i], datas[i]) == WRITE_DISK
        elif kind == SWAP_IN:
            if policy.frontswap_load(guests[i], vpages[i]) is not None:
                paths[i] = FRONTSWAP
            else:
                paths[i] = policy.swap_read(guests[i], locs[i])[0]
        elif kind == SWAP_FREE:
            policy.frontswap_free(guests[i], vpages[i])
        if pending:
            pending.clear()  # the host's own write-backs: disk time only
        if runs:
            runs.clear()  # host readahead's disk requests: disk time only
    return (np.frombuffer(bytes(paths), dtype=np.int8),
            np.frombuffer(bytes(accepted), dtype=np.uint8).astype(bool),
            np.frombuffer(bytes(to_disk), dtype=np.uint8).astype(bool))


def policy_prices(policy_class, options, world) -> tuple[dict, list]:
    """The policy's own prices of its eviction outcomes and read paths (Policy.eviction_costs,
    Policy.read_costs), asked of an instance with no pool (world: a CurveWorld)."""
    counters = [policy_class.Counters() for _ in world.names]
    host = Host(0, {}, world.contents, list(world.names), world.layout, counters)
    policy = policy_class(options, host)
    return policy.eviction_costs(world.costs), list(policy.read_costs(world.costs))


# ---------------------------------------------------------------- the registry


@dataclass(frozen=True)
class HostModel:
    """How the curves serve one policy: its engine, the read paths of a hit and a miss (for
    the timing), and the hypercalls a flush costs the guest."""

    engine: Callable
    hit_path: int
    miss_path: int
    flush_calls: int
    name: str  # engine name, for meta.json
    # the options of a sample R times smaller (margins in bytes scale with it)
    scaled: Callable = staticmethod(lambda options, rate: options)
    write_disk: bool = True  # a write reaches the disk now (not held in host memory)


def _none(options) -> HostModel:
    return HostModel(never_engine, READ_DISK, READ_DISK, 0, "none")


def _host_cache(options) -> HostModel:
    through = options.mode == "writethrough"
    if cache_class(options.cache).lru_stack:
        return HostModel(lru_engine("location"), READ_HOST_IO, READ_DISK, 0, "lru",
                         write_disk=through)
    return HostModel(instances_engine(HostCache), READ_HOST_IO, READ_DISK, 0, "instances",
                     write_disk=through)


def _dedup(options) -> HostModel:
    if cache_class(options.cache).lru_stack:
        return HostModel(lru_engine("content"), READ_HOST_IO, READ_DISK, 0, "lru")
    return HostModel(instances_engine(Dedup), READ_HOST_IO, READ_DISK, 0, "instances")


def _tmem_scaled(options, rate: float):
    return options.model_copy(update={"keep_free": int(round(options.keep_free * rate))})


def _tmem(options) -> HostModel:
    # a compressed pool's room depends on the sizes it holds: the policy itself serves it
    if (options.pool == "private" and not options.dedup and options.weights is None
            and options.compress is None):
        return HostModel(pool_engine, READ_HOST_CALL, READ_DISK_AFTER_CALL, 1, "pool",
                         _tmem_scaled)
    return HostModel(instances_engine(Tmem), READ_HOST_CALL, READ_DISK_AFTER_CALL, 1,
                     "instances", _tmem_scaled)


MODELS: dict[type, Callable] = {NoCache: _none, HostCache: _host_cache, Dedup: _dedup,
                                Tmem: _tmem}
"""Policy class -> (options -> HostModel). A policy not listed is served by `instances`."""


def host_model(policy_class, options, has_swap: bool) -> HostModel:
    """The engine for a policy. Frontswap (swap traffic under a policy that may store it)
    takes the policy itself, as does a policy the registry does not know."""
    make = MODELS.get(policy_class)
    model = make(options) if make else None
    frontswap = has_swap and policy_class.frontswap
    if model is not None and not frontswap:
        return model
    if model is None:
        return HostModel(instances_engine(policy_class), READ_HOST_IO, READ_DISK, 0,
                         "instances")
    return HostModel(instances_engine(policy_class), model.hit_path, model.miss_path,
                     model.flush_calls, "instances", model.scaled, model.write_disk)
