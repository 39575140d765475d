"""Scenario loading: defaults, every kind of bad input located by YAML path and line,
`--set` overrides, and a Hypothesis search for inputs that escape as anything but ScenarioError."""

from __future__ import annotations

import copy
import math
import subprocess
import sys
import types
import typing
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

import tmemsim
from tmemsim import library
from tmemsim.errors import ScenarioError
from tmemsim.policies import POLICIES
from tmemsim.scenario import Scenario, resolved_yaml
from tmemsim.scenario.yamlmap import line_of, load_yaml
from tmemsim.workloads import WORKLOADS

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"

MiB = 1024**2
GiB = 1024**3


def minimal() -> dict:
    return {
        "seed": 1,
        "requests": 50000,
        "host": {"memory": "1GiB", "reserved": "128MiB"},
        "disks": {"d": {"kind": "nvme"}},
        "guests": [{
            "name": "g",
            "memory": "64MiB",
            "reserved": "16MiB",
            "disk": {"size": "2GiB"},
            "workload": {"kind": "zipf", "alpha": 0.9, "footprint": 100000},
        }],
    }


# The minimal scenario as a file. Cases below edit it textually and mark the line the error
# must point at with "# <-", so the expected line numbers are the file's real ones.
BASE = """\
seed: 1
requests: 50000
host:
  memory: 1GiB
  reserved: 128MiB
disks:
  d:
    kind: nvme
guests:
  - name: g
    memory: 64MiB
    reserved: 16MiB
    disk:
      size: 2GiB
    workload:
      kind: zipf
      alpha: 0.9
      footprint: 100000
"""

SECOND_GUEST = """\
  - name: h
    memory: 64MiB
    disk:
      size: 1GiB
    workload:
      kind: uniform
      footprint: 1000
"""


