"""A curve's result: the tidy table, its meta, the figure, and its directory.

The table (curves.parquet) has one row per (source, policy, axis value, guest, metric):
source "curve" (the one-pass computation) or "simulated" (a full run at that point,
--check-points); axis_bytes the axis value in bytes and pool_bytes the pool it gives; guest a
guest name or ALL; metric one of METRICS.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

METRICS = ("read_hit_ratio", "guest_hit_ratio", "host_hit_ratio", "disk_reads", "reads",
           "guest_hits", "host_hits")
COLUMNS = ["source", "policy", "axis", "axis_bytes", "pool_bytes", "guest", "metric", "value"]
ALL = "ALL"


def metric_rows(source: str, policy: str, axis: str, value: int, pool: int, guest: str,
                reads: float, guest_hits: float, host_hits: float, disk_reads: float) -> list:
    """The METRICS of one (source, policy, point, guest) as table rows."""
    ratio = (lambda a: a / reads) if reads else (lambda a: 0.0)
    values = {"read_hit_ratio": ratio(guest_hits + host_hits),
              "guest_hit_ratio": ratio(guest_hits), "host_hit_ratio": ratio(host_hits),
              "disk_reads": disk_reads, "reads": reads, "guest_hits": guest_hits,
              "host_hits": host_hits}
    return [(source, policy, axis, value, pool, guest, m, float(values[m])) for m in METRICS]


class Curves:
    """Hit-ratio curves of a scenario's policies along one axis (see the module docstring)."""

    def __init__(self, table: pd.DataFrame, meta: dict, scenario_yaml: str = ""):
        self.table = table
        self.meta = meta
        self.scenario_yaml = scenario_yaml

    def series(self, policy: str, metric: str = "read_hit_ratio", guest: str = ALL,
               source: str = "curve") -> pd.Series:
        """One line of the figure: metric by axis value (bytes)."""
        t = self.table
        rows = t[(t.policy == policy) & (t.metric == metric) & (t.guest == guest)
                 & (t.source == source)]
        return rows.set_index("axis_bytes")["value"].sort_index()

    def errors(self, metric: str = "read_hit_ratio", guest: str = ALL) -> pd.DataFrame:
        """Curve minus simulation at every simulated point: policy, axis_bytes, curve,
        simulated, error."""
        t = self.table[(self.table.metric == metric) & (self.table.guest == guest)]
        key = ["policy", "axis_bytes"]
        curve = t[t.source == "curve"].set_index(key)["value"].rename("curve")
        sim = t[t.source == "simulated"].set_index(key)["value"].rename("simulated")
        both = pd.concat([curve, sim], axis=1, join="inner").reset_index()
        both["error"] = both["curve"] - both["simulated"]
        return both

    def plot(self):
        """The figure: read hit ratio and disk reads against the axis, one line per policy,
        simulated points over them."""
        from ...presentation.curve_figure import figure

        return figure(self.table, self.meta)

    def _repr_html_(self) -> str:
        """In a notebook: policies against sizes, best marked, and the curves' figure."""
        from ...presentation.html import curves_html

        return curves_html(self)

    def save(self, out_dir, force: bool = False) -> Path:
        """curves.parquet, meta.json, scenario.yaml and curve.png/.svg, written atomically:
        built beside the target, renamed into place. out_dir: a path or a target staged by
        infra.atomic.stage(); an existing directory is replaced only with force, and only if
        tmemsim wrote it or it is empty."""
        from ...infra.atomic import Staged, meta_json, stage
        from ...presentation.curve_figure import save_figure

        staged = out_dir if isinstance(out_dir, Staged) else stage(out_dir, force=force)
        with staged:
            tmp = staged.build
            self.table.to_parquet(tmp / "curves.parquet", index=False)
            (tmp / "meta.json").write_text(meta_json(self.meta, "curves"))
            if self.scenario_yaml:
                (tmp / "scenario.yaml").write_text(self.scenario_yaml)
            save_figure(self.plot(), tmp / "curve")
            return staged.commit()


def read_curves(directory) -> Curves:
    d = Path(directory)
    if not (d / "curves.parquet").exists():
        raise FileNotFoundError(f"{d} is not a tmemsim curves directory (no curves.parquet)")
    meta = json.loads((d / "meta.json").read_text()) if (d / "meta.json").exists() else {}
    yaml_text = (d / "scenario.yaml").read_text() if (d / "scenario.yaml").exists() else ""
    return Curves(pd.read_parquet(d / "curves.parquet"), meta, yaml_text)
