"""`mikado graph`: the drawing chosen with --as or with --format, which every command takes."""

from __future__ import annotations

import pytest
from conftest import Tree
from treebuilder import card_text

from mikado.cli import run_cli


@pytest.fixture
def docs(tree: Tree) -> str:
    return str(
        tree(
            {
                "g.md": card_text("G", status="active", requires=["a"]),
                "a.md": card_text("A", status="active"),
            }
        )
    )


def draw(capsys: pytest.CaptureFixture[str], docs: str, *args: str) -> tuple[int, str]:
    code = run_cli(["--docs", docs, "graph", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize(
    ("args", "first"),
    [
        ((), "flowchart BT"),
        (("--as", "mermaid"), "flowchart BT"),
        (("--as", "dot"), "digraph mikado {"),
        (("--format", "dot"), "digraph mikado {"),
        (("--format", "mermaid"), "flowchart BT"),
        (("--format", "human"), "flowchart BT"),
        (("--format", "dot", "--as", "dot"), "digraph mikado {"),
    ],
)
def test_as_and_format_choose_the_drawing(
    capsys: pytest.CaptureFixture[str], docs: str, args: tuple[str, ...], first: str
) -> None:
    code, out = draw(capsys, docs, *args)
    assert code == 0, out
    assert out.splitlines()[0].startswith(first)


def test_as_and_format_that_disagree_or_an_unknown_format_are_usage_errors(
    capsys: pytest.CaptureFixture[str], docs: str
) -> None:
    code, out = draw(capsys, docs, "--format", "dot", "--as", "mermaid")
    assert code == 2 and "ask for different drawings" in out
    code, out = draw(capsys, docs, "--format", "json")
    assert code == 2 and "choose: human, mermaid, dot" in out
