"""Checks of tmemsim.analysis.theory against independent values: textbook queueing results, exact
closed forms for uniform popularity, and Monte-Carlo caches written here from scratch."""

from __future__ import annotations

import functools
import math
from collections import OrderedDict
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tmemsim.analysis.theory import (
    che_characteristic_time,
    che_lru_hit_ratio,
    erlang_c,
    fifo_characteristic_time,
    fifo_irm_hit_ratio,
    littles_law_L,
    lru_stack_hits,
    md1_response,
    mg1_response,
    mm1_response,
    mmc_response,
    mmc_wait,
    zipf_popularities,
)

# ---------------------------------------------------------------------------------------------
# Zipf popularities


def test_zipf_normalised_and_shaped():
    p = zipf_popularities(1000, 0.8)
    assert p.shape == (1000,)
    assert math.isclose(p.sum(), 1.0, rel_tol=1e-12)
    assert np.all(np.diff(p) < 0)
    # p_1 / p_k = k**alpha by definition.
    assert math.isclose(p[0] / p[9], 10**0.8, rel_tol=1e-12)


def test_zipf_alpha_zero_is_uniform_and_n_one():
    assert np.allclose(zipf_popularities(7, 0.0), 1 / 7)
    assert zipf_popularities(1, 1.2).tolist() == [1.0]


@pytest.mark.parametrize("n, alpha", [(0, 1.0), (5, -0.1), (5, math.nan)])
def test_zipf_rejects_bad_arguments(n, alpha):
    with pytest.raises(ValueError):
        zipf_popularities(n, alpha)


# ---------------------------------------------------------------------------------------------
# Cache approximations: exact answers for uniform popularity


@pytest.mark.parametrize("n, c", [(10, 1), (100, 37), (1000, 999)])
def test_uniform_popularity_closed_forms(n, c):
    # With equal p_i = 1/n both fixed-point equations solve in closed form and, by symmetry,
    # the hit ratio is the fraction of objects cached, C/n.
    p = np.full(n, 1.0 / n)
    assert math.isclose(che_characteristic_time(p, c), -n * math.log1p(-c / n), rel_tol=1e-9)
    assert math.isclose(fifo_characteristic_time(p, c), n * c / (n - c), rel_tol=1e-9)
    assert math.isclose(che_lru_hit_ratio(p, c), c / n, rel_tol=1e-9)
    assert math.isclose(fifo_irm_hit_ratio(p, c), c / n, rel_tol=1e-9)


def test_cache_edge_capacities():
    p = zipf_popularities(50, 1.0)
    for hit in (che_lru_hit_ratio, fifo_irm_hit_ratio):
        assert hit(p, 0) == 0.0
        assert hit(p, 50) == 1.0
        assert hit(p, 80) == 1.0
        with pytest.raises(ValueError):
            hit(p, -1)
    assert che_characteristic_time(p, 0) == 0.0
    assert math.isinf(fifo_characteristic_time(p, 50))


def test_zero_rate_objects_drop_out_and_weights_normalise():
    p = zipf_popularities(100, 0.9)
    padded = np.concatenate([p, np.zeros(20)]) * 7.0
    assert math.isclose(che_lru_hit_ratio(padded, 30), che_lru_hit_ratio(p, 30), rel_tol=1e-12)
    assert math.isclose(fifo_irm_hit_ratio(padded, 30), fifo_irm_hit_ratio(p, 30), rel_tol=1e-12)
    # 100 requestable objects fit in a cache of 100 even though the array has 120 entries.
    assert che_lru_hit_ratio(padded, 100) == 1.0


@pytest.mark.parametrize("bad", [np.array([]), np.array([0.0, 0.0]), np.array([0.5, -0.1])])
def test_cache_rejects_bad_popularities(bad):
    with pytest.raises(ValueError):
        che_lru_hit_ratio(bad, 1)


def test_hit_ratio_increases_with_capacity():
    p = zipf_popularities(2000, 0.8)
    caps = [1, 10, 100, 500, 1000, 1999]
    for hit in (che_lru_hit_ratio, fifo_irm_hit_ratio):
        values = [hit(p, c) for c in caps]
        assert all(a < b for a, b in zip(values, values[1:], strict=False))
        assert 0 < values[0] and values[-1] < 1


