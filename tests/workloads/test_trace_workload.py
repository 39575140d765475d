"""The `kind: trace` workload, end to end: a trace replayed through the whole simulator.

libCacheSim's LRU is the reference for hit ratios; MSR and blkparse copies of one trace must
give the same results; open-loop timing must follow the trace's clock.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import tmemsim
from tmemsim.errors import ScenarioError, TraceError
from tmemsim.scenario import load_scenario, resolved_yaml
from tmemsim.workloads import OP_WRITE_PARTIAL, WORKLOADS, traces
from tmemsim.workloads.trace import backward_note
from tmemsim.workloads.traces import READ, WRITE, write_blkparse, write_msr, write_oracle_general

PAGE = 4096
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def scenario(workload: dict, memory=4 * 1024 * 1024, **top) -> dict:
    return {
        # a request budget makes the run end with the last request, not at the duration
        "seed": 1, "duration": "1h", "requests": 10**12,
        "host": {"memory": "1GiB"}, "disks": {"d": {"kind": "ssd"}}, "policies": ["none"],
        "guests": [{"name": "g", "memory": memory, "disk": {"size": "1GiB"},
                    "workload": workload}],
        **top,
    }


def run(workload: dict, **kw) -> pd.DataFrame:
    return tmemsim.simulate(load_scenario(scenario(workload, **kw))).summary


def guest_row(summary: pd.DataFrame) -> pd.Series:
    return summary[summary["guest"] == "g"].iloc[0]


def random_rows(n: int, seed: int = 3, step_us: int = 2000):
    """Trace rows (time_s, op, offset, size, volume): unaligned, multi-page, 30% writes."""
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.integers(1, step_us, n)) * 1e-6
    page = rng.zipf(1.3, n) % 4000
    return [(float(a), WRITE if w else READ, int(p) * PAGE + int(o), int(s), 0)
            for a, w, p, o, s in zip(t, rng.random(n) < 0.3, page,
                                     rng.integers(0, 8, n) * 512,
                                     rng.choice([512, 4096, 16384, 65536], n), strict=True)]


def stream_of(workload: dict, n: int = 1 << 16, seed: int = 0):
    """Every chunk (ops, pages, gaps) of the workload's stream, concatenated."""
    spec = WORKLOADS[workload["kind"]].model_validate(workload)
    stream = spec.stream(np.random.SeedSequence(seed))
    ops, pages, gaps = [], [], []
    while True:
        o, p, g, _ = stream.next_chunk(n)
        if not p:
            return np.array(ops), np.array(pages), np.array(gaps)
        ops, pages, gaps = ops + o, pages + p, gaps + g


# Hit ratios against libCacheSim -----------------------------------------------------------------


@pytest.mark.parametrize("capacity", [64, 700])
def test_replay_matches_libcachesim_lru(tmp_path, capacity):
    lcs = pytest.importorskip("libcachesim")
    rng = np.random.default_rng(7)
    ids = (rng.zipf(1.2, 30_000) % 3000 + 1).astype(np.uint64)
    path = tmp_path / "t.oracleGeneral"
    # Matching settings on both sides: every object is 4 KiB, so an object is one page to
    # tmemsim (which reads obj_size) and one 4 KiB object to libCacheSim (which does too); its
    # LRU holds capacity x 4 KiB bytes, the guest's cache capacity pages.
    write_oracle_general(path, ids, size=PAGE)
    reader = lcs.TraceReader(str(path), lcs.TraceType.ORACLE_GENERAL_TRACE)
    miss_ratio, _ = lcs.LRU(PAGE * capacity).process_trace(reader)
    row = guest_row(run({"kind": "trace", "format": "oracle", "path": str(path),
                         "timing": "closed"}, memory=capacity * PAGE))
    assert row.reads == len(ids)
    assert 1 - row.guest_hits / row.reads == pytest.approx(miss_ratio, abs=1e-12)


# One trace, two formats -----------------------------------------------------------------------


