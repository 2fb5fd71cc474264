"""Surgical card edits (docs/reference.md#run): change a few front-matter fields and leave every
other byte.

A YAML round-trip would reformat the whole block (comments, quoting, key order), so instead the
block is composed into YAML nodes only to learn *where* each top-level value sits, and the lines
of the changed fields are rewritten as text. The result is parsed again and compared with what
was asked for before anything is written: an edit that would change any other field, or not
read back as intended, is refused rather than written.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from mikado.edit.atomic import write_atomic
from mikado.errors import CardEditError
from mikado.tree.frontmatter import (
    Block,
    Composed,
    FrontMatterError,
    compose,
    parse_block,
    split_bytes,
)

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

Value = str | date | list[str]
_NOTHING: Mapping[str, Value] = MappingProxyType({})

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_ANCHOR = re.compile(r"&([^\s,\[\]{}]+)")
# What follows `key:` when the value is an alias on the key line: ` *name`, maybe a comment.
_ALIAS_REST = re.compile(r"[ \t]*\*[^\s,\[\]{}]+([ \t]+#.*)?\Z")
_ITEM_PREFIX = re.compile(r"([ \t]*)-([ \t]+)\Z")
_DEFAULT_ITEM_PREFIX = "  - "
# What loading YAML raises: besides YAMLError, PyYAML's constructors let any plain Python error
# out for a value its explicit tag does not fit (`!!int abc` ValueError, `!!int` IndexError,
# `!!bool` KeyError, ...), and deep nesting raises RecursionError.
_LOAD_ERRORS = (Exception,)
# Line breaks YAML honours but ``str.split("\n")`` does not: with them, node lines and our
# lines would disagree, so such a block is refused instead of guessed at.
_FOREIGN_BREAKS = ("\r", "\x85", "\u2028", "\u2029")


@dataclass(slots=True)
class _Line:
    text: str  # without its line ending
    eol: str  # "\n" or "\r\n"


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    key: yaml.Node
    value: yaml.Node
    start: int  # index of the key's line in the block
    end: int  # one past the field's last line (trailing blanks and column-0 comments excluded)


@dataclass(frozen=True, slots=True)
class _Change:
    start: int
    end: int
    lines: list[_Line]


def edit_card(
    path: Path,
    *,
    set: Mapping[str, Value] = _NOTHING,
    remove: Iterable[str] = (),
) -> bool:
    """Set, replace or remove top-level front-matter fields of the card at ``path``.

    Only the lines of the changed fields are rewritten; comments, key order, quoting style
    (where the new value allows it), blank lines, the body, CRLF and a BOM stay as they were.
    A new key is appended after the block's last field. The file is replaced atomically and
    keeps its mode. Returns whether the file changed.

    Raises :class:`CardEditError` (with the file and line) when the block cannot be edited
    safely; the file is then untouched.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CardEditError(f"cannot read: {exc.strerror}", path=str(path)) from None
    new = edit_bytes(data, set=set, remove=remove, where=str(path))
    if new == data:
        return False
    write_atomic(path, new)
    return True


def edit_bytes(
    data: bytes,
    *,
    set: Mapping[str, Value] = _NOTHING,
    remove: Iterable[str] = (),
    where: str | None = None,
) -> bytes:
    """:func:`edit_card` on the bytes of a card; returns the new bytes."""
    removals = _removals(set, remove, where)
    try:
        block = split_bytes(data)
    except FrontMatterError as exc:
        raise CardEditError(exc.message, path=where, line=exc.line) from None
    if block is None:
        raise CardEditError("no front-matter block to edit", path=where)
    new_text = _editor(block, where).apply(set, removals)
    if new_text == block.text:
        return data
    # The block's bytes follow the opening line (BOM included) and are exactly its text.
    start = data.index(b"\n") + 1
    end = start + len(block.text.encode("utf-8"))
    return data[:start] + new_text.encode("utf-8") + data[end:]


def refusal(
    block: Block,
    edits: Iterable[tuple[Mapping[str, Value], Iterable[str]]],
    *,
    composed: Composed | None = None,
    where: str | None = None,
) -> CardEditError | None:
    """Why :func:`edit_bytes` would refuse one of ``edits`` (each the ``set`` and ``remove`` of
    one call) on a card with this front-matter, or ``None`` when it would make them all.
    Nothing is written. ``composed`` is the block as :func:`compose` read it, when the caller
    has that already (`check`, for the cards the YAML loader read: docs/reference.md#check-rules).
    """
    try:
        editor = _editor(block, where, composed)
        for changes, remove in edits:
            editor.apply(changes, _removals(changes, remove, where))
    except CardEditError as exc:
        return exc
    return None


