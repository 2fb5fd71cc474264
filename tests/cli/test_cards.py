"""`mikado done`, `mikado new` and the Mikado loop of `mikado run` on the cards people keep in odd
ways: linked from elsewhere, beside a killed writer's leftovers, or naming a card that would close
a cycle. Real processes on real trees."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from chain_fixtures import Tree, make_tree

from mikado.config import load_config
from mikado.tree.frontmatter import parse_block, split_bytes
from mikado.tree.loader import load_docs


def discovers(stem: str) -> str:
    return (
        "from mikado.errors import PrerequisiteDiscovered\n\n\n"
        "def apply(ctx):\n"
        f"    raise PrerequisiteDiscovered({stem!r}, 'Found', 'learned something')\n"
    )


def test_done_on_a_linked_card_edits_the_target_and_keeps_the_link(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, {"a": {}})
    # the card's file lives in a hidden folder (never read itself); the tree holds a link
    path = tree.card_path("a")
    hidden = path.parent / ".store"
    hidden.mkdir()
    (hidden / "a.md").write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(Path(".store") / "a.md")
    before = os.stat(hidden / "a.md").st_ino

    result = tree.mikado("done", "a")
    assert result.returncode == 0, result.stderr
    assert path.is_symlink() and os.readlink(path) == os.path.join(".store", "a.md")
    # (tree.status would find the card twice: the link and the file it leads to)
    block = split_bytes((hidden / "a.md").read_bytes())
    assert block is not None and "status" not in parse_block(block)
    # replaced atomically (a new file renamed over the target), not rewritten in place
    assert os.stat(hidden / "a.md").st_ino != before


def test_an_edit_sweeps_a_killed_writers_temporary_file(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, {"a": {}})
    folder = tree.card_path("a").parent
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    stale = folder / f".a.md.mikado-{child.pid}.k1llnine.tmp"
    stale.write_text("---\ntitle: half")
    then = time.time() - 3600
    os.utime(stale, (then, then))
    assert tree.mikado("check").returncode == 0  # never a doc, and reading sweeps nothing
    assert stale.exists()

    result = tree.mikado("done", "a")
    assert result.returncode == 0, result.stderr
    assert not stale.exists()


@pytest.mark.parametrize(
    ("cards", "names", "words"),
    [
        ({"leaf": {}, "goal": {"requires": ["leaf"]}}, "leaf", "named itself"),
        (
            {"leaf": {}, "mid": {"requires": ["leaf"]}, "goal": {"requires": ["mid"]}},
            "goal",
            "leaf → goal → mid → leaf",
        ),
    ],
)
def test_a_discovered_prerequisite_that_would_close_a_cycle_fails_the_card(
    tmp_path: Path, cards: dict[str, dict[str, object]], names: str, words: str
) -> None:
    tree = make_tree(tmp_path, cards, {"leaf": discovers(names)})
    before = {stem: tree.meta(stem).get("requires") for stem in cards}
    result = tree.mikado("run", "goal", "--yes")
    assert result.returncode == 1, result.stderr
    assert words in result.stderr
    assert tree.status("leaf") == "failed"
    assert {stem: tree.meta(stem).get("requires") for stem in cards} == before
    # the tree is still a graph every command can read
    load_docs(load_config(cwd=tree.root), strict_graph=True)
    assert tree.mikado("status").returncode == 0


def test_new_refuses_a_cycle_and_changes_nothing(tmp_path: Path) -> None:
    tree: Tree = make_tree(tmp_path, {"leaf": {}, "goal": {"requires": ["leaf"]}})
    before = tree.snapshot()
    result = tree.mikado(
        "new", "mid", "--title", "Mid", "--requires", "goal", "--required-by", "leaf"
    )
    assert result.returncode == 2
    assert "leaf → mid → goal → leaf" in result.stderr
    assert tree.snapshot() == before
    assert tree.mikado("status").returncode == 0


# -- done on a card that has an action -------------------------------------------------------

WRITER = """
def check(ctx):
    return ctx.outputs.get("writer", "issuer") is not None


def apply(ctx):
    ctx.outputs.set("issuer", "https://id.example")
"""

READER = """
def apply(ctx):
    ctx.outputs.read("writer", "issuer")
"""


def test_done_on_a_card_with_an_action_warns_and_the_reader_points_at_recheck(
    tmp_path: Path,
) -> None:
    tree = make_tree(
        tmp_path,
        {"writer": {}, "reader": {"requires": ["writer"]}},
        {"writer": WRITER, "reader": READER},
    )
    done = tree.mikado("done", "writer")
    assert done.returncode == 0, done.stderr
    assert tree.status("writer") is None  # completed all the same
    assert "warning: writer has an action, actions/writer.py, which did not run" in done.stderr
    assert "--recheck" in done.stderr

    run = tree.mikado("run", "reader", "--yes")
    assert run.returncode == 1
    # `writer` is in `requires` already: the hint says what helps
    assert "has recorded no output `issuer`" in run.stderr and "--recheck" in run.stderr
    assert tree.mikado("run", "reader", "--yes", "--recheck").returncode == 0
    assert tree.status("reader") is None


def test_done_on_a_card_without_an_action_says_nothing_more(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, {"manual": {}, "other": {"action": "_helper"}}, {"_helper": ""})
    for stem in ("manual", "other"):  # a `_helper` module is no action
        done = tree.mikado("done", stem)
        assert done.returncode == 0, done.stderr
        assert done.stdout == f"{stem}: complete\n" and done.stderr == ""


# -- new never leaves an orphan ---------------------------------------------------------------


def test_new_without_dependents_is_refused_where_nothing_links_it(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, {"goal": {}})
    before = tree.snapshot()
    result = tree.mikado("new", "extra", "--title", "Extra")
    assert result.returncode == 2
    assert "orphan" in result.stderr and "--required-by" in result.stderr
    assert tree.snapshot() == before


def test_new_in_a_category_without_dependents_keeps_check_green(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, {"goal": {}}, config='ignore = ["action-missing"]\n')
    title = "Wire `ci` [[registry]] | auth ]]"
    result = tree.mikado("new", "extra", "--title", title, "--dir", "cards/work")
    assert result.returncode == 0, result.stderr
    assert "linked from work/work.md" in result.stdout
    check = tree.mikado("check", "--strict")
    assert check.returncode == 0, check.stdout
    assert tree.meta("extra")["title"] == title


def test_new_refuses_a_stem_with_a_backtick(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, {"goal": {}})
    result = tree.mikado("new", "wire`ci", "--title", "Wire", "--required-by", "goal")
    assert result.returncode == 2 and "cannot contain a backtick" in result.stderr
