"""Parsing a Jinja-templated JSON file (:mod:`mikado.edit.jinja_json`): JSON in which Jinja
tags may appear, read into a :class:`JinjaJson` that knows where every value and member sits;
and the Jinja tags found in a piece of text.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NoReturn

from mikado.edit._jinja_json_model import JinjaJson, Kind, Member, Node, Span
from mikado.errors import ConfigError

_JSON_WHITESPACE = " \t\r\n"
_JINJA_OPEN = ("{{", "{%", "{#")
_LITERAL = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null")


def parse(text: str, *, path: str | None = None) -> JinjaJson:
    """Read ``text`` as JSON with Jinja in it; :class:`ConfigError` (with the line) when it is
    not, or when Jinja opens a bracket it closes elsewhere, which the editor cannot follow."""
    return _Parser(text, path).document()


def _tag_end(text: str, start: int) -> int:
    """One past the Jinja tag opening at ``start``, or -1 if it is not closed. Quotes and
    brackets inside ``{{ }}`` and ``{% %}`` are followed as Jinja's lexer follows them."""
    if text.startswith("{#", start):
        end = text.find("#}", start + 2)
        return -1 if end < 0 else end + 2
    closer = "}}" if text.startswith("{{", start) else "%}"
    depth = 0
    i, n = start + 2, len(text)
    while i < n:
        c = text[i]
        if c in "'\"":
            i += 1
            while i < n and text[i] != c:
                i += 2 if text[i] == "\\" else 1
            i += 1
        elif depth == 0 and text.startswith(closer, i):
            return i + 2
        elif c in "([{":
            depth += 1
            i += 1
        elif c in ")]}" and depth:
            depth -= 1
            i += 1
        else:
            i += 1
    return -1


def _split_jinja(text: str) -> Iterator[tuple[bool, str]]:
    """``text`` cut into (is a Jinja tag, piece); raises ValueError at an unclosed tag."""
    i = 0
    while True:
        starts = [found for found in (text.find(o, i) for o in _JINJA_OPEN) if found >= 0]
        if not starts:
            if i < len(text):
                yield False, text[i:]
            return
        start = min(starts)
        if start > i:
            yield False, text[i:start]
        end = _tag_end(text, start)
        if end < 0:
            raise ValueError(f"`{text[start : start + 2]}` is not closed")
        yield True, text[start:end]
        i = end


def _decode_string(raw: str) -> str:
    """The content of a JSON string literal ``raw`` (quotes included), its Jinja as written."""
    return "".join(
        piece if is_tag else json.loads(f'"{piece}"') for is_tag, piece in _split_jinja(raw[1:-1])
    )


@dataclass(slots=True)
class _Gap:
    end: int
    commas: list[int]
    blocks: list[Span]


