"""Running one function over many items: in this process, or on a pool of processes.

`run_many` is the one process pool of tmemsim (compare's policies, a local sweep's tasks,
verify's checks). Results come back in the items' order whatever order they finish in, so a
parallel run gives what a serial one gives. With jobs <= 1, or a single item, everything runs
here, in order, and nothing is pickled (fn may then be a closure).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any


class Failed:
    """What run_many(..., capture=True) puts in place of a result whose call raised."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException):
        self.error = error

    def __repr__(self) -> str:
        return f"Failed({self.error!r})"


def run_many(fn: Callable[[Any], Any], items: Iterable, jobs: int | None,
             progress: Callable[[int, int], None] | None = None, *,
             each: Callable[[int, Any], bool | None] | None = None,
             capture: bool = False) -> list:
    """[fn(item) for item in items], on min(jobs, len(items)) processes when jobs > 1.

    progress(done, total) is called as calls finish. each(index, result), also as calls finish
    (in the order they finish), may return False to stop: calls not yet started are cancelled
    and their places in the list are None. An exception of a call (or of the pool: a worker
    that died) propagates, after the calls not yet started are cancelled, unless capture, which
    puts a Failed holding it in the call's place instead.
    """
    items = list(items)
    results: list = [None] * len(items)
    if (jobs or 1) <= 1 or len(items) <= 1:
        calls = ((i, _call(fn, item, capture)) for i, item in enumerate(items))
        _collect(calls, results, progress, each)
        return results
    with ProcessPoolExecutor(max_workers=min(jobs, len(items))) as pool:
        futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
        try:
            calls = ((futures[f], _outcome(f, capture)) for f in as_completed(futures))
            _collect(calls, results, progress, each)
        finally:  # stopped, failed or interrupted: what has not started never will
            for future in futures:
                future.cancel()
    return results


def _collect(calls, results: list, progress, each) -> None:
    for done, (i, result) in enumerate(calls, start=1):
        results[i] = result
        if progress is not None:
            progress(done, len(results))
        if each is not None and each(i, result) is False:
            return


def _call(fn, item, capture: bool):
    if not capture:
        return fn(item)
    try:
        return fn(item)
    except Exception as exc:
        return Failed(exc)


def _outcome(future, capture: bool):
    if not capture:
        return future.result()
    try:
        return future.result()
    except Exception as exc:  # the call raised, a worker died, or pickling failed
        return Failed(exc)


__all__ = ["Failed", "run_many"]