def test_msr_and_blkparse_copies_give_the_same_results(tmp_path):
    rows = random_rows(3000)
    write_msr(tmp_path / "t.csv", rows)
    write_blkparse(tmp_path / "t.blk", rows)
    for timing in ("closed", "trace"):
        msr = run({"kind": "trace", "format": "msr", "path": str(tmp_path / "t.csv"),
                   "timing": timing})
        blk = run({"kind": "trace", "format": "blkparse", "path": str(tmp_path / "t.blk"),
                   "timing": timing})
        assert guest_row(msr).requests > 3000  # pages, not records
        if timing == "closed":
            assert msr.equals(blk)
        else:
            # the two formats' clocks (100 ns ticks, decimal seconds) differ in the last ulp
            pd.testing.assert_frame_equal(msr, blk, check_exact=False, rtol=1e-9)
            counts = ["requests", "reads", "writes", "guest_hits", "disk_reads", "disk_writes"]
            assert msr[counts].equals(blk[counts])


def test_ops_and_pages_come_from_the_trace(tmp_path):
    rows = [(0.0, READ, 0, 8192, 0), (0.1, WRITE, 3 * PAGE + 100, 200, 0),
            (0.2, READ, 10 * PAGE, 1, 0)]
    write_msr(tmp_path / "t.csv", rows)
    ops, pages, gaps = stream_of({"kind": "trace", "format": "msr",
                                  "path": str(tmp_path / "t.csv")})
    assert ops.tolist() == [0, 0, OP_WRITE_PARTIAL, 0]  # 200 bytes: a write of part of page 3
    assert pages.tolist() == [0, 1, 3, 10]
    assert gaps == pytest.approx([0.0, 0.1, 0.1, 0.0])


# Timing ----------------------------------------------------------------------------------------


def even_trace(path, n: int, interval: float, start: float = 0.0, volume: int = 0):
    write_msr(path, [(start + i * interval, READ, (i % 50) * PAGE, PAGE, volume)
                     for i in range(n)])


@pytest.mark.parametrize("speed", [1.0, 4.0])
def test_trace_timing_replays_at_the_trace_pace(tmp_path, speed):
    even_trace(tmp_path / "t.csv", 2000, 0.005)  # 200 requests/s for 10 s
    span = 1999 * 0.005
    row = guest_row(run({"kind": "trace", "format": "msr", "path": str(tmp_path / "t.csv"),
                         "speed": speed}))
    assert row.requests == 2000
    duration = row.requests / row.throughput_ops
    # the last request arrives at span/speed and takes well under a millisecond
    assert span / speed <= duration < span / speed + 1e-3


def test_closed_timing_ignores_the_trace_clock(tmp_path):
    even_trace(tmp_path / "t.csv", 2000, 0.005)
    row = guest_row(run({"kind": "trace", "format": "msr", "path": str(tmp_path / "t.csv"),
                         "timing": "closed", "think_time": "1ms"}))
    duration = row.requests / row.throughput_ops
    assert 2.0 < duration < 2.3  # 2000 × (1 ms + a hit or a miss)


def test_replay_starts_at_the_first_request_of_its_volume(tmp_path):
    rows = [(0.0, READ, 0, PAGE, 1)] + [(5.0 + i * 0.01, READ, i * PAGE, PAGE, 0)
                                       for i in range(101)]
    write_msr(tmp_path / "t.csv", rows)
    row = guest_row(run({"kind": "trace", "format": "msr", "path": str(tmp_path / "t.csv"),
                         "volume": 0}))
    assert row.requests == 101
    assert 1.0 <= row.requests / row.throughput_ops < 1.001


def test_unsorted_timestamps_never_go_back(tmp_path):
    times = [0.0, 0.3, 0.1, 0.2, 0.5, 0.4]
    write_msr(tmp_path / "t.csv", [(t, READ, i * PAGE, PAGE, 0) for i, t in enumerate(times)])
    _, _, gaps = stream_of({"kind": "trace", "format": "msr", "path": str(tmp_path / "t.csv")})
    assert gaps == pytest.approx([0.3, 0.0, 0.0, 0.2, 0.0, 0.0])


