"""Replacement structures, registered by name: adding one is one module and one entry here.

A scenario names a cache as `cache: lru` or, with options, `cache: {kind: twolist,
active_ratio: 0.3}`; `CacheSpec` is that field's type (a guest's page cache, a policy's
`cache:` option), and `make_cache(spec, capacity)` builds the structure it names.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BeforeValidator, Field, PlainSerializer, create_model

from .base import MISSING, Cache, CacheOptions
from .clock import Clock
from .fifo import FIFO
from .lru import LRU
from .twolist import TwoList

CACHES: dict[str, type[Cache]] = {c.name: c for c in (LRU, FIFO, Clock, TwoList)}


def _spec_model(cls: type[Cache]):
    """The scenario's form of a cache: its Options with the `kind` that names it. A module
    attribute, so that a spec pickles (process pools carry scenarios)."""
    return create_model(f"{cls.__name__}Spec", __base__=cls.Options, __module__=__name__,
                        kind=(Literal[cls.name], cls.name))


SPECS = {name: _spec_model(cls) for name, cls in CACHES.items()}
globals().update({spec.__name__: spec for spec in SPECS.values()})


def _plain_kind(value):
    return {"kind": value} if isinstance(value, str) else value


def _compact(spec):
    """A spec without options written as its bare kind (`lru`), as scenarios write it."""
    options = spec.model_dump(mode="json", exclude_defaults=True)
    return spec.kind if not options else {"kind": spec.kind, **options}


CacheSpec = Annotated[
    Union[tuple(SPECS.values())],  # noqa: UP007 - built at runtime from the registry
    Field(discriminator="kind"),
    BeforeValidator(_plain_kind),
    PlainSerializer(_compact),
]


def cache_class(spec) -> type[Cache]:
    """The class a spec (or a bare kind name) names."""
    kind = spec if isinstance(spec, str) else spec.kind
    try:
        return CACHES[kind]
    except KeyError:
        raise ValueError(f"unknown cache {kind!r}; expected one of {', '.join(CACHES)}") from None


def make_cache(spec, capacity: int) -> Cache:
    """A cache of `capacity` entries: spec is a CacheSpec value or a bare kind name."""
    cls = cache_class(spec)
    return cls(capacity, cls.Options() if isinstance(spec, str) else spec)


__all__ = ["CACHES", "FIFO", "LRU", "MISSING", "Cache", "CacheOptions", "CacheSpec", "Clock",
           "TwoList", "cache_class", "make_cache"]
