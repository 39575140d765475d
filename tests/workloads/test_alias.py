"""Alias tables built with numpy: the same tables as Vose's list loop, so the same draws."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tmemsim.workloads.alias import alias_table


def vose_lists(p):
    """The construction the draws of every scenario were made with: Vose's loop on Python
    lists, popping from the ends. A numpy table must equal it bit for bit, or every stream
    of every zipf and anon workload changes."""
    n = len(p)
    scaled = (p * (n / p.sum())).tolist()
    prob = [1.0] * n
    alias = list(range(n))
    small = [i for i, x in enumerate(scaled) if x < 1.0]
    large = [i for i, x in enumerate(scaled) if x >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        prob[s], alias[s] = scaled[s], g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    return np.array(prob), np.array(alias, dtype=np.int64)


def assert_same_tables(p, block=None):
    want = vose_lists(p)
    got = alias_table(p) if block is None else alias_table(p, block=block)
    assert got[1].dtype == np.int64
    np.testing.assert_array_equal(got[1], want[1])
    assert got[0].tobytes() == want[0].tobytes()  # bit for bit, not approximately


@pytest.mark.parametrize("alpha", [0.0, 0.5, 0.9, 1.2, 3.0])
@pytest.mark.parametrize("n", [1, 2, 7, 1000, 70_000])
def test_zipf_tables_equal_the_list_loop(n, alpha):
    assert_same_tables(np.arange(1, n + 1, dtype=float) ** -alpha)


def test_a_large_zipf_table_equals_the_list_loop():
    # several blocks of the default size, each handing its state to the next
    assert_same_tables(np.arange(1, 300_001, dtype=float) ** -0.9)


_weights = st.one_of(
    arrays(float, st.integers(1, 300), elements=st.floats(0, 100)),
    # near-ties: the guessed schedule's roundings differ from the loop's right at 1
    arrays(float, st.integers(1, 300), elements=st.floats(1 - 1e-12, 1 + 1e-12)),
    arrays(float, st.integers(1, 300), elements=st.sampled_from([0.0, 0.1, 1 / 3, 0.7, 1.0, 2.0])),
)


@settings(max_examples=300, deadline=None)
@given(p=_weights, block=st.sampled_from([1, 3, 64, 1 << 16]))
def test_any_weights_any_block_equal_the_list_loop(p, block):
    if not p.sum() > 0:
        return
    assert_same_tables(p, block)


def test_guesses_that_go_wrong_are_repaired():
    # weights within rounding of equal make the cumulative-sum schedule wrong again and again;
    # the blocks must stop at each wrong guess and carry on from the loop's own value
    p = 1 + np.random.default_rng(3).standard_normal(5000) * 1e-13
    for block in (64, 1 << 16):
        assert_same_tables(p, block)


@pytest.mark.parametrize("p", [np.array([1.0, 2.0, 3.0, 4.0]), np.arange(1, 50.0) ** -1.1,
                               np.array([0.0, 5.0, 0.0, 1.0, 0.5])])
def test_tables_draw_each_index_with_its_probability(p):
    prob, alias = alias_table(p)
    n = len(p)
    # column i is drawn with 1/n; it gives i with prob[i] and alias[i] with the rest
    implied = prob.copy()
    np.add.at(implied, alias, 1.0 - prob)
    np.testing.assert_allclose(implied / n, p / p.sum(), rtol=0, atol=1e-12)


def test_a_table_is_built_in_arrays_not_python_objects():
    # the list loop held a float and an int object per page in each of its lists (about 140
    # bytes a page); the arrays need prob, alias and the two index lists: 24 bytes a page
    n = 1_000_000
    p = np.arange(1, n + 1, dtype=float) ** -0.9
    tracemalloc.start()
    try:
        alias_table(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40 * n, f"peak {peak / n:.0f} bytes a page"
