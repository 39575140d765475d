"""Workloads: what guests ask of their disks, as seeded numpy request streams.

`WORKLOADS` maps a `kind:` to its spec class; adding a kind is one class and one entry here.
"""

from typing import Annotated, Union

from pydantic import Field

from .base import (
    OP_READ,
    OP_TRUNCATE,
    OP_WRITE,
    OP_WRITE_PARTIAL,
    RequestStream,
    WorkloadBase,
)
from .phases import Phase, Phases
from .synthetic import Hotset, Loop, Mix, MixPart, Pattern, Scan, Script, Uniform, Zipf
from .trace import Trace

WORKLOADS: dict[str, type[WorkloadBase]] = {
    "zipf": Zipf,
    "uniform": Uniform,
    "scan": Scan,
    "loop": Loop,
    "hotset": Hotset,
    "mix": Mix,
    "script": Script,
    "trace": Trace,
    "phases": Phases,
}

# A mix's parts may be any registered pattern (mixes included): the union is known only now.
_patterns = tuple(k for k in WORKLOADS.values() if issubclass(k, Pattern))
MixPart.model_rebuild(_types_namespace={
    "MixableWorkload": Annotated[Union[_patterns], Field(discriminator="kind")],  # noqa: UP007
})
Mix.model_rebuild()
# a phase may hold any kind but phases
_phase_kinds = tuple(k for name, k in WORKLOADS.items() if name != "phases")
Phase.model_rebuild(_types_namespace={
    "PhaseWorkload": Annotated[Union[_phase_kinds], Field(discriminator="kind")],  # noqa: UP007
})
Phases.model_rebuild()

__all__ = ["OP_READ", "OP_TRUNCATE", "OP_WRITE", "OP_WRITE_PARTIAL", "RequestStream",
           "WorkloadBase", "WORKLOADS"]