def _removals(
    changes: Mapping[str, Value], remove: Iterable[str], where: str | None
) -> tuple[str, ...]:
    removals = tuple(dict.fromkeys(remove))
    for name in (*changes, *removals):
        if not _KEY.match(name):
            raise CardEditError(f"`{name}` is not a field name mikado edits", path=where)
    both = sorted(k for k in changes if k in removals)
    if both:
        raise CardEditError(f"`{both[0]}` is both set and removed", path=where)
    return removals


def _editor(block: Block, where: str | None, composed: Composed | None = None) -> _BlockEditor:
    if any(mark in block.text for mark in _FOREIGN_BREAKS if mark != "\r") or re.search(
        "\r(?!\n)", block.text
    ):
        raise CardEditError(
            "front-matter holds an unusual line break (a lone CR or a Unicode line separator); "
            "edit it by hand",
            path=where,
            line=block.first_line,
        )
    return _BlockEditor(block, where, composed)


class _BlockEditor:
    def __init__(self, block: Block, where: str | None, composed: Composed | None = None):
        self.block = block
        self.where = where
        pieces = block.text.split("\n")
        self.lines = [
            _Line(p[:-1], "\r\n") if p.endswith("\r") else _Line(p, "\n") for p in pieces[:-1]
        ]
        self.eol = "\r\n" if block.crlf else "\n"
        self.indent = ""
        # Each key written more than once, and the index of the line that repeats it.
        self.duplicates: dict[str, int] = {}
        if composed is None:
            try:
                composed = compose(block)
            except FrontMatterError as exc:
                raise CardEditError(exc.message, path=where, line=exc.line) from None
        if composed.merge is not None:
            # Building the values spliced the merged pairs into the node tree, which would
            # then place fields on other fields' lines.
            raise self.fail(
                "a merge key `<<` in the front-matter: mikado cannot tell which lines hold the "
                "merged fields; write them out as `field: value` lines",
                composed.merge.start_mark.line,
            )
        self.meta = composed.meta
        self.fields = self._fields(composed.root)

    def fail(self, message: str, index: int | None = None) -> CardEditError:
        line = self.block.first_line + index if index is not None else self.block.first_line
        return CardEditError(message, path=self.where, line=line)

    # -- locating fields --------------------------------------------------------------------

    def _fields(self, root: yaml.Node | None) -> dict[str, _Field]:
        if root is None:
            return {}
        if not isinstance(root, yaml.MappingNode) or root.flow_style:
            raise self.fail(
                "front-matter is written as one flow mapping ({...}); "
                "write one `field: value` per line so mikado can edit it"
            )
        pairs = root.value
        indent = pairs[0][0].start_mark.column if pairs else 0
        starts = [key.start_mark.line for key, _ in pairs]
        fields: dict[str, _Field] = {}
        seen: set[str] = set()
        for number, (key, value) in enumerate(pairs):
            start = key.start_mark.line
            if not isinstance(key, yaml.ScalarNode) or key.start_mark.column != indent:
                raise self.fail("a complex key in the front-matter; edit it by hand", start)
            name = str(key.value)
            if name in seen:
                # The last one wins in YAML, but rewriting either would surprise someone.
                fields.pop(name, None)
                self.duplicates.setdefault(name, start)
                continue
            seen.add(name)
            end = starts[number + 1] if number + 1 < len(pairs) else len(self.lines)
            while end - 1 > start and self._is_filler(self.lines[end - 1].text, indent):
                end -= 1
            fields[name] = _Field(name, key, value, start, end)
        self.indent = " " * indent
        return fields

    @staticmethod
    def _is_filler(text: str, indent: int) -> bool:
        stripped = text.strip()
        return not stripped or (
            stripped.startswith("#") and len(text) - len(text.lstrip()) <= indent
        )

    def _item_prefix(self) -> str:
        """How this card writes list items (``"  - "``, ``"- "``), from its first block list."""
        for item in self.fields.values():
            value = item.value
            if isinstance(value, yaml.SequenceNode) and not value.flow_style and value.value:
                first = value.value[0]
                text: str = self.lines[first.start_mark.line].text[: first.start_mark.column]
                if _ITEM_PREFIX.match(text):
                    return text
        return self.indent + _DEFAULT_ITEM_PREFIX

    # -- applying --------------------------------------------------------------------------

    def apply(self, changes: Mapping[str, Value], removals: Sequence[str]) -> str:
        for name in (*changes, *removals):
            if name in self.duplicates:
                raise self.fail(
                    f"`{name}` appears more than once in the front-matter; keep one",
                    self.duplicates[name],
                )
        edits: list[_Change] = []
        appended: list[_Line] = []
        for name, value in changes.items():
            value = _checked(name, value)
            existing = self.fields.get(name)
            if existing is None:
                appended.extend(self._new_field(name, value))
            elif not _same(self.meta.get(name), value):
                self._check_anchors(existing)
                edits.append(self._replace(existing, value))
        for name in removals:
            existing = self.fields.get(name)
            if existing is not None:
                self._check_anchors(existing)
                edits.append(_Change(existing.start, existing.end, []))
        if not edits and not appended:
            return self.block.text

        lines = list(self.lines)
        if appended:
            at = max((f.end for f in self.fields.values()), default=len(lines))
            edits.append(_Change(at, at, appended))
        for change in sorted(edits, key=lambda c: (c.start, c.end), reverse=True):
            lines[change.start : change.end] = change.lines
        text = "".join(line.text + line.eol for line in lines)
        self._verify(text, changes, removals)
        return text

    def _check_anchors(self, field: _Field) -> None:
        """Refuse to rewrite a field that holds an anchor another field's alias uses: the alias
        would lose what it refers to (or silently change with the field)."""
        mine = [node for node in _walk(field.value) if self._defined_in(node, field)]
        if not mine:
            return
        used = {id(node) for other in self.fields.values() if other is not field
                for node in _walk(other.value)}  # fmt: skip
        for node in mine:
            if id(node) in used:
                found = _ANCHOR.match(self.block.text, node.start_mark.index)
                anchor = f"`&{found.group(1)}` " if found else ""
                raise self.fail(
                    f"`{field.name}` holds the anchor {anchor}that another field's alias uses; "
                    "mikado rewrites this field, so write the value out in both places",
                    node.start_mark.line,
                )

    @staticmethod
    def _defined_in(node: yaml.Node, field: _Field) -> bool:
        # An aliased node is one object with the marks of its anchor, wherever it is used.
        return field.key.end_mark.index <= node.start_mark.index and (
            node.start_mark.line < field.end
        )

    def _verify(self, text: str, changes: Mapping[str, Value], removals: Sequence[str]) -> None:
        block = Block(text, self.block.first_line, 0, 0, self.block.bom, self.block.crlf)
        try:
            meta = parse_block(block)
        except FrontMatterError as exc:
            raise self.fail(f"the edit would break the front-matter ({exc.message})") from None
        for name, value in changes.items():
            if name not in meta or not _same(meta[name], value):
                raise self.fail(f"`{name}` would not read back as written; edit it by hand")
        untouched = {k: v for k, v in self.meta.items() if k not in changes and k not in removals}
        after = {k: v for k, v in meta.items() if k not in changes}
        if after != untouched:
            raise self.fail("the edit would change other fields; edit the card by hand")

    def _new_field(self, name: str, value: Value) -> list[_Line]:
        head = f"{self.indent}{name}:"
        if isinstance(value, list) and value:
            prefix = self._item_prefix()
            return [_Line(head, self.eol)] + [
                _Line(prefix + _render_item(item, None, prefix), self.eol) for item in value
            ]
        return [_Line(f"{head} {_render_inline(value, None)}", self.eol)]

    def _replace(self, field: _Field, value: Value) -> _Change:
        key, node = field.key, field.value
        key_line = self.lines[field.start]
        if key.end_mark.line != field.start:
            raise self.fail(f"the key `{field.name}` spans lines; edit it by hand", field.start)
        colon = key_line.text.find(":", key.end_mark.column)
        if colon < 0 or key_line.text[key.end_mark.column : colon].strip():
            raise self.fail(f"cannot find the `:` after `{field.name}`", field.start)

        if not self._defined_in(node, field):
            # `key: *name`: the node carries the marks of its anchor, in another field, so they
            # say nothing of this one. Rewrite it whole, keeping a comment after the alias.
            self._refuse_comments(field, None)
            rest = key_line.text[colon + 1 :]
            alias = _ALIAS_REST.match(rest)
            if alias is not None:
                trailing = alias.group(1) or ""
            else:
                trailing = rest if rest.strip().startswith("#") else ""
            return self._rewrite(field, value, colon, trailing=trailing)
        one_line = node.start_mark.line == field.start and node.end_mark.line == field.start
        empty = isinstance(node, yaml.ScalarNode) and node.start_mark.index == node.end_mark.index
        if one_line and isinstance(node, yaml.ScalarNode) and not isinstance(value, list):
            style = node.style if node.style in ("'", '"') else None
            rendered = _render_inline(value, style)
            text = key_line.text
            if empty:
                new_text = f"{text[: colon + 1]} {rendered}{text[colon + 1 :]}"
            else:
                new_text = text[: node.start_mark.column] + rendered + text[node.end_mark.column :]
            return _Change(field.start, field.start + 1, [_Line(new_text, key_line.eol)])
        if one_line and isinstance(node, yaml.SequenceNode) and node.flow_style:
            rendered = _render_inline(value, None)
            text = key_line.text
            new_text = text[: node.start_mark.column] + rendered + text[node.end_mark.column :]
            return _Change(field.start, field.start + 1, [_Line(new_text, key_line.eol)])
        if isinstance(node, yaml.SequenceNode) and not node.flow_style:
            change = self._merge_items(field, node, value, colon)
            if change is not None:
                return change
        if not one_line:
            self._refuse_comments(field, node)
        # Rewrite the whole field, keeping a comment that sat alone on the key line.
        trailing = ""
        if node.start_mark.line != field.start or empty:
            rest = key_line.text[colon + 1 :]
            if rest.strip().startswith("#"):
                trailing = rest
        flow = isinstance(node, yaml.SequenceNode | yaml.MappingNode) and node.flow_style
        return self._rewrite(field, value, colon, trailing=trailing, flow=bool(flow))

    def _rewrite(
        self, field: _Field, value: Value, colon: int, *, trailing: str, flow: bool = False
    ) -> _Change:
        """The field written anew from its key: ``key: value``, or a block list."""
        key_line = self.lines[field.start]
        head = key_line.text[: colon + 1]
        if isinstance(value, list) and value and not flow:
            prefix = self._item_prefix()
            items = [_Line(prefix + _render_item(i, None, prefix), self.eol) for i in value]
            return _Change(field.start, field.end, [_Line(head + trailing, key_line.eol), *items])
        rendered = _render_inline(value, None)
        return _Change(
            field.start, field.end, [_Line(f"{head} {rendered}{trailing}", key_line.eol)]
        )

    def _refuse_comments(self, field: _Field, node: yaml.Node | None) -> None:
        # Rewriting a field whole would drop comments between its lines.
        if _has_comment(self.lines[field.start + 1 : field.end], node):
            raise self.fail(
                f"`{field.name}` spans several lines with comments in them; edit it by hand",
                field.start,
            )

    def _merge_items(
        self, field: _Field, node: yaml.SequenceNode, value: Value, colon: int
    ) -> _Change | None:
        """Edit a block list item by item: kept items keep their lines (and the comments
        around them), removed ones lose theirs, new ones are written like the first. An
        emptied list becomes ``key: []`` (a block list cannot be empty), and a list replaced
        by a single value keeps its comments after the new ``key: value`` line."""
        item_lines: list[int] = []
        old: list[str] = []
        for item in node.value:
            line = item.start_mark.line
            if (
                not isinstance(item, yaml.ScalarNode)
                or item.end_mark.line != line
                or not _ITEM_PREFIX.match(self.lines[line].text[: item.start_mark.column])
                or (item_lines and item_lines[-1] == line)
            ):
                return None
            item_lines.append(line)
            old.append(str(item.value) if item.tag.endswith(":str") else "\0")
        prefix = self.lines[item_lines[0]].text[: node.value[0].start_mark.column]
        eol = self.lines[item_lines[0]].eol

        def new_line(text: str) -> _Line:
            return _Line(prefix + _render_item(text, None, prefix), eol)

        # Lines between items (comments, blanks) travel with the item they precede.
        before: list[list[_Line]] = []
        cursor = field.start + 1
        for line in item_lines:
            before.append(self.lines[cursor:line])
            cursor = line + 1
        tail = self.lines[cursor : field.end]

        key_line = self.lines[field.start]
        if not isinstance(value, list) or not value:
            text = key_line.text
            rendered = _render_inline(value, None) if isinstance(value, str | date) else "[]"
            key_line = _Line(f"{text[: colon + 1]} {rendered}{text[colon + 1 :]}", key_line.eol)
            value = []
        out: list[_Line] = [key_line]
        matcher = difflib.SequenceMatcher(None, old, value, autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op == "insert":
                out.extend(new_line(v) for v in value[j1:j2])
                continue
            for i in range(i1, i2):
                out.extend(before[i])
                if op == "equal":
                    out.append(self.lines[item_lines[i]])
            if op == "replace":
                out.extend(new_line(v) for v in value[j1:j2])
        out.extend(tail)
        return _Change(field.start, field.end, out)


def _has_comment(lines: Sequence[_Line], node: yaml.Node | None) -> bool:
    # Inside a block scalar a `#` is text, not a comment, and goes with the value.
    if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
        return False
    return any("#" in line.text for line in lines)


def _walk(node: yaml.Node) -> list[yaml.Node]:
    """``node`` and every node inside it, each once (aliases make a graph, not a tree)."""
    found: dict[int, yaml.Node] = {}
    stack = [node]
    while stack:
        item = stack.pop()
        if id(item) in found:
            continue
        found[id(item)] = item
        if isinstance(item, yaml.SequenceNode):
            stack.extend(item.value)
        elif isinstance(item, yaml.MappingNode):
            for key, value in item.value:
                stack.extend((key, value))
    return list(found.values())


def _checked(name: str, value: object) -> Value:
    if isinstance(value, datetime):
        raise CardEditError(f"`{name}`: a card stores a day (YYYY-MM-DD), not a timestamp")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        _encodable(name, value)
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        for item in value:
            _encodable(name, item)
        return list(value)
    raise CardEditError(f"`{name}`: mikado writes strings, dates and lists of strings only")


def _encodable(name: str, text: str) -> None:
    # Undecodable command-line bytes arrive as lone surrogates, which UTF-8 cannot hold.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise CardEditError(
            f"`{name}` holds text that is not valid UTF-8 (undecodable bytes?)"
        ) from None


