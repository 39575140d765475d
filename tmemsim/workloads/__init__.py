"""Workloads: what guests ask of their disks, as seeded numpy request streams.

`WORKLOADS` maps a `kind:` to its spec class; adding a kind is one class and one entry here.
"""

from .base import OP_READ, OP_TRUNCATE, OP_WRITE, RequestStream, WorkloadBase
from .synthetic import Script, Uniform, Zipf

WORKLOADS: dict[str, type[WorkloadBase]] = {"zipf": Zipf, "uniform": Uniform, "script": Script}

__all__ = ["OP_READ", "OP_TRUNCATE", "OP_WRITE", "RequestStream", "WorkloadBase", "WORKLOADS"]
