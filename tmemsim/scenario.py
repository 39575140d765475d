"""Scenarios: the pydantic models of a YAML scenario, loading with line numbers, and overrides.

`load_scenario` is the one door in: whatever is wrong with a file comes out as a ScenarioError
naming the file, the YAML path (`guests[1].memory`) and its line.
"""

from __future__ import annotations

import copy
import difflib
import types
import typing
from typing import Annotated, Literal, Union

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    ValidationError,
    model_validator,
)

from . import sizing
from .errors import ScenarioError
from .fields import (
    CacheKind,
    Distribution,
    Duration,
    DurationOrZero,
    Fraction,
    Rate,
    Size,
    SizeOrZero,
    Strict,
)
from .policies import POLICIES
from .units import PAGE_SIZE, format_size, parse_size
from .workloads import WORKLOADS
from .yamlmap import Document, format_path, line_of, load_yaml, read_document

# ---------------------------------------------------------------- host and disks


class Costs(Strict):
    """Per-operation CPU costs (docs/model.md, "Costs")."""

    guest_hit: DurationOrZero = 1e-6
    hypercall: DurationOrZero = 1e-6
    page_copy: DurationOrZero = 1e-6
    virtio: DurationOrZero = 20e-6


class Host(Strict):
    memory: Size
    reserved: SizeOrZero = 0
    costs: Costs = Field(default_factory=Costs)


def _bandwidth(value):
    # "150MB/s" is a size per second; a plain number is bytes per second
    if isinstance(value, str) and value.strip().endswith("/s"):
        return parse_size(value.strip()[:-2])
    return value


Bandwidth = Annotated[float, BeforeValidator(_bandwidth), Field(gt=0)]


class HddDisk(Strict):
    """A rotating disk: square-root seek curve, uniform rotational delay, transfer time."""

    kind: Literal["hdd"]
    rpm: Rate = 7200.0
    single_track: Duration = 1e-3
    full_stroke: Duration = 15e-3
    bandwidth: Bandwidth = 150e6
    channels: int = Field(1, ge=1)


class SsdDisk(Strict):
    kind: Literal["ssd"]
    read: Duration = 80e-6
    write: Duration = 20e-6
    channels: int = Field(8, ge=1)


class NvmeDisk(Strict):
    kind: Literal["nvme"]
    read: Duration = 20e-6
    write: Duration = 10e-6
    channels: int = Field(32, ge=1)


class CustomDisk(Strict):
    """Service times drawn from distributions: the validation disks (M/M/1, M/D/1, M/M/c)."""

    kind: Literal["custom"]
    read: Distribution
    write: Distribution | None = None
    channels: int = Field(1, ge=1)


Disk = Annotated[HddDisk | SsdDisk | NvmeDisk | CustomDisk, Field(discriminator="kind")]


class Image(Strict):
    """A base image: its size, its disk, and how its content is made."""

    size: Size
    disk: str | None = None
    zero_fraction: Fraction = 0.0
    internal_dup: Fraction = 0.0

    @model_validator(mode="after")
    def _fractions(self):
        if self.zero_fraction + self.internal_dup > 1:
            raise ValueError("zero_fraction + internal_dup must be at most 1")
        return self


class GuestDiskSpec(Strict):
    """`{image: NAME, clone: cow|copy}` or a private disk `{size: 4GiB}`."""

    image: str | None = None
    clone: Literal["cow", "copy"] = "cow"
    size: Size | None = None
    disk: str | None = None

    @model_validator(mode="after")
    def _one_source(self):
        if (self.image is None) == (self.size is None):
            raise ValueError("give either image (a clone) or size (a private disk), not both")
        return self


# ---------------------------------------------------------------- workloads and guests


def _workload_union():
    kinds = tuple(WORKLOADS.values())
    return Annotated[Union[kinds], Field(discriminator="kind")]  # noqa: UP007 - built at runtime


Workload = _workload_union()


class Balloon(Strict):
    """Memory balancing: `selfballoon` periodically sets the guest's memory to what it needs.

    Xen's selfballoon driver: target = reserved + committed anonymous memory + headroom, never
    below `floor` nor above max_memory. Memory given up joins the hypervisor pool.
    """

    kind: Literal["none", "selfballoon"] = "none"
    interval: Duration = 1.0
    floor: Size | None = None  # default: the guest's reserved memory plus 16 MiB of page cache
    headroom: SizeOrZero = 16 << 20


