"""compression: a compressed tmem pool against uncompressed pools of the size it must equal.

Every page compressing to exactly half: zbud (and zsmalloc, whose 2,048-byte class packs two
objects in a one-page zspage) holds two per pool page, so guest + tmem hits equal those of an
uncompressed pool twice the size, exactly. Incompressible pages, none rejected: the hits equal
those of the uncompressed pool of the same size and the reads' summed latency grows by exactly
puts x compression time + get hits x decompression time (the cost model's, model/costs.py and
compression.py); with zcache's default threshold every put is rejected instead.
"""

from __future__ import annotations

from tmemsim.compression import Compress
from tmemsim.units import PAGE_SIZE

from .checks import Check, Measurement
from .harness import run

FAMILY = "compression"
SCENARIO = "verify/compression.yaml"
UNCOMPRESSED = "policies=[{kind: tmem, keep_free: 0}]"


def _compressed(allocator: str, ratio: float, extra: str = "") -> str:
    return (f"policies=[{{kind: tmem, keep_free: 0, compress: {{allocator: {allocator}, "
            f"data: {{ratio: {ratio}, spread: 0}}{extra}}}}}]")


def _run(check: Check, c1: int, pool: int, requests: int, policy: str):
    s = check.load([f"guests.0.memory={c1 * PAGE_SIZE}", f"host.memory={(c1 + pool) * PAGE_SIZE}",
                    f"requests={requests}", policy])
    return run(s)


def _hits(out) -> int:
    c = out.counters[0]
    return c["guest_hits"] + c["host_hits"]


def measure_half(check: Check, quick: bool) -> Measurement:
    """Hits with a pool of C2 pool pages of half-size pages vs an uncompressed pool of 2 x C2."""
    p = check.settings(quick)
    c1, c2, n = p["guest_pages"], p["pool_pages"], p["requests"]
    plain = _run(check, c1, 2 * c2, n, UNCOMPRESSED)
    packed = _run(check, c1, c2, n, _compressed(p["allocator"], 0.5))
    note = (f"{p['allocator']}: C1={c1}, {c2} pool pages hold {packed.stored_pages} pages; "
            f"{packed.counters[0]['host_hits']} tmem hits vs {plain.counters[0]['host_hits']} "
            f"with an uncompressed pool of {2 * c2}")
    return Measurement(_hits(plain), _hits(packed), note)


def measure_incompressible(check: Check, quick: bool) -> Measurement:
    """Incompressible pages, all accepted: the same hits as uncompressed, and the reads' total
    latency larger by exactly the compression and decompression times."""
    p = check.settings(quick)
    c1, c2, n = p["guest_pages"], p["pool_pages"], p["requests"]
    plain = _run(check, c1, c2, n, UNCOMPRESSED)
    packed = _run(check, c1, c2, n, _compressed("zbud", 1.0, ", max_compressed: 1.0"))
    compress_s, decompress_s = Compress().seconds()  # lzo, the default compressor
    pc = packed.policy_counters[0]
    extra = pc["tmem_puts"] * compress_s + packed.counters[0]["host_hits"] * decompress_s
    expected = plain.merged_histogram().total + extra
    simulated = packed.merged_histogram().total
    same_hits = _hits(plain) == _hits(packed) and pc["compress_rejected"] == 0
    note = (f"hits {_hits(packed)} vs {_hits(plain)} uncompressed; {pc['tmem_puts']} puts x "
            f"{compress_s * 1e6:.3f} us + {packed.counters[0]['host_hits']} gets x "
            f"{decompress_s * 1e6:.3f} us = {extra:.6f} s more read latency")
    passed = same_hits and abs(simulated - expected) <= check.tolerance * expected
    return Measurement(expected, simulated, note, passed=passed)


def measure_rejected(check: Check, quick: bool) -> Measurement:
    """Incompressible pages at zcache's threshold: every put rejected, no tmem hit."""
    p = check.settings(quick)
    packed = _run(check, p["guest_pages"], p["pool_pages"], p["requests"],
                  _compressed("zbud", 1.0))
    pc = packed.policy_counters[0]
    note = (f"{pc['compress_rejected']} of {pc['tmem_puts']} puts rejected; "
            f"{packed.stored_pages} pages stored")
    passed = pc["compress_rejected"] == pc["tmem_puts"] > 0 and packed.stored_pages == 0
    return Measurement(0, packed.counters[0]["host_hits"], note, passed=passed)


def checks() -> list[Check]:
    """Half-size pages under both allocators, incompressible pages accepted and rejected; the
    zbud half and the cost check in the quick set."""
    sizes = dict(guest_pages=2000, pool_pages=3000, requests=300_000)
    quick = dict(requests=100_000)
    return [
        Check(FAMILY, "half-zbud", SCENARIO, measure_half, 0.0, quick=True,
              params=dict(sizes, allocator="zbud"), quick_params=quick),
        Check(FAMILY, "half-zsmalloc", SCENARIO, measure_half, 0.0,
              params=dict(sizes, allocator="zsmalloc")),
        Check(FAMILY, "incompressible-cost", SCENARIO, measure_incompressible, 1e-9,
              relative=True, quick=True, params=sizes, quick_params=quick),
        Check(FAMILY, "incompressible-rejected", SCENARIO, measure_rejected, 0.0,
              params=dict(sizes, requests=50_000)),
    ]
