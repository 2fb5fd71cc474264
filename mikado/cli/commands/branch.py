"""`mikado branch-check` and `mikado resume`: the Mikado branch workflow in git
(docs/reference.md#branch-invariant)."""

from __future__ import annotations

from pathlib import Path

import click

from mikado.cli.options import (
    complete_stems,
    global_options,
    load_settings,
    output_format,
    read_plan,
)
from mikado.cli.output import as_run, echo, echo_json
from mikado.errors import ExitCode, UsageError


@click.command(name="branch-check")
@click.option(
    "--commit-msg",
    "commit_msg",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Also check the commit being made: this message file and the staged files "
    "(commit-msg hook mode).",
)
@click.option(
    "--base",
    default="main",
    show_default=True,
    help="The branch the mikado/<stem> branch left.",
)
@global_options
@click.pass_context
def branch_check(ctx: click.Context, commit_msg: Path | None, base: str) -> int:
    """Check the Mikado branch invariant and the C2 commit convention.

    On a mikado/... branch (the one a goal card names in `branch:`, else mikado/<stem>),
    every commit since it left BASE must read `C2(<stem>): plan|impl|close|finalize <text>`:
    plan commits first, changing only cards and category indexes; impl commits change no card;
    close commits only complete cards (`status` removed or `done`, `modified` updated);
    finalize last. On any other branch there is nothing to check. Exit 1 on a violation; each
    names the commit and the rule; exit 2 outside a git work tree.

    \b
    Examples:
      mikado branch-check
      mikado branch-check --base develop --format json
      mikado branch-check --commit-msg .git/COMMIT_EDITMSG   # as a commit-msg hook
    """
    from mikado.workflow.branch_check import check_branch, describe
    from mikado.workflow.git import NotInWorkTree, Repo

    fmt = output_format(ctx, ("human", "json"))
    message = None
    if commit_msg is not None:
        try:
            message = commit_msg.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise UsageError(f"cannot read {commit_msg}: {exc.strerror}") from None
    try:
        repo = Repo(Path.cwd())
    except NotInWorkTree:
        raise UsageError(
            "not in a git repository: branch-check judges the commits of the branch checked "
            "out here; run it inside the repository's work tree"
        ) from None
    config = load_settings(ctx)
    report = check_branch(repo, config, base=base, commit_message=message)
    if fmt == "json":
        echo_json(report.as_json())
    else:
        for line in describe(report):
            echo(line, err=bool(report.violations))
    return ExitCode.FAILURE if report.violations else ExitCode.OK


@click.command()
@click.argument("goal", required=False, shell_complete=complete_stems)
@click.option(
    "--base",
    default="main",
    show_default=True,
    help="The branch mikado/<stem> branches leave.",
)
@global_options
@click.pass_context
def resume(ctx: click.Context, goal: str | None, base: str) -> int:
    """Show where to pick a chain up in a new session.

    On a goal's mikado/... branch (the one its card names in `branch:`, else
    mikado/<stem>): the chain, the branch position (planning, mid-cycle, between cycles,
    finalized, violation), the last plan/close commit to reset to when a new prerequisite
    turns up, the ready cards, stashed work and the next steps. On any other branch, or
    outside a git repository: the open chains (or GOAL's) and which one to resume.

    \b
    Examples:
      mikado resume
      mikado resume harden-zot-registry
      mikado resume --format json
    """
    from mikado.engine.journal import last_failures
    from mikado.views.status import marks_for_stream, status_tree
    from mikado.workflow.branch_check import branch_commits, check_branch, worked_stems
    from mikado.workflow.branch_goal import branch_of, goal_of_branch
    from mikado.workflow.git import NotInWorkTree, Repo
    from mikado.workflow.resume import (
        OffBranch,
        OnBranch,
        candidates,
        describe_off_branch,
        describe_on_branch,
    )

    fmt = output_format(ctx, ("human", "json"))
    config = load_settings(ctx)
    try:
        repo: Repo | None = Repo(Path.cwd())
    except NotInWorkTree:
        repo = None  # the open chains still show; no branch can be matched
    plan = read_plan(config)
    stashes = tuple(repo.stashes()) if repo else ()
    branch = repo.current_branch() if repo else None
    worked = worked_stems(branch_commits(repo, base)) if repo and branch else []
    on_branch = goal_of_branch(branch, plan.docs.cards.values(), worked)
    if goal is not None:
        wanted = plan.docs.require(goal)
        if on_branch is not None and goal != on_branch.stem:
            raise UsageError(
                f"this is branch {branch}, not the branch of `{goal}`; "
                f"`git switch {branch_of(wanted)}` to resume it"
            )
    if repo is None or on_branch is None:
        chains = tuple(candidates(plan, repo, [goal] if goal else None))
        off = OffBranch(branch, chains, stashes, in_repository=repo is not None)
        if fmt == "json":
            echo_json(off.as_json())
        else:
            for line in describe_off_branch(off):
                echo(as_run(line))
        return ExitCode.OK
    report = check_branch(repo, config, base=base)
    stem = on_branch.stem
    chain = plan.chain(stem) if plan.docs.card(stem) is not None else None
    on = OnBranch(report, chain, stashes)
    if fmt == "json":
        echo_json(on.as_json())
        return ExitCode.OK
    tree: list[str] = []
    if chain is not None:
        failed = {c.stem for c in chain.cards if c.status == "failed"}
        tree = status_tree(chain, last_failures(config.runtime, failed), marks=marks_for_stream())
    for line in describe_on_branch(on, tree):
        echo(as_run(line))
    return ExitCode.OK
