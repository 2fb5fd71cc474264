from __future__ import annotations

from datetime import date

import pytest

from mikado.model.card import build_card
from mikado.tree.frontmatter import parse_block, parse_block_placed, split_bytes


def card_of(text: str, required: tuple[str, ...] = ("title", "modified", "tags")):  # type: ignore[no-untyped-def]
    block = split_bytes(text.encode())
    assert block is not None
    return build_card("c", "x/c.md", parse_block(block), block, required=required)


def rules(findings) -> list[tuple[str, str | None, int | None]]:  # type: ignore[no-untyped-def]
    return [(f.rule, f.target, f.line) for f in findings]


def test_a_valid_card() -> None:
    card, findings = card_of(
        "---\ntitle: T\nmodified: 2026-02-20\nstatus: active\nbranch: mikado/c\n"
        "requires:\n  - a\n  - b\ntags:\n  - x\n---\n"
    )
    assert findings == []
    assert card.title == "T" and card.modified == date(2026, 2, 20)
    assert card.requires == ("a", "b") and card.requires_lines == (7, 8)
    assert card.is_open and card.is_mikado and card.branch == "mikado/c"
    assert card.line_of("status") == 4


def test_requires_written_as_a_string_is_a_type_error_not_three_stems() -> None:
    card, findings = card_of("---\ntitle: T\nmodified: 2026-01-01\ntags: [x]\nrequires: abc\n---\n")
    assert rules(findings) == [("field-type", "requires", 5)]
    assert card.requires == ()


def test_requires_with_non_string_entries() -> None:
    _, findings = card_of("---\ntitle: T\nmodified: 2026-01-01\ntags: [x]\nrequires: [1, b]\n---\n")
    assert rules(findings) == [("field-type", "requires", 5)]


def test_flow_list_requires_lines() -> None:
    card, findings = card_of(
        "---\ntitle: T\nmodified: 2026-01-01\ntags: [x]\nrequires: [a, b]\n---\n"
    )
    assert findings == []
    assert card.requires_lines == (5, 5)


def test_required_fields_absent_null_or_blank_are_missing() -> None:
    _, findings = card_of("---\ntitle: ' '\ntags: ~\n---\n")
    assert sorted(rules(findings)) == [
        ("field-missing", "modified", None),
        ("field-missing", "tags", 3),
        ("field-missing", "title", 2),
    ]
    messages = {f.target: f.message for f in findings}
    assert "is missing" in messages["modified"]
    # the key is there: the message must not ask to add it
    assert "has no value" in messages["tags"] and "add" not in messages["tags"]


@pytest.mark.parametrize("value", ["[]", "{}", "0", "false"])
def test_an_empty_value_is_a_value_not_a_missing_field(value: str) -> None:
    # `tags: []` is a doc without tags, not a doc without the key
    _, findings = card_of(
        f"---\ntitle: T\nmodified: 2026-01-01\ntags: []\nowner: {value}\n---\n",
        required=("title", "modified", "tags", "owner"),
    )
    assert findings == []


def test_wrong_types_of_title_tags_and_modified() -> None:
    _, findings = card_of("---\ntitle: 12\nmodified: yesterday\ntags: one\n---\n")
    assert sorted(rules(findings)) == [
        ("field-type", "modified", 3),
        ("field-type", "tags", 4),
        ("field-type", "title", 2),
    ]


def test_modified_as_quoted_date_is_accepted_but_a_timestamp_is_not() -> None:
    card, findings = card_of("---\ntitle: T\nmodified: '2026-03-04'\ntags: [x]\n---\n")
    assert findings == [] and card.modified == date(2026, 3, 4)
    _, findings = card_of("---\ntitle: T\nmodified: 2026-03-04 10:00:00\ntags: [x]\n---\n")
    assert rules(findings) == [("field-type", "modified", 3)]
    _, findings = card_of("---\ntitle: T\nmodified: 2026-02-30\ntags: [x]\n---\n")
    assert rules(findings) == [("field-type", "modified", 3)]


def test_invalid_status_is_reported_and_the_card_stays_open() -> None:
    card, findings = card_of("---\ntitle: T\nmodified: 2026-01-01\ntags: [x]\nstatus: actve\n---\n")
    assert rules(findings) == [("status-invalid", "status", 5)]
    assert card.is_open


def test_done_and_absent_status_are_complete() -> None:
    done, _ = card_of("---\ntitle: T\nmodified: 2026-01-01\ntags: [x]\nstatus: done\n---\n")
    plain, _ = card_of("---\ntitle: T\nmodified: 2026-01-01\ntags: [x]\n---\n")
    assert done.is_complete and plain.is_complete
    assert done.is_mikado and not plain.is_mikado


