"""The vscsi reader against libCacheSim's, on small files of both versions written here.

The files are built from the layouts in libCacheSim's traceReader/customizedReader/vscsi.h
with numpy dtypes of this test's own, not the reader's.
"""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from tmemsim.errors import TraceError
from tmemsim.workloads.traces import READ, WRITE, read_trace
from tmemsim.workloads.traces.pipeline import concat

V1 = np.dtype([("sn", "<u4"), ("len", "<u4"), ("nSG", "<u4"), ("cmd", "<u2"), ("ver", "<u2"),
               ("lbn", "<u8"), ("ts", "<u8")])
V2 = np.dtype([("cmd", "<u2"), ("ver", "<u2"), ("sn", "<u4"), ("len", "<u4"), ("nSG", "<u4"),
               ("lbn", "<u8"), ("ts", "<u8"), ("rt", "<u8")])
LAYOUTS = {1: V1, 2: V2}


def vscsi_records(n: int, version: int, seed: int = 0, cmds=(0x28, 0x2A)) -> np.ndarray:
    """n records of mostly unaligned sub-page and multi-page transfers, as the CloudPhysics
    traces have them: lbn in sectors, len in bytes, ts in microseconds."""
    rng = np.random.default_rng(seed)
    rec = np.zeros(n, LAYOUTS[version])
    rec["cmd"] = rng.choice(cmds, n)
    rec["ver"] = version << 8
    rec["sn"] = np.arange(n)
    rec["nSG"] = 1
    rec["lbn"] = rng.integers(0, 1 << 30, n)
    rec["len"] = rng.choice([512, 1024, 3584, 4096, 6656, 53248, 65536, 69632], n)
    rec["ts"] = 5_633_898_368_802 + np.cumsum(rng.integers(0, 3_000_000, n))
    return rec


def write(path, rec: np.ndarray) -> None:
    data = rec.tobytes()
    path.write_bytes(gzip.compress(data) if str(path).endswith(".gz") else data)


def libcachesim_requests(path) -> list[tuple]:
    """(clock_time, obj_id, obj_size, op) of every request libCacheSim's reader gives."""
    lcs = pytest.importorskip("libcachesim")
    reader = lcs.TraceReader(str(path), lcs.TraceType.VSCSI_TRACE)
    out = []
    for _ in range(reader.get_num_of_req()):
        req = reader.read_one_req()
        out.append((req.clock_time, req.obj_id, req.obj_size, req.op.name))
    return out


def our_requests(path, **kwargs):
    return concat(list(read_trace(path, "vscsi", chunk_pages=1000, **kwargs)))


