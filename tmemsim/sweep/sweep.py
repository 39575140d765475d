"""Running a sweep: plan every point × replication × policy as plain tasks, claim the output
directory, take stored points, run the rest on an executor, and assemble the tables.

Rows are sorted by where they sit in the sweep, never by when they finished, so every executor
gives the same table. With an output directory every finished task is written at once to
points/<key>.parquet (store.py), so `resume` skips what is done and an interrupted sweep loses
only the tasks in flight. The directory is claimed before any task runs
(infra.atomic.claim_in_place): it must be new, empty, or (to resume) a tmemsim sweep
directory. A task that fails is reported with its parameters and does not stop the others
unless `fail_fast`.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import RunError, ScenarioError, TmemsimError, TraceError, check_jobs
from ..infra.atomic import MARKER, claim_in_place
from ..scenario import Scenario, load_scenario, resolved_yaml, select_policies
from ..scenario.yamlmap import load_yaml
from . import runners
from .result import SweepResult
from .spec import SweepSpec, base_data, is_number, parse_spec, point_data, replication_seed
from .stats import METRICS, summarize
from .store import PointStore, code_version, normalize, point_key


@dataclass
class Ref:
    """Where a task's rows go in the table (several refs may share one task)."""

    point: int
    replication: int
    seed: int
    policy_index: int
    policy: str
    key: str


@dataclass
class Plan:
    """Every task of a sweep, and where its rows go; points that are invalid as a whole."""

    points: list[dict]
    columns: dict[str, list]  # each parameter's values as the table shows them, by point
    seeds: list[int]
    refs: list[Ref] = field(default_factory=list)
    tasks: dict[str, runners.Task] = field(default_factory=dict)
    failures: list[dict] = field(default_factory=list)
    policy_order: list[str] = field(default_factory=list)

    def shown(self, i: int) -> dict:
        """Point i's parameter values, as the table shows them."""
        return {n: values[i] for n, values in self.columns.items()}


def column(values: list) -> list:
    """A parameter's values as one parquet-friendly column type (numbers, bools or text)."""
    if all(is_number(v) for v in values):
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
    _check_arguments(executor, jobs, scheduler, resume, out)
    base, file, lines = _load_source(scenario, overrides)
    spec = parse_spec(base, parameters, mode, replications, policies, metrics, file=file,
                      lines=lines)
    plan = _plan(base, spec, fail_fast)
    out_dir = Path(out) if out is not None else None
    store = PointStore(out_dir / "points") if out_dir is not None else None
    had_out = out_dir is not None and out_dir.exists()
    had_points = store is not None and store.dir.exists()
    if out_dir is not None:  # after planning (its errors leave nothing), before any task
        claim_in_place(out_dir, "sweep", reuse=resume, protect=[file] if file else (),
                       hint="resume it with --resume or choose another --out")
    run = Execution(plan.tasks, store, fail_fast, progress)
    run.take_stored(resume)
    n_jobs = jobs or runners.cores()
    run.execute(executor, n_jobs, scheduler)
    if run.bad_input:  # every point replays that trace: stop, and keep nothing this call wrote
        if out_dir is not None and not had_out:  # made by this call: all of it is ours
            shutil.rmtree(out_dir, ignore_errors=True)
        elif store is not None and not had_points:
            shutil.rmtree(store.dir, ignore_errors=True)
        raise TraceError(**run.bad_input[0])
    if run.stopped:
        raise _first_failure(plan, run)
    table, fails = _assemble(plan, run)
    meta = _meta(base, spec, plan, run, dict(executor=executor, jobs=n_jobs,
                                            scheduler=scheduler, command=command, wall=wall))
    result = SweepResult(table, summarize(table, list(spec.parameters)), fails, meta,
                         resolved_yaml(base))
    if out_dir is not None:
        result.save(out_dir, plots=plots)
    return result


def _check_arguments(executor, jobs, scheduler, resume, out) -> None:
    if executor not in runners.EXECUTORS:
        raise TmemsimError(f"unknown executor {executor!r}; expected local or dask")
    check_jobs(jobs)
    if scheduler is not None and executor != "dask":
        raise TmemsimError("a scheduler address is for the dask executor (--executor dask)")
    if resume and out is None:
        raise TmemsimError("resume needs the output directory of the sweep to resume (out)")


def _plan(base: Scenario, spec: SweepSpec, fail_fast: bool) -> Plan:
    """Every point × replication × policy, as plain data; invalid points as failures."""
    points = spec.points()
    plan = Plan(points, {n: column([p[n] for p in points]) for n in spec.parameters},
                [replication_seed(base.seed, r) for r in range(spec.replications)])
    if len(set(plan.seeds)) != len(plan.seeds):  # astronomically unlikely; never merge seeds
        raise RunError(f"replication seeds collide for seed {base.seed}: {plan.seeds}")
    start = base_data(base)
    for i, point in enumerate(points):
        try:
            ps = load_scenario(point_data(start, point))
            specs = select_policies(ps, spec.policies)
        except ScenarioError as exc:
            problem = f"invalid scenario at this point: {exc}"
            if fail_fast:
                raise ScenarioError(f"sweep point {_describe(point)}: {problem}") from None
            plan.failures.append({"point": i, **plan.shown(i), "replication": None,
                                  "seed": None, "policy": None, "error": problem})
            continue
        plan.policy_order += [p.name for p in specs if p.name not in plan.policy_order]
        for r, seed in enumerate(plan.seeds):
            run_data = ps.model_dump(mode="json", exclude_none=True)
            run_data["seed"] = seed
            run_data.pop("sweep", None)
            for j, pspec in enumerate(specs):
                pdata = pspec.model_dump(mode="json")
                key = point_key(run_data, pdata)
                plan.tasks.setdefault(key, runners.Task(key, run_data, pdata))
                plan.refs.append(Ref(i, r, seed, j, pspec.name, key))
    return plan


