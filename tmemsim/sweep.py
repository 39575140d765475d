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

Scheduling is not ours: the local executor is concurrent.futures.ProcessPoolExecutor, the
distributed one Dask (an optional extra, imported only when asked for). A task is one whole
simulation (a point, a policy, a seed) and travels as plain data: the resolved scenario as a
JSON-able dict out, the summary rows as a list of dicts back. Rows are sorted by where they sit
in the sweep, never by when they finished, so every executor gives the same table.

With an output directory every finished task is written at once to points/<key>.parquet, where
the key hashes what decides its numbers (the resolved scenario, the policy, the seed and the code
version, see point_key), so `resume` skips what is done and an interrupted sweep loses only the
tasks in flight. The directory is claimed before any task runs (outdir.claim_in_place): it must be
new, empty, or (to resume) a tmemsim sweep directory. A task that fails is reported with its parameters and does not stop the others
unless `fail_fast`.
"""

from __future__ import annotations

import copy
import difflib
import functools
import hashlib
import itertools
import json
import math
import os
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import RunError, ScenarioError, TmemsimError, TraceError, check_jobs
from .outdir import MARKER, claim_in_place, marked, stage, write_atomic
from .results import EXTRA_COLUMNS, SUMMARY_COLUMNS
from .scenario import PolicySpec, Scenario, load_scenario, resolved_yaml
from .units import PAGE_SIZE, parse_size
from .yamlmap import format_path, line_of, load_yaml

METRICS = [c for c in SUMMARY_COLUMNS + EXTRA_COLUMNS if c not in ("policy", "guest")]
DEFAULT_PLOT_METRICS = ["read_hit_ratio", "mean_read_latency_us"]
SPEC_KEYS = ("parameters", "mode", "replications", "policies", "metrics")
MODES = ("grid", "zip")
MAX_VALUES = 10_000  # per parameter: a range with a unit mistake should fail, not run for a year
CONFIDENCE = 0.95

# Points are keyed by what decides their numbers; these scenario fields do not (the policy is
# keyed on its own, the sweep block is what produced the point).
_NOT_IN_KEY = ("name", "description", "sweep", "regress", "policies", "policy")
# Modules that only present results: editing them must not invalidate stored points.
_PRESENTATION = {"cli.py", "__main__.py", "plots.py", "report.py", "table.py", "theory.py",
                 "sweep.py", "sweep_plots.py", "outdir.py"}


# =============================================================================================
# Student's t


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularized incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(ln_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(ln_front) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with df degrees of freedom."""
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


@functools.lru_cache(maxsize=1024)
def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t with df > 0 degrees of freedom (t_{0.975,4} = 2.7764...).

    Closed forms for df = 1 and 2; otherwise the CDF (through the incomplete beta function) is
    inverted by bisection to double precision. No scipy needed.
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if not df > 0:
        raise ValueError(f"df must be positive, got {df}")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        return (2.0 * p - 1.0) / math.sqrt(2.0 * p * (1.0 - p))
    hi = 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    lo = 0.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 4e-16 * hi:
            break
    return 0.5 * (lo + hi)


