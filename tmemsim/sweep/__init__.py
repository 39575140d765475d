"""Parameter sweeps: many scenario variants × policies × seeds, on a process pool or on Dask.

A sweep varies scenario settings, named by their paths (`host.memory`, `guests.0.count`), over
a grid or in lock-step (`mode: zip`), runs every point under every policy for `replications`
seeds, and gathers one tidy table (sweep.parquet) and its statistics over the replications
(sweep_summary.csv: mean, std and a 95 % Student-t confidence interval).

    sweep:
      parameters:
        host.memory: [8GiB, 16GiB, 32GiB]
        guests.0.count: {range: [1, 16], step: 3}          # like Python's range: 1 4 7 10 13
        guests.0.workload.read_fraction: {linspace: [0.5, 1.0, 6]}
      mode: grid                 # or zip: the lists advance together
      replications: 5            # seeds: see replication_seed()
      policies: [none, host-cache, tmem, dedup]
      metrics: [read_hit_ratio, mean_read_latency_us]      # what save() draws

Scheduling is not ours: the local executor is infra.parallel's process pool, the distributed
one Dask (an optional extra, imported only when asked for). A task is one whole simulation (a
point, a policy, a seed) and travels as plain data: the resolved scenario as a JSON-able dict
out, the summary rows as a list of dicts back.

Modules: spec (what to run), stats (statistics over replications), store (the point store and
its keys), runners (one task; the executors), sweep (the orchestrator), result (SweepResult).
"""

from __future__ import annotations

from .result import SweepResult, read_sweep
from .runners import EXECUTORS, run_point
from .spec import DEFAULT_PLOT_METRICS, SweepSpec, expand_values, parse_spec, replication_seed
from .stats import CONFIDENCE, METRICS, summarize, t_quantile
from .store import PointStore, code_version, point_key
from .sweep import sweep

__all__ = ["CONFIDENCE", "DEFAULT_PLOT_METRICS", "EXECUTORS", "METRICS", "PointStore",
           "SweepResult", "SweepSpec", "code_version", "expand_values", "parse_spec",
           "point_key", "read_sweep", "replication_seed", "run_point", "summarize", "sweep",
           "t_quantile"]
