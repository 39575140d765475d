"""`lru`: least recently used — a hit moves the key to the young end."""

from __future__ import annotations

from .base import OldestOut


class LRU(OldestOut):
    """Least recently used: a hit moves the key to the young end."""

    __slots__ = ()
    name = "lru"
    peer = "LRU"
    lru_stack = True

    def get(self, key) -> bool:
        try:
            self._d.move_to_end(key)
        except KeyError:
            return False
        return True

    def toucher(self):
        return self._d.move_to_end
