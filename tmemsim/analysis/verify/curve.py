"""The `curve` verification family: one-pass curves against full runs of the same points.

Exact (the quick set, CI): every count of the curve (reads, guest hits, host hits, disk reads,
per guest) equals a full run's at every point, for
- one guest with an LRU page cache: `none` on the guest-memory axis (an LRU of every size),
  private tmem, host-cache and host-exclusive on the pool axis (scenarios/verify/curve.yaml);
- four guests sharing tmem's global pool, the host cache and dedup, when no outcome moves
  any time (zero costs, a zero-time disk: scenarios/verify/curve-global.yaml).
Approximate (the full set): every library scenario, its `regress:` settings, every policy:
the read hit ratio of the curve within 0.005 of full runs at four points of the lower half
of the default pool range (where the curves move).
"""

from __future__ import annotations

import math

import numpy as np

from tmemsim.library import LibraryMissing, bundled_scenarios
from tmemsim.model import World

from ..curves import axes, curve
from .checks import Check, Measurement

FAMILY = "curve"
_COUNTS = ("reads", "guest_hits", "host_hits", "disk_reads")


def _exact(check: Check, quick: bool) -> Measurement:
    """Curve against full runs at every point: all counts equal."""
    p = check.settings(quick)
    s = check.load()
    specs = [spec for spec in s.policy_specs() if spec.name == p["policy"]]
    value_range = p.get("range")
    c = curve(s, specs, axis=p["axis"], points=p["points"], value_range=value_range)
    t = c.table[c.table.source == "curve"]
    differ, compared, sim_hits, curve_hits = [], 0, 0, 0
    for pt in axes.points(s, p["axis"], p["points"], axes.parse_range(value_range)):
        out = World(axes.point_scenario(s, p["axis"], pt), specs[0]).run()
        for g, name in enumerate(out.guest_names):
            rows = t[(t.axis_bytes == pt.value) & (t.guest == name)].set_index("metric")
            for m in _COUNTS:
                compared += 1
                if int(rows.loc[m, "value"]) != out.counters[g][m]:
                    differ.append(f"{name} {m} at {pt.value >> 20} MiB: curve "
                                  f"{int(rows.loc[m, 'value'])}, run {out.counters[g][m]}")
            sim_hits += out.counters[g]["guest_hits"] + out.counters[g]["host_hits"]
            curve_hits += int(rows.loc["guest_hits", "value"] + rows.loc["host_hits", "value"])
    note = (f"{p['policy']} on the {p['axis']} axis, {p['points']} points: "
            + ("; ".join(differ[:3]) if differ else f"all {compared} counts equal"))
    return Measurement(sim_hits, curve_hits, note, passed=not differ)


def _library(check: Check, quick: bool) -> list[Measurement]:
    """A library scenario (regress settings): the largest read-hit-ratio error per policy."""
    p = check.settings(quick)
    s = check.load()
    overrides = s.regress.overrides() if s.regress else []
    if overrides:
        s = check.load(overrides)
    specs = s.policy_specs()
    top = axes.points(s, "pool", 2, None)[-1].value // 2
    value_range = (0, top)
    c = curve(s, specs, axis="pool", points=p["points"], value_range=value_range)
    pts = axes.points(s, "pool", p["points"], value_range)
    picks = [pts[k] for k in np.linspace(1, len(pts) - 1, p["runs"]).round().astype(int)]
    worst = {spec.name: (0.0, math.nan, math.nan, 0) for spec in specs}
    for pt in picks:
        ps = axes.point_scenario(s, "pool", pt)
        for spec in specs:
            out = World(ps, spec).run()
            reads = sum(x["reads"] for x in out.counters)
            hits = sum(x["guest_hits"] + x["host_hits"] for x in out.counters)
            sim = hits / reads if reads else 0.0
            got = float(c.series(spec.name).loc[pt.value])
            if abs(got - sim) >= worst[spec.name][0]:
                worst[spec.name] = (abs(got - sim), sim, got, pt.value)
    return [Measurement(sim, got, f"largest error of {len(picks)} full runs, at a pool of "
                        f"{value >> 20} MiB", suffix=name)
            for name, (_, sim, got, value) in worst.items()]


# Library scenarios outside what the curves model, and why (README, "Curves"): the family
# checks the curves where they claim to hold, and says where they do not.
NOT_CURVED = {
    "real-vm-clones": "its trace's sub-page writes read first (read-modify-write, rmw_reads); "
                      "the curves count them as whole-page writes, which read nothing",
    "ksm-merging": "KSM moves memory into the pool as it merges; curves hold memory fixed "
                   "(tmemsim curve refuses it)",
    "sequential-readahead": "host readahead's pages arrive when their multi-page request "
                            "completes; the curves' reference clock does not wait for them",
    "guest-readahead": "its guests read ahead (windows, pages locked until they arrive); the "
                       "curves replay every read alone (tmemsim curve refuses it)",
}


def _library_names() -> list[str]:
    """The library's scenarios the curves model; none without a library (as conservation's)."""
    try:
        return [name for name in bundled_scenarios() if name not in NOT_CURVED]
    except LibraryMissing:
        return []


def checks() -> list[Check]:
    """The exact points (the quick set, fewer points) and every library scenario (full set)."""
    out = []
    exact = [("none-guest-memory", "verify/curve.yaml",
              dict(policy="none", axis="guest-memory", points=8, range="17MiB:96MiB")),
             ("tmem-pool", "verify/curve.yaml", dict(policy="tmem", axis="pool", points=8)),
             ("host-cache-pool", "verify/curve.yaml",
              dict(policy="host-cache", axis="pool", points=8)),
             ("host-exclusive-pool", "verify/curve.yaml",
              dict(policy="host-exclusive", axis="pool", points=8)),
             ("global-pool-tmem", "verify/curve-global.yaml",
              dict(policy="tmem", axis="pool", points=6, range="0:48MiB")),
             ("global-host-cache", "verify/curve-global.yaml",
              dict(policy="host-cache", axis="pool", points=6, range="0:48MiB")),
             ("global-dedup", "verify/curve-global.yaml",
              dict(policy="dedup", axis="pool", points=6, range="0:48MiB"))]
    for point, path, params in exact:
        out.append(Check(FAMILY, point, path, _exact, 0.0, quick=True, params=params,
                         quick_params=dict(points=4)))
    for name in _library_names():
        out.append(Check(FAMILY, f"library-{name}", f"{name}.yaml", _library, 0.005,
                         params=dict(points=16, runs=4)))
    return out
