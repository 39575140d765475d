"""Page locks: a read that misses on a file page another read is already bringing in waits for
that read and is served by its arrival (one disk read, the others counted in page_lock_waits)."""

from __future__ import annotations

import pytest

import tmemsim

POLICIES = ["none", "host-cache", "tmem", {"kind": "tmem", "pool": "shared"}, "dedup"]


def together(threads: int, engine: str, steps=("r 5",), think="0us") -> dict:
    """`threads` threads running the same script at once, on a 1 ms disk."""
    return {"seed": 3, "engine": engine, "check": True, "duration": "1s",
            "host": {"memory": "1GiB", "reserved": "128MiB"},
            "disks": {"d": {"kind": "custom", "read": "1ms", "write": "1ms"}},
            "policies": POLICIES,
            "guests": [{"name": "g", "memory": "64MiB", "reserved": "16MiB",
                        "disk": {"size": "64MiB"},
                        "workload": {"kind": "script", "steps": list(steps), "threads": threads,
                                     "think_time": think}}]}


@pytest.mark.parametrize("engine", ["batched", "unbatched"])
@pytest.mark.parametrize("threads", [2, 5])
def test_threads_missing_one_page_together_read_it_once(threads, engine):
    result = tmemsim.simulate(tmemsim.load_scenario(together(threads, engine)))
    for policy in result.summary.policy.unique():
        row = result.row(policy=policy, guest="g")
        assert row.reads == threads
        assert row.disk_reads == 1 and row.host_hits == 0 and row.guest_hits == 0, policy
        assert row.page_lock_waits == threads - 1, policy
        # every reader waited for the one read: about the disk's 1 ms each
        assert 0.9e3 < row.p50_read_latency_us < 1.2e3, policy


@pytest.mark.parametrize("engine", ["batched", "unbatched"])
def test_a_read_after_the_arrival_is_a_hit_not_a_wait(engine):
    """The second thread's second read of page 5 comes long after it arrived: a guest hit."""
    d = together(2, engine, steps=("r 5", "r 6", "r 5"), think="5ms")
    row = tmemsim.simulate(tmemsim.load_scenario(d), policy="none").row(guest="g")
    assert row.reads == 6 and row.disk_reads == 2 and row.page_lock_waits == 2
    assert row.guest_hits == 2
