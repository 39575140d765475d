"""`twolist`: Linux's active/inactive lists — pages enter inactive, a second hit promotes them."""

from __future__ import annotations

from collections import OrderedDict

from pydantic import Field

from .base import MISSING, Cache, CacheOptions


class TwoListOptions(CacheOptions):
    # the largest share of the capacity the active list may hold (Linux balances its lists
    # towards an inactive list at least as large as the active one: 0.5)
    active_ratio: float = Field(0.5, ge=0, le=1)


class TwoList(Cache):
    """Linux's active/inactive lists: pages enter inactive, a second hit promotes them.

    The active list is kept at most `active_ratio` of the capacity; its oldest pages are demoted
    to the young end of the inactive list, and eviction takes the oldest inactive page.
    """

    __slots__ = ("_active", "active_ratio")
    name = "twolist"
    Options = TwoListOptions
    examples = [{}, {"active_ratio": 0.3}, {"active_ratio": 0.0}]
    PER_PAGE = ("ordered", "ordered")  # each list keeps the room its largest size took

    def __init__(self, capacity: int, options: TwoListOptions | None = None):
        super().__init__(capacity, options)
        self._active: OrderedDict = OrderedDict()
        self.active_ratio = (options or TwoListOptions()).active_ratio

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

    def first_out(self, key):
        return next(iter(self._d or self._active))

    def remove(self, key, default=None):
        value = self._d.pop(key, MISSING)
        return self._active.pop(key, default) if value is MISSING else value
