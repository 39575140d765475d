"""YAML loading that remembers where every value came from.

`load_yaml` returns the data and a map from a path tuple (("guests", 1, "memory")) to its
1-based line, so errors can say `guests[1].memory` and the line a user must fix.
"""

from __future__ import annotations

import yaml

from .errors import ScenarioError


def format_path(path) -> str:
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
        else:
            text += f".{step}" if text else str(step)
    return text


def _walk(node, path, lines) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = path + (key.value,)
            _walk(value, child, lines)
            lines[child] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            _walk(value, path + (i,), lines)


def load_yaml(text: str, file: str | None = None):
    """Parse one YAML document; returns (data, lines)."""
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(
            f"YAML syntax error: {problem}",
            file=file,
            line=mark.line + 1 if mark else None,
        ) from None
    lines: dict = {}
    if node is not None:
        _walk(node, (), lines)
    return data, lines


def line_of(lines: dict, path) -> int | None:
    """The line of path, or of its nearest ancestor that has one."""
    path = tuple(path)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())
