"""Walker's alias tables, built with numpy: the same tables, bit for bit, as Vose's loop.

Vose's construction pops a small index s and a large one g, gives s its own probability and g
as its alias, and takes s's deficit `1 - scaled[s]` from g; g goes back on the small stack once
it falls below 1. Read that way, the loop is one running value v (the current large one's
scaled probability) folded through a sequence of subtractions: `v - (1 - scaled[s])` for each
small one, and, when the large one runs out, `(v - 1) - (-scaled[g'])` to start the next large
g' — which is exactly the loop's `scaled[g'] - (1 - v)` in floating point, since x - y =
-(y - x) and addition commutes. `np.subtract.accumulate` does such a fold in C, in order, with
the loop's own roundings.

The order of the fold depends on when each large one runs out, which depends on the fold. A
block of it is therefore built from a schedule guessed with cumulative sums, folded exactly,
and checked: every value is compared with 1 as the loop would have. Up to the first value where
the guess was wrong, the fold is the loop's; the next block starts there. Guesses are wrong
only where a value lies within rounding error of 1, so the blocks of a Zipf table run their
full length (2^16 small ones); should a weight vector defeat the guesses, the blocks shrink and
short runs of the loop itself carry the construction through (10^6 weights within 10^-13 of
each other, which defeat most guesses, build in about the time the loop alone takes).
"""

from __future__ import annotations

import numpy as np

_BLOCK = 1 << 16  # small ones per block: a few arrays of about this length live at a time
_MIN_BLOCK = 64
_LOOP_STEPS = 256  # steps of the plain loop when a block made almost no progress