class Execution:
    """The tasks' outcomes as they come: rows (stored at once), errors, a bad trace."""

    def __init__(self, tasks: dict[str, runners.Task], store: PointStore | None,
                 fail_fast: bool, progress):
        self.tasks, self.store = tasks, store
        self.fail_fast, self.progress = fail_fast, progress
        self.frames: dict[str, pd.DataFrame] = {}
        self.errors: dict[str, str] = {}
        self.stopped: list[str] = []
        self.bad_input: list[dict] = []
        self.todo: list[runners.Task] = []
        self.done = 0

    def take_stored(self, resume: bool) -> None:
        """Take the points stored by an earlier run (when resuming); the rest are to do."""
        if resume and self.store is not None:
            for key in self.tasks:
                frame = self.store.load(key)
                if frame is not None:
                    self.frames[key] = frame
        self.todo = [t for k, t in self.tasks.items() if k not in self.frames]
        self.done = len(self.frames)
        if self.progress:
            self.progress(self.done, len(self.tasks))

    def execute(self, executor: str, jobs: int, scheduler) -> None:
        if not self.todo:
            return
        if executor == "dask":
            runners.run_dask(self.todo, jobs, scheduler, self.handle)
        else:
            runners.run_local(self.todo, jobs, self.handle)

    @property
    def ran(self) -> int:
        return sum(1 for t in self.todo if t.key in self.frames)

    def handle(self, task: runners.Task, outcome: dict) -> bool:
        """Take one outcome; False to stop the other tasks."""
        self.done += 1
        if "trace_error" in outcome:
            self.bad_input.append(outcome["trace_error"])
            return False
        if "error" in outcome:
            self.errors[task.key] = outcome["error"]
            if self.fail_fast:
                self.stopped.append(task.key)
                return False
        else:
            frame = normalize(pd.DataFrame(outcome["rows"]))
            self.frames[task.key] = frame
            if self.store is not None:
                self.store.save(task.key, frame, {
                    "scenario": task.scenario, "policy": task.policy,
                    "tmemsim": code_version(), "wall_seconds": outcome.get("wall_seconds"),
                    "events": outcome.get("events")})
        if self.progress:
            self.progress(self.done, len(self.tasks))
        return True


def _first_failure(plan: Plan, run: Execution) -> RunError:
    key = run.stopped[0]
    where = next(r for r in plan.refs if r.key == key)
    return RunError(f"sweep point {_describe(plan.points[where.point])}, replication "
                    f"{where.replication} (seed {where.seed}), policy {where.policy}: "
                    f"{run.errors[key]}")


def _assemble(plan: Plan, run: Execution) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The table and the failures, in sweep order whatever the completion order."""
    names = list(plan.columns)
    pieces = []
    for ref in sorted(plan.refs, key=lambda r: (r.point, r.replication, r.policy_index)):
        if ref.key in run.errors:
            plan.failures.append({"point": ref.point, **plan.shown(ref.point),
                                  "replication": ref.replication, "seed": ref.seed,
                                  "policy": ref.policy, "error": run.errors[ref.key]})
            continue
        frame = run.frames.get(ref.key)
        if frame is None:
            continue
        head = {"point": ref.point, **plan.shown(ref.point)}
        head.update({"replication": ref.replication, "seed": ref.seed})
        pieces.append((head, frame))
    fail_cols = ["point", *names, "replication", "seed", "policy", "error"]
    fails = pd.DataFrame(plan.failures, columns=fail_cols, dtype=object)  # 63-bit seeds exact
    fails = fails.astype({"point": "int64", "replication": "Int64", "seed": "Int64"})
    fails = fails.infer_objects()
    if len(fails):
        fails = fails.sort_values(["point", "replication"], kind="stable", na_position="first")
        fails = fails.reset_index(drop=True)
    return _table(pieces, names), fails


def _meta(base: Scenario, spec: SweepSpec, plan: Plan, run: Execution, how: dict) -> dict:
    names = list(spec.parameters)
    scheduler = how["scheduler"]
    return {
        MARKER: "sweep",
        "tmemsim_version": code_version(),
        "scenario": base.name,
        "description": base.description,
        "seed": base.seed,
        "parameters": {n: column(spec.parameters[n]) for n in names},
        "mode": spec.mode,
        "replications": spec.replications,
        "replication_seeds": plan.seeds,
        "policies": plan.policy_order,
        "metrics": spec.metrics,
        "executor": how["executor"],
        "jobs": how["jobs"],
        "scheduler": (str(scheduler) if scheduler is not None and how["executor"] == "dask"
                      else None),
        "counts": {"points": len(plan.points), "tasks": len(plan.tasks), "ran": run.ran,
                   "cached": len(plan.tasks) - len(run.todo), "failed": len(run.errors),
                   "invalid_points": sum(1 for f in plan.failures if f["policy"] is None)},
        "wall_seconds": round(time.perf_counter() - how["wall"], 3),
        "command": how["command"],
    }


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


__all__ = ["Execution", "Plan", "Ref", "column", "sweep"]
