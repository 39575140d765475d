"""A sweep's specification: which settings vary, over which values, how they combine.

The spec comes from the arguments given, else the scenario's `sweep:` block. A parameter is a
setting path (infra.dotted: `host.memory`, `guests.0.count`) with a list of values or a
generator (range, linspace, geomspace); every problem is a ScenarioError located in the block
(`sweep.parameters.<path>`), found before anything runs.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..errors import ScenarioError
from ..infra import dotted
from ..infra.suggest import suggest
from ..scenario import Scenario, load_scenario, select_policies
from ..scenario.blocks import MODES, check_mode, check_replications, policy_names
from ..scenario.yamlmap import line_of
from ..units import PAGE_SIZE, parse_size
from .stats import METRICS

DEFAULT_PLOT_METRICS = ["read_hit_ratio", "mean_read_latency_us"]
MAX_VALUES = 10_000  # per parameter: a range with a unit mistake should fail, not run for a year


@dataclass(frozen=True)
class SweepSpec:
    """A parsed sweep: parameter paths and their values, in order, and how to combine them."""

    parameters: dict[str, list]
    mode: str = "grid"
    replications: int = 1
    policies: list[str] | None = None
    metrics: list[str] = field(default_factory=lambda: list(DEFAULT_PLOT_METRICS))

    def points(self) -> list[dict]:
        """The parameter assignments, in sweep order (grid: the last parameter varies fastest)."""
        names = list(self.parameters)
        if not names:
            return [{}]
        columns = [self.parameters[n] for n in names]
        combos = itertools.product(*columns) if self.mode == "grid" else zip(*columns, strict=True)
        return [dict(zip(names, combo, strict=True)) for combo in combos]


class _Where:
    """Builds ScenarioErrors located in the sweep block (file, YAML path, line when known)."""

    def __init__(self, file: str | None, lines: dict, in_block: bool):
        self.file, self.lines, self.in_block = file, lines, in_block

    def error(self, message: str, *steps) -> ScenarioError:
        path = ("sweep",) + tuple(steps)
        line = line_of(self.lines, path) if self.in_block else None
        return ScenarioError(message, file=self.file, path=".".join(map(str, path)), line=line)


def is_number(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _clean_float(x: float) -> float:
    # linspace(0.5, 1, 6) gives 0.6000000000000001; 12 significant digits give 0.6
    return float(f"{x:.12g}")


def _size_text(nbytes: int) -> str:
    """Exactly nbytes, in the largest binary unit that divides it: 1536MiB, 12GiB, 4097B."""
    for unit, scale in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if nbytes % scale == 0:
            return f"{nbytes // scale}{unit}"
    return f"{nbytes}B"


_GENERATORS = {
    "range": "{range: [start, stop], step: s} (stop excluded, like Python's range)",
    "linspace": "{linspace: [start, stop, num]}",
    "geomspace": "{geomspace: [start, stop, num]}",
}
_VALUE_FORMS = ("a list of values, " + ", ".join(_GENERATORS.values()))


def _endpoints(raw: list, err) -> tuple[list[float], bool, bool]:
    """Numbers from endpoints that are numbers or sizes ("8GiB"); (values, sizes?, all ints?)."""
    sizes = any(isinstance(v, str) for v in raw)
    out = []
    for v in raw:
        if isinstance(v, str):
            try:
                out.append(float(parse_size(v)))
            except ValueError as exc:
                raise err(f"{v!r} is neither a number nor a size: {exc}") from None
        elif is_number(v):
            out.append(float(v))
        else:
            raise err(f"expected a number or a size such as 8GiB, got {v!r}")
    ints = sizes or all(isinstance(v, int) and not isinstance(v, bool) for v in raw)
    return out, sizes, ints


def _finish(values: list[float], sizes: bool, ints: bool, page_aligned: bool) -> list:
    if sizes:
        unit = PAGE_SIZE if page_aligned else 1
        return [_size_text(int(round(v / unit)) * unit) for v in values]
    if ints and all(abs(v - round(v)) < 1e-9 for v in values):
        return [int(round(v)) for v in values]
    return [_clean_float(v) for v in values]


def expand_values(spec, err: Callable[[str], Exception]) -> list:
    """The values of one parameter from its spec: a list, a range, a linspace or a geomspace."""
    if isinstance(spec, list):
        if not spec:
            raise err("empty list of values: give at least one")
        values = list(spec)
    elif isinstance(spec, dict):
        kinds = [k for k in _GENERATORS if k in spec]
        allowed = set(kinds) | ({"step"} if kinds == ["range"] else set())
        unknown = [k for k in spec if k not in allowed]
        if len(kinds) != 1 or unknown:
            what = (f"unknown key {unknown[0]!r}"
                    f"{suggest(unknown[0], [*_GENERATORS, 'step'])}; "
                    if unknown and len(kinds) <= 1 else "")
            raise err(f"{what}expected {_VALUE_FORMS}")
        kind = kinds[0]
        values = _generate(kind, spec, err)
    else:
        raise err(f"expected {_VALUE_FORMS}; got {spec!r}")
    if len(values) > MAX_VALUES:
        raise err(f"{len(values)} values; at most {MAX_VALUES} per parameter")
    seen = {}
    for v in values:
        key = json.dumps(v, sort_keys=True, default=str)
        if key in seen:
            raise err(f"value {v!r} is listed twice")
        seen[key] = v
    return values


def _generate(kind: str, spec: dict, err) -> list:
    args = spec[kind]
    if kind == "range":
        if not isinstance(args, list) or len(args) != 2:
            raise err(f"range: expected [start, stop], got {args!r}")
        step = spec.get("step", 1)
        (start, stop, inc), sizes, ints = _endpoints([*args, step], err)
        if inc == 0:
            raise err("range: step must not be 0")
        if (stop - start) / inc <= 0:
            raise err(f"range: no values from {args[0]} up to (not including) {args[1]} in steps "
                      f"of {step}" + ("; use a negative step to count down" if stop < start
                                      else ""))
        count = math.ceil((stop - start) / inc - 1e-9)
        if count > MAX_VALUES:
            raise err(f"range: {count} values; at most {MAX_VALUES} per parameter")
        values = [start + i * inc for i in range(count)]
        aligned = all(v % PAGE_SIZE == 0 for v in (start, inc))
        return _finish(values, sizes, ints, aligned)
    if not isinstance(args, list) or len(args) != 3:
        raise err(f"{kind}: expected [start, stop, num], got {args!r}")
    num = args[2]
    if not isinstance(num, int) or isinstance(num, bool) or num < 1:
        raise err(f"{kind}: num must be a whole number of values ≥ 1, got {num!r}")
    if num > MAX_VALUES:
        raise err(f"{kind}: {num} values; at most {MAX_VALUES} per parameter")
    (start, stop), sizes, ints = _endpoints(args[:2], err)
    if kind == "geomspace":
        if start <= 0 or stop <= 0:
            raise err("geomspace: start and stop must be positive")
        values = list(np.geomspace(start, stop, num)) if num > 1 else [start]
    else:
        values = list(np.linspace(start, stop, num)) if num > 1 else [start]
    aligned = all(v % PAGE_SIZE == 0 for v in (start, stop))
    return _finish([float(v) for v in values], sizes, ints, aligned)


def _check_path(full: dict, path: str, err) -> None:
    """A parameter path must name a setting of the scenario (every default filled in)."""
    try:
        root = dotted.parse(path)[0]
    except ValueError as exc:
        raise err(str(exc)) from None
    if root == "seed":
        raise err("the seed is not a sweep parameter: use replications (seeds derive from it)")
    if root == "sweep":
        raise err("a sweep cannot sweep its own settings")
    try:
        dotted.get(full, path, root="the scenario")
    except dotted.PathError as exc:
        raise err(f"no setting {path}: {exc.reason}") from None


def base_data(scenario: Scenario) -> dict:
    """The scenario as plain data, without its sweep block: what every point starts from."""
    data = scenario.model_dump(mode="json", exclude_none=True)
    data.pop("sweep", None)
    return data


def point_data(base: dict, point: dict) -> dict:
    """base with the point's values set (copy-on-write: base is unchanged)."""
    data = base
    for path, value in point.items():
        data = dotted.set_path(data, path, value)
    return data


