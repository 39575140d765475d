"""queue: a `custom` disk under Poisson arrivals: mean response vs M/M/1 and M/D/1
(Pollaczek-Khinchine), mean wait vs M/M/c (Erlang C), within 3% (relative); Little's law,
lambda W from the disk's counters vs a time average sampled from the recorded timings.

The expectations use no simulated number but the measured arrival rate."""

from __future__ import annotations

import math

import numpy as np

from tmemsim.api import select_policies
from tmemsim.model import World

from ..theory import md1_response, mm1_response, mmc_response, mmc_wait
from .checks import Check, Measurement
from .harness import run

FAMILY = "queue"

# Run lengths: the relative standard error of a mean response over a run of T seconds is
# about sqrt(2 rho (1 + rho) / (1 - rho)^4 / (mu T)) / L, L = rho / (1 - rho) (Whitt,
# "Planning queueing simulations", Management Science 35(11), 1989, for M/M/1); for the
# M/M/4 waits it was measured over 16 seeds (1.65% at 280,000 arrivals, rho = 0.7). Each
# run is long enough for the 3% tolerance to be three standard errors or more.
# (point, params, duration in the quick set; None: not in the quick set)
POINTS = [
    ("mm1-rho0.3", dict(model="mm1", rho=0.3, duration=1000), 300),
    ("mm1-rho0.6", dict(model="mm1", rho=0.6, duration=1000), 600),
    ("mm1-rho0.9", dict(model="mm1", rho=0.9, duration=4500), None),
    ("md1-rho0.5", dict(model="md1", rho=0.5, service="constant", duration=600), 300),
    ("md1-rho0.9", dict(model="md1", rho=0.9, service="constant", duration=3000), None),
    ("mmc4-rho0.5", dict(model="mmc", rho=0.5, channels=4, duration=2500), None),
    ("mmc4-rho0.7", dict(model="mmc", rho=0.7, channels=4, duration=2000), 2000),
    ("mmc4-rho0.8", dict(model="mmc", rho=0.8, channels=4, duration=3000), None),
]
LITTLE_INSTANTS = 100_000


def _scenario(check: Check, p: dict):
    """The queue scenario at utilisation rho: exponential (or constant) service on c channels,
    the total service rate kept at that of one channel of the scenario's mean."""
    base = check.load()
    mean = base.disks["d0"].read.mean
    c = p.get("channels", 1)
    # c channels of mean c x mean serve 1/mean requests per second in all, as one channel does
    overrides = [f"guests.0.workload.arrival.rate={p['rho'] / mean}",
                 f"duration={p['duration']}", f"disks.d0.channels={c}",
                 f"disks.d0.read.mean={mean * c}"]
    if p.get("service") == "constant":
        overrides.append("disks.d0.read.kind=constant")
    if "seed" in p:
        overrides.append(f"seed={p['seed']}")
    return check.load(overrides), mean * c, c


def measure(check: Check, quick: bool) -> Measurement:
    """The disk's mean response (or wait) against the queueing formula of its model."""
    p = check.settings(quick)
    s, service, c = _scenario(check, p)
    out = run(s)
    d = out.disks["d0"]
    n = d["requests"]
    lam = n / out.measured  # the arrival rate the disk saw
    mu = 1.0 / service
    note = f"{n} disk requests, measured rho={lam * service / c:.4f}"
    if p["model"] == "mm1":
        expected, simulated = mm1_response(lam, mu), d["response"] / n
        note += "; mean response vs 1/(mu - lambda)"
    elif p["model"] == "md1":
        expected, simulated = md1_response(lam, service), d["response"] / n
        note += "; mean response vs Pollaczek-Khinchine M/D/1"
    else:
        expected, simulated = mmc_wait(lam, mu, c), d["waiting"] / n
        note += (f"; mean wait vs Erlang C (c={c}); mean response {d['response'] / n:.6g} vs "
                 f"{mmc_response(lam, mu, c):.6g}")
    return Measurement(expected, simulated, note)


def little(check: Check, quick: bool) -> Measurement:
    """Little's law L = lambda W, with L measured apart from the disk's counters.

    The disk's counters give lambda = requests / measured time and W = response / requests.
    L is measured otherwise: every request's arrival and completion time, as the disk handed
    them back to the guest, is recorded; the number in the disk system is counted at 100,000
    instants evenly spread over the measured window and averaged. The two agree when the
    counters the results report are those of the timing the model actually used.
    """
    p = check.settings(quick)
    s, _service, _c = _scenario(check, p)
    world = World(s, select_policies(s)[0])
    disk = world.disks["d0"]
    arrivals: list[float] = []
    departures: list[float] = []
    submit = disk.submit

    def recording(t, block, is_write):
        done = submit(t, block, is_write)
        arrivals.append(t)
        departures.append(done)
        return done

    disk.submit = recording
    out = world.run()
    d = out.disks["d0"]
    if len(arrivals) < d["requests"]:
        return Measurement(math.nan, math.nan, "the disk was called without its submit(): "
                           "the instrumentation saw fewer requests than the disk counted",
                           passed=False)
    start, end = s.warmup, s.warmup + out.measured
    instants = start + (np.arange(LITTLE_INSTANTS) + 0.5) * (end - start) / LITTLE_INSTANTS
    a = np.sort(np.asarray(arrivals))
    e = np.sort(np.asarray(departures))
    in_system = np.searchsorted(a, instants, "right") - np.searchsorted(e, instants, "right")
    lam = d["requests"] / out.measured
    w = d["response"] / d["requests"]
    return Measurement(lam * w, float(in_system.mean()),
                       f"lambda={lam:.2f}/s x W={w * 1e3:.4f} ms (disk counters) vs time "
                       f"average of requests in the disk at 100,000 instants")


def checks() -> list[Check]:
    """The points of POINTS, then Little's law at rho 0.8."""
    out = [Check(FAMILY, point, "verify/queue.yaml", measure, 0.03,
                 quick=quick_duration is not None, relative=True, params=params,
                 quick_params={"duration": quick_duration} if quick_duration else {})
           for point, params, quick_duration in POINTS]
    out.append(Check(FAMILY, "little-rho0.8", "verify/queue.yaml", little, 0.01,
                     quick=True, relative=True,
                     params=dict(model="mm1", rho=0.8, duration=500),
                     quick_params=dict(duration=200)))
    return out
