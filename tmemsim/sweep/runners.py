"""Running a sweep's tasks: one task (run_point) as plain data in and out, and the executors
that run many (a local process pool through infra.parallel, or Dask)."""

from __future__ import annotations

import os
import time
import traceback
from dataclasses import dataclass

from ..errors import TmemsimError, TraceError
from ..infra.parallel import Failed, run_many
from ..scenario import PolicySpec, load_scenario
from .stats import METRICS


def run_point(scenario_data: dict, policy: dict) -> dict:
    """Run one scenario (a plain dict) under one policy (PolicySpec as a dict).

    Returns {"rows": [summary rows as dicts], "wall_seconds", "events"} or, when anything goes
    wrong, {"error": "Type: message", "traceback": "..."}: plain data both ways, so it travels
    through a process pool or Dask alike and a failure never takes the others down.
    """
    try:
        from ..api import run_policy
        from ..model.invariants import stale_reads_failure
        from ..results import summary_rows

        s = load_scenario(scenario_data)
        spec = PolicySpec.model_validate(policy)
        start = time.perf_counter()
        out = run_policy(s, spec)
        rows = [{k: r[k] for k in ("policy", "guest", *METRICS)} for r in summary_rows(out)]
        failure = stale_reads_failure(rows) if s.check else None
        if failure:
            return {"error": f"RunError: {failure}"}
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


def cores() -> int:
    """The processors this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _error_outcome(exc: BaseException) -> dict:
    return {"error": f"{type(exc).__name__}: {exc}"}


def _run_task(task: Task) -> dict:
    return run_point(task.scenario, task.policy)


def run_local(tasks: list[Task], jobs: int, handle) -> None:
    """Run tasks on a process pool of jobs workers (here, in order, when jobs <= 1), calling
    handle(task, outcome) as each finishes; handle returning False stops the rest."""
    def each(i, outcome):
        if isinstance(outcome, Failed):  # a worker died (BrokenProcessPool) or pickling failed
            outcome = _error_outcome(outcome.error)
        return handle(tasks[i], outcome)

    # run_point reports its own failures as outcomes: what a pool raises is the pool's (a
    # worker died, pickling failed) and becomes the task's error; in this process nothing is
    # caught
    run_many(_run_task, tasks, jobs, each=each, capture=jobs > 1)


def run_dask(tasks: list[Task], jobs: int, scheduler, handle) -> None:
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


__all__ = ["EXECUTORS", "Task", "cores", "run_dask", "run_local", "run_point"]
