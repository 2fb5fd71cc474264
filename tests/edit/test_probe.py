"""`check` asks the editor itself whether the engine could edit a card, but only for the cards the
YAML loader read: the fast path's shapes must all be ones the editor can change. These tests hold
that, so that a tree which passes `check` never stops a run half-way at a card."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from mikado.edit.probe import engine_edit, engine_refusal
from mikado.model.card import EDITED_FIELDS
from mikado.tree.fastyaml import parse_placed
from mikado.tree.frontmatter import Block, split_bytes

KEYS = ["title", "modified", "tags", "status", "requires", "branch", "note"]
VALUES = [
    "Harden the registry",
    "2024-01-02",
    "12",
    "[a, b]",
    "[]",
    '"q"',
    "'single'",
    "active",
    "running",
    "mikado/goal",
    "a - b",
    "caf\u00e9",
    "# c",
    "x # c",
]
FILLER = ["", "# comment", "  # indented", "    # deeper", "  ", "# a\u2028b: c", "# a\rb"]
INDENTS = ["", "  ", "    ", " "]


@st.composite
def fast_front_matter(draw: st.DrawFn) -> str:
    lines: list[str] = []
    for _ in range(draw(st.integers(0, 7))):
        key = draw(st.sampled_from(KEYS))
        kind = draw(st.integers(0, 4))
        if kind == 0:
            indent = draw(st.sampled_from(INDENTS))
            lines.append(f"{key}:")
            for _ in range(draw(st.integers(0, 3))):
                if draw(st.booleans()):
                    lines.append(draw(st.sampled_from(FILLER)))
                lines.append(f"{indent}- {draw(st.sampled_from(VALUES))}")
        elif kind == 1:
            lines.append(draw(st.sampled_from(FILLER)))
        else:
            lines.append(f"{key}: {draw(st.sampled_from(VALUES))}")
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    return ending.join(lines) + (ending if lines else "")


def block_of(text: str) -> Block:
    block = split_bytes(("---\n" + text + "---\n").encode())
    assert block is not None
    return block


@settings(max_examples=1500, deadline=None)
@given(fast_front_matter())
@example("status:\n  # why\ntitle: T\n")
@example("status: active\n# YAML breaks the line here\u2028note: x\n")
@example("requires:\n  - a\n  # between\n  - b\nstatus: active\n")
@example("status: active\nrequires:\n# column 0\n- a\n")
def test_every_card_the_fast_path_reads_is_one_the_engine_can_edit(text: str) -> None:
    parsed = parse_placed(text, 2)
    if parsed is None:
        return
    meta, _, _, repeated = parsed
    if any(key in EDITED_FIELDS for key, _ in repeated):
        return  # `field-duplicate`, reported instead
    refused = engine_refusal(block_of(text), meta)
    assert refused is None, (text, refused)


def test_the_probe_changes_every_line_the_engine_edits() -> None:
    changes, removed = engine_edit({"status": "running", "modified": "2000-01-01"})
    assert changes["status"] == "failed" and str(changes["modified"]) == "2000-01-02"
    assert changes["requires"] == ["mikado-discovered"] and removed == ("branch",)
    changes, _ = engine_edit({"requires": ["mikado-discovered", "a"]})
    assert changes["requires"] == ["mikado-discovered", "a", "mikado-discovered-"]
    assert "requires" not in engine_edit({"requires": "a string"})[0]


def test_a_block_the_loader_read_is_judged_without_reading_it_again() -> None:
    from mikado.tree.frontmatter import compose

    block = block_of("title: T\nstatus: &s active\nphase: *s\n")
    composed = compose(block)
    refused = engine_refusal(block, composed.meta, composed)
    assert refused is not None and refused.line == 3 and "anchor `&s`" in refused.message
