from __future__ import annotations

from datetime import date

from mikado.model.card import build_card
from mikado.tree.frontmatter import parse_block, split_bytes


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


def test_required_fields_missing_and_empty() -> None:
    _, findings = card_of("---\ntitle: ''\ntags: []\n---\n")
    assert sorted(rules(findings)) == [
        ("field-missing", "modified", None),
        ("field-missing", "tags", 3),
        ("field-missing", "title", 2),
    ]


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
