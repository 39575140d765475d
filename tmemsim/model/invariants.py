"""The run invariants, in one place: what must hold after every action, at every sample, at a
get, after the run, and of the reads (no stale data).

`check: true` runs the first three inside the world (a broken one raises InvariantError, a bug
in tmemsim, never bad input); the last two read a finished run's numbers (api, sweeps and the
conservation checks of `tmemsim verify` ask them).
"""

from __future__ import annotations

from ..units import PAGE_SIZE


class InvariantError(AssertionError):
    """A model invariant broke during a checked run: a bug in tmemsim, never bad input."""


def check_action(world) -> None:
    """After every action: the policy's cheap checks, caches within capacity, and memory
    accounting (guests + pool + reserved = host memory)."""
    policy = world.policy
    try:
        policy.check()
    except AssertionError as exc:
        raise InvariantError(f"{world.policy_spec.name}: {exc}") from None
    for i, g in enumerate(world.guests):
        if len(g.cache) > g.cache.capacity:
            raise InvariantError(f"{g.name}: page cache {len(g.cache)} > {g.cache.capacity}")
        if world.memory[i] < min(world.floor[i], g.spec.memory):
            raise InvariantError(f"{g.name}: memory {world.memory[i]} below its floor")
    host = world.scenario.host
    total = sum(world.memory) + world.pool_pages * PAGE_SIZE + world.slack + host.reserved
    merged = world.lent * PAGE_SIZE if world.ksm is not None else 0  # what KSM lent the pool
    if total != host.memory + merged:
        raise InvariantError(f"memory accounting: guests + pool + reserved = {total}, "
                             f"host memory + merged savings = {host.memory + merged}")
    if world.ksm is not None and world.lent < world.ksm.pages_sharing:
        raise InvariantError(f"KSM saved {world.ksm.pages_sharing} pages, the pool got "
                             f"{world.lent}")
    if policy.host.pool_pages != world.pool_pages:
        raise InvariantError("the policy's pool size differs from the world's")


def check_sample(world) -> None:
    """At every sample: the rules that cost a pass over the caches (the policy's deep checks;
    no page both in a guest's cache and in its private pool; the double-cached counts kept as
    pages move equal the scan they replace)."""
    try:
        world.policy.check_deep()
    except AssertionError as exc:
        raise InvariantError(f"{world.policy_spec.name}: {exc}") from None
    if world.ksm is not None:
        try:
            world.ksm.check_deep()
        except AssertionError as exc:
            raise InvariantError(f"ksm: {exc}") from None
    exclusive = world.policy.holds_private
    for i, g in enumerate(world.guests):
        both = [vp for vp in g.cache.keys() if vp >= 0 and exclusive(i, vp)]
        if both:
            raise InvariantError(
                f"{g.name}: pages {both[:5]} are in the guest cache and its private pool")
        if world.policy.holds_guest_pages:
            kept, scanned = g.double_cached(), g.double_cached_scan()
            if kept != scanned:
                raise InvariantError(f"{g.name}: {kept} double-cached pages counted, "
                                     f"{scanned} by a scan")


def check_get(world, guest: int, vpage: int) -> None:
    """Right after a miss's get: a private get is exclusive, the page left the private pool."""
    if world.policy.holds_private(guest, vpage):
        raise InvariantError(f"{world.policy_spec.name}: {world.guest_names[guest]}: page "
                             f"{vpage} is still in its private pool after a get")


def broken_after_run(out) -> list[str]:
    """The conservation a finished run (a RunOutput) must hold; returns what is broken:
    every read served once (or waited for another read of its page), no stale read, the disks
    saw at least the guests' disk I/O, and the pool held no more than its size."""
    broken = []
    for name, c in zip(out.guest_names, out.counters, strict=True):
        served = c["guest_hits"] + c["host_hits"] + c["disk_reads"] + c["page_lock_waits"]
        if served != c["reads"]:
            broken.append(f"{name}: hits {c['guest_hits']} + host {c['host_hits']} + disk "
                          f"{c['disk_reads']} + waits {c['page_lock_waits']} != reads "
                          f"{c['reads']}")
        if c["stale_reads"]:
            broken.append(f"{name}: {c['stale_reads']} stale reads")
    disk_reads = sum(d["reads"] for d in out.disks.values())
    guest_reads = sum(c["disk_reads"] for c in out.counters)
    if disk_reads < guest_reads:
        broken.append(f"disks saw {disk_reads} reads < guests' {guest_reads} disk reads")
    disk_writes = sum(d["writes"] for d in out.disks.values())
    guest_writes = sum(c["disk_writes"] for c in out.counters)
    if disk_writes < guest_writes:
        broken.append(f"disks saw {disk_writes} writes < guests' {guest_writes} disk writes")
    if out.used_pages > out.pool_pages:
        broken.append(f"pool holds {out.used_pages} pages > its {out.pool_pages}")
    return broken


def stale_reads_failure(rows) -> str | None:
    """The coherence check of summary rows (dicts with policy, guest, stale_reads): a message
    naming every policy whose ALL row counts stale reads, or None."""
    bad = [(r["policy"], r["stale_reads"]) for r in rows
           if r["guest"] == "ALL" and r["stale_reads"] > 0]
    if not bad:
        return None
    return "coherence check failed: stale reads (" + ", ".join(
        f"{policy}: {n}" for policy, n in bad) + ")"
