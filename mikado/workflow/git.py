"""The few git questions the Mikado workflow asks, answered by the `git` command itself.

`git` is run through :mod:`subprocess` (no GitPython: a dozen plumbing calls do not justify a
dependency, and plumbing output is a stable interface). Every call is non-interactive and reads
bytes, so paths in any encoding and subjects with odd characters survive.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mikado.errors import MikadoError, UsageError

BRANCH_PREFIX = "mikado/"
_FIELD = "\x1f"  # unit separator: cannot appear in a one-line subject


class GitError(MikadoError):
    """git refused a command or is missing (exit 1)."""


class NotInWorkTree(UsageError):
    """The current folder is in no git work tree (exit 2): outside any repository, or inside a
    ``.git`` folder or a bare repository."""


@dataclass(frozen=True, slots=True)
class Commit:
    sha: str
    short: str
    subject: str
    parent: str | None  # first parent; None for a root commit

    def __str__(self) -> str:
        return f"{self.short} {self.subject!r}"


@dataclass(frozen=True, slots=True)
class Change:
    """One changed file: ``status`` is git's letter (A, M, D, T); ``path`` from the repo top."""

    status: str
    path: str


class Repo:
    """A working tree; ``top`` is its top-level folder as git reports it."""

    def __init__(self, cwd: Path):
        self.cwd = cwd
        try:
            top = self._run("rev-parse", "--show-toplevel").strip()
        except GitError as error:
            # git's own words ("fatal: not a git repository (or any of the parent
            # directories): .git") read as a crash; say what it means for mikado instead.
            if _outside_work_tree(error.message):
                raise NotInWorkTree(f"{cwd} is not in a git work tree") from None
            raise UsageError(error.message) from None
        self.top = Path(top)

    def _run(self, *args: str, input_bytes: bytes | None = None) -> str:
        return self._run_bytes(*args, input_bytes=input_bytes).decode(
            "utf-8", errors="surrogateescape"
        )

    def _run_bytes(self, *args: str, input_bytes: bytes | None = None) -> bytes:
        # A fixed locale and no pager: the output is parsed, never shown as-is.
        env = {**os.environ, "LC_ALL": "C", "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0"}
        try:
            done = subprocess.run(
                ["git", *args],
                cwd=self.cwd,
                input=input_bytes,
                capture_output=True,
                env=env,
                check=False,
            )
        except FileNotFoundError:
            raise GitError("`git` is not installed or not on PATH") from None
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
            detail = message[-1] if message else f"exit {done.returncode}"
            raise GitError(f"git {args[0]}: {detail}")
        return done.stdout

    def _ok(self, *args: str) -> bool:
        try:
            self._run(*args)
        except GitError:
            return False
        return True

    def current_branch(self) -> str | None:
        """The checked-out branch, or ``None`` on a detached HEAD (as during a rebase)."""
        try:
            ref = self._run("symbolic-ref", "--quiet", "HEAD").strip()
        except GitError:
            return None
        return ref.removeprefix("refs/heads/")

    def has_commits(self) -> bool:
        return self._ok("rev-parse", "--verify", "--quiet", "HEAD^{commit}")

    def branch_exists(self, name: str) -> bool:
        return self._ok("rev-parse", "--verify", "--quiet", f"refs/heads/{name}^{{commit}}")

    def resolve(self, rev: str) -> str | None:
        try:
            return self._run("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").strip()
        except GitError:
            return None

    def merge_base(self, base: str, head: str = "HEAD") -> str | None:
        try:
            return self._run("merge-base", base, head).strip() or None
        except GitError:
            return None  # unrelated histories

    def commit(self, rev: str) -> Commit:
        out = self._run("log", "-1", f"--format=%H{_FIELD}%h{_FIELD}%P{_FIELD}%s", rev)
        sha, short, parents, subject = out.rstrip("\n").split(_FIELD, 3)
        return Commit(sha, short, subject, parents.split()[0] if parents.strip() else None)

    def config_value(self, key: str) -> str | None:
        try:
            return self._run("config", "--get", key).strip() or None
        except GitError:
            return None  # unset

    def commits_since(self, base: str | None) -> list[Commit]:
        """Commits on the first-parent line from ``base`` (exclusive) to HEAD, oldest first."""
        if not self.has_commits():
            return []
        spec = f"{base}..HEAD" if base else "HEAD"
        out = self._run(
            "log",
            "--first-parent",
            "--reverse",
            "-z",
            f"--format=%H{_FIELD}%h{_FIELD}%P{_FIELD}%s",
            spec,
        )
        commits = []
        for record in out.split("\0"):
            if not record.strip():
                continue
            sha, short, parents, subject = record.lstrip("\n").split(_FIELD, 3)
            first = parents.split()[0] if parents.strip() else None
            commits.append(Commit(sha, short, subject, first))
        return commits

    def changes(self, commits: Sequence[Commit]) -> dict[str, list[Change]]:
        """Files each commit changed against its first parent (renames as delete + add), in
        one `git diff-tree --stdin` call however long the branch is."""
        if not commits:
            return {}
        lines = [f"{c.sha} {c.parent}" if c.parent else c.sha for c in commits]
        out = self._run(
            "diff-tree",
            "--stdin",
            "--always",  # a header even for an empty commit, to keep the records aligned
            "--root",
            "-r",
            "--no-renames",
            "--name-status",
            "-z",
            input_bytes=("\n".join(lines) + "\n").encode(),
        )
        found: dict[str, list[Change]] = {c.sha: [] for c in commits}
        fields = out.split("\0")
        current: list[Change] | None = None
        index = 0
        while index < len(fields):
            token = fields[index]
            if token in found:  # a commit header: a full object name, never a status letter
                current = found[token]
                index += 1
            elif token and current is not None and index + 1 < len(fields):
                current.append(Change(token[0], fields[index + 1]))
                index += 2
            else:
                index += 1
        return found

    def staged_changes(self) -> list[Change]:
        """What the next commit would change: the index against HEAD."""
        # Without a revision `diff --cached` compares with HEAD, or with the empty tree on an
        # unborn branch.
        out = self._run("diff", "--cached", "--no-renames", "--name-status", "-z")
        return _parse_name_status(out)

    def blobs(self, specs: Iterable[str]) -> dict[str, bytes | None]:
        """Contents of ``rev:path`` specs (``:path`` = the index) in one `git cat-file` call;
        ``None`` for a spec that names nothing."""
        wanted = list(dict.fromkeys(specs))
        if not wanted:
            return {}
        if any("\n" in spec for spec in wanted):
            raise GitError("a path with a line break cannot be read through git cat-file")
        out = self._run_bytes(
            "cat-file",
            "--batch",
            input_bytes=("\n".join(wanted) + "\n").encode("utf-8", "surrogateescape"),
        )
        found: dict[str, bytes | None] = {}
        position = 0
        for spec in wanted:
            end = out.index(b"\n", position)
            header = out[position:end]
            position = end + 1
            # "<spec> missing" / "<spec> ambiguous" (the spec may hold spaces), otherwise
            # "<oid> <type> <size>" followed by the content and a line feed.
            if header.endswith((b" missing", b" ambiguous")):
                found[spec] = None
                continue
            _oid, kind, size = header.split()
            content = out[position : position + int(size)]
            position += int(size) + 1
            found[spec] = content if kind == b"blob" else None
        return found

    def stashes(self) -> list[str]:
        out = self._run("stash", "list", "--format=%gd %s")
        return [line for line in out.splitlines() if line.strip()]

    def relative_to_top(self, path: Path) -> str | None:
        """``path`` as a repo path with ``/``, or ``None`` when it lies outside the tree."""
        real = Path(os.path.realpath(path))
        try:
            rel = real.relative_to(os.path.realpath(self.top))
        except ValueError:
            return None
        return rel.as_posix() if rel.parts else ""


def _parse_name_status(out: str) -> list[Change]:
    fields = out.split("\0")
    changes = []
    index = 0
    while index + 1 < len(fields):
        status = fields[index]
        if not status:
            break
        changes.append(Change(status[0], fields[index + 1]))
        index += 2
    return changes


def _outside_work_tree(message: str) -> bool:
    # LC_ALL=C keeps git's messages in English, so they can be recognised.
    return "not a git repository" in message or "must be run in a work tree" in message


def stem_of_branch(branch: str | None) -> str | None:
    """``harden-zot`` for ``mikado/harden-zot``; ``None`` for any other branch."""
    if branch and branch.startswith(BRANCH_PREFIX) and len(branch) > len(BRANCH_PREFIX):
        return branch[len(BRANCH_PREFIX) :]
    return None
