"""tmemsim: transcendent memory vs transparent host caching vs dedup, simulated.

Public API: load_scenario, simulate, compare, curve, run_sweep, verify, read_results,
read_curves, read_sweep, the results they return (Result, Comparison, Curves, SweepResult),
Scenario, bundled_scenarios and the error classes (see api.py, analysis/curves/public.py,
sweep/, analysis/verify/ and library.py): what a notebook needs (notebooks/analysis.ipynb uses
nothing else). The sweep function is `run_sweep` here: `tmemsim.sweep` is its package.
The names are loaded on first use (PEP 562), so that `import tmemsim.cli` or
`import tmemsim.scenario` does not pay for pandas, pyarrow and SimPy: `tmemsim validate` and
every refusal of bad input answer at once.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_PUBLIC = {  # name -> the module that defines it (module:name where the names differ)
    "Comparison": "tmemsim.api",
    "Curves": "tmemsim.analysis.curves",
    "Result": "tmemsim.api",
    "compare": "tmemsim.api",
    "curve": "tmemsim.analysis.curves.public",
    "load_scenario": "tmemsim.api",
    "read_curves": "tmemsim.analysis.curves",
    "read_results": "tmemsim.api",
    "simulate": "tmemsim.api",
    "SweepResult": "tmemsim.sweep",
    "read_sweep": "tmemsim.sweep",
    "run_sweep": "tmemsim.sweep:sweep",
    "bundled_scenarios": "tmemsim.library",
    "verify": "tmemsim.analysis.verify:run_checks",
    "Scenario": "tmemsim.scenario",
    "TmemsimError": "tmemsim.errors",
    "ScenarioError": "tmemsim.errors",
    "TraceError": "tmemsim.errors",
    "RunError": "tmemsim.errors",
}

__all__ = ["__version__", *sorted(_PUBLIC)]


def __getattr__(name: str):
    if name in _PUBLIC:
        module, _, attr = _PUBLIC[name].partition(":")
        value = getattr(importlib.import_module(module), attr or name)
        globals()[name] = value  # once found, an ordinary attribute
        return value
    raise AttributeError(f"module 'tmemsim' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_PUBLIC})
