"""Synthetic workloads: the statistical shape of each kind, exact orders, and seeded streams.

Shapes are checked within tolerances wide enough for the sample sizes used (several sigma);
orders (scan, loop) are checked exactly; streams must depend on their seed alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pytest

import tmemsim
from tmemsim.errors import ScenarioError
from tmemsim.scenario import load_scenario
from tmemsim.workloads import WORKLOADS

PAGE = 4096


def spec(d: dict):
    return WORKLOADS[d["kind"]].model_validate(d)


def requests(d: dict, n: int, seed=0, chunk: int = 1 << 16):
    """(ops, pages, gaps) of the first n requests of one thread seeded with `seed`."""
    stream = spec(d).stream(np.random.SeedSequence(seed))
    ops, pages, gaps = [], [], []
    while len(pages) < n:
        o, p, g, _ = stream.next_chunk(min(chunk, n - len(pages)))
        if not p:
            break
        ops += o
        pages += p
        gaps += g
    return np.array(ops), np.array(pages), np.array(gaps)


def pages_of(d: dict, n: int, seed=0, chunk: int = 1 << 16) -> np.ndarray:
    return requests(d, n, seed, chunk)[1]


SPECS = [
    {"kind": "zipf", "alpha": 0.9, "footprint": 5000},
    {"kind": "uniform", "footprint": 5000, "offset": 10},
    {"kind": "scan", "footprint": 300, "stride": 2},
    {"kind": "loop", "length": 700, "offset": 3},
    {"kind": "hotset", "footprint": 5000, "hot_fraction": 0.1, "hot_probability": 0.9},
    {"kind": "mix", "parts": [
        {"weight": 3, "workload": {"kind": "zipf", "footprint": 1000}},
        {"weight": 1, "workload": {"kind": "scan", "footprint": 500, "offset": 1000}},
    ]},
]


# Shapes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.7, 1.0, 1.3])
def test_zipf_rank_frequency_slope_is_minus_alpha(alpha):
    pages = pages_of({"kind": "zipf", "alpha": alpha, "footprint": 20_000}, 1_000_000, seed=3)
    counts = np.sort(np.bincount(pages))[::-1]
    top = 60  # the top ranks: counts large enough that sampling noise is a few percent
    ranks = np.arange(1, top + 1)
    slope = np.polyfit(np.log(ranks), np.log(counts[:top]), 1)[0]
    assert slope == pytest.approx(-alpha, abs=0.06)


def test_zipf_scatter_spreads_popular_pages():
    packed = pages_of({"kind": "zipf", "footprint": 10_000, "scatter": False}, 50_000)
    spread = pages_of({"kind": "zipf", "footprint": 10_000}, 50_000)
    assert np.bincount(packed).argmax() == 0
    assert np.median(spread) > 2000  # popular pages are not all at the start


def test_uniform_covers_its_footprint_evenly():
    pages = pages_of({"kind": "uniform", "footprint": 100, "offset": 50}, 200_000)
    assert pages.min() == 50 and pages.max() == 149
    counts = np.bincount(pages - 50)
    assert counts.min() > 0.85 * 2000 and counts.max() < 1.15 * 2000


def test_scan_is_exactly_sequential_and_wraps():
    d = {"kind": "scan", "footprint": 10, "offset": 5}
    # chunks of 7 cross the wrap at different places: the order must not care
    pages = pages_of(d, 25, chunk=7)
    assert pages.tolist() == list(range(5, 15)) * 2 + list(range(5, 10))
    assert spec(d).footprint_pages() == 15


def test_scan_stride_skips_pages():
    d = {"kind": "scan", "footprint": 10, "offset": 5, "stride": 3}
    assert pages_of(d, 9).tolist() == [5, 8, 11, 14, 5, 8, 11, 14, 5]
    assert spec(d).footprint_pages() == 15  # highest page touched + 1


def test_footprints_accept_sizes():
    assert spec({"kind": "scan", "footprint": "4MiB"}).footprint_pages() == 1024
    assert spec({"kind": "loop", "length": "1MiB", "offset": "1MiB"}).footprint_pages() == 512
    assert spec({"kind": "hotset", "footprint": "8KiB"}).footprint_pages() == 2


def test_loop_period_is_its_length():
    pages = pages_of({"kind": "loop", "length": 123, "offset": 7}, 1000, chunk=50)
    assert np.array_equal(pages[123:], pages[:-123])
    assert sorted(set(pages[:123].tolist())) == list(range(7, 130))
    assert np.all(np.diff(pages[:123]) == 1)


def lru_hits(pages, capacity: int) -> int:
    cache, hits = OrderedDict(), 0
    for p in pages:
        if p in cache:
            cache.move_to_end(p)
            hits += 1
        else:
            cache[p] = None
            if len(cache) > capacity:
                cache.popitem(last=False)
    return hits


def test_loop_defeats_lru_one_page_short():
    pages = pages_of({"kind": "loop", "length": 100}, 1000).tolist()
    assert lru_hits(pages, 99) == 0
    assert lru_hits(pages, 100) == 900


@pytest.mark.parametrize("scatter", [True, False])
def test_hotset_share_and_placement(scatter):
    d = {"kind": "hotset", "footprint": 10_000, "offset": 100, "hot_fraction": 0.05,
         "hot_probability": 0.7, "scatter": scatter}
    w = spec(d)
    hot = set(w.layout(np.random.default_rng(4))[:w.hot_pages()].tolist())
    assert len(hot) == 500
    pages = pages_of(d, 200_000, seed=4)
    in_hot = np.isin(pages, list(hot))
    assert in_hot.mean() == pytest.approx(0.7, abs=0.01)
    assert pages.min() >= 100 and pages.max() < 10_100
    # uniform inside each part
    hot_counts = np.bincount(pages[in_hot])[sorted(hot)]
    assert hot_counts.min() > 0.7 * hot_counts.mean() and hot_counts.max() < 1.3 * hot_counts.mean()
    cold = np.setdiff1d(np.arange(100, 10_100), list(hot))
    cold_counts = np.bincount(pages[~in_hot], minlength=10_100)[cold]
    assert cold_counts.std() < 0.5 * cold_counts.mean()
    packed = hot == set(range(100, 600))
    assert packed != scatter


def test_hotset_is_shared_by_threads_and_follows_the_seeds():
    d = {"kind": "hotset", "footprint": 1000, "hot_fraction": 0.1}
    w = spec(d)

    def hot_set(seq):
        pages = np.random.default_rng(seq)
        return set(w.layout(pages)[:100].tolist())

    root = np.random.SeedSequence(5)
    thread_a, thread_b = root.spawn(2)
    assert hot_set(thread_a) == hot_set(thread_b)
    assert hot_set(np.random.SeedSequence(6)) != hot_set(thread_a)
    other = spec({**d, "layout_seed": 1})
    assert set(other.layout(np.random.default_rng(thread_a))[:100].tolist()) != hot_set(thread_a)


def test_hotset_all_hot():
    pages = pages_of({"kind": "hotset", "footprint": 50, "hot_fraction": 1.0,
                      "hot_probability": 0.3}, 10_000)
    assert set(pages.tolist()) == set(range(50))


def test_mix_weights_and_parts_keep_their_own_order():
    d = {"kind": "mix", "read_fraction": 0.5, "parts": [
        {"weight": 3, "workload": {"kind": "uniform", "footprint": 1000}},
        {"weight": 1, "workload": {"kind": "scan", "footprint": 500, "offset": 1000}},
        {"weight": 0.5, "workload": {"kind": "loop", "length": 100, "offset": 2000}},
    ]}
    ops, pages, _ = requests(d, 90_000, seed=2, chunk=10_000)
    share = np.array([(pages < 1000).mean(), ((pages >= 1000) & (pages < 1500)).mean(),
                      (pages >= 2000).mean()])
    assert share == pytest.approx(np.array([3, 1, 0.5]) / 4.5, abs=0.01)
    scan = pages[(pages >= 1000) & (pages < 1500)]
    assert np.array_equal(scan, 1000 + np.arange(len(scan)) % 500)  # one uninterrupted scan
    assert ops.mean() == pytest.approx(0.5, abs=0.01)  # the mix's read_fraction
    assert spec(d).footprint_pages() == 2100


def test_nested_mix():
    d = {"kind": "mix", "parts": [
        {"weight": 1, "workload": {"kind": "loop", "length": 10}},
        {"weight": 1, "workload": {"kind": "mix", "parts": [
            {"weight": 1, "workload": {"kind": "loop", "length": 10, "offset": 100}}]}},
    ]}
    pages = pages_of(d, 1000)
    assert set(pages.tolist()) == set(range(10)) | set(range(100, 110))


# Seeds -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("d", SPECS, ids=lambda d: d["kind"])
def test_same_seed_same_stream_whatever_else(d):
    first = requests(d, 20_000, seed=9)
    again = requests(d, 20_000, seed=9, chunk=3_000)  # chunking does not matter
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a, b)
    # the pages do not move when the read/write mix or the timing does
    other = requests({**d, "read_fraction": 0.3, "think_time": "1ms", "dup_writes": 0.5},
                     20_000, seed=9)
    assert np.array_equal(other[1], first[1])


@pytest.mark.parametrize("d", [s for s in SPECS if s["kind"] not in ("scan", "loop")],
                         ids=lambda d: d["kind"])
def test_different_seeds_differ(d):
    assert not np.array_equal(pages_of(d, 1000, seed=1), pages_of(d, 1000, seed=2))


@pytest.mark.parametrize("d", SPECS, ids=lambda d: d["kind"])
def test_pages_stay_in_the_footprint(d):
    pages = pages_of(d, 20_000)
    assert pages.min() >= 0 and pages.max() < spec(d).footprint_pages()


def scenario(workload: dict, **guest) -> dict:
    return {
        "seed": 3, "requests": 3000,
        "host": {"memory": "256MiB"}, "disks": {"d": {"kind": "ssd"}},
        "guests": [{"name": "g", "memory": "4MiB", "disk": {"size": "64MiB"},
                    "workload": workload, **guest}],
    }


@pytest.mark.parametrize("d", SPECS, ids=lambda d: d["kind"])
def test_every_kind_runs_and_repeats(d):
    a = tmemsim.simulate(load_scenario(scenario({**d, "threads": 2}))).summary
    b = tmemsim.simulate(load_scenario(scenario({**d, "threads": 2}))).summary
    assert a.equals(b)
    assert a.iloc[-1]["requests"] == 3000


def test_repeating_phases_end_with_the_request_budget():
    """`repeat: true` phases and a request budget, no duration: the run ends once the budget is
    spent (it used to switch phases forever). Run apart, so the old behaviour fails, not hangs."""
    workload = {"kind": "phases", "repeat": True, "phases": [
        {"duration": "10ms", "workload": {"kind": "zipf", "footprint": 1000}},
        {"duration": "10ms", "workload": {"kind": "zipf", "footprint": 1000, "offset": 1000}}]}
    code = ("import sys, json, tmemsim; s = tmemsim.load_scenario(json.loads(sys.argv[1])); "
            "print(tmemsim.simulate(s).row(guest='g').requests)")
    done = subprocess.run([sys.executable, "-c", code, json.dumps(scenario(workload))],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["3000"]


def test_loop_longer_than_the_cache_never_hits():
    cache = 1024  # pages of a 4 MiB guest
    short = tmemsim.simulate(load_scenario(scenario({"kind": "loop", "length": cache})))
    long = tmemsim.simulate(load_scenario(scenario({"kind": "loop", "length": cache + 1})))
    assert short.row(guest="g").guest_hits == 3000 - cache
    assert long.row(guest="g").guest_hits == 0


# Validation ------------------------------------------------------------------------------------


def load_error(workload: dict) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(scenario(workload))
    return str(info.value)


def test_mix_part_must_not_set_common_knobs():
    message = load_error({"kind": "mix", "parts": [
        {"weight": 1, "workload": {"kind": "zipf", "footprint": 10, "read_fraction": 0.5}}]})
    assert "guests[0].workload.parts[0]" in message and "read_fraction" in message


def test_mix_parts_are_patterns_only():
    message = load_error({"kind": "mix", "parts": [
        {"weight": 1, "workload": {"kind": "script", "steps": ["r 1"]}}]})
    assert "unknown kind 'script'" in message and "'hotset'" in message


def test_mix_part_typo_is_located():
    message = load_error({"kind": "mix", "parts": [
        {"weight": 1, "workload": {"kind": "zipf", "footprint": 10, "alpah": 1}}]})
    assert "parts[0].workload.alpah" in message and "did you mean 'alpha'" in message


@pytest.mark.parametrize("workload, text", [
    ({"kind": "mix", "parts": []}, "at least 1"),
    ({"kind": "mix", "parts": [{"weight": 0, "workload": {"kind": "loop", "length": 1}}]},
     "greater than 0"),
    ({"kind": "hotset", "footprint": 10, "hot_fraction": 0}, "greater than 0"),
    ({"kind": "hotset", "footprint": 10, "hot_probability": 2}, "less than or equal to 1"),
    ({"kind": "scan", "footprint": 10, "stride": 0}, "greater than or equal to 1"),
    ({"kind": "loop", "length": "1GiB"}, "the workload touches 262144 pages"),
])
def test_bad_values(workload, text):
    assert text in load_error(workload)


def test_documented_examples_validate():
    import re
    from pathlib import Path

    import yaml

    doc = Path(__file__).resolve().parents[2] / "docs" / "workloads.md"
    blocks = re.findall(r"```yaml\n(.*?)```", doc.read_text(), re.S)
    kinds = set()
    for block in blocks:
        example = yaml.safe_load(block)
        if "workload" not in example:
            continue  # guest-level examples (balloon, max_memory): tests/test_docs.py runs them
        workload = example["workload"]
        kinds.add(workload["kind"])
        if workload["kind"] != "trace":  # trace examples name files this repo does not have
            spec(workload)
    assert kinds == set(WORKLOADS)
