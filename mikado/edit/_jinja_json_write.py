"""Writing into a Jinja-templated JSON file (:mod:`mikado.edit.jinja_json`): a value as JSON
text in the file's style, a new member inserted after an object's last one, and the check that
the edited text reads back with the member as asked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mikado.edit._jinja_json_model import JinjaJson, Node, _where
from mikado.edit._jinja_json_parse import (
    _JSON_WHITESPACE,
    _decode_string,
    _split_jinja,
    _tag_end,
    parse,
)
from mikado.errors import ConfigError


@dataclass(frozen=True, slots=True)
class _Writer:
    unit: str
    newline: str
    path: str | None

    def value(self, value: object, indent: str, inline: bool) -> str:
        if isinstance(value, Mapping):
            if not value:
                return "{}"
            if inline:
                pairs = (f"{self.key(k)}: {self.value(v, indent, True)}" for k, v in value.items())
                return "{" + ", ".join(pairs) + "}"
            inner = indent + self.unit
            lines = (
                f"{inner}{self.key(k)}: {self.value(v, inner, False)}" for k, v in value.items()
            )
            return "{" + self.newline + f",{self.newline}".join(lines) + self.newline + indent + "}"
        if isinstance(value, list | tuple):
            if not value:
                return "[]"
            if inline or not any(isinstance(v, Mapping | list | tuple) for v in value):
                return "[" + ", ".join(self.value(v, indent, True) for v in value) + "]"
            inner = indent + self.unit
            lines = (inner + self.value(v, inner, False) for v in value)
            return "[" + self.newline + f",{self.newline}".join(lines) + self.newline + indent + "]"
        if isinstance(value, str):
            return self.string(value)
        if value is None or isinstance(value, bool | int):
            return json.dumps(value)
        if isinstance(value, float):
            return json.dumps(value, allow_nan=False)
        raise TypeError(f"{type(value).__name__} is not JSON data: {value!r}")

    def key(self, key: object) -> str:
        if not isinstance(key, str):
            raise TypeError(f"a JSON key must be a string, not {key!r}")
        return self.string(key)

    def string(self, value: str) -> str:
        # Jinja reads the file before JSON does: a tag is written as it is, only the text
        # around it is JSON-escaped.
        try:
            pieces = list(_split_jinja(value))
        except ValueError as exc:
            raise ConfigError(f"the string {value!r}: {exc}", path=self.path) from None
        body = "".join(
            piece if is_tag else json.dumps(piece, ensure_ascii=False)[1:-1]
            for is_tag, piece in pieces
        )
        return f'"{body}"'


def _insert(
    doc: JinjaJson, obj: Node, key: str, value: object, writer: _Writer, inline: bool
) -> str:
    text, newline = doc.text, writer.newline
    if inline:
        member = f"{writer.key(key)}: {writer.value(value, '', True)}"
        if obj.members:
            at = obj.members[-1].value_end
            return f"{text[:at]}, {member}{text[at:]}"
        if text[obj.start + 1 : obj.end - 1].strip(_JSON_WHITESPACE):
            return f"{text[: obj.start + 1]} {member} {text[obj.start + 1 :]}"
        # An empty `{}` is expanded like any other object the file writes on several lines.
        outer = doc.prefix(obj.start)
        inner = outer + writer.unit
        member = f"{writer.key(key)}: {writer.value(value, inner, False)}"
        return (
            f"{text[: obj.start + 1]}{newline}{inner}{member}{newline}{outer}{text[obj.end - 1 :]}"
        )
    if not obj.members:
        close = obj.end - 1
        outer = doc.prefix(close)
        inner = outer + writer.unit
        member = f"{writer.key(key)}: {writer.value(value, inner, False)}"
        line_start = doc.line_starts[doc.line(close) - 1]
        if not text[line_start:close].strip(" \t"):
            return f"{text[:line_start]}{inner}{member}{newline}{text[line_start:]}"
        return f"{text[:close]}{newline}{inner}{member}{newline}{outer}{text[close:]}"
    last = obj.members[-1]
    indent = doc.prefix(last.key_start)
    member = f"{writer.key(key)}: {writer.value(value, indent, False)}"
    at = last.value_end
    # A comment after the last value stays on that value's line.
    i = at
    while True:
        while i < len(text) and text[i] in " \t":
            i += 1
        if not text.startswith("{#", i):
            break
        i = _tag_end(text, i)
    if text.startswith("\r\n", i) or text.startswith("\n", i):
        return f"{text[:at]},{text[at:i]}{newline}{indent}{member}{text[i:]}"
    return f"{text[:at]},{newline}{indent}{member}{text[at:]}"


class _Opaque(Exception):
    """A written value whose meaning only rendering can tell."""


def _decoded(doc: JinjaJson, node: Node) -> object:
    raw = doc.text[node.start : node.end]
    if node.generated or node.kind == "jinja":
        raise _Opaque
    if node.kind == "object":
        result: dict[str, object] = {}
        for member in node.members:
            if member.value is None:
                raise _Opaque
            result[member.key] = _decoded(doc, member.value)
        return result
    if node.kind == "array":
        return [_decoded(doc, item) for item in node.items]
    if node.kind == "string":
        return _decode_string(raw)
    return json.loads(raw)


def _canonical(value: object) -> str:
    # `1 == True` in Python; in the file they are different values.
    return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False)


def _reads_as(doc: JinjaJson, node: Node, value: object) -> bool:
    try:
        return _canonical(_decoded(doc, node)) == _canonical(value)
    except (_Opaque, ValueError):
        return False


def _check(new: str, at: Sequence[str], key: str, value: object, path: str | None) -> None:
    doc = parse(new, path=path)
    found = [member for member in doc.object_at(at).members if member.key == key]
    if len(found) != 1 or found[0].value is None or not _reads_as(doc, found[0].value, value):
        raise ConfigError(
            f"setting `{key}` in the object at {_where(at)} would not read back as written; "
            "edit it by hand",
            path=path,
        )
