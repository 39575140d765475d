"""Guests take turns in front of SimPy: one dispatcher, no SimPy event per guest wake-up.

With many guests, every miss must come before every other guest's next action (it reaches the
hypervisor and the disks), so a guest gets about one miss in before it must wait: a wake-up per
miss. As a SimPy event each, a wake-up cost more than the miss itself. Here the waiting guests
sit in one heap keyed (time, rank), and one SimPy process gives the earliest its turn directly;
it yields to SimPy only when an event of SimPy's (the observer, the host ticker, KSM's scanner)
is due first, with an event at exactly that guest's (time, rank).

The order is the one a SimPy process per guest gives (`engine: unbatched`, Guest.process, the
reference): SimPy orders events by (time, priority, insertion), every guest waited at its own
rank, the other processes' ranks are below every guest's, and a guest's wake-up time is
computed as SimPy computed it. A guest's `world` bound, the next event of anyone else, is the
earliest other guest's turn or SimPy's next event; it cannot move during a turn (guests
schedule nothing in SimPy), so the dispatcher hands it over once per turn. Most turns end with
the thread's next request waiting for the world; the thread's action then returns that time
(model/agenda.py), and the guest is re-keyed without another look at its agenda.
"""

from __future__ import annotations

import heapq

from .clock import Until, event_queue

INF = float("inf")


class Turns:
    """The guests' turns: `run()` is the one SimPy process that gives them."""

    def __init__(self, env, guests):
        self.env = env
        # (time, rank, guest): every guest that has not stopped, and below them two sentinels
        # that never come up, so the root always has two children to take the world bound from
        self.waiting: list = [(INF, INF, None), (INF, INF, None)]
        self.events = event_queue(env)  # SimPy's own heap: (time, priority, serial, event)
        for g in guests:
            # at time 0 every guest waits for its first action, as every unbatched process
            # does (Guest.process: a wake-up, even at time 0)
            if g.agenda:
                t, order = g.agenda[0][:2]
                if not g.stops_before(t, order):
                    g.events += 1
                    heapq.heappush(self.waiting, (t, g.rank, g))

    def run(self):
        """Give turns in (time, rank) order until every guest has stopped: each runs the action
        it waited for, then on while nothing else can come first."""
        env, waiting, events = self.env, self.waiting, self.events
        pop, replace = heapq.heappop, heapq.heapreplace
        # SimPy's next event: its heap changes only while we yield (guests schedule nothing)
        simpy = events[0][0] if events else INF
        while True:
            now, rank, g = waiting[0]
            if g is None:  # every guest has stopped: the sentinels are left
                return
            if simpy <= now:  # SimPy's ranks are below every guest's: it goes first at a tie
                yield Until(env, now, rank)
                simpy = events[0][0] if events else INF
            # g stays at the heap's root during its turn: the next other guest is a child of it
            world, other = waiting[1][0], waiting[2][0]
            if other < world:
                world = other
            if simpy < world:
                world = simpy
            g.world = world
            agenda, checker = g.agenda, g.checker
            t, _, action, arg = pop(agenda)
            due = action(t, arg)
            if checker is not None:
                checker()
            if due is not None:  # a thread's next request waits for the world: the guest's next
                g.events += 1  # action, due after world and before its horizon (Guest._server)
                replace(waiting, (now + (due - now), rank, g))
                continue
            while agenda:
                t, order, action, arg = agenda[0]
                if g.stops_before(t, order):
                    pop(waiting)  # g has stopped
                    break
                if t >= world:
                    g.events += 1
                    replace(waiting, (now + (t - now), rank, g))
                    break
                pop(agenda)
                action(t, arg)
                if checker is not None:
                    checker()
            else:
                pop(waiting)