def summarize(table: pd.DataFrame, parameters: list[str],
              confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Mean, std (ddof 1) and the Student-t confidence interval of every metric over the
    replications, per point × policy × guest; long form, one row per metric.

    ci95_low/high = mean ∓ t_{(1+confidence)/2, n-1} · std / sqrt(n); NaN when n < 2. Metrics
    that are undefined for a group (NaN in every replication) are left out.
    """
    keys = ["point", *parameters, "policy", "guest"]
    columns = [*keys, "metric", "n", "mean", "std", "ci95_low", "ci95_high"]
    metrics = [m for m in METRICS if m in table.columns]
    if table.empty or not metrics:
        return pd.DataFrame(columns=columns)
    groups = table[keys].drop_duplicates().reset_index(drop=True)
    groups["_group"] = np.arange(len(groups))
    long = table[keys + metrics].melt(id_vars=keys, value_vars=metrics, var_name="metric")
    long["value"] = long["value"].astype(float)
    stats = (long.groupby(keys + ["metric"], sort=False, dropna=False)["value"]
             .agg(n="count", mean="mean", std="std").reset_index())
    stats = stats[stats["n"] > 0]
    n = stats["n"].to_numpy()
    q = (1.0 + confidence) / 2.0
    t = np.array([t_quantile(q, k - 1) if k >= 2 else np.nan for k in n])
    half = t * stats["std"].to_numpy() / np.sqrt(n)
    stats["ci95_low"] = stats["mean"] - half
    stats["ci95_high"] = stats["mean"] + half
    stats = stats.merge(groups, on=keys, how="left")
    stats["_metric"] = stats["metric"].map({m: i for i, m in enumerate(metrics)})
    stats = stats.sort_values(["_group", "_metric"], kind="stable")
    return stats[columns].reset_index(drop=True)


# =============================================================================================
# the sweep specification


@dataclass(frozen=True)
class SweepSpec:
    """A parsed sweep: parameter paths and their values, in order, and how to combine them."""

    parameters: dict[str, list]
    mode: str = "grid"
    replications: int = 1
    policies: list[str] | None = None
    metrics: list[str] = field(default_factory=lambda: list(DEFAULT_PLOT_METRICS))

    def points(self) -> list[dict]:
        """The parameter assignments, in sweep order (grid: the last parameter varies fastest)."""
        names = list(self.parameters)
        if not names:
            return [{}]
        columns = [self.parameters[n] for n in names]
        combos = itertools.product(*columns) if self.mode == "grid" else zip(*columns, strict=True)
        return [dict(zip(names, combo, strict=True)) for combo in combos]


class _Where:
    """Builds ScenarioErrors located in the sweep block (file, YAML path, line when known)."""

    def __init__(self, file: str | None, lines: dict, in_block: bool):
        self.file, self.lines, self.in_block = file, lines, in_block

    def error(self, message: str, *steps) -> ScenarioError:
        path = ("sweep",) + tuple(steps)
        line = line_of(self.lines, path) if self.in_block else None
        return ScenarioError(message, file=self.file, path=".".join(map(str, path)), line=line)


def _suggest(word, choices) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _is_number(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _clean_float(x: float) -> float:
    # linspace(0.5, 1, 6) gives 0.6000000000000001; 12 significant digits give 0.6
    return float(f"{x:.12g}")


def _size_text(nbytes: int) -> str:
    """Exactly nbytes, in the largest binary unit that divides it: 1536MiB, 12GiB, 4097B."""
    for unit, scale in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if nbytes % scale == 0:
            return f"{nbytes // scale}{unit}"
    return f"{nbytes}B"


_GENERATORS = {
    "range": "{range: [start, stop], step: s} (stop excluded, like Python's range)",
    "linspace": "{linspace: [start, stop, num]}",
    "geomspace": "{geomspace: [start, stop, num]}",
}
_VALUE_FORMS = ("a list of values, " + ", ".join(_GENERATORS.values()))


def _endpoints(raw: list, err) -> tuple[list[float], bool, bool]:
    """Numbers from endpoints that are numbers or sizes ("8GiB"); (values, sizes?, all ints?)."""
    sizes = any(isinstance(v, str) for v in raw)
    out = []
    for v in raw:
        if isinstance(v, str):
            try:
                out.append(float(parse_size(v)))
            except ValueError as exc:
                raise err(f"{v!r} is neither a number nor a size: {exc}") from None
        elif _is_number(v):
            out.append(float(v))
        else:
            raise err(f"expected a number or a size such as 8GiB, got {v!r}")
    ints = sizes or all(isinstance(v, int) and not isinstance(v, bool) for v in raw)
    return out, sizes, ints


def _finish(values: list[float], sizes: bool, ints: bool, page_aligned: bool) -> list:
    if sizes:
        unit = PAGE_SIZE if page_aligned else 1
        return [_size_text(int(round(v / unit)) * unit) for v in values]
    if ints and all(abs(v - round(v)) < 1e-9 for v in values):
        return [int(round(v)) for v in values]
    return [_clean_float(v) for v in values]


def expand_values(spec, err: Callable[[str], Exception]) -> list:
    """The values of one parameter from its spec: a list, a range, a linspace or a geomspace."""
    if isinstance(spec, list):
        if not spec:
            raise err("empty list of values: give at least one")
        values = list(spec)
    elif isinstance(spec, dict):
        kinds = [k for k in _GENERATORS if k in spec]
        allowed = set(kinds) | ({"step"} if kinds == ["range"] else set())
        unknown = [k for k in spec if k not in allowed]
        if len(kinds) != 1 or unknown:
            what = f"unknown key {unknown[0]!r}{_suggest(unknown[0], list(_GENERATORS) + ['step'])}; " \
                if unknown and len(kinds) <= 1 else ""
            raise err(f"{what}expected {_VALUE_FORMS}")
        kind = kinds[0]
        values = _generate(kind, spec, err)
    else:
        raise err(f"expected {_VALUE_FORMS}; got {spec!r}")
    if len(values) > MAX_VALUES:
        raise err(f"{len(values)} values; at most {MAX_VALUES} per parameter")
    seen = {}
    for v in values:
        key = json.dumps(v, sort_keys=True, default=str)
        if key in seen:
            raise err(f"value {v!r} is listed twice")
        seen[key] = v
    return values


def _generate(kind: str, spec: dict, err) -> list:
    args = spec[kind]
    if kind == "range":
        if not isinstance(args, list) or len(args) != 2:
            raise err(f"range: expected [start, stop], got {args!r}")
        step = spec.get("step", 1)
        (start, stop, inc), sizes, ints = _endpoints([*args, step], err)
        if inc == 0:
            raise err("range: step must not be 0")
        if (stop - start) / inc <= 0:
            raise err(f"range: no values from {args[0]} up to (not including) {args[1]} in steps "
                      f"of {step}" + ("; use a negative step to count down" if stop < start
                                      else ""))
        count = math.ceil((stop - start) / inc - 1e-9)
        if count > MAX_VALUES:
            raise err(f"range: {count} values; at most {MAX_VALUES} per parameter")
        values = [start + i * inc for i in range(count)]
        aligned = all(v % PAGE_SIZE == 0 for v in (start, inc))
        return _finish(values, sizes, ints, aligned)
    if not isinstance(args, list) or len(args) != 3:
        raise err(f"{kind}: expected [start, stop, num], got {args!r}")
    num = args[2]
    if not isinstance(num, int) or isinstance(num, bool) or num < 1:
        raise err(f"{kind}: num must be a whole number of values ≥ 1, got {num!r}")
    if num > MAX_VALUES:
        raise err(f"{kind}: {num} values; at most {MAX_VALUES} per parameter")
    (start, stop), sizes, ints = _endpoints(args[:2], err)
    if kind == "geomspace":
        if start <= 0 or stop <= 0:
            raise err("geomspace: start and stop must be positive")
        values = list(np.geomspace(start, stop, num)) if num > 1 else [start]
    else:
        values = list(np.linspace(start, stop, num)) if num > 1 else [start]
    aligned = all(v % PAGE_SIZE == 0 for v in (start, stop))
    return _finish([float(v) for v in values], sizes, ints, aligned)


def _steps(path: str) -> tuple:
    return tuple(int(s) if s.lstrip("-").isdigit() else s for s in path.split("."))


def _check_path(full: dict, path: str, err) -> None:
    """A parameter path must name a setting of the scenario (every default filled in)."""
    if not path or any(s == "" for s in path.split(".")):
        raise err(f"{path!r} is not a setting path such as host.memory or guests.0.count")
    root = path.split(".")[0]
    if root == "seed":
        raise err("the seed is not a sweep parameter: use replications (seeds derive from it)")
    if root == "sweep":
        raise err("a sweep cannot sweep its own settings")
    node, walked = full, []
    for step in path.split("."):
        where = format_path(walked) or "the scenario"
        if isinstance(node, list):
            if not step.isdigit() or int(step) >= len(node):
                raise err(f"no setting {path}: {where} has no item {step} (it has {len(node)})")
            node = node[int(step)]
            walked.append(int(step))
        elif isinstance(node, dict):
            if step not in node:
                raise err(f"no setting {path}: {where} has no key {step!r}{_suggest(step, node)}")
            node = node[step]
            walked.append(step)
        else:
            raise err(f"no setting {path}: {where} is a value, not a mapping or list")


def _set(data: dict, path: str, value) -> None:
    node = data
    steps = path.split(".")
    for step in steps[:-1]:
        node = node[int(step)] if isinstance(node, list) else node[step]
    last = steps[-1]
    if isinstance(node, list):
        node[int(last)] = copy.deepcopy(value)
    else:
        node[last] = copy.deepcopy(value)


def _base_data(scenario: Scenario) -> dict:
    data = scenario.model_dump(mode="json", exclude_none=True)
    data.pop("sweep", None)
    return data


def _under(error_path: str | None, param: str) -> bool:
    mine = format_path(_steps(param))
    return bool(error_path) and (error_path == mine or error_path.startswith((mine + ".",
                                                                             mine + "[")))


def parse_spec(scenario: Scenario, parameters=None, mode=None, replications=None, policies=None,
               metrics=None, *, file=None, lines=None) -> SweepSpec:
    """The sweep to run: the arguments given, else the scenario's `sweep:` block, else defaults.

    Raises ScenarioError at `sweep.parameters.<path>` (or `sweep.<key>`) for a bad spec: an
    unknown key or setting path, an empty list, a bad range, a value that is invalid by itself.
    """
    block = scenario.sweep or {}
    if not isinstance(block, dict):
        raise ScenarioError("sweep: expected a mapping with parameters, mode, replications, "
                            "policies", file=file, path="sweep")
    lines = lines or {}
    inb = _Where(file, lines, True)
    arg = _Where(None, {}, False)
    for key in block:
        if key not in SPEC_KEYS:
            raise inb.error(f"unknown key{_suggest(key, SPEC_KEYS)}; expected one of "
                            f"{', '.join(SPEC_KEYS)}", key)

    def pick(name, given):
        return (given, arg) if given is not None else (block.get(name), inb)

    raw_params, where = pick("parameters", parameters)
    raw_params = raw_params or {}
    if not isinstance(raw_params, dict):
        raise where.error("expected a mapping of setting paths to values", "parameters")
    mode_v, w = pick("mode", mode)
    mode_v = mode_v or "grid"
    if mode_v not in MODES:
        raise w.error(f"unknown mode {mode_v!r}{_suggest(mode_v, MODES)}; expected grid or zip",
                      "mode")
    reps, w = pick("replications", replications)
    reps = 1 if reps is None else reps
    if not isinstance(reps, int) or isinstance(reps, bool) or reps < 1:
        raise w.error(f"replications must be a whole number ≥ 1, got {reps!r}", "replications")
    pols, pw = pick("policies", policies)
    if isinstance(pols, str):
        pols = [p.strip() for p in pols.split(",") if p.strip()]
    if pols is not None and (not isinstance(pols, list) or not pols):
        raise pw.error("expected a non-empty list of policy names or kinds", "policies")
    mets, w = pick("metrics", metrics)
    mets = list(DEFAULT_PLOT_METRICS) if mets is None else mets
    if isinstance(mets, str):
        mets = [mets]
    for m in mets:
        if m not in METRICS:
            raise w.error(f"unknown metric {m!r}{_suggest(m, METRICS)}", "metrics")

    full = scenario.model_dump(mode="json")
    base = _base_data(scenario)
    values: dict[str, list] = {}
    for path, vspec in raw_params.items():
        path = str(path)

        def err(message, _path=path):
            return where.error(message, "parameters", _path)

        _check_path(full, path, err)
        values[path] = expand_values(vspec, err)
        for v in values[path]:  # a value wrong by itself is the spec's fault, not the point's
            data = copy.deepcopy(base)
            _set(data, path, v)
            try:
                load_scenario(data)
            except ScenarioError as exc:
                if _under(exc.path, path):
                    raise err(f"value {v!r}: {exc.message}") from None
    if mode_v == "zip" and values:
        lengths = {p: len(v) for p, v in values.items()}
        first = next(iter(lengths))
        for p, n in lengths.items():
            if n != lengths[first]:
                raise where.error(f"mode zip: {n} values here but {lengths[first]} for {first}; "
                                  "zipped parameters need the same number of values",
                                  "parameters", p)
    spec = SweepSpec(values, mode_v, reps, pols, list(mets))
    if pols is not None:
        from .api import select_policies

        try:
            select_policies(scenario, pols)
        except ScenarioError as exc:
            raise pw.error(exc.message, "policies") from None
    return spec


def replication_seed(seed: int, r: int) -> int:
    """The seed of replication r: the scenario seed itself for r = 0, so that a one-replication
    sweep reproduces `tmemsim compare` at every point; for r ≥ 1 the 63-bit integer

        SeedSequence(seed, spawn_key=(r,)).generate_state(1, uint64)[0] >> 1

    i.e. drawn from the r-th child that numpy's SeedSequence(seed).spawn() hands out.
    """
    if r == 0:
        return int(seed)
    state = np.random.SeedSequence(int(seed), spawn_key=(r,)).generate_state(1, np.uint64)[0]
    return int(state >> np.uint64(1))


# =============================================================================================
# keys and the point store


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """tmemsim's version plus a hash of the modules that compute a point, and numpy/simpy."""
    import simpy

    from . import __version__

    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel in _PRESENTATION:
            continue
        h.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{__version__}+{h.hexdigest()[:12]} numpy-{np.__version__} simpy-{simpy.__version__}"


def point_key(scenario_data: dict, policy: dict) -> str:
    """The store key of one task: sha256 of the resolved scenario (as run, seed included), the
    policy spec and code_version(). Fields that do not change the numbers are left out."""
    material = {
        "scenario": {k: v for k, v in scenario_data.items() if k not in _NOT_IN_KEY},
        "policy": policy,
        "tmemsim": code_version(),
    }
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _normalize(frame: pd.DataFrame) -> pd.DataFrame:
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
            return _normalize(pd.read_parquet(p))
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


# =============================================================================================
# one task, run anywhere


def run_point(scenario_data: dict, policy: dict) -> dict:
    """Run one scenario (a plain dict) under one policy (PolicySpec as a dict).

    Returns {"rows": [summary rows as dicts], "wall_seconds", "events"} or, when anything goes
    wrong, {"error": "Type: message", "traceback": "..."}: plain data both ways, so it travels
    through a process pool or Dask alike and a failure never takes the others down.
    """
    try:
        from .api import run_policy
        from .results import summary_rows

        s = load_scenario(scenario_data)
        spec = PolicySpec.model_validate(policy)
        start = time.perf_counter()
        out = run_policy(s, spec)
        rows = [{k: r[k] for k in ("policy", "guest", *METRICS)} for r in summary_rows(out)]
        if s.check:
            stale = next(r["stale_reads"] for r in rows if r["guest"] == "ALL")
            if stale:
                return {"error": f"RunError: coherence check failed: {stale} stale reads"}
        return {"rows": rows, "wall_seconds": time.perf_counter() - start,
                "events": int(out.events)}
    except TraceError as exc:  # the user's trace, not this point: the sweep stops (exit 2)
        return {"error": f"TraceError: {exc}",
                "trace_error": {"message": exc.message, "file": exc.file, "line": exc.line}}
    except Exception as exc:  # reported per point; the sweep goes on
        return {"error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(limit=8)}


@dataclass
class Task:
    """One simulation: a resolved point scenario under one policy with one seed."""

    key: str
    scenario: dict
    policy: dict


@dataclass
class _Ref:
    """Where a task's rows go in the table (several refs may share one task)."""

    point: int
    replication: int
    seed: int
    policy_index: int
    policy: str
    key: str


# =============================================================================================
# executors: a process pool, or Dask


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _error_outcome(exc: BaseException) -> dict:
    return {"error": f"{type(exc).__name__}: {exc}"}


def _run_local(tasks: list[Task], jobs: int, handle) -> None:
    if jobs <= 1 or len(tasks) <= 1:
        for t in tasks:
            if not handle(t, run_point(t.scenario, t.policy)):
                return
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed

    pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)))
    futures = {}
    try:
        futures = {pool.submit(run_point, t.scenario, t.policy): t for t in tasks}
        for fut in as_completed(futures):
            try:
                outcome = fut.result()
            except Exception as exc:  # a worker died (BrokenProcessPool) or pickling failed
                outcome = _error_outcome(exc)
            if not handle(futures[fut], outcome):
                break
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_dask(tasks: list[Task], jobs: int, scheduler, handle) -> None:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise TmemsimError("the dask executor needs dask.distributed: "
                           "pip install 'tmemsim[dask]'") from None
    cluster = None
    own_client = True
    if isinstance(scheduler, Client):
        client, own_client = scheduler, False
    elif scheduler:
        try:
            client = Client(scheduler)
        except (OSError, TimeoutError) as exc:
            raise TmemsimError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    else:
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    futures = []
    try:
        by_key = {}
        for t in tasks:
            fut = client.submit(run_point, t.scenario, t.policy, key=f"tmemsim-point-{t.key}",
                                pure=False)
            by_key[fut.key] = t
            futures.append(fut)
        for fut in as_completed(futures):
            try:
                outcome = fut.result()
            except Exception as exc:  # a worker lost, a task killed
                outcome = _error_outcome(exc)
            if not handle(by_key[fut.key], outcome):
                break
    finally:
        if futures:
            client.cancel(futures)
        if own_client:
            client.close()
        if cluster is not None:
            cluster.close()


