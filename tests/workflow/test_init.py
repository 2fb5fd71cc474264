"""`mikado init`'s proposal: what it reads from a docs tree, the file it writes (read back by
the real configuration loader) and the check it previews."""

from __future__ import annotations

from pathlib import Path

import pytest
from treebuilder import card_text, doc, write_files

from mikado.checks.gate import check_docs
from mikado.config import load_config
from mikado.errors import UsageError
from mikado.workflow.init import find_docs, preview, propose, survey, with_baseline, write


def test_survey_finds_the_folders_holding_cards(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    write_files(
        root,
        {
            "index.md": doc("Index", "[[how-to]] [[ops]]"),
            "how-to/how-to.md": doc("How-to", "[[goal]] [[step]]"),
            "how-to/deploy/goal.md": card_text("Goal", status="active", requires=["step"]),
            "how-to/deploy/step.md": card_text("Step", status="active"),
            "ops/ops.md": card_text("Ops", status="done"),
            # a goal that only names its branch does not confine where status may go
            "reference/finished.md": card_text("Finished", branch="mikado/finished"),
            "changelog.d/1.feature.md": "no front-matter, never read\n",
            "loose.md": "no front-matter\n",
        },
    )
    found = survey(root)
    assert (found.docs, found.with_front_matter) == (7, 6)
    assert found.placed == ("how-to/deploy/goal.md", "how-to/deploy/step.md", "ops/ops.md")
    assert found.card_folders == ("how-to", "ops")
    assert found.lacking == {"title": 0, "modified": 0, "tags": 0}
    write_files(root, {"top.md": card_text("Top", status="active")})
    assert survey(root).card_folders == ()  # a card at the root: cards_in cannot hold it


def test_find_docs_prefers_the_folder_holding_cards(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no docs/ or cards/ folder with Markdown docs"):
        find_docs(tmp_path)
    write_files(tmp_path, {"cards/a.md": doc("A"), "docs/empty/readme.txt": "x"})
    assert find_docs(tmp_path) == tmp_path / "cards"  # docs/ holds no doc
    write_files(tmp_path, {"docs/b.md": doc("B")})
    assert find_docs(tmp_path) == tmp_path / "docs"  # both hold docs: docs/ first
    write_files(tmp_path, {"cards/c.md": card_text("C", status="active")})
    assert find_docs(tmp_path) == tmp_path / "cards"  # only cards/ holds cards
    assert find_docs(tmp_path, Path("docs")) == tmp_path / "docs"
    with pytest.raises(UsageError, match="--docs handbook: no such folder"):
        find_docs(tmp_path, Path("handbook"))


def written_config(tmp_path: Path, files: dict[str, str], **kw: bool) -> str:
    write_files(tmp_path / "docs", files)
    proposal = propose(tmp_path, tmp_path / "docs")
    write(proposal, **kw)
    return (tmp_path / "mikado.toml").read_text()


def test_the_written_file_is_read_back_as_proposed(tmp_path: Path) -> None:
    text = written_config(
        tmp_path,
        {
            "index.md": doc("Index", "[[how-to]]"),
            "how-to/how-to.md": doc("How-to", "[[a]]"),
            "how-to/a.md": card_text("A", status="active"),
        },
    )
    config = load_config(cwd=tmp_path)
    assert config.source == tmp_path / "mikado.toml"
    assert config.docs == tmp_path / "docs"
    assert config.cards_in == ("how-to",)
    assert config.required == ("title", "modified", "tags")
    assert config.ignore == {"action-missing"}  # no actions/ folder: cards are done by hand
    assert "no actions/ folder" in text
    (tmp_path / "actions").mkdir()
    proposal = propose(tmp_path, tmp_path / "docs")
    assert "action-missing" not in proposal.text()


def test_a_field_most_docs_lack_is_not_required(tmp_path: Path) -> None:
    bare = "---\ntitle: {0}\nmodified: 2026-01-01\n---\n[[a]] [[b]] [[c]]\n"
    text = written_config(
        tmp_path,
        {
            "a.md": bare.format("A"),
            "b.md": bare.format("B"),
            "c.md": card_text("C"),  # the only doc with tags
        },
    )
    assert "# most docs lack `tags` 2 of 3: not required" in text
    assert load_config(cwd=tmp_path).required == ("title", "modified")
    assert "cards_in" not in text


def test_an_empty_list_is_a_value_the_survey_counts_as_present(tmp_path: Path) -> None:
    """`tags: []` is a doc with no tags, as `check` sees it, so tags stays required."""
    empty = "---\ntitle: {0}\nmodified: 2026-01-01\ntags: []\n---\n[[a]] [[b]] [[c]]\n"
    text = written_config(
        tmp_path,
        {"a.md": empty.format("A"), "b.md": empty.format("B"), "c.md": card_text("C")},
    )
    assert "not required" not in text
    assert load_config(cwd=tmp_path).required == ("title", "modified", "tags")


def test_an_existing_configuration_is_kept_unless_forced(tmp_path: Path) -> None:
    (tmp_path / "mikado.toml").write_text("[mikado]\n")
    with pytest.raises(UsageError, match="already configures mikado; pass --force"):
        written_config(tmp_path, {"a.md": doc("A")})
    assert (tmp_path / "mikado.toml").read_text() == "[mikado]\n"
    assert written_config(tmp_path, {"a.md": doc("A")}, force=True).startswith("# mikado's")
    (tmp_path / "mikado.toml").unlink()
    # A [tool.mikado] in this folder's pyproject.toml would be shadowed by a mikado.toml.
    (tmp_path / "pyproject.toml").write_text("[tool.mikado]\ndocs = 'docs'\n")
    with pytest.raises(UsageError, match=r"pyproject\.toml already configures mikado"):
        written_config(tmp_path, {})
    with pytest.raises(UsageError, match=r"init writes a mikado\.toml"):
        propose(tmp_path, tmp_path / "docs", Path("pyproject.toml"))


def test_preview_checks_with_the_proposal_and_writes_nothing(tmp_path: Path) -> None:
    write_files(tmp_path / "docs", {"a.md": doc("A", "[[b]]"), "b.md": doc("B", "[[a]]")})
    proposal = propose(tmp_path, tmp_path / "docs")
    assert preview(proposal).errors == 0
    write_files(tmp_path / "docs", {"b.md": doc("B", "[[a]] [[gone]]")})
    report = preview(proposal)
    assert [(f.rule, f.path) for f in report.findings] == [("broken-link", "b.md")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs"]  # no file, no .mikado/


def test_baseline_ignores_today_s_errors_per_file_only(tmp_path: Path) -> None:
    write_files(
        tmp_path / "docs",
        {
            "index.md": doc("Index", "[[b]]"),
            "a[1].md": doc("A", "[[nowhere]]"),  # a glob character in the name, and no link
            "b.md": "no front-matter\n",
        },
    )
    proposal = propose(tmp_path, tmp_path / "docs")
    proposal = with_baseline(proposal, preview(proposal))
    assert proposal.baseline == (
        "broken-link:a[[]1].md",
        "frontmatter-missing:b.md",
        "orphan:a[[]1].md",
    )
    write(proposal)
    assert "# the last 3 entries: findings there were at adoption" in proposal.text()
    assert check_docs(load_config(cwd=tmp_path)).errors == 0
    # Another doc is still held to the rule.
    write_files(tmp_path / "docs", {"c.md": doc("C", "[[nowhere]]")})
    report = check_docs(load_config(cwd=tmp_path))
    assert [(f.rule, f.path) for f in report.findings] == [
        ("orphan", "c.md"),
        ("broken-link", "c.md"),
    ]


def test_a_docs_folder_outside_the_config_folder(tmp_path: Path) -> None:
    write_files(tmp_path / "handbook", {"a.md": doc("A")})
    (tmp_path / "repo").mkdir()
    write(propose(tmp_path / "repo", tmp_path / "handbook"))
    docs = load_config(cwd=tmp_path / "repo").docs
    assert (str(docs), docs.resolve()) == (f"{tmp_path}/repo/../handbook", tmp_path / "handbook")


def test_build_time_docs_are_broken_targets_with_a_file_beside_the_docs(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "CHANGELOG.md": "# Changelog\n",
            "LICENSE.md": "not linked\n",
            "notes.md": "a stem of the tree decides its own links\n",
            "docs/index.md": doc("Index", "[[CHANGELOG]] [[changelog]] [[notes]] [[gone]]\n"),
            "docs/notes.md": doc("Notes", "[[index]]\n"),
        },
    )
    proposal = propose(tmp_path, tmp_path / "docs")
    assert proposal.build_time_docs == ("CHANGELOG",)  # exact case; nothing for `gone`
    assert proposal.build_time[0].file == tmp_path / "CHANGELOG.md"
    write(proposal)
    assert load_config(cwd=tmp_path).build_time_docs == ("CHANGELOG",)
    assert "(CHANGELOG.md): the site build copies them in" in proposal.text()
    report = check_docs(load_config(cwd=tmp_path))
    assert sorted(f.target or "" for f in report.findings) == ["changelog", "gone"]
    # Baselining keeps them.
    assert with_baseline(proposal, report).build_time_docs == ("CHANGELOG",)


def test_build_time_docs_are_looked_for_beside_the_docs_folder_too(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "site/CHANGELOG.md": "# Changelog\n",
            "site/docs/index.md": doc("Index", "[[CHANGELOG]]\n"),
            "site/docs/CHANGELOG/readme.txt": "a folder is not the file\n",
        },
    )
    (tmp_path / "conf").mkdir()
    proposal = propose(tmp_path / "conf", tmp_path / "site/docs")
    assert proposal.build_time_docs == ("CHANGELOG",)
    assert "(../site/CHANGELOG.md)" in proposal.text()
    (tmp_path / "site/CHANGELOG.md").unlink()
    (tmp_path / "site/CHANGELOG.md").mkdir()
    assert propose(tmp_path / "conf", tmp_path / "site/docs").build_time_docs == ()
