"""sharing: disk reads of a base image read by clones: D, N×D or D by clone kind and policy.

The expectation is arithmetic on the scenario's text: distinct pages read, number of clones."""

from __future__ import annotations

from .checks import Check, Measurement
from .harness import run

FAMILY = "sharing"
# (point, clone kind, policy, whether every clone reads its own copy from disk)
POINTS = [("cow-host-cache", "cow", "host-cache", False),
          ("copy-host-cache", "copy", "host-cache", True),
          ("copy-dedup", "copy", "dedup", False),
          ("cow-dedup", "cow", "dedup", False),
          ("cow-none", "cow", "none", True),
          ("cow-tmem", "cow", "tmem", True)]


def measure(check: Check, quick: bool) -> Measurement:
    """The disks' reads against D or N×D, D the distinct pages of the scripted workload."""
    p = check.settings(quick)
    s = check.load([f"guests.0.disk.clone={p['clone']}", f"policies=[{p['policy']}]"])
    # the arithmetic, from the scenario text: distinct pages read, number of clones
    steps = [str(step).split() for step in s.guests[0].workload.steps]
    distinct = len({int(page) for op, page in steps if op == "r"})
    clones = s.guests[0].count
    expected = distinct * (clones if p["copies"] else 1)
    out = run(s)
    at_disk = sum(d["reads"] for d in out.disks.values())
    guest = sum(c["disk_reads"] for c in out.counters)
    note = (f"{clones} {p['clone']} clones x {distinct} distinct pages under {p['policy']}; "
            f"guests counted {guest} disk reads")
    return Measurement(expected, at_disk, note)


def checks() -> list[Check]:
    """Every point of POINTS, all in the quick set."""
    return [Check(FAMILY, point, "verify/sharing.yaml", measure, 0.0, quick=True,
                  params=dict(clone=clone, policy=policy, copies=copies))
            for point, clone, policy, copies in POINTS]
