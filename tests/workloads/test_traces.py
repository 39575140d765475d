"""Block-trace readers: parsing, page splitting, filtering, errors and writers.

Every fixture trace is written here into tmp_path; expectations are computed by hand.
"""

from __future__ import annotations

import gzip
import hashlib
import subprocess
import sys
import textwrap
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tmemsim.errors import TraceError
from tmemsim.workloads import traces
from tmemsim.workloads.traces import (
    FORMATS,
    TraceChunk,
    device_volume,
    read_trace,
    write_blkparse,
    write_msr,
    write_oracle_general,
)

T0 = 128166372000000000  # an MSR filetime


def read_all(path, fmt, **kw) -> TraceChunk:
    chunks = list(read_trace(path, fmt, **kw))
    assert all(len(c) for c in chunks)
    if not chunks:
        return TraceChunk(np.zeros(0), np.zeros(0, np.uint8), np.zeros(0, np.int64),
                          np.zeros(0, np.int64), None)
    return traces.pipeline.concat(chunks)


def write_lines(path, lines, newline="\n"):
    path.write_text("".join(line + newline for line in lines))
    return path


def md5(i) -> str:
    return hashlib.md5(str(i).encode()).hexdigest()


def content_id(hexdigest: str) -> int:
    return int.from_bytes(bytes.fromhex(hexdigest)[:8], "little") & ((1 << 63) - 1)


# Fixtures: (lines, options) and the pages/ops/volumes/times they must give ----------------

MSR_LINES = [
    f"{T0},hm,0,Read,0,4096,10",
    f"{T0 + 10000},hm,1,Write,4096,8192,10",  # pages 1, 2
    f"{T0 + 20000},hm,0,read,6144,4096,10",  # bytes 6144..10239: pages 1, 2
    f"{T0 + 30000},hm,0,WRITE,8192,0,10",  # size 0: one page
]
MSR_EXPECT = dict(page=[0, 1, 2, 1, 2, 2], op=[0, 1, 1, 0, 0, 1], volume=[0, 1, 1, 0, 0, 0],
                  time_s=[0, 0.001, 0.001, 0.002, 0.002, 0.003])

V80, V816 = device_volume(8, 0), device_volume(8, 16)
BLKPARSE_LINES = [
    "  8,0    0        1     0.000000000   100  Q   R 0 + 8 [cat]",
    "  8,0    0        2     0.000001000   100  G   R 0 + 8 [cat]",  # other action
    "  8,16   1        3     0.500000000   200  Q  WS 16 + 16 [dd]",  # pages 2, 3
    "  8,0    0        4     1.000000000   100  Q FWS [kworker/0:1]",  # empty flush
    "  8,0    0        5     1.250000000   100  Q   D 64 + 8 [fstrim]",  # discard
    "  8,0    1        6     1.500000000   300  Q  RA 9 + 8 [cat]",  # bytes 4608..8703: 1, 2
    "  8,0    0        7     2.000000000   100  C   R 0 + 8 [0]",
    "",
    "CPU0 (8,0):",
    " Reads Queued:           2,        8KiB  Writes Queued:           1,       8KiB",
    "Total (8,0):",
    "Throughput (R/W): 4KiB/s / 8KiB/s",
    "Events (8,0): 7 entries",
]
BLKPARSE_EXPECT = dict(page=[0, 2, 3, 1, 2], op=[0, 1, 1, 0, 0],
                       volume=[V80, V816, V816, V80, V80], time_s=[0, 0.5, 0.5, 1.5, 1.5])

FIU_TS = 89968195792462
FIU_LINES = [
    f"{FIU_TS} 20782 gzip 0 8 R 6 0 {md5(0)}",
    f"{FIU_TS + 1000} 20782 gzip 8 8 W 6 0 {md5(1)}",
    f"{FIU_TS + 2000} 20782 gzip 16 16 W 6 1 {md5(2)}",  # pages 2, 3, same content
    f"{FIU_TS + 3000} 20782 gzip 3 8 R 6 0 {md5(3)}",  # bytes 1536..5631: pages 0, 1
]
FIU_EXPECT = dict(
    page=[0, 1, 2, 3, 0, 1], op=[0, 1, 1, 1, 0, 0],
    volume=[device_volume(6, 0)] * 2 + [device_volume(6, 1)] * 2 + [device_volume(6, 0)] * 2,
    time_s=[0, 1e-6, 2e-6, 2e-6, 3e-6, 3e-6],
    content=[content_id(md5(i)) for i in (0, 1, 2, 2, 3, 3)],
)

