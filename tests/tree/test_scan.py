"""Reading one doc: the link targets a scan keeps agree with the links markdown-it-py finds."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_strategies import document
from reference import extract_links_reference

from mikado.checks.links import classify
from mikado.tree import scan
from mikado.tree.scan import ScanOptions, link_targets, read_docs


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


@pytest.mark.parametrize("links", [True, False], ids=["links", "front-matter only"])
@pytest.mark.parametrize("group_bytes", [scan.GROUP_BYTES, 40], ids=["one group", "small groups"])
def test_reading_docs_together_gives_what_reading_each_alone_gives(
    tmp_path: Path, links: bool, group_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """read_docs runs each step over every doc before the next: a doc that drops out at one
    step (unreadable, a bad block, bad bytes) must not shift the others' results, nor must
    taking large docs in several groups."""
    monkeypatch.setattr(scan, "GROUP_BYTES", group_bytes)
    files: dict[str, bytes] = {
        "plain.md": b"---\ntitle: Plain\n---\nSee [[a]] and [[b|text]].\n",
        "none.md": b"No front-matter, a [[link]].\n",
        "unclosed.md": b"---\ntitle: x\nbody [[kept]]\n",
        "bad-yaml.md": b"---\ntitle: [\n---\n[[after-bad-yaml]]\n",
        "bad-front-bytes.md": b"---\ntitle: \xff\n---\n[[never]]\n",
        "bad-body-bytes.md": b"---\ntitle: B\n---\n[[lost]] \xfe\n",
        "crlf.md": b"---\r\ntitle: C\r\n---\r\n`[[code]]` [[ spaced ]] [[c]]\r\n",
        "card.md": b"---\ntitle: Card\nstatus: active\nrequires: abc\n---\n[[x/y]]\n",
        "empty.md": b"",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "folder.md").mkdir()  # listed as a doc, cannot be read as one
    paths = sorted([*files, "folder.md"])
    options = ScanOptions(("title",), links=links)
    together = read_docs(tmp_path, paths, options)
    alone = [read_docs(tmp_path, [path], options)[0] for path in paths]
    assert together == alone
    by_path = {path: scan for path, (scan, _) in zip(paths, together, strict=True)}
    if not links:
        assert all(scan.targets is None for scan in by_path.values())
        assert {f.rule for f in by_path["card.md"].findings} == {"field-type"}
        return
    assert by_path["plain.md"].targets == ("a", "b")
    assert by_path["unclosed.md"].targets == ("kept",)
    assert by_path["crlf.md"].targets == ("c",) and by_path["crlf.md"].suspect
    assert by_path["bad-body-bytes.md"].targets == ()
    assert {f.rule for f in by_path["folder.md"].findings} == {"unreadable"}
    assert {f.rule for f in by_path["card.md"].findings} == {"field-type"}
    keys = dict(zip(paths, (key for _, key in together), strict=True))
    assert keys["folder.md"] is None and keys["plain.md"] is not None
