"""The registry of checks: every family module contributes its checks, in FAMILIES order."""

from __future__ import annotations

from . import (
    compression,
    conservation,
    curve,
    engine,
    exclusive,
    inferred,
    irm,
    ksm,
    peer,
    queue,
    readahead,
    rmw,
    sharing,
)
from .checks import Check

_MODULES = (irm, peer, exclusive, queue, sharing, rmw, ksm, conservation, engine, curve,
            compression, inferred, readahead)

FAMILIES = tuple(module.FAMILY for module in _MODULES)
"""The families, in the order their checks run and their figures are drawn."""


def build() -> dict[str, Check]:
    """Every check of every family by name ("family/point")."""
    return {c.name: c for module in _MODULES for c in module.checks()}


CHECKS: dict[str, Check] = build()
"""Every check by name ("family/point"); `quick` marks the quick set."""
