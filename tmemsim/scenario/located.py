"""Errors located in a scenario's data: a path of keys and indexes, and what is wrong there.

Pydantic's errors are turned into one Located error: the first problem, its path cleaned of
pydantic's own steps (union members, tags), and a message that says what was expected, with
"did you mean" for an unknown key or kind. load_scenario turns it into a ScenarioError with
the file and line.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Union

from pydantic import BaseModel, ValidationError

from ..infra.suggest import suggest


class Located(Exception):
    """A problem at a path of the scenario's data (("guests", 1, "memory"))."""

    def __init__(self, path, message):
        super().__init__(message)
        self.path, self.message = tuple(path), message


def _models_in(annotation) -> list[type[BaseModel]]:
    """The pydantic models an annotation can hold (through Optional, Union, list, dict)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _models_in(typing.get_args(annotation)[0])
    found = []
    if origin in (Union, types.UnionType, list, dict, tuple):
        args = typing.get_args(annotation)
        if origin is dict:
            args = args[1:]
        for arg in args:
            found += _models_in(arg)
    return found


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """The keys valid at loc[:-1] (an unknown key's siblings), walking the model types."""
    models = [model]
    for step in loc[:-1]:
        nxt = []
        for m in models:
            if isinstance(step, str) and step in m.model_fields:
                nxt += _models_in(m.model_fields[step].annotation)
            elif isinstance(step, str):
                # a discriminated union's tag (e.g. "zipf") or a dict key: stay on this level
                kind = m.model_fields.get("kind")
                if kind is not None and step in typing.get_args(kind.annotation):
                    nxt.append(m)
        models = nxt or models
        models = [m for m in models if not (isinstance(step, str) and step in _tags(models)
                                             and _tag(m) not in (None, step))]
    keys: list[str] = []
    for m in models:
        keys += [k for k in m.model_fields if k not in keys]
    return keys


def _tag(model) -> str | None:
    kind = model.model_fields.get("kind")
    if kind is None:
        return None
    args = typing.get_args(kind.annotation)
    return args[0] if len(args) == 1 else None


def _tags(models) -> set:
    return {_tag(m) for m in models}


def _clean_loc(data, loc: tuple) -> tuple:
    """The steps of a pydantic error location that exist in the input data.

    Pydantic adds steps of its own (a union member "str", a tag "zipf", "function-before[...]");
    walking the data keeps only the keys and indexes the user wrote.
    """
    out = []
    node = data
    for step in loc:
        if isinstance(node, dict) and step in node:
            node = node[step]
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
        elif isinstance(node, dict) and step == loc[-1] and isinstance(step, str) and \
                not _pydantic_step(step):
            pass  # a missing key: its name is the point of the message
        else:
            continue
        out.append(step)
    return tuple(out)


def _pydantic_step(step: str) -> bool:
    return "[" in step and step.endswith("]") and step.split("[")[0] in (
        "function-before", "function-after", "function-wrap", "function-plain", "tagged-union",
        "union", "list", "dict")


def _message(err: dict, model, loc) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"unknown key{suggest(loc[-1], _allowed_keys(model, loc))}"
    if kind == "missing":
        return "missing required key"
    if kind == "union_tag_invalid":
        ctx = err.get("ctx", {})
        tag = ctx.get("tag")
        expected = ctx.get("expected_tags", "")
        return f"unknown kind {tag!r}{suggest(tag, [t.strip(chr(39)) for t in expected.split(', ')])}; expected one of {expected}"
    if kind == "union_tag_not_found":
        return f"missing 'kind'; expected one of {err.get('ctx', {}).get('expected_tags', '')}"
    msg = err["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    value = err.get("input")
    if kind not in ("value_error",) and not isinstance(value, dict | list):
        msg += f" (got {value!r})"
    return msg


def from_validation(exc: ValidationError, prefix: tuple, model, data) -> Located:
    # an unknown key explains a "missing" one next to it (a typo), so it is reported first
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    err = errors[0]
    loc = _clean_loc(data, tuple(err["loc"]))
    return Located(prefix + loc, _message(err, model, loc))


__all__ = ["Located", "from_validation"]