@pytest.mark.parametrize("n", [1, 2, 1 << 16])
def test_requests_stamped_before_the_clock_are_counted(tmp_path, n):
    # 0.1 and 0.2 come after 0.3, 0.4 (two pages) after 0.5: four page requests in all
    times = [0.0, 0.3, 0.1, 0.2, 0.5, 0.4]
    write_msr(tmp_path / "t.csv", [(t, READ, i * PAGE, PAGE * (1 + (t == 0.4)), 0)
                                   for i, t in enumerate(times)])
    for timing, counted in (("trace", 4), ("closed", 0)):  # closed: the times are not used
        spec = WORKLOADS["trace"].model_validate({"kind": "trace", "format": "msr",
                                                  "path": str(tmp_path / "t.csv"),
                                                  "timing": timing})
        stream = spec.stream(np.random.SeedSequence(0))
        while stream.next_chunk(n)[1]:
            pass
        assert stream.trace_stats["backward"] == counted
        assert stream.trace_stats["pages"] == 7


def test_the_note_on_backward_timestamps_tells_each_guest_once():
    traces = {"none": {"a": {"backward": 2}, "b": {"backward": 0}},
              "tmem": {"a": {"backward": 2}, "b": {"backward": 0}}}
    assert backward_note(traces).startswith("the trace of guest a has 2 page request(s) whose")
    assert backward_note({"none": {"a": {"backward": 0}}}) is None
    assert backward_note({}) is None
    many = {"none": {g: {"backward": i + 1} for i, g in enumerate("abcde")}}
    assert backward_note(many).startswith(
        "the traces of guests a (1), b (2), c (3) and 2 more have page requests whose")


def test_gaps_cross_chunk_boundaries(tmp_path):
    even_trace(tmp_path / "t.csv", 1000, 0.002)
    d = {"kind": "trace", "format": "msr", "path": str(tmp_path / "t.csv")}
    whole = stream_of(d)
    pieces = stream_of(d, n=7)
    for a, b in zip(whole, pieces, strict=True):
        assert np.array_equal(a, b)
    assert whole[2][:-1] == pytest.approx(np.full(999, 0.002))
    assert whole[2][-1] == 0.0


@pytest.mark.parametrize("workload", [{}, {"timing": "closed", "think_time": "1ms"}])
def test_a_trace_scenario_dumped_with_its_defaults_loads_again(tmp_path, workload):
    # results' scenario.yaml and every sweep point are dumps: defaults such as read_fraction
    # are written out, and are not a user's setting that does not apply to a trace
    even_trace(tmp_path / "t.csv", 20, 0.01)
    s = load_scenario(scenario({"kind": "trace", "format": "msr",
                                "path": str(tmp_path / "t.csv"), **workload}))
    again = load_scenario(yaml.safe_load(resolved_yaml(s)))
    assert again == s
    with pytest.raises(ScenarioError, match="read_fraction does not apply"):
        load_scenario(scenario({"kind": "trace", "format": "msr", "read_fraction": 0.5,
                                "path": str(tmp_path / "t.csv"), **workload}))


# Options ---------------------------------------------------------------------------------------


def test_limit_caps_the_requests(tmp_path):
    write_msr(tmp_path / "t.csv", random_rows(500))
    row = guest_row(run({"kind": "trace", "format": "msr", "path": str(tmp_path / "t.csv"),
                         "limit": 123}))
    assert row.requests == 123


def test_footprint_is_scanned_when_not_declared(tmp_path):
    rows = [(0.0, READ, 7 * PAGE, PAGE, 0), (0.1, READ, 90 * PAGE, 2 * PAGE, 1)]
    write_msr(tmp_path / "t.csv", rows)
    d = {"kind": "trace", "format": "msr", "path": str(tmp_path / "t.csv")}
    assert WORKLOADS["trace"].model_validate(d).footprint_pages() == 92
    assert WORKLOADS["trace"].model_validate({**d, "volume": 0}).footprint_pages() == 8
    assert WORKLOADS["trace"].model_validate({**d, "footprint": "1MiB"}).footprint_pages() == 256


