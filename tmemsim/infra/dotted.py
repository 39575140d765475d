"""Dotted setting paths ("guests.0.memory"): parse them, walk them, set a value along them.

One module for every place a user names a setting by its path: `--set`, a sweep's parameters,
a scenario's `regress:` block. A step is a mapping key, or a list index when the node walked
into is a list ("0", "-1"). A path that leads nowhere is a PathError saying how far it got and
why, with "did you mean" for a misspelt key.

Setting is copy-on-write: `set_path` returns new data in which every container on the path is
a copy and everything else is shared. Parsed YAML shares the containers of an anchor between
all its aliases, so a set in place would change every place the alias appears; a copy changes
only the path it names.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from .suggest import suggest


class PathError(LookupError):
    """A path that does not lead to a setting: `reason` says where it stopped and why;
    `steps` is the path up to and including the step that failed (for locating the error)."""

    def __init__(self, reason: str, steps: Sequence):
        super().__init__(reason)
        self.reason = reason
        self.steps = tuple(steps)


def format_path(steps: Sequence) -> str:
    """("guests", 1, "memory") -> "guests[1].memory": how errors show a path."""
    text = ""
    for step in steps:
        if isinstance(step, int):
            text += f"[{step}]"
        else:
            text += f".{step}" if text else str(step)
    return text


def _is_index(step: str) -> bool:
    return step.lstrip("-").isdigit()


def parse(path: str) -> list[str]:
    """The steps of a dotted path; ValueError for an empty path or an empty step ("a..b")."""
    steps = path.split(".") if isinstance(path, str) else []
    if not steps or any(step == "" for step in steps):
        raise ValueError(f"{path!r} is not a setting path such as host.memory or guests.0.count")
    return steps


def typed(path: str) -> tuple:
    """The steps with the ones that look like list indexes as ints: "guests.0.memory" ->
    ("guests", 0, "memory"); what format_path and the YAML line map take."""
    return tuple(int(step) if _is_index(step) else step for step in path.split("."))


def _key(node, step: str, walked: list, root: str, new_leaf: bool):
    """The key of step in node (an int index into a list); PathError if there is none."""
    where = format_path(walked) or root
    if isinstance(node, list):
        if not _is_index(step) or not -len(node) <= int(step) < len(node):
            raise PathError(f"{where} has no item {step} (it has {len(node)})",
                            [*walked, int(step) if _is_index(step) else step])
        return int(step)
    if isinstance(node, dict):
        if step not in node and not new_leaf:
            raise PathError(f"{format_path([*walked, step])} does not exist"
                            f"{suggest(step, node)}", [*walked, step])
        return step
    raise PathError(f"{where} is a value, not a mapping or list", walked)


def get(data, path: str, *, root: str = "the data") -> Any:
    """The value at path; PathError if the path leads nowhere. `root` names the top level in
    messages ("the scenario")."""
    node, walked = data, []
    for step in parse(path):
        key = _key(node, step, walked, root, new_leaf=False)
        node = node[key]
        walked.append(key)
    return node


def set_path(data, path: str, value, *, root: str = "the data"):
    """New data with value at path, copy-on-write: data itself and the containers it shares
    (YAML aliases) are unchanged. The last step may add a key to a mapping; every other step
    must exist (PathError). The value is copied too."""
    steps = parse(path)
    out = copy.copy(data)
    node, walked = out, []
    for i, step in enumerate(steps):
        last = i == len(steps) - 1
        key = _key(node, step, walked, root, new_leaf=last)
        if last:
            node[key] = copy.deepcopy(value)
        else:
            node[key] = copy.copy(node[key])
            node = node[key]
            walked.append(key)
    return out


def flatten(block: Mapping, prefix: str = "") -> dict[str, Any]:
    """A nested mapping as dotted paths to its leaves: {"guests": {0: {"memory": "1GiB"}}} ->
    {"guests.0.memory": "1GiB"}. Keys may be dotted already ({"guests.0.memory": ...})."""
    out: dict[str, Any] = {}
    for key, value in block.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):  # an empty one sets nothing
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


__all__ = ["PathError", "flatten", "format_path", "get", "parse", "set_path", "typed"]
