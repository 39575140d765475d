"""The `kind: trace` workload: a block trace replayed as one guest's request stream.

Pages and ops come from the file (streamed in chunks by `traces.read_trace`); time comes from
the trace's clock (an open loop) or from think_time after each request (a closed loop).
"""

from __future__ import annotations

import json
import os
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from ..errors import TraceError
from ..fields import DurationOrZero, Pages
from .base import (
    CHUNK,
    OP_WRITE,
    OP_WRITE_PARTIAL,
    PageSampler,
    RequestStream,
    WorkloadBase,
    as_list,
)
from .traces import FORMATS, OptionError, read_trace

# what reading a file found in this process, by (question, file identity, reading options):
# ("footprint", ...) -> pages, ("requests", ...) -> "" or why the trace has none
_SCANNED: dict[tuple, int | str] = {}


class Trace(WorkloadBase):
    """Replay of a block trace; see docs/workloads.md for every format and option.

    The footprint is declared (`footprint`) or, when absent, found by reading the file once:
    the scenario needs it before the run to check the guest's disk is large enough.
    """

    kind: Literal["trace"] = "trace"
    examples: ClassVar[list[dict]] = [{"format": "msr", "path": "example.msr", "wrap": True,
                                       "footprint": 64},
                                      {"format": "csv", "path": "example.csv",
                                       "timing": "closed", "wrap": True, "footprint": 64}]
    format: str
    path: str
    volume: int | None = Field(None, ge=0)
    timing: Literal["trace", "closed"] = "trace"
    speed: float = Field(1.0, gt=0)
    limit: int | None = Field(None, gt=0)
    on_error: Literal["raise", "skip"] = "raise"
    footprint: Pages | None = None
    wrap: bool = False
    columns: dict[str, str] | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    # where the replay starts: a record index (of the records `volume` keeps) or a fraction of
    # the records, wrapping round to the first record after the last (None: the first record)
    start: int | float | None = None
    spread: bool = True  # with a guest's count: N, clone i starts i/N of the trace further on
    time_shift: DurationOrZero = 0.0  # the replay's first request comes this late

    @field_validator("format")
    @classmethod
    def _known_format(cls, value):
        if value not in FORMATS:
            raise ValueError(f"unknown trace format {value!r}; valid formats: "
                             f"{', '.join(sorted(FORMATS))}")
        return value

    @field_validator("start")
    @classmethod
    def _start_in_range(cls, value):
        if isinstance(value, float) and not 0 <= value < 1:
            raise ValueError(f"start is a record index (a whole number) or a fraction of the "
                             f"trace at least 0 and below 1, got {value}")
        if isinstance(value, int) and value < 0:
            raise ValueError(f"start is a record index, at least 0, got {value}")
        return value

    @field_validator("path")
    @classmethod
    def _existing_file(cls, value, info: ValidationInfo):
        path = os.path.expanduser(value)
        # The scenario loader may say where its file is: a relative path is read from there.
        base = (info.context or {}).get("scenario_dir")
        if base is not None and not os.path.isabs(path):
            path = os.path.join(base, path)
        if not os.path.isfile(path):
            where = "" if os.path.isabs(path) or base is not None else (
                " (a relative path is read from the current directory)")
            raise ValueError(f"no such trace file {path!r}{where}")
        return path

    @model_validator(mode="after")
    def _consistent(self):
        # what is set to other than its default: a scenario dumped with its defaults (results'
        # scenario.yaml, every sweep point) loads again
        fields = type(self).model_fields
        given = {name for name in self.model_fields_set if getattr(self, name) !=
                 fields[name].get_default(call_default_factory=True)}
        if "read_fraction" in given:
            raise ValueError("read_fraction does not apply: a trace's reads and writes are "
                             "its own")
        if "arrival" in given:
            raise ValueError("arrival does not apply: timing: trace replays the trace's own "
                             "arrival times, timing: closed uses think_time")
        if "think_time" in given and self.timing == "trace":
            raise ValueError("think_time needs timing: closed (timing: trace replays the "
                             "trace's own times)")
        if self.anon is not None:
            raise ValueError("anon does not apply to a trace: it would replace some of the "
                             "trace's requests")
        if self.threads != 1:
            raise ValueError("a trace is one request stream: threads must be 1 (give several "
                             "guests to replay it several times)")
        if self.wrap and self.footprint is None:
            raise ValueError("wrap: true needs a footprint: trace pages are taken modulo it")
        self._check_options()
        try:
            empty = self._no_requests()  # checks the file's first block
        except (ValueError, TraceError) as exc:
            raise ValueError(str(exc)) from None
        if empty:
            raise ValueError(empty)
        return self

    def _check_options(self) -> None:
        """`options` (and `columns`) against what the format declares, located at the option."""
        if self.columns is not None and "columns" in self.options:
            raise _located("columns are given twice, as columns and as options.columns",
                           ("options", "columns"))
        given = dict(self.options)
        if self.columns is not None:
            given["columns"] = self.columns
        try:
            FORMATS[self.format].parse_options(given)
        except OptionError as exc:
            if exc.option in self.options:
                where: tuple = ("options", exc.option)
            else:
                where = ("columns",) if exc.option == "columns" and self.columns is not None else ()
            raise _located(str(exc), where) from None

    def read(self, chunk_pages: int = CHUNK, stats: dict | None = None):
        """The trace's page requests as TraceChunks, streamed (never the whole file at once).

        stats, if given, is filled with lines, records, pages, skipped and filtered counts."""
        return read_trace(self.path, self.format, volume=self.volume, chunk_pages=chunk_pages,
                          on_error=self.on_error, limit=self.limit, stats=stats,
                          start=self.start_record(), **self.reader_options())

    def reader_options(self) -> dict:
        """The format's options as read_trace takes them, `columns` among them (never given
        twice: _check_options refuses that)."""
        options = dict(self.options)
        if self.columns is not None:
            options["columns"] = self.columns
        return options

    def start_record(self) -> int:
        """The index of the record the replay starts at (a fraction counts the records)."""
        if not isinstance(self.start, float):
            return self.start or 0
        return int(self.start * self.records())

    def records(self) -> int:
        """How many records the replay has (those `volume` keeps, whatever `limit`): read once
        per process when asked."""
        key = self._key("records")
        if key not in _SCANNED:
            stats: dict = {}
            for _ in read_trace(self.path, self.format, volume=self.volume,
                                on_error=self.on_error, stats=stats, **self.reader_options()):
                pass
            _SCANNED[key] = stats["records"] - stats["filtered"]
        return _SCANNED[key]

    def clone_of(self, index: int, count: int) -> Trace:
        """Clone `index` of `count` (a guest's count): with `spread`, it starts index/count of
        the records after `start`, so clones replay one trace without running in lockstep."""
        if not self.spread or count == 1 or index == 0:
            return self
        n = self.records()
        first = self.start_record() % n
        return self.model_copy(update={"start": (first + index * n // count) % n})

    def start_delay(self) -> float:
        return self.time_shift

    def open_loop(self) -> bool:
        return self.timing == "trace"

    def may_write(self) -> bool:
        return True  # the file says, and it is read only when replayed

    def footprint_pages(self) -> int:
        if self.footprint is not None:
            return self.footprint
        key = self._key("footprint")
        if key not in _SCANNED:
            _SCANNED[key] = max((int(c.page.max()) + 1 for c in self.read() if len(c)),
                                default=0)
        return _SCANNED[key]

    def _no_requests(self) -> str:
        """Why the trace gives no page request at all, or "" when it gives one. Reads up to
        the first request kept: usually one block of the file, the whole file only when it
        has none (say, a `volume` it does not hold)."""
        key = self._key("requests")
        if key not in _SCANNED:
            stats: dict = {}
            chunks = self.read(chunk_pages=1, stats=stats)
            try:
                found = next(chunks, None) is not None
            finally:
                chunks.close()
            _SCANNED[key] = "" if found else (
                f"no requests in trace {self.path}: {stats['lines']} line(s), "
                f"{stats['records']} record(s), {stats['filtered']} filtered out (volume or "
                f"format rule), {stats['skipped']} malformed line(s) skipped")
        return _SCANNED[key]

    def _key(self, question: str) -> tuple:
        st = os.stat(self.path)
        # where the replay starts changes which pages a limited replay reaches
        start = self.start if self.limit is not None else None
        return (question, os.path.abspath(self.path), st.st_mtime_ns, st.st_size, self.format,
                self.volume, self.limit, start, self.on_error,
                json.dumps([self.columns, self.options], sort_keys=True, default=str))

    def sampler(self, rng):
        return TraceSampler(self)

    def stream(self, seed: np.random.SeedSequence) -> TraceStream:
        return TraceStream(self, seed)


def _located(message: str, where: tuple) -> ValidationError:
    """A validation error at `where` within the workload (the loader adds file and line)."""
    error = PydanticCustomError("value_error", "Value error, {error}", {"error": message})
    return ValidationError.from_exception_data(
        Trace.__name__, [InitErrorDetails(type=error, loc=where, input=message)])


_NO_PAGES = np.zeros(0, dtype=np.int64)
# the trace stat counting page requests stamped earlier than one before them (timing: trace)
BACKWARD = "backward"


def backward_note(traces: dict) -> str | None:
    """One line for a person when replayed traces went back in time, else None.

    traces: meta.json's "traces", {policy: {guest: stats}}; every policy replays the same
    requests, so each guest's largest count is told."""
    counts: dict[str, int] = {}
    for by_guest in traces.values():
        for guest, stats in by_guest.items():
            counts[guest] = max(counts.get(guest, 0), stats.get(BACKWARD, 0))
    late = {g: n for g, n in counts.items() if n}
    if not late:
        return None
    if len(late) == 1:
        (guest, n), = late.items()
        what = f"the trace of guest {guest} has {n} page request(s)"
    else:
        shown = ", ".join(f"{g} ({n})" for g, n in list(late.items())[:3])
        more = f" and {len(late) - 3} more" if len(late) > 3 else ""
        what = f"the traces of guests {shown}{more} have page requests"
    return (f"{what} whose timestamps go backwards; replayed in file order on the trace's "
            "running clock, each issued at once (see docs/workloads.md)")


class TraceSampler(PageSampler):
    """The trace's pages in order, its ops, and the gaps between its timestamps."""

    def __init__(self, spec: Trace):
        self.stats: dict = {}  # what read_trace counted, and `backward`: in meta.json
        self._chunks = spec.read(stats=self.stats)
        self.stats[BACKWARD] = 0
        self._chunk = None
        self._pos = 0
        self._ops = self._times = _NO_PAGES
        self._clock = -np.inf  # the latest timestamp served: out-of-order records wait for it
        self._served = 0
        self._path, self._wrap = spec.path, spec.wrap
        self._footprint = spec.footprint

    def _current(self):
        """The chunk holding the next request (reading one more if needed), None at the end."""
        if self._chunk is None or self._pos >= len(self._chunk):
            self._chunk, self._pos = next(self._chunks, None), 0
        return self._chunk

    def draw(self, n: int) -> np.ndarray:
        chunk = self._current()
        if chunk is None:
            self._ops = self._times = _NO_PAGES
            return _NO_PAGES
        a, b = self._pos, min(self._pos + n, len(chunk))
        self._pos = b
        self._ops, self._times = chunk.op[a:b], chunk.time_s[a:b]
        if chunk.partial is not None:  # a write of part of a page reads it first if uncached
            ops = self._ops
            self._ops = np.where((ops == OP_WRITE) & chunk.partial[a:b], OP_WRITE_PARTIAL, ops)
        pages = self._place(chunk.page[a:b])
        self._served += b - a
        return pages

    def _place(self, pages: np.ndarray) -> np.ndarray:
        if self._footprint is None:  # found by scanning this very file: every page fits
            return pages
        if self._wrap:
            return pages % self._footprint
        beyond = np.flatnonzero(pages >= self._footprint)
        if len(beyond):
            i = int(beyond[0])
            raise TraceError(f"request {self._served + i + 1} is page {int(pages[i])}, beyond "
                             f"the declared footprint of {self._footprint} pages; declare a "
                             f"larger footprint or wrap: true", file=self._path)
        return pages

    def ops(self, n: int) -> np.ndarray:
        return self._ops

    def gaps(self) -> np.ndarray:
        """Seconds from each request of the last draw to the next one (0 after the last)."""
        times = self._times
        if not len(times):
            return np.zeros(0)
        following = self._current()
        after = following.time_s[self._pos : self._pos + 1] if following is not None else times[-1:]
        # a running maximum keeps the replay on the trace's clock through unsorted records:
        # a request stamped before the clock is issued at once, and counted
        clock = np.maximum.accumulate(np.concatenate(([self._clock], times, after)))
        self.stats[BACKWARD] += int(np.count_nonzero(times < clock[: len(times)]))
        self._clock = clock[-2]
        return np.diff(clock[1:])


class TraceStream(RequestStream):
    """A RequestStream whose ops come from the trace, and whose gaps too with timing: trace."""

    __slots__ = ()

    @property
    def trace_stats(self) -> dict:
        """Lines read, records, pages, malformed lines skipped (on_error: skip), filtered."""
        return dict(self._sampler.stats)

    def next_chunk(self, n: int = CHUNK):
        spec, sampler = self.spec, self._sampler
        pages = sampler.draw(n)
        n = len(pages)
        ops = sampler.ops(n)
        if spec.timing == "trace":  # the two values of a Literal, not a registry
            gaps = sampler.gaps() / spec.speed
        else:
            gaps = spec.think_time.sample(self._gap_rng, n)
        # FIU's content ids are not used yet: a write's new bytes come from dup_writes
        dup = self._content_rng.random(n) < spec.dup_writes
        return as_list(ops), pages.tolist(), as_list(gaps), as_list(dup)
