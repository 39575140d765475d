"""Loading a scenario: the one door in, whatever the source (a file, YAML text, a dict).

Whatever is wrong comes out as a ScenarioError naming the file, the YAML path
(`guests[1].memory`) and its line. Overrides (`--set a.b=value`) are applied to the raw data
through infra.dotted, copy-on-write: a path through a YAML alias changes that path only.
"""

from __future__ import annotations

import copy

import yaml
from pydantic import ValidationError

from ..errors import ScenarioError
from ..infra import dotted
from . import sizing
from .located import Located, from_validation
from .policies import PolicySpec
from .references import check_references
from .scenario import Scenario
from .yamlmap import Document, line_of, load_yaml, read_document


def load_scenario(source, overrides: dict | list | None = None) -> Scenario:
    """A Scenario from a YAML path, a yamlmap.Document (a file already read), or a dict.

    overrides: {"guests.0.memory": "2GiB"} or ["guests.0.memory=2GiB", ...] (`--set`).
    """
    file, context, data, lines = _read(source)
    if not isinstance(data, dict):
        raise ScenarioError("expected a mapping of scenario keys at the top level", file=file,
                            line=1 if file else None)
    # top-level "x-..." keys hold YAML anchors for reuse (as in compose files); not scenario keys
    data = {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}
    for item in _override_items(overrides):
        key, _, value = item.partition("=")
        data = apply_override(data, key.strip(), value.strip(), file)
    try:
        try:
            scenario = Scenario.model_validate(data, context=context)
        except ValidationError as exc:
            raise from_validation(exc, (), Scenario, data) from None
        check_references(scenario)
        too_big = sizing.problem(scenario)  # before anything is simulated or allocated
        if too_big:
            raise Located(*too_big)
    except Located as loc:
        raise ScenarioError(loc.message, file=file, path=dotted.format_path(loc.path),
                            line=line_of(lines, loc.path)) from None
    return scenario


def _read(source) -> tuple[str | None, dict, object, dict]:
    """(file, validation context, raw data, line map) of a source."""
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
    return file, context, data, lines


def apply_override(data: dict, path: str, raw_value: str, file=None) -> dict:
    """The raw scenario data with one `--set path=value` applied (the value read as YAML), as
    new data: containers on the path are copied, so a YAML alias shared elsewhere is unchanged."""
    try:
        dotted.parse(path)
        where = dotted.format_path(dotted.typed(path))
    except ValueError as exc:
        raise ScenarioError(f"--set {path}: {exc}", file=file) from None
    try:
        value = load_yaml(raw_value)[0] if raw_value != "" else ""
    except ScenarioError as exc:
        raise ScenarioError(f"--set {path}: the value {raw_value!r} is not valid: "
                            f"{exc.message}", file=file, path=where) from None
    try:
        return dotted.set_path(data, path, value, root="the scenario")
    except dotted.PathError as exc:
        raise ScenarioError(f"--set {path}: {exc.reason}", file=file, path=where) from None


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


def select_policies(scenario: Scenario, policies=None) -> list[PolicySpec]:
    """The scenario's policies, or the named ones (names or kinds) in the order given."""
    specs = scenario.policy_specs()
    if policies is None:
        return specs
    if isinstance(policies, str):
        policies = [p.strip() for p in policies.split(",") if p.strip()]
    chosen = []
    for want in policies:
        match = [s for s in specs if s.name == want] or [s for s in specs if s.kind == want]
        if not match:
            try:  # a policy the scenario does not list, by registry name, default options
                match = [load_scenario({**scenario.model_dump(mode="json", exclude_none=True),
                                        "policies": [want], "policy": None}).policy_specs()[0]]
            except ScenarioError:
                names = ", ".join(s.name for s in specs)
                raise ScenarioError(f"unknown policy {want!r}; the scenario has {names}",
                                    path="policies") from None
        chosen += [m for m in match if m not in chosen]
    return chosen


__all__ = ["apply_override", "load_scenario", "resolved_yaml", "select_policies"]