def _under(error_path: str | None, param: str) -> bool:
    mine = dotted.format_path(dotted.typed(param))
    return bool(error_path) and (error_path == mine or error_path.startswith((mine + ".",
                                                                             mine + "[")))


def parse_spec(scenario: Scenario, parameters=None, mode=None, replications=None, policies=None,
               metrics=None, *, file=None, lines=None) -> SweepSpec:
    """The sweep to run: the arguments given, else the scenario's `sweep:` block, else defaults.

    Raises ScenarioError at `sweep.parameters.<path>` (or `sweep.<key>`) for a bad spec: an
    unknown key or setting path, an empty list, a bad range, a value that is invalid by itself.
    """
    inb, arg = _Where(file, lines or {}, True), _Where(None, {}, False)
    block = scenario.sweep.model_dump() if scenario.sweep is not None else {}

    def pick(name, given):
        return (given, arg) if given is not None else (block.get(name), inb)

    raw_params, where = pick("parameters", parameters)
    raw_params = raw_params or {}
    if not isinstance(raw_params, dict):
        raise where.error("expected a mapping of setting paths to values", "parameters")
    mode_v = _checked(check_mode, "mode", *pick("mode", mode))
    reps = _checked(check_replications, "replications", *pick("replications", replications))
    pols, pw = pick("policies", policies)
    pols = _checked(policy_names, "policies", pols, pw)
    mets = _metrics(*pick("metrics", metrics))
    values = _values(scenario, raw_params, where)
    if mode_v == "zip":
        _check_zip(values, where)
    if pols is not None:
        try:
            select_policies(scenario, pols)
        except ScenarioError as exc:
            raise pw.error(exc.message, "policies") from None
    return SweepSpec(values, mode_v, reps, pols, mets)


