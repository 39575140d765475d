"""Waking a process at a time with a fixed tie-break, so equal times resolve the same way.

SimPy orders simultaneous events by (priority, insertion order); giving every process its own
priority rank makes that order independent of when each wake-up was scheduled.
"""

from __future__ import annotations

import heapq

from simpy.events import Event


class Until(Event):
    """A wake-up at exactly `time` that carries a priority: the process with the lower rank goes
    first at a tie. (Environment.schedule, with the time given instead of a delay from now.)"""

    __slots__ = ()

    def __init__(self, env, time: float, rank: int):
        self.env = env
        self.callbacks = []
        self._value = None
        self._ok = True
        heapq.heappush(env._queue, (time, rank, next(env._eid), self))


class At(Until):
    """A Timeout that carries a priority: due `delay` from now, at now + delay as SimPy's
    Timeout computes it (which may round away from a time the delay was taken from: Until)."""

    __slots__ = ()

    def __init__(self, env, delay: float, rank: int):
        super().__init__(env, env.now + delay, rank)


def event_queue(env) -> list:
    """SimPy's heap of scheduled events, (time, priority, serial, event): the dispatcher of
    guest turns (model/turns.py) peeks at it on every turn, without peek()'s method call."""
    return env._queue
