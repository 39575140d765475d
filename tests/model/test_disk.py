"""Disks: FIFO completions over channels, hdd seek/rotation/sequential service, custom
distributions, and the statistics a run reports."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import TypeAdapter

from tmemsim.model.disk import make_disk
from tmemsim.scenario import Disk
from tmemsim.units import PAGE_SIZE

US = 1e-6


def disk(spec: dict, pages: int = 1000, seed: int = 0):
    return make_disk("d", TypeAdapter(Disk).validate_python(spec), np.random.default_rng(seed),
                     pages)


def test_fifo_on_one_channel_queues_in_issue_order():
    d = disk({"kind": "nvme", "channels": 1})
    assert d.submit(0.0, 1, False) == pytest.approx(20 * US)
    assert d.submit(0.0, 2, False) == pytest.approx(40 * US)  # waits for the first
    assert d.submit(5 * US, 3, True) == pytest.approx(50 * US)  # a write: 10 µs of service
    assert d.submit(1.0, 4, False) == pytest.approx(1.0 + 20 * US)  # an idle disk: no wait
    assert (d.reads, d.writes, d.requests) == (3, 1, 4)
    assert d.busy == pytest.approx(70 * US)
    assert d.waiting == pytest.approx(20 * US + 35 * US)
    assert d.response == pytest.approx(d.busy + d.waiting)
    d.reset_stats()
    assert (d.requests, d.busy, d.waiting) == (0, 0.0, 0.0)


def test_channels_serve_in_parallel_and_the_earliest_free_takes_the_next():
    d = disk({"kind": "ssd", "channels": 2, "read": "100us"})
    done = [d.submit(0.0, b, False) for b in range(5)]
    assert done == pytest.approx([100 * US, 100 * US, 200 * US, 200 * US, 300 * US])


def test_hdd_sequential_access_is_transfer_only():
    d = disk({"kind": "hdd", "bandwidth": "100MB/s"}, pages=1000)
    transfer = PAGE_SIZE / 100e6
    first = d.submit(0.0, 0, False)  # the head starts at 0: block 0 is a seek of distance 1
    assert d.submit(first, 1, False) - first == pytest.approx(transfer)
    nxt = d.submit(10.0, 2, True)
    assert nxt - 10.0 == pytest.approx(transfer)  # writes too


def test_hdd_seek_follows_the_square_root_curve_plus_a_uniform_rotation():
    spec = {"kind": "hdd", "rpm": 6000, "single_track": "1ms", "full_stroke": "11ms",
            "bandwidth": "100MB/s"}
    pages = 10_000
    d = disk(spec, pages=pages, seed=3)
    # the rotation's uniform draws: the disk takes them in blocks, from the end
    draws = np.random.default_rng(3).random(4096).tolist()
    u = draws[-1]
    t = d.submit(0.0, 2500, False)
    seek = 1e-3 + 10e-3 * math.sqrt(2499 / pages)
    assert t == pytest.approx(seek + u * 0.01 + PAGE_SIZE / 100e6)
    far = d.submit(t, 0, False) - t  # back across 2501 blocks
    assert 1e-3 + 10e-3 * math.sqrt(2501 / pages) < far < 1e-3 + 10e-3 * math.sqrt(
        2501 / pages) + 0.01 + PAGE_SIZE / 100e6 + 1e-12


def test_custom_disk_draws_its_distributions_and_writes_default_to_reads():
    const = disk({"kind": "custom", "read": "2ms"})
    assert const.submit(0.0, 0, False) == pytest.approx(2e-3)
    assert const.submit(1.0, 0, True) == pytest.approx(1.0 + 2e-3)  # no write: the read's
    expo = disk({"kind": "custom", "read": {"kind": "exponential", "mean": "1ms"},
                 "write": "5ms"}, seed=1)
    times = [expo.submit(float(i), 0, False) - i for i in range(4000)]  # an idle disk each time
    assert np.mean(times) == pytest.approx(1e-3, rel=0.06)
    assert min(times) > 0 and len(set(times)) > 3900
    assert expo.submit(5000.0, 0, True) == pytest.approx(5000.0 + 5e-3)


def test_the_same_seed_gives_the_same_service_times():
    spec = {"kind": "hdd"}
    a, b = disk(spec, seed=7), disk(spec, seed=7)
    blocks = [5, 900, 17, 18, 400]
    assert [a.submit(0.0, x, False) for x in blocks] == [b.submit(0.0, x, False) for x in blocks]


# multi-page reads (readahead)


@pytest.mark.parametrize("kind, bandwidth", [("ssd", 250e6), ("nvme", 2e9)])
def test_flash_multi_page_read_is_one_request_with_a_transfer_per_further_page(kind, bandwidth):
    one, many = disk({"kind": kind, "channels": 1}), disk({"kind": kind, "channels": 1})
    first = one.submit(0.0, 10, False)
    assert many.submit_run(0.0, 10, 1) == first  # one page is exactly submit
    done = many.submit_run(1.0, 10, 32)
    assert done == pytest.approx(1.0 + first + 31 * PAGE_SIZE / bandwidth)
    assert (many.reads, many.writes) == (2, 0)


def test_hdd_multi_page_read_seeks_once_and_leaves_the_head_at_its_last_page():
    spec = {"kind": "hdd", "channels": 1}
    single, run = disk(spec, pages=100_000, seed=4), disk(spec, pages=100_000, seed=4)
    transfer = PAGE_SIZE / 150e6
    # the same seek and rotation (same draws) for the first page, then transfer only
    a = single.submit(0.0, 5000, False)
    b = run.submit_run(0.0, 5000, 16)
    assert b == pytest.approx(a + 15 * transfer)
    # the next request, right after the run's last page, is sequential: transfer only
    t = 10.0
    assert run.submit(t, 5016, False) == pytest.approx(t + transfer)
    assert run.reads == 2 and run.busy == pytest.approx(a + 16 * transfer)


def test_custom_disk_multi_page_read_adds_its_bandwidth_per_further_page():
    d = disk({"kind": "custom", "read": "1ms", "bandwidth": "100MB/s"})
    assert d.submit_run(0.0, 3, 11) == pytest.approx(1e-3 + 10 * PAGE_SIZE / 100e6)
