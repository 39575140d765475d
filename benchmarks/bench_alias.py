"""The Zipf alias table's cost: seconds and peak memory to build it for n pages.

Each measurement runs in a fresh process (so one build's freed memory cannot hide the next
one's peak): it builds the Zipf weights, then `alias_table` on them, and reports the build's
wall time, its CPU time (less moved by other processes) and how much the build raised the
process's peak RSS over what it had with the weights built (tracemalloc is left off: it slows
Python objects, not numpy arrays, and so would flatter an array construction against a list
one). Prints one JSON line; with --repeat, the least time and the largest memory.
Usage: python benchmarks/bench_alias.py [--pages 10000000] [--alpha 0.9] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

_CHILD = """
import resource, time
import numpy as np
from tmemsim.workloads.synthetic import alias_table
p = np.arange(1, {pages} + 1, dtype=float) ** -{alpha}
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0, c0 = time.perf_counter(), time.process_time()
prob, alias = alias_table(p)
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0
print(seconds, cpu, rss * 1024)
"""


def measure(pages: int, alpha: float) -> tuple[float, float, int]:
    out = subprocess.run([sys.executable, "-c", _CHILD.format(pages=pages, alpha=alpha)],
                         capture_output=True, text=True, check=True)
    seconds, cpu, rss = out.stdout.split()
    return float(seconds), float(cpu), int(rss)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=10_000_000)
    ap.add_argument("--alpha", type=float, default=0.9)
    ap.add_argument("--repeat", type=int, default=3, help="fresh processes; the fastest counts")
    args = ap.parse_args()
    runs = [measure(args.pages, args.alpha) for _ in range(args.repeat)]
    print(json.dumps({
        "pages": args.pages, "alpha": args.alpha,
        "seconds": round(min(r[0] for r in runs), 3),
        "cpu_seconds": round(min(r[1] for r in runs), 3),
        "peak_rss_growth_mib": round(max(r[2] for r in runs) / 2**20, 1),
    }))


if __name__ == "__main__":
    main()
