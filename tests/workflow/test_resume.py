"""`mikado resume`: branch positions, reset points, ready cards and stashes from real git
repositories, and which chain to take up from another branch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from gitrepo import BRANCH, GOAL, GitRepo, card_text, chain_repo, isolate_git

from mikado.cli import run_cli


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    isolate_git(monkeypatch, tmp_path)
    repo = chain_repo(tmp_path / "repo")
    monkeypatch.chdir(repo.path)
    return repo


def resume(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert run_cli(["resume", "--format", "json", *args]) == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


def sha(repo: GitRepo, rev: str = "HEAD") -> str:
    return repo.git("rev-parse", rev).strip()


def close(repo: GitRepo, stem: str) -> None:
    repo.edit(f"cards/ship/{stem}.md", "status: active\n", "")
    repo.commit(f"C2({GOAL}): close {stem}")


def impl(repo: GitRepo, text: str) -> None:
    repo.write("src/app.py", f"print({text!r})\n")
    repo.commit(f"C2({GOAL}): impl {text}")


def test_fresh_branch_is_planning_and_resets_to_base(
    repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.switch(BRANCH)
    state = resume(capsys)
    assert state["on_branch"] is True
    assert state["position"] == "planning"
    assert state["reset_point"]["commit"] == sha(repo, "main")
    assert state["ready"] == ["build-it", "test-it"]
    assert (state["done"], state["total"]) == (0, 3)


def test_positions_and_reset_points_through_a_cycle(
    repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.switch(BRANCH)
    repo.edit("cards/ship/build-it.md", "# Build It", "# Build It\n\nWith make.")
    repo.commit(f"C2({GOAL}): plan detail build-it")
    plan = sha(repo)
    state = resume(capsys)
    assert (state["position"], state["reset_point"]["commit"]) == ("planning", plan)

    impl(repo, "one")
    impl(repo, "two")
    state = resume(capsys)
    # Mid-cycle: a new prerequisite means going back before the code commits.
    assert (state["position"], state["reset_point"]["commit"]) == ("mid-cycle", plan)

    close(repo, "build-it")
    closed = sha(repo)
    state = resume(capsys)
    assert (state["position"], state["reset_point"]["commit"]) == ("between cycles", closed)
    assert state["ready"] == ["test-it"]

    impl(repo, "three")
    state = resume(capsys)
    assert (state["position"], state["reset_point"]["commit"]) == ("mid-cycle", closed)

    close(repo, "test-it")
    close(repo, GOAL)
    state = resume(capsys)
    assert state["position"] == "between cycles"
    assert (state["done"], state["total"]) == (3, 3)
    assert any(f"mikado finalize {GOAL}" in step for step in state["next"])

    assert run_cli(["finalize", GOAL]) == 0
    repo.commit(f"C2({GOAL}): finalize cards to documentation")
    capsys.readouterr()
    state = resume(capsys)
    assert state["position"] == "finalized"
    assert state["reset_point"] is None


def test_violation_position_lists_the_violations(
    repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.switch(BRANCH)
    impl(repo, "one")
    repo.write("src/app.py", "oops\n")
    bad = repo.commit("quick fix")
    state = resume(capsys)
    assert state["position"] == "violation"
    assert [v["rule"] for v in state["violations"]] == ["subject"]
    assert state["violations"][0]["commit"].startswith(bad)
    assert state["reset_point"]["commit"] == sha(repo, "main")
    close(repo, "build-it")  # later good commits do not become reset points
    state = resume(capsys)
    assert state["reset_point"]["commit"] == sha(repo, "main")
    assert run_cli(["resume"]) == 0
    out = capsys.readouterr().out
    assert f"violation: {bad} 'quick fix'" in out
    assert f"repair the history: `git reset --hard {sha(repo, 'main')[:7]}`" in out


def test_human_output_shows_tree_reset_point_and_stash(
    repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.switch(BRANCH)
    impl(repo, "one")
    repo.write("src/app.py", "work in progress\n")
    repo.git("stash", "push", "-q", "-m", "half-done build")
    assert run_cli(["resume"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Branch {BRANCH}: mid-cycle\n")
    assert "Ship It — 0/3 done" in out
    assert f"Reset point for a new prerequisite: {sha(repo, 'main')[:7]}" in out
    assert "Ready: build-it, test-it" in out
    assert "Stashed work:\n  stash@{0} On mikado/ship-it: half-done build" in out
    assert "git reset --hard" in out


def test_goal_must_match_the_branch(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.switch(BRANCH)
    assert run_cli(["resume", "build-it"]) == 2
    assert "git switch mikado/build-it" in capsys.readouterr().err


def test_off_branch_suggests_a_started_chain_then_the_most_progressed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    isolate_git(monkeypatch, tmp_path)
    repo = chain_repo(tmp_path / "repo", goal_branch=False)
    monkeypatch.chdir(repo.path)
    repo.write("cards/other/other.md", card_text("Other", body="[[other-goal]] [[prepared]]"))
    repo.write(
        "cards/other/other-goal.md",
        card_text("Other Goal", status="active", requires=["prepared"]),
    )
    repo.write("cards/other/prepared.md", card_text("Prepared"))
    repo.commit("Plan another chain")

    state = resume(capsys)
    assert state["on_branch"] is False
    assert [c["goal"] for c in state["chains"]] == ["other-goal", GOAL]
    assert state["suggested"] == "other-goal"  # 1/2 done beats 0/3
    assert state["next"][0] == "start other-goal: `git switch -c mikado/other-goal`"

    repo.git("branch", BRANCH)  # work on ship-it has started
    state = resume(capsys)
    assert state["suggested"] == GOAL
    assert state["next"] == [f"resume {GOAL}: `git switch {BRANCH}`, then `mikado resume`"]
    assert run_cli(["resume"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("On branch main, not a mikado/<goal> branch.")
    assert f"branch {BRANCH} exists" in out

    state = resume(capsys, "other-goal")
    assert [c["goal"] for c in state["chains"]] == ["other-goal"]


def test_branch_without_its_goal_card(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.switch("mikado/unplanned")
    state = resume(capsys)
    assert state["position"] == "planning"
    assert state["total"] is None
    assert state["next"] == [
        "create the goal card `unplanned` (with `branch: mikado/unplanned`) in a "
        "`C2(unplanned): plan ...` commit"
    ]
    assert run_cli(["resume"]) == 0
    assert "No goal card `unplanned` exists yet." in capsys.readouterr().out


def test_no_open_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    isolate_git(monkeypatch, tmp_path)
    repo = GitRepo(tmp_path / "repo")
    repo.write("cards/notes.md", card_text("Notes"))
    repo.commit("docs only")
    monkeypatch.chdir(repo.path)
    state = resume(capsys)
    assert state["chains"] == [] and state["suggested"] is None
    assert run_cli(["resume"]) == 0
    assert "no open chains" in capsys.readouterr().out


# --- a goal naming its branch, and no repository ----------------------------------------------

NAMED = "mikado/shipping"  # the branch ship-it's goal card names (its stem differs)


def name_branch(repo: GitRepo) -> None:
    repo.edit(f"cards/ship/{GOAL}.md", f"branch: {BRANCH}", f"branch: {NAMED}")
    repo.commit("Name the branch of ship-it")


def test_on_the_branch_the_goal_names(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    name_branch(repo)
    repo.switch(NAMED)
    impl(repo, "one")
    state = resume(capsys)
    assert state["on_branch"] is True
    assert (state["branch"], state["goal"], state["position"]) == (NAMED, GOAL, "mid-cycle")
    assert (state["done"], state["total"]) == (0, 3)
    assert state["violations"] == []
    assert run_cli(["resume"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Branch {NAMED}: mid-cycle\n")
    assert "Ship It — 0/3 done" in out
    assert run_cli(["resume", GOAL]) == 0  # the goal of this branch, though not its suffix
    capsys.readouterr()
    assert run_cli(["resume", "build-it"]) == 2
    assert "`git switch mikado/build-it`" in capsys.readouterr().err


def test_off_branch_finds_the_branch_a_goal_names(
    repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    name_branch(repo)
    state = resume(capsys)
    assert state["chains"][0]["branch_exists"] is False
    assert state["next"] == [f"start {GOAL}: `git switch -c {NAMED}`"]
    repo.git("branch", BRANCH)  # the stem's name is not the goal's branch
    assert resume(capsys)["chains"][0]["branch_exists"] is False
    repo.git("branch", NAMED)
    state = resume(capsys)
    assert state["chains"][0]["branch_exists"] is True
    assert state["next"] == [f"resume {GOAL}: `git switch {NAMED}`, then `mikado resume`"]
    # From another chain's branch, the goal's own branch is the one to switch to.
    repo.switch("mikado/other")
    assert run_cli(["resume", GOAL]) == 2
    assert f"`git switch {NAMED}` to resume it" in capsys.readouterr().err


def test_outside_a_repository_the_open_chains_still_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    isolate_git(monkeypatch, tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    plain = tmp_path / "plain"
    (plain / "cards").mkdir(parents=True)
    (plain / "cards" / "index.md").write_text(card_text("Index", body="[[ship-it]] [[build-it]]"))
    (plain / "cards" / f"{GOAL}.md").write_text(
        card_text("Ship It", status="active", requires=["build-it"], branch=NAMED)
    )
    (plain / "cards" / "build-it.md").write_text(card_text("Build It", status="active"))
    monkeypatch.chdir(plain)
    state = resume(capsys)
    assert state["on_branch"] is False and state["in_repository"] is False
    assert (state["branch"], state["stashes"]) == (None, [])
    assert [(c["goal"], c["branch_exists"]) for c in state["chains"]] == [(GOAL, False)]
    assert state["next"] == [
        f"run `mikado resume` in the git work tree of these docs to match {NAMED} and see "
        f"where {GOAL} stands"
    ]
    assert run_cli(["resume"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.splitlines()[:2] == [
        "Not in a git repository, so no branch could be matched. Open chains, most promising "
        "first:",
        f"  {GOAL}  0/2 done  goal names {NAMED}  ready: build-it",
    ]
