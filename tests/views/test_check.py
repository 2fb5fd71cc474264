"""`mikado check` as people and CI see it: the three formats, colour and exit codes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from terminal import on_a_terminal
from treebuilder import doc, run_mikado, write_tree

FILES: dict[str, str | bytes] = {
    "guide/guide.md": doc("Guide", "[[setup]]\n"),
    "guide/setup.md": doc("Setup", "Intro.\n\n[[nope]] and [[ guide ]]\n", status="active"),
    "b.md": "no front-matter, 50% [[gone%]]\n",
}


@pytest.fixture
def base(tmp_path: Path) -> Path:
    write_tree(tmp_path, FILES)
    return tmp_path


def test_json_has_the_spec_shape_sorted_by_path_line_rule(base: Path) -> None:
    result = run_mikado("check", "--format", "json", cwd=base)
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert list(data) == ["docs", "cards", "errors", "warnings", "findings"]
    assert (data["docs"], data["cards"], data["errors"], data["warnings"]) == (4, 1, 4, 1)
    assert [(f["path"], f["line"], f["rule"]) for f in data["findings"]] == [
        ("b.md", None, "frontmatter-missing"),
        ("b.md", 1, "broken-link"),
        ("guide/setup.md", None, "action-missing"),
        ("guide/setup.md", 9, "broken-link"),
        ("guide/setup.md", 9, "spaced-link"),
    ]
    first = data["findings"][3]
    assert first == {
        "rule": "broken-link",
        "severity": "error",
        "path": "guide/setup.md",
        "line": 9,
        "message": first["message"],
        "target": "nope",
    }
    assert first["message"].startswith("wiki-link [[nope]] matches no doc")


def test_github_annotations_name_files_from_the_current_folder(base: Path) -> None:
    result = run_mikado("check", "--format", "github", cwd=base)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "::error file=docs/b.md::no front-matter: start the file with a `---` line, the "
        "fields, and `---` [frontmatter-missing]"
    )
    assert lines[1].startswith("::error file=docs/b.md,line=1::wiki-link [[gone%25]] matches")
    assert lines[2].startswith("::warning file=docs/guide/setup.md::open card with no action")
    assert lines[3].startswith("::error file=docs/guide/setup.md,line=9::wiki-link [[nope]]")
    assert len(lines) == 5
    inside = run_mikado(
        "check", "--format", "github", "--config", "../mikado.toml", cwd=base / "docs"
    )
    assert inside.stdout.splitlines()[0].startswith("::error file=b.md::")


def test_human_output_groups_findings_by_file(base: Path) -> None:
    result = run_mikado("check", cwd=base)
    assert result.returncode == 1
    assert "\x1b[" not in result.stdout
    text = result.stdout
    assert text.index("docs/b.md\n") < text.index("docs/guide/setup.md\n")
    section = text[text.index("docs/guide/setup.md\n") :]
    assert "  -  warning  open card with no action" in section
    assert "  9  error    wiki-link [[nope]] matches no doc" in section
    assert text.rstrip().endswith("4 errors, 1 warning in 4 docs (1 card)")


def test_a_file_name_s_escape_sequence_is_shown_not_obeyed(tmp_path: Path) -> None:
    """A doc named with an OSC sequence (a window title, a hyperlink) is listed with the
    sequence escaped, in the path and in messages quoting the name."""
    stem = "odd\x1b]0;owned\x07name"
    (tmp_path / f"{stem}.md").write_text("---\ntitle: [unclosed\n---\n")
    result = run_mikado("check", "--docs", ".", cwd=tmp_path)
    assert result.returncode == 1
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "odd\\x1b]0;owned\\x07name.md\n" in result.stdout
    assert "[[odd\\x1b]0;owned\\x07name]]" in result.stdout  # the orphan message


def test_colour_only_on_a_terminal_and_never_with_no_color(base: Path) -> None:
    def on_terminal(env: dict[str, str]) -> str:
        return on_a_terminal(["check"], base, env)

    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    assert "\x1b[31m" in on_terminal(env)  # errors in red
    assert "\x1b[" not in on_terminal({**env, "NO_COLOR": "1"})


def test_exit_codes(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a.md": doc("A", status="active")})  # one warning
    assert run_mikado("check", cwd=tmp_path).returncode == 0
    assert run_mikado("check", "--strict", cwd=tmp_path).returncode == 1
    assert run_mikado("--format", "json", "check", cwd=tmp_path).returncode == 0
    bad = run_mikado("check", "--format", "xml", cwd=tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    (tmp_path / "mikado.toml").write_text('[mikado]\ndocs = "docs"\nignore = ["orphans"]\n')
    typo = run_mikado("check", cwd=tmp_path)
    assert typo.returncode == 2 and "orphans" in typo.stderr


def test_a_clean_tree_says_so(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a.md": doc("A")})
    result = run_mikado("check", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "2 docs (0 cards): no findings\n")
    assert run_mikado("check", "--format", "github", cwd=tmp_path).stdout == ""


def test_a_large_tree_shows_the_docs_read_on_a_terminal_only(tmp_path: Path) -> None:
    """The status line is for a person watching: rewritten in place while the docs are read,
    cleared before the report, and absent from what a pipe (a CI log) receives."""
    files = {f"d{n:04d}.md": doc(f"D{n}") for n in range(2100)}  # 2,000 docs make it show
    write_tree(tmp_path, files)
    screen = on_a_terminal(["check"], tmp_path, dict(os.environ))
    final = "reading docs 2,101 / 2,101"
    assert "\rreading docs " in screen and final in screen
    assert screen.index(final) < screen.index("2101 docs")
    assert "\r" + " " * len(final) + "\r" in screen  # cleared before the report
    piped = run_mikado("check", cwd=tmp_path)
    assert piped.returncode == 0, piped.stderr
    assert "reading docs" not in piped.stdout + piped.stderr
