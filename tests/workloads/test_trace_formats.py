"""Every registered trace format, driven by the registry (the `trace_format` fixture of
tests/conftest.py): its example reads back, its options are its declared ones. A format added
to FORMATS is covered here without editing a list.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tmemsim.errors import ScenarioError
from tmemsim.scenario import load_scenario
from tmemsim.units import PAGE_SIZE
from tmemsim.workloads import WORKLOADS
from tmemsim.workloads.traces import (
    FORMATS,
    READ,
    WRITE,
    Example,
    OptionError,
    TraceFormat,
    read_trace,
    write_csv,
    write_msr,
)
from tmemsim.workloads.traces.dialect import Column, CsvDialect, Extent, text_format
from tmemsim.workloads.traces.text import read_text


def expected_requests(rows):
    """One request per page each row covers: (time since the first row, op, page, volume)."""
    t0 = rows[0][0]
    return [(time_s - t0, op, page, volume) for time_s, op, offset, size, volume in rows
            for page in range(offset // PAGE_SIZE, (offset + max(size, 1) - 1) // PAGE_SIZE + 1)]


def check_example(fmt: TraceFormat, path: Path, name: str | None = None) -> None:
    """The format's example file, read back through read_trace, gives the example's rows."""
    example = fmt.example
    example.write(path, example.rows)
    chunks = list(read_trace(path, name or fmt.name, **example.options))
    got = [(t, int(op), int(page), int(volume)) for c in chunks
           for t, op, page, volume in zip(c.time_s.tolist(), c.op, c.page, c.volume,
                                          strict=True)]
    want = expected_requests(example.rows)
    assert [g[1:] for g in got] == [w[1:] for w in want]
    np.testing.assert_allclose([g[0] for g in got], [w[0] for w in want], rtol=0, atol=1e-6)


def test_every_format_reads_back_its_example(tmp_path, trace_format):
    name = trace_format
    fmt = FORMATS[name]
    assert name in (fmt.name, *fmt.aliases)
    rows = fmt.example.rows
    # an example worth the name: several records, more pages than records
    assert len(rows) >= 3
    assert len(expected_requests(rows)) > len(rows)
    check_example(fmt, tmp_path / f"example.{name}", name)


def test_every_format_rejects_options_it_does_not_declare(tmp_path, trace_format):
    name = trace_format
    fmt = FORMATS[name]
    path = tmp_path / "t"
    fmt.example.write(path, fmt.example.rows)
    with pytest.raises(OptionError) as err:
        read_trace(path, name, **fmt.example.options, no_such_option=1)
    assert err.value.option == "no_such_option"
    assert f"unknown option(s) no_such_option for trace format {fmt.name!r}" in str(err.value)
    for declared in fmt.options.model_fields:
        assert declared in str(err.value)


def toy_format(write=None) -> TraceFormat:
    """A format of one page number per line, declared as a dialect: reads of volume 0."""
    dialect = CsvDialect(fields=("page",), offset=Extent("page", unit=PAGE_SIZE))
    parsers = text_format(dialect)

    def write_pages(path, rows):
        Path(path).write_text("".join(f"{offset // PAGE_SIZE}\n" for _, _, offset, _, _ in rows))

    return TraceFormat(name="toy", read=lambda src, options: read_text(src, parsers),
                       example=Example(write or write_pages, rows=(
                           (0, READ, 0, 0, 0), (0, READ, 3 * PAGE_SIZE, 0, 0),
                           (0, READ, PAGE_SIZE, 100, 0))))


def test_a_registered_toy_format_is_picked_up(tmp_path, monkeypatch):
    monkeypatch.setitem(FORMATS, "toy", toy_format())
    check_example(FORMATS["toy"], tmp_path / "t.toy")
    spec = WORKLOADS["trace"](format="toy", path=str(tmp_path / "t.toy"))
    assert spec.footprint_pages() == 4
    with pytest.raises(OptionError, match="unknown option"):
        read_trace(tmp_path / "t.toy", "toy", action="Q")


def test_an_example_that_does_not_read_back_fails_the_check(tmp_path, monkeypatch):
    def wrong_pages(path, rows):  # one page off
        Path(path).write_text("".join(f"{offset // PAGE_SIZE + 1}\n" for _, _, offset, _, _ in rows))

    monkeypatch.setitem(FORMATS, "toy", toy_format(wrong_pages))
    with pytest.raises(AssertionError):
        check_example(FORMATS["toy"], tmp_path / "t.toy")


def test_a_format_cannot_be_declared_without_an_example():
    with pytest.raises(TypeError):
        TraceFormat(name="bare", read=lambda src, options: iter(()))


def test_a_dialect_column_must_be_one_of_its_fields():
    with pytest.raises(ValueError, match="size field 'length'"):
        CsvDialect(fields=("offset",), offset=Extent("offset"), size=Extent("length"))
    with pytest.raises(ValueError, match="volume field 'disk'"):
        CsvDialect(fields=("offset",), offset=Extent("offset"), volume=Column("disk"))


def test_named_formats_are_dialects_of_the_generic_csv(tmp_path):
    # An MSR file with a header naming its fields, read as `csv` with MSR's columns, gives
    # the pages, ops and volumes the msr format gives (MSR's 100 ns ticks are not a csv unit).
    rows = [(0.0, READ, 0, 4096, 0), (0.5, WRITE, 6144, 8192, 1), (1.0, WRITE, 1 << 30, 0, 1)]
    write_msr(tmp_path / "t.msr", rows)
    header = "Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime\n"
    (tmp_path / "t.csv").write_text(header + (tmp_path / "t.msr").read_text())
    msr = list(read_trace(tmp_path / "t.msr", "msr"))[0]
    csv = list(read_trace(tmp_path / "t.csv", "csv", columns={
        "offset": "Offset", "size": "Size", "op": "Type", "volume": "DiskNumber"}))[0]
    for name in ("page", "op", "volume"):
        assert getattr(csv, name).tolist() == getattr(msr, name).tolist()


def test_csv_example_columns_and_units(tmp_path):
    write_csv(tmp_path / "t.csv", [(0.25, WRITE, 8192, 4096, 3)])
    assert (tmp_path / "t.csv").read_text().splitlines() == [
        "time_s,op,offset,size,volume", "0.25,W,8192,4096,3"]


# Options in a scenario: checked against the format's declaration, located at the option -----


def load_error(tmp_path, workload_yaml: str) -> ScenarioError:
    write_msr(tmp_path / "t.msr", [(0.0, READ, 0, 4096, 0), (0.1, READ, 4096, 4096, 0)])
    write_csv(tmp_path / "t.csv", [(0.0, READ, 0, 4096, 0), (0.1, READ, 4096, 4096, 0)])
    path = tmp_path / "s.yaml"
    path.write_text(
        "seed: 1\nduration: 1s\nhost: {memory: 1GiB}\ndisks: {d: {kind: ssd}}\n"
        "policies: [none]\nguests:\n  - name: g\n    memory: 4MiB\n    disk: {size: 1GiB}\n"
        f"    workload:\n{workload_yaml}")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    return err.value


def test_an_option_a_format_does_not_declare_is_located(tmp_path):
    err = load_error(tmp_path, "      kind: trace\n      format: msr\n      path: t.msr\n"
                               "      options:\n        action: Q\n")
    assert err.path == "guests[0].workload.options.action" and err.line == 15
    assert err.message == "unknown option(s) action for trace format 'msr'; valid: none"


def test_a_bad_option_value_is_located(tmp_path):
    err = load_error(tmp_path, "      kind: trace\n      format: csv\n      path: t.csv\n"
                               "      columns: {offset: offset}\n"
                               "      options:\n        time_unit: fortnights\n")
    assert err.path == "guests[0].workload.options.time_unit" and err.line == 16
    assert err.message.startswith("time_unit must be one of s, ms, us, ns")
    err = load_error(tmp_path, "      kind: trace\n      format: csv\n      path: t.csv\n"
                               "      columns: {offset: offset, speed: op}\n")
    assert err.path == "guests[0].workload.columns" and err.line == 14
    assert err.message.startswith("unknown csv column key(s) speed")


def test_csv_columns_given_twice_is_located(tmp_path):
    err = load_error(tmp_path, "      kind: trace\n      format: csv\n      path: t.csv\n"
                               "      columns: {offset: offset}\n"
                               "      options: {columns: {offset: offset}}\n")
    assert err.path == "guests[0].workload.options.columns" and err.line == 15
    assert "given twice" in err.message


def test_csv_columns_as_an_option_are_read(tmp_path):
    """`options: {columns: ...}` is the same as `columns:` (it was accepted, then the reader got
    columns twice)."""
    write_csv(tmp_path / "t.csv", [(0.0, READ, 0, 8192, 0), (0.1, WRITE, 4096 * 5, 4096, 0)])
    columns = {"offset": "offset", "size": "size", "op": "op"}
    one = WORKLOADS["trace"](format="csv", path=str(tmp_path / "t.csv"), options={
        "columns": columns})
    other = WORKLOADS["trace"](format="csv", path=str(tmp_path / "t.csv"), columns=columns)
    for spec in (one, other):
        chunk = list(spec.read())[0]
        assert chunk.page.tolist() == [0, 1, 5] and chunk.op.tolist() == [READ, READ, WRITE]
