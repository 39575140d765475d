"""What a scenario costs to simulate, in memory."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _peak_rss(data: dict) -> int:
    script = textwrap.dedent(f"""
        import resource
        import tmemsim
        tmemsim.compare({data!r}, jobs=1)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return int(out.stdout.split()[-1]) * 1024


# many guests, several threads, writes, a swap area, a full pool
BUSY = {
    "seed": 3, "duration": "2s", "requests": 10000, "sample_interval": "100ms",
    "host": {"memory": "600MiB", "reserved": "64MiB"},
    "disks": {"d": {"kind": "nvme"}},
    "images": {"base": {"size": "256MiB", "zero_fraction": 0.1, "internal_dup": 0.1}},
    "policies": ["tmem", "dedup"],  # the largest pool entries
    "guests": [{"name": "g", "count": 6, "memory": "24MiB", "reserved": "4MiB",
                "disk": {"image": "base", "clone": "copy"},
                "workload": {"kind": "zipf", "alpha": 0.6, "footprint": 20000, "threads": 2,
                             "read_fraction": 0.7,
                             "think_time": {"kind": "exponential", "mean": "20us"},
                             "anon": {"size": 8000, "fraction": 0.2}}}],
}


def test_a_comparison_holds_one_world_at_a_time():
    # each policy's world is freed before the next is built: a second policy costs what its
    # results take, not a second world (a world here: 32 request streams, about 230 MiB)
    guests = [{**BUSY["guests"][0], "count": 8,
               "workload": {**BUSY["guests"][0]["workload"], "threads": 4}}]
    short = {**BUSY, "requests": 100, "guests": guests}
    one = _peak_rss({**short, "policies": ["none"]})
    two = _peak_rss({**short, "policies": ["none", "host-cache"]})
    assert two - one < 80 << 20, (f"{one >> 20} MiB for one policy, "
                                  f"{two >> 20} MiB for two")
