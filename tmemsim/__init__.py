"""tmemsim: transcendent memory vs transparent host caching vs dedup, simulated.

Public API: load_scenario, simulate, compare, curve, read_results, read_curves (see api.py).
"""

__version__ = "0.1.0"

from .api import (  # noqa: E402
    Comparison,
    Curves,
    Result,
    compare,
    curve,
    load_scenario,
    read_curves,
    read_results,
    simulate,
)

__all__ = ["Comparison", "Curves", "Result", "__version__", "compare", "curve", "load_scenario",
           "read_curves", "read_results", "simulate"]
