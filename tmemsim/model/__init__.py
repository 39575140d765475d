"""The SimPy world: guests, the hypervisor and the disks, with time applied.

Policies, caches, workloads and images say what happens; this package says when.
"""

from .world import World

__all__ = ["World"]
