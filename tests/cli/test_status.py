"""`mikado status --all`: complete chains listed beside the open ones."""

from __future__ import annotations

import json

import pytest
from conftest import Tree
from treebuilder import card_text

from mikado.cli import run_cli


@pytest.fixture
def two_chains(tree: Tree) -> str:
    return str(
        tree(
            {
                "open-goal.md": card_text("Open", status="active", requires=["leaf"]),
                "leaf.md": card_text("Leaf", status="active"),
                "old-goal.md": card_text("Old", requires=["old-leaf"], branch="mikado/old-goal"),
                "old-leaf.md": card_text("Old leaf", status="done"),
                "plain.md": card_text("Plain doc"),
            }
        )
    )


def test_all_lists_complete_chains_too(capsys: pytest.CaptureFixture[str], two_chains: str) -> None:
    assert run_cli(["--docs", two_chains, "status"]) == 0
    assert "old-goal" not in capsys.readouterr().out
    assert run_cli(["--docs", two_chains, "status", "--all"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert [row.split()[0] for row in rows] == ["old-goal", "open-goal"]
    assert "2/2" in rows[0] and "0/2" in rows[1]
    assert run_cli(["--docs", two_chains, "status", "--all", "--format", "json"]) == 0
    chains = json.loads(capsys.readouterr().out)["chains"]
    assert [(c["goal"], c["done"], c["total"]) for c in chains] == [
        ("old-goal", 2, 2),
        ("open-goal", 0, 2),
    ]


def test_all_and_a_goal_exclude_each_other(
    capsys: pytest.CaptureFixture[str], two_chains: str
) -> None:
    assert run_cli(["--docs", two_chains, "status", "open-goal", "--all"]) == 2
    assert "GOAL or --all" in capsys.readouterr().err