def _same(current: Any, wanted: Value) -> bool:
    """Whether a parsed value already means ``wanted`` (a day written as a string counts)."""
    if isinstance(wanted, date):
        if isinstance(current, datetime):
            return False
        if isinstance(current, date):
            return current == wanted
        return bool(current == wanted.isoformat())
    if isinstance(wanted, list):
        return isinstance(current, list) and current == wanted
    return isinstance(current, str) and current == wanted


def _loads(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)
    except _LOAD_ERRORS:
        return None


def _scalar_candidates(value: str, style: str | None) -> list[str]:
    double = json.dumps(value, ensure_ascii=False)
    single = "'" + value.replace("'", "''") + "'"
    ordered = {"'": [single, value, double], '"': [double, value, single]}.get(
        style or "", [value, single, double]
    )
    return [c for c in ordered if "\n" not in c and "\r" not in c]


def _render_inline(value: Value, style: str | None) -> str:
    """A value as it follows ``key: `` on one line, in ``style`` when that reads back right."""
    if isinstance(value, date):
        text = value.isoformat()
        return f"{style}{text}{style}" if style else text
    if isinstance(value, list):
        items: list[str] = []
        for item in value:
            for candidate in _scalar_candidates(item, None):
                if _loads(f"k: [{candidate}]") == {"k": [item]}:
                    items.append(candidate)
                    break
        rendered = "[" + ", ".join(items) + "]"
        if len(items) != len(value) or _loads(f"k: {rendered}") != {"k": value}:
            return json.dumps(value, ensure_ascii=False)
        return rendered
    for candidate in _scalar_candidates(value, style):
        if _loads(f"k: {candidate}") == {"k": value}:
            return candidate
    return json.dumps(value, ensure_ascii=False)


