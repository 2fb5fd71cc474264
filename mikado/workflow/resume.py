"""`mikado resume`: where a chain's work stands and what to do next, for a new session.

On a goal's ``mikado/...`` branch: the chain, the branch's position in the invariant, the commit
to reset to when a new prerequisite turns up, the ready cards, and stashed work. On any other
branch, or outside a git work tree: the open chains and the one to resume (one with a branch
already, else the most progressed).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mikado.model.chains import Chain, Plan, State
from mikado.workflow.branch_check import BranchReport, Position
from mikado.workflow.branch_goal import branch_of
from mikado.workflow.git import Repo


@dataclass(frozen=True, slots=True)
class Candidate:
    """An open chain seen from outside its branch."""

    chain: Chain
    branch_exists: bool  # a local branch of the goal (see `branch`)

    @property
    def goal(self) -> str:
        return self.chain.goal.stem

    @property
    def branch(self) -> str:
        """The branch the goal is worked on: its ``branch`` field, else ``mikado/<goal>``."""
        return branch_of(self.chain.goal)

    @property
    def progress(self) -> float:
        return self.chain.done / self.chain.total if self.chain.total else 0.0

    def as_json(self) -> dict[str, object]:
        return {
            "goal": self.goal,
            "title": self.chain.goal.title,
            "branch": self.chain.goal.branch,
            "branch_exists": self.branch_exists,
            "done": self.chain.done,
            "total": self.chain.total,
            "ready": self.chain.takeable(),
        }


def rank(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Which chain to resume first: work already started on a branch, then a goal that names
    its branch, then the most progressed; ties by goal stem, so the answer is stable."""
    return sorted(
        candidates,
        key=lambda c: (
            not c.branch_exists,
            c.chain.goal.branch is None,
            -c.progress,
            -c.chain.done,
            c.goal,
        ),
    )


def candidates(
    plan: Plan, repo: Repo | None, goals: Sequence[str] | None = None
) -> list[Candidate]:
    """The open chains (or ``goals``' chains), ranked; without a repository (``None``) no
    branch exists."""
    chains = [plan.chain(g) for g in goals] if goals else plan.open_chains()
    return rank(
        Candidate(chain, repo is not None and repo.branch_exists(branch_of(chain.goal)))
        for chain in chains
    )


@dataclass(frozen=True, slots=True)
class OnBranch:
    """Resuming on the chain's own branch."""

    report: BranchReport
    chain: Chain | None  # None when the goal card does not exist
    stashes: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return self.chain is not None and self.chain.done == self.chain.total

    def next_steps(self) -> list[str]:
        report, chain = self.report, self.chain
        stem = report.stem or ""
        branch = report.branch or ""
        reset = report.reset_point
        reset_to = reset.short if reset else report.base
        steps: list[str] = []
        if chain is None:
            return [
                f"create the goal card `{stem}` (with `branch: {branch}`) in a "
                f"`C2({stem}): plan ...` commit"
            ]
        if report.position is Position.VIOLATION:
            return [
                f"repair the history: `git reset --hard {reset_to}` (the last plan/close "
                "commit before the first violation), then cherry-pick the work that still "
                "applies, with conventional subjects and each commit in its place"
            ]
        elif report.position is Position.FINALIZED:
            steps.append("the chain is finalized: get the pull request reviewed and merged")
            return steps
        elif self.complete:
            steps.append(
                f"every card is complete: `mikado finalize {stem}`, add a changelog fragment, "
                f"and commit `C2({stem}): finalize ...`"
            )
            return steps
        elif report.position is Position.MID_CYCLE:
            steps.append(
                "continue the card in progress with `impl` commits, then close it in a "
                f"`C2({stem}): close <card>` commit"
            )
        else:
            ready = chain.takeable()
            if ready:
                steps.append(
                    f"take a ready card ({', '.join(ready)}): `impl` commits, then "
                    f"`C2({stem}): close <card>`"
                )
            else:
                steps.append("no card is ready: see the failed or blocked cards above")
        steps.append(
            f"a new prerequisite or a lesson for the plan: stash or note your work, "
            f"`git reset --hard {reset_to}` (the reset point), commit the new card as "
            f"`C2({stem}): plan ...`, "
            "then cherry-pick what still applies"
        )
        if self.stashes:
            steps.append(f"{len(self.stashes)} stash(es) hold uncommitted work: `git stash list`")
        return steps

    def as_json(self) -> dict[str, object]:
        chain = self.chain
        return {
            "on_branch": True,
            **self.report.as_json(),
            "goal": self.report.stem,
            "done": chain.done if chain else None,
            "total": chain.total if chain else None,
            "ready": chain.takeable() if chain else [],
            "failed": chain.stems_in(State.FAILED) if chain else [],
            "blocked": chain.stems_in(State.BLOCKED) if chain else [],
            "stashes": list(self.stashes),
            "next": self.next_steps(),
        }