ALIBABA_LINES = ["3,R,0,4096,1000000", "3,W,4096,12288,1500000", "5,R,8192,512,2000000"]
ALIBABA_EXPECT = dict(page=[0, 1, 2, 3, 2], op=[0, 1, 1, 1, 0], volume=[3, 3, 3, 3, 5],
                      time_s=[0, 0.5, 0.5, 0.5, 1.0])

TENCENT_LINES = ["1538323200,0,8,0,7", "1538323201,8,16,1,7", "1538323202,7,2,0,9"]
TENCENT_EXPECT = dict(page=[0, 1, 2, 0, 1], op=[0, 1, 1, 0, 0], volume=[7, 7, 7, 9, 9],
                      time_s=[0, 1, 1, 2, 2])

CSV_COLUMNS = {"time": "ts_ms", "offset": "lba", "size": "len", "op": "rw", "volume": "disk"}
CSV_OPTIONS = dict(columns=CSV_COLUMNS, time_unit="ms", offset_unit="sectors")
CSV_LINES = ["ts_ms,lba,len,rw,disk,extra", "0,0,8,read,2,x", "1500,16,9,W,2,y", "2000,8,0,0,4,z"]
CSV_EXPECT = dict(page=[0, 2, 3, 1], op=[0, 1, 1, 0], volume=[2, 2, 2, 4],
                  time_s=[0, 1.5, 1.5, 2.0])

CASES = {
    "msr": (MSR_LINES, {}, MSR_EXPECT),
    "blkparse": (BLKPARSE_LINES, {}, BLKPARSE_EXPECT),
    "fiu": (FIU_LINES, {}, FIU_EXPECT),
    "alibaba": (ALIBABA_LINES, {}, ALIBABA_EXPECT),
    "tencent": (TENCENT_LINES, {}, TENCENT_EXPECT),
    "csv": (CSV_LINES, CSV_OPTIONS, CSV_EXPECT),
}

BAD_LINES = {
    "msr": [
        "1,hm,0,Read,0",  # field count
        "x,hm,0,Read,0,4096,1",  # non-numeric
        f"{T0},hm,0,Trim,0,4096,1",  # unknown op
        f"{T0},hm,0,Read,0,-1,1",  # negative size
        f"{T0},hm,0,Read,0x10,4096,1",  # hex is not a decimal offset
        f"{T0},hm,0,Read,,4096,1",  # empty field
    ],
    "blkparse": [
        "  8,0    0  8  2.5  100  Q   R abc + 8 [cat]",
        "  8,0    0  8  zz   100  Q   R 0 + 8 [cat]",
        "  8,0    0  8  2.5  100  Q   R 0 - 8 [cat]",
        "  8,0    0",
    ],
    "fiu": [
        f"{FIU_TS} 1 p 0 8 R 6 0 nothex",
        f"{FIU_TS} 1 p 0 8 X 6 0 {md5(9)}",
        f"{FIU_TS} 1 p 0 8 R 6",
        f"{FIU_TS} 1 p -8 8 R 6 0 {md5(9)}",
        f"{FIU_TS} 1 p 0 8 R 6 0 {md5(9)[:-1]}g",
    ],
    "alibaba": ["3,R,0,4096", "3,X,0,4096,1", "3,R,0,-4096,1", "3,R,zero,4096,1"],
    "tencent": ["1,0,8,2,7", "1,0,8,0", "1,0,-8,0,7", "nan,0,8,0,7"],
    "csv": ["1,2,3", "abc,0,8,read,2,x", "0,0,8,maybe,2,x", "0,-1,8,read,2,x"],
}


