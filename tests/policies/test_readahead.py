"""On-demand readahead's windows (policies/readahead.py) and the host cache reading ahead."""

from __future__ import annotations

import tmemsim
from tmemsim.policies.readahead import Readahead, init_size, next_size


def test_window_sizes_are_linuxs():
    # read_ahead_kb 128 = 32 pages: a first window of 4, then x2 up to 32
    assert init_size(1, 32) == 4 and init_size(4, 32) == 8 and init_size(16, 32) == 32
    assert [next_size(n, 32) for n in (4, 8, 16, 32)] == [8, 16, 32, 32]
    assert next_size(2, 128) == 8  # x4 while under max / 16


def test_a_sequential_stream_pipelines_windows_from_marker_to_marker():
    ra = Readahead(32, file_pages=1000, limit=1000)
    assert ra.miss(100) is None  # a file's first miss: nothing known yet
    assert ra.miss(101) == (101, 105) and ra.marker == 102  # async_size 3: marker on 102
    ra.mark(102)
    assert ra.marked(103) is None  # no marker there
    assert ra.marked(102) == (105, 113) and ra.marker == 105
    ra.mark(105)
    assert ra.marked(105) == (113, 129)
    ra.mark(113)
    assert ra.marked(113) == (129, 161)
    ra.mark(129)
    assert ra.marked(129) == (161, 193)  # the maximum, 32 pages


def test_random_misses_and_file_ends():
    ra = Readahead(32, file_pages=64, limit=1000)
    assert [ra.miss(p) for p in (5, 40, 9, 30)] == [None] * 4
    ra.miss(60)
    assert ra.miss(61) == (61, 64)  # a window stops at its file's end
    assert ra.miss(64) is None  # the next file is another file


def _scan(policy, engine):
    d = {"seed": 1, "duration": "1s", "warmup": "200ms", "engine": engine, "check": True,
         "host": {"memory": "256MiB", "reserved": "64MiB"}, "disks": {"d": {"kind": "hdd"}},
         "policies": [policy],
         "guests": [{"name": "g", "memory": "24MiB", "reserved": "16MiB",
                     "disk": {"size": "1GiB"},
                     "workload": {"kind": "scan", "footprint": 200000, "file_pages": 200000}}]}
    return tmemsim.simulate(tmemsim.load_scenario(d)).row(guest="g")


def test_host_readahead_serves_a_scan_from_host_memory_in_window_sized_requests():
    plain = _scan("host-cache", "batched")
    ahead = [_scan({"kind": "host-cache", "readahead": {"max": "128KiB"}}, e)
             for e in ("batched", "unbatched")]
    assert ahead[0].fillna(0).to_dict() == ahead[1].fillna(0).to_dict()
    row = ahead[0]
    assert plain.disk_reads == plain.reads and plain.host_readahead_pages == 0
    # one guest alone on the hdd reads sequentially anyway; the windows save the per-request costs
    assert row.disk_reads == 0 and row.host_hits == row.reads > 1.5 * plain.reads
    assert row.host_readahead_hits == row.reads and row.host_readahead_wasted == 0


def test_a_marker_hit_whose_window_evicts_the_page_still_returns_its_bytes():
    """A one-page host pool: the hit on page 1 (the marker) reads the next window, which
    evicts page 1 before the read returns; the guest must get page 1's written bytes (found
    by the coherence property: a stale read)."""
    def g(name, steps, sync=False):
        return {"name": name, "memory": 4096, "disk": {"image": "base", "clone": "cow"},
                "writeback_interval": 0, "dirty_expire": 0,
                "workload": {"kind": "script", "steps": steps, "file_pages": 2, "sync": sync}}
    d = {"seed": 0, "requests": 100, "check": True, "host": {"memory": 16384},
         "disks": {"d": {"kind": "ssd", "channels": 1}},
         "images": {"base": {"size": 65536, "internal_dup": 0.0}},
         "policies": [{"kind": "host-cache", "mode": "writeback", "readahead": {"max": "32KiB"}}],
         "guests": [g("g0", ["r 0"]), g("g1", ["r 0"]),
                    g("g2", ["t 0", "r 0", "w 1", "r 0", "r 1"], sync=True)]}
    summary = tmemsim.simulate(tmemsim.load_scenario(d)).summary
    assert (summary.stale_reads == 0).all() and summary.host_readahead_pages.sum() > 0
