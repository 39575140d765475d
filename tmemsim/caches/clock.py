"""`clock`: CLOCK (second chance) with one reference bit, as libCacheSim's `Clock`."""

from __future__ import annotations

from .base import Cache


class Clock(Cache):
    """CLOCK (second chance) with one reference bit, as libCacheSim's `Clock`.

    A page enters with its bit clear; a hit sets it; the hand gives a page whose bit is set a
    second chance (clears it, moves it behind the hand) and evicts the first page with a clear bit.
    """

    __slots__ = ("_ref",)
    name = "clock"
    peer = "Clock"
    PER_PAGE = ("ordered", "set")

    def __init__(self, capacity: int, options=None):
        super().__init__(capacity, options)
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

    def first_out(self, key):
        # the hand passes the pages whose bit is set and stops at the first without; if every
        # bit is set, one full turn clears them all and the first page goes
        ref = self._ref
        return next((k for k in self._d if k not in ref), next(iter(self._d)))

    def remove(self, key, default=None):
        self._ref.discard(key)
        return self._d.pop(key, default)
