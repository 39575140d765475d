"""A guest's background work: the flusher's schedule, file churn, phase switches, ballooning.

A mixin of Guest (model/guest.py), which holds the state and the agenda these go on.
"""

from __future__ import annotations

import heapq

from ..units import PAGE_SIZE
from .agenda import ORDER_BALLOON, ORDER_CHURN, ORDER_FLUSH, ORDER_PHASE


class Background:
    """What a guest does besides its requests, as its spec asks."""

    def schedule_background(self, churn_rng) -> None:
        """The flusher, self-ballooning, file churn and phase switches, as the spec asks."""
        spec = self.spec
        if spec.writeback_interval > 0:
            self.agenda.append((spec.writeback_interval, ORDER_FLUSH, self.flush, None))
        if spec.balloon.kind == "selfballoon":
            self.agenda.append((spec.balloon.interval, ORDER_BALLOON, self._balloon, None))
        churn = spec.workload.churn
        if churn is not None:
            # which file and when depend on the guest's seed only, not on the policy
            self.churn_times = churn.times(churn_rng)
            self.churn_rng = churn_rng
            self.files = max(spec.workload.footprint_pages() // self.file_pages, 1)
            self._next_churn()
        switches = getattr(spec.workload, "switches", None)
        self.switches = switches() if switches else iter(())
        self._next_switch()

    def _next_churn(self) -> None:
        t = next(self.churn_times)
        if t < self.horizon:
            heapq.heappush(self.agenda, (t, ORDER_CHURN, self._churn, None))

    def _churn(self, t: float, _) -> None:
        """Delete and recreate one file of the footprint (file churn)."""
        file = int(self.churn_rng.integers(self.files))
        self.truncate(t, file * self.file_pages)
        if self.remaining > 0 and any(not th.ended for th in self.threads):
            self._next_churn()

    def _next_switch(self) -> None:
        nxt = next(self.switches, None)
        if nxt is not None and nxt[0] < self.horizon:
            heapq.heappush(self.agenda, (nxt[0], ORDER_PHASE, self._switch, nxt[1:]))

    def _switch(self, t: float, phase) -> None:
        """A new phase: every thread drops what is left of its chunk and asks the new phase."""
        for th in self.threads:
            th.stream.switch(*phase)
            if not th.ended:
                th.refill()
        # as the flusher, churn and balloon: once the work is done the agenda must empty, or a
        # repeating phases workload under a request budget alone would never end
        if self.remaining > 0 and any(not th.ended for th in self.threads):
            self._next_switch()

    def _balloon(self, t: float, _) -> None:
        """Self-ballooning: memory target = reserved + committed anonymous memory + headroom."""
        b = self.spec.balloon
        target = self.spec.reserved + self.anon.committed * PAGE_SIZE + b.headroom
        self.observer.set_memory(self.index, target, t)
        if self.remaining > 0 and any(not th.ended for th in self.threads):
            heapq.heappush(self.agenda, (t + b.interval, ORDER_BALLOON, self._balloon, None))