class _Parser:
    def __init__(self, text: str, path: str | None):
        self.text = text
        self.path = path
        self.line_starts = (0, *(m.end() for m in re.finditer("\n", text)))
        self.blocks: dict[int, int] = {}

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self.line_starts, offset)

    def fail(self, message: str, at: int) -> NoReturn:
        raise ConfigError(
            f"cannot read as JSON with Jinja: {message}", path=self.path, line=self.line(at)
        )

    def document(self) -> JinjaJson:
        start = 1 if self.text.startswith("\ufeff") else 0
        gap = self.gap(start, commas=False)
        root = self.value(gap.end)
        gap = self.gap(root.end, commas=False)
        if gap.end < len(self.text):
            self.fail("text after the JSON value", gap.end)
        return JinjaJson(
            self.text, self.path, root, tuple(sorted(self.blocks.items())), self.line_starts
        )

    def tag_end(self, start: int) -> int:
        end = _tag_end(self.text, start)
        if end < 0:
            self.fail(f"`{self.text[start : start + 2]}` is not closed", start)
        if self.text.startswith("{%", start):
            self.blocks[start] = end
        return end

    def gap(self, i: int, *, commas: bool) -> _Gap:
        """Skip whitespace, Jinja comments and block tags (and commas, if ``commas``)."""
        text, n = self.text, len(self.text)
        gap = _Gap(i, [], [])
        while i < n:
            c = text[i]
            if c in _JSON_WHITESPACE:
                i += 1
            elif c == "," and commas:
                gap.commas.append(i)
                i += 1
            elif text.startswith("{%", i) or text.startswith("{#", i):
                end = self.tag_end(i)
                if text[i + 1] == "%":
                    gap.blocks.append((i, end))
                i = end
            else:
                break
        gap.end = i
        return gap

    def value(self, i: int) -> Node:
        text = self.text
        if i >= len(text):
            self.fail("the text ends where a value should be", i)
        c = text[i]
        if c == "{" and not text.startswith(_JINJA_OPEN, i):
            return self.container(i, "}")
        if c == "[":
            return self.container(i, "]")
        if c == '"':
            return self.string(i)
        return self.bare(i)

    def string(self, i: int) -> Node:
        text, n = self.text, len(self.text)
        j = i + 1
        while True:
            if j >= n or text[j] == "\n":
                self.fail("a string is not closed on its line", i)
            c = text[j]
            if c == '"':
                break
            if c == "\\":
                j += 2
            elif text.startswith(_JINJA_OPEN, j):
                j = self.tag_end(j)
            else:
                j += 1
        return Node("string", i, j + 1, self.line(i))

    def bare(self, i: int) -> Node:
        text, n = self.text, len(self.text)
        j = i
        while j < n:
            if text.startswith("{{", j):
                j = self.tag_end(j)
            elif text[j] in _JSON_WHITESPACE or text[j] in ',:[]{}"':
                break
            else:
                j += 1
        token = text[i:j]
        if not token:
            self.fail(f"expected a value, found `{text[i]}`", i)
        if "{{" in token:
            return Node("jinja", i, j, self.line(i))
        if not _LITERAL.fullmatch(token):
            self.fail(f"`{token}` is not a JSON value", i)
        return Node("literal", i, j, self.line(i))

    def container(self, start: int, closer: str) -> Node:
        """An object or an array. Where a block tag sits in the gap between two entries the
        commas are the template's business; elsewhere they follow JSON."""
        text = self.text
        members: list[Member] = []
        items: list[Node] = []
        generated = False
        i = start + 1
        while True:
            gap = self.gap(i, commas=True)
            generated = generated or bool(gap.blocks)
            if gap.end >= len(text):
                self.fail(f"`{text[start]}` is not closed", start)
            first = not members and not items
            closing = text[gap.end] == closer
            if not gap.blocks:
                wanted = 0 if first or closing else 1
                if len(gap.commas) > wanted:
                    self.fail("unexpected `,`", gap.commas[wanted])
                if len(gap.commas) < wanted:
                    self.fail(f"expected `,` or `{closer}`", gap.end)
            if closing:
                break
            if closer == "}":
                member = self.member(gap.end)
                members.append(member)
                i = member.value_end
            else:
                item = self.value(gap.end)
                items.append(item)
                i = item.end
        kind: Kind = "object" if closer == "}" else "array"
        return Node(
            kind, start, gap.end + 1, self.line(start), tuple(members), tuple(items), generated
        )

    def member(self, i: int) -> Member:
        text = self.text
        if text[i] != '"':
            self.fail("expected a key in double quotes", i)
        key = self.string(i)
        colon = self.gap(key.end, commas=False)
        if colon.blocks or colon.end >= len(text) or text[colon.end] != ":":
            self.fail("expected `:` after the key", colon.end)
        value_start = colon.end + 1
        while value_start < len(text) and text[value_start] in _JSON_WHITESPACE:
            value_start += 1
        before = self.gap(value_start, commas=False)
        written = self.value(before.end)
        end = written.end
        chosen = bool(before.blocks)
        while True:  # `{% if %}1{% else %}2{% endif %}`: the member's value is all of it
            after = self.gap(end, commas=False)
            if not after.blocks:
                break
            if chosen:
                end = after.blocks[-1][1]
            if after.end >= len(text) or text[after.end] in ",}" or self.is_key(after.end):
                break
            end = self.value(after.end).end
            chosen = True
        try:
            name = _decode_string(text[key.start : key.end])
        except ValueError:
            self.fail("the key is not a valid JSON string", key.start)
        return Member(
            name, key.start, key.end, value_start, end, key.line, None if chosen else written
        )

    def is_key(self, i: int) -> bool:
        if self.text[i] != '"':
            return False
        after = self.gap(self.string(i).end, commas=False)
        return after.end < len(self.text) and self.text[after.end] == ":"
