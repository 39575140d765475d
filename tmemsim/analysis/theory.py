"""Closed-form expectations the simulator is checked against: cache hit ratios and queue delays.

Pure functions (numpy; scipy for the roots) with no state; each docstring names the published source of its formula.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable

import numpy as np
from scipy.optimize import brentq

# Convergence target of the characteristic-time root, on log(T): a relative error of ~1e-13
# in T is far below anything a Monte-Carlo check or a simulation can resolve.
_LOG_T_TOL = 1e-13


def zipf_popularities(n: int, alpha: float) -> np.ndarray:
    """Zipf popularity law p_i ∝ 1 / i**alpha for ranks i = 1..n, normalised to sum to 1.

    Source: G. K. Zipf, "Human Behavior and the Principle of Least Effort" (1949); the usual
    IRM workload of Breslau et al., "Web caching and Zipf-like distributions", INFOCOM 1999.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not math.isfinite(alpha) or alpha < 0:
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha}")
    ranks = np.arange(1, n + 1, dtype=np.float64)
    # exp(-alpha*log i) rather than i**-alpha only for clarity; both are exact enough here.
    w = np.exp(-alpha * np.log(ranks))
    return w / w.sum()


def _popularities(p: np.ndarray) -> np.ndarray:
    """Validate request rates and return the normalised, strictly positive ones.

    Objects with zero rate are never requested and never occupy an IRM cache, so they drop
    out of both the occupancy equation and the hit ratio.
    """
    arr = np.asarray(p, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError("p must be a non-empty 1-D array of popularities")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError("p must contain finite, non-negative values")
    total = arr.sum()
    if total <= 0:
        raise ValueError("p must have a positive sum")
    arr = arr[arr > 0]
    return arr / total


def _check_capacity(capacity: float) -> float:
    c = float(capacity)
    if not math.isfinite(c) or c < 0:
        raise ValueError(f"capacity must be a finite number >= 0, got {capacity}")
    return c


def _solve_characteristic_time(
    p: np.ndarray,
    capacity: float,
    occupancy: Callable[[np.ndarray], np.ndarray],
    t_hi: float,
) -> float:
    """Solve sum_i occupancy(p_i T) = capacity for T: Brent's method on x = log T.

    Both occupancy laws used here satisfy occupancy(y) < y, so sum occupancy(p_i C) < C and
    T = C is a valid lower bracket; the caller supplies an upper bracket. Working in log T
    keeps the root well scaled when T spans 1..1e12 (large n, steep or flat Zipf); Brent's
    method (scipy.optimize.brentq) converges on any sign-changing bracket.
    """

    def excess(x: float) -> float:
        return float(occupancy(p * math.exp(x)).sum()) - capacity

    x = brentq(excess, math.log(capacity), math.log(t_hi), xtol=_LOG_T_TOL,
               rtol=4 * np.finfo(float).eps, maxiter=500)
    return math.exp(x)


def _che_occupancy(y: np.ndarray) -> np.ndarray:
    # Probability object i was requested within the last T: 1 - exp(-p_i T); expm1 keeps
    # precision for the many tiny p_i T of a long Zipf tail.
    return -np.expm1(-y)


def che_characteristic_time(p: np.ndarray, capacity: int) -> float:
    """Characteristic time T of an LRU cache: the root of sum_i (1 - exp(-p_i T)) = C.

    Source: H. Che, Y. Tung, Z. Wang, "Hierarchical Web caching systems: modeling, design and
    experimental results", IEEE JSAC 20(7), 2002; accuracy explained by C. Fricker, P. Robert,
    J. Roberts, "A versatile and accurate approximation for LRU cache performance", ITC 2012.

    `p` are request rates (normalised here, so T is measured in requests). Returns 0.0 for
    C = 0 and inf when C is at least the number of objects with positive rate (all fit).
    """
    q = _popularities(p)
    c = _check_capacity(capacity)
    if c == 0:
        return 0.0
    n = q.size
    if c >= n:
        return math.inf
    # Each term is at least 1 - exp(-p_min T), so this T makes the sum >= C; doubled for
    # floating-point margin.
    t_hi = 2.0 * -math.log1p(-c / n) / float(q.min())
    return _solve_characteristic_time(q, c, _che_occupancy, t_hi)


def che_lru_hit_ratio(p: np.ndarray, capacity: int) -> float:
    """LRU hit ratio under the independent reference model: sum_i p_i (1 - exp(-p_i T)).

    Source: Che, Tung & Wang, IEEE JSAC 20(7), 2002 (T from `che_characteristic_time`).
    """
    q = _popularities(p)
    t = che_characteristic_time(q, capacity)
    if t == 0.0:
        return 0.0
    if math.isinf(t):
        return 1.0
    return float(np.dot(q, _che_occupancy(q * t)))


def _fifo_occupancy(y: np.ndarray) -> np.ndarray:
    # Fraction of time object i is cached under FIFO/RANDOM: p_i T / (1 + p_i T).
    return y / (1.0 + y)


def fifo_characteristic_time(p: np.ndarray, capacity: int) -> float:
    """Characteristic time T of a FIFO/RANDOM cache: the root of sum_i p_i T/(1 + p_i T) = C.

    Source: M. Garetto, E. Leonardi, V. Martina, "A unified approach to the performance
    analysis of caching systems", IEEE INFOCOM 2014 (and ACM TOMPECS 1(3), 2016).
    Returns 0.0 for C = 0 and inf when every object with positive rate fits.
    """
    q = _popularities(p)
    c = _check_capacity(capacity)
    if c == 0:
        return 0.0
    n = q.size
    if c >= n:
        return math.inf
    # Each term is at least p_min T / (1 + p_min T), which reaches C/n at this T; doubled for
    # floating-point margin.
    t_hi = 2.0 * c / (float(q.min()) * (n - c))
    return _solve_characteristic_time(q, c, _fifo_occupancy, t_hi)


def fifo_irm_hit_ratio(p: np.ndarray, capacity: int) -> float:
    """FIFO (equivalently RANDOM) hit ratio under IRM: sum_i p_i h_i, h_i = p_i T/(1 + p_i T).

    Source: Garetto, Leonardi & Martina, INFOCOM 2014; FIFO and RANDOM have the same IRM
    hit ratio by E. Gelenbe, "A unified approach to the evaluation of a class of replacement
    algorithms", IEEE Trans. Computers C-22(6), 1973.
    """
    q = _popularities(p)
    t = fifo_characteristic_time(q, capacity)
    if t == 0.0:
        return 0.0
    if math.isinf(t):
        return 1.0
    return float(np.dot(q, _fifo_occupancy(q * t)))


def _check_rate(name: str, value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")


def mm1_response(lam: float, mu: float) -> float:
    """Mean response (sojourn) time of M/M/1: 1 / (mu - lam).

    Source: L. Kleinrock, "Queueing Systems, Vol. 1: Theory" (1975), ch. 3.
    """
    _check_rate("lam", lam)
    _check_rate("mu", mu)
    if lam >= mu:
        raise ValueError(f"unstable queue: lam={lam} >= mu={mu}")
    return 1.0 / (mu - lam)


def md1_response(lam: float, service: float) -> float:
    """Mean response time of M/D/1: service + rho * service / (2 (1 - rho)), rho = lam*service.

    Source: Pollaczek-Khinchine mean-value formula with E[S^2] = service^2 (Kleinrock Vol. 1,
    ch. 5); the waiting part is exactly half that of M/M/1 at the same rho.
    """
    _check_rate("lam", lam)
    _check_rate("service", service)
    rho = lam * service
    if rho >= 1:
        raise ValueError(f"unstable queue: rho = lam*service = {rho} >= 1")
    return service + rho * service / (2.0 * (1.0 - rho))


def mg1_response(lam: float, mean_service: float, second_moment: float) -> float:
    """Mean response time of M/G/1: E[S] + lam E[S^2] / (2 (1 - rho)), rho = lam E[S].

    Source: Pollaczek-Khinchine mean-value formula (Kleinrock Vol. 1, ch. 5).
    """
    _check_rate("lam", lam)
    _check_rate("mean_service", mean_service)
    _check_rate("second_moment", second_moment)
    if second_moment < mean_service**2 * (1 - 1e-12):
        # Var[S] = E[S^2] - E[S]^2 cannot be negative.
        raise ValueError("second_moment must be >= mean_service**2")
    rho = lam * mean_service
    if rho >= 1:
        raise ValueError(f"unstable queue: rho = lam*mean_service = {rho} >= 1")
    return mean_service + lam * second_moment / (2.0 * (1.0 - rho))


def erlang_b(c: int, a: float) -> float:
    """Erlang-B blocking probability of M/M/c/c with offered load a, by the stable recursion
    B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1)), which avoids a**c / c! overflow.

    Source: A. K. Erlang (1917); recursion is the standard one (e.g. Kleinrock Vol. 1, ch. 3).
    """
    if int(c) != c or c < 1:
        raise ValueError(f"c must be an integer >= 1, got {c}")
    _check_rate("a", a)
    b = 1.0
    for k in range(1, int(c) + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(c: int, a: float) -> float:
    """Erlang-C probability that an arrival waits in M/M/c, offered load a = lam/mu < c:
    C = c B / (c - a (1 - B)) with B = Erlang-B(c, a).

    Source: Kleinrock Vol. 1 (1975), ch. 3, rewritten through Erlang B for stability.
    """
    b = erlang_b(c, a)
    if a >= c:
        raise ValueError(f"unstable queue: offered load a={a} >= c={c}")
    return c * b / (c - a * (1.0 - b))


def mmc_wait(lam: float, mu: float, c: int) -> float:
    """Mean time spent waiting in queue in M/M/c: C(c, lam/mu) / (c mu - lam).

    Source: Kleinrock Vol. 1 (1975), ch. 3.
    """
    _check_rate("lam", lam)
    _check_rate("mu", mu)
    if mu == 0:
        raise ValueError("mu must be > 0")
    if lam >= c * mu:
        raise ValueError(f"unstable queue: lam={lam} >= c*mu={c * mu}")
    return erlang_c(c, lam / mu) / (c * mu - lam)


def mmc_response(lam: float, mu: float, c: int) -> float:
    """Mean response time of M/M/c: mmc_wait + 1/mu (Kleinrock Vol. 1, ch. 3)."""
    return mmc_wait(lam, mu, c) + 1.0 / mu


def littles_law_L(lam: float, response: float) -> float:
    """Mean number in system L = lam * W.

    Source: J. D. C. Little, "A proof for the queuing formula L = lambda W", Operations
    Research 9(3), 1961.
    """
    _check_rate("lam", lam)
    _check_rate("response", response)
    return lam * response


def lru_stack_hits(trace_ids: Iterable[Hashable], capacities: Iterable[int]) -> dict[int, int]:
    """Exact LRU hit counts for several cache sizes in one pass (Mattson's stack algorithm).

    LRU is a stack algorithm: a request hits in a cache of size C iff its reuse (stack)
    distance is <= C, so one histogram of stack distances gives every size at once.
    O(len(trace) * distinct objects); meant as a test oracle on small traces, not production.

    Source: R. L. Mattson, J. Gecsei, D. R. Slutz, I. L. Traiger, "Evaluation techniques for
    storage hierarchies", IBM Systems Journal 9(2), 1970.
    """
    caps = [int(c) for c in capacities]
    if any(c < 0 for c in caps):
        raise ValueError("capacities must be >= 0")
    stack: list[Hashable] = []  # most recently used first
    present: set[Hashable] = set()
    depth_counts: dict[int, int] = {}
    for obj in trace_ids:
        if obj in present:
            i = stack.index(obj)
            del stack[i]
            depth = i + 1
            depth_counts[depth] = depth_counts.get(depth, 0) + 1
        else:
            present.add(obj)  # cold miss: infinite stack distance
        stack.insert(0, obj)
    hist = np.zeros(len(stack) + 1, dtype=np.int64)
    for depth, count in depth_counts.items():
        hist[depth] = count
    cum = np.cumsum(hist)  # cum[C] = number of requests with stack distance <= C
    return {c: int(cum[min(c, len(stack))]) for c in caps}
