"""`curve()`: a scenario's hit-ratio curves along one axis, for each of its policies, in one
pass over the requests (see the package docstring for what is exact and what is not)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from ...caches import cache_class, make_cache
from ...errors import ScenarioError
from ...model.ksm import ksm_settings
from ...model.world import World
from ...policies import POLICIES
from ...scenario import resolved_yaml
from ...units import PAGE_SIZE, format_size
from . import axes
from .compute import COUNTS, policy_curve
from .engines import host_model, policy_prices
from .guest_log import REMOVAL
from .ranks import lru_distances
from .result import ALL, COLUMNS, Curves, metric_rows
from .sampling import adjusted, check_rate
from .timing import Costs, start_times
from .world import CurveWorld


def curve(scenario, specs, axis: str = "pool", points: int = 32, value_range=None,
          sample: float | None = None, check_points: int = 0, command: str = "",
          progress=None) -> Curves:
    """Curves of `specs` (PolicySpecs of the scenario) at `points` values of `axis`.

    value_range: (low, high) bytes or "16MiB:1GiB"; sample: keep a fraction of the pages
    (SHARDS); check_points: also run that many full simulations at spread points.
    progress(done, total), if given, is called as policies and check points finish.
    """
    s = scenario
    value_range, rate = _checked_arguments(value_range, sample, check_points)
    pts = axes.points(s, axis, points, value_range)
    _refuse_unsupported(s, specs, axis, rate)
    wall = time.perf_counter()
    total = len(specs) + min(check_points, len(pts))
    rows, notes = _curve_rows(CurveWorld(s, rate), specs, axis, pts, rate, progress, total)
    curve_seconds = time.perf_counter() - wall
    checked = _check_rows(s, specs, axis, pts, check_points, rows, progress, total)
    meta = {
        "scenario": s.name,
        "seed": s.seed,
        "axis": axis,
        "points": len(pts),
        "range_bytes": [pts[0].value, pts[-1].value],
        "sample": rate,
        "policies": [spec.name for spec in specs],
        "engines": notes,
        "curve_seconds": round(curve_seconds, 3),
        "check_points_bytes": checked,
        "command": command,
    }
    return Curves(pd.DataFrame(rows, columns=COLUMNS), meta, resolved_yaml(s))


def _checked_arguments(value_range, sample, check_points: int):
    """The range parsed and the sampling rate, or a ScenarioError naming the bad one."""
    try:
        value_range = axes.parse_range(value_range)
    except ValueError as exc:
        raise ScenarioError(f"range: {exc}") from None
    try:
        rate = check_rate(sample) if sample is not None else None
    except ValueError as exc:
        raise ScenarioError(f"sample: {exc}") from None
    if check_points < 0:
        raise ScenarioError(f"check points must be 0 or more, got {check_points}")
    return value_range, rate


def _curve_rows(world, specs, axis: str, pts, rate, progress, total: int):
    """The curves' rows (source "curve") of every policy, and each policy's engine note."""
    rows: list = []
    notes: dict = {}
    for i, spec in enumerate(specs):
        if axis == "pool":
            counts, note = _pool_axis(world, spec, pts)
        elif axis == "split":
            counts, note = _split_axis(world, spec, pts)
        else:
            counts, note = _guest_memory_axis(world, spec, pts)
        notes[spec.name] = note
        scale = 1.0 / rate if rate else 1.0
        for k, pt in enumerate(pts):
            for g, name in enumerate(world.names + [ALL]):
                c = counts[k].sum(axis=0) if name == ALL else counts[k, g]
                rows += metric_rows("curve", spec.name, axis, pt.value, pt.pool, name,
                                    *(float(x) * scale for x in c))
        if progress:
            progress(i + 1, total)
    return rows, notes


def _check_rows(s, specs, axis: str, pts, check_points: int, rows: list, progress,
                total: int) -> list:
    """Full runs at `check_points` spread points, their rows (source "simulated") added to
    `rows`; returns the points' axis values."""
    if not check_points:
        return []
    checked = []
    picks = np.unique(np.linspace(0, len(pts) - 1, min(check_points, len(pts)))
                      .round().astype(int))
    for j, k in enumerate(picks.tolist()):
        pt = pts[k]
        ps = axes.point_scenario(s, axis, pt)
        for spec in specs:
            out = World(ps, spec).run()
            for g, name in enumerate(out.guest_names + [ALL]):
                cs = out.counters if name == ALL else [out.counters[g]]
                c = [sum(x[m] for x in cs) for m in COUNTS]
                rows += metric_rows("simulated", spec.name, axis, pt.value, pt.pool, name, *c)
        checked.append(pt.value)
        if progress:
            progress(len(specs) + j + 1, total)
    return checked


# ---------------------------------------------------------------- what is not supported