class Guest(Strict):
    name: str = Field(min_length=1)
    count: int = Field(1, ge=1)
    memory: Size
    reserved: SizeOrZero = 0
    cache: CacheKind = "lru"
    disk: GuestDiskSpec
    workload: Workload
    writeback_interval: DurationOrZero = 5.0
    dirty_expire: DurationOrZero = 30.0
    max_memory: Size | None = None  # default: memory (no frontswap allowance unless ballooned)
    balloon: Balloon = Field(default_factory=Balloon)

    def cache_pages(self) -> int:
        return (self.memory - self.reserved) // PAGE_SIZE

    def max_bytes(self) -> int:
        return self.max_memory if self.max_memory is not None else self.memory

    def floor_bytes(self) -> int:
        floor = self.balloon.floor
        return floor if floor is not None else min(self.reserved + (16 << 20), self.memory)

    def names(self) -> list[str]:
        if self.count == 1:
            return [self.name]
        return [f"{self.name}-{i}" for i in range(self.count)]


# ---------------------------------------------------------------- policies


class PolicySpec(BaseModel):
    """One policy of a comparison: its registry `kind`, a display `name`, and its options."""

    kind: str
    name: str
    options: dict = Field(default_factory=dict)
    # memory balancing for every guest under this policy ("static split" vs "selfballoon");
    # None keeps each guest's own balloon setting
    balloon: Literal["none", "selfballoon"] | None = None

    def make_options(self):
        return POLICIES[self.kind].Options.model_validate(self.options)


def _policy_entry(entry, i: int) -> PolicySpec:
    if isinstance(entry, str):
        entry = {"kind": entry}
    if not isinstance(entry, dict):
        raise _Located(("policies", i), f"expected a policy name or mapping, got {entry!r}")
    entry = dict(entry)
    kind = entry.pop("kind", None)
    name = entry.pop("name", None)
    balloon = entry.pop("balloon", None)
    if kind is not None and not isinstance(kind, str):
        raise _Located(("policies", i, "kind"), f"expected a policy name, got {kind!r}")
    if name is not None and not isinstance(name, str):
        raise _Located(("policies", i, "name"), f"expected a name (text), got {name!r}")
    if balloon not in (None, "none", "selfballoon"):
        raise _Located(("policies", i, "balloon"),
                       f"expected none or selfballoon, got {balloon!r}")
    if kind not in POLICIES:
        raise _Located(
            ("policies", i, "kind") if kind is not None else ("policies", i),
            f"unknown policy {kind!r}{_suggest(kind, POLICIES)}; "
            f"expected one of {', '.join(POLICIES)}",
        )
    try:
        POLICIES[kind].Options.model_validate(entry)
    except ValidationError as exc:
        raise _from_validation(exc, ("policies", i), POLICIES[kind].Options, entry) from None
    name = name or _default_name(kind, {**entry, **({"balloon": balloon} if balloon else {})})
    return PolicySpec(kind=kind, name=name, options=entry, balloon=balloon)


def _default_name(kind: str, options: dict) -> str:
    parts = [kind] + [f"{k}={v}" for k, v in sorted(options.items()) if k != "weights"]
    return "+".join(parts) if len(parts) > 1 else kind


# ---------------------------------------------------------------- the scenario


class Scenario(Strict):
    name: str = "scenario"
    description: str = ""
    seed: int = Field(0, ge=0)
    duration: Duration | None = None
    requests: int | None = Field(None, gt=0)
    warmup: DurationOrZero = 0.0
    sample_interval: Duration = 1.0
    check: bool = False
    engine: Literal["batched", "unbatched"] = "batched"
    host: Host
    disks: dict[str, Disk] = Field(min_length=1)
    images: dict[str, Image] = Field(default_factory=dict)
    guests: list[Guest] = Field(min_length=1)
    policies: list = Field(default_factory=lambda: ["none"])
    policy: str | dict | None = None
    regress: dict | None = None
    sweep: dict | None = None

    @model_validator(mode="after")
    def _some_end(self):
        if self.duration is None and self.requests is None:
            raise ValueError("give duration (simulated time) or requests (per guest), or both")
        return self

    def policy_specs(self) -> list[PolicySpec]:
        entries = [self.policy] if self.policy is not None else self.policies
        return [_policy_entry(e, i) for i, e in enumerate(entries)]

    def expanded_guests(self) -> list[tuple[str, Guest]]:
        return [(name, g) for g in self.guests for name in g.names()]

    def pool_bytes(self) -> int:
        guests = sum(g.memory * g.count for g in self.guests)
        return self.host.memory - self.host.reserved - guests


