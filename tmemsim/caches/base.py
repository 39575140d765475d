"""The cache contract: a replacement structure that maps a key to a value.

Plain Python, no SimPy. Every cache speaks libCacheSim's verbs:

- `get(key)`: look up and refresh as the replacement says (a hit); False on a miss;
- `find(key)`: the value, replacement state untouched; `set(key, value)` replaces a value;
- `insert(key, value)`: add an absent key, evicting first if full; returns the victim or None;
- `evict()`: remove and return the (key, value) the replacement gives up first;
- `remove(key)`: drop a key, wherever it sits;
- `next_victim(key)`: the key `insert(key)` would evict now, or None; changes nothing. It is
  given the key about to come in, as libCacheSim's `to_evict(req)`: an adaptive cache (ARC)
  decides by it;
- `resize(capacity)`: returns what had to go;
- the hot path's `get` in two C calls: `members()` (a live container: `key in members`) and
  `toucher()` (f(key) refreshes a key known to be cached, exactly like a hit).

Each cache declares `Options` (pydantic; a scenario writes `cache: {kind: twolist,
active_ratio: 0.3}`), `examples` (option dicts the registry-driven tests run), `PER_PAGE` (the
containers a cached page sits in, priced by the memory estimate) and `lru_stack` (a hit at
capacity C is exactly an LRU stack distance below C: the curves serve every size in one pass).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import ClassVar

from ..fields import Strict

MISSING = object()


class CacheOptions(Strict):
    """A cache's options: none by default."""


class Cache:
    """The contract, with defaults that fit any cache keeping its entries in `_d`, an
    OrderedDict from key to value, oldest first."""

    __slots__ = ("capacity", "_d")
    name = "cache"
    Options: ClassVar[type[CacheOptions]] = CacheOptions
    examples: ClassVar[list[dict]] = [{}]
    # the libCacheSim class computing the same algorithm (tests compare miss counts), if any
    peer: ClassVar[str | None] = None
    PER_PAGE: ClassVar[tuple[str, ...]] = ("ordered",)
    lru_stack: ClassVar[bool] = False

    def __init__(self, capacity: int, options: CacheOptions | None = None):
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
        """True on a hit, refreshing the key as the replacement says."""
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
        """Remove and return the (key, value) the replacement gives up first."""
        return self._d.popitem(last=False)

    def remove(self, key, default=None):
        return self._d.pop(key, default)

    def next_victim(self, key):
        """The key insert(key) would evict now, or None if there is room; changes nothing."""
        if len(self) < self.capacity or not self.capacity:
            return None
        return self.first_out(key)

    def first_out(self, key):
        """The key evict() would give up now to admit `key` (the cache is not empty)."""
        return next(iter(self._d))

    def resize(self, capacity: int) -> list:
        """Change the capacity; returns what had to be evicted to fit."""
        self.capacity = capacity
        return [self.evict() for _ in range(len(self._d) - capacity)]


class OldestOut(Cache):
    """Caches that always evict the oldest entry: `insert` and `next_victim` take it from the
    OrderedDict themselves, without a call to evict() or first_out()."""

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

    def next_victim(self, key):
        # asked on every miss that may evict (Guest.entry_bound): the contract's default, without
        # its two Python calls (__len__, first_out)
        d = self._d
        if len(d) < self.capacity or not self.capacity:
            return None
        return next(iter(d))
