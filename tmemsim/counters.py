"""Named integer counters: plain slotted objects the model fills while it runs.

The base lives here, below the plug-ins, because each policy declares its own counters (a
subclass naming them in __slots__) and the model and results collect them generically.
"""

from __future__ import annotations

from typing import ClassVar


class Counters:
    """Integer counters named by __slots__ (a subclass's added to its bases'); reset() zeroes
    them all."""

    __slots__ = ()
    NAMES: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.NAMES = tuple(dict.fromkeys(
            n for klass in reversed(cls.__mro__) for n in klass.__dict__.get("__slots__", ())))

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        for name in self.NAMES:
            setattr(self, name, 0)

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.NAMES}