def test_key_lines_skip_comments_and_nested_keys() -> None:
    card, _ = card_of(
        "---\n# a comment: here\ntitle: T\nextra:\n  status: nested\nmodified: 2026-01-01\n"
        "tags: [x]\nrequires:\n# between\n- a   # top-level list item\n---\n"
    )
    assert card.line_of("title") == 3
    assert card.line_of("status") is None
    assert card.requires_lines == (10,)


@pytest.mark.parametrize("value", ["[active]", "{a: 1}", "[]", "{}", "[[active]]"])
def test_a_status_that_is_a_list_or_mapping_is_invalid_not_a_crash(value: str) -> None:
    card, findings = card_of(
        f"---\ntitle: T\nmodified: 2026-01-01\ntags: [x]\nstatus: {value}\n---\n"
    )
    assert rules(findings) == [("status-invalid", "status", 5)]
    assert card.is_open


def placed_card_of(text: str):  # type: ignore[no-untyped-def]
    """:func:`card_of` as the scanner builds it, with the lines parsing found (fast path)."""
    block = split_bytes(text.encode())
    assert block is not None
    meta, placed = parse_block_placed(block)
    return build_card("c", "x/c.md", meta, block, placed=placed)


HEAD = "---\ntitle: T\nmodified: 2026-01-01\ntags: [x]\n"


@pytest.mark.parametrize("build", [card_of, placed_card_of])
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (HEAD + "status: active\nstatus: done\n---\n", [("field-duplicate", "status", 6)]),
        (HEAD + "requires: [a]\nstatus: active\nrequires:\n  - b\n---\n",
         [("field-duplicate", "requires", 7)]),
        (HEAD + "title: U\n---\n", [("field-duplicate", "title", 5)]),
        (HEAD + "status: active\n'status': done\n---\n", [("field-duplicate", "status", 6)]),
        # keys mikado does not read may repeat (YAML keeps the last), as may nested ones
        (HEAD + "note: a\nnote: b\n---\n", []),
        (HEAD + "extra:\n  status: a\n  x: 1\nother:\n  status: b\n---\n", []),
    ],
)  # fmt: skip
def test_a_field_written_twice(build, text: str, expected: list[object]) -> None:  # type: ignore[no-untyped-def]
    _, findings = build(text)
    assert rules(findings) == expected


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        # an anchor in a field the engine rewrites, which another field uses
        (HEAD + "status: &s active\nphase: *s\n---\n", 5, "anchor"),
        (HEAD + "requires: &r\n  - a\nstatus: active\nalso: *r\n---\n", 5, "anchor"),
        (HEAD + "status: active\nrequires:\n  - &i a\nalso: *i\n---\n", 7, "anchor"),
        # a merge key, whatever it merges
        (HEAD + "<<: {status: active}\n---\n", 5, "merge key"),
        ("---\nbase: &b {title: T}\n<<: *b\nmodified: 2026-01-01\ntags: [x]\nstatus: active\n---\n",
         3, "merge key"),
        # a flow mapping, a multi-line value with comments
        ("---\n{title: T, modified: 2026-01-01, tags: [x], status: active}\n---\n", 2, "flow"),
        ("---\ntitle: T\nmodified:\n  # when\n  2026-01-01\ntags: [x]\nstatus: active\n---\n", 3,
         "comments"),
    ],
)  # fmt: skip
def test_a_card_the_engine_could_not_edit(text: str, line: int, words: str) -> None:
    _, findings = card_of(text)
    assert rules(findings) == [("frontmatter-uneditable", None, line)]
    assert words in findings[0].message


@pytest.mark.parametrize(
    "text",
    [
        # an anchor no alias uses, an alias in an edited field, anchors elsewhere
        HEAD + "status: &s active\n---\n",
        "---\ntitle: T\nx: &s active\nmodified: 2026-01-01\ntags: [x]\nstatus: *s\n---\n",
        "---\ntitle: &t T\nalt: *t\nmodified: 2026-01-01\ntags: [x]\nstatus: active\n---\n",
        HEAD + "status: active # why\nrequires:\n  - a  # first\n  # between\n  - b\n---\n",
        # plain documentation is not edited by a run: no finding
        "---\n{title: T, modified: 2026-01-01, tags: [x]}\n---\n",
        "---\n<<: {title: T}\nmodified: 2026-01-01\ntags: [x]\n---\n",
    ],
)
def test_cards_the_engine_can_edit_have_no_such_finding(text: str) -> None:
    _, findings = card_of(text)
    assert findings == []
