"""Wiki-link extraction: the grammar, and the fast scanner against markdown-it-py."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings
from markdown_strategies import document
from reference import extract_links_reference

from mikado.tree.code_fast import fast_code_regions
from mikado.tree.code_markdown import markdown_code_regions
from mikado.tree.links import Link, extract_links


def targets(body: str, first_line: int = 1) -> list[tuple[int, str]]:
    return [(link.line, link.target) for link in extract_links(body, first_line)]


# ---------------------------------------------------------------------------------------------
# Grammar


def test_plain_link() -> None:
    assert extract_links("see [[alpha]] now\n") == [Link(1, "alpha", "alpha", None, None, False)]


def test_link_with_text() -> None:
    (link,) = extract_links("[[alpha|the alpha card]]")
    assert (link.target, link.text, link.heading) == ("alpha", "the alpha card", None)
    assert not link.spaced


def test_link_with_heading() -> None:
    (link,) = extract_links("[[alpha#Rolling back]]")
    assert (link.target, link.heading, link.text) == ("alpha", "Rolling back", None)
    assert not link.in_page


def test_heading_and_text() -> None:
    (link,) = extract_links("[[alpha#Setup|how to set up]]")
    assert (link.target, link.heading, link.text) == ("alpha", "Setup", "how to set up")


def test_hash_after_the_pipe_is_text() -> None:
    (link,) = extract_links("[[alpha|issue #12]]")
    assert (link.target, link.heading, link.text) == ("alpha", None, "issue #12")


def test_in_page_link() -> None:
    (link,) = extract_links("[[#Rollback]]")
    assert link.in_page and link.target == "" and link.heading == "Rollback"


def test_embed() -> None:
    (link,) = extract_links("![[diagram.png]]")
    assert link.embed and link.target == "diagram.png"
    assert not extract_links("[[diagram.png]]")[0].embed


def test_spaced_target() -> None:
    (link,) = extract_links("[[ alpha ]]")
    assert link.raw == " alpha " and link.target == " alpha " and link.spaced


def test_spaced_pipe() -> None:
    assert extract_links("[[alpha | text]]")[0].spaced
    assert extract_links("[[alpha |text]]")[0].spaced
    assert extract_links("[[alpha| text]]")[0].spaced
    assert not extract_links("[[alpha|some text ]]")[0].spaced


def test_table_cell_escaped_pipe() -> None:
    body = "| card | link |\n|---|---|\n| a | [[alpha\\|the alpha]] |\n"
    (link,) = extract_links(body)
    assert (link.line, link.raw, link.target, link.text) == (
        3,
        "alpha\\|the alpha",
        "alpha",
        "the alpha",
    )


def test_escaped_brackets_are_not_links() -> None:
    assert extract_links("\\[[alpha]] and [[beta\\]]") == []
    assert targets("\\\\[[alpha]]") == [(1, "alpha")]  # an escaped backslash, then a link
    (link,) = extract_links("\\![[alpha]]")
    assert not link.embed


def test_not_links() -> None:
    assert extract_links("[[]] [[a\nb]] [a] [[a]b]") == []


def test_inline_code() -> None:
    assert targets("`[[a]]` [[b]] ``x ` [[c]]`` [[d]]") == [(1, "b"), (1, "d")]


def test_unmatched_backticks_are_text() -> None:
    assert targets("a `` b [[c]] ` d\n\ne [[f]]`") == [(1, "c"), (3, "f")]


def test_code_span_over_two_lines() -> None:
    assert targets("a `b\n[[c]]` [[d]]") == [(2, "d")]


def test_fenced_code() -> None:
    body = "[[a]]\n```sh\n[[b]]\n```\n~~~~\n[[c]]\n~~~\n[[d]]\n~~~~\n[[e]]\n"
    assert targets(body) == [(1, "a"), (10, "e")]


def test_unclosed_fence_runs_to_the_end() -> None:
    assert targets("[[a]]\n  ```\n[[b]]\n") == [(1, "a")]


def test_indented_code() -> None:
    assert targets("[[a]]\n\n    [[b]]\n\ntext\n    [[c]]\n") == [(1, "a"), (6, "c")]


def test_comments() -> None:
    body = "<!-- [[a]]\n[[b]] -->\n[[c]] <!-- [[d]] --> [[e]]\n<!-- [[f]] --> [[g]]\n"
    assert targets(body) == [(3, "c"), (3, "e"), (4, "g")]


def test_code_in_lists_and_quotes() -> None:
    body = "- [[a]]\n  ```\n  [[b]]\n  ```\n> [[c]] `[[d]]`\n>\n>     [[e]]\n"
    assert targets(body) == [(1, "a"), (5, "c")]


def test_front_matter_offset() -> None:
    assert targets("x\n\n[[a]]\n", first_line=5) == [(7, "a")]


def test_crlf_and_cr_line_counting() -> None:
    assert targets("a\r\n```\r\n[[b]]\r\n```\r\n[[c]]\r\n") == [(5, "c")]
    assert targets("a\r[[b]]\r") == [(2, "b")]


def test_last_line_without_newline() -> None:
    assert targets("a\n`x` [[b]]") == [(2, "b")]
    assert targets("```\n[[b]]") == []


def test_links_in_markdown_links_and_html_tags_count() -> None:
    assert targets('[see [[a]]](x) <span title="[[b]]">') == [(1, "a"), (1, "b")]


# ---------------------------------------------------------------------------------------------
# The fast path is taken for ordinary documents


ORDINARY = [
    "# Rotate the registry token\n\nThe token in `ZOT_TOKEN` expires; see [[zot-auth]].\n\n"
    "```sh\nexport ZOT_TOKEN=[[not-a-link]]\n```\n\n"
    "Then run `mikado done` and [[check-ci|check CI]].\n",
    "Intro with [[a]] and ``code with ` inside`` and <!-- a [[hidden]] note -->.\n\n"
    "- first [[b]]\n- second `x`\n  continued [[c]]\n\n---\n\n1. one\n2. two [[d#Heading]]\n\n"
    "~~~yaml\nkey: value\n~~~\n\n    indented [[code]]\n\n<!--\nblock [[comment]]\n-->\n",
    "Title\n=====\n\nA [link](https://example.org/x) and <https://example.org> and [[e]].\n",
    "- item [[a]]\n- item\n  <!-- [[hidden]] note --> [[b]]\n   <!-- [[hidden]] -->\n[[c]]\n",
]


@pytest.mark.parametrize("body", ORDINARY)
def test_fast_path_handles_ordinary_documents(body: str) -> None:
    assert fast_code_regions(body) is not None
    assert extract_links(body) == extract_links_reference(body)


@pytest.mark.parametrize(
    "body",
    [
        "> quoted [[a]]\n",
        "- item\n\n      code [[a]]\n",
        "- item\n  ```\n  [[a]]\n  ```\n",
        "- item\n  <!-- [[a]]\n[[b]] -->\n",
        "a `b\nc` [[d]]\n",
        "[ref]: /url '`'\n[[a]]\n",
        "<div>\n[[a]]\n</div>\n",
        "\tcode [[a]]\n",
    ],
)
def test_fast_path_gives_up_where_unsure(body: str) -> None:
    assert fast_code_regions(body) is None
    assert extract_links(body) == extract_links_reference(body)


# ---------------------------------------------------------------------------------------------
# Differential: fast path (with its fallback) == markdown-it-py


def masked_non_space(text: str, spans: list[tuple[int, int]]) -> set[int]:
    """Masked characters that could be part of a link: the fast path stops reading after the
    last line holding a `[[`."""
    last_link = text.rfind("[[")
    last_line_end = text.find("\n", last_link)
    upto = 0 if last_link == -1 else len(text) if last_line_end == -1 else last_line_end
    return {
        i for start, end in spans for i in range(start, min(end, upto)) if not text[i].isspace()
    }


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document())
def test_fast_path_agrees_with_markdown_it(body: str) -> None:
    assert extract_links(body, 3) == extract_links_reference(body, 3)
    text = body.replace("\r\n", "\n")
    fast = fast_code_regions(text)
    event("fast path" if fast is not None else "fallback")
    if fast is not None:
        # stricter than comparing links: every masked character must agree
        assert masked_non_space(text, fast) == masked_non_space(text, markdown_code_regions(text))