EXECUTORS = ("local", "dask")


# =============================================================================================
# the result


class SweepResult:
    """A finished sweep: `.table` (every run), `.summary` (statistics over replications),
    `.failures` (points that did not run, with their error), `.meta`, figures, and `.save()`."""

    def __init__(self, table: pd.DataFrame, summary: pd.DataFrame, failures: pd.DataFrame,
                 meta: dict, scenario_yaml: str = ""):
        self.table = table
        self.summary = summary
        self.failures = failures
        self.meta = meta
        self.scenario_yaml = scenario_yaml

    @property
    def parameters(self) -> dict[str, list]:
        """Swept setting paths and their values, in sweep order."""
        return dict(self.meta.get("parameters", {}))

    @property
    def policies(self) -> list[str]:
        return list(self.meta.get("policies", []))

    def __repr__(self) -> str:
        c = self.meta.get("counts", {})
        return (f"<SweepResult {self.meta.get('scenario')!r}: {c.get('points')} points × "
                f"{len(self.policies)} policies × {self.meta.get('replications')} replications; "
                f"{c.get('ran')} ran, {c.get('cached')} cached, {c.get('failed')} failed>")

    def _repr_html_(self) -> str:
        """In a notebook: policies against points, best marked, and the main metric's figure."""
        from .presentation.html import sweep_html

        return sweep_html(self)

    def plot(self, metric: str = "read_hit_ratio", x: str | None = None, guest: str = "ALL",
             where: dict | None = None):
        """The metric against swept parameter x (default: the first), one line per policy with
        its 95 % CI band; other parameters are fixed by `where` or become panels."""
        from .sweep_plots import line_figure

        return line_figure(self, metric, x=x, guest=guest, where=where)

    def winner_map(self, x: str | None = None, y: str | None = None,
                   metric: str = "read_hit_ratio", guest: str = "ALL", better: str | None = None,
                   where: dict | None = None):
        """Who wins over two swept parameters: the best policy per cell, shaded by its margin
        over the runner-up, hatched where their 95 % CIs overlap."""
        from .sweep_plots import winner_figure

        return winner_figure(self, x=x, y=y, metric=metric, guest=guest, better=better,
                             where=where)

    def figures(self, metrics: list[str] | None = None) -> dict:
        """The default figures by name (what save() draws)."""
        from .sweep_plots import default_figures

        return default_figures(self, metrics or self.meta.get("metrics")
                               or DEFAULT_PLOT_METRICS)

    def save(self, directory, plots: bool = True) -> Path:
        """Write sweep.parquet, sweep_summary.csv, failures.csv, meta.json, scenario.yaml and
        plots/ into directory (each file replaced atomically; points/ is left alone). The
        directory must be new, empty or a tmemsim sweep directory."""
        d = claim_in_place(directory, "sweep", reuse=True)
        write_atomic(d / "sweep.parquet", lambda p: self.table.to_parquet(p, index=False))
        write_atomic(d / "sweep_summary.csv", lambda p: self.summary.to_csv(p, index=False))
        write_atomic(d / "failures.csv", lambda p: self.failures.to_csv(p, index=False))
        write_atomic(d / "meta.json", lambda p: Path(p).write_text(
            json.dumps(marked(self.meta, "sweep"), indent=2, default=str) + "\n"))
        if self.scenario_yaml:
            write_atomic(d / "scenario.yaml", lambda p: Path(p).write_text(self.scenario_yaml))
        if plots and not self.table.empty:
            from . import plots as plotting

            figs = self.figures()
            # plots/ of a sweep directory is ours: replaced whole, never merged or half-drawn
            with stage(d / "plots", force=True, trusted=True) as staged:
                plotting.save(figs, staged.build)
                staged.commit()
            from .presentation.html import REPORT_HTML, sweep_report

            write_atomic(d / REPORT_HTML, lambda p: Path(p).write_text(
                sweep_report(d, self), encoding="utf-8"))
        return d


