"""Growing the graph (`mikado new` and the Mikado loop): every edit planned and checked before
the first write, no cycle ever written, and no card written where nothing would read it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from treebuilder import card_text, write_tree

from mikado.config import Config, load_config
from mikado.edit.growth import grow, new_card
from mikado.errors import CardEditError, UsageError
from mikado.tree.loader import Docs, load_docs

TODAY = date(2027, 3, 4)


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every file and folder under ``root`` (hidden ones included)."""
    return {
        str(p.relative_to(root)): p.read_bytes() if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
    }


def setup(base: Path, files: dict[str, str], settings: str = "") -> tuple[Config, Docs]:
    write_tree(base, files, settings=settings)
    config = load_config(cwd=base)
    return config, load_docs(config, strict_graph=True)


def chain() -> dict[str, str]:
    """goal ← mid ← leaf, all open, in zot/ (a category with its index)."""
    return {
        "zot/zot.md": card_text("Zot", body="- [[goal]]\n- [[mid]]\n- [[leaf]]\n"),
        "zot/goal.md": card_text("Goal", status="active", requires=["mid"]),
        "zot/mid.md": card_text("Mid", status="active", requires=["leaf"]),
        "zot/leaf.md": card_text("Leaf", status="active"),
    }


def make(config: Config, docs: Docs, stem: str = "extra", **kw: object):  # type: ignore[no-untyped-def]
    fields: dict[str, object] = {"title": "Extra", "requires": (), "required_by": ()}
    fields.update(kw)
    return new_card(
        config,
        docs,
        stem=stem,
        folder=fields.pop("folder", None),  # type: ignore[arg-type]
        today=TODAY,
        **fields,  # type: ignore[arg-type]
    )


# -- cycles ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requires", "required_by", "cycle"),
    [
        (["goal"], ["leaf"], "leaf → extra → goal → mid → leaf"),
        (["leaf"], ["leaf"], "leaf → extra → leaf"),
        (["mid"], ["mid"], "mid → extra → mid"),
        (["leaf", "goal"], ["mid"], "mid → extra → goal → mid"),
    ],
)
def test_new_refuses_a_card_that_closes_a_cycle(
    tmp_path: Path, requires: list[str], required_by: list[str], cycle: str
) -> None:
    config, docs = setup(tmp_path, chain())
    before = snapshot(tmp_path / "docs")
    with pytest.raises(UsageError) as refused:
        make(config, docs, requires=requires, required_by=required_by)
    assert cycle in refused.value.message
    assert snapshot(tmp_path / "docs") == before


def test_new_between_cards_of_one_chain_in_the_right_direction_is_fine(tmp_path: Path) -> None:
    config, docs = setup(tmp_path, chain())
    made = make(config, docs, requires=["leaf"], required_by=["goal"])
    assert made.path == "zot/extra.md"
    assert load_docs(config, strict_graph=True).card("goal").requires == ("mid", "extra")  # type: ignore[union-attr]


def test_growth_refuses_a_card_naming_itself(tmp_path: Path) -> None:
    config, docs = setup(tmp_path, chain())
    before = snapshot(tmp_path / "docs")
    with pytest.raises(UsageError) as refused:
        grow(config, docs, docs.require("mid"), stem="mid", title="M", learned="x", today=TODAY)
    assert "`mid` named itself" in refused.value.message
    assert snapshot(tmp_path / "docs") == before


@pytest.mark.parametrize(("dependent", "cycle"), [("goal", "mid → goal → mid")])
def test_growth_refuses_a_dependent_as_prerequisite(
    tmp_path: Path, dependent: str, cycle: str
) -> None:
    config, docs = setup(tmp_path, chain())
    before = snapshot(tmp_path / "docs")
    with pytest.raises(UsageError) as refused:
        grow(config, docs, docs.require("mid"), stem=dependent, title="G", learned="", today=TODAY)
    assert cycle in refused.value.message
    assert snapshot(tmp_path / "docs") == before


def test_growth_sees_edges_written_since_the_tree_was_read(tmp_path: Path) -> None:
    """With --jobs, two cards of one run may each discover the other: the second growth must
    see the first one's edge, though the run's tree predates it."""
    files = {
        "zot/zot.md": card_text("Zot", body="- [[a]]\n- [[b]]\n"),
        "zot/a.md": card_text("A", status="active"),
        "zot/b.md": card_text("B", status="active"),
    }
    config, docs = setup(tmp_path, files)
    grow(config, docs, docs.require("a"), stem="b", title="B", learned="", today=TODAY)
    with pytest.raises(UsageError) as refused:
        grow(config, docs, docs.require("b"), stem="a", title="A", learned="", today=TODAY)
    assert "b → a → b" in refused.value.message
    assert load_docs(config, strict_graph=True).card("b").requires == ()  # type: ignore[union-attr]


def test_growth_of_an_existing_card_links_it(tmp_path: Path) -> None:
    config, docs = setup(tmp_path, chain())
    made = grow(config, docs, docs.require("goal"), stem="leaf", title="L", learned="", today=TODAY)
    assert made.path == "zot/leaf.md"
    assert load_docs(config).card("goal").requires == ("mid", "leaf")  # type: ignore[union-attr]


