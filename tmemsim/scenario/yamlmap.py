"""YAML loading that remembers where every value came from, and refuses hostile documents.

`load_yaml` returns the data and a map from a path tuple (("guests", 1, "memory")) to its
1-based line, so errors can say `guests[1].memory` and the line a user must fix.

The loader's work is bounded by the size of the text: anchors and aliases are shared, never
copied, and a document whose aliases would expand it by more than MAX_ALIAS_VALUES values (a
"billion laughs"), nests deeper than MAX_DEPTH, puts an alias inside its own anchor, or gives
one key twice in a mapping is a ScenarioError naming the line, found while the text is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import ScenarioError
from ..infra.dotted import format_path

# What aliases may add to a document, in values (a mapping, a list, a key, a scalar: one each).
# Real scenarios share a few small blocks (scenarios/shifting-demand.yaml: 284 values). The
# expanded data is validated and written out again (results' scenario.yaml, in pure-Python
# YAML): 66k values held in a scenario key took 3 s and 0.9 MB to write, 7k values 0.35 s.
MAX_ALIAS_VALUES = 10_000
# Levels of nesting, aliases expanded. Scenarios use fewer than ten; the loader, the models and
# the YAML writer are recursive, so a bound keeps them far from Python's recursion limit.
MAX_DEPTH = 100
_MERGE = "tag:yaml.org,2002:merge"


def _children(node) -> list:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


class _Loader(yaml.SafeLoader):
    """SafeLoader that counts what aliases expand to, and refuses duplicate keys and cycles."""

    def __init__(self, text: str, file: str | None):
        super().__init__(text)
        self.file = file
        self.path: list = []  # where the node being composed sits
        self.open_anchors: list[str] = []  # anchors of the collections being composed
        self.measured: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth)
        self.alias_values = 0
        self.alias_lines: dict[tuple, int] = {}  # where each alias is written, by its path

    def error(self, message: str, mark, path=None) -> ScenarioError:
        return ScenarioError(message, file=self.file, path=format_path(self.path if path is None
                                                                      else path) or None,
                             line=mark.line + 1)

    def compose_node(self, parent, index):
        if parent is not None:
            self.path.append(index if isinstance(index, int) else
                             index.value if isinstance(index, yaml.ScalarNode) else "<key>")
        event = self.peek_event()
        if len(self.path) > MAX_DEPTH:
            raise self.error(f"nested deeper than {MAX_DEPTH} levels", event.start_mark,
                             self.path[:1])
        if isinstance(event, yaml.AliasEvent):
            self._count_alias(event)
            self.alias_lines[tuple(self.path)] = event.start_mark.line + 1
            node = super().compose_node(parent, index)
        elif event.anchor is not None and isinstance(event, yaml.CollectionStartEvent):
            self.open_anchors.append(event.anchor)
            node = super().compose_node(parent, index)
            self.open_anchors.pop()
        else:
            node = super().compose_node(parent, index)
        if parent is not None:
            self.path.pop()
        return node

    def compose_mapping_node(self, anchor):
        node = super().compose_mapping_node(anchor)
        seen: dict = {}
        for key, _ in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE:
                continue  # `<<` merges are followed by the keys that override them
            first = seen.setdefault((key.tag, key.value), key)
            if first is not key:
                raise self.error(
                    f"key {key.value!r} is given twice in this mapping, on lines "
                    f"{first.start_mark.line + 1} and {key.start_mark.line + 1}; keep one",
                    key.start_mark, self.path + [key.value])
        return node

    def _count_alias(self, event) -> None:
        target = self.anchors.get(event.anchor)
        if target is None:
            return  # the composer reports the undefined alias
        if event.anchor in self.open_anchors:
            raise self.error(f"alias *{event.anchor} is inside its own anchor &{event.anchor} "
                             "(a cycle)", event.start_mark)
        values, depth = self._measure(target)
        if len(self.path) + depth - 1 > MAX_DEPTH:
            raise self.error(f"alias *{event.anchor} nests the document deeper than "
                             f"{MAX_DEPTH} levels", event.start_mark, self.path[:1])
        self.alias_values += values
        if self.alias_values > MAX_ALIAS_VALUES:
            raise self.error(f"aliases expand this document by more than {MAX_ALIAS_VALUES} "
                             f"values (at alias *{event.anchor}); share smaller blocks or "
                             "write them out", event.start_mark)

    def _measure(self, node) -> tuple[int, int]:
        """Values and depth of node with its aliases expanded, memoized per node object."""
        measured = self.measured
        stack = [node]
        while stack:
            top = stack[-1]
            if id(top) in measured:
                stack.pop()
                continue
            kids = _children(top)
            todo = [k for k in kids if id(k) not in measured]
            if todo:
                stack.extend(todo)
                continue
            stack.pop()
            measured[id(top)] = (1 + sum(measured[id(k)][0] for k in kids),
                                 1 + max((measured[id(k)][1] for k in kids), default=0))
        return measured[id(node)]


def _lines(root, alias_lines: dict) -> dict:
    """Each path's line, walking every node object once, in document order: what an alias
    shares keeps the lines of its first path; a path through the alias, the alias's line."""
    lines: dict = {(): root.start_mark.line + 1}
    seen: set[int] = set()
    stack = [(root, ())]
    while stack:
        node, path = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        children = []
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                lines[path + (key.value,)] = key.start_mark.line + 1
                children.append((value, path + (key.value,)))
        elif isinstance(node, yaml.SequenceNode):
            for i, value in enumerate(node.value):
                lines[path + (i,)] = value.start_mark.line + 1
                children.append((value, path + (i,)))
        stack.extend(reversed(children))
    lines.update(alias_lines)
    return lines


def decode(raw: bytes, file: str | None = None) -> str:
    """A YAML file's bytes as text: UTF-8, or a ScenarioError naming the first bad byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ScenarioError(f"not UTF-8 text: byte 0x{raw[exc.start]:02x} in column {column} "
                            "cannot be decoded; a scenario is a YAML text file in UTF-8",
                            file=file, line=line) from None


@dataclass(frozen=True)
class Document:
    """A scenario file, read and parsed: its data, the line of every path, and its path."""

    data: object
    lines: dict
    path: Path


def read_document(path) -> Document:
    """Read and parse a YAML file; every refusal (a missing or unreadable file, bytes that are
    not UTF-8, hostile aliases, duplicate keys, bad syntax) is a located ScenarioError. Needs
    nothing but PyYAML, so the command line refuses such files before it imports the models.
    A name that is no file here is looked up in the scenario library (`quickstart`)."""
    from ..library import resolve

    path = resolve(path)
    file = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError("no such scenario file", file=file) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read the scenario: {exc.strerror}", file=file) from None
    data, lines = load_yaml(decode(raw, file), file)
    return Document(data, lines, path)


def load_yaml(text: str, file: str | None = None):
    """Parse one YAML document; returns (data, lines)."""
    try:
        loader = _Loader(text, file)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
            alias_lines = loader.alias_lines
        finally:
            loader.dispose()
    except yaml.reader.ReaderError as exc:
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise ScenarioError(f"not YAML text: character #x{char:04x} is not allowed "
                            f"({exc.reason})", file=file,
                            line=text.count("\n", 0, exc.position) + 1) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError(
            f"YAML syntax error: {problem}",
            file=file,
            line=mark.line + 1 if mark else None,
        ) from None
    return data, _lines(node, alias_lines) if node is not None else {}


def line_of(lines: dict, path) -> int | None:
    """The line of path, or of its nearest ancestor that has one."""
    path = tuple(path)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())
