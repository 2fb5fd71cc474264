"""A JSON file that is also a Jinja template (an Ansible role's ``config.json.j2``): edited in
place, and rendered the way Ansible's ``template`` module renders it.

The text is read as JSON in which Jinja may appear: ``{{ … }}`` inside a string or as a bare
value, and ``{% … %}`` block tags and ``{# … #}`` comments between JSON tokens. Block tags are
opaque, so a loop's body is read once, as written; around them the comma rules relax (a loop
writes its commas with ``{% if not loop.last %},{% endif %}``). Reading only learns where each
object's members sit. An edit splices new text into that one place and reads the result back,
so comments, Jinja, blank lines, key order and indentation everywhere else stay byte-identical.
Whether Jinja still makes valid JSON of the edited file is for :func:`render_json` to say.

This module holds the edit itself (:func:`set_member`). The parts live beside it: the parsed
form (``_jinja_json_model``), the parser (``_jinja_json_parse``), writing values and checking
an edit (``_jinja_json_write``) and rendering as Ansible does (``_jinja_json_render``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mikado.edit._jinja_json_model import JinjaJson, Kind, Member, Node, Span, _where
from mikado.edit._jinja_json_parse import parse
from mikado.edit._jinja_json_render import (
    ANSIBLE_FILTERS,
    ansible_environment,
    compile_template,
    render,
    render_json,
    run_template,
    template_line,
    undefined_name,
)
from mikado.edit._jinja_json_write import _check, _insert, _reads_as, _Writer
from mikado.errors import ConfigError

__all__ = [
    "ANSIBLE_FILTERS",
    "JinjaJson",
    "Kind",
    "Member",
    "Node",
    "Span",
    "ansible_environment",
    "compile_template",
    "parse",
    "render",
    "render_json",
    "run_template",
    "set_member",
    "set_members",
    "template_line",
    "undefined_name",
]


def set_member(
    text: str, at: Sequence[str], key: str, value: object, *, path: str | None = None
) -> str:
    """Set ``key`` of the object at ``at`` to ``value`` (JSON data: dicts, lists, str, int,
    float, bool, None; strings may hold Jinja); returns the new text.

    An existing key's value is replaced (left alone when it already reads as ``value``); a new
    key is appended after the object's last member, at its siblings' indentation. Values are
    written in the file's style: objects one member per line, arrays of scalars on one line,
    other arrays one element per line; inside a one-line object, everything on one line.
    """
    doc = parse(text, path=path)
    obj = doc.object_at(at)
    where = _where(at)
    found = [member for member in obj.members if member.key == key]
    newline = "\r\n" if "\r\n" in text else "\n"
    unit = doc.indent_unit()
    inline = doc.line(obj.start) == doc.line(obj.end - 1)
    if len(found) > 1:
        lines = ", ".join(str(member.line) for member in found)
        raise ConfigError(
            f"key `{key}` appears {len(found)} times in the object at {where} (lines {lines}); "
            "mikado cannot tell which one to set",
            path=path,
            line=found[1].line,
        )
    if found:
        member = found[0]
        blocks = doc.blocks_in(member.value_start, member.value_end)
        if blocks:
            raise ConfigError(
                f"the value of `{key}` in the object at {where} holds Jinja block tags "
                f"(`{_tag(text, blocks[0])}` at line {doc.line(blocks[0][0])}): mikado does not "
                "replace what a template generates; edit it by hand",
                path=path,
                line=member.line,
            )
        if member.value is not None and _reads_as(doc, member.value, value):
            return text
        rendered = _Writer(unit, newline, path).value(value, doc.prefix(member.key_start), inline)
        new = text[: member.value_start] + rendered + text[member.value_end :]
    else:
        if obj.generated:
            block = next(
                span
                for span in doc.blocks_in(obj.start, obj.end)
                if not any(m.value_start <= span[0] < m.value_end for m in obj.members)
            )
            raise ConfigError(
                f"the object at {where} is made by Jinja block tags "
                f"(`{_tag(text, block)}` at line {doc.line(block[0])}): a member inserted "
                "there would repeat or vanish with them; edit it by hand",
                path=path,
                line=obj.line,
            )
        new = _insert(doc, obj, key, value, _Writer(unit, newline, path), inline)
    _check(new, at, key, value, path)
    return new


def set_members(
    text: str, at: Sequence[str], members: Mapping[str, object], *, path: str | None = None
) -> str:
    """:func:`set_member` for each of ``members`` in order (new keys keep that order)."""
    for key, value in members.items():
        text = set_member(text, at, key, value, path=path)
    return text


def _tag(text: str, span: Span) -> str:
    tag = " ".join(text[span[0] : span[1]].split())
    return tag if len(tag) <= 60 else tag[:57] + "…"
