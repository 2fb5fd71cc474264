"""The parsed form of a Jinja-templated JSON file (:mod:`mikado.edit.jinja_json`): each value
with its span and line, each object's members, the block tags' spans, and the way to the
object an edit names.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, NoReturn

from mikado.errors import ConfigError

Kind = Literal["object", "array", "string", "literal", "jinja"]
Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Node:
    """A JSON value as written: ``text[start:end]``, on ``line`` (1-based)."""

    kind: Kind  # "literal": a number, true, false or null; "jinja": a bare `{{ … }}` value
    start: int
    end: int
    line: int
    members: tuple[Member, ...] = ()  # of an object, in file order
    items: tuple[Node, ...] = ()  # of an array, as written (a loop's body counts once)
    # A block tag sits among the container's own members or items: a loop or a condition
    # makes them, so what is written is not what zot reads.
    generated: bool = False


@dataclass(frozen=True, slots=True)
class Member:
    """``"key": value`` of an object. ``value`` is ``None`` when block tags choose among
    several written values (``{% if %}1{% else %}2{% endif %}``)."""

    key: str  # decoded; Jinja inside it is kept as written
    key_start: int
    key_end: int
    value_start: int
    value_end: int
    line: int  # of the key
    value: Node | None


@dataclass(frozen=True, slots=True)
class JinjaJson:
    """A parsed template: its text, its root value and every ``{% … %}`` tag's span."""

    text: str
    path: str | None  # for messages
    root: Node
    blocks: tuple[Span, ...]
    line_starts: tuple[int, ...]

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self.line_starts, offset)

    def prefix(self, offset: int) -> str:
        """The indentation of the line holding ``offset``."""
        start = self.line_starts[self.line(offset) - 1]
        match = re.compile(r"[ \t]*").match(self.text, start)
        assert match is not None
        return match.group()

    def blocks_in(self, start: int, end: int) -> tuple[Span, ...]:
        return tuple(span for span in self.blocks if start <= span[0] < end)

    def object_at(self, at: Sequence[str]) -> Node:
        """The object reached from the root through the keys ``at``; :class:`ConfigError` when
        a key is missing or the way goes through anything but objects."""
        node = self.root
        for depth, key in enumerate(at):
            here = _where(at[:depth])
            if node.kind != "object":
                self._not_an_object(node, at[:depth], through=True)
            found = [member for member in node.members if member.key == key]
            if not found:
                raise ConfigError(
                    f"no key `{key}` in the object at {here}", path=self.path, line=node.line
                )
            if len(found) > 1:
                lines = ", ".join(str(member.line) for member in found)
                raise ConfigError(
                    f"key `{key}` appears {len(found)} times in the object at {here} "
                    f"(lines {lines}); mikado cannot tell which one is meant",
                    path=self.path,
                    line=found[1].line,
                )
            member = found[0]
            if member.value is None:
                raise ConfigError(
                    f"the value of {_where(at[: depth + 1])} is chosen by Jinja block tags; "
                    "mikado edits only values written once",
                    path=self.path,
                    line=member.line,
                )
            node = member.value
        if node.kind != "object":
            self._not_an_object(node, at, through=False)
        return node

    def _not_an_object(self, node: Node, at: Sequence[str], *, through: bool) -> NoReturn:
        what = {"array": "an array", "jinja": "a Jinja expression"}.get(node.kind, "not an object")
        reason = (
            "a path cannot go through an array"
            if through and node.kind == "array"
            else "mikado edits members of objects only"
        )
        raise ConfigError(
            f"the value at {_where(at)} is {what}: {reason}", path=self.path, line=node.line
        )

    def indent_unit(self) -> str:
        """The step by which the file indents a container's members (two spaces if it has no
        expanded container to learn it from)."""
        steps: Counter[str] = Counter()
        for node in _walk(self.root):
            starts = [m.key_start for m in node.members] or [item.start for item in node.items]
            if not starts or self.line(starts[0]) == node.line:
                continue
            outer, inner = self.prefix(node.start), self.prefix(starts[0])
            if inner.startswith(outer) and len(inner) > len(outer):
                steps[inner[len(outer) :]] += 1
        return steps.most_common(1)[0][0] if steps else "  "


def _walk(node: Node) -> Iterator[Node]:
    yield node
    for member in node.members:
        if member.value is not None:
            yield from _walk(member.value)
    for item in node.items:
        yield from _walk(item)


def _where(at: Sequence[str]) -> str:
    return "the top level" if not at else "`" + " → ".join(at) + "`"
