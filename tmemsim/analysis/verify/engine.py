"""engine: the batched engine measures exactly the requests due before the horizon."""

from __future__ import annotations

from tmemsim.units import PAGE_SIZE

from .checks import Check, Measurement
from .harness import run

FAMILY = "engine"


def measure(check: Check, quick: bool) -> Measurement:
    """Requests measured in `duration` seconds at exactly one request per second."""
    p = check.settings(quick)
    s = check.load(["requests=null", f"warmup={p['warmup']}", f"duration={p['duration']}",
                    f"engine={p['engine']}", f"guests.0.workload.alpha={p['alpha']}",
                    f"guests.0.memory={p['pages'] * PAGE_SIZE}"])
    c = run(s).counters[0]
    expected = round(s.duration)  # requests at warmup, warmup + 1 s, ..., before the horizon
    return Measurement(expected, c["requests"],
                       f"{p['engine']} engine; {c['guest_hits']} guest hits; requests at "
                       f"t >= warmup + duration must not be served")


def checks() -> list[Check]:
    """Both engines, in the quick set."""
    return [Check(FAMILY, f"horizon-{engine}", "verify/irm.yaml", measure, 0.0, quick=True,
                  params=dict(engine=engine, alpha=1.2, pages=3000, warmup=2000,
                              duration=10000))
            for engine in ("batched", "unbatched")]
