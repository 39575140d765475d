"""tmemsim: transcendent memory vs transparent host caching vs dedup, simulated.

Public API: load_scenario, simulate, compare, curve, sweep, regress, read_results,
read_curves, read_sweep, and the results they return (see api.py). What a notebook needs is
here: nothing else is imported by tmemsim/notebooks/analysis.ipynb.
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
from .library import bundled_scenarios  # noqa: E402
from .sweep import SweepResult, read_sweep, sweep  # noqa: E402

__all__ = ["Comparison", "Curves", "Result", "SweepResult", "__version__", "bundled_scenarios",
           "compare", "curve", "load_scenario", "read_curves", "read_results", "read_sweep",
           "simulate", "sweep"]