def read_sweep(directory) -> SweepResult:
    """A saved sweep back from its directory (for new figures without running it again)."""
    d = Path(directory)
    if not (d / "sweep.parquet").exists():
        raise FileNotFoundError(f"{d} is not a tmemsim sweep directory (no sweep.parquet)")
    meta = json.loads((d / "meta.json").read_text()) if (d / "meta.json").exists() else {}
    table = pd.read_parquet(d / "sweep.parquet")
    params = list(meta.get("parameters", {}))
    summary = summarize(table, params)  # recomputed: the CSV would lose the value types
    failures = pd.read_csv(d / "failures.csv") if (d / "failures.csv").exists() else \
        pd.DataFrame()
    scenario_yaml = (d / "scenario.yaml").read_text() if (d / "scenario.yaml").exists() else ""
    return SweepResult(table, summary, failures, meta, scenario_yaml)


# =============================================================================================
# the sweep


def _column(values: list) -> list:
    """A parameter's values as one parquet-friendly column type (numbers, bools or text)."""
    if all(_is_number(v) for v in values):
        return values
    if all(isinstance(v, bool) for v in values) or all(isinstance(v, str) for v in values):
        return values
    return [v if isinstance(v, str) else json.dumps(v, sort_keys=True) for v in values]


def _load_source(scenario, overrides):
    """(Scenario, file, YAML lines) — lines only when it came from a file."""
    if isinstance(scenario, Scenario):
        s = load_scenario(scenario, overrides) if overrides else scenario
        return s, None, {}
    if isinstance(scenario, dict):
        return load_scenario(scenario, overrides), None, {}
    s = load_scenario(scenario, overrides)
    path = Path(scenario)
    try:
        _, lines = load_yaml(path.read_text(), str(path))
    except (OSError, ScenarioError):
        lines = {}
    return s, str(path), lines