def check(chunk: TraceChunk, expect: dict):
    assert chunk.page.dtype == np.int64 and chunk.volume.dtype == np.int64
    assert chunk.op.dtype == np.uint8 and chunk.time_s.dtype == np.float64
    assert chunk.page.tolist() == expect["page"]
    assert chunk.op.tolist() == expect["op"]
    assert chunk.volume.tolist() == expect["volume"]
    np.testing.assert_allclose(chunk.time_s, expect["time_s"], rtol=0, atol=1e-9)
    if "content" in expect:
        assert chunk.content.dtype == np.int64
        assert chunk.content.tolist() == expect["content"]
    else:
        assert chunk.content is None


def with_bad_line(lines, bad, at):
    """The fixture with `bad` inserted so that it is line `at` of the file (1-based)."""
    return lines[: at - 1] + [bad] + lines[at - 1 :]


# Parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_each_format_parses_and_splits_pages(tmp_path, fmt):
    lines, options, expect = CASES[fmt]
    check(read_all(write_lines(tmp_path / "t", lines), fmt, **options), expect)


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_crlf_line_endings(tmp_path, fmt):
    lines, options, expect = CASES[fmt]
    check(read_all(write_lines(tmp_path / "t", lines, "\r\n"), fmt, **options), expect)


@pytest.mark.parametrize("fmt", ["msr", "blkparse", "fiu", "alibaba", "tencent", "csv"])
def test_clean_files_take_the_vectorized_path(tmp_path, fmt, monkeypatch):
    def no_line_parsing(*args):
        raise AssertionError("fell back to line-by-line parsing")

    monkeypatch.setattr(traces.text, "parse_lines", no_line_parsing)
    lines, options, expect = CASES[fmt]
    check(read_all(write_lines(tmp_path / "t", lines), fmt, **options), expect)


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_line_parser_agrees_with_the_vectorized_one(tmp_path, fmt):
    # A bad line sends the whole (small) file through the line parser; with on_error="skip"
    # the rows must be exactly those of the clean file, which the fast path parsed.
    lines, options, expect = CASES[fmt]
    clean = read_all(write_lines(tmp_path / "clean", lines), fmt, **options)
    stats = {}
    dirty = read_all(write_lines(tmp_path / "dirty", with_bad_line(lines, BAD_LINES[fmt][0], 3)),
                     fmt, on_error="skip", stats=stats, **options)
    assert stats["skipped"] == 1
    for name in ("time_s", "op", "page", "volume"):
        assert getattr(dirty, name).tolist() == getattr(clean, name).tolist()
    if clean.content is not None:
        assert dirty.content.tolist() == clean.content.tolist()
    check(dirty, expect)


def test_op_codes_match_the_request_streams():
    from tmemsim.workloads.base import OP_READ, OP_WRITE

    assert (traces.READ, traces.WRITE) == (OP_READ, OP_WRITE)


# The fast parsers must never accept a block differently from the line parser: mutate valid
# lines with awkward tokens, and whenever a fast parser accepts the block, compare.
TRICKY = ["", "0", "-1", "+5", " 5", "0x10", "1.0", "1e3", "nan", "inf", "abc", "R", "W", "w",
          "Read", "write", "Q", "C", "FWS", "[p]", "+", "8,0", "99999999999999999999", "4096",
          md5(1), md5(2).upper(), "\u0663", "1_0", '"7"', "\r", "a\rb", "\t", "  ", ""]
FAST_FORMATS = {
    "msr": (MSR_LINES, ",", traces.msr.TEXT),
    "blkparse": (BLKPARSE_LINES[:7], " ", traces.blkparse.text_format("Q")),
    "fiu": (FIU_LINES, " ", traces.fiu.TEXT),
    "alibaba": (ALIBABA_LINES, ",", traces.alibaba.TEXT),
    "tencent": (TENCENT_LINES, ",", traces.tencent.TEXT),
    "csv": (CSV_LINES[1:], ",", traces.csv.text_format_for(
        CSV_LINES[0].split(","), traces.csv.Options(
            columns=CSV_COLUMNS, time_unit="ms", offset_unit="sectors", size_unit="sectors",
            read_values=["read", "0"], write_values=["W", "1"], delimiter=","))),
}


