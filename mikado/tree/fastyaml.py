"""The front-matter most docs have, parsed without YAML machinery.

Nearly every front-matter is a handful of ``key: plain words`` lines, a date and a list of tags.
Parsing that with libyaml costs ~40 µs a doc, a third of reading it; this module does it in a
few µs. It accepts only a subset whose meaning is certain, and answers ``None`` for anything
else (quotes with escapes, colons or ``#`` in values, numbers other than plain integers,
multi-line values, nested structures, tabs, unusual characters), so the caller falls back to
the YAML loader. A differential test holds it to what that loader returns.

Accepted, one per line, keys at column 0 (``[A-Za-z_][A-Za-z0-9_-]*``):

- ``key: value`` where value is a plain scalar starting with a letter, made of printable
  characters other than ``: # [ ] { } " ' \\ ` & * ! | > % @`` and not a YAML 1.1 boolean or
  null word; a ``'single'`` or ``"double"`` quoted string without quotes or backslashes
  inside; an integer ``0`` or ``[1-9][0-9]*``; a date ``YYYY-MM-DD``; or a flow list
  ``[a, b]`` of such words;
- ``key:`` followed by ``- item`` lines, all at one indentation, or by nothing (null);
- blank lines and whole-line ``#`` comments.

Anything in the block YAML reads as a line break but ``split("\\n")`` does not (a lone CR, NEL,
U+2028, U+2029) sends the block to the loader: a key after one of them, even in a comment, is a
key to YAML, and the card editor refuses such a block (docs/reference.md#run, card edits).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*):(?: +(.*?))? *\Z")
_ITEM = re.compile(r"( *)- +(.*?) *\Z")
_WORDS = re.compile(r"[A-Za-z][^:#\[\]{}\"'\\`&*!|>%@\t]*\Z")
_INTEGER = re.compile(r"(?:0|[1-9][0-9]*)\Z")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})\Z")
# Plain words YAML 1.1 (and so PyYAML) reads as something other than a string.
_RESERVED = frozenset(
    form
    for word in ("yes", "no", "true", "false", "on", "off", "null")
    for form in (word, word.title(), word.upper())
)
_UNSURE = object()
_FOREIGN_BREAK = re.compile("[\x85\u2028\u2029]|\r(?!\n)")


def _scalar(text: str, *, in_flow: bool = False) -> Any:
    first = text[:1]
    if first.isalpha() and first.isascii():
        if (
            _WORDS.match(text)
            and text not in _RESERVED
            and text.isprintable()
            and not (in_flow and "," in text)
        ):
            return text
        return _UNSURE
    if first in ("'", '"'):
        inner = text[1:-1]
        if (
            len(text) >= 2
            and text[-1] == first
            and "'" not in inner
            and '"' not in inner
            and "\\" not in inner
            and inner.isprintable()
        ):
            return inner
        return _UNSURE
    if first.isdigit():
        if _INTEGER.match(text):
            return int(text)
        found = _DATE.match(text)
        if found:
            try:
                return date(int(found[1]), int(found[2]), int(found[3]))
            except ValueError:
                return text  # what mikado's YAML loader makes of an impossible date
    return _UNSURE


def _flow_list(text: str) -> Any:
    inner = text[1:-1].strip(" ")
    if not inner:
        return []
    items: list[Any] = []
    for part in inner.split(","):
        value = _scalar(part.strip(" "), in_flow=True)
        if value is _UNSURE:
            return _UNSURE
        items.append(value)
    return items


Parsed = tuple[dict[str, Any], dict[str, int], tuple[int, ...], tuple[tuple[str, int], ...]]


def parse_placed(text: str, first_line: int = 1) -> Parsed | None:
    """The mapping ``text`` holds, or ``None`` when it is not in the simple subset; and where
    its fields are (``text`` starting on line ``first_line``): the line of each top-level key
    (its first, for a repeated key), of each entry of ``requires``, and each key written again
    with the line that repeats it (YAML keeps the last value, as this does). Parsing knows them
    already; finding them again afterwards, as a doc read by the YAML loader must, costs a
    tenth of reading the doc."""
    # isascii() is a fraction of the search, and most blocks are ASCII with LF endings.
    if (not text.isascii() or "\r" in text) and _FOREIGN_BREAK.search(text):
        return None
    result: dict[str, Any] = {}
    lines: dict[str, int] = {}
    repeated: list[tuple[str, int]] = []
    requires_lines: list[int] = []
    items: list[Any] | None = None  # the block list of the last `key:` line, if any
    items_key = ""
    item_indent = -1
    for number, raw in enumerate(text.split("\n"), first_line):
        line = raw[:-1] if raw.endswith("\r") else raw
        stripped = line.lstrip(" ")
        if not stripped:
            continue
        if stripped[0] == "#":
            continue
        if items is not None and stripped.startswith("-"):
            item = _ITEM.match(line)
            if item is None or not item[2]:
                return None
            indent = len(item[1])
            if item_indent == -1:
                item_indent = indent
                result[items_key] = items
            elif indent != item_indent:
                return None
            value = _scalar(item[2])
            if value is _UNSURE:
                return None
            items.append(value)
            if items_key == "requires":
                requires_lines.append(number)
            continue
        found = _KEY.match(line)
        if found is None or found[1] in _RESERVED:
            return None
        key, value_text = found[1], found[2]
        if key in lines:
            repeated.append((key, number))
        else:
            lines[key] = number
        if not value_text:
            result[key] = None  # YAML's null, unless `- item` lines follow
            items, items_key, item_indent = [], key, -1
            continue
        items = None
        if value_text.startswith("["):
            if not value_text.endswith("]"):
                return None
            value = _flow_list(value_text)
            if key == "requires" and value is not _UNSURE:
                requires_lines.extend([number] * len(value))
        else:
            value = _scalar(value_text)
        if value is _UNSURE:
            return None
        result[key] = value
    return result, lines, tuple(requires_lines), tuple(repeated)