def pages_of(lbn: int, size: int) -> list[int]:
    offset = lbn * 512
    return list(range(offset // 4096, (offset + size - 1) // 4096 + 1))


@pytest.mark.parametrize("version", [1, 2])
def test_reads_as_libcachesim_does(tmp_path, version):
    rec = vscsi_records(3000, version, seed=version)
    path = tmp_path / f"t.v{version}.vscsi"
    write(path, rec)
    theirs = libcachesim_requests(path)
    assert len(theirs) == len(rec)
    ours = our_requests(path)
    t0 = int(rec["ts"][0])
    # one libCacheSim request (an object lbn of len bytes) is the run of pages its bytes cover
    want_pages, want_ops, want_secs = [], [], []
    for clock, lbn, size, op in theirs:
        pages = pages_of(lbn, size)
        want_pages += pages
        want_ops += [{"OP_READ": READ, "OP_WRITE": WRITE}[op]] * len(pages)
        want_secs += [clock] * len(pages)
    assert ours.page.tolist() == want_pages
    assert ours.op.tolist() == want_ops
    # libCacheSim keeps whole seconds of the raw clock, we keep microseconds from the start
    raw_us = np.round(ours.time_s * 1e6).astype(np.int64) + t0
    assert (raw_us // 1_000_000).tolist() == want_secs
    assert raw_us[0] == t0 and set(ours.volume.tolist()) == {0}


@pytest.mark.parametrize("version", [1, 2])
def test_gzip_and_limit(tmp_path, version):
    rec = vscsi_records(500, version)
    write(tmp_path / "t.vscsi", rec)
    write(tmp_path / "t.vscsi.gz", rec)
    plain, zipped = our_requests(tmp_path / "t.vscsi"), our_requests(tmp_path / "t.vscsi.gz")
    assert plain.page.tolist() == zipped.page.tolist()
    stats = {}
    first = our_requests(tmp_path / "t.vscsi.gz", limit=37, stats=stats)
    assert first.page.tolist() == plain.page.tolist()[:37] and stats["pages"] == 37


def test_other_commands_and_empty_transfers_are_filtered(tmp_path):
    # SYNCHRONIZE CACHE, INQUIRY, a zero-length read: libCacheSim gives them as requests of an
    # invalid op or of no bytes; they move no page
    rec = vscsi_records(6, 1)
    rec["cmd"] = [0x28, 0x35, 0x12, 0x28, 0x0A, 0x8A]
    rec["len"] = [4096, 0, 36, 0, 4096, 512]
    rec["lbn"] = [8, 16, 24, 32, 40, 48]
    write(tmp_path / "t.vscsi", rec)
    theirs = libcachesim_requests(tmp_path / "t.vscsi")
    assert [op for *_, op in theirs] == ["OP_READ", "OP_INVALID", "OP_INVALID", "OP_READ",
                                         "OP_INVALID", "OP_WRITE"]
    stats = {}
    ours = our_requests(tmp_path / "t.vscsi", stats=stats)
    # WRITE(6) (0x0a) is a write here; libCacheSim 0.3.5 calls it invalid
    assert ours.page.tolist() == [1, 5, 6] and ours.op.tolist() == [READ, WRITE, WRITE]
    assert stats["records"] == 6 and stats["filtered"] == 3
    assert ours.time_s[0] == 0.0  # the clock starts at the first record, kept or not


@pytest.mark.parametrize("version", [1, 2])
def test_a_truncated_record(tmp_path, version):
    rec = vscsi_records(5, version)
    (tmp_path / "t.vscsi").write_bytes(rec.tobytes() + b"\0" * 7)
    with pytest.raises(TraceError) as err:
        our_requests(tmp_path / "t.vscsi")
    assert err.value.line == 6 and "trailing bytes" in str(err.value)
    stats = {}
    ours = our_requests(tmp_path / "t.vscsi", on_error="skip", stats=stats)
    assert stats["skipped"] == 1 and stats["records"] == 5 and len(ours) > 5


def test_a_record_of_another_version(tmp_path):
    rec = vscsi_records(5, 1)
    rec["ver"][3] = 7 << 8
    write(tmp_path / "t.vscsi", rec)
    with pytest.raises(TraceError) as err:
        our_requests(tmp_path / "t.vscsi")
    assert err.value.line == 4 and "version 1" in str(err.value)
    stats = {}
    our_requests(tmp_path / "t.vscsi", on_error="skip", stats=stats)
    assert stats["skipped"] == 1 and stats["records"] == 4


def test_not_a_vscsi_file(tmp_path):
    (tmp_path / "t.vscsi").write_bytes(b"0,1,2,3\n" * 20)
    with pytest.raises(TraceError, match="not a vscsi trace"):
        our_requests(tmp_path / "t.vscsi")


def test_many_blocks(tmp_path, monkeypatch):
    from tmemsim.workloads import traces

    monkeypatch.setattr(traces.vscsi, "BLOCK_RECORDS", 7)
    rec = vscsi_records(100, 2)
    write(tmp_path / "t.vscsi", rec)
    ours = our_requests(tmp_path / "t.vscsi")
    want = [p for lbn, size in zip(rec["lbn"].tolist(), rec["len"].tolist(), strict=True)
            for p in pages_of(lbn, size)]
    assert ours.page.tolist() == want