@st.composite
def mutated_lines(draw, fmt):
    lines, sep, _ = FAST_FORMATS[fmt]
    out = []
    for _ in range(draw(st.integers(1, 6))):
        fields = draw(st.sampled_from(lines)).split(sep)
        for _ in range(draw(st.integers(0, 2))):
            i = draw(st.integers(0, len(fields)))
            action = draw(st.sampled_from(["replace", "insert", "delete"]))
            if action == "insert" or i == len(fields):
                fields.insert(i, draw(st.sampled_from(TRICKY)))
            elif action == "replace":
                fields[i] = draw(st.sampled_from(TRICKY))
            elif len(fields) > 1:
                del fields[i]
        out.append(sep.join(fields))
    return out


@pytest.mark.parametrize("fmt", sorted(FAST_FORMATS))
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_fast_parsers_never_disagree_with_line_parsers(fmt, data):
    lines = data.draw(mutated_lines(fmt))
    block = "".join(line + "\n" for line in lines).encode()
    fmt_spec = FAST_FORMATS[fmt][2]
    src = traces.source.Source("t", "skip", dict.fromkeys(traces.STATS_KEYS, 0))
    slow = traces.text.parse_lines(src, fmt_spec, block, 1)
    try:
        fast = fmt_spec.parse_block(block)
    except (traces.values.BadBlock, pa.lib.ArrowException):
        return  # the fast parser declined: the line parser is used, nothing to compare
    assert src.stats["skipped"] == 0, "fast parser accepted a block with malformed lines"
    assert fast.dropped == slow.dropped
    assert len(fast) == len(slow)
    if len(slow) or slow.first_time is not None:
        assert fast.start_time() == slow.start_time()
    for name in ("op", "first_page", "npages", "volume"):
        assert getattr(fast, name).tolist() == getattr(slow, name).tolist(), name
    assert fast.time.astype(np.float64).tolist() == slow.time.astype(np.float64).tolist()
    if slow.content is not None or (fast.content is not None and len(fast.content)):
        assert fast.content.tolist() == slow.content.tolist()


def test_fiu_process_name_with_spaces(tmp_path):
    lines = [f"{FIU_TS} 1 Web Content 8 8 W 6 0 {md5(5)}"]
    chunk = read_all(write_lines(tmp_path / "t", lines), "fiu")
    assert chunk.page.tolist() == [1] and chunk.op.tolist() == [1]
    assert chunk.content.tolist() == [content_id(md5(5))]


def test_blank_lines_are_ignored(tmp_path):
    stats = {}
    lines = MSR_LINES[:2] + ["", "   "] + MSR_LINES[2:]
    check(read_all(write_lines(tmp_path / "t", lines), "msr", stats=stats), MSR_EXPECT)
    assert stats == {"lines": 6, "records": 4, "pages": 6, "skipped": 0, "filtered": 0}


def test_last_line_without_newline(tmp_path):
    path = tmp_path / "t"
    path.write_text("\n".join(MSR_LINES))
    stats = {}
    check(read_all(path, "msr", stats=stats), MSR_EXPECT)
    assert stats["lines"] == 4


def test_blkparse_stats_and_action_option(tmp_path):
    path = write_lines(tmp_path / "t", BLKPARSE_LINES)
    stats = {}
    read_all(path, "blkparse", stats=stats)
    assert stats == {"lines": 13, "records": 7, "pages": 5, "skipped": 0, "filtered": 4}
    chunk = read_all(path, "blkparse", action="C")
    assert chunk.page.tolist() == [0] and chunk.time_s.tolist() == [2.0]


def test_csv_minimal_columns(tmp_path):
    path = write_lines(tmp_path / "t", ["page_no,other", "5,a", "7,b"])
    chunk = read_all(path, "csv", columns={"offset": "page_no"}, offset_unit="pages")
    assert chunk.page.tolist() == [5, 7]
    assert chunk.op.tolist() == [0, 0] and chunk.volume.tolist() == [0, 0]
    assert chunk.time_s.tolist() == [0.0, 0.0]