def sweep(scenario, parameters: dict | None = None, mode: str | None = None,
          replications: int | None = None, policies=None, executor: str = "local",
          jobs: int | None = None, scheduler=None, out=None, resume: bool = False,
          fail_fast: bool = False, progress: Callable[[int, int], None] | None = None,
          *, overrides=None, metrics: list[str] | None = None, plots: bool = True,
          command: str = "") -> SweepResult:
    """Run a parameter sweep and return its SweepResult (saved into `out` when given).

    scenario: a path, a dict or a Scenario; `overrides` as for load_scenario (`--set`).
    parameters, mode, replications, policies, metrics: the arguments given, else the scenario's
        `sweep:` block, else no parameters (one point), grid, 1, the scenario's policies.
    executor: "local" (a process pool of `jobs` workers, default: the cores; jobs=1 runs in
        this process) or "dask" (`scheduler`: an address such as tcp://host:8786 or a
        dask.distributed.Client; none starts a LocalCluster of `jobs` worker processes).
    out: writes points/<key>.parquet as tasks finish, then the sweep files. An existing,
        non-empty out is an error unless `resume`, which reuses the points stored there (and
        only in a tmemsim sweep directory). The directory is claimed before any task runs;
        the working directory, the scenario's and their ancestors are refused.
    fail_fast: stop at the first failing task and raise RunError; otherwise failures are
        reported in `.failures` (and failures.csv) and the other tasks run.
    progress(done, total) is called as tasks finish (stored ones count as done at once).
    """
    wall = time.perf_counter()
    if executor not in EXECUTORS:
        raise TmemsimError(f"unknown executor {executor!r}; expected local or dask")
    check_jobs(jobs)
    if scheduler is not None and executor != "dask":
        raise TmemsimError("a scheduler address is for the dask executor (--executor dask)")
    base, file, lines = _load_source(scenario, overrides)
    spec = parse_spec(base, parameters, mode, replications, policies, metrics, file=file,
                      lines=lines)
    out_dir = Path(out) if out is not None else None
    if resume and out_dir is None:
        raise TmemsimError("resume needs the output directory of the sweep to resume (out)")
    store = PointStore(out_dir / "points") if out_dir is not None else None

    # ---- plan: every point × replication × policy, as plain data
    from .api import select_policies

    names = list(spec.parameters)
    points = spec.points()
    columns = {n: _column([p[n] for p in points]) for n in names}  # the table's values

    def shown(i: int) -> dict:
        return {n: columns[n][i] for n in names}

    seeds = [replication_seed(base.seed, r) for r in range(spec.replications)]
    if len(set(seeds)) != len(seeds):  # astronomically unlikely; never silently merge seeds
        raise RunError(f"replication seeds collide for seed {base.seed}: {seeds}")
    base_data = _base_data(base)
    refs: list[_Ref] = []
    tasks: dict[str, Task] = {}
    failures: list[dict] = []
    policy_order: list[str] = []
    for i, point in enumerate(points):
        data = copy.deepcopy(base_data)
        for path, value in point.items():
            _set(data, path, value)
        try:
            ps = load_scenario(data)
            specs = select_policies(ps, spec.policies)
        except ScenarioError as exc:
            problem = f"invalid scenario at this point: {exc}"
            if fail_fast:
                raise ScenarioError(f"sweep point {_describe(point)}: {problem}") from None
            failures.append({"point": i, **shown(i), "replication": None, "seed": None,
                             "policy": None, "error": problem})
            continue
        policy_order += [p.name for p in specs if p.name not in policy_order]
        for r, seed in enumerate(seeds):
            run_data = ps.model_dump(mode="json", exclude_none=True)
            run_data["seed"] = seed
            run_data.pop("sweep", None)
            for j, pspec in enumerate(specs):
                pdata = pspec.model_dump(mode="json")
                key = point_key(run_data, pdata)
                tasks.setdefault(key, Task(key, run_data, pdata))
                refs.append(_Ref(i, r, seed, j, pspec.name, key))

    had_out = out_dir is not None and out_dir.exists()
    had_points = store is not None and store.dir.exists()
    if out_dir is not None:  # after planning (its errors leave nothing), before any task
        claim_in_place(out_dir, "sweep", reuse=resume, protect=[file] if file else (),
                       hint="resume it with --resume or choose another --out")

    # ---- stored points first, then the rest on the executor
    frames: dict[str, pd.DataFrame] = {}
    if resume and store is not None:
        for key in tasks:
            frame = store.load(key)
            if frame is not None:
                frames[key] = frame
    todo = [t for k, t in tasks.items() if k not in frames]
    errors: dict[str, str] = {}
    total, done = len(tasks), len(frames)
    if progress:
        progress(done, total)
    stopped: list[str] = []
    bad_input: list[dict] = []

    def handle(task: Task, outcome: dict) -> bool:
        nonlocal done
        done += 1
        if "trace_error" in outcome:
            bad_input.append(outcome["trace_error"])
            return False
        if "error" in outcome:
            errors[task.key] = outcome["error"]
            if fail_fast:
                stopped.append(task.key)
                return False
        else:
            frame = _normalize(pd.DataFrame(outcome["rows"]))
            frames[task.key] = frame
            if store is not None:
                store.save(task.key, frame, {
                    "scenario": task.scenario, "policy": task.policy,
                    "tmemsim": code_version(), "wall_seconds": outcome.get("wall_seconds"),
                    "events": outcome.get("events")})
        if progress:
            progress(done, total)
        return True

    n_jobs = jobs or _cores()
    if todo:
        if executor == "dask":
            _run_dask(todo, n_jobs, scheduler, handle)
        else:
            _run_local(todo, n_jobs, handle)
    ran = sum(1 for t in todo if t.key in frames)
    if bad_input:  # every point replays that trace: stop, and keep nothing this call wrote
        if out_dir is not None and not had_out:  # made by this call: all of it is ours
            shutil.rmtree(out_dir, ignore_errors=True)
        elif store is not None and not had_points:
            shutil.rmtree(store.dir, ignore_errors=True)
        raise TraceError(**bad_input[0])

    if stopped:
        key = stopped[0]
        where = next(r for r in refs if r.key == key)
        raise RunError(f"sweep point {_describe(points[where.point])}, replication "
                       f"{where.replication} (seed {where.seed}), policy {where.policy}: "
                       f"{errors[key]}")

    # ---- assemble, in sweep order whatever the completion order
    pieces = []
    for ref in sorted(refs, key=lambda r: (r.point, r.replication, r.policy_index)):
        if ref.key in errors:
            failures.append({"point": ref.point, **shown(ref.point),
                             "replication": ref.replication, "seed": ref.seed,
                             "policy": ref.policy, "error": errors[ref.key]})
            continue
        frame = frames.get(ref.key)
        if frame is None:
            continue
        head = {"point": ref.point, **shown(ref.point)}
        head.update({"replication": ref.replication, "seed": ref.seed})
        pieces.append((head, frame))
    table = _table(pieces, names)
    fail_cols = ["point", *names, "replication", "seed", "policy", "error"]
    fails = pd.DataFrame(failures, columns=fail_cols, dtype=object)  # 63-bit seeds stay exact
    fails = fails.astype({"point": "int64", "replication": "Int64", "seed": "Int64"})
    fails = fails.infer_objects()
    if len(fails):
        fails = fails.sort_values(["point", "replication"], kind="stable", na_position="first")
        fails = fails.reset_index(drop=True)
    summary = summarize(table, names)
    meta = {
        MARKER: "sweep",
        "tmemsim_version": code_version(),
        "scenario": base.name,
        "description": base.description,
        "seed": base.seed,
        "parameters": {n: _column(spec.parameters[n]) for n in names},
        "mode": spec.mode,
        "replications": spec.replications,
        "replication_seeds": seeds,
        "policies": policy_order,
        "metrics": spec.metrics,
        "executor": executor,
        "jobs": n_jobs,
        "scheduler": str(scheduler) if scheduler is not None and executor == "dask" else None,
        "counts": {"points": len(points), "tasks": len(tasks), "ran": ran,
                   "cached": len(tasks) - len(todo), "failed": len(errors),
                   "invalid_points": sum(1 for f in failures if f["policy"] is None)},
        "wall_seconds": round(time.perf_counter() - wall, 3),
        "command": command,
    }
    result = SweepResult(table, summary, fails, meta, resolved_yaml(base))
    if out_dir is not None:
        result.save(out_dir, plots=plots)
    return result


def _describe(point: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items()) or "(the scenario)"


def _table(pieces: list[tuple[dict, pd.DataFrame]], names: list[str]) -> pd.DataFrame:
    head_cols = ["point", *names, "replication", "seed"]
    if not pieces:
        return pd.DataFrame(columns=[*head_cols, "policy", "guest", *METRICS])
    body = pd.concat([f for _, f in pieces], ignore_index=True)
    heads = {c: [] for c in head_cols}
    for head, frame in pieces:
        for c in head_cols:
            heads[c].extend([head[c]] * len(frame))
    front = pd.DataFrame(heads)
    front["point"] = front["point"].astype("int64")
    front["replication"] = front["replication"].astype("int64")
    front["seed"] = front["seed"].astype("int64")
    return pd.concat([front, body], axis=1)


__all__ = ["SweepResult", "SweepSpec", "code_version", "expand_values", "parse_spec",
           "point_key", "read_sweep", "replication_seed", "run_point", "summarize", "sweep",
           "t_quantile"]
