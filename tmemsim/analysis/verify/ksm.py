"""ksm: KSM merges exactly the duplicate resident guest pages, and each COW break un-merges
exactly one, under every policy.

The scenario (`verify/ksm.yaml`) fills three clones' page caches, then holds them still while
ksmd scans instantly (a full scan per wake-up). The duplicates are computed here from the
image's content ids, apart from the scanner: unwritten pages through `ImageContent.of_pages`
(the vectorised draw), every written page its own bytes (the scenario draws no shared writes).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from tmemsim.api import select_policies
from tmemsim.model import World

from .checks import Check, Measurement

FAMILY = "ksm"
POLICIES = ("none", "host-cache", "tmem", "dedup")
CLONES = ("copy", "cow")


def duplicates(world) -> int:
    """Duplicate resident pages of every guest: the sum over contents of (pages holding it - 1)."""
    counts: Counter = Counter()
    for g in world.guests:
        keys = list(g.cache.keys())
        if any(k < 0 for k in keys):
            raise ValueError("the ksm checks count file pages; this scenario has anonymous ones")
        unwritten = np.array([k for k in keys if k not in g.versions], dtype=np.int64)
        image = g.gdisk.base if g.gdisk.kind == "cow" else g.gdisk.own
        counts.update(world.layout.files[image].content.of_pages(unwritten).tolist())
    return sum(n - 1 for n in counts.values() if n > 1)


def _run(check: Check, quick: bool, overrides: list[str]):
    p = check.settings(quick)
    s = check.load([f"guests.0.disk.clone={p['clone']}", f"policies=[{p['policy']}]",
                    *overrides])
    world = World(s, select_policies(s)[0])
    return world, world.run()


def measure_instant(check: Check, quick: bool) -> Measurement:
    """pages_sharing after the caches filled and ksmd scanned them, against the duplicates."""
    world, out = _run(check, quick, ["duration=1s"])
    expected = duplicates(world)
    k = out.ksm
    note = (f"{len(world.guests)} {check.params['clone']} clones, "
            f"{sum(out.cache_pages)} resident pages: {k['pages_shared']} shared, "
            f"{k['pages_sharing']} sharing, {k['full_scans']} full scans")
    return Measurement(expected, k["pages_sharing"], note,
                       passed=expected > 0 and k["pages_sharing"] == expected)


def measure_writes(check: Check, quick: bool) -> Measurement:
    """pages_sharing at the end against its value before the writes less the COW breaks; the
    end's value must also be the end's duplicates, and some writes must have broken a merge."""
    world, out = _run(check, quick, [])
    before = next(v for t, g, m, v in out.samples
                  if t == 1.0 and g == "HOST" and m == "pages_sharing")
    k = out.ksm
    breaks = sum(k["cow_breaks"])
    after = k["pages_sharing"]
    direct = duplicates(world)
    note = (f"{before} sharing before the writes, {breaks} COW breaks, {after} after; "
            f"{direct} duplicate pages at the end")
    return Measurement(before - breaks, after, note,
                       passed=after == before - breaks and after == direct and breaks > 0)


def checks() -> list[Check]:
    """Per clone kind and policy: the instant scan, and the COW breaks of the writes after it;
    a copy and a CoW point of each in the quick set."""
    out = []
    for clone in CLONES:
        for policy in POLICIES:
            params = dict(clone=clone, policy=policy)
            quick = (clone, policy) in (("copy", "host-cache"), ("cow", "tmem"))
            out.append(Check(FAMILY, f"instant-{clone}-{policy}", "verify/ksm.yaml",
                             measure_instant, 0.0, quick=quick, params=params))
            quick = (clone, policy) in (("copy", "dedup"), ("cow", "none"))
            out.append(Check(FAMILY, f"cow-breaks-{clone}-{policy}", "verify/ksm.yaml",
                             measure_writes, 0.0, quick=quick, params=params))
    return out
