"""Editing an Authentik blueprint (:mod:`mikado.edit.blueprint`) as splices of its lines: the
file's indentation measured, an entry appended or its attrs rewritten as the few lines that
change, and the lines put back together. The new text is read back by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mikado.edit._blueprint_read import (
    _compose,
    _inner_lines,
    _is_null,
    _Reader,
    _same_entry,
    _split,
)
from mikado.edit._blueprint_values import (
    Entry,
    Including,
    Value,
    Wanted,
    _holds,
    _missing,
    _plain,
)
from mikado.edit._blueprint_write import (
    _inline,
    _item_lines,
    _key_lines,
    _Style,
    _words,
)
from mikado.errors import ConfigError

if TYPE_CHECKING:
    from mikado.edit.blueprint import Blueprint


@dataclass(frozen=True, slots=True)
class _Splice:
    start: int  # inner line index
    end: int  # one past the last replaced line (== start: an insertion before `start`)
    lines: tuple[str, ...]  # without line ends


class _Editor:
    def __init__(self, blueprint: Blueprint):
        self.blueprint = blueprint
        self.region = blueprint._region
        self.lines = _split(blueprint.text)
        self.inner = _inner_lines(self.lines, self.region)
        self.reader = _Reader(self.inner, blueprint.path, self.region)
        self.root = _compose("".join(self.inner), blueprint.path, self.region)
        self.entries_node = self.reader.entries_node(self.root, blueprint.data_key)
        self.style = self._style()

    def fail(self, message: str, line: int | None = None) -> ConfigError:
        where = self.region.first + line + 1 if line is not None else None
        return ConfigError(message, path=self.blueprint.path, line=where)

    # measuring -----------------------------------------------------------------------------

    def _style(self) -> _Style:
        step = offset = item = None
        for node, key in self._walk(self.root):
            column = key.start_mark.column
            if isinstance(node, MappingNode) and not node.flow_style and node.value:
                step = step or node.value[0][0].start_mark.column - column
            if isinstance(node, SequenceNode) and not node.flow_style and node.value:
                offset = offset if offset is not None else node.start_mark.column - column
                first = node.value[0]
                item = item or first.start_mark.column - node.start_mark.column
        return _Style(step or 2, 2 if offset is None else offset, item or 2)

    def _walk(self, node: Node | None) -> Iterable[tuple[Node, Node]]:
        """(value, its key) for every block mapping pair below ``node``."""
        if isinstance(node, MappingNode):
            for key, value in node.value:
                yield value, key
                yield from self._walk(value)
        elif isinstance(node, SequenceNode):
            for item in node.value:
                yield from self._walk(item)

    def last_line(self, node: Node) -> int:
        """The last line holding any of ``node``'s text (end marks of block collections run on
        past the blank lines and comments after them)."""
        if isinstance(node, MappingNode) and not node.flow_style and node.value:
            key, value = node.value[-1]
            return int(key.start_mark.line) if _is_null(value) else self.last_line(value)
        if isinstance(node, SequenceNode) and not node.flow_style and node.value:
            return self.last_line(node.value[-1])
        end = node.end_mark
        line = int(end.line if end.column > 0 else end.line - 1)
        while line > node.start_mark.line and not self.inner[line].strip():
            line -= 1
        return max(line, int(node.start_mark.line))

    def comments_in(self, nodes: Iterable[Node], start: int, end: int) -> int | None:
        """The first line in [start, end) holding a comment outside the scalars of ``nodes``."""
        covered: dict[int, list[tuple[int, int]]] = {}
        for inner in (scalar for node in nodes for scalar in self._scalars(node)):
            s, e = inner.start_mark, inner.end_mark
            for line in range(s.line, e.line + 1):
                left = s.column if line == s.line else 0
                right = e.column if line == e.line else 1 << 30
                covered.setdefault(line, []).append((left, right))
        for line in range(start, end):
            text = self.inner[line]
            for match in re.finditer("#", text):
                col = match.start()
                if (col == 0 or text[col - 1] in " \t") and not any(
                    a <= col < b for a, b in covered.get(line, [])
                ):
                    return line
        return None

    def _scalars(self, node: Node) -> Iterable[Node]:
        if isinstance(node, ScalarNode) or getattr(node, "flow_style", False):
            yield node
        elif isinstance(node, MappingNode):
            for key, value in node.value:
                yield key
                yield from self._scalars(value)
        elif isinstance(node, SequenceNode):
            for item in node.value:
                yield from self._scalars(item)

    # planning ------------------------------------------------------------------------------

    def plan(
        self,
        model: str,
        identifiers: Mapping[str, Value],
        attrs: Mapping[str, Wanted],
        comment: str,
        entry_id: str | None,
    ) -> tuple[list[_Splice], list[str], str | None]:
        entries = self.blueprint.entries
        matches = [i for i, e in enumerate(entries) if _same_entry(e, model, identifiers)]
        if len(matches) > 1:
            lines = ", ".join(str(entries[i].line) for i in matches)
            raise self.fail(f"{model} {_words(identifiers)} has several entries (lines {lines})")
        index = matches[0] if matches else None
        if entry_id is not None:
            for number, other in enumerate(entries):
                if other.id == entry_id and number != index:
                    raise ConfigError(
                        f"id `{entry_id}` is taken by the {other.model} entry",
                        path=self.blueprint.path,
                        line=other.line,
                    )
        if index is None:
            return (
                self._append(model, identifiers, attrs, comment, entry_id),
                [f"appended {model} {_words(identifiers)}"],
                entry_id,
            )
        assert self.entries_node is not None
        return self._update(entries[index], self.entries_node.value[index], attrs, entry_id)

    def _append(
        self,
        model: str,
        identifiers: Mapping[str, Value],
        attrs: Mapping[str, Wanted],
        comment: str,
        entry_id: str | None,
    ) -> list[_Splice]:
        style = self.style
        node = self.entries_node
        splices: list[_Splice] = []
        lead: tuple[str, ...] = ()
        if node is not None and node.value and not node.flow_style:
            dash = node.start_mark.column
            content = node.value[0].start_mark.column
            at = self.last_line(node) + 1
            lead = ("",)  # a blank line between entries, as the seed writes them
        else:
            column, at, splices = self._open_entries()
            dash = column + style.list_offset
            content = dash + style.item_offset
        pad = " " * dash
        body: dict[str, Value] = {"model": model}
        if entry_id is not None:
            body["id"] = entry_id
        body["identifiers"] = dict(identifiers)
        body["attrs"] = {k: _plain(v) for k, v in attrs.items()}
        lines: list[str] = []
        for name, value in body.items():
            lines += _key_lines(name, value, content, style)
        lines[0] = pad + "-" + " " * (content - dash - 1) + lines[0][content:]
        splices.append(_Splice(at, at, (*lead, f"{pad}# {comment.strip()}", *lines)))
        return splices

    def _open_entries(self) -> tuple[int, int, list[_Splice]]:
        """For a blueprint without entries: the column of `entries`, the line its first item
        goes before, and the splices that make way for it (`entries: []` loses its brackets,
        a missing `entries:` is added after the last line)."""
        root = self.root
        assert isinstance(root, MappingNode)
        pair = next(((k, v) for k, v in root.value if k.value == "entries"), None)
        if pair is None:
            column = root.value[0][0].start_mark.column if root.value else 0
            at = self.last_line(root) + 1
            return column, at, [_Splice(at, at, (" " * column + "entries:",))]
        key, value = pair
        line = key.start_mark.line
        if _is_null(value):
            return key.start_mark.column, line + 1, []
        if value.start_mark.line != line or value.end_mark.line != line:
            raise self.fail("write the empty `entries` as `entries: []`", line)
        text = self.inner[line].rstrip("\n")
        kept = text[: value.start_mark.column].rstrip() + text[value.end_mark.column :]
        return key.start_mark.column, line + 1, [_Splice(line, line + 1, (kept,))]

    def _update(
        self, entry: Entry, node: Node, attrs: Mapping[str, Wanted], entry_id: str | None
    ) -> tuple[list[_Splice], list[str], str | None]:
        what = f"{entry.model} {_words(entry.identifiers)}"
        if entry.state == "absent":
            raise ConfigError(
                f"the entry of {what} says `state: absent`; remove that line by hand first",
                path=self.blueprint.path,
                line=entry.line,
            )
        assert isinstance(node, MappingNode)
        fields = {str(k.value): (k, v) for k, v in node.value}
        splices: list[_Splice] = []
        changes: list[str] = []
        if entry_id is not None and entry.id != entry_id:
            if entry.id is not None:
                raise ConfigError(
                    f"the entry of {what} has id `{entry.id}`, not `{entry_id}`; other entries "
                    "may name it with !KeyOf, so change it by hand",
                    path=self.blueprint.path,
                    line=entry.line,
                )
            model_key = fields["model"][0]
            line = self.last_line(fields["model"][1]) + 1
            splices.append(
                _Splice(
                    line,
                    line,
                    tuple(_key_lines("id", entry_id, model_key.start_mark.column, self.style)),
                )
            )
            changes.append(f"{what}: id {entry_id}")
        wanted = {k: v for k, v in attrs.items() if not _holds(entry.attrs, k, v)}
        if not wanted:
            return splices, changes, entry_id if entry_id is not None else entry.id
        attrs_pair = fields.get("attrs")
        if attrs_pair is None or _is_null(attrs_pair[1]):
            block: dict[str, Value] = {k: _plain(v) for k, v in wanted.items()}
            changes += [f"{what}: {k} added" for k in wanted]
            if attrs_pair is not None:  # `attrs:` with nothing after it
                splices.append(self._replace(attrs_pair, block, what))
            else:
                line = self.last_line(node) + 1
                column = node.value[0][0].start_mark.column
                splices.append(
                    _Splice(line, line, tuple(_key_lines("attrs", block, column, self.style)))
                )
            return splices, changes, entry_id if entry_id is not None else entry.id
        attrs_node = attrs_pair[1]
        if not isinstance(attrs_node, MappingNode) or attrs_node.flow_style:
            raise self.fail(
                f"the attrs of {what} are one flow mapping ({{...}}); write them as a block",
                attrs_node.start_mark.line,
            )
        present = {str(k.value): (k, v) for k, v in attrs_node.value}
        column = attrs_node.value[0][0].start_mark.column if attrs_node.value else 0
        appended: list[str] = []
        for name, want in wanted.items():
            pair = present.get(name)
            if pair is None:
                appended += _key_lines(name, _plain(want), column, self.style)
                changes.append(f"{what}: {name} added")
            elif isinstance(want, Including):
                splices.append(self._include(entry.attrs[name], pair, want, what))
                changes.append(f"{what}: {name} gains {len(_missing(entry.attrs[name], want))}")
            else:
                splices.append(self._replace(pair, want, what))
                changes.append(f"{what}: {name} changed")
        if appended:
            line = self.last_line(attrs_node) + 1
            splices.append(_Splice(line, line, tuple(appended)))
        return splices, changes, entry_id if entry_id is not None else entry.id

    def _replace(self, pair: tuple[Node, Node], want: Value, what: str) -> _Splice:
        key, value = pair
        line = key.start_mark.line
        # A list written in flow style (`[a, b]`) stays in flow style.
        inline = _inline(want, flow=isinstance(value, SequenceNode) and bool(value.flow_style))
        text = self.inner[line].rstrip("\n")
        one_line = value.start_mark.line == line and self.last_line(value) == line
        if inline is not None and one_line and not _is_null(value):
            # Only the value's own characters: a comment after it stays.
            new = text[: value.start_mark.column] + inline + text[value.end_mark.column :]
            return _Splice(line, line + 1, (new,))
        end = self.last_line(value) + 1 if not _is_null(value) else line + 1
        comment = self.comments_in((key, value), line, end)
        if comment is not None or text[: key.start_mark.column].strip():
            raise self.fail(
                f"{what}: `{key.value}` would lose a comment or its layout if rewritten; "
                "change it by hand",
                comment if comment is not None else line,
            )
        return _Splice(
            line, end, tuple(_key_lines(str(key.value), want, key.start_mark.column, self.style))
        )

    def _include(
        self, current: Value, pair: tuple[Node, Node], want: Including, what: str
    ) -> _Splice:
        key, value = pair
        if not isinstance(current, list):
            raise self.fail(f"{what}: `{key.value}` is not a list", key.start_mark.line)
        missing = _missing(current, want)
        if isinstance(value, SequenceNode) and not value.flow_style and value.value:
            dash = value.start_mark.column
            offset = value.value[0].start_mark.column - dash
            style = _Style(self.style.step, self.style.list_offset, offset)
            line = self.last_line(value) + 1
            return _Splice(line, line, tuple(_item_lines(missing, dash, style)))
        texts = [_inline(item, flow=True) for item in missing]
        line = value.start_mark.line
        if isinstance(value, SequenceNode) and self.last_line(value) == line and None not in texts:
            # `[a, b]` on one line: the new items go before the bracket, the others stay as
            # they are written.
            text = self.inner[line].rstrip("\n")
            if value.value:
                at = value.value[-1].end_mark.column
                new = text[:at] + "".join(f", {t}" for t in texts) + text[at:]
            else:
                at = value.end_mark.column - 1
                new = text[:at] + ", ".join(str(t) for t in texts) + text[at:]
            return _Splice(line, line + 1, (new,))
        return self._replace(pair, [*current, *missing], what)

    # rebuilding ----------------------------------------------------------------------------

    def rebuilt(self, splices: list[_Splice]) -> str:
        """The file's text with ``splices`` made: the file's own lines where nothing changed,
        the new ones indented as the region is."""
        first, lines = self.region.first, self.lines
        ended_with_break = not self.inner or self.inner[-1].endswith("\n")
        region: list[str] = []
        position = 0
        for splice in sorted(splices, key=lambda s: (s.start, s.end)):
            if splice.start < position:
                raise self.fail("overlapping edits (a bug in mikado); edit by hand", splice.start)
            region += lines[first + position : first + splice.start]
            region += [self.region.indent + t + "\n" if t.strip() else "\n" for t in splice.lines]
            position = splice.end
        region += lines[first + position : self.region.end]
        file_lines = [line if line.endswith("\n") else line + "\n" for line in region]
        if (
            not ended_with_break and file_lines
        ):  # the file ended without a line break: so it still does
            file_lines[-1] = file_lines[-1].removesuffix("\n")
        return "".join([*lines[:first], *file_lines, *lines[self.region.end :]])
