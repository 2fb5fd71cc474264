"""The Mikado branch invariant and commit convention (docs/reference.md#branch-invariant), judged
from git history.

On ``mikado/<stem>`` every commit since the branch left its base is
``C2(<stem>): plan|impl|close|finalize <text>``, in the shape

    base ← plan* ← (impl* close+)* ← finalize?

What a commit may touch is judged per file from its content before and after the commit: a
*card* is a doc under the docs root whose front-matter carries ``status``, ``requires`` or
``branch`` on either side of the change; a *category index* is a folder's ``X/X.md`` (or the
configured index files). A ``close`` may only complete cards: ``status`` goes from open to
absent (or ``done``) and ``modified`` may change; any other change to a card after the first
``impl``/``close`` is rewriting the plan, which needs a branch reset, except in the final
``finalize``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Any

from mikado.config import Config
from mikado.errors import UsageError
from mikado.model.card import MIKADO_FIELDS, OPEN_STATUSES
from mikado.tree.frontmatter import FrontMatterError, parse_block, split_bytes
from mikado.tree.loader import load_docs
from mikado.workflow.branch_goal import BranchGoal, goal_of_branch, is_mikado_branch
from mikado.workflow.git import Change, Commit, GitError, Repo

VERBS = ("plan", "impl", "close", "finalize")
_SUBJECT = re.compile(r"C2\((?P<stem>[^()\s]+)\): (?P<verb>[a-z]+) +(?P<text>\S.*)\Z")
_SCISSORS = "------------------------ >8 ------------------------"
PENDING = "(pending)"


class Rule(StrEnum):
    SUBJECT = "subject"  # not `C2(<stem>): <verb> <text>`
    STEM = "stem-mismatch"  # the subject names another chain than the branch
    PLAN_ORDER = "plan-after-work"  # a plan after an impl or close: the plan changed, reset
    PLAN_SCOPE = "plan-scope"  # a plan touching something other than cards and indexes
    IMPL_SCOPE = "impl-scope"  # an impl touching a card
    CLOSE_SCOPE = "close-scope"  # a close touching anything but the closing of cards
    AFTER_FINALIZE = "after-finalize"  # finalize is the last commit
    GOAL_MISSING = "goal-missing"  # no card named like the branch
    GOAL_BRANCH = "goal-branch"  # the open goal card does not name its branch


class Position(StrEnum):
    """Where the branch stands in the invariant, read from its last commit."""

    PLANNING = "planning"  # no commit yet, or only plan commits
    MID_CYCLE = "mid-cycle"  # code committed towards a leaf that is not closed yet
    BETWEEN_CYCLES = "between cycles"  # the last commit closed a card
    FINALIZED = "finalized"  # the chain was finalized
    VIOLATION = "violation"  # the history breaks the invariant


@dataclass(frozen=True, slots=True)
class Subject:
    stem: str
    verb: str
    text: str


def parse_subject(subject: str) -> Subject | None:
    match = _SUBJECT.match(subject)
    if match is None or match["verb"] not in VERBS:
        return None
    return Subject(match["stem"], match["verb"], match["text"])


def worked_stems(commits: Iterable[Commit]) -> list[str]:
    """The chains the ``C2(<stem>)`` subjects of ``commits`` name, in order, once each."""
    stems = (parsed.stem for c in commits if (parsed := parse_subject(c.subject)) is not None)
    return list(dict.fromkeys(stems))


def branch_commits(repo: Repo, base: str) -> list[Commit]:
    """The commits of HEAD's branch since it left ``base`` (none when that cannot be told)."""
    if not repo.has_commits() or repo.resolve(base) is None:
        return []
    base_sha = repo.merge_base(base)
    return repo.commits_since(base_sha) if base_sha is not None else []


def message_subject(message: str, comment_char: str = "#") -> str:
    """The subject git will record for a message being edited: comments and everything below
    the scissors line dropped, leading blank lines skipped."""
    for line in message.splitlines():
        if line.startswith(comment_char) and _SCISSORS in line:
            break
        if line.startswith(comment_char):
            continue
        if line.strip():
            return line.strip()
    return ""


@dataclass(frozen=True, slots=True)
class FileChange:
    """One changed path (from the docs root when under it) and its content on either side."""

    path: str
    doc_path: str | None  # relative to the docs root, when it is a doc there
    before: bytes | None
    after: bytes | None


@dataclass(frozen=True, slots=True)
class BranchCommit:
    """A commit on the branch, or the pending one (``commit.sha == ""``)."""

    commit: Commit
    changes: tuple[FileChange, ...]

    @property
    def subject(self) -> Subject | None:
        return parse_subject(self.commit.subject)