@functools.cache
def _big_zipf(alpha: float) -> np.ndarray:
    return zipf_popularities(10**6, alpha)


@pytest.mark.parametrize("alpha", [0.5, 1.0, 1.5])
@pytest.mark.parametrize("c", [1, 10**6 - 1])
def test_characteristic_time_solves_fixed_point_at_scale(alpha, c):
    # Extreme capacities on a million objects: the root must satisfy its own equation.
    p = _big_zipf(alpha)
    t = che_characteristic_time(p, c)
    assert math.isfinite(t) and t >= c
    assert math.isclose(float((-np.expm1(-p * t)).sum()), c, rel_tol=1e-9)
    t = fifo_characteristic_time(p, c)
    assert math.isfinite(t) and t >= c
    assert math.isclose(float((p * t / (1 + p * t)).sum()), c, rel_tol=1e-9)


# ---------------------------------------------------------------------------------------------
# Cache approximations against Monte-Carlo caches

MC_OBJECTS = 2000
MC_REQUESTS = 300_000
MC_WARMUP = 20_000  # requests not scored: lets the cache fill (T is at most ~6000 here)
MC_TOLERANCE = 0.01


@functools.cache
def _irm_requests(alpha: float) -> list[int]:
    rng = np.random.default_rng(20020701)
    p = zipf_popularities(MC_OBJECTS, alpha)
    return rng.choice(MC_OBJECTS, size=MC_REQUESTS, p=p).tolist()


def _simulate(requests: list[int], capacity: int, *, lru: bool) -> float:
    """Hit ratio of an LRU (refresh on hit) or FIFO (no refresh) cache after warm-up."""
    cache: OrderedDict[int, None] = OrderedDict()
    hits = 0
    for i, obj in enumerate(requests):
        if obj in cache:
            if lru:
                cache.move_to_end(obj)
            if i >= MC_WARMUP:
                hits += 1
        else:
            cache[obj] = None
            if len(cache) > capacity:
                cache.popitem(last=False)
    return hits / (len(requests) - MC_WARMUP)


@pytest.mark.parametrize("alpha", [0.6, 0.8, 1.2])
@pytest.mark.parametrize("capacity", [50, 200, 800])
def test_che_matches_monte_carlo_lru(alpha, capacity):
    simulated = _simulate(_irm_requests(alpha), capacity, lru=True)
    predicted = che_lru_hit_ratio(zipf_popularities(MC_OBJECTS, alpha), capacity)
    assert abs(simulated - predicted) < MC_TOLERANCE


@pytest.mark.parametrize("alpha", [0.6, 0.8, 1.2])
@pytest.mark.parametrize("capacity", [50, 200, 800])
def test_fifo_approximation_matches_monte_carlo_fifo(alpha, capacity):
    simulated = _simulate(_irm_requests(alpha), capacity, lru=False)
    predicted = fifo_irm_hit_ratio(zipf_popularities(MC_OBJECTS, alpha), capacity)
    assert abs(simulated - predicted) < MC_TOLERANCE


# ---------------------------------------------------------------------------------------------
# Mattson stack algorithm against a direct LRU


def _lru_hits(trace, capacity: int) -> int:
    cache: OrderedDict = OrderedDict()
    hits = 0
    for obj in trace:
        if obj in cache:
            cache.move_to_end(obj)
            hits += 1
        elif capacity > 0:
            cache[obj] = None
            if len(cache) > capacity:
                cache.popitem(last=False)
    return hits


@settings(max_examples=200, deadline=None)
@given(
    trace=st.lists(st.integers(0, 12), max_size=200),
    capacities=st.lists(st.integers(0, 15), min_size=1, max_size=6),
)
def test_lru_stack_hits_matches_direct_lru(trace, capacities):
    result = lru_stack_hits(trace, capacities)
    assert set(result) == set(capacities)
    for c in capacities:
        assert result[c] == _lru_hits(trace, c)


def test_lru_stack_hits_small_example_and_hashable_ids():
    # a b c a b d a: stack distances -, -, -, 3, 3, -, 3
    trace = ["a", "b", "c", "a", "b", "d", "a"]
    assert lru_stack_hits(trace, [0, 1, 2, 3, 4]) == {0: 0, 1: 0, 2: 0, 3: 3, 4: 3}
    assert lru_stack_hits(iter([(1, 2), (1, 2)]), [1]) == {1: 1}
    with pytest.raises(ValueError):
        lru_stack_hits(trace, [-1])


