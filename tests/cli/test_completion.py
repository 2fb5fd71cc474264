"""Shell completion of GOAL and CARD arguments, as bash and zsh ask for it."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Tree
from treebuilder import card_text, run_mikado


@pytest.fixture
def docs(tree: Tree) -> Path:
    return tree(
        {
            "zot/harden-zot.md": card_text("Harden", status="active", requires=["zot-auth"]),
            "zot/zot-auth.md": card_text("Auth", status="done"),
            "zot/zot-notes.md": card_text("Notes, plain documentation"),
            "ci/wire-ci.md": card_text("Wire \x1b]8;;x\x07CI", status="active"),
        }
    )


def complete(cwd: Path, line: str, shell: str = "bash") -> list[str]:
    words = line.split(" ")
    result = run_mikado(
        cwd=cwd,
        env={
            "_MIKADO_COMPLETE": f"{shell}_complete",
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(words) - 1),
        },
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return result.stdout.splitlines()


def test_goals_complete_to_card_stems_open_ones_first(tmp_path: Path, docs: Path) -> None:
    assert complete(tmp_path, "mikado --docs docs run ") == [
        "plain,harden-zot",
        "plain,wire-ci",
        "plain,zot-auth",
    ]
    assert complete(tmp_path, "mikado --docs docs status zot") == ["plain,zot-auth"]
    assert complete(tmp_path, "mikado --docs docs graph h") == ["plain,harden-zot"]
    assert complete(tmp_path, "mikado --docs docs next w") == ["plain,wire-ci"]
    assert complete(tmp_path, "mikado --docs docs run harden-zot --only z") == ["plain,zot-auth"]


def test_zsh_shows_titles_made_printable(tmp_path: Path, docs: Path) -> None:
    assert complete(tmp_path, "mikado --docs docs run w", "zsh") == [
        "plain",
        "wire-ci",
        "Wire \\x1b]8;;x\\x07CI",
    ]


def test_a_broken_configuration_completes_nothing_quietly(tmp_path: Path, docs: Path) -> None:
    (tmp_path / "mikado.toml").write_text("[mikado]\nno_such_key = 1\n")
    assert not any(complete(tmp_path, "mikado --docs docs run "))


def test_card_arguments_complete_too(tmp_path: Path, docs: Path) -> None:
    assert complete(tmp_path, "mikado --docs docs done w") == ["plain,wire-ci"]
    assert complete(tmp_path, "mikado --docs docs new x --requires zot-a") == ["plain,zot-auth"]
    assert complete(tmp_path, "mikado --docs docs new x --required-by h") == ["plain,harden-zot"]
    assert complete(tmp_path, "mikado --docs docs finalize h") == ["plain,harden-zot"]
    assert complete(tmp_path, "mikado --docs docs resume w") == ["plain,wire-ci"]