# -- all or nothing ------------------------------------------------------------------------------

UNEDITABLE = {
    "flow mapping": "---\n{title: B, modified: 2026-01-01, tags: [test]}\n---\n\n# B\n",
    "duplicate key": "---\ntitle: B\nmodified: 2026-01-01\nmodified: 2026-01-02\ntags: [t]\n---\n",
    "requires twice": card_text("B", status="active", requires=[], extra="requires: []\n"),
}


@pytest.mark.parametrize("name", sorted(UNEDITABLE))
def test_new_writes_nothing_when_one_edit_is_refused(tmp_path: Path, name: str) -> None:
    config, docs = setup(tmp_path, {**chain(), "zot/b.md": UNEDITABLE[name]})
    before = snapshot(tmp_path / "docs")
    with pytest.raises(CardEditError) as refused:
        make(config, docs, required_by=["goal", "b"])
    assert refused.value.path is not None and refused.value.path.endswith("b.md")
    assert snapshot(tmp_path / "docs") == before


def test_a_failed_write_undoes_the_writes_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, docs = setup(tmp_path, {**chain(), "zot/b.md": card_text("B", status="active")})
    before = snapshot(tmp_path / "docs")
    from mikado.edit import changes

    real = changes.write_atomic
    calls: list[Path] = []

    def flaky(path: Path, data: bytes, **kw: object) -> None:
        calls.append(path)
        if path.name == "b.md" and len(calls) < 5:  # the plan's write, not the restore
            raise OSError(28, "No space left on device")
        real(path, data, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(changes, "write_atomic", flaky)
    with pytest.raises(OSError, match="No space"):
        make(config, docs, required_by=["goal", "b"])
    assert snapshot(tmp_path / "docs") == before


def test_the_same_card_twice_and_the_index_as_a_dependent(tmp_path: Path) -> None:
    config, docs = setup(tmp_path, chain())
    made = make(config, docs, required_by=["zot", "goal", "zot"])
    assert made == type(made)("extra", "zot/extra.md", "zot/zot.md")
    index = (tmp_path / "docs" / "zot" / "zot.md").read_text()
    assert index.count("[[extra]]") == 1  # linked once, as index and as dependent
    reread = load_docs(config, strict_graph=True)
    assert reread.card("zot").requires == ("extra",)  # type: ignore[union-attr]
    body = (tmp_path / "docs" / "zot" / "extra.md").read_text()
    assert "Prerequisite of [[zot]], [[goal]]." in body


# -- where a new card may go ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("folder", "words"),
    [
        (".drafts", "hidden"),
        ("zot/.wip", "hidden"),
        ("changelog.d", "`changelog.d`"),
        ("zot/changelog.d/x", "`changelog.d`"),
        ("archive", "`exclude`"),
        ("team/archive", "`exclude`"),
        ("ops/old", "`exclude`"),
        ("ops/old/deeper", "`exclude`"),
    ],
)
def test_new_refuses_a_folder_nothing_reads(tmp_path: Path, folder: str, words: str) -> None:
    config, docs = setup(tmp_path, chain(), settings='exclude = ["archive", "ops/old"]')
    before = snapshot(tmp_path / "docs")
    with pytest.raises(UsageError) as refused:
        make(config, docs, folder=tmp_path / "docs" / folder)
    assert words in refused.value.message and "never reads" in refused.value.message
    assert snapshot(tmp_path / "docs") == before


def test_new_into_a_folder_only_named_like_an_excluded_path(tmp_path: Path) -> None:
    config, docs = setup(tmp_path, chain(), settings='exclude = ["ops/old"]')
    made = make(config, docs, folder=tmp_path / "docs" / "team" / "old", required_by=["goal"])
    assert made.path == "team/old/extra.md"
    assert load_docs(config).card("extra") is not None


# -- nothing left unlinked -------------------------------------------------------------------------


def findings_on(config: Config) -> list[tuple[str, str, str | None]]:
    from mikado.checks.gate import check_docs

    return [(f.rule, f.path, f.target) for f in check_docs(config).findings]


def test_new_without_dependents_is_linked_from_its_category_index(tmp_path: Path) -> None:
    config, docs = setup(tmp_path, chain(), settings='ignore = ["action-missing"]')
    made = make(config, docs, folder=tmp_path / "docs" / "zot")
    assert made.index == "zot/zot.md"
    assert "- [[extra]] — Extra" in (tmp_path / "docs" / "zot" / "zot.md").read_text()
    assert findings_on(config) == []


def test_new_refuses_a_card_nothing_would_link_and_says_how(tmp_path: Path) -> None:
    # the root is no category: nothing would link a card written there
    config, docs = setup(tmp_path, chain())
    before = snapshot(tmp_path / "docs")
    with pytest.raises(UsageError) as refused:
        make(config, docs)
    message = refused.value.message
    assert "orphan" in message and "--required-by" in message and "--dir" in message
    assert "F/F.md" in message
    assert snapshot(tmp_path / "docs") == before


