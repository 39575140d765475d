"""Results: the tables of one or more runs, and the directory they are saved in, atomically.

A results directory holds scenario.yaml, meta.json (marked as tmemsim's), summary.csv,
timeseries.parquet, latency.parquet and plots/; it is built beside its target and renamed into
place at the end (see infra/atomic.py: what may be replaced, and how).
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import TmemsimError
from .infra.atomic import MARKER, Staged, kind_of, meta_json, stage
from .policies import POLICIES

SUMMARY_COLUMNS = [
    "policy", "guest", "requests", "reads", "writes", "guest_hits", "host_hits", "disk_reads",
    "disk_writes", "guest_hit_ratio", "host_hit_ratio", "read_hit_ratio", "mean_read_latency_us",
    "p50_read_latency_us", "p95_read_latency_us", "p99_read_latency_us", "throughput_ops",
    "guest_cache_pages", "host_pool_pages", "host_pool_used_pages", "double_cached_pages",
    "distinct_contents_cached", "tmem_puts", "tmem_puts_rejected", "tmem_gets", "tmem_get_hits",
    "tmem_flushes", "tmem_evictions", "frontswap_stores", "frontswap_loads", "swap_disk_io",
    "stale_reads",
]
# rmw_reads: the reads (counted in reads) that sub-page writes to uncached pages did first
# page_lock_waits: the reads that waited for another read of their page (neither hits nor I/O)
EXTRA_COLUMNS = ["double_cached_pages_avg", "mean_write_latency_us", "frontswap_rejected",
                 "fairness_jain", "rmw_reads", "host_pool_stored_pages", "pool_compression_ratio",
                 "page_lock_waits"]
# KSM (model/ksm.py), by Linux's names: the host-wide gauges at the run's end in every row (as
# host_pool_pages), and each guest's COW breaks since the warm-up (ALL: their sum); 0 without KSM
KSM_COLUMNS = ["pages_shared", "pages_sharing", "pages_unshared", "full_scans", "cow_breaks"]
_COUNTS = ["requests", "reads", "rmw_reads", "writes", "guest_hits", "host_hits", "disk_reads", "disk_writes",
           "swap_disk_io", "stale_reads", "page_lock_waits"]


def policy_counter_names() -> list[str]:
    """Every registered policy's own counters (union, in registry order): a column each, 0
    under a policy that does not count it."""
    return list(dict.fromkeys(n for p in POLICIES.values() for n in p.Counters.NAMES))


def summary_columns() -> list[str]:
    """summary.csv's columns: DESIGN.md's fixed ones (some of them tmem's counters), the extra
    ones, then any policy counter not named yet."""
    named = SUMMARY_COLUMNS + EXTRA_COLUMNS + KSM_COLUMNS
    return named + [n for n in policy_counter_names() if n not in named]


def _ratio(a, b) -> float:
    return a / b if b else 0.0


def _row(policy, guest, counts, policy_counts, hist, measured, memory) -> dict:
    row = {"policy": policy, "guest": guest}
    row.update({k: counts[k] for k in _COUNTS})
    row.update({k: policy_counts.get(k, 0) for k in policy_counter_names()})
    reads = counts["reads"]
    row["guest_hit_ratio"] = _ratio(counts["guest_hits"], reads)
    row["host_hit_ratio"] = _ratio(counts["host_hits"], reads)
    row["read_hit_ratio"] = _ratio(counts["guest_hits"] + counts["host_hits"], reads)
    row["mean_read_latency_us"] = hist.mean() * 1e6
    for q in (50, 95, 99):
        row[f"p{q}_read_latency_us"] = hist.percentile(q) * 1e6
    row["throughput_ops"] = _ratio(counts["requests"], measured)
    row["mean_write_latency_us"] = _ratio(counts["write_latency_s"], counts["writes"]) * 1e6
    row.update(memory)
    return row


def jain(values) -> float:
    """Jain's fairness index: 1 when all equal, 1/n when one takes everything."""
    x = np.asarray(values, dtype=float)
    return float(x.sum() ** 2 / (len(x) * (x**2).sum())) if len(x) and (x**2).sum() else 1.0


def summary_rows(out) -> list[dict]:
    """summary.csv rows of one run: one per guest, then guest == "ALL"."""
    rows = []
    for i, name in enumerate(out.guest_names):
        memory = {
            "guest_cache_pages": out.cache_pages[i],
            "host_pool_pages": out.pool_pages,
            "host_pool_used_pages": out.pool_used[i],
            "double_cached_pages": out.double_cached[i],
            "distinct_contents_cached": 0,
            "double_cached_pages_avg": float("nan"),
            "host_pool_stored_pages": out.pool_used[i],
            "pool_compression_ratio": float("nan"),
        }
        rows.append(_row(out.policy, name, out.counters[i], out.policy_counters[i],
                         out.histograms[i], out.measured, memory))
    total = {k: sum(c[k] for c in out.counters) for k in out.counters[0]}
    ptotal = {k: sum(c[k] for c in out.policy_counters) for k in out.policy_counters[0]}
    memory = {
        "guest_cache_pages": sum(out.cache_pages),
        "host_pool_pages": out.pool_pages,
        "host_pool_used_pages": out.used_pages,
        "double_cached_pages": sum(out.double_cached),
        "distinct_contents_cached": out.distinct,
        "double_cached_pages_avg": out.double_cached_avg,
        # guest pages stored per pool page used: above 1 only in a compressed pool
        "host_pool_stored_pages": out.stored_pages,
        "pool_compression_ratio": _ratio(out.stored_pages, out.used_pages),
    }
    all_row = _row(out.policy, "ALL", total, ptotal, out.merged_histogram(), out.measured, memory)
    all_row["fairness_jain"] = jain([r["throughput_ops"] for r in rows])
    rows.append(all_row)
    for r in rows:
        r.setdefault("fairness_jain", float("nan"))
    _ksm_columns(out, rows)
    return rows


def _ksm_columns(out, rows: list[dict]) -> None:
    ksm = out.ksm or {}
    breaks = ksm.get("cow_breaks", [0] * len(out.guest_names))
    for i, r in enumerate(rows):
        r.update({k: ksm.get(k, 0) for k in KSM_COLUMNS[:-1]})
        r["cow_breaks"] = breaks[i] if i < len(breaks) else sum(breaks)


def latency_rows(out) -> list[dict]:
    rows = []
    hists = list(zip(out.guest_names, out.histograms, strict=True))
    for guest, hist in hists + [("ALL", out.merged_histogram())]:
        for lo, hi, count in hist.rows():
            rows.append({"policy": out.policy, "guest": guest, "lo_us": lo * 1e6,
                         "hi_us": hi * 1e6, "count": count})
    return rows


def _versions() -> dict:
    import pydantic
    import simpy

    from . import __version__

    return {"tmemsim": __version__, "python": platform.python_version(),
            "numpy": np.__version__, "simpy": simpy.__version__, "pandas": pd.__version__,
            "pydantic": pydantic.__version__}


class Result:
    """The tables of one scenario under one or more policies (what a results directory holds)."""

    def __init__(self, summary: pd.DataFrame, timeseries: pd.DataFrame, latency: pd.DataFrame,
                 meta: dict, scenario_yaml: str = ""):
        self.summary = summary
        self.timeseries = timeseries
        self.latency = latency
        self.meta = meta
        self.scenario_yaml = scenario_yaml

    @classmethod
    def from_runs(cls, scenario, outputs: list, command: str = "") -> Result:
        from .scenario import resolved_yaml

        summary = pd.DataFrame([r for out in outputs for r in summary_rows(out)])
        summary = summary[summary_columns()]
        ts = [(t, out.policy, g, m, float(v)) for out in outputs for (t, g, m, v) in out.samples]
        timeseries = pd.DataFrame(ts, columns=["time_s", "policy", "guest", "metric", "value"])
        latency = pd.DataFrame([r for out in outputs for r in latency_rows(out)],
                               columns=["policy", "guest", "lo_us", "hi_us", "count"])
        versions = _versions()
        meta = {
            MARKER: "results",
            "tmemsim_version": versions["tmemsim"],
            "scenario": scenario.name,
            "description": scenario.description,
            "seed": scenario.seed,
            "policies": [out.policy for out in outputs],
            "duration_s": max(out.measured for out in outputs),
            "measured_s": {out.policy: out.measured for out in outputs},
            "warmup_s": scenario.warmup,
            "sample_interval_s": scenario.sample_interval,
            "wall_seconds": {out.policy: round(out.wall_seconds, 3) for out in outputs},
            "simulated_requests": {out.policy: out.requests for out in outputs},
            "events": {out.policy: out.events for out in outputs},
            "disks": {out.policy: out.disks for out in outputs},
            # trace replays: lines read, records, pages, malformed lines skipped, filtered,
            # and requests stamped before the trace's clock (`backward`)
            "traces": {out.policy: out.trace_stats for out in outputs if out.trace_stats},
            "versions": versions,
            "command": command,
        }
        return cls(summary, timeseries, latency, meta, resolved_yaml(scenario))

    def row(self, policy: str | None = None, guest: str = "ALL") -> pd.Series:
        s = self.summary
        if policy is None:
            policy = s["policy"].iloc[0]
        return s[(s["policy"] == policy) & (s["guest"] == guest)].iloc[0]

    def save(self, out_dir, force: bool = False, plots: bool = True) -> Path:
        """Write the results directory atomically: built beside the target, renamed at the end.

        out_dir: a path, or a target staged by infra.atomic.stage() (the CLI stages it before
        simulating, so that a target that cannot be written fails at once). An existing
        directory is replaced only with force, and only if tmemsim wrote it or it is empty.
        """
        staged = out_dir if isinstance(out_dir, Staged) else stage(out_dir, force=force)
        with staged:
            tmp = staged.build
            (tmp / "scenario.yaml").write_text(self.scenario_yaml)
            (tmp / "meta.json").write_text(meta_json(self.meta, "results"))
            self.summary.to_csv(tmp / "summary.csv", index=False)
            self.timeseries.to_parquet(tmp / "timeseries.parquet", index=False)
            self.latency.to_parquet(tmp / "latency.parquet", index=False)
            if plots:
                self._save_plots(tmp)
            return staged.commit()

    def plot(self) -> dict:
        """The comparison figures (matplotlib Figures by name), drawn from these tables only."""
        from .presentation.compare import figures

        return figures(self.summary, self.timeseries, self.latency, self.meta)

    def _repr_html_(self) -> str:
        """In a notebook: the comparison table, best values marked, and the main figure."""
        from .presentation.html import result_html

        return result_html(self)

    def _save_plots(self, directory: Path) -> list:
        from .presentation.compare import save
        from .presentation.html import REPORT_HTML, results_report
        from .presentation.report import write_report

        files = save(self.plot(), directory / "plots")
        write_report(directory, self.summary, self.meta, [f for f in files if f.suffix == ".png"])
        (directory / REPORT_HTML).write_text(results_report(directory, self), encoding="utf-8")
        return files


Comparison = Result  # a comparison is a Result holding several policies


def redraw(directory) -> list:
    """Draw plots/ and report.md again from a results directory's tables.

    Only in a directory tmemsim wrote (its meta.json says so): anywhere else plots/ and
    report.md would be the user's own files.
    """
    d = Path(directory)
    if kind_of(d) != "results" or not (d / "summary.csv").is_file():
        raise TmemsimError("not a tmemsim results directory (no summary.csv and meta.json "
                           "written by tmemsim); nothing was drawn", file=str(d))
    return read_results(d)._save_plots(d)


def read_results(directory) -> Result:
    d = Path(directory)
    if not (d / "summary.csv").exists():
        raise FileNotFoundError(f"{d} is not a tmemsim results directory (no summary.csv)")
    meta = json.loads((d / "meta.json").read_text()) if (d / "meta.json").exists() else {}
    summary = pd.read_csv(d / "summary.csv")
    ts_path, lat_path = d / "timeseries.parquet", d / "latency.parquet"
    timeseries = pd.read_parquet(ts_path) if ts_path.exists() else pd.DataFrame(
        columns=["time_s", "policy", "guest", "metric", "value"])
    latency = pd.read_parquet(lat_path) if lat_path.exists() else pd.DataFrame(
        columns=["policy", "guest", "lo_us", "hi_us", "count"])
    scenario_yaml = (d / "scenario.yaml").read_text() if (d / "scenario.yaml").exists() else ""
    return Result(summary, timeseries, latency, meta, scenario_yaml)
