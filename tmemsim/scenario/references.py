"""Checks across a scenario's blocks, after each block is valid on its own: names that must
exist elsewhere (disks, images), memory that must fit, and each policy's own requirements."""

from __future__ import annotations

from ..infra.suggest import suggest
from ..policies import POLICIES
from ..units import PAGE_SIZE, format_size
from .located import Located
from .scenario import Scenario


def check_references(s: Scenario) -> None:
    """What a field validator cannot see: names across blocks, and memory that must fit."""
    for name, image in s.images.items():
        if image.disk is not None and image.disk not in s.disks:
            raise Located(("images", name, "disk"),
                           f"no disk named {image.disk!r}{suggest(image.disk, s.disks)}; "
                           f"disks are {', '.join(s.disks)}")
        if image.disk is None and len(s.disks) > 1:
            raise Located(("images", name), "give its disk: the scenario has several")
    seen: dict[str, int] = {}
    for i, g in enumerate(s.guests):
        if g.reserved >= g.memory:
            raise Located(("guests", i, "reserved"),
                           f"reserved ({format_size(g.reserved)}) must be less than memory "
                           f"({format_size(g.memory)})")
        if g.max_memory is not None and g.max_memory < g.memory:
            raise Located(("guests", i, "max_memory"),
                           f"max_memory ({format_size(g.max_memory)}) must be at least memory "
                           f"({format_size(g.memory)})")
        if g.balloon.kind != "none" and not (g.reserved < g.floor_bytes() <= g.max_bytes()):
            raise Located(("guests", i, "balloon", "floor"),
                           f"floor ({format_size(g.floor_bytes())}) must be above reserved "
                           f"({format_size(g.reserved)}) and at most max_memory")
        if g.disk.image is not None and g.disk.image not in s.images:
            known = ", ".join(s.images) or "none are defined"
            raise Located(("guests", i, "disk", "image"),
                           f"no image named {g.disk.image!r}{suggest(g.disk.image, s.images)}; "
                           f"images: {known}")
        if g.disk.disk is not None and g.disk.disk not in s.disks:
            raise Located(("guests", i, "disk", "disk"),
                           f"no disk named {g.disk.disk!r}{suggest(g.disk.disk, s.disks)}; "
                           f"disks are {', '.join(s.disks)}")
        if g.disk.image is None and g.disk.disk is None and len(s.disks) > 1:
            raise Located(("guests", i, "disk"), "give its disk: the scenario has several")
        size = g.disk.size if g.disk.image is None else s.images[g.disk.image].size
        need = g.workload.footprint_pages()
        if need > size // PAGE_SIZE:
            raise Located(("guests", i, "workload"),
                           f"the workload touches {need} pages but the guest's disk has only "
                           f"{size // PAGE_SIZE}")
        for name in g.names():
            if name in seen:
                raise Located(("guests", i, "name"),
                               f"duplicate guest name {name!r} (also guests[{seen[name]}])")
            seen[name] = i
    if s.host.reserved >= s.host.memory:
        raise Located(("host", "reserved"), "host.reserved must be less than host.memory")
    if s.pool_bytes() < 0:
        total = sum(g.memory * g.count for g in s.guests)
        raise Located(("guests",),
                       f"the guests need {format_size(total)} but host.memory - host.reserved "
                       f"is only {format_size(s.host.memory - s.host.reserved)}")
    if s.requests is None and s.duration is not None and s.duration <= 0:
        raise Located(("duration",), "duration must be positive")
    names = list(seen)  # every guest's name, in order (100,000 guests: built once)
    for i, spec in enumerate(s.policy_specs()):
        problem = POLICIES[spec.kind].check_scenario(spec.make_options(), names)
        if problem:
            raise Located(("policies", i, problem[0]), problem[1])


__all__ = ["check_references"]
