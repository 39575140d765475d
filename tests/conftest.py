"""Plug-ins listed from their registries, offered to tests as parametrized fixtures.

A test that asks for `policy_example` (a (kind, options) pair), `cache_example` (kind,
options), `cache_peer` (kind, libCacheSim class name), `trace_format` (a format name) or
`workload_example` (kind, spec without `kind`) runs once per entry of the registry, with ids
`kind-i` (i: the example's index in the class's `examples`). A plug-in added to POLICIES,
CACHES, FORMATS or WORKLOADS is thereby covered by every such test without editing a list;
tests/test_registries.py checks these lists equal the registries.
"""

from __future__ import annotations

import gc

import pytest

from tmemsim.caches import CACHES
from tmemsim.policies import POLICIES
from tmemsim.workloads import WORKLOADS
from tmemsim.workloads.traces import FORMATS

pytest_plugins = ["pytester"]


@pytest.fixture(scope="module", autouse=True)
def _frozen_heap():
    """Move what the session holds as each test module starts (imports, test items, what
    earlier modules left in caches) out of the cycle collector's reach. api.run_policy runs a
    full gc.collect() after every world, and a full collection walks every tracked object:
    over this process's heap (pandas, scipy, matplotlib, hypothesis, ~1,800 items) that cost
    more than the tests' small simulations themselves (half of tests/test_sweep.py's time).
    The earlier modules' fixtures are torn down and collected first; what the tests build
    (worlds included) stays collectable as before. No assertion depends on it."""
    gc.collect()
    gc.freeze()
    yield


def policy_examples() -> list[tuple[str, dict]]:
    return [(kind, options) for kind, cls in POLICIES.items() for options in cls.examples]


def cache_examples() -> list[tuple[str, dict]]:
    return [(kind, options) for kind, cls in CACHES.items() for options in cls.examples]


def cache_peers() -> list[tuple[str, str]]:
    return [(kind, cls.peer) for kind, cls in CACHES.items() if cls.peer is not None]


def trace_formats() -> list[str]:
    return sorted(FORMATS)


def workload_examples() -> list[tuple[str, dict]]:
    return [(kind, spec) for kind, cls in WORKLOADS.items() for spec in cls.examples]


def _example_ids(pairs) -> list[str]:
    seen: dict[str, int] = {}
    ids = []
    for kind, _ in pairs:
        ids.append(f"{kind}-{seen.get(kind, 0)}")
        seen[kind] = seen.get(kind, 0) + 1
    return ids


# fixture name -> (list builder, ids builder)
PLUGIN_LISTS = {
    "policy_example": (policy_examples, _example_ids),
    "cache_example": (cache_examples, _example_ids),
    "cache_peer": (cache_peers, lambda pairs: [kind for kind, _ in pairs]),
    "trace_format": (trace_formats, list),
    "workload_example": (workload_examples, _example_ids),
}


def pytest_generate_tests(metafunc):
    for fixture, (build, ids) in PLUGIN_LISTS.items():
        if fixture in metafunc.fixturenames:
            values = build()
            metafunc.parametrize(fixture, values, ids=ids(values))


@pytest.fixture
def plugin_lists():
    """The list builders, for tests that check them against the registries."""
    return {fixture: build for fixture, (build, _) in PLUGIN_LISTS.items()}


def workload_spec(kind: str, example: dict, directory) -> dict:
    """A workload spec from a kind's example; a trace's file (`format` and `path`) is the
    format's own example, written under `directory`."""
    spec = {"kind": kind, **example}
    if "format" in spec and "path" in spec:
        fmt = FORMATS[spec["format"]]
        path = directory / spec["path"]
        fmt.example.write(path, fmt.example.rows)
        spec["path"] = str(path)
        spec["options"] = {**fmt.example.options, **spec.get("options", {})}  # a csv's columns
    return spec


@pytest.fixture
def workload_example_spec(workload_example, tmp_path) -> dict:
    """`workload_example` as a full spec, its trace file (if any) written."""
    return workload_spec(*workload_example, tmp_path)