def test_footprint_must_fit_the_disk(tmp_path):
    write_msr(tmp_path / "t.csv", [(0.0, READ, 1 << 31, PAGE, 0)])  # page 524288 (2 GiB)
    with pytest.raises(ScenarioError, match="touches 524289 pages"):
        load_scenario(scenario({"kind": "trace", "format": "msr",
                                "path": str(tmp_path / "t.csv")}))


def test_wrap_takes_pages_modulo_the_footprint(tmp_path):
    rows = [(i * 0.01, READ, p * PAGE, PAGE, 0) for i, p in enumerate([5, 1000, 1003, 2047])]
    write_msr(tmp_path / "t.csv", rows)
    _, pages, _ = stream_of({"kind": "trace", "format": "msr", "path": str(tmp_path / "t.csv"),
                             "footprint": 1000, "wrap": True})
    assert pages.tolist() == [5, 0, 3, 47]


def test_page_beyond_a_declared_footprint_is_an_error(tmp_path):
    rows = [(0.0, READ, 0, PAGE, 0), (0.1, READ, 1000 * PAGE, PAGE, 0)]
    write_msr(tmp_path / "t.csv", rows)
    with pytest.raises(TraceError, match="request 2 is page 1000, beyond the declared footprint"):
        run({"kind": "trace", "format": "msr", "path": str(tmp_path / "t.csv"),
             "footprint": 1000})


def test_malformed_line_fails_the_run_with_file_and_line(tmp_path, monkeypatch):
    path = tmp_path / "t.csv"
    write_msr(path, random_rows(50))
    with open(path, "a") as f:
        f.write("128166372000000000,h,0,Read,oops,4096,0\n")
    d = {"kind": "trace", "format": "msr", "path": str(path), "footprint": "1GiB"}
    # in the file's first block, the line is found at load time (checking the trace has
    # requests reads that block), with the scenario's path as well as the trace's line
    with pytest.raises(ScenarioError, match=f"guests\\[0\\].workload.*{path}, line 51: expected"):
        load_scenario(scenario(d))
    monkeypatch.setattr(traces.source, "BLOCK_BYTES", 1024)  # further on: when the run reaches it
    with pytest.raises(TraceError) as info:
        run(d)
    assert info.value.file == str(path) and info.value.line == 51
    row = guest_row(run({**d, "on_error": "skip"}))
    assert row.requests > 50


def test_other_formats_replay(tmp_path):
    fiu = tmp_path / "t.fiu"
    fiu.write_text("".join(f"{i * 1000000} 1 proc {8 * i} 8 {'RW'[i % 2]} 8 0 {'ab' * 16}\n"
                           for i in range(20)))
    row = guest_row(run({"kind": "trace", "format": "fiu", "path": str(fiu)}))
    assert (row.reads, row.writes) == (10, 10)  # content ids are read and not used
    csv = tmp_path / "t.csv"
    csv.write_text("when,where,what\n" + "".join(f"{i / 10},{i * 4096},{'rw'[i % 2]}\n"
                                                 for i in range(20)))
    row = guest_row(run({"kind": "trace", "format": "csv", "path": str(csv),
                         "columns": {"time": "when", "offset": "where", "op": "what"}}))
    assert (row.reads, row.writes) == (10, 10)


