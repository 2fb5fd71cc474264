"""Reading one doc: the link targets a scan keeps agree with the links markdown-it-py finds."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_strategies import document

from mikado.linkcheck import classify
from mikado.links import extract_links_reference
from mikado.scan import link_targets


def expected_targets(body: str) -> tuple[tuple[str, ...], bool]:
    """What a scan must keep, by the definition: every link markdown-it-py leaves outside
    code, classified by the link rules; the distinct targets of the well-formed ones, in
    first-seen order, and whether any is wrong whatever the tree."""
    seen: dict[str, None] = {}
    suspect = False
    for link in extract_links_reference(body):
        if classify(link) is not None:
            suspect = True
        elif link.target:
            seen[link.target] = None
    return tuple(seen), suspect


@pytest.mark.parametrize(
    ("body", "targets", "suspect"),
    [
        ("[[a]] [[b|text]] [[a#h]] [[c#h|t]]\n", ("a", "b", "c"), False),
        ("[[a|]] [[b#]] [[#in-page]] ![[d.png]]\n", ("a", "b", "d.png"), False),
        ("[[ a]]\n", (), True),
        ("[[a |b]]\n", (), True),
        ("[[a| b]]\n", (), True),
        ("[[a#h |b]]\n", (), True),
        ("[[x/a]] [[b]]\n", ("b",), True),
        ("[[a\\|b]] [[a b]]\n", ("a", "a b"), False),
        ("\\[[a]] [[b\\]] [[c]]\n", ("c",), False),
        ("`[[a]]` [[b]]\n\n```\n[[c]]\n```\n", ("b",), False),
        ("no links\n", (), False),
    ],
)
def test_targets_of_link_shapes(body: str, targets: tuple[str, ...], suspect: bool) -> None:
    assert link_targets(body) == (targets, suspect) == expected_targets(body)


LINK = st.sampled_from(
    ["a", " a", "a ", "a b", "a/b", "a|b", "a |b", "a| b", "a\\|b", "a#h", "a#h |b", "#h", "a|",
     "a#", "a\\", "\\a", "a\tb", "a|b\\"]
)  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document(), st.lists(LINK, max_size=4))
def test_targets_agree_with_markdown_it(body: str, links: list[str]) -> None:
    body += "".join(f" [[{raw}]]" for raw in links) + "\n"
    assert link_targets(body) == expected_targets(body)
