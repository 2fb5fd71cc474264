"""A scratch git repository with a cards tree, for the workflow tests (branch-check, resume,
finalize). Commits are made by the real `git` with a fixed identity and no user config."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from treebuilder import card_text

IDENTITY = {
    "GIT_AUTHOR_NAME": "Mikado Tester",
    "GIT_AUTHOR_EMAIL": "tester@example.invalid",
    "GIT_COMMITTER_NAME": "Mikado Tester",
    "GIT_COMMITTER_EMAIL": "tester@example.invalid",
}


def isolate_git(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """No global or system git configuration (signing, hooks, templates) leaks into a test."""
    for name, value in IDENTITY.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("GIT_DIR", raising=False)
    monkeypatch.delenv("GIT_WORK_TREE", raising=False)


class GitRepo:
    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            ["git", *args], cwd=self.path, capture_output=True, text=True, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
        return done.stdout

    def write(self, rel: str, text: str) -> Path:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return target

    def read(self, rel: str) -> str:
        return (self.path / rel).read_text(encoding="utf-8")

    def edit(self, rel: str, old: str, new: str) -> None:
        text = self.read(rel)
        assert old in text, f"{old!r} not in {rel}"
        self.write(rel, text.replace(old, new, 1))

    def commit(self, subject: str) -> str:
        """Stage everything and commit; returns the short sha."""
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", subject)
        return self.git("rev-parse", "--short", "HEAD").strip()

    def switch(self, branch: str, *, create: bool = True) -> None:
        self.git("switch", "-q", *(["-c"] if create else []), branch)


GOAL = "ship-it"
BRANCH = f"mikado/{GOAL}"


def chain_repo(root: Path, *, goal_branch: bool = True) -> GitRepo:
    """main holds a planned chain: ship-it requires build-it and test-it, under cards/ship/
    with its category index ship.md, plus code in src/."""
    repo = GitRepo(root)
    repo.write(
        "cards/ship/ship.md",
        card_text("Ship", body="# Ship\n\n[[ship-it]] [[build-it]] [[test-it]]\n"),
    )
    repo.write(
        f"cards/ship/{GOAL}.md",
        card_text(
            "Ship It",
            status="active",
            requires=["build-it", "test-it"],
            branch=BRANCH if goal_branch else None,
        ),
    )
    repo.write("cards/ship/build-it.md", card_text("Build It", status="active"))
    repo.write("cards/ship/test-it.md", card_text("Test It", status="active"))
    repo.write("cards/notes.md", card_text("Notes", body="# Notes\n\nplain documentation\n"))
    repo.write("src/app.py", "print('v1')\n")
    repo.commit("Plan the ship-it chain")
    return repo
