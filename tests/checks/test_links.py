"""The link rules: grammar, code regions, resolution, orphans and category indexes."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from treebuilder import doc, findings, report_of, write_tree

# The body starts on line 6 of every doc() (five front-matter lines).
BODY = 6


def link_findings(tmp_path: Path, body: str, extra: dict[str, str | bytes] | None = None):  # type: ignore[no-untyped-def]
    files: dict[str, str | bytes] = {"page.md": doc("Page", body), "target.md": doc("Target")}
    files.update(extra or {})
    write_tree(tmp_path, files)
    return [f for f in findings(tmp_path) if f[1] == "page.md"]


@pytest.mark.parametrize(
    "body",
    [
        "[[target]]",
        "[[target|the target]]",
        "[[target#a-heading]]",
        "[[target#a-heading|text]]",
        "[[#a heading in this page]]",
        "![[target]]",
        "![[diagram.png]]",
        "| a | [[target\\|text]] |\n|---|---|\n| b | c |",
        "[[target|text with trailing space ]]",
    ],
)
def test_valid_links(tmp_path: Path, body: str) -> None:
    extra: dict[str, str | bytes] = {"assets/diagram.png": b"\x89PNG"}
    assert link_findings(tmp_path, body + "\n", extra) == []


@pytest.mark.parametrize(
    ("body", "rule", "target"),
    [
        ("[[nothing]]", "broken-link", "nothing"),
        ("[[target.md]]", "broken-link", "target.md"),
        ("[[Target]]", "broken-link", "Target"),
        ("![[missing.png]]", "broken-link", "missing.png"),
        ("[[folder/target]]", "path-link", "folder/target"),
        ("[[ target]]", "spaced-link", "target"),
        ("[[target ]]", "spaced-link", "target"),
        ("[[target |text]]", "spaced-link", "target"),
        ("[[target| text]]", "spaced-link", "target"),
        ("| a | [[target \\| text]] |\n|---|---|", "spaced-link", "target"),
    ],
)
def test_bad_links(tmp_path: Path, body: str, rule: str, target: str) -> None:
    assert link_findings(tmp_path, f"Some text.\n\n{body}\n") == [
        (rule, "page.md", BODY + 2, target)
    ]


def test_broken_links_say_which_doc_was_meant(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "page.md": doc("Page", "[[Target.md]] [[TARGET]] [[a/b/target]] [[nope/x]]\n"),
            "target.md": doc("Target"),
        },
    )
    messages = {f.target: f.message for f in report_of(tmp_path).findings}
    assert "write [[target]]" in messages["Target.md"] and "`.md`" in messages["Target.md"]
    assert "did you mean [[target]]" in messages["TARGET"]
    assert "write the stem alone, [[target]]" in messages["a/b/target"]
    assert "no single doc has the stem `x`" in messages["nope/x"]


@pytest.mark.parametrize(
    "body",
    [
        "Inline `[[nothing]]` code.",
        "Double ``a ` [[nothing]]`` backticks.",
        "```\n[[nothing]]\n```",
        "~~~python\nprint('[[nothing]]')\n~~~",
        "Para.\n\n    indented [[nothing]]",
        "<!-- [[nothing]] -->",
        "<!--\n[[nothing]]\n-->",
        "Text <!-- [[nothing]] --> text.",
        "- item\n\n  ```\n  [[nothing]]\n  ```",
        "> quoted `[[nothing]]`",
    ],
)
def test_links_in_code_and_comments_are_not_links(tmp_path: Path, body: str) -> None:
    # Only a valid link counts: `target` is linked from index.md, and nothing here breaks.
    assert link_findings(tmp_path, body + "\n") == []


def test_front_matter_is_not_searched_for_links(tmp_path: Path) -> None:
    write_tree(tmp_path, {"page.md": doc("Page [[nothing]]")})
    assert findings(tmp_path) == []


def test_a_link_in_code_does_not_save_a_doc_from_being_an_orphan(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {"page.md": doc("Page", "`[[lonely]]`\n\n```\n[[lonely]]\n```\n"), "lonely.md": doc("L")},
        index=False,
    )
    write_tree(tmp_path, {"index.md": doc("Index", "[[page]]\n")}, index=False)
    assert findings(tmp_path) == [("orphan", "lonely.md", None, "lonely")]


def test_crlf_bodies_keep_line_numbers(tmp_path: Path) -> None:
    body = "one\r\ntwo\r\n```\r\n[[nothing]]\r\n```\r\n[[nowhere]]\r\n"
    text = doc("Page").replace("\n", "\r\n") + body
    assert link_findings(tmp_path, "", {"page.md": text}) == [
        ("broken-link", "page.md", BODY + 5, "nowhere")
    ]


def test_a_doc_without_front_matter_still_links(tmp_path: Path) -> None:
    write_tree(tmp_path, {"page.md": "[[target]] [[gone]]\n", "target.md": doc("T")}, index=False)
    write_tree(tmp_path, {"index.md": doc("Index", "[[page]]\n")}, index=False)
    # whole-file findings sort before those with a line
    assert findings(tmp_path) == [
        ("frontmatter-missing", "page.md", None, None),
        ("broken-link", "page.md", 1, "gone"),
    ]


class TestOrphan:
    def test_a_doc_nobody_links_is_an_orphan(self, tmp_path: Path) -> None:
        write_tree(tmp_path, {"a.md": doc("A"), "b.md": doc("B", "[[b]] links itself\n")})
        (tmp_path / "docs" / "index.md").write_text(doc("Index", "[[a]]\n"))
        assert findings(tmp_path) == [("orphan", "b.md", None, "b")]

    def test_a_broken_or_ambiguous_link_does_not_count(self, tmp_path: Path) -> None:
        write_tree(
            tmp_path,
            {"a.md": doc("A", "[[ b ]]\n"), "b.md": doc("B")},
            index=False,
        )
        write_tree(tmp_path, {"index.md": doc("Index", "[[a]]\n")}, index=False)
        assert [f[0] for f in findings(tmp_path)] == ["spaced-link", "orphan"]

    def test_exempt_stems_and_category_indexes(self, tmp_path: Path) -> None:
        write_tree(
            tmp_path,
            {"home.md": doc("Home", "[[guide]]\n"), "guide/guide.md": doc("Guide")},
            index=False,
            settings='orphan_exempt = ["home"]',
        )
        assert findings(tmp_path) == []
        (tmp_path / "mikado.toml").write_text('[mikado]\ndocs = "docs"\n')
        # `index` is exempt by default, `home` is not; a category index always is
        assert findings(tmp_path) == [("orphan", "home.md", None, "home")]
        (tmp_path / "docs" / "home.md").unlink()
        assert findings(tmp_path) == []


class TestIndexAuto:
    FILES: ClassVar[dict[str, str | bytes]] = {
        "how-to/how-to.md": doc("How-to", "[[plans]] [[y]] [[top]]\n"),
        "how-to/top.md": doc("Top"),
        "how-to/zot/y.md": doc("Y"),  # zot has no zot.md: not a category, so how-to.md
        "how-to/plans/plans.md": doc("Plans", "[[x]]\n"),
        "how-to/plans/x.md": doc("X"),
        "loose/z.md": doc("Z"),  # in no category: needs no index
    }

    def test_each_doc_is_in_its_nearest_categorys_index(self, tmp_path: Path) -> None:
        write_tree(tmp_path, self.FILES)
        assert findings(tmp_path) == []

    @pytest.mark.parametrize(
        ("index", "body", "missing"),
        [
            ("how-to/plans/plans.md", "", "how-to/plans/x.md"),
            ("how-to/how-to.md", "[[plans]] [[top]]", "how-to/zot/y.md"),
            # a category index is listed by its parent category's index
            ("how-to/how-to.md", "[[y]] [[top]]", "how-to/plans/plans.md"),
            # being listed by another index is not enough
            ("how-to/how-to.md", "[[plans]] [[y]] [[x]]", "how-to/top.md"),
        ],
    )
    def test_a_doc_missing_from_its_index(
        self, tmp_path: Path, index: str, body: str, missing: str
    ) -> None:
        files = dict(self.FILES)
        files[index] = doc("Index", body + "\n")
        write_tree(tmp_path, files)
        stem = Path(missing).stem
        assert ("index-missing", missing, None, stem) in findings(tmp_path)
        assert [f for f in findings(tmp_path) if f[0] == "index-missing"] == [
            ("index-missing", missing, None, stem)
        ]
        message = next(f.message for f in report_of(tmp_path).findings)
        assert f"add [[{stem}]]" in message

    def test_index_false_requires_nothing(self, tmp_path: Path) -> None:
        files = dict(self.FILES)
        files["how-to/how-to.md"] = doc("How-to")
        write_tree(tmp_path, files, settings="index = false")
        assert findings(tmp_path) == []


class TestIndexTable:
    def test_configured_folders_and_their_index_files(self, tmp_path: Path) -> None:
        files: dict[str, str | bytes] = {
            "guides/README.md": doc("Guides", "[[one]] [[deep]]\n"),
            "guides/one.md": doc("One"),
            "guides/more/deep.md": doc("Deep"),
            "guides/more/lost.md": doc("Lost"),
            "other/free.md": doc("Free"),
        }
        write_tree(tmp_path, files, settings='index = { guides = "guides/README.md" }')
        assert findings(tmp_path) == [("index-missing", "guides/more/lost.md", None, "lost")]

    def test_an_index_file_that_is_not_a_doc_is_a_configuration_error(self, tmp_path: Path) -> None:
        from treebuilder import run_mikado

        write_tree(tmp_path, {"a.md": doc("A")}, settings='index = { guides = "guides/x.md" }')
        result = run_mikado("check", cwd=tmp_path)
        assert result.returncode == 2
        assert "guides/x.md" in result.stderr and "Traceback" not in result.stderr