def _refuse_unsupported(s, specs, axis: str, rate) -> None:
    """Memory that moves by itself over time cannot be put on an axis; phases switch streams
    a sample cannot follow. See the package docstring."""
    merging = [spec for spec in specs if ksm_settings(s, spec) is not None]
    if merging:
        names = [spec.name for spec in s.policy_specs()]
        where = ("host.ksm" if merging[0].ksm is None
                 else f"policies[{names.index(merging[0].name)}].ksm")
        raise ScenarioError("KSM moves memory into the pool as it merges pages; curves hold "
                            "memory fixed: leave the policy out or give it ksm: false",
                            path=where)
    for i, g in enumerate(s.guests):
        if g.readahead.pages() > 1:
            raise ScenarioError("the curves replay every read alone; a guest that reads ahead "
                                "is not modelled: give it readahead: {max: 0}",
                                path=f"guests[{i}].readahead")
        if rate is not None and hasattr(g.workload, "switches"):
            raise ScenarioError("--sample: a phases workload switches streams at set times; "
                                "sample a single workload instead", path=f"guests[{i}].workload")
        kinds = {g.balloon.kind} | {spec.balloon for spec in specs if spec.balloon}
        if "selfballoon" not in kinds:
            continue
        if g.balloon.kind == "selfballoon":
            where = f"guests[{i}].balloon"
        else:
            names = [spec.name for spec in s.policy_specs()]
            j = next(names.index(spec.name) for spec in specs if spec.balloon == "selfballoon")
            where = f"policies[{j}].balloon"
        if axis != "pool":
            raise ScenarioError(f"self-ballooning moves the guests' memory by itself: the "
                                f"{axis} axis needs a static split (balloon: none)", path=where)
        if g.workload.anon is not None:
            raise ScenarioError("self-ballooning with anonymous memory moves the guest's memory "
                                "as it touches pages; curves take ballooned memory as fixed",
                                path=where)
        if _balloon_target(g) > g.memory:
            raise ScenarioError(f"self-ballooning would grow the guest to "
                                f"{format_size(_balloon_target(g))} from the pool; curves "
                                f"support ballooning that shrinks guests only", path=where)


def _balloon_target(g) -> int:
    """Where self-ballooning takes a guest without anonymous memory (World.set_memory)."""
    target = g.reserved + g.balloon.headroom
    return max(g.floor_bytes(), min(target, g.max_bytes()))