# ---------------------------------------------------------------- loading


class _Located(Exception):
    def __init__(self, path, message):
        super().__init__(message)
        self.path, self.message = tuple(path), message


def _suggest(word, choices) -> str:
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


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
        return f"unknown key{_suggest(loc[-1], _allowed_keys(model, loc))}"
    if kind == "missing":
        return "missing required key"
    if kind == "union_tag_invalid":
        ctx = err.get("ctx", {})
        tag = ctx.get("tag")
        expected = ctx.get("expected_tags", "")
        return f"unknown kind {tag!r}{_suggest(tag, [t.strip(chr(39)) for t in expected.split(', ')])}; expected one of {expected}"
    if kind == "union_tag_not_found":
        return f"missing 'kind'; expected one of {err.get('ctx', {}).get('expected_tags', '')}"
    msg = err["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    value = err.get("input")
    if kind not in ("value_error",) and not isinstance(value, dict | list):
        msg += f" (got {value!r})"
    return msg


def _from_validation(exc: ValidationError, prefix: tuple, model, data) -> _Located:
    # an unknown key explains a "missing" one next to it (a typo), so it is reported first
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    err = errors[0]
    loc = _clean_loc(data, tuple(err["loc"]))
    return _Located(prefix + loc, _message(err, model, loc))


def _set_path(data, dotted: str, raw_value: str, file) -> None:
    """Apply one `--set a.b.0.c=value` override to the raw scenario data."""
    steps = dotted.split(".")
    where = format_path([int(x) if x.lstrip("-").isdigit() else x for x in steps])
    try:
        value = load_yaml(raw_value)[0] if raw_value != "" else ""
    except ScenarioError as exc:
        raise ScenarioError(f"--set {dotted}: the value {raw_value!r} is not valid: "
                            f"{exc.message}", file=file, path=where) from None
    node = data
    walked: list = []
    for i, step in enumerate(steps):
        last = i == len(steps) - 1
        if isinstance(node, list):
            if not step.lstrip("-").isdigit() or not -len(node) <= int(step) < len(node):
                raise ScenarioError(
                    f"--set {dotted}: {format_path(walked) or 'the scenario'} has no item {step}"
                    f" (it has {len(node)})", file=file, path=where)
            key = int(step)
        elif isinstance(node, dict):
            key = step
            if key not in node and not last:
                raise ScenarioError(
                    f"--set {dotted}: {format_path(walked + [key])} does not exist"
                    f"{_suggest(key, node)}", file=file, path=where)
        else:
            raise ScenarioError(
                f"--set {dotted}: {format_path(walked)} is a value, not a mapping or list",
                file=file, path=where)
        if last:
            node[key] = value
        else:
            # a copy of each container on the way: YAML aliases share them, and the override
            # is for this path only
            node[key] = copy.copy(node[key])
            node = node[key]
            walked.append(key)


def _check_references(s: Scenario) -> None:
    """What a field validator cannot see: names across blocks, and memory that must fit."""
    for name, image in s.images.items():
        if image.disk is not None and image.disk not in s.disks:
            raise _Located(("images", name, "disk"),
                           f"no disk named {image.disk!r}{_suggest(image.disk, s.disks)}; "
                           f"disks are {', '.join(s.disks)}")
        if image.disk is None and len(s.disks) > 1:
            raise _Located(("images", name), "give its disk: the scenario has several")
    seen: dict[str, int] = {}
    for i, g in enumerate(s.guests):
        if g.reserved >= g.memory:
            raise _Located(("guests", i, "reserved"),
                           f"reserved ({format_size(g.reserved)}) must be less than memory "
                           f"({format_size(g.memory)})")
        if g.max_memory is not None and g.max_memory < g.memory:
            raise _Located(("guests", i, "max_memory"),
                           f"max_memory ({format_size(g.max_memory)}) must be at least memory "
                           f"({format_size(g.memory)})")
        if g.balloon.kind != "none" and not (g.reserved < g.floor_bytes() <= g.max_bytes()):
            raise _Located(("guests", i, "balloon", "floor"),
                           f"floor ({format_size(g.floor_bytes())}) must be above reserved "
                           f"({format_size(g.reserved)}) and at most max_memory")
        if g.disk.image is not None and g.disk.image not in s.images:
            known = ", ".join(s.images) or "none are defined"
            raise _Located(("guests", i, "disk", "image"),
                           f"no image named {g.disk.image!r}{_suggest(g.disk.image, s.images)}; "
                           f"images: {known}")
        if g.disk.disk is not None and g.disk.disk not in s.disks:
            raise _Located(("guests", i, "disk", "disk"),
                           f"no disk named {g.disk.disk!r}{_suggest(g.disk.disk, s.disks)}; "
                           f"disks are {', '.join(s.disks)}")
        if g.disk.image is None and g.disk.disk is None and len(s.disks) > 1:
            raise _Located(("guests", i, "disk"), "give its disk: the scenario has several")
        size = g.disk.size if g.disk.image is None else s.images[g.disk.image].size
        need = g.workload.footprint_pages()
        if need > size // PAGE_SIZE:
            raise _Located(("guests", i, "workload"),
                           f"the workload touches {need} pages but the guest's disk has only "
                           f"{size // PAGE_SIZE}")
        for name in g.names():
            if name in seen:
                raise _Located(("guests", i, "name"),
                               f"duplicate guest name {name!r} (also guests[{seen[name]}])")
            seen[name] = i
    if s.host.reserved >= s.host.memory:
        raise _Located(("host", "reserved"), "host.reserved must be less than host.memory")
    if s.pool_bytes() < 0:
        total = sum(g.memory * g.count for g in s.guests)
        raise _Located(("guests",),
                       f"the guests need {format_size(total)} but host.memory - host.reserved "
                       f"is only {format_size(s.host.memory - s.host.reserved)}")
    if s.requests is None and s.duration is not None and s.duration <= 0:
        raise _Located(("duration",), "duration must be positive")
    names = list(seen)  # every guest's name, in order (100,000 guests: built once)
    for i, spec in enumerate(s.policy_specs()):
        problem = POLICIES[spec.kind].check_scenario(spec.make_options(), names)
        if problem:
            raise _Located(("policies", i, problem[0]), problem[1])


def load_scenario(source, overrides: dict | list | None = None) -> Scenario:
    """A Scenario from a YAML path, a yamlmap.Document (a file already read), or a dict.

    overrides: {"guests.0.memory": "2GiB"} or ["guests.0.memory=2GiB", ...] (`--set`).
    """
    file = None
    context: dict = {}  # what validators may read: where relative paths start
    lines: dict = {}
    if isinstance(source, Scenario):
        data = source.model_dump(mode="json", exclude_none=True)
    elif isinstance(source, dict):
        data = copy.deepcopy(source)
    else:
        document = source if isinstance(source, Document) else read_document(source)
        file = str(document.path)
        context["scenario_dir"] = str(document.path.parent)
        data, lines = document.data, document.lines
        if isinstance(data, dict) and "name" not in data:
            data["name"] = document.path.stem
    if not isinstance(data, dict):
        raise ScenarioError("expected a mapping of scenario keys at the top level", file=file,
                            line=1 if file else None)
    # top-level "x-..." keys hold YAML anchors for reuse (as in compose files); not scenario keys
    data = {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}
    for item in _override_items(overrides):
        key, _, value = item.partition("=")
        _set_path(data, key.strip(), value.strip(), file)
    try:
        try:
            scenario = Scenario.model_validate(data, context=context)
        except ValidationError as exc:
            raise _from_validation(exc, (), Scenario, data) from None
        _check_references(scenario)
        too_big = sizing.problem(scenario)  # before anything is simulated or allocated
        if too_big:
            raise _Located(*too_big)
    except _Located as loc:
        raise ScenarioError(loc.message, file=file, path=format_path(loc.path),
                            line=line_of(lines, loc.path)) from None
    return scenario


def _override_items(overrides) -> list[str]:
    if not overrides:
        return []
    if isinstance(overrides, dict):
        return [f"{k}={v}" for k, v in overrides.items()]
    out = []
    for item in overrides:
        if "=" not in item:
            raise ScenarioError(f"--set {item}: expected key.path=value")
        out.append(item)
    return out


def resolved_yaml(scenario: Scenario) -> str:
    """The scenario with every default filled in, as YAML (results' scenario.yaml)."""
    data = scenario.model_dump(mode="json", exclude_none=True)
    return yaml.safe_dump(data, sort_keys=False)
