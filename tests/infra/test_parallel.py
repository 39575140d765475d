"""infra.parallel.run_many: input order, serial and pooled alike; stopping; failures."""

from __future__ import annotations

import os
import time

import pytest

from tmemsim.infra.parallel import Failed, run_many


def slow_square(x: int) -> int:
    time.sleep(0.05 * (3 - x % 3))  # later items finish first
    return x * x


def pid_of(_x) -> int:
    return os.getpid()


def fails_on_three(x: int) -> int:
    if x == 3:
        raise KeyError(x)
    return x


@pytest.mark.parametrize("jobs", [1, 2])
def test_results_in_input_order(jobs):
    seen = []
    out = run_many(slow_square, range(6), jobs, progress=lambda d, t: seen.append((d, t)))
    assert out == [0, 1, 4, 9, 16, 25]
    assert seen == [(d, 6) for d in range(1, 7)]


def test_serial_runs_here_and_pooled_elsewhere():
    assert set(run_many(pid_of, range(3), 1)) == {os.getpid()}
    assert os.getpid() not in run_many(pid_of, range(3), 2)
    assert run_many(pid_of, [0], 4) == [os.getpid()]  # one item: no pool


@pytest.mark.parametrize("jobs", [1, 2])
def test_an_exception_propagates_or_is_captured(jobs):
    with pytest.raises(KeyError):
        run_many(fails_on_three, range(5), jobs)
    out = run_many(fails_on_three, range(5), jobs, capture=True)
    assert [x for x in out if not isinstance(x, Failed)] == [0, 1, 2, 4]
    assert isinstance(out[3], Failed) and isinstance(out[3].error, KeyError)


def test_each_may_stop_the_rest():
    calls = []

    def record(x):
        calls.append(x)
        return x

    out = run_many(record, range(5), 1, each=lambda i, r: i < 1)
    assert out == [0, 1, None, None, None] and calls == [0, 1]
