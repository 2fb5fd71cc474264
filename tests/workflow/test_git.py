"""The git plumbing wrapper against a real repository."""

from __future__ import annotations

from pathlib import Path

import pytest
from gitrepo import GitRepo, isolate_git

from mikado.errors import UsageError
from mikado.workflow.git import NotInWorkTree, Repo, stem_of_branch


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    isolate_git(monkeypatch, tmp_path)
    return GitRepo(tmp_path / "repo")


def test_blobs_read_many_specs_in_one_call(repo: GitRepo) -> None:
    repo.write("docs/a b.md", "spaced\n")
    repo.write("docs/ünï.md", "unicode\n")
    (repo.path / "bin.dat").write_bytes(b"\x00\xff\n\n" * 3)
    first = repo.commit("first")
    repo.write("docs/a b.md", "spaced, staged\n")
    repo.git("add", "-A")
    git = Repo(repo.path)
    found = git.blobs(
        [
            f"{first}:docs/a b.md",
            ":docs/a b.md",
            f"{first}:docs/ünï.md",
            f"{first}:bin.dat",
            f"{first}:docs",  # a tree, not a file
            f"{first}:docs/no such.md",
        ]
    )
    assert found == {
        f"{first}:docs/a b.md": b"spaced\n",
        ":docs/a b.md": b"spaced, staged\n",
        f"{first}:docs/ünï.md": b"unicode\n",
        f"{first}:bin.dat": b"\x00\xff\n\n" * 3,
        f"{first}:docs": None,
        f"{first}:docs/no such.md": None,
    }


def test_history_and_changes(repo: GitRepo) -> None:
    repo.write("a.txt", "1\n")
    repo.commit("root commit")
    repo.switch("mikado/x")
    repo.write("a.txt", "2\n")
    repo.write("b c.txt", "new\n")
    repo.commit("second: with | odd ; subject")
    git = Repo(repo.path)
    assert git.current_branch() == "mikado/x"
    base = git.merge_base("main")
    commits = git.commits_since(base)
    assert [c.subject for c in commits] == ["second: with | odd ; subject"]
    assert {(c.status, c.path) for c in git.changes(commits)[commits[0].sha]} == {
        ("M", "a.txt"),
        ("A", "b c.txt"),
    }
    root = git.commits_since(None)[0]
    assert root.parent is None
    empty = repo.commit("empty")
    everything = git.commits_since(None)
    assert [c.short for c in everything][-1] == empty
    changes = git.changes(everything)
    assert [(c.status, c.path) for c in changes[root.sha]] == [("A", "a.txt")]
    assert changes[everything[-1].sha] == []
    (repo.path / "a.txt").unlink()
    repo.git("add", "-A")
    assert [(c.status, c.path) for c in git.staged_changes()] == [("D", "a.txt")]


def test_unborn_branch_and_detached_head(repo: GitRepo) -> None:
    git = Repo(repo.path)
    assert not git.has_commits()
    assert git.commits_since(None) == []
    repo.write("a.txt", "1\n")
    repo.git("add", "-A")
    assert [(c.status, c.path) for c in git.staged_changes()] == [("A", "a.txt")]
    repo.commit("first")
    repo.git("checkout", "-q", "--detach")
    assert git.current_branch() is None


def test_outside_a_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch, tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    (tmp_path / "plain").mkdir()
    with pytest.raises(NotInWorkTree) as raised:
        Repo(tmp_path / "plain")
    assert isinstance(raised.value, UsageError)  # exit 2
    assert raised.value.message == f"{tmp_path / 'plain'} is not in a git work tree"


def test_inside_the_git_folder_is_outside_the_work_tree(repo: GitRepo) -> None:
    with pytest.raises(NotInWorkTree):
        Repo(repo.path / ".git")
    assert Repo(repo.path / ".git" / "..").top == repo.path.resolve()


def test_other_rev_parse_failures_keep_git_s_reason(repo: GitRepo) -> None:
    # Not "not in a work tree": git's own reason is the useful one (here a broken config).
    (repo.path / ".git" / "config").write_text("[[[garbage\n")
    with pytest.raises(UsageError) as raised:
        Repo(repo.path)
    assert not isinstance(raised.value, NotInWorkTree)
    assert raised.value.message == "git rev-parse: fatal: bad config line 1 in file .git/config"


def test_stem_of_branch() -> None:
    assert stem_of_branch("mikado/harden-zot") == "harden-zot"
    assert stem_of_branch("mikado/") is None
    assert stem_of_branch("main") is None
    assert stem_of_branch(None) is None
