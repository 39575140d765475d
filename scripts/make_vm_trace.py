"""Writes scenarios/traces/vm-clone.vscsi.gz: a synthetic vscsi trace shaped like a real VM's.

The CloudPhysics VM traces (VMware vscsi) cannot be shipped; this one looks like them in the
ways that matter to a page cache: requests start at 512 B sectors, almost never on a 4 KiB
boundary; most are under a page or span several pages; about 40% are reads; sizes have a long
tail of large requests (up to 1 MiB); timestamps are whole seconds (many records share one).
Popularity is Zipf over extents of a 1 GiB virtual disk, so pages are read and written again.

Usage: python scripts/make_vm_trace.py [--records N] [--out FILE] [--seed S]. The default
output is byte-for-byte reproducible (fixed seed, gzip header without a timestamp).
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import numpy as np

from tmemsim.workloads.traces import READ, WRITE, write_vscsi

SECTOR = 512
DISK_SECTORS = (1 << 30) // SECTOR  # a 1 GiB virtual disk
EXTENTS = 40_000  # places requests start at, popular by Zipf rank
RATE = 40  # records per second, on average
START_S = 5_633_898  # the first record's second (any origin: replays start at 0)


def sizes(rng, n: int) -> np.ndarray:
    """Bytes per request, whole sectors: 35% under a page, 45% of 4.5-32 KiB, 20% a Pareto
    tail from 32 KiB capped at 1 MiB."""
    kind = rng.choice(3, n, p=[0.35, 0.45, 0.20])
    small = rng.integers(1, 8, n) * SECTOR
    medium = rng.integers(9, 65, n) * SECTOR
    tail = np.minimum(32768 * (1 + rng.pareto(1.2, n)), 1 << 20) // SECTOR * SECTOR
    return np.choose(kind, [small, medium, tail.astype(np.int64)])


def rows(records: int, seed: int) -> list[tuple]:
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, DISK_SECTORS - (1 << 20) // SECTOR, EXTENTS)  # sectors
    extent = starts[(rng.zipf(1.1, records) - 1) % EXTENTS]
    size = sizes(rng, records)
    write = rng.random(records) >= 0.4
    seconds = START_S + np.sort(rng.integers(0, records // RATE, records))
    return [(float(t), WRITE if w else READ, int(lbn) * SECTOR, int(s), 0)
            for t, w, lbn, s in zip(seconds, write, extent, size, strict=True)]


def make_trace(path, records: int, seed: int) -> None:
    path = Path(path)
    plain = path.with_suffix("") if path.suffix == ".gz" else path
    write_vscsi(plain, rows(records, seed), version=1)
    if plain != path:
        # mtime=0 and no file name in the header: the same trace gives the same bytes
        data = plain.read_bytes()
        plain.unlink()
        with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                                    mtime=0) as dst:
            dst.write(data)


def main() -> None:
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=12_000)
    parser.add_argument("--out", default=str(root / "scenarios" / "traces" / "vm-clone.vscsi.gz"))
    parser.add_argument("--seed", type=int, default=2013)
    args = parser.parse_args()
    make_trace(args.out, args.records, args.seed)
    print(f"{args.out}: {args.records} records, {Path(args.out).stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
