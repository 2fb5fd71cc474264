"""`mikado branch-check` against real git histories: every rule of
docs/reference.md#branch-invariant, valid and violating, and the commit-msg hook mode (message file
plus staged files)."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from gitrepo import BRANCH, GOAL, GitRepo, card_text, chain_repo, isolate_git

from mikado.cli import run_cli
from mikado.workflow.branch_check import Position, message_subject, parse_subject

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    isolate_git(monkeypatch, tmp_path)
    repo = chain_repo(tmp_path / "repo")
    monkeypatch.chdir(repo.path)
    repo.switch(BRANCH)
    return repo


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = run_cli(["branch-check", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def violations(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    code = run_cli(["branch-check", "--format", "json", *args])
    report = json.loads(capsys.readouterr().out)
    assert code == (1 if report["violations"] else 0)
    return list(report["violations"])


def rules(found: list[dict[str, object]]) -> list[object]:
    return [v["rule"] for v in found]


def close(repo: GitRepo, stem: str) -> None:
    repo.edit(f"cards/ship/{stem}.md", "status: active\n", "")


def subject(verb: str, text: str = "work", stem: str = GOAL) -> str:
    return f"C2({stem}): {verb} {text}"


# --- the subject grammar ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "fix stuff",
        "C2(ship-it) impl missing colon",
        "C2(ship-it): implement an unknown verb",
        "C2(ship-it): impl",
        "C2(ship-it):impl no space",
        "c2(ship-it): impl lower-case prefix",
        "C2(): impl empty stem",
    ],
)
def test_non_conventional_subjects_are_refused(text: str) -> None:
    assert parse_subject(text) is None


def test_conventional_subject_is_parsed() -> None:
    parsed = parse_subject("C2(ship-it): close build-it after the smoke test")
    assert parsed is not None
    assert (parsed.stem, parsed.verb, parsed.text) == (
        "ship-it",
        "close",
        "build-it after the smoke test",
    )


def test_message_subject_skips_comments_and_stops_at_scissors() -> None:
    message = (
        "\n# Please enter the commit message\n\nC2(ship-it): impl build\n\nbody\n"
        "# ------------------------ >8 ------------------------\ndiff --git a/x b/x\n"
    )
    assert message_subject(message) == "C2(ship-it): impl build"
    assert message_subject("; note\nC2(ship-it): plan x\n", ";") == "C2(ship-it): plan x"
    assert message_subject("# only a comment\n\n") == ""


# --- valid histories --------------------------------------------------------------------------


def test_other_branch_is_not_checked(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.switch("feature/x")
    repo.write("src/app.py", "anything goes\n")
    repo.commit("not a C2 subject at all")
    code, out = check(capsys)
    assert code == 0
    assert "nothing to check" in out


def test_full_cycle_history_is_valid(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    # Planning layer: a new card, linked from its category index and its dependent.
    repo.write("cards/ship/package-it.md", card_text("Package It", status="active"))
    repo.edit("cards/ship/ship.md", "[[test-it]]", "[[test-it]] [[package-it]]")
    repo.edit(f"cards/ship/{GOAL}.md", "  - test-it\n", "  - test-it\n  - package-it\n")
    repo.commit(subject("plan", "add package-it"))
    repo.write("src/build.py", "build\n")
    repo.commit(subject("impl", "build"))
    repo.write("src/build.py", "build better\n")
    repo.commit(subject("impl", "build better"))
    # Closing updates `modified` too, as `mikado done` and `mikado run` do.
    repo.edit("cards/ship/build-it.md", "modified: 2026-01-01", "modified: 2026-02-03")
    close(repo, "build-it")
    repo.commit(subject("close", "build-it"))
    # A close needs no impl before it (a run closed the card), and may set `status: done`.
    repo.edit("cards/ship/test-it.md", "status: active", "status: done")
    close(repo, "package-it")
    repo.commit(subject("close", "test-it and package-it"))
    close(repo, GOAL)
    repo.commit(subject("close", GOAL))
    # finalize rewrites the cards beyond closing: front-matter fields and bodies.
    for stem in (GOAL, "build-it", "test-it", "package-it"):
        text = repo.read(f"cards/ship/{stem}.md")
        text = text.replace(f"branch: {BRANCH}\n", "").replace("status: done\n", "")
        text = text.replace("requires:\n  - build-it\n  - test-it\n  - package-it\n", "")
        repo.write(f"cards/ship/{stem}.md", text + "\nWhat we learned.\n")
    repo.write("cards/changelog.d/ship-it.feature.md", "Shipped.\n")
    repo.commit(subject("finalize", "rewrite the cards as documentation"))

    assert violations(capsys) == []
    code = run_cli(["branch-check", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["position"] == Position.FINALIZED.value
    assert [c["verb"] for c in report["commits"]] == [
        "plan",
        "impl",
        "impl",
        "close",
        "close",
        "close",
        "finalize",
    ]
    assert report["reset_point"] is None


def test_zero_length_planning_layer_is_valid(
    repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every card, the goal's `branch` included, is already on main.
    repo.write("src/app.py", "print('v2')\n")
    repo.commit(subject("impl", "v2"))
    close(repo, "build-it")
    repo.commit(subject("close", "build-it"))
    code, out = check(capsys)
    assert code == 0, out
    assert "2 commits since main" in out
    assert "between cycles" in out


def test_empty_branch_is_valid(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = check(capsys)
    assert code == 0, out
    assert "0 commits" in out


def test_commits_on_base_after_branching_are_not_judged(
    repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.switch("main", create=False)
    repo.write("src/other.py", "main moved on\n")
    repo.commit("an ordinary commit on main")
    repo.switch(BRANCH, create=False)
    repo.write("src/app.py", "print('v2')\n")
    repo.commit(subject("impl", "v2"))
    assert violations(capsys) == []


def test_base_option_names_the_branch_left(
    repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.switch("main", create=False)
    repo.switch("develop")
    repo.write("src/dev.py", "develop work, not C2\n")
    repo.commit("develop work")
    repo.git("branch", "-q", "-f", BRANCH, "develop")
    repo.switch(BRANCH, create=False)
    repo.write("src/app.py", "print('v2')\n")
    repo.commit(subject("impl", "v2"))
    assert rules(violations(capsys)) == ["subject"]
    assert violations(capsys, "--base", "develop") == []
    code, out = check(capsys, "--base", "no-such-branch")
    assert code == 2
    assert "no-such-branch" in out


# --- violations -------------------------------------------------------------------------------


def test_non_conventional_subject_names_commit_and_rule(
    repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write("src/app.py", "print('v2')\n")
    sha = repo.commit("fix the app")
    code, out = check(capsys)
    assert code == 1
    assert f"{sha} 'fix the app'" in out
    assert "[subject]" in out
    assert f"C2({GOAL}): plan|impl|close|finalize <text>" in out


def test_stem_mismatch(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.write("src/app.py", "print('v2')\n")
    sha = repo.commit(subject("impl", "v2", stem="other-chain"))
    found = violations(capsys)
    assert rules(found) == ["stem-mismatch"]
    assert str(found[0]["commit"]).startswith(sha)
    assert "other-chain" in str(found[0]["message"])


@pytest.mark.parametrize("work", ["impl", "close"])
def test_plan_after_work_commit(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], work: str
) -> None:
    if work == "impl":
        repo.write("src/app.py", "print('v2')\n")
    else:
        close(repo, "build-it")
    first = repo.commit(subject(work))
    repo.write("cards/ship/late.md", card_text("Late", status="active"))
    repo.edit("cards/ship/ship.md", "[[test-it]]", "[[test-it]] [[late]]")
    late = repo.commit(subject("plan", "a late card"))
    found = violations(capsys)
    assert rules(found) == ["plan-after-work"]
    assert str(found[0]["commit"]).startswith(late)
    assert first in str(found[0]["message"])


def test_plan_may_change_only_cards_and_category_indexes(
    repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.edit("cards/ship/ship.md", "[[ship-it]]", "The chain: [[ship-it]]")
    repo.edit("cards/ship/build-it.md", "# Build It", "# Build It\n\nUse make.")
    repo.commit(subject("plan", "index and card"))
    assert violations(capsys) == []
    repo.write("src/app.py", "print('v2')\n")
    repo.edit("cards/notes.md", "plain documentation", "plain documentation, edited")
    sha = repo.commit(subject("plan", "sneaks code in"))
    found = violations(capsys)
    assert rules(found) == ["plan-scope", "plan-scope"]
    messages = " ".join(str(v["message"]) for v in found)
    assert "cards/notes.md" in messages and "src/app.py" in messages
    assert all(str(v["commit"]).startswith(sha) for v in found)


def test_impl_must_not_change_a_card(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.write("src/app.py", "print('v2')\n")
    repo.edit("cards/notes.md", "plain documentation", "documented the app")
    repo.edit("cards/ship/ship.md", "[[ship-it]]", "Index: [[ship-it]]")
    repo.commit(subject("impl", "code and plain docs"))
    assert violations(capsys) == []
    repo.write("src/app.py", "print('v3')\n")
    close(repo, "build-it")
    sha = repo.commit(subject("impl", "closes in passing"))
    found = violations(capsys)
    assert rules(found) == ["impl-scope"]
    assert str(found[0]["commit"]).startswith(sha)
    assert "ship/build-it.md" in str(found[0]["message"])


def test_impl_adding_or_deleting_a_card_is_a_violation(
    repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write("cards/ship/new.md", card_text("New", status="active"))
    repo.commit(subject("impl", "adds a card"))
    (repo.path / "cards/ship/test-it.md").unlink()
    repo.commit(subject("impl", "deletes a card"))
    assert rules(violations(capsys)) == ["impl-scope", "impl-scope"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("code", "not a card"),
        ("requires", "`requires`"),
        ("body", "body"),
        ("new-card", "adds the card"),
        ("still-open", "does not complete"),
        ("already-done", "was not open"),
        ("status-a-list", "was not open"),
        ("plain-doc", "makes notes.md a card"),
    ],
)
def test_close_may_only_close_cards(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], change: str, expected: str
) -> None:
    goal = f"cards/ship/{GOAL}.md"
    if change == "code":
        close(repo, "build-it")
        repo.write("src/app.py", "print('v2')\n")
    elif change == "requires":
        close(repo, "build-it")
        repo.edit(goal, "  - build-it\n", "")
    elif change == "body":
        close(repo, "build-it")
        repo.edit("cards/ship/build-it.md", "# Build It", "# Build It\n\n- [x] built")
    elif change == "new-card":
        repo.write("cards/ship/extra.md", card_text("Extra", status="active"))
    elif change == "still-open":
        repo.edit("cards/ship/build-it.md", "status: active", "status: failed")
    elif change == "already-done":
        repo.edit("cards/ship/build-it.md", "status: active", "status: done")
        repo.commit(subject("plan", "build-it turned out to be done"))
        repo.edit("cards/ship/build-it.md", "status: done\n", "")
    elif change == "status-a-list":  # `check` reports it; the branch check must not crash
        repo.edit("cards/ship/build-it.md", "status: active", "status: [active]")
        repo.commit(subject("plan", "build-it written oddly"))
        repo.edit("cards/ship/build-it.md", "status: [active]\n", "")
    elif change == "plain-doc":
        repo.edit("cards/notes.md", "title: Notes", "title: Notes\nstatus: done")
    sha = repo.commit(subject("close", change))
    found = violations(capsys)
    assert rules(found)[:1] == ["close-scope"], found
    assert all(str(v["commit"]).startswith(sha) for v in found)
    assert expected in " ".join(str(v["message"]) for v in found)


def test_card_rewrite_after_code_is_only_allowed_as_finalize(
    repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write("src/app.py", "print('v2')\n")
    repo.commit(subject("impl", "v2"))
    for stem in ("build-it", "test-it"):
        close(repo, stem)
    repo.commit(subject("close", "leaves"))
    close(repo, GOAL)
    repo.commit(subject("close", "goal"))
    goal = f"cards/ship/{GOAL}.md"
    repo.edit(goal, f"branch: {BRANCH}\nrequires:\n  - build-it\n  - test-it\n", "")
    repo.git("add", "-A")
    message = repo.path.parent / "message.txt"
    message.write_text(subject("close", "strip the goal"), encoding="utf-8")
    found = violations(capsys, "--commit-msg", str(message))
    assert set(rules(found)) == {"close-scope"}
    assert "also changes `branch`, `requires`" in " ".join(str(v["message"]) for v in found)
    message.write_text(subject("finalize", "strip the goal"), encoding="utf-8")
    assert violations(capsys, "--commit-msg", str(message)) == []


def test_commit_after_finalize(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    final = repo.commit(subject("finalize", "too early"))
    repo.write("src/app.py", "print('v2')\n")
    late = repo.commit(subject("impl", "after the end"))
    repo.commit(subject("finalize", "again"))
    found = violations(capsys)
    assert rules(found) == ["after-finalize", "after-finalize"]
    assert str(found[0]["commit"]).startswith(late)
    assert final in str(found[0]["message"])


def test_goal_card_must_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    isolate_git(monkeypatch, tmp_path)
    repo = chain_repo(tmp_path / "repo")
    monkeypatch.chdir(repo.path)
    repo.switch("mikado/no-such-goal")
    repo.write("src/app.py", "print('v2')\n")
    repo.commit("C2(no-such-goal): impl v2")
    found = violations(capsys)
    assert rules(found) == ["goal-missing"]
    assert found[0]["commit"] is None


def test_open_goal_must_name_its_branch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    isolate_git(monkeypatch, tmp_path)
    repo = chain_repo(tmp_path / "repo", goal_branch=False)
    monkeypatch.chdir(repo.path)
    repo.switch(BRANCH)
    repo.write("src/app.py", "print('v2')\n")
    repo.commit(subject("impl", "v2"))
    code, out = check(capsys)
    assert code == 1
    assert "[goal-branch]" in out
    assert f"add `branch: {BRANCH}`" in out
    # Fixing it needs the plan layer first: the repair is a reset, so here the same history
    # with the branch named in a first plan commit passes.
    repo.git("reset", "-q", "--hard", "main")
    repo.edit(f"cards/ship/{GOAL}.md", "status: active", f"status: active\nbranch: {BRANCH}")
    repo.commit(subject("plan", "name the branch"))
    repo.write("src/app.py", "print('v2')\n")
    repo.commit(subject("impl", "v2"))
    assert violations(capsys) == []


# --- commit-msg hook mode ---------------------------------------------------------------------


def test_pending_commit_is_checked_with_its_staged_files(
    repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    message = repo.path / ".git" / "COMMIT_EDITMSG"
    message.write_text(
        f"{subject('impl', 'v2')}\n\n# Please enter the commit message\n", encoding="utf-8"
    )
    repo.write("src/app.py", "print('v2')\n")
    repo.git("add", "src/app.py")
    assert violations(capsys, "--commit-msg", str(message)) == []
    # Unstaged card edits do not count; staged ones do.
    close(repo, "build-it")
    assert violations(capsys, "--commit-msg", str(message)) == []
    repo.git("add", "cards")
    found = violations(capsys, "--commit-msg", str(message))
    assert rules(found) == ["impl-scope"]
    assert found[0]["commit"] is None
    assert found[0]["subject"] == subject("impl", "v2")
    code, out = check(capsys, "--commit-msg", str(message))
    assert code == 1
    assert "(pending) 'C2(ship-it): impl v2'" in out


def test_pending_subject_and_order_are_checked(
    repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write("src/app.py", "print('v2')\n")
    repo.commit(subject("impl", "v2"))
    message = repo.path.parent / "msg"
    message.write_text("wip\n", encoding="utf-8")
    assert rules(violations(capsys, "--commit-msg", str(message))) == ["subject"]
    repo.write("cards/ship/late.md", card_text("Late", status="active"))
    repo.git("add", "-A")
    message.write_text(subject("plan", "late card") + "\n", encoding="utf-8")
    assert rules(violations(capsys, "--commit-msg", str(message))) == ["plan-after-work"]
    # An empty message: git aborts the commit itself, nothing to add.
    message.write_text("# nothing\n", encoding="utf-8")
    assert violations(capsys, "--commit-msg", str(message)) == []


def test_commit_msg_hook_refuses_a_commit_in_git(
    repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    hook = repo.path / ".git" / "hooks" / "commit-msg"
    hook.write_text(
        "#!/bin/sh\n"
        f"PYTHONPATH='{PROJECT}' exec '{sys.executable}' -m mikado branch-check "
        '--commit-msg "$1"\n',
        encoding="utf-8",
    )
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    close(repo, "build-it")
    repo.git("add", "-A")
    refused = subprocess.run(
        ["git", "commit", "-q", "-m", subject("impl", "closes a card")],
        cwd=repo.path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0
    assert "[impl-scope]" in refused.stderr
    assert repo.git("rev-list", "--count", "main..HEAD").strip() == "0"
    accepted = subprocess.run(
        ["git", "commit", "-q", "-m", subject("close", "build-it")],
        cwd=repo.path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert accepted.returncode == 0, accepted.stderr
    assert repo.git("rev-list", "--count", "main..HEAD").strip() == "1"


def test_pre_commit_hook_definition() -> None:
    hooks = yaml.safe_load((PROJECT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    by_id = {hook["id"]: hook for hook in hooks}
    hook = by_id["mikado-branch-check"]
    assert hook["stages"] == ["commit-msg"]
    assert hook["entry"].split() == ["mikado", "branch-check", "--commit-msg"]
    assert hook["language"] == "python"


def test_outside_a_git_repository_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    isolate_git(monkeypatch, tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    (tmp_path / "plain" / "cards").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "plain")
    code, out = check(capsys)
    assert code == 2
    # One line saying what is wrong for mikado, not git's own "fatal: ..." from rev-parse.
    assert out == (
        "mikado: not in a git repository: branch-check judges the commits of the branch "
        "checked out here; run it inside the repository's work tree\n"
    )


def test_inside_the_git_folder_is_the_same_usage_error(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(repo.path / ".git")
    code, out = check(capsys)
    assert (code, out.count("\n")) == (2, 1)
    assert out.startswith("mikado: not in a git repository")


# --- a goal naming its branch -----------------------------------------------------------------

# The branch a team chose for ship-it, named in the goal card instead of mikado/ship-it.
NAMED = "mikado/shipping"


@pytest.fixture
def named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    """The ship-it chain whose goal names `branch: mikado/shipping`, checked out there."""
    isolate_git(monkeypatch, tmp_path)
    repo = chain_repo(tmp_path / "repo")
    repo.edit(f"cards/ship/{GOAL}.md", f"branch: {BRANCH}", f"branch: {NAMED}")
    repo.commit("Name the branch of ship-it")
    monkeypatch.chdir(repo.path)
    repo.switch(NAMED)
    return repo


def test_the_branch_a_goal_names_is_judged_as_that_goal_s(
    named: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    named.write("src/app.py", "print('v2')\n")
    named.commit(subject("impl", "v2"))  # the goal's stem
    named.write("src/app.py", "print('v3')\n")
    named.commit(subject("impl", "v3", stem="shipping"))  # the branch's own suffix
    close(named, "build-it")
    named.commit(subject("close", "build-it"))
    code = run_cli(["branch-check", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report["violations"]
    assert (report["branch"], report["stem"], report["position"]) == (
        NAMED,
        GOAL,
        Position.BETWEEN_CYCLES.value,
    )
    # Without the field this branch would be the chain of a card `shipping`, which does not
    # exist: a goal-missing violation.
    code, out = check(capsys)
    assert (code, out) == (
        0,
        f"{NAMED}: 3 commits since main ({named.git('rev-parse', '--short', 'main').strip()}) "
        "keep the branch invariant (position: between cycles).\n",
    )


def test_a_named_branch_refuses_subjects_of_other_chains(
    named: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    named.write("src/app.py", "print('v2')\n")
    named.commit(subject("impl", "v2", stem="build-it"))
    found = violations(capsys)
    assert rules(found) == ["stem-mismatch"]
    assert found[0]["message"] == (
        f"subject names chain `build-it`, but the branch {NAMED} works `{GOAL}`"
    )


def test_the_field_wins_over_a_card_named_like_the_branch(
    named: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    # A card `shipping` exists too: the branch still works ship-it, the goal that names it.
    named.write("cards/ship/shipping.md", card_text("Shipping", status="active"))
    named.commit(subject("plan", "a shipping card"))
    code = run_cli(["branch-check", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert (code, report["stem"], report["violations"]) == (0, GOAL, [])


def test_the_stem_naming_still_works_but_the_goal_must_name_its_branch(
    named: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    # mikado/ship-it, while ship-it names mikado/shipping: the fallback finds the goal, and
    # the goal-branch rule says which branch the card names.
    named.switch(BRANCH)
    named.write("src/app.py", "print('v2')\n")
    named.commit(subject("impl", "v2"))
    found = violations(capsys)
    assert rules(found) == ["goal-branch"]
    assert f"is open with `branch: {NAMED}`; add `branch: {BRANCH}`" in str(found[0]["message"])


def test_two_open_goals_naming_one_branch_is_an_error(
    named: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    named.write(
        "cards/ship/other-goal.md",
        card_text("Other Goal", status="active", branch=NAMED, body="[[ship-it]]\n"),
    )
    code, out = check(capsys)
    assert code == 1
    assert out == (
        f"mikado: several goal cards name `branch: {NAMED}` (ship/other-goal.md, "
        f"ship/{GOAL}.md); a branch works one chain, so keep the field on one of them\n"
    )
    # A complete goal still naming the branch (not finalized yet) gives way to the open one.
    named.edit("cards/ship/other-goal.md", "status: active\n", "")
    code = run_cli(["branch-check", "--format", "json"])
    assert (code, json.loads(capsys.readouterr().out)["stem"]) == (0, GOAL)


def test_a_named_branch_keeps_its_goal_after_finalize_strips_the_field(
    named: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    """`finalize` removes `branch:`; the branch's own C2(<stem>) history still says which
    goal it worked, so neither the finalize commit (commit-msg hook) nor the finished branch
    is judged as the chain of a card `shipping` that does not exist."""
    named.write("src/app.py", "print('v2')\n")
    named.commit(subject("impl", "v2"))
    for stem in ("build-it", "test-it", GOAL):
        close(named, stem)
    named.commit(subject("close", "all"))
    named.edit(f"cards/ship/{GOAL}.md", f"branch: {NAMED}\n", "")
    named.git("add", "-A")
    message = named.path.parent / "message.txt"
    message.write_text(subject("finalize", "strip the goal"), encoding="utf-8")
    assert violations(capsys, "--commit-msg", str(message)) == []
    named.commit(subject("finalize", "strip the goal"))
    code = run_cli(["branch-check", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report["violations"]
    assert (report["stem"], report["position"]) == (GOAL, Position.FINALIZED.value)
    assert run_cli(["resume"]) == 0
    assert "No goal card" not in capsys.readouterr().out