@dataclass(frozen=True, slots=True)
class OffBranch:
    """Resuming from any other branch, or from outside a git work tree (``in_repository``
    false): what is open and which chain to take up."""

    branch: str | None
    candidates: tuple[Candidate, ...]
    stashes: tuple[str, ...]
    in_repository: bool = True

    @property
    def suggestion(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    def next_steps(self) -> list[str]:
        best = self.suggestion
        if best is None:
            return ["no open chain: plan a goal card with `mikado new` to start one"]
        name = best.branch
        if not self.in_repository:
            return [
                f"run `mikado resume` in the git work tree of these docs to match {name} "
                f"and see where {best.goal} stands"
            ]
        if best.branch_exists:
            steps = [f"resume {best.goal}: `git switch {name}`, then `mikado resume`"]
        else:
            steps = [f"start {best.goal}: `git switch -c {name}`"]
            if best.chain.goal.branch != name:
                steps.append(
                    f"add `branch: {name}` to the goal card in a `C2({best.goal}): plan ...` commit"
                )
        return steps

    def as_json(self) -> dict[str, object]:
        best = self.suggestion
        return {
            "on_branch": False,
            "in_repository": self.in_repository,
            "branch": self.branch,
            "chains": [c.as_json() for c in self.candidates],
            "suggested": best.goal if best else None,
            "stashes": list(self.stashes),
            "next": self.next_steps(),
        }


def describe_on_branch(state: OnBranch, tree: Sequence[str]) -> list[str]:
    report = state.report
    lines = [f"Branch {report.branch}: {report.position.value}"]
    if state.chain is None:
        lines.append(f"No goal card `{report.stem}` exists yet.")
    else:
        lines += ["", *tree]
    lines.append("")
    commits = report.commits
    since = f"{report.base} ({report.merge_base.short})" if report.merge_base else report.base
    lines.append(f"{len(commits)} commit(s) since {since}:")
    lines += [f"  {c.short} {c.subject}" for c in commits]
    for violation in report.violations:
        lines.append(f"  violation: {violation}")
    reset = report.reset_point
    if reset is not None:
        lines.append(f"Reset point for a new prerequisite: {reset.short} {reset.subject}")
    if state.chain is not None:
        ready = state.chain.takeable()
        lines.append(f"Ready: {', '.join(ready) if ready else '-'}")
    if state.stashes:
        lines.append("Stashed work:")
        lines += [f"  {entry}" for entry in state.stashes]
    lines.append("")
    lines.append("Next:")
    lines += [f"  - {step}" for step in state.next_steps()]
    return lines


def describe_off_branch(state: OffBranch) -> list[str]:
    if not state.in_repository:
        where = "Not in a git repository, so no branch could be matched"
    else:
        on = f"branch {state.branch}" if state.branch else "a detached HEAD"
        where = f"On {on}, not a mikado/<goal> branch"
    if not state.candidates:
        return [f"{where}; no open chains.", *(f"  - {s}" for s in state.next_steps())]
    lines = [f"{where}. Open chains, most promising first:"]
    for candidate in state.candidates:
        chain = candidate.chain
        if candidate.branch_exists:
            started = f"branch {candidate.branch} exists"
        elif not state.in_repository:  # whether a branch exists cannot be known
            started = f"goal names {chain.goal.branch}" if chain.goal.branch else "no branch named"
        elif chain.goal.branch:
            started = f"goal names {chain.goal.branch}, no local branch"
        else:
            started = "not started"
        ready = ", ".join(chain.takeable()) or "-"
        lines.append(
            f"  {candidate.goal}  {chain.done}/{chain.total} done  {started}  ready: {ready}"
        )
    if state.stashes:
        lines.append(f"Stashed work: {len(state.stashes)} entr(ies), see `git stash list`")
    lines.append("")
    lines.append("Next:")
    lines += [f"  - {step}" for step in state.next_steps()]
    return lines