@dataclass(frozen=True, slots=True)
class Violation:
    rule: Rule
    message: str
    commit: Commit | None = None  # None: the branch as a whole (its goal card)

    def __str__(self) -> str:
        where = f"{self.commit.short} {self.commit.subject!r}" if self.commit else "branch"
        return f"{where}: {self.message} [{self.rule.value}]"

    def as_json(self) -> dict[str, object]:
        return {
            "commit": (self.commit.sha or None) if self.commit else None,
            "subject": self.commit.subject if self.commit else None,
            "rule": self.rule.value,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class BranchReport:
    """The verdict on a ``mikado/...`` branch; ``stem`` is the stem of the goal it works
    (docs/reference.md#branch-invariant), ``None`` on any other branch."""

    branch: str | None
    stem: str | None
    base: str
    merge_base: Commit | None
    steps: tuple[BranchCommit, ...] = ()
    violations: tuple[Violation, ...] = ()
    pending: bool = False

    @property
    def commits(self) -> list[Commit]:
        return [step.commit for step in self.steps if step.commit.sha]

    @property
    def position(self) -> Position:
        if self.violations:
            return Position.VIOLATION
        committed = [s for s in self.steps if s.commit.sha]
        if not committed:
            return Position.PLANNING
        subject = committed[-1].subject
        verb = subject.verb if subject else ""
        return {
            "plan": Position.PLANNING,
            "impl": Position.MID_CYCLE,
            "close": Position.BETWEEN_CYCLES,
            "finalize": Position.FINALIZED,
        }.get(verb, Position.VIOLATION)

    @property
    def reset_point(self) -> Commit | None:
        """Where to `git reset --hard` when a new prerequisite turns up: the last ``plan`` or
        ``close`` commit before any violation, else the point where the branch left its base.
        ``None`` once finalized (nothing is left to discover)."""
        if self.position is Position.FINALIZED:
            return None
        # Never a commit at or after the first violation: resetting there keeps the mistake.
        bad = {v.commit.sha for v in self.violations if v.commit is not None}
        good = list(self.steps)
        for index, step in enumerate(good):
            if step.commit.sha in bad:
                good = good[:index]
                break
        for step in reversed(good):
            subject = step.subject
            if step.commit.sha and subject and subject.verb in ("plan", "close"):
                return step.commit
        return self.merge_base

    def as_json(self) -> dict[str, object]:
        reset = self.reset_point
        return {
            "branch": self.branch,
            "stem": self.stem,
            "base": self.base,
            "merge_base": self.merge_base.sha if self.merge_base else None,
            "commits": [
                {
                    "commit": c.sha,
                    "subject": c.subject,
                    "verb": s.verb if (s := parse_subject(c.subject)) else None,
                }
                for c in self.commits
            ],
            "position": self.position.value if self.stem else None,
            "reset_point": {"commit": reset.sha, "subject": reset.subject} if reset else None,
            "violations": [v.as_json() for v in self.violations],
        }


# --- reading the history ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DocsLayout:
    """Which repo paths are docs, and which docs are category indexes
    (docs/reference.md#category-indexes)."""

    prefix: str  # the docs root as a repo path ("" when it is the top)
    excluded: frozenset[str]
    config: Config

    def doc_path(self, repo_path: str) -> str | None:
        if self.prefix:
            if not repo_path.startswith(self.prefix + "/"):
                return None
            rel = repo_path[len(self.prefix) + 1 :]
        else:
            rel = repo_path
        if not rel.endswith(".md"):
            return None
        parts = rel.split("/")
        folders = parts[:-1]
        for depth, name in enumerate(folders):
            if name.startswith(".") or name in self.excluded:
                return None
            if "/".join(folders[: depth + 1]) in self.excluded:
                return None
        return None if parts[-1].startswith(".") else rel

    def is_category_index(self, doc_path: str) -> bool:
        pure = PurePosixPath(doc_path)
        mode = self.config.index_mode
        if mode == "off":
            return False
        if mode == "table":
            for folder, index in self.config.index_table.items():
                index = index.strip("/")
                if doc_path in (index, f"{folder}/{index}" if folder else index):
                    return True
            return False
        return len(pure.parts) >= 2 and pure.parent.name == pure.stem


def layout_for(repo: Repo, config: Config) -> DocsLayout:
    prefix = repo.relative_to_top(config.docs)
    if prefix is None:
        raise GitError(
            f"the docs root {config.docs} is outside the git repository at {repo.top}; "
            "branch-check judges commits by the cards they touch"
        )
    return DocsLayout(prefix=prefix, excluded=config.excluded(), config=config)


def _steps(
    repo: Repo, layout: DocsLayout, commits: Sequence[Commit], pending: Commit | None
) -> list[BranchCommit]:
    by_commit = repo.changes(commits)
    changes: list[tuple[Commit, list[Change]]] = [(c, by_commit[c.sha]) for c in commits]
    if pending is not None:
        changes.append((pending, repo.staged_changes()))
    specs: list[str] = []
    for commit, files in changes:
        for change in files:
            if layout.doc_path(change.path) is None:
                continue
            before, after = _spec_pair(commit, change.path)
            specs.extend(s for s in (before, after) if s)
    blobs = repo.blobs(specs)
    steps = []
    for commit, files in changes:
        entries = []
        for change in files:
            doc = layout.doc_path(change.path)
            before_spec, after_spec = _spec_pair(commit, change.path)
            entries.append(
                FileChange(
                    path=change.path,
                    doc_path=doc,
                    before=blobs.get(before_spec) if doc and before_spec else None,
                    after=blobs.get(after_spec) if doc and after_spec else None,
                )
            )
        steps.append(BranchCommit(commit, tuple(entries)))
    return steps


def _spec_pair(commit: Commit, path: str) -> tuple[str | None, str]:
    if not commit.sha:  # pending: HEAD against the index
        return (f"{commit.parent}:{path}" if commit.parent else None), f":{path}"
    return (f"{commit.parent}:{path}" if commit.parent else None), f"{commit.sha}:{path}"


# --- judging ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Doc:
    meta: Mapping[str, Any] | None  # None: no front-matter, or one that does not parse
    body: bytes

    @property
    def is_card(self) -> bool:
        return self.meta is not None and any(k in self.meta for k in MIKADO_FIELDS)


def _read(content: bytes | None) -> _Doc | None:
    if content is None:
        return None
    try:
        block = split_bytes(content)
        if block is None:
            return _Doc(None, content)
        return _Doc(parse_block(block), content[block.body_offset :])
    except FrontMatterError:
        return _Doc(None, content)


def _is_card(change: FileChange) -> bool:
    if change.doc_path is None:
        return False
    return any(
        doc is not None and doc.is_card for doc in (_read(change.before), _read(change.after))
    )


def _closing_problems(change: FileChange) -> list[str]:
    """Why this change to a card is more than closing it (empty when it only closes)."""
    before, after = _read(change.before), _read(change.after)
    name = change.doc_path or change.path
    if before is None:
        return [f"adds the card {name}; a new card needs a `plan` commit after a reset"]
    if not before.is_card or before.meta is None:
        return [f"makes {name} a card; a new card needs a `plan` commit after a reset"]
    if after is None:
        return [f"deletes the card {name}"]
    if after.meta is None:
        return [f"leaves {name} without readable front-matter"]
    problems = []
    status = before.meta.get("status")
    if not (isinstance(status, str) and status in OPEN_STATUSES):  # a list is no status
        problems.append(f"{name} was not open (nothing to close)")
    elif after.meta.get("status") not in (None, "done"):
        problems.append(
            f"does not complete {name} (`status` is still {after.meta.get('status')!r}); "
            "a close removes `status` or sets it to `done`"
        )
    keys = (set(before.meta) | set(after.meta)) - {"status", "modified"}
    changed = sorted(str(k) for k in keys if before.meta.get(k) != after.meta.get(k))
    if changed:
        fields = ", ".join(f"`{k}`" for k in changed)
        problems.append(
            f"also changes {fields} of {name}; only `status` and `modified` change when closing"
        )
    if before.body != after.body:
        problems.append(f"also changes the body of {name}; only `finalize` rewrites cards")
    return problems


def judge(steps: Sequence[BranchCommit], goal: BranchGoal, layout: DocsLayout) -> list[Violation]:
    """Every violation of docs/reference.md#branch-invariant in ``steps`` (oldest first), in commit
    order."""
    stem = goal.stem
    violations: list[Violation] = []
    work_seen: Commit | None = None  # the first impl or close
    finalized: Commit | None = None

    def add(rule: Rule, message: str, commit: Commit) -> None:
        violations.append(Violation(rule, message, commit))

    for step in steps:
        commit = step.commit
        if finalized is not None:
            add(
                Rule.AFTER_FINALIZE,
                f"comes after the finalize commit {finalized.short}; finalize must be last",
                commit,
            )
        subject = step.subject
        if subject is None:
            add(
                Rule.SUBJECT,
                f"subject is not `C2({stem}): plan|impl|close|finalize <text>`",
                commit,
            )
            continue
        if subject.stem not in goal.subject_stems:
            add(
                Rule.STEM,
                f"subject names chain `{subject.stem}`, but the branch {goal.branch} works "
                f"`{stem}`",
                commit,
            )
        if subject.verb == "plan":
            if work_seen is not None:
                add(
                    Rule.PLAN_ORDER,
                    f"plan commit after the work commit {work_seen.short}; to change the plan, "
                    "reset to the last plan/close commit, commit the plan, then cherry-pick",
                    commit,
                )
            for change in step.changes:
                if _is_card(change):
                    continue
                if change.doc_path is not None and layout.is_category_index(change.doc_path):
                    continue
                add(
                    Rule.PLAN_SCOPE,
                    f"changes {change.path}, which is neither a card nor a category index; "
                    "code belongs in `impl` commits",
                    commit,
                )
        elif subject.verb == "impl":
            work_seen = work_seen or commit
            for change in step.changes:
                if _is_card(change):
                    add(
                        Rule.IMPL_SCOPE,
                        f"changes the card {change.doc_path}; close cards in a `close` commit, "
                        "change the plan only after a reset",
                        commit,
                    )
        elif subject.verb == "close":
            work_seen = work_seen or commit
            if not step.changes:
                add(Rule.CLOSE_SCOPE, "changes nothing; a close completes a card", commit)
            for change in step.changes:
                if change.doc_path is None:
                    add(
                        Rule.CLOSE_SCOPE,
                        f"changes {change.path}, which is not a card; code belongs in `impl`",
                        commit,
                    )
                    continue
                for problem in _closing_problems(change):
                    add(Rule.CLOSE_SCOPE, problem, commit)
        else:  # finalize
            finalized = finalized or commit
    return violations


def _goal_violations(config: Config, goal: BranchGoal) -> list[Violation]:
    card = goal.card
    if card is None:
        return [
            Violation(
                Rule.GOAL_MISSING,
                f"no card `{goal.stem}` under {config.docs} and none names `branch: "
                f"{goal.branch}`; the branch works the chain of that goal card",
            )
        ]
    if card.is_open and not goal.named:
        found = f"`branch: {card.branch}`" if card.branch else "no `branch`"
        return [
            Violation(
                Rule.GOAL_BRANCH,
                f"the goal card {card.path} is open with {found}; add `branch: {goal.branch}` "
                "in a plan commit",
            )
        ]
    return []


def comment_char(repo: Repo) -> str:
    # `auto` (pick a character not in the message) and unset both leave `#` in the template.
    value = repo.config_value("core.commentChar")
    return value if value and len(value) == 1 else "#"


def check_branch(
    repo: Repo,
    config: Config,
    *,
    base: str = "main",
    commit_message: str | None = None,
) -> BranchReport:
    """Judge HEAD's branch; with ``commit_message``, also the commit being made from the
    index (commit-msg hook mode)."""
    branch = repo.current_branch()
    if not is_mikado_branch(branch):
        return BranchReport(branch=branch, stem=None, base=base, merge_base=None)
    merge_base: Commit | None = None
    if repo.has_commits():
        if repo.resolve(base) is None:
            raise UsageError(f"base `{base}` names no commit; pass --base with the branch it left")
        base_sha = repo.merge_base(base)
        if base_sha is None:
            raise GitError(f"{branch} shares no history with `{base}`")
        merge_base = repo.commit(base_sha)
    commits = repo.commits_since(merge_base.sha if merge_base else None)
    goal = goal_of_branch(branch, load_docs(config).cards.values(), worked_stems(commits))
    assert goal is not None  # a mikado/... branch always has one
    stem = goal.stem
    pending: Commit | None = None
    if commit_message is not None:
        subject = message_subject(commit_message, comment_char(repo))
        if subject:  # an empty message makes git abort the commit by itself
            head = repo.resolve("HEAD")
            pending = Commit("", PENDING, subject, head)
    layout = layout_for(repo, config)
    steps = _steps(repo, layout, commits, pending)
    violations = judge(steps, goal, layout)
    if steps:
        violations.extend(_goal_violations(config, goal))
    return BranchReport(
        branch=branch,
        stem=stem,
        base=base,
        merge_base=merge_base,
        steps=tuple(steps),
        violations=tuple(violations),
        pending=pending is not None,
    )


def describe(report: BranchReport) -> Iterable[str]:
    """Human lines for `mikado branch-check`."""
    if report.stem is None:
        where = f"branch {report.branch}" if report.branch else "a detached HEAD"
        yield f"Not on a mikado/<stem> branch ({where}): nothing to check."
        return
    count = len(report.commits)
    since = f"{report.base} ({report.merge_base.short})" if report.merge_base else report.base
    pending = " and the pending commit" if report.pending else ""
    noun = "commit" if count == 1 else "commits"
    if not report.violations:
        yield (
            f"{report.branch}: {count} {noun}{pending} since {since} keep the branch "
            f"invariant (position: {report.position.value})."
        )
        return
    for violation in report.violations:
        yield str(violation)
    total = len(report.violations)
    yield (
        f"{report.branch}: {total} violation{'s' if total > 1 else ''} of the branch "
        f"invariant in {count} {noun}{pending} since {since}."
    )
