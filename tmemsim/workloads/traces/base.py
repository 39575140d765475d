"""What a trace format declares for the registry: its name, reader, options and example.

A reader takes the open `Source` and the format's validated options and yields `Records`.
Options are a pydantic model (extra keys forbidden): `read_trace` and the `kind: trace` workload
check a scenario's `options:` against it. The example is a writer of small valid files from rows
`(time_s, op, offset_bytes, size_bytes, volume)`, with rows the format holds exactly: the
registry-driven tests write and read back every format's example.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, ValidationError

from .records import Records
from .source import Source

Row = tuple[float, int, int, int, int]  # time_s, op, offset_bytes, size_bytes, volume


class NoOptions(BaseModel):
    """The options of a format that takes none."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class OptionError(ValueError):
    """A format option that is unknown or has a bad value; `option` names it when one does."""

    def __init__(self, message: str, option: str | None = None):
        super().__init__(message)
        self.option = option


@dataclass(frozen=True)
class Example:
    """A small valid file of the format: `write(path, rows)` of `rows` it holds exactly."""

    write: Callable[..., None]
    rows: tuple[Row, ...]
    options: Mapping = field(default_factory=dict)  # read_trace options to read it back


@dataclass(frozen=True)
class TraceFormat:
    """A `format:` of the registry: how to read it, what it accepts, a file to test it with.

    aliases: other names a scenario may give it (the name its authors' tools use)."""

    name: str
    read: Callable[[Source, BaseModel], Iterator[Records]]
    example: Example
    options: type[BaseModel] = NoOptions
    aliases: tuple[str, ...] = ()

    def parse_options(self, given: Mapping) -> BaseModel:
        """The options `given` validated against the declaration (OptionError if not)."""
        declared = list(self.options.model_fields)
        unknown = sorted(set(given) - set(declared))
        if unknown:
            raise OptionError(f"unknown option(s) {', '.join(unknown)} for trace format "
                              f"{self.name!r}; valid: {', '.join(declared) or 'none'}", unknown[0])
        try:
            return self.options.model_validate(dict(given))
        except ValidationError as exc:
            err = exc.errors()[0]
            option = str(err["loc"][0]) if err["loc"] else None
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] != "value_error":
                message = f"option {option}: {message}"
            raise OptionError(message, option) from None