def alias_table(p: np.ndarray, block: int = _BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias tables (Vose's construction) for drawing index i with probability p[i].

    A draw costs two uniforms and one table look-up, whatever the size of p — a binary search
    of a large CDF costs a cache miss per step instead. Returns (prob, alias), identical to
    the classic list-based loop that pops from the ends of the small and large lists.
    """
    return _Vose(np.asarray(p), block).run()


class _Vose:
    """The loop's state: current large one (`j`-th in pop order), its value `v`, whether it
    has run out (`spent`: below 1, waiting for the next large one), and `k` smalls used."""

    def __init__(self, p: np.ndarray, block: int):
        n = len(p)
        # prob starts as the scaled weights: a small one's probability is its own value
        self.prob = np.asarray(p, dtype=float) * (n / p.sum())
        self.alias = np.arange(n, dtype=np.int64)
        self.small = np.flatnonzero(self.prob < 1.0)[::-1]  # pop order: from the end
        self.large = np.flatnonzero(self.prob >= 1.0)[::-1]
        self.prob[np.isnan(self.prob)] = 1.0  # in neither list (weights beyond float range)
        self.block = self.max_block = max(block, 1)
        self.window = _MIN_BLOCK  # large ones a block looks at first; grows as blocks need
        self.j, self.k, self.spent = 0, 0, False
        self.v = float(self.prob[self.large[0]]) if len(self.large) else 1.0

    def done(self) -> bool:
        if self.spent:
            return self.j + 1 >= len(self.large)
        return self.k >= len(self.small) or not len(self.large)

    def run(self) -> tuple[np.ndarray, np.ndarray]:
        while not self.done():
            progress = self.fold_block(min(self.block, len(self.small) - self.k))
            if progress < 8:
                self.loop(_LOOP_STEPS)
        # what the loop never paired keeps probability 1 and itself as alias
        self.prob[self.small[self.k:]] = 1.0
        self.prob[self.large[self.j:]] = 1.0
        return self.prob, self.alias

    def loop(self, steps: int) -> None:
        """The plain loop, one pairing at a time: the reference the blocks must match."""
        prob, alias, small, large = self.prob, self.alias, self.small, self.large
        for _ in range(steps):
            if self.done():
                return
            g = int(large[self.j])
            if self.spent:  # g runs out: it is the small one, the next large one absorbs it
                nxt = int(large[self.j + 1])
                prob[g], alias[g] = self.v, nxt
                self.v = float(prob[nxt]) - (1.0 - self.v)
                self.j += 1
            else:
                s = int(small[self.k])
                alias[s] = g
                self.v -= 1.0 - float(prob[s])
                self.k += 1
            self.spent = self.v < 1.0

    def fold_block(self, b: int) -> int:
        """Fold up to b small ones (and the large ones they use up); returns steps taken."""
        prob, small, large = self.prob, self.small, self.large
        j, k, v = self.j, self.k, self.v
        deficit = 1.0 - prob[small[k:k + b]]
        absorbed = np.zeros(b + 1)  # deficit taken after 0, 1, ..., b small ones
        np.cumsum(deficit, out=absorbed[1:])
        start, runs_out = self.schedule(absorbed)
        if runs_out[-1] <= b:  # the window's last large one runs out: the block stops there
            b = int(runs_out[-1])
        switches = runs_out[:-1]
        switches = switches[switches <= b]  # large i hands over to i + 1 after switches[i] smalls
        t = len(switches)
        # the fold: v, then per small one its deficit, per switch 1 and -start, in event order
        at_switch = 1 + switches + 2 * np.arange(t)
        is_small = np.ones(1 + b + 2 * t, dtype=bool)
        is_small[0] = is_small[at_switch] = is_small[at_switch + 1] = False
        ops = np.empty(len(is_small))
        ops[0], ops[is_small], ops[at_switch], ops[at_switch + 1] = v, deficit[:b], 1.0, \
            -start[1:t + 1]
        values = np.subtract.accumulate(ops)  # the loop's own floats, in the guessed order
        small_values, switch_values = values[is_small], values[at_switch + 1]
        # the guess: spent after the small one that ends a large one's run, or at once after a
        # switch when the next large one's run is empty; the loop: spent when below 1
        said = np.zeros(b, dtype=bool)
        said[runs_out[(runs_out >= 1) & (runs_out <= b)] - 1] = True
        wrong_small = np.flatnonzero(said != (small_values < 1.0))
        wrong_switch = np.flatnonzero((runs_out[1:t + 1] == switches) != (switch_values < 1.0))
        # events in order: small one m is event m + (switches before it), switch i is
        # switches[i] + i; everything up to the first wrong event is the loop's
        switch_event = switches + np.arange(t)
        last = b + t - 1
        if len(wrong_small):
            m = int(wrong_small[0])
            last = min(last, m + int(np.searchsorted(switches, m, side="right")))
        if len(wrong_switch):
            last = min(last, int(switch_event[wrong_switch[0]]))
        kept_switches = int(np.searchsorted(switch_event, last, side="right"))
        kept_smalls = last + 1 - kept_switches
        runs = np.diff(np.concatenate(([0], switches[:kept_switches], [kept_smalls])))
        self.alias[small[k:k + kept_smalls]] = np.repeat(large[j:j + kept_switches + 1], runs)
        handed = large[j:j + kept_switches]
        prob[handed] = values[at_switch[:kept_switches] - 1]  # its value when it ran out
        self.alias[handed] = large[j + 1:j + kept_switches + 1]
        ends_on_switch = kept_switches and switch_event[kept_switches - 1] == last
        self.v = float(switch_values[kept_switches - 1] if ends_on_switch
                       else small_values[kept_smalls - 1])
        self.j, self.k = j + kept_switches, k + kept_smalls
        self.spent = self.v < 1.0
        right = not len(wrong_small) and not len(wrong_switch)
        self.block = min(2 * self.block, self.max_block) if right else max(_MIN_BLOCK, 2 * last)
        return last + 1

    def schedule(self, absorbed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The large ones from the current one on, enough to absorb the block's deficit (or
        b + _MIN_BLOCK of them), and when each runs out: after how many of the block's small
        ones, from cumulative sums (a guess: the fold's roundings differ); len(absorbed) if not
        in this block."""
        prob, large, j = self.prob, self.large, self.j
        most = min(len(large) - j, len(absorbed) - 1 + _MIN_BLOCK)
        window = min(most, self.window)
        while True:
            start = prob[large[j:j + window]]
            excess = np.empty(window)
            excess[0] = self.v - 1.0
            np.cumsum(start[1:] - 1.0, out=excess[1:])
            excess[1:] += excess[0]
            if excess[-1] >= absorbed[-1] or window == most:
                break
            window = min(4 * window, most)
        runs_out = np.searchsorted(absorbed, excess, side="right")
        self.window = max(_MIN_BLOCK, 2 * int(np.count_nonzero(runs_out < len(absorbed))))
        return start, runs_out
