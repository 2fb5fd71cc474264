from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Tree
from treebuilder import card_text

from mikado.config import load_config
from mikado.errors import DocsError
from mikado.tree.loader import load_docs


def load(root: Path, **kw: object):  # type: ignore[no-untyped-def]
    return load_docs(load_config(docs=root, cwd=root.parent), **kw)  # type: ignore[arg-type]


def found(docs) -> list[tuple[str, str, int | None, str | None]]:  # type: ignore[no-untyped-def]
    return [(f.rule, f.path, f.line, f.target) for f in docs.findings]


def test_a_clean_tree(tree: Tree) -> None:
    root = tree(
        {
            "how-to/zot/goal.md": card_text("Goal", status="active", requires=["leaf"]),
            "how-to/zot/leaf.md": card_text("Leaf", status="active"),
            "reference/plain.md": card_text("Plain"),
        }
    )
    docs = load(root)
    assert docs.findings == ()
    assert docs.paths == ("how-to/zot/goal.md", "how-to/zot/leaf.md", "reference/plain.md")
    assert docs.card("goal").requires == ("leaf",)
    assert docs.graph.order == ["leaf", "goal", "plain"]


def test_progress_is_told_how_many_docs_are_read(tree: Tree) -> None:
    root = tree({f"reference/d{n}.md": card_text(f"D{n}") for n in range(5)})
    seen: list[tuple[int, int]] = []
    load(root, progress=lambda done, of: seen.append((done, of)))
    assert seen[0] == (0, 5) and seen[-1] == (5, 5)


def test_duplicate_stems_in_different_folders_report_each_doc(tree: Tree) -> None:
    root = tree({"a/same.md": card_text("One"), "b/same.md": card_text("Two")})
    docs = load(root)
    assert found(docs) == [
        ("duplicate-stem", "a/same.md", None, "same"),
        ("duplicate-stem", "b/same.md", None, "same"),
    ]
    assert "b/same.md" in docs.findings[0].message
    with pytest.raises(DocsError):
        load(root, strict_graph=True)


def test_requires_missing_points_at_the_entry_and_suggests(tree: Tree) -> None:
    root = tree(
        {
            "goal.md": card_text("G", status="active", requires=["Leaf", "how-to/leaf.md", "nope"]),
            "leaf.md": card_text("Leaf"),
        }
    )
    docs = load(root)
    assert found(docs) == [
        ("requires-missing", "goal.md", 6, "Leaf"),
        ("requires-missing", "goal.md", 7, "how-to/leaf.md"),
        ("requires-missing", "goal.md", 8, "nope"),
    ]
    messages = [f.message for f in docs.findings]
    assert "did you mean `leaf`?" in messages[0]
    assert "without folders or `.md`" in messages[1] and "`leaf`" in messages[1]
    assert "did you mean" not in messages[2]


def test_requires_self(tree: Tree) -> None:
    docs = load(tree({"a.md": card_text("A", status="active", requires=["a"])}))
    assert found(docs) == [("requires-self", "a.md", 6, "a")]


def test_cycles_are_reported_once_with_their_path(tree: Tree) -> None:
    root = tree(
        {
            "a.md": card_text("A", status="active", requires=["b"]),
            "b.md": card_text("B", status="active", requires=["a"]),
            "c.md": card_text("C", status="active", requires=["a"]),
        }
    )
    docs = load(root)
    assert found(docs) == [("cycle", "a.md", 5, "a")]
    assert "a → b → a" in docs.findings[0].message
    with pytest.raises(DocsError) as caught:
        load(root, strict_graph=True)
    assert "a → b → a" in str(caught.value.problems[0])


