"""What a scenario costs to simulate: the simulator's own memory, estimated from the resolved
scenario before anything runs, and whether this machine has that much.

The estimate leans high: every structure is counted at the largest size the scenario lets it
reach — a cache at its capacity, or at the pages its workloads can touch if those are fewer; a
map of written pages at every page a workload can touch. Of what grows with simulated time,
only the time series is counted (its length is duration / sample_interval). Per-entry costs
are CPython's, measured (PRICES and the constants below); numpy arrays are counted by their
size (each workload's `array_bytes`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..caches import cache_class
from ..images import PAGE_BITS
from ..policies import POLICIES
from ..units import PAGE_SIZE, format_size
from ..workloads.base import CHUNK

# Bytes per entry of the containers that hold pages, keys and values included: the most
# tracemalloc saw per entry over 10^4 to 7·10^5 int keys >= 2^40 (not small cached ints), a
# dict being largest just after it grows (CPython 3.11, 64-bit):
#   map      dict int -> int                101-132
#   ordered  OrderedDict int -> int         146-188
#   set      set of ints                     84-141
#   pair     OrderedDict int -> (int, int)  233-280
PRICES = {"map": 135, "ordered": 190, "set": 145, "pair": 280}
# A request stream's chunk as Python lists (op, vpage, gap and dup flag per request) and the
# latencies recorded since the last chunk: a guest with one thread raised the peak RSS by
# 6.4 MiB (110 guests against 10, exponential think times; 4.3 MiB with constant ones).
THREAD_BYTES = CHUNK * 112
# A guest's fixed part: latency histogram (2,201 int64 buckets), counters, files, agenda.
GUEST_BYTES = 64 << 10
# One row of the time series (time, guest, metric, value) as a tuple in a list, and its share
# of the table made from them; 9 rows per guest and up to 4 for the host at each sample.
SAMPLE_BYTES = 200
# Python with numpy, pandas, simpy, pydantic and pyarrow imported and a scenario loaded: a
# peak RSS of 117-131 MiB.
BASE_BYTES = 160 << 20
# An estimate above this share of the machine's memory is refused: the rest is the system's.
SHARE = 0.9


@dataclass(frozen=True)
class Item:
    """Bytes the simulator needs for one part of the scenario, and the YAML path that sets
    them (`count` when the guests are many copies of one that alone would fit)."""

    path: tuple
    what: str
    nbytes: int


def _price(containers) -> int:
    return sum(PRICES[c] for c in containers)


def _workload_path(i: int, workload) -> tuple:
    # the key that sizes a workload's tables, when the workload has one of that name
    if "footprint" in workload.model_fields_set:
        return "guests", i, "workload", "footprint"
    return "guests", i, "workload"


def estimate(s) -> list[Item]:
    """The scenario's memory, item by item (a resolved Scenario: references checked)."""
    items = [Item((), "Python and the libraries", BASE_BYTES)]
    reach_all = 0  # locations the guests can touch: file pages and swap slots
    touched: dict[str, int] = {}  # image -> pages its clones can read
    tables: set[int] = set()  # workload specs whose shared arrays are counted
    floors = 0
    for i, g in enumerate(s.guests):
        w = g.workload
        files = w.footprint_pages()
        anon = w.anon.size if w.anon is not None else 0
        reach = files + anon
        reach_all += g.count * reach
        floors += g.count * min(g.floor_bytes(), g.memory)
        if g.disk.image is not None:
            touched[g.disk.image] = touched.get(g.disk.image, 0) + g.count * files
        shared, each = w.array_bytes()
        if id(w) not in tables:  # the copies of one guest share its spec, and its tables
            tables.add(id(w))
            items.append(Item(_workload_path(i, w), f"the page tables of guests[{i}]", shared))
        cache = min((g.max_bytes() - g.reserved) // PAGE_SIZE, reach)
        written = (files if w.may_write() else 0) + anon
        one = (GUEST_BYTES + w.threads * (THREAD_BYTES + each)
               + cache * _price(cache_class(g.cache).PER_PAGE)
               + min(cache, written) * PRICES["ordered"]  # dirty pages
               + written * 2 * PRICES["map"]  # each page's last write; what reached the disk
               + anon * (PRICES["map"] + PRICES["set"]))  # swap slots, dirty anonymous
        items.append(Item(("guests", i), f"the {g.count} guest(s) of guests[{i}]", g.count * one))
    pool = (s.host.memory - s.host.reserved - floors) // PAGE_SIZE  # all balloons at floor
    per_page = max((_price(POLICIES[p.kind].per_pool_page(p.make_options()))
                    for p in s.policy_specs()), default=0)
    items.append(Item(("host", "memory"), "the hypervisor pool",
                      min(pool, reach_all) * per_page))
    for name, pages in touched.items():
        image = s.images[name]
        if image.zero_fraction or image.internal_dup:  # a memo of the pages read
            memo = min(image.size // PAGE_SIZE, pages) * PRICES["map"]
            items.append(Item(("images", name), f"the contents of image {name}", memo))
    if s.duration is not None:
        samples = int((s.warmup + s.duration) / s.sample_interval) + 2
        guests = sum(g.count for g in s.guests)
        rows = samples * (9 * guests + 4) * len(s.policy_specs())  # compare keeps every run
        items.append(Item(("sample_interval",), "the time series", rows * SAMPLE_BYTES))
    return items


def total(items: list[Item]) -> int:
    return sum(item.nbytes for item in items)


def machine_memory() -> int | None:
    """This machine's memory, or its cgroup's limit if lower; None if it cannot be told."""
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    limit = _cgroup_limit()
    return min(memory, limit) if limit else memory


def _cgroup_limit() -> int | None:
    """The lowest memory.max on this process's cgroup (v2) path, if any is set and readable."""
    try:
        text = Path("/proc/self/cgroup").read_text()
    except OSError:
        return None
    found = re.search(r"^0::(/.*)$", text, re.MULTILINE)
    if not found:
        return None
    group = Path("/sys/fs/cgroup" + found.group(1))
    limits = []
    for d in (group, *group.parents):
        try:
            value = (d / "memory.max").read_text().strip()
        except OSError:
            continue
        if value.isdigit():
            limits.append(int(value))
    return min(limits) if limits else None


def spoken(nbytes: float) -> str:
    """"128 GiB": format_size with a space, as a sentence says it."""
    return re.sub(r"^([\d.]+)", r"\1 ", format_size(nbytes))


def problem(s, machine: int | None = None) -> tuple[tuple, str] | None:
    """(YAML path, message) if the scenario cannot be simulated on this machine, else None:
    more memory than the machine has, or more pages than a location can address."""
    items = estimate(s)
    need = total(items)
    machine = machine_memory() if machine is None else machine
    if machine is not None and need > SHARE * machine:
        worst = max(items, key=lambda item: item.nbytes)
        path = worst.path
        if len(path) == 2 and path[0] == "guests":  # a guest: its count, or what sizes one
            g = s.guests[path[1]]
            one = worst.nbytes // g.count
            path = (("guests", path[1], "count") if g.count > 1 and one <= SHARE * machine
                    else _workload_path(path[1], g.workload))
        return path, (f"this scenario needs about {spoken(need)} of memory to simulate, "
                      f"{spoken(worst.nbytes)} of it for {worst.what}; this machine has "
                      f"{spoken(machine)}")
    for i, g in enumerate(s.guests):
        if g.workload.footprint_pages() > 1 << PAGE_BITS:
            return _workload_path(i, g.workload), (
                f"the workload touches {g.workload.footprint_pages()} pages; a disk holds at "
                f"most {1 << PAGE_BITS} pages ({spoken(PAGE_SIZE << PAGE_BITS)}) in tmemsim")
    return None