def test_csv_quoted_fields_and_custom_values(tmp_path):
    path = write_lines(tmp_path / "t", ['"off","kind"', '"4096","get"', '"0","put"'])
    chunk = read_all(path, "csv", columns={"offset": "off", "op": "kind"},
                     read_values=["get"], write_values=["put"])
    assert chunk.page.tolist() == [1, 0] and chunk.op.tolist() == [0, 1]


def test_csv_missing_column_names_it_and_lists_the_header(tmp_path):
    path = write_lines(tmp_path / "t", ["ts,lba,len", "0,0,8"])
    with pytest.raises(TraceError) as err:
        read_all(path, "csv", columns={"offset": "lba", "op": "rw"})
    assert "'rw'" in err.value.message and "ts, lba, len" in err.value.message
    assert err.value.line == 1 and err.value.file == str(path)


def test_csv_needs_columns(tmp_path):
    path = write_lines(tmp_path / "t", CSV_LINES)
    with pytest.raises(ValueError, match="columns"):
        read_trace(path, "csv")
    with pytest.raises(ValueError, match="time_unit"):
        read_trace(path, "csv", columns={"offset": "lba"}, time_unit="fortnights")


# Filtering, chunking, limit ----------------------------------------------------------------


def test_volume_filter(tmp_path):
    stats = {}
    chunk = read_all(write_lines(tmp_path / "t", MSR_LINES), "msr", volume=1, stats=stats)
    assert chunk.page.tolist() == [1, 2] and chunk.op.tolist() == [1, 1]
    # Time stays relative to the first record of the file, not of the volume.
    assert chunk.time_s.tolist() == pytest.approx([0.001, 0.001])
    assert stats == {"lines": 4, "records": 4, "pages": 2, "skipped": 0, "filtered": 3}


def test_fiu_volume_is_major_minor(tmp_path):
    chunk = read_all(write_lines(tmp_path / "t", FIU_LINES), "fiu", volume=device_volume(6, 1))
    assert chunk.page.tolist() == [2, 3]
    assert chunk.content.tolist() == [content_id(md5(2))] * 2


def test_chunk_pages(tmp_path):
    chunks = list(read_trace(write_lines(tmp_path / "t", MSR_LINES), "msr", chunk_pages=4))
    assert [len(c) for c in chunks] == [4, 2]
    check(traces.pipeline.concat(chunks), MSR_EXPECT)


def test_limit(tmp_path):
    path = write_lines(tmp_path / "t", MSR_LINES)
    stats = {}
    chunks = list(read_trace(path, "msr", limit=3, chunk_pages=2, stats=stats))
    assert [len(c) for c in chunks] == [2, 1]
    assert traces.pipeline.concat(chunks).page.tolist() == [0, 1, 2]
    assert stats["pages"] == 3
    assert list(read_trace(path, "msr", limit=0)) == []


def test_huge_request_is_split_in_bounded_pieces(tmp_path, monkeypatch):
    monkeypatch.setattr(traces.pipeline, "MAX_EXPAND", 1000)
    lines = [f"{T0},hm,0,Read,0,4096,1", f"{T0 + 1},hm,0,Write,{1 << 20},{5000 * 4096},1"]
    chunks = list(read_trace(write_lines(tmp_path / "t", lines), "msr", chunk_pages=777))
    assert max(len(c) for c in chunks) == 777
    chunk = traces.pipeline.concat(chunks)
    assert chunk.page.tolist() == [0] + list(range(256, 256 + 5000))
    assert chunk.op.tolist() == [0] + [1] * 5000


def test_many_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(traces.source, "BLOCK_BYTES", 100)  # a few lines per block
    rows = [(i * 0.5, i % 2, i * 4096, 4096 * (1 + i % 3), i % 2) for i in range(200)]
    write_msr(tmp_path / "t", rows)
    stats = {}
    chunk = read_all(tmp_path / "t", "msr", chunk_pages=64, stats=stats)
    assert chunk.page.tolist() == expand(rows)[2]
    assert stats["lines"] == 200 and stats["records"] == 200


# Errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt,bad", [(f, b) for f in sorted(BAD_LINES) for b in BAD_LINES[f]])
def test_malformed_line_names_its_line(tmp_path, fmt, bad):
    lines, options, _ = CASES[fmt]
    path = write_lines(tmp_path / "t", with_bad_line(lines, bad, 3))
    with pytest.raises(TraceError) as err:
        read_all(path, fmt, **options)
    assert err.value.line == 3 and err.value.file == str(path)
    assert err.value.message.startswith("expected ")
    assert repr(bad.strip()[:20])[:-1] in err.value.message  # the line is quoted
    assert str(err.value).startswith(f"{path}, line 3: expected ")


@pytest.mark.parametrize("fmt", sorted(BAD_LINES))
def test_skip_counts_malformed_lines(tmp_path, fmt):
    lines, options, expect = CASES[fmt]
    for bad in BAD_LINES[fmt]:
        lines = with_bad_line(lines, bad, 2 if fmt == "csv" else 1)
    stats = {}
    check(read_all(write_lines(tmp_path / "t", lines), fmt, on_error="skip", stats=stats,
                   **options), expect)
    assert stats["skipped"] == len(BAD_LINES[fmt])


def test_error_line_number_in_a_later_block(tmp_path, monkeypatch):
    monkeypatch.setattr(traces.source, "BLOCK_BYTES", 64)
    lines = [f"{T0 + i},hm,0,Read,{i * 4096},4096,1" for i in range(100)]
    lines[76] = f"{T0},hm,0,Read,oops,4096,1"
    with pytest.raises(TraceError) as err:
        read_all(write_lines(tmp_path / "t", lines), "msr")
    assert err.value.line == 77


@pytest.mark.parametrize("on_error", ["raise", "skip"])
def test_overlong_line(tmp_path, monkeypatch, on_error):
    monkeypatch.setattr(traces.source, "BLOCK_BYTES", 16)
    monkeypatch.setattr(traces.source, "MAX_LINE", 100)
    lines = MSR_LINES[:1] + ["x" * 500] + MSR_LINES[1:]
    path = write_lines(tmp_path / "t", lines)
    stats = {}
    if on_error == "raise":
        with pytest.raises(TraceError) as err:
            read_all(path, "msr")
        assert err.value.line == 2 and "longer than" in err.value.message
    else:
        check(read_all(path, "msr", on_error="skip", stats=stats), MSR_EXPECT)
        assert stats["skipped"] == 1 and stats["lines"] == 5


def test_unknown_format_lists_valid_ones(tmp_path):
    with pytest.raises(ValueError) as err:
        read_trace(tmp_path / "t", "spc")
    for name in FORMATS:
        assert name in str(err.value)


def test_unknown_option(tmp_path):
    path = write_lines(tmp_path / "t", MSR_LINES)
    with pytest.raises(ValueError, match="action"):
        read_trace(path, "msr", action="Q")
    with pytest.raises(ValueError, match="on_error"):
        read_trace(path, "msr", on_error="ignore")


def test_missing_file(tmp_path):
    with pytest.raises(TraceError) as err:
        read_trace(tmp_path / "nope.csv", "msr")
    assert err.value.file == str(tmp_path / "nope.csv")


def test_corrupt_gzip(tmp_path):
    path = tmp_path / "t.gz"
    path.write_bytes(gzip.compress("\n".join(MSR_LINES).encode())[:-12])
    with pytest.raises(TraceError):
        read_all(path, "msr")


# Compression, binary, writers ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_gzip(tmp_path, fmt):
    lines, options, expect = CASES[fmt]
    path = tmp_path / "t.gz"
    path.write_bytes(gzip.compress("".join(line + "\n" for line in lines).encode()))
    check(read_all(path, fmt, **options), expect)


@pytest.mark.parametrize("name", ["t.bin", "t.bin.gz"])
def test_oracle_round_trip(tmp_path, name):
    ids = np.array([1, 2, 3, 1, (1 << 63) + 5, 42], dtype=np.uint64)
    write_oracle_general(tmp_path / name, ids, times=[10, 11, 12, 13, 14, 20])
    chunk = read_all(tmp_path / name, "oracle")
    assert chunk.page.tolist() == [1, 2, 3, 1, 5, 42]  # ids >= 2**63 fold into 63 bits
    assert chunk.time_s.tolist() == [0, 1, 2, 3, 4, 10]
    assert chunk.op.tolist() == [0] * 6 and chunk.volume.tolist() == [0] * 6