@pytest.mark.parametrize(
    "settings",
    ['orphan_exempt = ["index", "extra"]', 'ignore = ["orphan:extra.md"]', 'ignore = ["orphan"]'],
)
def test_new_writes_an_unlinked_card_the_orphan_rule_spares(tmp_path: Path, settings: str) -> None:
    config, docs = setup(tmp_path, chain(), settings=settings)
    assert make(config, docs).path == "extra.md"
    assert ("orphan", "extra.md", "extra") not in findings_on(config)


def test_new_as_a_category_index_needs_no_link(tmp_path: Path) -> None:
    # `ops/ops.md` is the index of a new category: exempt from orphan, and the root has none
    config, docs = setup(tmp_path, chain())
    made = make(config, docs, stem="ops", folder=tmp_path / "docs" / "ops")
    assert made == type(made)("ops", "ops/ops.md", None)


TRICKY_TITLES = [
    "Use `mikado` here",
    "Close ]] early",
    "Open [[leaf]] a link",
    "Pipe | in a cell",
    "Back\\slash `and` [[x|y]] <!-- z",
    "An ![[embed]]",
]


@pytest.mark.parametrize("title", TRICKY_TITLES)
def test_titles_in_link_lines_are_escaped(tmp_path: Path, title: str) -> None:
    from mikado.tree.links import extract_links

    config, docs = setup(tmp_path, chain(), settings='ignore = ["action-missing"]')
    make(config, docs, title=title, required_by=["goal"])
    root = tmp_path / "docs" / "zot"
    for name in ("zot.md", "goal.md"):
        text = (root / name).read_text()
        # the line links the new card, and only it: the title makes no link of its own
        written = next(row for row in text.splitlines() if row.startswith("- [[extra]] — "))
        assert [link.target for link in extract_links(written, 1)] == ["extra"]
    # and no code span opened by the title hides the links after it
    assert findings_on(config) == []
    assert load_docs(config).card("extra").title == title  # type: ignore[union-attr]


@pytest.mark.parametrize("stem", ["a`b", "`x`"])
def test_a_stem_with_a_backtick_is_refused(tmp_path: Path, stem: str) -> None:
    config, docs = setup(tmp_path, chain())
    with pytest.raises(UsageError, match="cannot contain a backtick"):
        make(config, docs, stem=stem, required_by=["goal"])


def test_a_title_on_two_lines_is_refused(tmp_path: Path) -> None:
    config, docs = setup(tmp_path, chain())
    with pytest.raises(UsageError, match="one line"):
        make(config, docs, title="Two\n[[lines]]", required_by=["goal"])


@pytest.mark.parametrize("title", ["Retitle \x1b]0;owned\x07", "Bell\x07", "Back\bspace"])
def test_a_title_with_control_characters_is_refused(tmp_path: Path, title: str) -> None:
    config, docs = setup(tmp_path, chain())
    before = snapshot(tmp_path / "docs")
    with pytest.raises(UsageError, match="control characters"):
        make(config, docs, title=title, required_by=["goal"])
    assert snapshot(tmp_path / "docs") == before
    make(config, docs, title="Tab\tand émoji 🚀", required_by=["goal"])  # printable enough


# -- cards_in ----------------------------------------------------------------------------------


def test_new_refuses_a_card_or_a_requires_where_cards_in_forbids_them(tmp_path: Path) -> None:
    """With `cards_in`, a card outside those folders, or `requires` added to a plain doc
    there, would be field-misplaced at once: refused, nothing written."""
    files = {
        **chain(),
        "reference/reference.md": card_text("Reference", body="- [[api]]\n"),
        "reference/api.md": card_text("API"),
    }
    config, docs = setup(tmp_path, files, settings='cards_in = ["zot"]\n')
    before = snapshot(tmp_path / "docs")
    with pytest.raises(UsageError, match=r"reference/extra.md is outside `cards_in` \(zot\)"):
        make(config, docs, folder=tmp_path / "docs" / "reference")
    with pytest.raises(UsageError, match=r"--required-by api: reference/api.md is outside"):
        make(config, docs, required_by=("api",), folder=tmp_path / "docs" / "zot")
    assert snapshot(tmp_path / "docs") == before
    made = make(config, docs, required_by=("goal",))
    assert made.path == "zot/extra.md"


@pytest.mark.parametrize(
    "mention",
    ["<!-- todo: [[extra]] -->", "```\n[[extra]]\n```", "`[[extra]]`", "\\[[extra]]"],
)
def test_a_mention_check_does_not_read_as_a_link_does_not_stand_for_one(
    tmp_path: Path, mention: str
) -> None:
    """The index already "links" the new card only in code, a comment or escaped: `check`
    would call the card unindexed, so the real link is still added."""
    files = chain()
    files["zot/zot.md"] = card_text("Zot", body=f"- [[goal]]\n- [[mid]]\n- [[leaf]]\n\n{mention}\n")
    config, docs = setup(tmp_path, files)
    make(config, docs, folder=tmp_path / "docs" / "zot")
    index = (tmp_path / "docs" / "zot" / "zot.md").read_text()
    assert "\n- [[extra]]" in index
    assert load_docs(load_config(cwd=tmp_path), strict_graph=True).errors() == []
