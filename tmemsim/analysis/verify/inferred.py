"""inferred: the host-exclusive cache (eviction inference) against private tmem and DEMOTE.

On `verify/exclusive.yaml` (one guest, an LRU page cache of C1 pages, a pool of exactly C2):
- `equal-tmem`: with every eviction inferred at no cost, guest and host hits equal private
  tmem's, and their sum equals one LRU of C1 + C2 (Wong & Wilkes' DEMOTE), exactly;
- `latency`: the run's length differs from tmem's by exactly what the cost model says of the
  paths that differ (virtio against hypercall on every host hit, the hypercall before every
  disk read, an inference trap against a put on every eviction), at the default trap cost;
- `accuracy-*`: with a fraction a of evictions inferred, host hits against their expectation.
  The guest's LRU cache does not depend on the host, and the host holds the latest C2 inferred
  evictions not read since: a read at LRU stack distance d >= C1 hits the host when its own
  eviction was inferred (a) and fewer than C2 of the d - C1 pages evicted after it were
  (binomial). So E[host hits] = a x sum over reads of P(Bin(d - C1, a) < C2).
"""

from __future__ import annotations

from scipy.stats import binom

from tmemsim.policies.host_exclusive import INFERENCE_COST
from tmemsim.units import PAGE_SIZE

from ..curves.ranks import lru_distances
from .checks import Check, Measurement
from .harness import replay_misses, requested_pages, run

FAMILY = "inferred"
ACCURACIES = (1.0, 0.9, 0.8, 0.6, 0.4, 0.2)


def _load(check: Check, quick: bool, policy: str):
    p = check.settings(quick)
    c1, c2 = p["guest_pages"], p["pool_pages"]
    return check.load([f"guests.0.memory={c1 * PAGE_SIZE}",
                       f"host.memory={(c1 + c2) * PAGE_SIZE}", f"requests={p['requests']}",
                       f"policies=[{policy}]"])


def _hx(accuracy: float, cost: str) -> str:
    return f"{{kind: host-exclusive, inference: {{accuracy: {accuracy}, cost: {cost}}}}}"


def measure_equal(check: Check, quick: bool) -> Measurement:
    """host-exclusive (a = 1, no trap cost) against private tmem and LRU(C1 + C2)."""
    p = check.settings(quick)
    c1, c2 = p["guest_pages"], p["pool_pages"]
    s = _load(check, quick, _hx(1.0, "0s"))
    hx = run(s).counters[0]
    tm = run(_load(check, quick, "{kind: tmem, keep_free: 0}")).counters[0]
    sequence = requested_pages(s, hx["reads"])
    expected = len(sequence) - replay_misses("lru", c1 + c2, sequence)
    same = (hx["guest_hits"], hx["host_hits"]) == (tm["guest_hits"], tm["host_hits"])
    simulated = hx["guest_hits"] + hx["host_hits"]
    note = (f"C1={c1} + C2={c2}: host-exclusive {hx['guest_hits']} guest + {hx['host_hits']} "
            f"host hits; tmem {tm['guest_hits']} + {tm['host_hits']}; LRU({c1 + c2}) "
            f"{expected}")
    return Measurement(expected, simulated, note, passed=same and simulated == expected)


def measure_latency(check: Check, quick: bool) -> Measurement:
    """The run's length under host-exclusive (default trap) minus tmem's, against the paths'
    cost differences (model/costs.py) summed over what each run counted."""
    s = _load(check, quick, "host-exclusive")
    hx_out = run(s)
    tm_out = run(_load(check, quick, "{kind: tmem, keep_free: 0}"))
    hx, tm = hx_out.counters[0], tm_out.counters[0]
    hxp, tmp = hx_out.policy_counters[0], tm_out.policy_counters[0]
    c, trap = s.host.costs, INFERENCE_COST
    evictions = hxp["inferred_entries"] + hxp["inferences_missed"]
    puts_taken = tmp["tmem_puts"] - tmp["tmem_puts_rejected"]
    expected = (hx["host_hits"] * (c.virtio + c.page_copy)
                - tm["host_hits"] * (c.hypercall + c.page_copy)
                - tm["disk_reads"] * c.hypercall  # a get that missed, before the disk
                + evictions * trap + hxp["inferred_entries"] * c.page_copy
                - puts_taken * (c.hypercall + c.page_copy)
                - tmp["tmem_puts_rejected"] * c.hypercall)
    simulated = hx_out.measured - tm_out.measured
    note = (f"{hx['host_hits']} host hits, {hx['disk_reads']} disk reads, {evictions} "
            f"inferences ({trap * 1e6:g} µs) vs {tmp['tmem_puts']} puts: "
            f"{simulated:.6f} s longer")
    return Measurement(expected, simulated, note)


def measure_accuracy(check: Check, quick: bool) -> Measurement:
    """Host hits at accuracy a against a x sum P(Bin(d - C1, a) < C2) over the reads."""
    p = check.settings(quick)
    c1, c2, a = p["guest_pages"], p["pool_pages"], p["accuracy"]
    s = _load(check, quick, _hx(a, "0s"))
    out = run(s)
    hx, hxp = out.counters[0], out.policy_counters[0]
    d = lru_distances(requested_pages(s, hx["reads"]))
    beyond = d[d >= c1] - c1  # pages evicted after this one, before it is read again
    expected = a * float(binom.cdf(c2 - 1, beyond, a).sum())
    note = (f"a={a}: {hxp['inferred_entries']} inferred, {hxp['inferences_missed']} missed; "
            f"{hx['host_hits']} host hits of {hx['reads']} reads")
    return Measurement(expected, hx["host_hits"], note)


def checks() -> list[Check]:
    """The equality and the latency (quick, shorter), and the accuracy curve (0.9 quick)."""
    size = dict(guest_pages=2000, pool_pages=6000, requests=300_000)
    quick = dict(requests=100_000)
    out = [Check(FAMILY, "equal-tmem", "verify/exclusive.yaml", measure_equal, 0.0, quick=True,
                 params=size, quick_params=quick),
           Check(FAMILY, "latency", "verify/exclusive.yaml", measure_latency, 1e-9,
                 quick=True, relative=True, params=size, quick_params=quick)]
    out += [Check(FAMILY, f"accuracy-{a:g}", "verify/exclusive.yaml", measure_accuracy, 0.01,
                  quick=a == 0.9, relative=True, params={**size, "accuracy": a},
                  quick_params=quick)
            for a in ACCURACIES]
    return out