def test_oracle_truncated_record(tmp_path):
    path = tmp_path / "t.bin"
    write_oracle_general(path, [7, 8, 9])
    with open(path, "ab") as f:
        f.write(b"\0" * 10)
    with pytest.raises(TraceError) as err:
        read_all(path, "oracle")
    assert err.value.line == 4
    stats = {}
    assert read_all(path, "oracle", on_error="skip", stats=stats).page.tolist() == [7, 8, 9]
    assert stats["skipped"] == 1 and stats["records"] == 3


def test_oracle_many_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(traces.oracle, "BLOCK_RECORDS", 7)
    ids = np.arange(100, dtype=np.uint64) * 3
    write_oracle_general(tmp_path / "t.bin", ids)
    chunks = list(read_trace(tmp_path / "t.bin", "oracle", chunk_pages=16))
    assert traces.pipeline.concat(chunks).page.tolist() == ids.tolist()


def expand(rows):
    """Reference page splitting, one Python loop per request."""
    times, ops, pages, volumes = [], [], [], []
    for time_s, op, offset, size, volume in rows:
        for page in range(offset // 4096, (offset + max(size, 1) - 1) // 4096 + 1):
            times.append(time_s)
            ops.append(op)
            pages.append(page)
            volumes.append(volume)
    return times, ops, pages, volumes


row_lists = st.lists(
    st.tuples(
        st.integers(0, 10**6).map(lambda us: us / 1e6),
        st.integers(0, 1),
        st.integers(0, 1 << 40),
        st.integers(0, 200_000),
        st.sampled_from([0, 1, 5, device_volume(8, 16)]),
    ),
    min_size=1,
    max_size=40,
).map(lambda rows: sorted(rows))


@pytest.mark.parametrize("fmt,writer", [("msr", write_msr), ("blkparse", write_blkparse)])
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=row_lists)
def test_writers_round_trip(tmp_path, fmt, writer, rows):
    path = tmp_path / f"t.{fmt}"
    writer(path, rows)
    chunk = read_all(path, fmt, chunk_pages=50)
    times, ops, pages, volumes = expand(rows)
    assert chunk.page.tolist() == pages
    assert chunk.op.tolist() == ops
    assert chunk.volume.tolist() == volumes
    np.testing.assert_allclose(chunk.time_s, np.array(times) - times[0], rtol=0, atol=2e-7)


# libCacheSim cross-check -------------------------------------------------------------------


def lru_miss_ratio(ids, capacity: int) -> float:
    cache, misses = OrderedDict(), 0
    for x in ids:
        if x in cache:
            cache.move_to_end(x)
        else:
            misses += 1
            cache[x] = None
            if len(cache) > capacity:
                cache.popitem(last=False)
    return misses / len(ids)


@pytest.mark.parametrize("capacity", [10, 200])
def test_libcachesim_reads_written_oracle_traces(tmp_path, capacity):
    lcs = pytest.importorskip("libcachesim")
    rng = np.random.default_rng(7)
    ids = (rng.zipf(1.2, 5000) % 2000 + 1).astype(np.uint64)
    path = tmp_path / "t.oracleGeneral"
    write_oracle_general(path, ids)
    reader = lcs.TraceReader(str(path), lcs.TraceType.ORACLE_GENERAL_TRACE)
    miss_ratio, _ = lcs.LRU(4096 * capacity).process_trace(reader)
    pages = read_all(path, "oracle").page.tolist()
    assert pages == ids.tolist()
    assert miss_ratio == pytest.approx(lru_miss_ratio(pages, capacity), abs=1e-12)


# Memory ----------------------------------------------------------------------------------------


