"""The guests' turns (model/turns.py): not SimPy events, and in SimPy's order at every tie."""

from __future__ import annotations

import pandas as pd

import tmemsim
from tmemsim.api import select_policies
from tmemsim.model import World


def many_guests(engine: str, policy: str = "tmem", count: int = 4) -> dict:
    """Guests whose actions fall at the same instants: fixed think times, a fixed-time disk,
    the same workload; a shared pool, so the order of their misses and puts shows."""
    return {
        "seed": 3, "duration": "100ms", "sample_interval": "25ms", "engine": engine,
        "host": {"memory": "512MiB", "reserved": "64MiB"},
        "disks": {"d": {"kind": "custom", "read": "50us", "write": "50us"}},
        "images": {"base": {"size": "64MiB"}},
        "policies": [policy if policy != "tmem" else {"kind": "tmem", "pool": "shared"}],
        "guests": [{"name": "vm", "count": count, "memory": "4MiB", "reserved": "2MiB",
                    "disk": {"image": "base", "clone": "cow"},
                    "workload": {"kind": "uniform", "footprint": 4000, "read_fraction": 0.9,
                                 "think_time": "10us"}}],
    }


def test_guest_turns_are_not_simpy_events():
    """A miss per turn, but the turns are a heap's, not SimPy's: only the observer's samples
    (and the dispatcher's yields to them) are SimPy events."""
    s = tmemsim.load_scenario(many_guests("batched"))
    world = World(s, select_policies(s)[0])
    env, steps = world.env, [0]
    step = env.step

    def counted():
        steps[0] += 1
        step()

    env.step = counted
    out = world.run()
    assert out.events > 1000  # the guests' turns
    assert steps[0] < 50  # 4 samples, their yields, the processes' starts and ends


def test_turns_keep_simpy_order_at_ties():
    """Guests due at the same instant go in rank order, after the observer, as a SimPy
    process per guest (the unbatched engine) has them."""
    for policy in ("tmem", "host-cache"):
        batched = tmemsim.simulate(tmemsim.load_scenario(many_guests("batched", policy)))
        unbatched = tmemsim.simulate(tmemsim.load_scenario(many_guests("unbatched", policy)))
        pd.testing.assert_frame_equal(batched.summary, unbatched.summary)
        pd.testing.assert_frame_equal(batched.timeseries, unbatched.timeseries)
        pd.testing.assert_frame_equal(batched.latency, unbatched.latency)
        row = batched.row()
        assert row.requests > 1000 and row.disk_reads > 100