# ---------------------------------------------------------------------------------------------
# Queueing formulas


@pytest.mark.parametrize("mu", [0.5, 1.0, 40.0])
def test_mm1_at_half_load_is_twice_service_time(mu):
    assert math.isclose(mm1_response(0.5 * mu, mu), 2.0 / mu)


@pytest.mark.parametrize("lam, mu", [(1.0, 1.0), (2.0, 1.0)])
def test_mm1_rejects_unstable(lam, mu):
    with pytest.raises(ValueError):
        mm1_response(lam, mu)


@pytest.mark.parametrize("rho", [0.1, 0.5, 0.9])
def test_md1_waits_half_as_long_as_mm1(rho):
    mu = 3.0
    lam = rho * mu
    mm1_wait = mm1_response(lam, mu) - 1 / mu
    assert math.isclose(md1_response(lam, 1 / mu), 1 / mu + mm1_wait / 2)
    with pytest.raises(ValueError):
        md1_response(mu, 1 / mu)


@pytest.mark.parametrize("rho", [0.2, 0.7])
def test_mg1_reduces_to_mm1_and_md1(rho):
    mu = 2.0
    lam = rho * mu
    # Exponential service: E[S^2] = 2/mu^2; deterministic service: E[S^2] = 1/mu^2.
    assert math.isclose(mg1_response(lam, 1 / mu, 2 / mu**2), mm1_response(lam, mu))
    assert math.isclose(mg1_response(lam, 1 / mu, 1 / mu**2), md1_response(lam, 1 / mu))
    with pytest.raises(ValueError):
        mg1_response(lam, 1 / mu, 0.5 / mu**2)  # variance would be negative


def _erlang_c_direct(c: int, a: Fraction) -> Fraction:
    """Textbook Erlang C, in exact rationals: (a^c/c!)(c/(c-a)) / (sum_{k<c} a^k/k! + same)."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


@pytest.mark.parametrize(
    "c, a, expected", [(2, 1.0, 1 / 3), (3, 2.0, 4 / 9), (1, 0.3, 0.3), (1, 0.95, 0.95)]
)
def test_erlang_c_textbook_values(c, a, expected):
    assert math.isclose(erlang_c(c, a), expected, rel_tol=1e-12)


@pytest.mark.parametrize("c, a", [(2, "3/2"), (5, "4"), (10, "8"), (20, "37/2"), (50, "45")])
def test_erlang_c_matches_direct_formula(c, a):
    a = Fraction(a)
    assert math.isclose(erlang_c(c, float(a)), float(_erlang_c_direct(c, a)), rel_tol=1e-10)


def test_erlang_c_stable_for_many_servers():
    # a**c / c! overflows a float here; the Erlang-B recursion does not.
    value = erlang_c(2000, 1950.0)
    assert 0.0 < value < 1.0
    with pytest.raises(ValueError):
        erlang_c(2, 2.0)


@pytest.mark.parametrize("rho", [0.1, 0.5, 0.9])
def test_mmc_with_one_server_is_mm1(rho):
    mu = 1.5
    lam = rho * mu
    assert math.isclose(mmc_response(lam, mu, 1), mm1_response(lam, mu))
    assert math.isclose(mmc_wait(lam, mu, 1), rho / (mu - lam))


@pytest.mark.parametrize("rho", [0.25, 0.5, 0.8])
def test_mm2_closed_form(rho):
    # M/M/2 has W = 1 / (mu (1 - rho^2)) with rho = lam / (2 mu).
    mu = 4.0
    lam = 2 * mu * rho
    assert math.isclose(mmc_response(lam, mu, 2), 1 / (mu * (1 - rho**2)))
    with pytest.raises(ValueError):
        mmc_wait(2 * mu, mu, 2)


def test_littles_law_on_mm1():
    lam, mu = 3.0, 4.0
    rho = lam / mu
    assert math.isclose(littles_law_L(lam, mm1_response(lam, mu)), rho / (1 - rho))
    assert littles_law_L(0.0, 5.0) == 0.0