def _msr_file(path, n: int, step: int = 500_000) -> None:
    rng = np.random.default_rng(1)
    with open(path, "w") as f:
        for start in range(0, n, step):
            m = min(step, n - start)
            ts = T0 + np.arange(start, start + m) * 100
            off = rng.integers(0, 1 << 26, m) * 512
            size = rng.choice([512, 4096, 65536], m)
            f.write("".join(f"{t},hm,{t % 3},{'Read' if s != 4096 else 'Write'},{o},{s},9\n"
                            for t, o, s in zip(ts.tolist(), off.tolist(), size.tolist(),
                                               strict=True)))


def _peak_rss_mib_reading(path, n: int) -> float:
    """Peak RSS of a fresh process that streams the whole trace at path (n records)."""
    script = textwrap.dedent(f"""
        import resource
        from tmemsim.workloads.traces import read_trace
        stats = {{}}
        pages = sum(len(c) for c in read_trace({str(path)!r}, "msr", stats=stats))
        assert stats["records"] == {n} and pages == stats["pages"]
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """)
    root = Path(traces.__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, cwd=root)
    return int(out.stdout.split()[-1]) / 1024


@pytest.mark.slow
def test_streaming_memory_stays_bounded(tmp_path):
    # Reading 3M lines (~150 MB) must not hold the file: the peak RSS may grow by far less than
    # the 135 MB more it has than a 300k-line file. Measured against that smaller file, not as
    # an absolute figure: the same fresh process peaked at 194 to 370 MiB on one machine,
    # depending on what ran before it, whatever the file's size.
    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    _msr_file(small, 300_000)
    _msr_file(big, 3_000_000)
    base = _peak_rss_mib_reading(small, 300_000)
    peak = _peak_rss_mib_reading(big, 3_000_000)
    assert peak - base < 48, f"peak RSS {peak:.0f} MiB against {base:.0f} MiB for a tenth"


# oracleGeneral object sizes --------------------------------------------------------------------


def test_oracle_objects_span_the_pages_of_their_size(tmp_path):
    # sizes 0 and 1..4096 are one page, 4097 two, 64 KiB sixteen
    write_oracle_general(tmp_path / "t.bin", [10, 20, 30, 40, 50],
                         size=[0, 1, 4096, 4097, 65536])
    chunk = read_all(tmp_path / "t.bin", "oracle")
    assert chunk.page.tolist() == [10, 20, 30, 40, 41, *range(50, 66)]
    assert chunk.op.tolist() == [0] * 21  # reads


def test_oracle_general_is_the_oracle_format(tmp_path):
    path = tmp_path / "t.bin"
    write_oracle_general(path, [3, 1 << 40], times=[4, 6], size=[8192, 100])
    a, b = read_all(path, "oracle"), read_all(path, "oracleGeneral")
    assert a.page.tolist() == b.page.tolist() == [3, 4, 1 << 40]
    assert a.time_s.tolist() == b.time_s.tolist() == [0, 0, 2]


def test_oracle_large_ids_leave_room_for_the_object(tmp_path):
    # an id at the top of 63 bits folds down, so its object's pages stay non-negative int64
    top = (1 << 63) - 1
    write_oracle_general(tmp_path / "t.bin", [top, 7], size=[3 * 4096, 4096])
    pages = read_all(tmp_path / "t.bin", "oracle").page
    assert (pages >= 0).all() and pages.tolist()[1:3] == [pages[0] + 1, pages[0] + 2]
    assert pages.tolist()[3] == 7


# Which pages a request covers in part -----------------------------------------------------------


@pytest.mark.parametrize("offset,size,partial", [
    (0, 4096, [False]), (4096, 8192, [False, False]), (0, 100, [True]), (512, 1024, [True]),
    (2048, 8192, [True, False, True]), (512, 4096, [True, True]), (0, 6144, [False, True]),
    (1024, 3072, [True]), (0, 0, [False]), (512, 0, [True]),  # size 0: "one page"
])
def test_partial_pages(tmp_path, offset, size, partial):
    write_msr(tmp_path / "t.csv", [(0.0, 1, offset, size, 0), (1.0, 1, 0, 4096, 0)])
    for chunk_pages in (1, 100):
        chunk = read_all(tmp_path / "t.csv", "msr", chunk_pages=chunk_pages)
        assert chunk.partial.tolist() == [*partial, False]
