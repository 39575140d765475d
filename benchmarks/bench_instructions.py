"""Instructions per request under cachegrind, the steady figure on a shared machine: JSON lines.

On a shared machine a run's CPU time moves by up to half between runs of the same code, so the
ratios bench_hosts.py reports move with it. Instruction counts do not, once hash randomisation
and OpenBLAS's idle threads are pinned (PYTHONHASHSEED=0, OPENBLAS_NUM_THREADS=1; without
them a count moves by some 30 million between identical runs). Each configuration of
bench_hosts.py's workload runs in a fresh process under `valgrind --tool=cachegrind
--cache-sim=no`, once with --requests and once with twice as many requests per guest; the
difference over the extra requests cancels the imports and the world's set-up. One line per
(guests, policy):

- instructions_per_request, instructions_per_miss (guest page-cache misses), miss_ratio: over
  the extra requests only;
- ratio_to_fewest: instructions_per_request over the same policy's figure at the fewest
  guests measured (bench_hosts.py's "flatter growth", in instructions);
- ratio_to_none: over none's at the same guest count, if none was measured.

It does not count what instructions cannot see: the CPU's caches (README, "Speed").
Needs valgrind. Usage: python benchmarks/bench_instructions.py [--guests 1,16]
[--policies none,tmem] [--requests 2500] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
PINNED = {"PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def child(guests: int, policy: str, requests: int) -> None:
    """The measured process: one bench_hosts run; prints its requests and misses."""
    sys.path.insert(0, str(HERE))
    import bench_hosts

    import tmemsim
    from tmemsim.api import select_policies
    from tmemsim.model import World

    s = tmemsim.load_scenario(bench_hosts.scenario(guests, policy, requests, "250ms"))
    out = World(s, select_policies(s)[0]).run()
    total = sum(c["requests"] for c in out.counters)
    print(json.dumps({"requests": total,
                      "misses": total - sum(c["guest_hits"] for c in out.counters)}))


def counted(guests: int, policy: str, requests: int) -> tuple[int, dict]:
    """(instructions, the child's counts) of one run under cachegrind."""
    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
           sys.executable, str(Path(__file__).resolve()),
           "--child", f"{guests}:{policy}:{requests}"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True,
                          env={**os.environ, **PINNED})
    refs = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if refs is None:
        raise SystemExit(f"no instruction count in valgrind's output:\n{done.stderr[-2000:]}")
    return int(refs[1].replace(",", "")), json.loads(done.stdout.strip().splitlines()[-1])


def measure(guests: int, policy: str, requests: int) -> dict:
    (short, a), (long, b) = (counted(guests, policy, n) for n in (requests, 2 * requests))
    extra, misses = b["requests"] - a["requests"], b["misses"] - a["misses"]
    return {"guests": guests, "policy": policy,
            "instructions_per_request": round((long - short) / extra),
            "instructions_per_miss": round((long - short) / misses),
            "miss_ratio": round(misses / extra, 4), "requests_per_guest": [requests, 2 * requests]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--guests", default="1,16")
    ap.add_argument("--policies", default="none,tmem")
    ap.add_argument("--requests", type=int, default=2500, help="the shorter run's, per guest")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        guests, policy, requests = args.child.split(":")
        child(int(guests), policy, int(requests))
        return
    configs = [(int(g), p) for g in args.guests.split(",") for p in args.policies.split(",")]
    # the counts are the same whatever runs alongside: only time is shared
    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(lambda c: measure(*c, args.requests), configs))
    fewest = min(g for g, _ in configs)
    base = {r["policy"]: r["instructions_per_request"] for r in rows if r["guests"] == fewest}
    none = {r["guests"]: r["instructions_per_request"] for r in rows if r["policy"] == "none"}
    for r in rows:
        r["ratio_to_fewest"] = round(r["instructions_per_request"] / base[r["policy"]], 3)
        if r["guests"] in none:
            r["ratio_to_none"] = round(r["instructions_per_request"] / none[r["guests"]], 3)
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