def edit(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def marked_line(text: str) -> int:
    lines = [i + 1 for i, line in enumerate(text.splitlines()) if "# <-" in line]
    assert len(lines) == 1
    return lines[0]


def write(tmp_path, text: str, name: str = "scenario.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def load_error(path, overrides=None) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        tmemsim.load_scenario(path, overrides)
    return info.value


# ---------------------------------------------------------------------------------------------
# a good scenario


def test_minimal_dict_loads_with_defaults_filled():
    s = tmemsim.load_scenario(minimal())
    assert isinstance(s, Scenario)
    assert s.name == "scenario"
    assert s.seed == 1 and s.requests == 50000 and s.duration is None
    assert s.warmup == 0.0 and s.sample_interval == 1.0
    assert s.check is False and s.engine == "batched"
    assert s.host.memory == GiB and s.host.reserved == 128 * MiB
    costs = s.host.costs
    assert (costs.guest_hit, costs.hypercall, costs.page_copy, costs.virtio) == (
        1e-6, 1e-6, 1e-6, 20e-6)
    disk = s.disks["d"]
    assert (disk.kind, disk.read, disk.write, disk.channels) == ("nvme", 20e-6, 10e-6, 32)
    assert s.images == {}
    g = s.guests[0]
    assert g.memory == 64 * MiB and g.reserved == 16 * MiB
    assert g.count == 1 and g.cache.kind == "lru"
    assert g.writeback_interval == 5.0 and g.dirty_expire == 30.0  # the Linux defaults
    assert g.cache_pages() == 48 * MiB // 4096 == 12288
    assert g.disk.size == 2 * GiB and g.disk.image is None
    w = g.workload
    assert w.kind == "zipf" and w.alpha == 0.9 and w.footprint == 100000 and w.offset == 0
    assert w.read_fraction == 1.0 and w.threads == 1 and w.sync is False
    assert w.dup_writes == 0.0 and w.arrival is None and w.file_pages == 64
    assert w.think_time.kind == "constant" and w.think_time.mean == 0.0
    assert [p.kind for p in s.policy_specs()] == ["none"]
    assert s.pool_bytes() == GiB - 128 * MiB - 64 * MiB


def test_file_takes_its_name_from_the_file(tmp_path):
    s = tmemsim.load_scenario(write(tmp_path, BASE, "my-case.yaml"))
    assert s.name == "my-case"
    named = tmemsim.load_scenario(write(tmp_path, "name: other\n" + BASE, "x.yaml"))
    assert named.name == "other"


def test_disk_defaults_by_kind():
    d = minimal()
    d["disks"] = {
        "h": {"kind": "hdd"},
        "s": {"kind": "ssd"},
        "c": {"kind": "custom", "read": {"kind": "exponential", "mean": "1ms"}, "channels": 2},
    }
    d["guests"][0]["disk"]["disk"] = "s"
    s = tmemsim.load_scenario(d)
    h, ssd, c = s.disks["h"], s.disks["s"], s.disks["c"]
    assert (h.rpm, h.single_track, h.full_stroke, h.bandwidth, h.channels) == (
        7200.0, 1e-3, 15e-3, 150e6, 1)
    assert (ssd.read, ssd.write, ssd.channels) == (80e-6, 20e-6, 8)
    assert c.read.kind == "exponential" and c.read.mean == 1e-3 and c.write is None
    assert c.channels == 2


def test_units_and_distributions_inside_a_scenario():
    d = minimal()
    d.update(duration="2s", warmup="500ms", sample_interval="250ms")
    del d["requests"]
    d["host"]["costs"] = {"virtio": "5us", "guest_hit": 0}
    d["guests"][0].update(writeback_interval="1s", dirty_expire="2s", cache="clock")
    d["guests"][0]["workload"].update(
        think_time="1ms", read_fraction=0.7, threads=3, arrival=None, footprint="4MiB")
    s = tmemsim.load_scenario(d)
    assert (s.duration, s.warmup, s.sample_interval) == (2.0, 0.5, 0.25)
    assert s.host.costs.virtio == pytest.approx(5e-6) and s.host.costs.guest_hit == 0
    g = s.guests[0]
    assert (g.writeback_interval, g.dirty_expire, g.cache.kind) == (1.0, 2.0, "clock")
    assert g.workload.think_time.kind == "constant" and g.workload.think_time.mean == 1e-3
    assert g.workload.footprint == 1024  # a size with a unit becomes pages

    d["guests"][0]["workload"]["think_time"] = {"kind": "exponential", "mean": "1ms"}
    d["guests"][0]["workload"]["arrival"] = {"kind": "poisson", "rate": "200/s"}
    w = tmemsim.load_scenario(d).guests[0].workload
    assert w.think_time.kind == "exponential" and w.think_time.mean == 1e-3
    assert w.arrival.kind == "poisson" and w.arrival.rate == 200.0


def test_count_expands_guest_names():
    d = minimal()
    d["guests"][0]["count"] = 3
    d["guests"].append(yaml.safe_load(SECOND_GUEST)[0])
    s = tmemsim.load_scenario(d)
    assert [name for name, _ in s.expanded_guests()] == ["g-0", "g-1", "g-2", "h"]
    assert s.pool_bytes() == GiB - 128 * MiB - 4 * 64 * MiB


def test_policy_specs_names_and_options():
    d = minimal()
    d["policies"] = ["none", "host-cache", {"kind": "host-cache", "mode": "writeback"},
                     "tmem", {"kind": "tmem", "pool": "shared"}, "dedup",
                     {"kind": "tmem", "name": "mine", "dedup": True}]
    specs = tmemsim.load_scenario(d).policy_specs()
    assert [(p.kind, p.name) for p in specs] == [
        ("none", "none"), ("host-cache", "host-cache"),
        ("host-cache", "host-cache+mode=writeback"), ("tmem", "tmem"),
        ("tmem", "tmem+pool=shared"), ("dedup", "dedup"), ("tmem", "mine")]
    assert specs[4].make_options().pool == "shared"
    assert specs[6].make_options().dedup is True


def test_cow_and_copy_clones_load():
    d = minimal()
    d["images"] = {"base": {"size": "64MiB", "zero_fraction": 0.1}}
    d["guests"][0]["disk"] = {"image": "base", "clone": "cow"}
    d["guests"][0]["workload"]["footprint"] = 16384
    d["guests"].append({**yaml.safe_load(SECOND_GUEST)[0], "disk": {"image": "base",
                                                                     "clone": "copy"}})
    s = tmemsim.load_scenario(d)
    assert s.images["base"].size == 64 * MiB and s.images["base"].zero_fraction == 0.1
    assert [g.disk.clone for g in s.guests] == ["cow", "copy"]


def test_resolved_yaml_reloads_to_the_same_scenario(tmp_path):
    s = tmemsim.load_scenario(minimal())
    again = tmemsim.load_scenario(write(tmp_path, resolved_yaml(s)))
    assert again.model_dump() == s.model_dump()
    assert tmemsim.load_scenario(s).model_dump() == s.model_dump()  # a Scenario is accepted too


def test_load_does_not_mutate_its_input():
    d = minimal()
    before = copy.deepcopy(d)
    tmemsim.load_scenario(d, ["guests.0.memory=128MiB"])
    assert d == before


# ---------------------------------------------------------------------------------------------
# bad input: each located by file, YAML path and line


BAD_CASES = {
    "yaml-syntax-flow": (  # an unclosed "[" is noticed on the next line, where YAML says
        edit("  reserved: 128MiB\ndisks:\n", "  reserved: [128MiB\ndisks:  # <-\n"), None,
        "YAML syntax error"),
    "yaml-syntax-mapping": (
        edit("    memory: 64MiB\n", "    memory: 64MiB: x  # <-\n"), None, "YAML syntax error"),
    "unknown-key-guest": (
        edit("    reserved: 16MiB\n", "    reserverd: 16MiB  # <-\n"),
        "guests[0].reserverd", "did you mean 'reserved'"),
    "unknown-key-top": (
        edit("seed: 1\n", "sed: 1  # <-\n"), "sed", "did you mean 'seed'"),
    "unknown-key-workload": (
        edit("      alpha: 0.9\n", "      alhpa: 0.9  # <-\n"),
        "guests[0].workload.alhpa", "did you mean 'alpha'"),
    "unknown-key-host": (
        edit("  memory: 1GiB\n", "  memory: 1GiB\n  reseved: 1MiB  # <-\n"),
        "host.reseved", "did you mean 'reserved'"),
    # an unknown kind is reported at the block it selects (its key's line)
    "unknown-disk-kind": (
        edit("  d:\n    kind: nvme\n", "  d:  # <-\n    kind: nvm\n"), "disks.d",
        "did you mean 'nvme'"),
    "unknown-workload-kind": (
        edit("    workload:\n      kind: zipf\n", "    workload:  # <-\n      kind: zipff\n"),
        "guests[0].workload", "did you mean 'zipf'"),
    "unknown-policy": (
        BASE.replace("seed: 1\n", "seed: 1\npolicies:\n  - none\n  - tmme  # <-\n"),
        "policies[1].kind", "did you mean 'tmem'"),
    "unknown-policy-kind": (
        BASE.replace("seed: 1\n", "seed: 1\npolicies:\n  - kind: tmem\n"
                                  "  - kind: hostcache  # <-\n"),
        "policies[1].kind", "did you mean 'host-cache'"),
    "unknown-cache": (
        edit("    reserved: 16MiB\n", "    reserved: 16MiB\n    cache: lfu  # <-\n"),
        "guests[0].cache", "unknown kind 'lfu'"),
    "wrong-type-int": (
        edit("seed: 1\n", "seed: abc  # <-\n"), "seed", "valid integer"),
    "wrong-type-number": (
        edit("      alpha: 0.9\n", "      alpha: [1]  # <-\n"), "guests[0].workload.alpha",
        "valid number"),
    "wrong-type-guests": (
        BASE.split("guests:")[0] + "guests: 5  # <-\n", "guests", "valid list"),
    "wrong-type-fraction": (
        edit("      alpha: 0.9\n", "      alpha: 0.9\n      read_fraction: 1.5  # <-\n"),
        "guests[0].workload.read_fraction", "less than or equal to 1"),
    "malformed-unit": (
        edit("    memory: 64MiB\n", "    memory: 12 parsecs  # <-\n"),
        "guests[0].memory", "unknown size unit 'parsecs'"),
    "malformed-duration": (
        edit("requests: 50000\n", "duration: 2 fortnights  # <-\n"),
        "duration", "unknown time unit"),
    "malformed-rate": (
        edit("      alpha: 0.9\n", "      alpha: 0.9\n      arrival:\n"
                                    "        rate: 5 per second  # <-\n"),
        "guests[0].workload.arrival.rate", "150/s"),
    "zero-size": (
        edit("    memory: 64MiB\n", "    memory: 0  # <-\n"), "guests[0].memory", "greater than 0"),
    "zero-size-unit": (
        edit("      size: 2GiB\n", "      size: 0GiB  # <-\n"),
        "guests[0].disk.size", "greater than 0"),
    "negative-size": (
        edit("    memory: 64MiB\n", "    memory: -64MiB  # <-\n"), "guests[0].memory",
        "expected a size"),
    "negative-size-number": (
        edit("  memory: 1GiB\n", "  memory: -5  # <-\n"), "host.memory", "greater than 0"),
    "zero-duration": (
        edit("requests: 50000\n", "duration: 0s  # <-\n"), "duration", "greater than 0"),
    "negative-duration": (
        edit("requests: 50000\n", "duration: -2s  # <-\n"), "duration", "expected a duration"),
    "negative-warmup": (
        edit("requests: 50000\n", "requests: 50000\nwarmup: -1s  # <-\n"), "warmup",
        "expected a duration"),
    "zero-sample-interval": (
        edit("requests: 50000\n", "requests: 50000\nsample_interval: 0ms  # <-\n"),
        "sample_interval", "greater than 0"),
    "zero-requests": (
        edit("requests: 50000\n", "requests: 0  # <-\n"), "requests", "greater than 0"),
    "guest-reserved-equals-memory": (
        edit("    reserved: 16MiB\n", "    reserved: 64MiB  # <-\n"),
        "guests[0].reserved", "must be less than memory"),
    "guest-reserved-above-memory": (
        edit("    reserved: 16MiB\n", "    reserved: 1GiB  # <-\n"),
        "guests[0].reserved", "must be less than memory"),
    "host-reserved-equals-memory": (
        edit("  reserved: 128MiB\n", "  reserved: 1GiB  # <-\n"),
        "host.reserved", "must be less than host.memory"),
    "guests-do-not-fit": (
        edit("guests:\n", "guests:  # <-\n", edit("    memory: 64MiB\n", "    memory: 900MiB\n")),
        "guests", "host.memory - host.reserved"),
    "guests-do-not-fit-by-count": (
        edit("guests:\n", "guests:  # <-\n",
             edit("  - name: g\n", "  - name: g\n    count: 15\n")),
        "guests", "960MiB"),
    "undefined-disk": (
        edit("      size: 2GiB\n", "      size: 2GiB\n      disk: e  # <-\n"),
        "guests[0].disk.disk", "no disk named 'e'"),
    "undefined-disk-suggests": (
        edit("      size: 2GiB\n", "      size: 2GiB\n      disk: dd  # <-\n",
             edit("  d:\n    kind: nvme\n", "  d1:\n    kind: nvme\n  ddd:\n    kind: ssd\n")),
        "guests[0].disk.disk", "did you mean 'ddd'"),
    "undefined-image": (
        edit("      size: 2GiB\n", "      image: bas  # <-\n"),
        "guests[0].disk.image", "no image named 'bas'"),
    "undefined-image-suggests": (
        edit("      size: 2GiB\n", "      image: bas  # <-\n",
             edit("disks:\n", "images:\n  base:\n    size: 1GiB\ndisks:\n")),
        "guests[0].disk.image", "did you mean 'base'"),
    "image-on-undefined-disk": (
        edit("disks:\n", "images:\n  base:\n    size: 1GiB\n    disk: x  # <-\ndisks:\n"),
        "images.base.disk", "no disk named 'x'"),
    "duplicate-guest-name": (
        BASE + SECOND_GUEST.replace("  - name: h\n", "  - name: g  # <-\n"),
        "guests[1].name", "duplicate guest name 'g'"),
    "duplicate-by-count": (
        edit("  - name: g\n", "  - name: g\n    count: 2\n")
        + SECOND_GUEST.replace("  - name: h\n", "  - name: g-1  # <-\n"),
        "guests[1].name", "duplicate guest name 'g-1'"),
    "duplicate-by-count-second": (
        BASE.replace("  - name: g\n", "  - name: h-0\n")
        + SECOND_GUEST.replace("  - name: h\n", "  - name: h  # <-\n    count: 2\n"),
        "guests[1].name", "duplicate guest name 'h-0'"),
    "footprint-beyond-disk": (
        edit("      size: 2GiB\n", "      size: 100MiB\n",
             edit("    workload:\n", "    workload:  # <-\n")),
        "guests[0].workload", "touches 100000 pages"),
    "missing-required": (
        edit("    memory: 64MiB\n", "", edit("  - name: g\n", "  - name: g  # <-\n")),
        "guests[0].memory", "missing"),
    "no-end": (
        edit("requests: 50000\n", "", edit("seed: 1\n", "seed: 1  # <-\n")),
        None, "duration"),
    "both-disk-sources": (
        edit("      size: 2GiB\n", "      size: 2GiB\n      image: base\n",
             edit("    disk:\n", "    disk:  # <-\n")),
        "guests[0].disk", "not both"),
    "bad-tmem-pool": (
        BASE.replace("seed: 1\n", "seed: 1\npolicies:\n  - kind: tmem\n    pool: big  # <-\n"),
        "policies[0].pool", "'private' or 'shared'"),
    "tmem-weights-unknown-guest": (
        BASE.replace("seed: 1\n", "seed: 1\npolicies:\n  - kind: tmem\n"
                                  "    weights:  # <-\n      zz: 1\n"),
        "policies[0].weights", "unknown guests: zz"),
    "top-level-list": ("- 1\n- 2  # <-\n", None, "mapping"),
    # one key twice in a mapping: the last would silently win; both lines are named
    "duplicate-key-top": (
        edit("requests: 50000\n", "requests: 50000\nseed: 2  # <-\n"), "seed",
        "key 'seed' is given twice in this mapping, on lines 1 and 3"),
    "duplicate-key-nested": (
        edit("      alpha: 0.9\n", "      alpha: 0.9\n      footprint: 10\n      alpha: 1.2  # <-\n"),
        "guests[0].workload.alpha", "on lines 17 and 19"),
    # floats are finite, whatever the field
    "infinite-alpha": (
        edit("      alpha: 0.9\n", "      alpha: .inf  # <-\n"), "guests[0].workload.alpha",
        "finite number"),
    "nan-alpha": (
        edit("      alpha: 0.9\n", "      alpha: .nan  # <-\n"), "guests[0].workload.alpha",
        "finite number"),
    "infinite-tmem-weight": (
        BASE.replace("seed: 1\n", "seed: 1\npolicies:\n  - kind: tmem\n"
                                  "    weights: {g: .inf}  # <-\n"),
        "policies[0].weights.g", "finite number"),
    "infinite-sigma": (
        edit("    kind: nvme\n", "    kind: custom\n    read: {kind: lognormal, mean: 1ms, "
                                 "sigma: .inf}  # <-\n"),
        "disks.d.read.sigma", "finite number"),
    # hostile YAML: refused while reading, at the line that does it
    "alias-cycle": (
        edit("seed: 1\n", "seed: 1\nx-loop: &loop [1, *loop]  # <-\n"), "x-loop[1]",
        "alias *loop is inside its own anchor &loop"),
    "nested-too-deep": (
        edit("seed: 1\n", "seed: 1\nx-deep: " + "[" * 101 + "]" * 101 + "  # <-\n"),
        "x-deep", "nested deeper than 100 levels"),
    "control-character": (
        edit("seed: 1\n", "seed: 1\x07  # <-\n"), None, "character #x0007 is not allowed"),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_input_is_located(tmp_path, case):
    text, path, fragment = BAD_CASES[case]
    f = write(tmp_path, text)
    err = load_error(f)
    assert err.file == str(f)
    assert (err.path or None) == path
    if case == "top-level-list":
        assert err.line == 1
    elif case == "no-end":
        assert err.line in (None, 1)  # the whole scenario: no key to point at
    else:
        assert err.line == marked_line(text)
    assert fragment in err.message
    # str(err) is "file, path, line N: message"
    where = [str(f)] + ([path] if path else []) + (
        [f"line {err.line}"] if err.line is not None else [])
    assert str(err) == ", ".join(where) + ": " + err.message


def test_dict_input_errors_have_a_path_but_no_file_or_line():
    d = minimal()
    d["guests"][0]["memory"] = "12 parsecs"
    err = load_error(d)
    assert err.file is None and err.line is None
    assert err.path == "guests[0].memory"
    assert str(err).startswith("guests[0].memory: ")


def test_later_guest_errors_point_at_that_guest(tmp_path):
    text = BASE + SECOND_GUEST.replace("    memory: 64MiB\n", "    memory: 64 parsecs  # <-\n")
    err = load_error(write(tmp_path, text))
    assert err.path == "guests[1].memory"
    assert err.line == marked_line(text)


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    err = load_error(missing)
    assert err.file == str(missing)
    assert "no such scenario file" in err.message
    assert err.path is None and err.line is None


def test_a_directory_is_not_a_scenario(tmp_path):
    err = load_error(tmp_path)
    assert err.file == str(tmp_path)


# ---------------------------------------------------------------------------------------------
# --set overrides


def test_set_changes_a_value(tmp_path):
    f = write(tmp_path, BASE)
    s = tmemsim.load_scenario(f, ["host.memory=8GiB", "guests.0.memory=2GiB"])
    assert s.guests[0].memory == 2 * GiB
    assert s.host.memory == 8 * GiB
    assert tmemsim.load_scenario(f).guests[0].memory == 64 * MiB  # the file is unchanged


def test_set_accepts_a_dict_and_typed_values():
    s = tmemsim.load_scenario(minimal(), {"seed": 9, "guests.0.workload.alpha": "1.2",
                                          "engine": "unbatched", "check": "true"})
    assert s.seed == 9 and s.guests[0].workload.alpha == 1.2
    assert s.engine == "unbatched" and s.check is True


def test_set_may_add_a_new_leaf_key():
    s = tmemsim.load_scenario(minimal(), ["guests.0.workload.read_fraction=0.25"])
    assert s.guests[0].workload.read_fraction == 0.25


def test_set_value_is_validated_like_the_file(tmp_path):
    err = load_error(write(tmp_path, BASE), ["guests.0.memory=12 parsecs"])
    assert err.path == "guests[0].memory"
    assert "parsecs" in err.message


def test_set_of_an_unknown_leaf_key_is_an_unknown_key(tmp_path):
    err = load_error(write(tmp_path, BASE), ["guests.0.memroy=1GiB"])
    assert err.path == "guests[0].memroy"
    assert "did you mean 'memory'" in err.message


@pytest.mark.parametrize(
    "override, fragments",
    [
        ("guests.5.memory=1GiB", ["guests.5.memory", "no item 5", "it has 1"]),
        ("guests.0.nosuch.x=1", ["guests.0.nosuch.x", "guests[0].nosuch", "does not exist"]),
        ("hots.memory=1GiB", ["hots", "does not exist", "did you mean 'host'"]),
        ("seed.x=1", ["seed", "is a value"]),
        ("guests.x=1", ["guests", "no item x"]),
        ("seed", ["expected key.path=value"]),
    ],
)
def test_set_on_a_path_that_does_not_exist(tmp_path, override, fragments):
    f = write(tmp_path, BASE)
    err = load_error(f, [override])
    for fragment in fragments:
        assert fragment in err.message


@pytest.mark.parametrize(
    "override, paths",
    [
        ("guests.5.memory=1GiB", {"guests[5]", "guests[5].memory"}),
        ("guests.0.nosuch.x=1", {"guests[0].nosuch", "guests[0].nosuch.x"}),
    ],
)
def test_set_on_a_missing_path_names_it_in_error_path(tmp_path, override, paths):
    err = load_error(write(tmp_path, BASE), [override])
    assert err.path in paths


@pytest.mark.parametrize("override", ["seed=[", "host.memory=@x", "name={a"])
def test_set_with_unparsable_value_is_a_scenario_error(override):
    with pytest.raises(ScenarioError):
        tmemsim.load_scenario(minimal(), [override])


# ---------------------------------------------------------------------------------------------
# values that load but should not (found while writing these tests)


def test_infinite_size_is_a_scenario_error():
    d = minimal()
    d["guests"][0]["memory"] = math.inf
    err = load_error(d)
    assert err.path == "guests[0].memory"


def test_infinite_duration_is_rejected():
    d = minimal()
    del d["requests"]
    d["duration"] = math.inf
    err = load_error(d)
    assert err.path == "duration"


def test_negative_seed_is_rejected_at_load():
    d = minimal()
    d["seed"] = -1
    err = load_error(d)
    assert err.path == "seed"


def test_unhashable_policy_kind_is_a_scenario_error():
    d = minimal()
    d["policies"] = [{"kind": ["tmem"]}]
    err = load_error(d)
    assert err.path.startswith("policies[0]")


def test_non_string_policy_name_is_a_scenario_error():
    d = minimal()
    d["policies"] = [{"kind": "tmem", "name": 5}]
    err = load_error(d)
    assert err.path.startswith("policies[0]")


@pytest.mark.parametrize("key", ["[", "a[0]"])
def test_unknown_key_with_a_bracket_is_a_scenario_error(key):
    d = minimal()
    d[key] = 1
    err = load_error(d)
    assert err.path == key and "unknown key" in err.message


def test_policy_of_wrong_type_is_located_at_policy():
    d = minimal()
    d["policy"] = 5
    assert load_error(d).path == "policy"


# ---------------------------------------------------------------------------------------------
# Hypothesis: mutated scenarios never escape as anything but ScenarioError


def _base_dicts() -> list[dict]:
    plain = minimal()
    rich = minimal()
    rich.update(duration="2s", warmup="100ms", sample_interval="500ms", check=True,
                engine="unbatched",
                policies=["none", {"kind": "tmem", "pool": "shared"},
                          {"kind": "host-cache", "mode": "writeback", "cache": "clock"}])
    rich["host"]["costs"] = {"virtio": "10us", "hypercall": "1us"}
    rich["images"] = {"base": {"size": "64MiB", "zero_fraction": 0.1, "internal_dup": 0.2,
                               "disk": "d"}}
    rich["disks"]["c"] = {"kind": "custom", "read": {"kind": "exponential", "mean": "1ms"},
                          "write": "2ms", "channels": 2}
    rich["guests"][0]["disk"]["disk"] = "d"
    rich["guests"][0]["workload"].update(
        read_fraction=0.8, threads=2, think_time={"kind": "exponential", "mean": "1ms"},
        dup_writes=0.1, sync=False, file_pages=16)
    rich["guests"].append({
        "name": "c", "count": 2, "memory": "32MiB", "cache": "twolist",
        "writeback_interval": "1s", "dirty_expire": "2s",
        "disk": {"image": "base", "clone": "cow"},
        "workload": {"kind": "uniform", "footprint": 1000,
                     "arrival": {"kind": "poisson", "rate": "200/s"}},
    })
    rich["guests"].append({
        "name": "s", "memory": "16MiB", "disk": {"size": "1GiB", "disk": "c"},
        "workload": {"kind": "script", "steps": ["r 5", "w 5", "t 5"]},
    })
    return [plain, rich]


BASES = _base_dicts()


def _paths(node, prefix=()):
    """Every (path, container) below node: the places a mutation may act."""
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


def _get(node, path):
    for step in path:
        node = node[step]
    return node


UNIT_WORDS = ["MiB", "GiB", "KiB", "ms", "us", "s", "/s", "parsecs", "min", "B", "µs", "x", ""]
unit_strings = st.builds(
    lambda n, sp, u: f"{n}{sp}{u}",
    st.one_of(st.integers(-5, 10**6), st.floats(-1e3, 1e12, allow_nan=False)),
    st.sampled_from(["", " "]),
    st.sampled_from(UNIT_WORDS),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), unit_strings,
    st.sampled_from(["zipf", "uniform", "script", "tmem", "none", "nvme", "custom", "lru",
                     "base", "d", "g", "cow", "copy", "poisson", "exponential"]),
)
junk = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.one_of(st.text(max_size=8), st.integers(), st.none()), inner,
                    max_size=3)), max_leaves=6)

