"""Streaming a long text trace: peak memory and time of reading it, and of simulating it.

The trace: MSR Cambridge CSV lines (the format real block traces come in), --lines of them
(10M by default, about 0.5 GB of text), 4 KiB reads and writes (one page each, so a line is
one request) over 1,000,000 pages, Zipf(0.8), written to a temporary file and removed after.
Each measurement runs in a fresh process, so its peak RSS is its own:

- `read`: `tmemsim.workloads.traces.read_trace` streams every line;
- `simulate`: one guest replays the whole trace under `none` (a 256 MiB page cache, closed
  loop), through `tmemsim.simulate`, as `tmemsim run` would.

A streaming reader keeps both flat in the trace's length; the README's "Speed" records them.
Prints one JSON line per measurement: what, lines, seconds, cpu_seconds, peak_rss_mib.
Usage: python benchmarks/bench_trace_stream.py [--lines 10000000] [--skip-simulate]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

PAGES = 1_000_000
T0 = 128166372000000000  # an MSR time stamp (Windows filetime, 100 ns units)

_READ = """
from tmemsim.workloads.traces import read_trace
stats = {{}}
pages = sum(len(c) for c in read_trace({path!r}, "msr", stats=stats))
assert stats["records"] == {lines} and pages == {lines}, (stats, pages)
"""

_SIMULATE = """
import tmemsim
s = tmemsim.load_scenario({scenario!r})
r = tmemsim.simulate(s, policy="none")
assert int(r.summary.query("guest == 'ALL'")["requests"].iloc[0]) == {lines}
"""

_MEASURED = """
import resource, time
t0, c0 = time.perf_counter(), time.process_time()
{body}
print(time.perf_counter() - t0, time.process_time() - c0,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

_SCENARIO = """\
name: trace-stream
seed: 1
requests: {lines}
host: {{memory: 512MiB, reserved: 128MiB}}
disks: {{ssd0: {{kind: ssd}}}}
policies: [none]
sample_interval: 1000s
guests:
  - name: replay
    memory: 384MiB
    reserved: 128MiB
    disk: {{size: 8GiB}}
    workload: {{kind: trace, format: msr, path: {path}, timing: closed}}
"""


def write_trace(path: Path, lines: int, seed: int = 5, step: int = 500_000) -> None:
    rng = np.random.default_rng(seed)
    p = np.arange(1, PAGES + 1, dtype=float) ** -0.8
    cdf = np.cumsum(p / p.sum())
    with open(path, "w") as f:
        for start in range(0, lines, step):  # in blocks: the writer's memory stays bounded
            n = min(step, lines - start)
            pages = np.minimum(np.searchsorted(cdf, rng.random(n)), PAGES - 1)
            ops = np.where(rng.random(n) < 0.9, "Read", "Write")
            ts = T0 + np.arange(start, start + n) * 100
            f.write("".join(f"{t},hm,0,{o},{pg * 4096},4096,9\n"
                            for t, o, pg in zip(ts.tolist(), ops.tolist(), pages.tolist(),
                                                strict=True)))


def measure(body: str) -> tuple[float, float, float]:
    script = _MEASURED.format(body=textwrap.dedent(body))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"the measured process failed:\n{out.stderr}")
    seconds, cpu, rss_kib = out.stdout.split()[-3:]
    return float(seconds), float(cpu), int(rss_kib) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=10_000_000)
    ap.add_argument("--skip-simulate", action="store_true", help="measure the reader only")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.csv"
        write_trace(path, args.lines)
        scenario = Path(tmp) / "stream.yaml"
        scenario.write_text(_SCENARIO.format(path=path, lines=args.lines))
        runs = [("read", _READ.format(path=str(path), lines=args.lines))]
        if not args.skip_simulate:
            runs.append(("simulate", _SIMULATE.format(scenario=str(scenario), lines=args.lines)))
        for what, body in runs:
            seconds, cpu, rss = measure(body)
            print(json.dumps({"what": what, "lines": args.lines,
                              "trace_mib": round(path.stat().st_size / 2**20),
                              "seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1),
                              "peak_rss_mib": round(rss)}), flush=True)


if __name__ == "__main__":
    main()
