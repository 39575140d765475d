"""Replacement structures behind one small interface: lru, fifo, clock, twolist.

Plain Python, no SimPy. Every cache maps a key to a value and speaks libCacheSim's verbs:
`get` (look up and refresh), `find` (look up, no refresh), `insert`, `evict`, `remove`; the
guest's hot path uses `members`, `toucher` and `next_victim` (defaults fit any `_d`-based cache).
"""

from __future__ import annotations

from collections import OrderedDict

MISSING = object()


class Cache:
    """The interface; subclasses keep `_d`, an OrderedDict from key to value."""

    __slots__ = ("capacity", "_d")
    name = "cache"
    PER_PAGE: tuple[str, ...] = ("ordered",)  # containers a cached page sits in (scenario/sizing.py)

    def __init__(self, capacity: int):
        if capacity < 0:
            raise ValueError(f"cache capacity must be >= 0, got {capacity}")
        self.capacity = capacity
        self._d: OrderedDict = OrderedDict()

    def __len__(self) -> int:
        return len(self._d)

    def __contains__(self, key) -> bool:
        return key in self._d

    def keys(self):
        return self._d.keys()

    def items(self):
        return self._d.items()

    def find(self, key, default=None):
        """The value of key without touching the replacement state."""
        return self._d.get(key, default)

    def set(self, key, value) -> None:
        """Replace the value of a cached key, replacement state untouched."""
        self._d[key] = value

    def get(self, key) -> bool:
        """True on a hit, refreshing the key as the policy says."""
        raise NotImplementedError

    # The hot path's form of `get`, in two parts that are C calls for lru, fifo and clock (no
    # Python frame): `key in members` (a live container), then `touch(key)` on a hit. A miss
    # tested this way costs a tenth of the KeyError a refresh would raise.

    def members(self):
        """A live container of the cached keys: `key in members` is the membership test."""
        return self._d.keys()

    def toucher(self):
        """A function f(key) that refreshes a key known to be cached, exactly like a hit."""
        return self.get

    def insert(self, key, value=None):
        """Add an absent key; returns the evicted (key, value) or None."""
        if not self.capacity:
            return key, value  # a zero-sized cache rejects at once
        victim = self.evict() if len(self._d) >= self.capacity else None
        self._d[key] = value
        return victim

    def evict(self):
        """Remove and return the (key, value) the policy gives up first."""
        return self._d.popitem(last=False)

    def remove(self, key, default=None):
        return self._d.pop(key, default)

    def next_victim(self):
        """The key insert() would evict now, or None if there is room; changes nothing."""
        if len(self) < self.capacity or not self.capacity:
            return None
        return self._first_out()

    def _first_out(self):
        """The key evict() would give up now (the cache is not empty); changes nothing."""
        return next(iter(self._d))

    def resize(self, capacity: int) -> list:
        """Change the capacity; returns what had to be evicted to fit."""
        self.capacity = capacity
        return [self.evict() for _ in range(len(self._d) - capacity)]


class _Queue(Cache):
    """Caches that always evict the oldest entry: insert without a call to evict()."""

    __slots__ = ()

    def insert(self, key, value=None):
        d = self._d
        victim = None
        if len(d) >= self.capacity:
            if not self.capacity:
                return key, value
            victim = d.popitem(False)  # last=False by position: a cheaper call, on every miss
        d[key] = value
        return victim


class LRU(_Queue):
    """Least recently used: a hit moves the key to the young end."""

    __slots__ = ()
    name = "lru"

    def get(self, key) -> bool:
        try:
            self._d.move_to_end(key)
        except KeyError:
            return False
        return True

    def toucher(self):
        return self._d.move_to_end


class FIFO(_Queue):
    """First in, first out: hits change nothing."""

    __slots__ = ()
    name = "fifo"

    def get(self, key) -> bool:
        return key in self._d

    def toucher(self):
        return self._d.get  # nothing to refresh: the cheapest C call that accepts a key


class Clock(Cache):
    """CLOCK (second chance) with one reference bit, as libCacheSim's `Clock`.

    A page enters with its bit clear; a hit sets it; the hand gives a page whose bit is set a
    second chance (clears it, moves it behind the hand) and evicts the first page with a clear bit.
    """

    __slots__ = ("_ref",)
    name = "clock"
    PER_PAGE = ("ordered", "set")

    def __init__(self, capacity: int):
        super().__init__(capacity)
        self._ref: set = set()

    def get(self, key) -> bool:
        if key in self._d:
            self._ref.add(key)
            return True
        return False

    def toucher(self):
        return self._ref.add

    def evict(self):
        d, ref = self._d, self._ref
        while True:
            key, value = d.popitem(last=False)
            if key in ref:
                ref.discard(key)
                d[key] = value
            else:
                return key, value

    def _first_out(self):
        # the hand passes the pages whose bit is set and stops at the first without; if every
        # bit is set, one full turn clears them all and the first page goes
        ref = self._ref
        return next((key for key in self._d if key not in ref), next(iter(self._d)))

    def remove(self, key, default=None):
        self._ref.discard(key)
        return self._d.pop(key, default)


class TwoList(Cache):
    """Linux's active/inactive lists: pages enter inactive, a second hit promotes them.

    The active list is kept at most `active_ratio` of the capacity; its oldest pages are demoted
    to the young end of the inactive list, and eviction takes the oldest inactive page.
    """

    __slots__ = ("_active", "active_ratio")
    name = "twolist"
    PER_PAGE = ("ordered", "ordered")  # each list keeps the room its largest size took

    def __init__(self, capacity: int, active_ratio: float = 0.5):
        super().__init__(capacity)
        self._active: OrderedDict = OrderedDict()
        self.active_ratio = active_ratio

    def __len__(self) -> int:
        return len(self._d) + len(self._active)

    def __contains__(self, key) -> bool:
        return key in self._d or key in self._active

    def members(self):
        return self

    def keys(self):
        return list(self._d.keys()) + list(self._active.keys())

    def items(self):
        return list(self._d.items()) + list(self._active.items())

    def find(self, key, default=None):
        value = self._d.get(key, MISSING)
        return self._active.get(key, default) if value is MISSING else value

    def set(self, key, value) -> None:
        (self._active if key in self._active else self._d)[key] = value

    def get(self, key) -> bool:
        active = self._active
        if key in active:
            active.move_to_end(key)
            return True
        value = self._d.pop(key, MISSING)
        if value is MISSING:
            return False
        active[key] = value
        limit = int(self.capacity * self.active_ratio)
        while len(active) > limit:
            old, v = active.popitem(last=False)
            self._d[old] = v
        return True

    def insert(self, key, value=None):
        if not self.capacity:
            return key, value
        victim = self.evict() if len(self) >= self.capacity else None
        self._d[key] = value
        return victim

    def evict(self):
        if self._d:
            return self._d.popitem(last=False)
        return self._active.popitem(last=False)

    def _first_out(self):
        return next(iter(self._d or self._active))

    def remove(self, key, default=None):
        value = self._d.pop(key, MISSING)
        return self._active.pop(key, default) if value is MISSING else value


CACHES: dict[str, type[Cache]] = {c.name: c for c in (LRU, FIFO, Clock, TwoList)}


def make_cache(kind: str, capacity: int) -> Cache:
    try:
        return CACHES[kind](capacity)
    except KeyError:
        raise ValueError(f"unknown cache {kind!r}; expected one of {', '.join(CACHES)}") from None