def _render_item(value: str, style: str | None, prefix: str) -> str:
    for candidate in _scalar_candidates(value, style):
        if _loads(f"k:\n{prefix}{candidate}\n") == {"k": [value]}:
            return candidate
    return json.dumps(value, ensure_ascii=False)


def append_to_body(path: Path, lines: Sequence[str]) -> None:
    """Append ``lines`` at the end of the card's body, in the file's line-ending style.

    A list item continues a list the body ends with; anything else starts a new paragraph.
    Every existing byte stays; the write is atomic like :func:`edit_card`.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CardEditError(f"cannot read: {exc.strerror}", path=str(path)) from None
    write_atomic(path, appended(data, lines))


def appended(data: bytes, lines: Sequence[str]) -> bytes:
    eol = b"\r\n" if b"\r\n" in data[: data.find(b"\n") + 1 or len(data)] else b"\n"
    text = b""
    if data and not data.endswith(b"\n"):
        text += eol
    last = (data.rstrip(b"\r\n").rsplit(b"\n", 1)[-1]).strip()
    continues_list = last.startswith((b"- ", b"* ")) and lines and lines[0].startswith("- ")
    ends_blank = data.endswith((b"\n\n", b"\n\r\n"))
    if data.strip() and not continues_list and not ends_blank:
        text += eol
    text += eol.join(line.encode("utf-8") for line in lines) + eol
    return data + text
