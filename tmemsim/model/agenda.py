"""A guest's agenda: the order its entries take at equal times, and the threads whose
requests it holds.

An agenda entry is (time, order, action, argument); at equal times the lower order goes first,
so background work (the flusher, churn, ballooning, phase switches) comes before requests, and
requests in thread order, then open-loop arrivals in the order they arrived.

A thread's turn is the entry whose argument is the Thread: (t, order, thread.serve, thread).
An action returns None, except a thread's turn that ended because its next request must wait
for the world: that returns the request's time, then the guest's next action (model/turns.py).
"""

from __future__ import annotations

ORDER_FLUSH = 0
ORDER_CHURN = 1
ORDER_BALLOON = 2
ORDER_PHASE = 3
ORDER_THREAD = 16  # + thread index
ORDER_OPEN = 1 << 40  # + request serial: each outstanding open-loop request has its own order


class Thread:
    """One closed-loop thread, or the open-loop arrival process, and its request stream."""

    __slots__ = ("order", "stream", "ops", "pages", "gaps", "dups", "i", "n", "closed", "ended",
                 "serve")

    def __init__(self, order: int, stream, closed: bool):
        self.order, self.stream, self.closed = order, stream, closed
        self.ops = self.pages = self.gaps = self.dups = ()
        self.i = self.n = 0
        self.ended = False
        self.serve = None  # its turn's action, serve(t, thread, chosen): Guest._server

    def refill(self) -> bool:
        """The stream's next chunk; False when the stream has ended."""
        self.ops, self.pages, self.gaps, self.dups = self.stream.next_chunk()
        self.i, self.n = 0, len(self.ops)
        self.ended = self.n == 0
        return not self.ended