def test_structural_warnings(tree: Tree) -> None:
    root = tree(
        {
            "goal.md": card_text("G", status="active", branch="mikado/other", requires=["old"]),
            "old.md": card_text("Old", requires=["open"]),
            "open.md": card_text("Open", status="active"),
        }
    )
    docs = load(root, strict_graph=True)  # warnings never stop the graph commands
    assert [(f.rule, f.severity.value, f.path) for f in docs.findings] == [
        ("branch-name", "warning", "goal.md"),
        ("done-requires-open", "warning", "old.md"),
    ]


def test_field_misplaced_outside_cards_in(tree: Tree) -> None:
    root = tree(
        {
            "how-to/a.md": card_text("A", status="active"),
            "reference/b.md": card_text("B", status="active", requires=[]),
        }
    )
    (root.parent / "mikado.toml").write_text('[mikado]\ndocs = "docs"\ncards_in = ["how-to"]\n')
    docs = load_docs(load_config(cwd=root.parent))
    assert [(f.rule, f.path, f.target) for f in docs.findings] == [
        ("field-misplaced", "reference/b.md", "status"),
        ("field-misplaced", "reference/b.md", "requires"),
    ]


def test_ignore_switches_a_rule_off(tree: Tree) -> None:
    root = tree({"a.md": b"no front matter here\n", "b.md": card_text("B")})
    (root.parent / "mikado.toml").write_text(
        '[mikado]\ndocs = "docs"\nignore = ["frontmatter-missing"]\n'
    )
    docs = load_docs(load_config(cwd=root.parent), strict_graph=True)
    assert docs.findings == ()
    assert docs.card("a") is not None and docs.card("a").is_complete  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("content", "rule", "line"),
    [
        (b"", "frontmatter-missing", None),
        (b"---\ntitle: [unclosed\n---\n", "frontmatter-invalid", 2),
        (b"---\n- a\n- b\n---\n", "frontmatter-invalid", 2),
        (b"---\ntitle: T\nstatus: active\nrequires: abc\n---\n", "field-type", 4),
        (b"---\ntitle: caf\xe9\n---\n", "unreadable", 2),
        (b"---\ntitle: T\n", "frontmatter-invalid", 1),
    ],
)
def test_bad_docs_stop_the_graph_with_file_and_line(
    tree: Tree, content: bytes, rule: str, line: int | None
) -> None:
    root = tree({"zot/bad.md": content, "zot/good.md": card_text("Good", status="active")})
    with pytest.raises(DocsError) as caught:
        load(root, strict_graph=True)
    problems = caught.value.problems
    assert [(p.rule, p.path, p.line) for p in problems] == [(rule, "zot/bad.md", line)]  # type: ignore[attr-defined]


def test_bom_and_crlf_cards_load_like_any_other(tree: Tree) -> None:
    crlf = card_text("CRLF", status="active", requires=["bom"]).replace("\n", "\r\n")
    root = tree({"crlf.md": crlf, "bom.md": b"\xef\xbb\xbf" + card_text("BOM").encode()})
    docs = load(root, strict_graph=True)
    assert docs.findings == ()
    assert docs.card("crlf").requires == ("bom",)  # type: ignore[union-attr]
    assert docs.card("bom").title == "BOM"  # type: ignore[union-attr]


def test_require_names_the_closest_stem(tree: Tree) -> None:
    from mikado.errors import UsageError

    docs = load(tree({"harden.md": card_text("Harden", status="active")}))
    assert docs.require("harden").title == "Harden"
    with pytest.raises(UsageError, match=r"no card `hardn` under .*did you mean `harden`\?"):
        docs.require("hardn")


def test_temporary_files_of_an_interrupted_write_are_never_read(tree: Tree) -> None:
    root = tree({"zot/leaf.md": card_text("Leaf", status="active")})
    # what a writer killed before its rename leaves, half written, under every name it used
    for name in (".leaf.md.4242.abcdefgh.tmp", ".leaf.md.abcdefgh.tmp"):
        (root / "zot" / name).write_text("---\ntitle: Lea")
    docs = load(root, strict_graph=True)
    assert docs.paths == ("zot/leaf.md",) and docs.findings == ()
