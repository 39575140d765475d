"""rmw: sub-page writes to cold pages read each page exactly once (read-modify-write), whole-page
writes never, under every policy.

The clones of `verify/sharing.yaml` replay a trace written here: in turn, a write of part of
each of P cold pages (twice over: the second finds it cached), whole-page writes to other cold
pages, and requests spanning pages, whose inner pages are written whole and whose edge pages in
part. Expected: P + 2 x spans reads per guest, every one a rmw_read.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tmemsim.workloads.traces import WRITE, write_msr

from .checks import Check, Measurement
from .harness import run

FAMILY = "rmw"
POLICIES = ("none", "host-cache", "tmem", "dedup")


def _rows(cold: int, spans: int) -> list[tuple]:
    """The trace: sub-page writes to `cold` pages (twice), whole-page writes to as many other
    cold pages, then `spans` writes of three pages starting mid-page."""
    rows = [(0.0, WRITE, 4096 * page + 512 * (page % 7), 100 + page % 3000, 0)
            for page in range(cold)] * 2
    rows += [(0.0, WRITE, 4096 * (cold + page), 4096, 0) for page in range(cold)]
    first = 2 * cold
    rows += [(0.0, WRITE, 4096 * (first + 4 * i) + 2048, 3 * 4096, 0) for i in range(spans)]
    return rows


def measure(check: Check, quick: bool) -> Measurement:
    """Every guest's reads and rmw_reads against P + 2 x spans, and no guest hit."""
    p = check.settings(quick)
    cold, spans = p["pages"], p["spans"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "subpage.csv"
        write_msr(path, _rows(cold, spans))
        s = check.load([f"policies=[{p['policy']}]",
                        f"guests.0.workload={{kind: trace, format: msr, path: '{path}', "
                        f"timing: closed}}"])
        out = run(s)
    expected = cold + 2 * spans
    wrong = [f"{name}: {c['reads']} reads, {c['rmw_reads']} rmw_reads"
             for name, c in zip(out.guest_names, out.counters, strict=True)
             if c["reads"] != expected or c["rmw_reads"] != expected or c["guest_hits"]]
    c = out.counters[0]
    note = "; ".join(wrong) if wrong else (
        f"{len(out.counters)} clones x {cold} sub-page-written pages + {spans} spans of 2 "
        f"partial pages: {c['rmw_reads']} reads each ({c['host_hits']} host, "
        f"{c['disk_reads']} disk)")
    return Measurement(expected, c["rmw_reads"], note, passed=not wrong)


def checks() -> list[Check]:
    """One check per policy, all in the quick set."""
    return [Check(FAMILY, f"subpage-{policy}", "verify/sharing.yaml", measure, 0.0, quick=True,
                  params=dict(policy=policy, pages=300, spans=40))
            for policy in POLICIES]
