"""How paths are shown to people: from the current folder when inside it, else absolute."""

from __future__ import annotations

from pathlib import Path

from treebuilder import card_text, run_mikado

from mikado.errors import DocsError
from mikado.model.findings import error
from mikado.views.paths import shown_path, shown_problems


def test_inside_the_current_folder_relative_outside_absolute(tmp_path: Path) -> None:
    here = tmp_path / "repo"
    assert shown_path(here / "docs" / "a.md", here) == "docs/a.md"
    assert shown_path(here / "docs" / ".." / "a.md", here) == "a.md"
    assert shown_path(tmp_path / "other" / "a.md", here) == str(tmp_path / "other" / "a.md")
    assert shown_path(here, here) == "."


def test_findings_of_a_docs_error_are_shown_from_the_current_folder(tmp_path: Path) -> None:
    finding = error("cycle", "ops/a.md", 6, "a → b → a", "a")
    shown = shown_problems(DocsError("2 problems", (finding, "other")), tmp_path / "docs")
    assert [str(p) for p in shown.problems] == [
        f"{tmp_path / 'docs' / 'ops' / 'a.md'}:6: a → b → a [cycle]",
        "other",
    ]
    assert shown.message == "2 problems"


def test_check_status_and_run_name_a_broken_card_alike(tmp_path: Path) -> None:
    docs = tmp_path / "docs" / "ops"
    docs.mkdir(parents=True)
    (docs / "g.md").write_text(card_text("G", status="active", requires=["nope"]))
    (tmp_path / "mikado.toml").write_text('[mikado]\ndocs = "docs"\nignore = ["orphan"]\n')
    check = run_mikado("check", cwd=tmp_path)
    assert "docs/ops/g.md\n" in check.stdout
    status = run_mikado("status", cwd=tmp_path)
    assert status.returncode == 1
    assert "error: docs/ops/g.md:6: `requires` names `nope`" in status.stderr
    run = run_mikado("run", "g", "--dry-run", cwd=tmp_path)
    assert run.returncode == 1
    assert "error: docs/ops/g.md:6: `requires` names `nope`" in run.stderr
    # from a folder the docs are not inside: absolute
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    outside = run_mikado("--config", tmp_path / "mikado.toml", "status", cwd=elsewhere)
    assert f"error: {docs / 'g.md'}:6: `requires`" in outside.stderr
    outside_check = run_mikado("--config", tmp_path / "mikado.toml", "check", cwd=elsewhere)
    assert f"{docs / 'g.md'}\n" in outside_check.stdout
