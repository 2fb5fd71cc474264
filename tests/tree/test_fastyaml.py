"""The simple front-matter parser against the YAML loader it stands in for."""

from __future__ import annotations

import datetime
from typing import Any

import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mikado.model.card import key_lines
from mikado.tree.fastyaml import parse_placed
from mikado.tree.frontmatter import Block, _Loader

SAFE_KEYS = ["title", "tags", "status", "requires", "x-y", "a_b"]
KEYS = SAFE_KEYS * 3 + ["on", "Yes", "9k", "k k", "-k"]
SAFE_VALUES = [
    "Harden the registry",
    "2024-01-02",
    "12",
    "0",
    "[a, b]",
    "[]",
    '"q"',
    "'single'",
    "a - b",
    "Trailing   ",
    "caf\u00e9",
    "a,b",
    "2024-13-45",
    "x.y-z",
    "mikado/goal",
]
TRICKY_VALUES = [
    "",
    "yes",
    "No",
    "null",
    "~",
    "2024-1-2",
    "012",
    "-3",
    "1.5",
    "1_000",
    "[a, [b]]",
    "[a, 'b c']",
    "'it''s'",
    '"a \\" b"',
    "a: b",
    "a #b",
    "a#b",
    "x # c",
    "&anchor x",
    "*ref",
    "!tag x",
    "| block",
    "> fold",
    "%p",
    "@at",
    "`tick",
    "\u00e9 accents",
    "tab\there",
    "[a,]",
    "nbsp\u00a0here",
    "line\u2028sep",
    "{a: b}",
    "- item",
    "? q",
    "True",
    "OFF",
    "[a, yes]",
]
VALUES = SAFE_VALUES * 4 + TRICKY_VALUES
ITEM_INDENTS = ["", "  ", "    ", " "]


def parse_simple(text: str) -> dict[str, Any] | None:
    """The mapping the fast parser reads from ``text``, or None where it is not sure."""
    placed = parse_placed(text)
    return None if placed is None else placed[0]


@st.composite
def front_matter(draw: st.DrawFn, keys: list[str] = KEYS, values: list[str] = VALUES) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        key = draw(st.sampled_from(keys))
        kind = draw(st.integers(0, 5))
        if kind == 0:
            indent = draw(st.sampled_from(ITEM_INDENTS))
            lines.append(f"{key}:")
            for _ in range(draw(st.integers(0, 3))):
                lines.append(
                    f"{draw(st.sampled_from([indent, *ITEM_INDENTS]))}- "
                    f"{draw(st.sampled_from(values))}"
                )
        elif kind == 1:
            lines.append(draw(st.sampled_from(["", "# comment", "  # indented", "  stray", "..."])))
        else:
            spaces = draw(st.sampled_from([" ", "  ", ""]))
            lines.append(f"{key}:{spaces}{draw(st.sampled_from(values))}")
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    return ending.join(lines) + (ending if lines else "")


@settings(max_examples=1500, deadline=None)
@given(st.one_of(front_matter(), front_matter(SAFE_KEYS, SAFE_VALUES)))
@example("title: A\nmodified: 2024-01-02\ntags:\n  - a\n  - b\n")
@example("tags:\n- a\n-  b\nrequires: []\nx:\n")
def test_whatever_it_accepts_yaml_reads_the_same(text: str) -> None:
    simple = parse_simple(text)
    if simple is None:
        return
    try:
        expected = yaml.load(text, Loader=_Loader)  # a safe loader
    except yaml.YAMLError:
        raise AssertionError(f"accepted what YAML refuses: {text!r}") from None
    assert simple == (expected or {}), text
    for key, value in simple.items():
        assert type(value) is type(expected[key]), (key, text)


@settings(max_examples=1000, deadline=None)
@given(st.one_of(front_matter(), front_matter(SAFE_KEYS, SAFE_VALUES)))
@example("title: A\nrequires:\n  - a\n  - b\ntags: [x]\n")
@example("requires: [a, b]\ntitle: A\n# note\nrequires:\n- c\n")
def test_where_it_places_fields_is_where_a_textual_scan_finds_them(text: str) -> None:
    """Parsing notes each key's line and each `requires` entry's on the way; a doc read by
    the YAML loader gets them from a scan of the text (card.key_lines). Both must agree."""
    placed = parse_placed(text, 2)
    if placed is None:
        return
    block = Block(text, 2, text.count("\n") + 3, 0, bom=False, crlf="\r\n" in text)
    assert (placed[1], placed[2]) == key_lines(block), text


def test_the_usual_front_matter_takes_the_fast_path() -> None:
    text = (
        "title: Wire CI registry auth\nmodified: 2026-11-26\nstatus: active\nrequires:\n"
        "  - a-b\n  - c.d\ntags: [zot, ci]\nbranch: mikado/wire-ci\n"
    )
    assert parse_simple(text) == {
        "title": "Wire CI registry auth",
        "modified": datetime.date(2026, 11, 26),
        "status": "active",
        "requires": ["a-b", "c.d"],
        "tags": ["zot", "ci"],
        "branch": "mikado/wire-ci",
    }
    assert parse_simple("requires: abc\n") == {"requires": "abc"}
    assert parse_simple("modified: 2024-13-45\n") == {"modified": "2024-13-45"}
    for unsure in ("title: a: b\n", "on: x\n", "t: yes\n", "t: 'it''s'\n", "t: x\n  more\n"):
        assert parse_simple(unsure) is None
