"""Writes small-msr.csv.gz: a synthetic MSR Cambridge block trace that scenarios can replay.

Two volumes of one host: a web server (volume 0) and a database (volume 1), Poisson arrivals.
"""

# Run with the project installed: python scenarios/traces/make_small_trace.py [--lines N]
# [--out FILE] [--seed S]. The default output is byte-for-byte reproducible (fixed seed, gzip
# header without a timestamp); --lines 1000000 --out big-msr.csv makes a benchmark trace.

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from tmemsim.workloads.traces import READ, WRITE, write_msr

PAGE = 4096
MiB = 1 << 20
RATE = 400.0  # requests per second over both volumes


def web_rows(rng, times):
    """Volume 0: reads of popular small files (Zipf over 64 MiB), 1 in 5 a log append."""
    n = len(times)
    files = 64 * MiB // (16 * 1024)
    popular = (rng.zipf(1.2, n) - 1) % files
    size = rng.choice([4096, 8192, 16384], n, p=[0.5, 0.3, 0.2])
    write = rng.random(n) < 0.2
    log = 256 * MiB + np.cumsum(write) * PAGE  # appends go one after another
    offset = np.where(write, log, popular * 16 * 1024)
    size = np.where(write, PAGE, size)
    return [(t, WRITE if w else READ, o, s, 0)
            for t, w, o, s in zip(times, write.tolist(), offset.tolist(), size.tolist(),
                                  strict=True)]


def db_rows(rng, times):
    """Volume 1: 8 KiB requests, 95% on a 16 MiB hot table in 512 MiB; 1 in 500 a 256 KiB scan."""
    n = len(times)
    blocks = 512 * MiB // 8192
    hot_blocks = 16 * MiB // 8192
    hot = rng.random(n) < 0.95
    block = np.where(hot, rng.integers(0, hot_blocks, n) * 16 + 7, rng.integers(0, blocks, n))
    block %= blocks
    write = rng.random(n) < 0.3
    scan = rng.random(n) < 0.002
    offset = np.where(scan, rng.integers(0, 2048, n) * 256 * 1024, block * 8192)
    size = np.where(scan, 256 * 1024, 8192)
    write &= ~scan
    return [(t, WRITE if w else READ, o, s, 1)
            for t, w, o, s in zip(times, write.tolist(), offset.tolist(), size.tolist(),
                                  strict=True)]


def make_trace(path, lines: int, seed: int = 2007) -> None:
    rng = np.random.default_rng(seed)
    times = np.cumsum(rng.exponential(1.0 / RATE, lines))
    volume = rng.random(lines) < 0.5
    # microsecond timestamps: exact in MSR's 100 ns ticks
    times = np.round(times, 6)
    rows = web_rows(rng, times[~volume].tolist()) + db_rows(rng, times[volume].tolist())
    rows.sort(key=lambda row: row[0])
    path = Path(path)
    if path.suffix != ".gz":
        write_msr(path, rows)
        return
    with tempfile.TemporaryDirectory() as tmp:
        plain = os.path.join(tmp, "trace.csv")
        write_msr(plain, rows)
        # mtime=0 and no file name in the header: the same trace gives the same bytes
        with open(plain, "rb") as src, open(path, "wb") as raw, \
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as dst:
            shutil.copyfileobj(src, dst)


def main() -> None:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--out", default=str(here / "small-msr.csv.gz"))
    parser.add_argument("--seed", type=int, default=2007)
    args = parser.parse_args()
    make_trace(args.out, args.lines, args.seed)
    print(f"{args.out}: {args.lines} lines, {os.path.getsize(args.out) / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
