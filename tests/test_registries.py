"""The registries drive the tests: every plug-in declares examples that validate, the lists of
tests/conftest.py are the registries, and a toy plug-in of each kind (policy, cache, workload
kind, trace format) registered the way the "how to add" guides of docs/architecture.md say is
picked up by the generic checks without editing a test list.

The toys run in a pytest subprocess (pytester) whose plugin registers them, so the registries
of this process stay as they are.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from pydantic import TypeAdapter

import tmemsim
from tmemsim.caches import CACHES, CacheSpec
from tmemsim.caches import SPECS as CACHE_SPECS
from tmemsim.errors import ScenarioError
from tmemsim.policies import POLICIES
from tmemsim.policies.none import NoCache
from tmemsim.workloads import WORKLOADS
from tmemsim.workloads.traces import FORMATS

TESTS = Path(__file__).parent

# ---------------------------------------------------------------------------------------------
# every plug-in declares examples, and the conftest's lists are the registries
#
# These loop over the registries themselves: a test parametrized from the conftest's lists could
# not see a plug-in the lists leave out.


def test_every_policy_declares_examples_that_validate():
    for kind, cls in POLICIES.items():
        assert cls.name == kind
        assert cls.examples, f"policy {kind} declares no examples"
        for options in cls.examples:
            cls.Options.model_validate(options)


def test_every_cache_declares_examples_that_validate():
    for kind, cls in CACHES.items():
        assert cls.name == kind
        assert cls.examples, f"cache {kind} declares no examples"
        for options in cls.examples:
            cls.Options.model_validate(options)


def test_every_cache_is_a_scenario_kind():
    """The scenario's CacheSpec is built from CACHES when tmemsim.caches is imported: a cache
    registered later is no scenario kind (add it to the tuple in tmemsim/caches/__init__.py)."""
    assert set(CACHE_SPECS) == set(CACHES)
    for kind, cls in CACHES.items():
        for options in cls.examples:
            assert TypeAdapter(CacheSpec).validate_python({"kind": kind, **options}).kind == kind


def test_every_workload_kind_declares_examples_that_validate(tmp_path):
    from conftest import workload_spec

    for kind, cls in WORKLOADS.items():
        assert cls.model_fields["kind"].default == kind
        assert cls.examples, f"workload kind {kind} declares no examples"
        for i, example in enumerate(cls.examples):
            assert "kind" not in example
            directory = tmp_path / f"{kind}-{i}"
            directory.mkdir()
            assert cls.model_validate(workload_spec(kind, example, directory)).kind == kind


def test_every_trace_format_declares_an_example():
    for name, fmt in FORMATS.items():
        assert name == fmt.name or name in fmt.aliases  # oracleGeneral is oracle's alias
        assert len(fmt.example.rows) >= 1, f"trace format {name} declares an empty example"
        fmt.parse_options(dict(fmt.example.options))


def test_the_conftest_lists_are_the_registries(plugin_lists):
    assert plugin_lists["policy_example"]() == [
        (kind, options) for kind, cls in POLICIES.items() for options in cls.examples]
    assert plugin_lists["cache_example"]() == [
        (kind, options) for kind, cls in CACHES.items() for options in cls.examples]
    assert {kind for kind, _ in plugin_lists["cache_peer"]()} == {
        kind for kind, cls in CACHES.items() if cls.peer}
    assert sorted(plugin_lists["trace_format"]()) == sorted(FORMATS)
    assert plugin_lists["workload_example"]() == [
        (kind, spec) for kind, cls in WORKLOADS.items() for spec in cls.examples]


def test_every_workload_example_streams_pages_within_its_footprint(workload_example_spec):
    kind = workload_example_spec["kind"]
    spec = WORKLOADS[kind].model_validate(workload_example_spec)
    ops, pages, gaps, _ = spec.stream(np.random.SeedSequence(5)).next_chunk(500)
    assert len(pages) > 0 and len(ops) == len(pages) == len(gaps)
    assert 0 <= min(pages) and max(pages) < spec.footprint_pages()


def test_every_peer_is_a_libcachesim_class():
    lcs = pytest.importorskip("libcachesim")
    for kind, cls in CACHES.items():
        assert cls.peer is None or callable(getattr(lcs, cls.peer, None)), kind


# ---------------------------------------------------------------------------------------------
# toy plug-ins


class ToyPolicy(NoCache):
    """`none` under another name: a policy added as the guide says."""

    __slots__ = ()
    name = "toy"
    examples = [{}]


TOY_POLICY = """
    from tmemsim.policies import POLICIES
    from tmemsim.policies.none import NoCache

    class ToyPolicy(NoCache):
        __slots__ = ()
        name = "toy"
        examples = [{}]

    POLICIES["toy"] = ToyPolicy
"""

TOY_CACHE = """
    from tmemsim.caches import CACHES, LRU

    class ToyCache(LRU):  # LRU's libCacheSim peer comes with it
        __slots__ = ()
        name = "toy"

    CACHES["toy"] = ToyCache
"""

# registered before tmemsim.scenario is imported: the scenario's workload union is built then
TOY_WORKLOAD = """
    from typing import ClassVar, Literal

    from tmemsim.workloads import WORKLOADS
    from tmemsim.workloads.synthetic import Zipf

    class ToyWorkload(Zipf):
        kind: Literal["toy"] = "toy"
        examples: ClassVar[list[dict]] = [{"footprint": 300}]

    WORKLOADS["toy"] = ToyWorkload