def _effective_guests(s, spec):
    """The guests under this policy (its balloon setting), the page cache each has once
    ballooned, and the memory ballooning gives the pool (bytes). Ballooning is taken as done
    from the start (it is done at the first balloon interval)."""
    guests, pages, freed = [], [], 0
    for _, g in s.expanded_guests():
        if spec.balloon is not None:
            g = g.model_copy(update={"balloon": g.balloon.model_copy(
                update={"kind": spec.balloon})})
        memory = g.memory
        if g.balloon.kind == "selfballoon":
            memory = g.memory + ((_balloon_target(g) - g.memory) // PAGE_SIZE) * PAGE_SIZE
            freed += g.memory - memory
        guests.append(g)
        pages.append((memory - g.reserved) // PAGE_SIZE)
    return guests, pages, freed


# ---------------------------------------------------------------- the axes


def _replays(world, guests, pages, cache: dict, record: bool = False) -> list:
    key = (tuple(pages), tuple(g.balloon.kind for g in guests), record)
    if key not in cache:
        logs = []
        for i, (g, p) in enumerate(zip(guests, pages, strict=True)):
            log = world.replay(i, g, p, record_accesses=record)
            if world.flusher_fires(g, log):
                log = world.replay(i, g, p, record_accesses=record, flusher=True)
            logs.append(log)
        cache[key] = logs
    return cache[key]


def _note(pc, logs) -> dict:
    timed = [i for i, log in enumerate(logs) if not log.exact]
    return {"engine": pc.engine, "order": pc.ordered,
            "timed_guests": timed}


def _pool_axis(world, spec, pts):
    guests, pages, freed = _effective_guests(world.scenario, spec)
    logs = _replays(world, guests, pages, world.cache)
    pools = [world.scaled((pt.pool + freed) // PAGE_SIZE) for pt in pts]
    pc = policy_curve(world, logs, guests, spec, pools)
    return pc.counts, _note(pc, logs)


def _split_axis(world, spec, pts):
    counts, note = [], None
    for pt in pts:
        guests, _, _ = _effective_guests(world.scenario, spec)
        pages = [(m - g.reserved) // PAGE_SIZE for m, g in zip(pt.guest_memory, guests,
                                                                  strict=True)]
        guests = [g.model_copy(update={"memory": m}) for g, m in zip(guests, pt.guest_memory,
                                                                    strict=True)]
        logs = _replays(world, guests, pages, world.cache)
        pc = policy_curve(world, logs, guests, spec, [world.scaled(pt.pool // PAGE_SIZE)])
        counts.append(pc.counts[0])
        note = note or _note(pc, logs)
    return np.array(counts), note


def _guest_memory_axis(world, spec, pts):
    """No pool: each guest's own page cache at every size, from its access sequence."""
    s = world.scenario
    guests, _, _ = _effective_guests(s, spec)
    largest = [(max(pt.guest_memory[i] for pt in pts) - g.reserved) // PAGE_SIZE
               for i, g in enumerate(guests)]
    logs = _replays(world, guests, largest, world.cache, record=True)
    cls = POLICIES[spec.kind]
    options = spec.make_options()
    model = host_model(cls, options, False)
    costs = Costs(world.costs, world.file_service, cls, model.flush_calls,
                  1.0 / world.rate if world.rate else 1.0,
                  *policy_prices(cls, options, world))
    counts = np.zeros((len(pts), len(guests), len(COUNTS)))
    for g, (guest, log) in enumerate(zip(guests, logs, strict=True)):
        sizes = [world.pages((pt.guest_memory[g] - guest.reserved) // PAGE_SIZE) for pt in pts]
        hits = _access_hits(guest.cache, log.accesses, sizes)
        counts[:, g] = _guest_counts(world, log, g, hits, sizes, model, costs)
    note = {"engine": "guest page cache: " + (
        "LRU stack distances" if _stackable(guests[0].cache, logs[0].accesses)
        else "one cache per size"), "order": "none needed (no pool)",
        "timed_guests": [i for i, log in enumerate(logs) if not log.exact]}
    return counts, note


def _stackable(cache, accesses) -> bool:
    return cache_class(cache).lru_stack and not (accesses >= REMOVAL).any()


def _access_hits(cache, accesses: np.ndarray, sizes: list[int]) -> np.ndarray:
    """hits[k, i]: does access i hit a page cache of sizes[k] pages (cache: the guest's spec)?"""
    hits = np.zeros((len(sizes), len(accesses)), dtype=bool)
    if _stackable(cache, accesses):
        d = lru_distances(accesses)
        for k, c in enumerate(sizes):
            hits[k] = (d >= 0) & (d < c)
        return hits
    keys = accesses.tolist()
    for k, c in enumerate(sizes):
        replay = make_cache(cache, c)
        row = bytearray(len(keys))
        for i, key in enumerate(keys):
            if key >= REMOVAL:
                replay.remove(key - REMOVAL)
            elif replay.get(key):
                row[i] = 1
            else:
                replay.insert(key)
        hits[k] = np.frombuffer(bytes(row), dtype=np.uint8).astype(bool)
    return hits


def _guest_counts(world, log, g: int, hits: np.ndarray, sizes, model, costs) -> np.ndarray:
    """Counts per size of one guest without a pool: every miss goes to the disk."""
    s = world.scenario
    c = costs.c
    n = log.requests
    acc_req = log.access_req
    reading = (log.op[acc_req] == 0) & (log.accesses < REMOVAL)
    read_req = acc_req[reading]
    anon = (log.op[acc_req] >= 3) & (log.accesses < REMOVAL)
    first_touch = np.zeros(len(log.accesses), dtype=bool)
    _, first = np.unique(log.accesses, return_index=True)
    first_touch[first] = True
    own = world.gdisks[g].own
    disk_read = costs.read_table[model.miss_path] + world.file_service[own][0]
    swap = world.swaps[g]
    swap_read = costs.read_table[model.miss_path] + (
        world.file_service[swap][0] if swap is not None else 0.0)
    evict_cost = costs.put_rejected if costs.observes_evictions else 0.0  # refused: no pool
    distinct_before = np.cumsum(first_touch & (log.accesses < REMOVAL)) - 1
    out = np.zeros((len(sizes), len(COUNTS)))
    for k, size in enumerate(sizes):
        hit = hits[k]
        lat = np.full(n, c.guest_hit)
        miss_read = read_req[~hit[reading]]
        full = distinct_before >= size
        lat[miss_read] = disk_read + np.where(full[reading][~hit[reading]], evict_cost, 0.0)
        swapped = anon & ~hit & ~first_touch
        lat[acc_req[swapped]] = swap_read
        t = start_times(log, lat * costs.scale)
        measured = (t >= s.warmup) & (t < world.horizon)
        reads = int(np.count_nonzero((log.op == 0) & measured))
        guest_hits = int(np.count_nonzero(measured[read_req[hit[reading]]]))
        disk = int(np.count_nonzero(measured[miss_read]))
        disk += int(np.count_nonzero(measured[acc_req[swapped]]))
        if log.weight is not None:
            reads, guest_hits = adjusted(reads, guest_hits, float(log.weight[measured].sum()),
                                         world.rate)
        out[k] = (reads, guest_hits, 0, disk)
    return out
