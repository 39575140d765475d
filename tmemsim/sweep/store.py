"""The point store: every finished task of a sweep kept as points/<key>.parquet, keyed by what
decides its numbers, so a sweep can resume and a wider one reuses what it shares."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..infra.atomic import write_atomic
from .stats import METRICS

# Points are keyed by what decides their numbers; these scenario fields do not (the policy is
# keyed on its own, the sweep block is what produced the point).
NOT_IN_KEY = ("name", "description", "sweep", "regress", "policies", "policy")
# Packages and modules (relative to tmemsim/) that plan, store or present points: editing them
# must not invalidate stored points. The rest of tmemsim counts (see code_version).
NOT_COMPUTING = frozenset({
    "presentation", "analysis", "sweep", "infra", "cli.py", "cli", "__main__.py",
})


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """tmemsim's version plus a hash of the modules that compute a point, and numpy/simpy.

    Every module of tmemsim counts except those that only plan, store or present points
    (NOT_COMPUTING): a new module that computes is counted without anyone remembering to."""
    import simpy

    from .. import __version__

    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel in NOT_COMPUTING or rel.split("/")[0] in NOT_COMPUTING:
            continue
        h.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{__version__}+{h.hexdigest()[:12]} numpy-{np.__version__} simpy-{simpy.__version__}"


def point_key(scenario_data: dict, policy: dict) -> str:
    """The store key of one task: sha256 of the resolved scenario (as run, seed included), the
    policy spec and code_version(). Fields that do not change the numbers are left out."""
    material = {
        "scenario": {k: v for k, v in scenario_data.items() if k not in NOT_IN_KEY},
        "policy": policy,
        "tmemsim": code_version(),
    }
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def normalize(frame: pd.DataFrame) -> pd.DataFrame:
    """The summary rows of one task with fixed column order and dtypes, however they came."""
    frame = frame[["policy", "guest", *METRICS]].copy()
    for c in METRICS:
        if pd.api.types.is_integer_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]):
            frame[c] = frame[c].astype("int64")
        else:
            frame[c] = frame[c].astype("float64")
    frame["policy"] = frame["policy"].astype(str)
    frame["guest"] = frame["guest"].astype(str)
    return frame.reset_index(drop=True)


class PointStore:
    """points/<key>.parquet: the summary rows of finished tasks, each written atomically."""

    def __init__(self, directory):
        self.dir = Path(directory)

    def path(self, key: str) -> Path:
        return self.dir / f"{key}.parquet"

    def load(self, key: str) -> pd.DataFrame | None:
        p = self.path(key)
        if not p.exists():
            return None
        try:
            return normalize(pd.read_parquet(p))
        except Exception:  # unreadable or from another layout: run it again
            return None

    def save(self, key: str, frame: pd.DataFrame, info: dict) -> Path:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.dir.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[b"tmemsim.point"] = json.dumps(info, sort_keys=True, default=str).encode()
        table = table.replace_schema_metadata(meta)
        return write_atomic(self.path(key), lambda p: pq.write_table(table, p))


__all__ = ["NOT_COMPUTING", "NOT_IN_KEY", "PointStore", "code_version", "normalize",
           "point_key"]