"""

TOY_FORMAT = """
    from pathlib import Path

    from tmemsim.units import PAGE_SIZE
    from tmemsim.workloads.traces import FORMATS, READ, Example, TraceFormat
    from tmemsim.workloads.traces.dialect import CsvDialect, Extent, text_format
    from tmemsim.workloads.traces.text import read_text

    # one page number per line, read by volume 0: declared as a dialect, as csv's formats are
    PARSERS = text_format(CsvDialect(fields=("page",), offset=Extent("page", unit=PAGE_SIZE)))

    def write_toy(path, rows):
        Path(path).write_text("".join(
            f"{offset // PAGE_SIZE + i}\\n" for _, _, offset, size, _ in rows
            for i in range(max(1, -(-(offset % PAGE_SIZE + size) // PAGE_SIZE)))))

    FORMATS["toy"] = TraceFormat(
        name="toy", read=lambda src, options: read_text(src, PARSERS),
        example=Example(write_toy, rows=((0, READ, 0, 0, 0), (0, READ, 3 * PAGE_SIZE, 0, 0),
                                         (0, READ, PAGE_SIZE, 2 * PAGE_SIZE, 0))))
"""

# the registry-completeness tests run in every toy session too (the tests of this section do
# not match "toy": they would run themselves)
COMPLETENESS = "declares or lists_are or streams_pages or libcachesim_class or every_cache_is"


def run_with_toy(pytester, source: str, files: list[str], select: str):
    pytester.makepyfile(toy_plugin=textwrap.dedent(source))
    return pytester.runpytest_subprocess(
        "-p", "toy_plugin", "-p", "no:cacheprovider", "-o", "addopts=", "-v",
        "--rootdir", str(TESTS.parent), "-k", select, *(str(TESTS / f) for f in files))


def passed_ids(result) -> set[str]:
    return {line.split(" PASSED")[0].split("::")[-1] for line in result.outlines
            if " PASSED" in line}


def test_a_registered_policy_is_picked_up(pytester):
    result = run_with_toy(pytester, TOY_POLICY,
                          ["policies/test_policies.py", "model/test_engine.py",
                           "test_registries.py"], f"toy or {COMPLETENESS}")
    assert result.ret == 0
    assert {"test_coherence_every_policy_example[toy-0]",
            "test_coherence_every_transparent_policy_example_with_threads[toy-0]",
            "test_batched_equals_unbatched_every_policy_example[toy-0]"} <= passed_ids(result)


def test_a_registered_policy_is_a_scenario_kind(monkeypatch):
    """The scenario looks policies up in POLICIES when it loads: a toy registered at any time
    loads and runs, and is named in the error for an unknown one."""
    monkeypatch.setitem(POLICIES, "toy", ToyPolicy)
    d = {"seed": 1, "requests": 2000, "check": True, "host": {"memory": "64MiB"},
         "disks": {"d": {"kind": "ssd"}}, "policies": ["toy", "none"],
         "guests": [{"name": "g", "memory": "4MiB", "disk": {"size": "64MiB"},
                     "workload": {"kind": "zipf", "footprint": 3000}}]}
    s = tmemsim.load_scenario(d)
    toy, none = (tmemsim.simulate(s, policy=p).row() for p in ("toy", "none"))
    assert toy.requests == none.requests == 2000 and toy.guest_hits == none.guest_hits
    with pytest.raises(ScenarioError, match="expected one of .*toy"):
        tmemsim.load_scenario({**d, "policies": ["tyo"]})


def test_a_registered_cache_is_picked_up(pytester):
    """A cache registered after import runs every check that builds it by name (the libCacheSim
    peer check among them), but is no scenario kind: CacheSpec was built at import."""
    result = run_with_toy(pytester, TOY_CACHE, ["test_caches.py", "test_registries.py"],
                          f"toy or {COMPLETENESS}")
    ids = passed_ids(result)
    assert {"test_miss_ratio_equals_libcachesim[toy-10]",
            "test_miss_ratio_equals_libcachesim[toy-1000]",
            "test_interface_find_set_remove[toy]",
            "test_every_cache_declares_examples_that_validate"} <= ids
    failed = {line.split(" FAILED")[0].split("::")[-1] for line in result.outlines
              if " FAILED" in line}
    assert failed == {"test_every_example_builds_and_serves[toy-0]",
                      "test_every_cache_is_a_scenario_kind"}


def test_a_registered_workload_kind_is_picked_up(pytester):
    result = run_with_toy(pytester, TOY_WORKLOAD,
                          ["model/test_engine.py", "test_registries.py"],
                          f"toy or {COMPLETENESS}")
    assert result.ret == 0
    assert {"test_batched_equals_unbatched_every_workload_example[toy-0]",
            "test_every_workload_example_streams_pages_within_its_footprint[toy-0]"
            } <= passed_ids(result)


def test_a_registered_trace_format_is_picked_up(pytester):
    result = run_with_toy(pytester, TOY_FORMAT,
                          ["workloads/test_trace_formats.py", "test_registries.py"],
                          f"toy or {COMPLETENESS}")
    assert {"test_every_format_reads_back_its_example[toy]",
            "test_every_format_rejects_options_it_does_not_declare[toy]",
            "test_every_trace_format_declares_an_example"} <= passed_ids(result)
    assert result.ret == 0
