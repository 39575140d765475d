"""`fifo`: first in, first out — hits change nothing."""

from __future__ import annotations

from .base import OldestOut


class FIFO(OldestOut):
    """First in, first out: hits change nothing."""

    __slots__ = ()
    name = "fifo"
    peer = "FIFO"

    def get(self, key) -> bool:
        return key in self._d

    def toucher(self):
        return self._d.get  # nothing to refresh: the cheapest C call that accepts a key
