from __future__ import annotations

from pathlib import Path

from conftest import Tree
from treebuilder import card_text

from mikado.config import load_config
from mikado.model.chains import Plan, State
from mikado.tree.loader import load_docs


def plan_of(root: Path, *, run_live: bool = False) -> Plan:
    docs = load_docs(load_config(docs=root, cwd=root.parent), strict_graph=True)
    return Plan(docs, run_live=run_live)


def states(plan: Plan, goal: str) -> dict[str, str]:
    chain = plan.chain(goal)
    return {card.stem: chain.state(card.stem).value for card in chain.cards}


def test_diamond_with_shared_prerequisite(tree: Tree) -> None:
    root = tree(
        {
            "goal.md": card_text("Goal", status="active", requires=["left", "right"]),
            "left.md": card_text("L", status="active", requires=["base"]),
            "right.md": card_text("R", status="active", requires=["base"]),
            "base.md": card_text("Base", status="active"),
        }
    )
    plan = plan_of(root)
    assert plan.root_goals() == ["goal"]
    chain = plan.chain("goal")
    assert [c.stem for c in chain.cards] == ["base", "left", "right", "goal"]
    assert states(plan, "goal") == {
        "base": "ready",
        "left": "waiting",
        "right": "waiting",
        "goal": "waiting",
    }
    assert (chain.done, chain.total) == (0, 4)


def test_state_precedence(tree: Tree) -> None:
    root = tree(
        {
            "goal.md": card_text("Goal", status="active", requires=["mid", "ok", "run"]),
            "mid.md": card_text("Mid", status="failed", requires=["broken"]),
            "broken.md": card_text("Broken", status="failed"),
            "ok.md": card_text("Ok", status="done"),
            "run.md": card_text("Run", status="running"),
        }
    )
    assert states(plan_of(root), "goal") == {
        "broken": "failed",
        "mid": "blocked",  # blocked beats failed
        "ok": "done",
        "run": "ready",  # left running by a dead run
        "goal": "blocked",
    }
    assert states(plan_of(root, run_live=True), "goal")["run"] == "running"


def test_waiting_behind_a_running_card(tree: Tree) -> None:
    root = tree(
        {
            "goal.md": card_text("Goal", status="active", requires=["run"]),
            "run.md": card_text("Run", status="running"),
        }
    )
    assert states(plan_of(root, run_live=True), "goal") == {"run": "running", "goal": "waiting"}


def test_several_chains_and_an_open_card_below_a_complete_one(tree: Tree) -> None:
    root = tree(
        {
            "alpha.md": card_text("Alpha", status="active", requires=["done-step"]),
            "done-step.md": card_text("Done step", requires=["deep"]),
            "deep.md": card_text("Deep", status="active"),
            "beta.md": card_text("Beta", status="active", requires=["plain"]),
            "plain.md": card_text("Plain doc"),
        }
    )
    plan = plan_of(root)
    # `deep` is required only by a complete card, so it is a goal of its own.
    assert plan.root_goals() == ["alpha", "beta", "deep"]
    assert states(plan, "alpha") == {"deep": "ready", "done-step": "done", "alpha": "ready"}
    assert states(plan, "beta") == {"plain": "done", "beta": "ready"}
    assert states(plan, "deep") == {"deep": "ready"}


def test_a_goal_with_no_open_prerequisite_is_its_own_ready_card(tree: Tree) -> None:
    root = tree({"solo.md": card_text("Solo", status="active")})
    plan = plan_of(root)
    chain = plan.chain("solo")
    assert chain.stems_in(State.READY) == ["solo"]
    assert chain.takeable() == ["solo"]


def test_takeable_includes_failed_cards_whose_prerequisites_are_complete(tree: Tree) -> None:
    root = tree(
        {
            "goal.md": card_text("Goal", status="active", requires=["a", "b"]),
            "a.md": card_text("A", status="failed"),
            "b.md": card_text("B", status="active"),
        }
    )
    assert plan_of(root).chain("goal").takeable() == ["a", "b"]


def test_complete_chain_can_still_be_named(tree: Tree) -> None:
    root = tree({"g.md": card_text("G", requires=["p"]), "p.md": card_text("P")})
    plan = plan_of(root)
    assert plan.root_goals() == []
    chain = plan.chain("g")
    assert (chain.done, chain.total, chain.is_open) == (2, 2, False)
