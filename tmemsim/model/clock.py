"""Waking a process at a time with a fixed tie-break, so equal times resolve the same way.

SimPy orders simultaneous events by (priority, insertion order); giving every process its own
priority rank makes that order independent of when each wake-up was scheduled.
"""

from __future__ import annotations

from simpy.events import Event


class At(Event):
    """A Timeout that carries a priority: the process with the lower rank goes first at a tie."""

    __slots__ = ()

    def __init__(self, env, delay: float, rank: int):
        self.env = env
        self.callbacks = []
        self._value = None
        self._ok = True
        env.schedule(self, rank, delay)


def next_event_time(env) -> float:
    """When the next scheduled event of the whole world is due (inf if none)."""
    queue = env._queue  # SimPy's heap; peek() without the method call, on the hot path
    return queue[0][0] if queue else float("inf")