mutation = st.tuples(st.sampled_from(["drop", "replace", "insert", "swap"]),
                     st.integers(0, 10**6), junk, st.text(max_size=10))


def _mutate(data, ops) -> dict:
    data = copy.deepcopy(data)
    for op, where, value, key in ops:
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        path = paths[where % len(paths)]
        parent = _get(data, path[:-1])
        last = path[-1]
        if op == "drop":
            del parent[last]
        elif op == "replace":
            parent[last] = value
        elif op == "swap":  # the same value, another type
            old = parent[last]
            parent[last] = ([old] if not isinstance(old, list) else
                            {"x": old}) if not isinstance(old, str) else {"value": old}
        else:
            target = _get(data, path) if isinstance(_get(data, path), dict) else parent
            if isinstance(target, dict):
                target[key] = value
            elif isinstance(target, list):
                target.insert(where % (len(target) + 1), value)
    return data


def _load_and_check(data) -> None:
    try:
        s = tmemsim.load_scenario(data)
    except ScenarioError as err:
        assert err.message
        assert str(err)
        return
    assert isinstance(s, Scenario)
    # what loads must describe a runnable world: memory fits, each guest has a cache page
    assert s.pool_bytes() >= 0
    assert all(g.reserved < g.memory for g in s.guests)


def _hits_known_bug(data) -> bool:
    """Inputs that trigger the bugs marked xfail above (infinite numbers, bad policy entries,
    top-level keys with a '['), so that the green property test keeps guarding everything else until they are fixed."""
    def walk(node):
        if isinstance(node, float) and math.isinf(node):
            return True
        if isinstance(node, dict):
            return any(walk(v) for v in node.values())
        if isinstance(node, list):
            return any(walk(v) for v in node)
        return False

    if isinstance(data, dict) and any(isinstance(k, str) and "[" in k for k in data):
        return True
    policies = data.get("policies") if isinstance(data, dict) else None
    bad_policy = isinstance(policies, list) and any(
        isinstance(p, dict) and (not isinstance(p.get("kind", ""), str | int | float | None)
                                 or ("name" in p and not isinstance(p["name"], str | None)))
        for p in policies)
    return walk(data) or bad_policy


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.sampled_from(range(len(BASES))), ops=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_scenarios_raise_only_scenario_error(base, ops):
    data = _mutate(BASES[base], ops)
    assume(not _hits_known_bug(data))
    _load_and_check(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(base=0, ops=[("replace", 3, math.inf, "")])  # host.memory: .inf
@given(base=st.sampled_from(range(len(BASES))), ops=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_scenarios_raise_only_scenario_error_including_known_bugs(base, ops):
    _load_and_check(_mutate(BASES[base], ops))


def test_the_mutation_bases_are_valid():
    for data in BASES:
        _load_and_check(data)
        assert isinstance(tmemsim.load_scenario(data), Scenario)


# ---------------------------------------------------------------------------------------------
# hostile YAML: bounded work, whatever the text


def laughs(levels: int = 9, width: int = 9, where: str = "x-") -> str:
    """A "billion laughs": each level an anchored list of `width` aliases of the one before."""
    names = [chr(ord("a") + i) for i in range(levels)]
    text = f"{where}{names[0]}: &{names[0]} [{', '.join(['lol'] * width)}]\n"
    for before, name in zip(names, names[1:], strict=False):
        text += f"{where}{name}: &{name} [{', '.join(['*' + before] * width)}]\n"
    return text


BOUNDED_CHILD = """
import resource, sys, tracemalloc
from click.testing import CliRunner
from tmemsim.cli import main
with open("/proc/self/statm") as f:  # what the interpreter and its imports already take
    size = int(f.read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (size + (512 << 20), resource.RLIM_INFINITY))
tracemalloc.start()
result = CliRunner().invoke(main, ["validate", sys.argv[1]])
print(result.exit_code, tracemalloc.get_traced_memory()[1])
print(result.stderr, end="")
"""


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("where", ["x-", "description-"])
def test_a_billion_laughs_is_refused_in_bounded_memory(tmp_path, where):
    # under an ignored x- key or not, the document is refused while it is read: the loader
    # never expands it (it used to take minutes and gigabytes, here capped at 512 MiB)
    path = write(tmp_path, BASE + laughs(where=where))
    assert len(laughs()) < 512
    proc = subprocess.run([sys.executable, "-c", BOUNDED_CHILD, str(path)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    head, message = proc.stdout.split("\n", 1)
    code, peak = (int(x) for x in head.split())
    assert code == 2, proc.stdout[-2000:]
    assert peak < 20 * MiB, peak  # Python's own allocations while validating
    assert message.count("\n") == 1 and "Traceback" not in message
    assert "aliases expand this document by more than 10000 values" in message
    assert f"{path}, {where}e[0], line 23:" in message  # the alias that crosses the cap


def test_aliases_expanding_below_the_cap_load(tmp_path):
    # aliases add 9 * 10 + 9 * 91 + 9 * 820 = 8289 values: allowed
    assert isinstance(tmemsim.load_scenario(write(tmp_path, BASE + laughs(levels=4))), Scenario)
    err = load_error(write(tmp_path, BASE + laughs(levels=5)))  # the first *d adds 7381 more
    assert err.line == 23 and err.path == "x-e[0]" and "more than 10000" in err.message


def test_a_bomb_in_a_set_value_is_refused(tmp_path):
    err = load_error(write(tmp_path, BASE), ["description=[" + laughs().replace("\n", ", ")
                                                              .replace("x-", "{x-") + "]"])
    assert "--set description" in err.message


def test_the_loader_reads_what_pyyaml_reads():
    # every shipped scenario (anchors, merge keys overridden by explicit keys) reads the same
    for path in sorted(SCENARIOS.glob("*.yaml")):
        text = path.read_text()
        assert load_yaml(text, str(path))[0] == yaml.safe_load(text), path.name
        tmemsim.load_scenario(path)


def test_merge_keys_may_be_overridden_and_anchors_reused(tmp_path):
    text = edit("guests:\n", "x-g: &g {name: g, memory: 64MiB, reserved: 16MiB, disk: {size: "
                "2GiB}, workload: &w {kind: zipf, alpha: 0.9, footprint: 100000}}\nguests:\n"
                "  - {<<: *g, name: a}\n  - <<: *g\n    name: b\n    workload: *w\n",
                BASE.split("guests:")[0] + "guests:\n")
    s = tmemsim.load_scenario(write(tmp_path, text))
    assert [g.name for g in s.guests] == ["a", "b"]
    assert s.guests[0].workload == s.guests[1].workload


def test_a_path_through_an_alias_has_the_alias_line():
    data, lines = load_yaml("a: &a {x: 1}\nb:\n  - 0\n  - *a\n")
    assert data == {"a": {"x": 1}, "b": [0, {"x": 1}]}
    assert lines[("a", "x")] == 1 and lines[("b", 1)] == 4
    assert line_of(lines, ("b", 1, "x")) == 4


def test_set_through_a_shared_anchor_changes_only_its_own_path(tmp_path):
    text = edit("guests:\n", "x-w: &w {kind: zipf, alpha: 0.9, footprint: 1000}\nguests:\n",
                BASE.split("guests:")[0] + "guests:\n")
    text += ("  - {name: a, memory: 64MiB, disk: {size: 1GiB}, workload: *w}\n"
             "  - {name: b, memory: 64MiB, disk: {size: 1GiB}, workload: *w}\n")
    s = tmemsim.load_scenario(write(tmp_path, text), ["guests.0.workload.alpha=0.5"])
    assert [g.workload.alpha for g in s.guests] == [0.5, 0.9]


def test_set_through_a_nested_alias_of_the_library_changes_g0_only():
    """shifting-demand shares one `*big` mapping between g0's phase 0 and g1-g3's big phases:
    setting it through g0's path changes g0 only."""
    path = library.scenario_path("shifting-demand")
    s = tmemsim.load_scenario(path, ["guests.0.workload.phases.0.workload.alpha=1.3"])
    big = [[p.workload.alpha for p in g.workload.phases if p.workload.footprint == 12000]
           for g in s.guests]
    assert big == [[1.3], [0.6], [0.6], [0.6]]


@pytest.mark.parametrize("raw, line, byte", [
    (BASE.replace("name: g", "name: g\xe9").encode("latin-1"), 10, "0xe9"),
    (b"seed: 1\n" + bytes(range(256)), 3, "0x80"),
])
def test_a_scenario_that_is_not_utf8_is_a_scenario_error(tmp_path, raw, line, byte):
    path = tmp_path / "s.yaml"
    path.write_bytes(raw)
    err = load_error(path)
    assert err.file == str(path) and err.line == line
    assert f"not UTF-8 text: byte {byte}" in err.message


# ---------------------------------------------------------------------------------------------
# every float of every scenario block is finite


def _models_under(annotation) -> list:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_under(arg)]


def _scenario_models() -> list:
    todo = [Scenario, *WORKLOADS.values(), *(p.Options for p in POLICIES.values())]
    seen: list = []
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.append(model)
        for info in model.model_fields.values():
            todo += _models_under(info.annotation)
    return seen


def _with_inf(annotation):
    """A value of this type with inf where its float goes; None for a type without one."""
    if annotation is float:
        return math.inf
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _with_inf(args[0])
    if origin in (typing.Union, types.UnionType):
        return next((v for v in map(_with_inf, args) if v is not None), None)
    inner = _with_inf(args[-1]) if origin in (dict, list) else None
    if inner is None:
        return None
    return {"g": inner} if origin is dict else [inner]


def _float_fields() -> list:
    """(model, field, a value with inf where a float goes) for every float field."""
    return [(model, name, value) for model in _scenario_models()
            for name, info in model.model_fields.items()
            if (value := _with_inf(info.annotation)) is not None]


def test_every_float_field_is_found_by_the_walk():
    names = {f"{m.__name__}.{n}" for m, n, _ in _float_fields()}
    assert {"Zipf.alpha", "Trace.speed", "Distribution.sigma", "Options.weights",
            "Options.weight_default", "MixPart.weight", "HddDisk.bandwidth", "Scenario.duration",
            "Image.zero_fraction"} <= names, names


@pytest.mark.parametrize("model, field, value", _float_fields(),
                         ids=lambda x: getattr(x, "__name__", None) or str(x))
def test_every_float_field_rejects_inf_and_nan(model, field, value):
    for bad in (value, json_replace(value, math.inf, math.nan), json_replace(value, math.inf,
                                                                           -math.inf)):
        with pytest.raises(ValidationError) as info:
            model.model_validate({field: bad})
        mine = [e for e in info.value.errors() if e["loc"][:1] == (field,)]
        assert mine and all("finite" in e["msg"] for e in mine), info.value


def json_replace(value, old, new):
    if isinstance(value, dict):
        return {k: json_replace(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [json_replace(v, old, new) for v in value]
    return new if value == old else value