def test_gzip_and_relative_paths(tmp_path, monkeypatch):
    even_trace(tmp_path / "t.csv", 100, 0.01)
    with open(tmp_path / "t.csv", "rb") as src, gzip.open(tmp_path / "t.csv.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    monkeypatch.chdir(tmp_path)
    row = guest_row(run({"kind": "trace", "format": "msr", "path": "t.csv.gz"}))
    assert row.requests == 100


def test_scenario_dir_context_resolves_relative_paths(tmp_path):
    (tmp_path / "traces").mkdir()
    even_trace(tmp_path / "traces" / "t.csv", 10, 0.01)
    d = {"kind": "trace", "format": "msr", "path": "traces/t.csv"}
    spec = WORKLOADS["trace"].model_validate(d, context={"scenario_dir": str(tmp_path)})
    assert Path(spec.path) == tmp_path / "traces" / "t.csv"
    assert spec.footprint_pages() == 10


# Load-time errors ------------------------------------------------------------------------------


def load_error(workload: dict) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(scenario(workload))
    return str(info.value)


@pytest.mark.parametrize("extra, text", [
    ({"format": "msx"}, "workload.format: unknown trace format 'msx'; valid formats: alibaba"),
    ({"path": "no/such.csv"}, "workload.path: no such trace file 'no/such.csv'"),
    ({"options": {"action": "Q"}}, "unknown option(s) action for trace format 'msr'"),
    ({"format": "csv"}, "format 'csv' needs columns"),
    ({"wrap": True}, "wrap: true needs a footprint"),
    ({"read_fraction": 0.5}, "read_fraction does not apply"),
    ({"arrival": {"rate": 10}}, "arrival does not apply"),
    ({"think_time": "1ms"}, "think_time needs timing: closed"),
    ({"threads": 2}, "threads must be 1"),
    ({"anon": {"size": 10}}, "anon does not apply"),
    ({"timing": "open"}, "workload.timing"),
    ({"speed": 0}, "workload.speed"),
    ({"limit": 0}, "workload.limit"),
])
def test_bad_trace_specs_fail_at_load(tmp_path, extra, text):
    even_trace(tmp_path / "t.csv", 10, 0.01)
    message = load_error({"kind": "trace", "format": "msr", "path": str(tmp_path / "t.csv"),
                          **extra})
    assert "guests[0].workload" in message and text in message


# The shipped example ----------------------------------------------------------------------------


def test_shipped_trace_scenario_runs(monkeypatch):
    # relative trace paths are read from the current directory until the loader passes its
    # own directory (the scenario_dir validation context)
    monkeypatch.chdir(SCENARIOS)
    s = load_scenario(SCENARIOS / "trace-replay.yaml",
                      overrides={"policies": "[none]", "duration": "5s", "warmup": 0})
    row = tmemsim.simulate(s).row(guest="ALL")
    assert row.requests > 1000 and row.writes > 0


# Start offsets, clones spread over one trace, time shifts --------------------------------------


def one_page_rows(n: int):
    """n one-page reads of pages 0..n-1, one a second."""
    return [(float(i), READ, i * PAGE, PAGE, 0) for i in range(n)]


def rotated_stream(workload: dict):
    spec = WORKLOADS["trace"].model_validate(workload)
    ops, pages, gaps = stream_all(spec)
    return pages.tolist(), gaps.tolist()


def stream_all(spec):
    stream = spec.stream(np.random.SeedSequence(1))
    ops, pages, gaps = [], [], []
    while True:
        o, p, g, _ = stream.next_chunk(7)
        if not p:
            return np.array(ops), np.array(pages), np.array(gaps)
        ops, pages, gaps = ops + o, pages + p, gaps + g


@pytest.mark.parametrize("start,first", [(3, 3), (0.5, 5), (13, 3), (0, 0)])
def test_start_rotates_the_trace(tmp_path, start, first):
    write_msr(tmp_path / "t.csv", one_page_rows(10))
    pages, gaps = rotated_stream({"kind": "trace", "format": "msr", "path": str(tmp_path / "t.csv"),
                             "start": start})
    assert pages == [(first + i) % 10 for i in range(10)]
    # a loop of the trace's span (9 s) and one mean gap (1 s): every gap stays 1 s
    assert gaps == [1.0] * 9 + [0.0]


def test_start_counts_records_not_pages(tmp_path):
    rows = [(float(i), READ, i * 4 * PAGE, 4 * PAGE, 0) for i in range(4)]  # 4 pages each
    write_msr(tmp_path / "t.csv", rows)
    pages, _ = rotated_stream({"kind": "trace", "format": "msr", "path": str(tmp_path / "t.csv"),
                          "start": 0.25})
    assert pages == [*range(4, 16), *range(0, 4)]


@pytest.mark.parametrize("start", [1.0, -1, 1.5])
def test_start_out_of_range_is_an_error(tmp_path, start):
    write_msr(tmp_path / "t.csv", one_page_rows(10))
    with pytest.raises(ValueError, match="start is a record index"):
        WORKLOADS["trace"].model_validate({"kind": "trace", "format": "msr",
                                           "path": str(tmp_path / "t.csv"), "start": start})


def clones(tmp_path, **workload) -> list[list[int]]:
    """The pages each of four clones replaying one 12-record trace asks for."""
    write_msr(tmp_path / "t.csv", one_page_rows(12))
    d = scenario({"kind": "trace", "format": "msr", "path": str(tmp_path / "t.csv"),
                  **workload})
    d["guests"][0]["count"] = 4
    s = load_scenario(d)
    return [stream_all(g.workload)[1].tolist() for _, g in s.expanded_guests()]


def test_clones_spread_over_the_trace_by_default(tmp_path):
    got = clones(tmp_path)
    assert [pages[0] for pages in got] == [0, 3, 6, 9]
    assert all(sorted(pages) == list(range(12)) for pages in got)
    assert [pages[0] for pages in clones(tmp_path, start=2)] == [2, 5, 8, 11]
    assert [pages[0] for pages in clones(tmp_path, start=0.5)] == [6, 9, 0, 3]


def test_clones_in_lockstep_when_asked(tmp_path):
    got = clones(tmp_path, spread=False, start=4)
    assert got == [[(4 + i) % 12 for i in range(12)]] * 4


def test_spread_clones_share_less_than_lockstep_ones(tmp_path):
    """Lockstep clones find every page a sibling has just read in the host cache."""
    write_msr(tmp_path / "t.csv", random_rows(3000))
    rows = {}
    for spread in (True, False):
        d = scenario({"kind": "trace", "format": "msr", "path": str(tmp_path / "t.csv"),
                      "timing": "closed", "spread": spread}, memory=2 * 1024 * 1024,
                     policies=["host-cache"], images={"base": {"size": "1GiB"}})
        d["host"] = {"memory": "12MiB", "reserved": "0"}  # a pool of 4 MiB
        d["guests"][0].update(count=4, disk={"image": "base", "clone": "cow"})
        summary = tmemsim.simulate(load_scenario(d)).summary
        rows[spread] = summary["host_hits"].sum() / summary["reads"].sum()
    assert rows[True] < rows[False] / 2  # measured: 0.034 and 0.112


def test_time_shift_delays_the_first_request(tmp_path):
    write_msr(tmp_path / "t.csv", one_page_rows(10))
    workload = {"kind": "trace", "format": "msr", "path": str(tmp_path / "t.csv")}
    # the trace's 10 requests are one a second: 5.5 s see 6 of them, or 3 when 3 s late
    for shift, requests in ((0, 6), ("3s", 3)):
        d = scenario({**workload, "time_shift": shift}, duration="5.5s")
        del d["requests"]
        assert guest_row(tmemsim.simulate(load_scenario(d)).summary).requests == requests


def test_time_shift_inside_a_phase_is_an_error(tmp_path):
    write_msr(tmp_path / "t.csv", one_page_rows(10))
    phase = {"duration": "1s", "workload": {"kind": "trace", "format": "msr",
                                            "path": str(tmp_path / "t.csv"), "time_shift": "1s"}}
    with pytest.raises(ScenarioError, match="time_shift applies to a guest's own workload"):
        load_scenario(scenario({"kind": "phases", "phases": [phase]}))
