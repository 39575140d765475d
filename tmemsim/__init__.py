"""tmemsim: transcendent memory vs transparent host caching vs dedup, simulated.

Public API: load_scenario, simulate, compare, read_results (see api.py).
"""

__version__ = "0.1.0"

from .api import Comparison, Result, compare, load_scenario, read_results, simulate  # noqa: E402

__all__ = ["Comparison", "Result", "__version__", "compare", "load_scenario", "read_results",
           "simulate"]