def _checked(check, name: str, value, where):
    """check(value), its ValueError located at sweep.<name>."""
    try:
        return check(value)
    except ValueError as exc:
        raise where.error(str(exc), name) from None


def _metrics(value, where) -> list[str]:
    value = list(DEFAULT_PLOT_METRICS) if value is None else value
    if isinstance(value, str):
        value = [value]
    for m in value:
        if m not in METRICS:
            raise where.error(f"unknown metric {m!r}{suggest(m, METRICS)}", "metrics")
    return list(value)


def _values(scenario: Scenario, raw_params: dict, where) -> dict[str, list]:
    """Each parameter's values; a value wrong by itself is the spec's fault, not the point's."""
    full = scenario.model_dump(mode="json")
    base = base_data(scenario)
    values: dict[str, list] = {}
    for path, vspec in raw_params.items():
        path = str(path)

        def err(message, _path=path):
            return where.error(message, "parameters", _path)

        _check_path(full, path, err)
        values[path] = expand_values(vspec, err)
        for v in values[path]:
            try:
                load_scenario(dotted.set_path(base, path, v))
            except ScenarioError as exc:
                if _under(exc.path, path):
                    raise err(f"value {v!r}: {exc.message}") from None
    return values


def _check_zip(values: dict[str, list], where) -> None:
    if not values:
        return
    lengths = {p: len(v) for p, v in values.items()}
    first = next(iter(lengths))
    for p, n in lengths.items():
        if n != lengths[first]:
            raise where.error(f"mode zip: {n} values here but {lengths[first]} for {first}; "
                              "zipped parameters need the same number of values",
                              "parameters", p)


def replication_seed(seed: int, r: int) -> int:
    """The seed of replication r: the scenario seed itself for r = 0, so that a one-replication
    sweep reproduces `tmemsim compare` at every point; for r ≥ 1 the 63-bit integer

        SeedSequence(seed, spawn_key=(r,)).generate_state(1, uint64)[0] >> 1

    i.e. drawn from the r-th child that numpy's SeedSequence(seed).spawn() hands out.
    """
    if r == 0:
        return int(seed)
    state = np.random.SeedSequence(int(seed), spawn_key=(r,)).generate_state(1, np.uint64)[0]
    return int(state >> np.uint64(1))


__all__ = ["DEFAULT_PLOT_METRICS", "MAX_VALUES", "MODES", "SweepSpec", "base_data",
           "expand_values", "is_number", "parse_spec", "point_data", "replication_seed"]
