"""The three axes of a curve, their points, and the scenario a full run of one point is.

- pool: the hypervisor pool (host.memory - host.reserved - the guests' memory), the guests
  fixed. Varying it means varying host.memory.
- split: host.memory fixed; every guest's memory is the axis value and the pool takes the
  rest (the memory-split question).
- guest-memory: every guest's memory is the axis value; no pool (host.memory = host.reserved
  + the guests' memory).

Axis values are bytes, rounded down to whole pages; a guest-memory or split value applies to
every guest. The default range is 0 (or the smallest memory that leaves every guest one page
of page cache) to the guests' total footprint (pool), each guest's footprint (guest-memory),
or a pool of 0 (split).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import ScenarioError
from ...scenario import load_scenario
from ...units import PAGE_SIZE, format_size, parse_size

AXES = ("pool", "split", "guest-memory")


@dataclass(frozen=True)
class Point:
    """One point of a curve: the axis value, and what it makes of the guests and the pool."""

    value: int  # bytes
    guest_memory: tuple[int, ...]  # bytes per guest (expanded order)
    pool: int  # bytes


def footprint_bytes(guest) -> int:
    """What a guest may touch: its files' footprint and its anonymous working set."""
    w = guest.workload
    anon = w.anon.size if w.anon is not None else 0
    return (w.footprint_pages() + anon) * PAGE_SIZE


def parse_range(text: str | tuple | None) -> tuple[int, int] | None:
    """"16MiB:1GiB" (or a pair) -> (low, high) bytes; ValueError if malformed."""
    if text is None:
        return None
    if isinstance(text, str):
        parts = text.split(":")
        if len(parts) != 2:
            raise ValueError(f"expected a range such as 16MiB:1GiB, got {text!r}")
        text = tuple(parts)
    low, high = (parse_size(x) for x in text)
    if low < 0 or high < low:
        raise ValueError(f"expected 0 <= low <= high, got {format_size(low)}:"
                         f"{format_size(high)}")
    return low, high


def points(scenario, axis: str, n: int, value_range=None) -> list[Point]:
    """n points, evenly spread over the range (fewer if it holds fewer whole pages)."""
    if axis not in AXES:
        raise ScenarioError(f"unknown axis {axis!r}; expected one of {', '.join(AXES)}")
    if n < 1:
        raise ScenarioError(f"points: expected at least 1, got {n}")
    s = scenario
    guests = [g for _, g in s.expanded_guests()]
    reserved = max(g.reserved for g in guests)
    low_memory = (reserved // PAGE_SIZE + 1) * PAGE_SIZE  # one page of page cache
    budget = s.host.memory - s.host.reserved
    if axis == "pool":
        default = (0, sum(footprint_bytes(g) for g in guests))
    elif axis == "guest-memory":
        default = (low_memory, max(g.reserved + footprint_bytes(g) for g in guests))
    else:
        default = (low_memory, budget // len(guests))
    low, high = value_range if value_range is not None else default
    pages = np.unique(np.linspace(low // PAGE_SIZE, high // PAGE_SIZE, n).astype(np.int64))
    out = []
    for p in pages.tolist():
        value = p * PAGE_SIZE
        if axis == "pool":
            out.append(Point(value, tuple(g.memory for g in guests), value))
        else:
            if value <= reserved:
                raise ScenarioError(
                    f"range: a guest memory of {format_size(value)} leaves no page cache "
                    f"(guests reserve up to {format_size(reserved)})", path="guests")
            pool = 0 if axis == "guest-memory" else budget - value * len(guests)
            if pool < 0:
                raise ScenarioError(
                    f"range: {len(guests)} guests of {format_size(value)} need more than "
                    f"host.memory - host.reserved = {format_size(budget)}", path="host.memory")
            out.append(Point(value, tuple([value] * len(guests)), pool))
    return out


def point_scenario(scenario, axis: str, point: Point):
    """The scenario a full run of this point is (for --check-points and the tests)."""
    s = scenario
    # what was set only: a full dump would give a mix's parts the mix's own knobs
    data = s.model_dump(mode="json", exclude_unset=True)
    if axis == "pool":
        data.setdefault("host", {})["memory"] = s.host.memory - s.pool_bytes() + point.pool
    else:
        for g in data["guests"]:
            g["memory"] = point.value
            if g.get("max_memory") is not None and g["max_memory"] < point.value:
                g["max_memory"] = point.value
        if axis == "guest-memory":
            total = point.value * len(s.expanded_guests())
            data["host"]["memory"] = s.host.reserved + total
    return load_scenario(data)
