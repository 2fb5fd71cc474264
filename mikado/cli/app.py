"""The `mikado` command: parses arguments, calls the core, prints, and maps errors to exit codes.

Heavy modules (networkx, httpx, markdown-it) are imported inside the commands that need them so
`mikado status` starts in well under a tenth of a second.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from mikado import __version__
from mikado.cli.output import StatusLine, echo, echo_json
from mikado.errors import DocsError, ExitCode, MikadoError, UsageError

if TYPE_CHECKING:  # imported where used, at run time: start-up stays lean
    from mikado.config import Config
    from mikado.model.chains import Plan, State

F = TypeVar("F", bound=Callable[..., Any])

_META = "mikado.options"


@dataclass
class GlobalOptions:
    """`--docs`, `--config` and `--format`, accepted before or after the subcommand; the one
    written after it wins."""

    docs: Path | None = None
    config: Path | None = None
    format: str | None = None


def _options(ctx: click.Context) -> GlobalOptions:
    root = ctx.find_root()
    options: GlobalOptions | None = root.meta.get(_META)
    if options is None:
        options = root.meta[_META] = GlobalOptions()
    return options


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value is not None:
            setattr(_options(ctx), name, value)

    return callback


def global_options(func: F) -> F:
    func = click.option(
        "--format",
        "format_",
        metavar="FORMAT",
        expose_value=False,
        callback=_store("format"),
        help="Output format: human (default), json, or what the command lists.",
    )(func)
    func = click.option(
        "--config",
        type=click.Path(path_type=Path, dir_okay=False),
        expose_value=False,
        callback=_store("config"),
        help="Configuration file (default: nearest mikado.toml or pyproject.toml [tool.mikado]).",
    )(func)
    func = click.option(
        "--docs",
        type=click.Path(path_type=Path, file_okay=False),
        expose_value=False,
        callback=_store("docs"),
        help="Docs root (overrides the configured `docs`).",
    )(func)
    return func


def output_format(ctx: click.Context, allowed: Sequence[str]) -> str:
    chosen = _options(ctx).format or "human"
    if chosen not in allowed:
        raise UsageError(
            f"`{ctx.info_name}` does not support --format {chosen} (choose: {', '.join(allowed)})"
        )
    return chosen


def load_settings(ctx: click.Context) -> Config:
    from mikado.config import load_config

    options = _options(ctx)
    return load_config(config_file=options.config, docs=options.docs)


class MikadoGroup(click.Group):
    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name not in ("--help",):
            import difflib

            close = difflib.get_close_matches(cmd_name, self.list_commands(ctx), n=1)
            if close:
                ctx.fail(f"no such command `{cmd_name}`; did you mean `{close[0]}`?")
        return command


@click.group(
    cls=MikadoGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "-V", "--version", prog_name="mikado")
@global_options
def cli() -> None:
    """Check, show and execute Mikado Method chains kept as Markdown cards.

    A card is a Markdown file with YAML front-matter: `status: active` marks open work,
    `requires: [stem, ...]` its prerequisites. A goal and everything it requires is a chain;
    mikado works it leaves-first.

    \b
    Examples:
      mikado status                      every open chain and what is ready
      mikado status harden-zot-registry  one chain as a tree
      mikado next                        the cards you can take now
      mikado --docs docs status --format json

    Configuration: mikado.toml ([mikado]) or pyproject.toml ([tool.mikado]) in this folder or
    a parent. Exit codes: 0 ok, 1 findings or failure, 2 usage/configuration, 3 prerequisite
    discovered, 4 locked by another run, 5 manual work, 130 interrupted.
    """


@cli.command()
@click.argument("goal", required=False)
@global_options
@click.pass_context
def status(ctx: click.Context, goal: str | None) -> int:
    """Show where every open chain stands, or one chain as a tree.

    Without GOAL: a table of open chains (goal, title, branch, done/total, ready, failed and
    blocked cards), then the last error of each failed card. With GOAL (open or complete):
    that chain as a tree from the goal down to its leaves, one mark per state
    (✓ done, ▶ ready, · waiting, ⟳ running, ✗ failed, ⊘ blocked).

    `--format markdown` writes a pull-request description instead: per chain, its Mermaid
    graph and a checklist of its cards.

    \b
    Examples:
      mikado status
      mikado status harden-zot-registry
      mikado status --format json | jq '.chains[].ready'
      mikado status harden-zot-registry --format markdown > pr.md
    """
    from mikado.engine.journal import last_failures
    from mikado.views.status import marks_for_stream, status_json, status_table, status_tree

    fmt = output_format(ctx, ("human", "json", "markdown"))
    config = load_settings(ctx)
    plan = _plan(config)
    chains = [plan.chain(_goal(plan, goal))] if goal else plan.open_chains()
    failed = {c.stem for chain in chains for c in chain.cards if c.status == "failed"}
    failures = last_failures(config.runtime, failed)
    if fmt == "json":
        echo_json(status_json(chains, failures))
        return ExitCode.OK
    if fmt == "markdown":
        from mikado.views.markdown import status_markdown

        click.echo(status_markdown(chains, failures), nl=False)
        return ExitCode.OK

    def style(text: str, state: State | None) -> str:
        from mikado.views.status import COLOURS

        return click.style(text, fg=COLOURS[state]) if state else text

    if goal:
        lines = status_tree(chains[0], failures, style, marks_for_stream())
    else:
        lines = status_table(chains, failures, style)
    for line in lines:
        echo(line)
    return ExitCode.OK


@cli.command(name="next")
@click.argument("goal", required=False)
@global_options
@click.pass_context
def next_(ctx: click.Context, goal: str | None) -> int:
    """List the cards a person or a run can take now, one per line.

    These are the ready cards, and failed cards whose prerequisites are all complete, in run
    order. Without GOAL, across every open chain.

    \b
    Examples:
      mikado next
      mikado next harden-zot-registry
      for card in $(mikado next); do echo "todo: $card"; done
    """
    fmt = output_format(ctx, ("human", "json"))
    config = load_settings(ctx)
    plan = _plan(config)
    chains = [plan.chain(_goal(plan, goal))] if goal else plan.open_chains()
    stems = list(dict.fromkeys(stem for chain in chains for stem in chain.takeable()))
    stems = plan.docs.graph.ordered(stems)
    if fmt == "json":
        echo_json({"next": stems})
    else:
        for stem in stems:
            echo(stem)
    return ExitCode.OK


@cli.command()
@click.option("--strict", is_flag=True, help="Fail (exit 1) on warnings too.")
@global_options
@click.pass_context
def check(ctx: click.Context, strict: bool) -> int:
    """Check the docs tree: front-matter, the requires graph, wiki-links, indexes, actions.

    Every rule can be switched off with `ignore = ["rule", ...]` in the configuration. Exit
    1 when an error is found (with --strict, a warning too), else 0. Unchanged docs are read
    from a cache in .mikado/ (safe to delete).

    \b
    Rules (error unless marked):
      frontmatter-missing, frontmatter-invalid, unreadable, field-missing,
      field-type, field-misplaced, status-invalid, duplicate-stem, requires-missing,
      requires-self, cycle, branch-name (warning), done-requires-open (warning),
      broken-link, ambiguous-link, path-link, spaced-link, orphan, index-missing,
      action-missing (warning)

    \b
    Examples:
      mikado check
      mikado check --strict --format github     in a CI job
      mikado check --format json | jq '.findings[] | select(.rule == "orphan")'
    """
    from mikado.checks.gate import check_docs
    from mikado.views.check import COLOURS, github, human

    fmt = output_format(ctx, ("human", "json", "github"))
    config = load_settings(ctx)
    with StatusLine("reading docs") as progress:
        report = check_docs(config, progress)
    if fmt == "json":
        echo_json(report.as_json())
    elif fmt == "github":
        for line in github(report):
            click.echo(line)
    else:

        def style(text: str, role: str) -> str:
            return click.style(text, **COLOURS[role])  # type: ignore[arg-type]

        for line in human(report, style):
            echo(line)
    return report.exit_code(strict=strict)


@cli.command()
@click.argument("goal", required=False)
@click.option(
    "--as",
    "as_",
    type=click.Choice(["mermaid", "dot"]),
    default="mermaid",
    show_default=True,
    help="Mermaid for Markdown (GitHub, Forgejo); DOT for Graphviz.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False, writable=True),
    help="Write the graph to FILE instead of standard output.",
)
@global_options
@click.pass_context
def graph(ctx: click.Context, goal: str | None, as_: str, output: Path | None) -> int:
    """Draw a chain, or every open chain, coloured by state.

    Nodes are cards labelled with stem, title and state (done, ready, waiting, running,
    failed, blocked); goals are hexagons. Edges run from a prerequisite to its dependent.

    \b
    Examples:
      mikado graph harden-zot-registry
      mikado graph --as dot | dot -Tsvg > chains.svg
      mikado graph harden-zot-registry --output chain.mmd
    """
    from mikado.views.graph import render

    output_format(ctx, ("human",))
    config = load_settings(ctx)
    plan = _plan(config)
    chains = [plan.chain(_goal(plan, goal))] if goal else plan.open_chains()
    text = render(chains, as_)
    if output is None:
        click.echo(text, nl=False)
        return ExitCode.OK
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror}") from None
    echo(f"wrote {output}", err=True)
    return ExitCode.OK


@cli.command(name="branch-check")
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

    On a branch mikado/<stem>, every commit since it left BASE must read
    `C2(<stem>): plan|impl|close|finalize <text>`: plan commits first, changing only cards and
    category indexes; impl commits change no card; close commits only complete cards
    (`status` removed or `done`, `modified` updated); finalize last. On any other branch
    there is nothing to check. Exit 1 on a violation; each names the commit and the rule.

    \b
    Examples:
      mikado branch-check
      mikado branch-check --base develop --format json
      mikado branch-check --commit-msg .git/COMMIT_EDITMSG   # as a commit-msg hook
    """
    from mikado.workflow.branch_check import check_branch, describe
    from mikado.workflow.git import Repo

    fmt = output_format(ctx, ("human", "json"))
    message = None
    if commit_msg is not None:
        try:
            message = commit_msg.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise UsageError(f"cannot read {commit_msg}: {exc.strerror}") from None
    repo = Repo(Path.cwd())
    config = load_settings(ctx)
    report = check_branch(repo, config, base=base, commit_message=message)
    if fmt == "json":
        echo_json(report.as_json())
    else:
        for line in describe(report):
            echo(line, err=bool(report.violations))
    return ExitCode.FAILURE if report.violations else ExitCode.OK


@cli.command()
@click.argument("goal", required=False)
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

    On mikado/<stem>: the chain, the branch position (planning, mid-cycle, between cycles,
    finalized, violation), the last plan/close commit to reset to when a new prerequisite
    turns up, the ready cards, stashed work and the next steps. On any other branch: the
    open chains (or GOAL's) and which one to resume.

    \b
    Examples:
      mikado resume
      mikado resume harden-zot-registry
      mikado resume --format json
    """
    from mikado.engine.journal import last_failures
    from mikado.views.status import marks_for_stream, status_tree
    from mikado.workflow.branch_check import check_branch
    from mikado.workflow.git import Repo, stem_of_branch
    from mikado.workflow.resume import (
        OffBranch,
        OnBranch,
        candidates,
        describe_off_branch,
        describe_on_branch,
    )

    fmt = output_format(ctx, ("human", "json"))
    config = load_settings(ctx)
    repo = Repo(Path.cwd())
    plan = _plan(config)
    stashes = tuple(repo.stashes())
    branch = repo.current_branch()
    stem = stem_of_branch(branch)
    if goal is not None:
        _goal(plan, goal)
        if stem is not None and goal != stem:
            raise UsageError(
                f"this is branch {branch}, not the branch of `{goal}`; "
                f"`git switch mikado/{goal}` to resume it"
            )
    if stem is None:
        off = OffBranch(branch, tuple(candidates(plan, repo, [goal] if goal else None)), stashes)
        if fmt == "json":
            echo_json(off.as_json())
        else:
            for line in describe_off_branch(off):
                echo(line)
        return ExitCode.OK
    report = check_branch(repo, config, base=base)
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
        echo(line)
    return ExitCode.OK


@cli.command()
@click.argument("goal")
@click.option("--dry-run", is_flag=True, help="Show what would change and write nothing.")
@global_options
@click.pass_context
def finalize(ctx: click.Context, goal: str, dry_run: bool) -> int:
    """Turn a completed chain's cards into plain documentation.

    Removes `status`, `requires` and `branch` from every card of GOAL's chain and sets
    `modified` to today; bodies, wiki-links and every other front-matter line stay as they
    are. Refused (listing them) while a card of the chain is open, or while an open card
    outside the chain still requires one of its cards. Commit the result as
    `C2(<goal>): finalize ...`.

    \b
    Examples:
      mikado finalize harden-zot-registry --dry-run
      mikado finalize harden-zot-registry
    """
    from datetime import date

    from mikado.edit.finalize import apply, plan_finalization, verify
    from mikado.engine.lock import RunLock

    fmt = output_format(ctx, ("human", "json"))
    config = load_settings(ctx)

    def finalize_now() -> tuple[Any, list[str]]:
        plan = _plan(config)
        finalization = plan_finalization(plan, _goal(plan, goal), date.today())
        if dry_run:
            verify(config.docs, finalization)
            return finalization, [card.path for card in finalization.cards]
        return finalization, apply(config.docs, finalization)

    if dry_run:
        finalization, changed = finalize_now()
    else:
        # Cards are rewritten: no run may be writing them at the same time.
        with RunLock(config.runtime):
            finalization, changed = finalize_now()
    if fmt == "json":
        data = finalization.as_json(dry_run=dry_run)
        data["changed"] = changed
        echo_json(data)
        return ExitCode.OK
    if not finalization.cards:
        echo(f"{goal}: no card of the chain carries Mikado fields; nothing to finalize.")
        return ExitCode.OK
    verb = "would remove" if dry_run else "removed"
    for card in finalization.cards:
        if card.path in changed:
            echo(f"{card.path}: {verb} {', '.join(card.removed)}; modified {finalization.today}")
    count = len(changed)
    if dry_run:
        echo(f"{goal}: {count} card(s) would be finalized (dry run, nothing written).")
    else:
        echo(
            f"{goal}: {count} card(s) finalized; commit them as `C2({goal}): finalize ...` "
            "with a changelog fragment."
        )
    return ExitCode.OK


@cli.command()
@click.argument("goal")
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Run up to N ready cards at once.",
)
@click.option(
    "--keep-going", "-k", is_flag=True, help="After a failure, hold back only its dependents."
)
@click.option("--only", metavar="CARD", help="Run this one card (its prerequisites complete).")
@click.option("--recheck", is_flag=True, help="Run complete cards' check/verify again.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before running.")
@click.option("--verbose", "-v", is_flag=True, help="Progress and action logs off a terminal.")
@click.option(
    "--lab",
    is_flag=True,
    help="Run against the built-in emulated services, in a lab workspace (no prompt: nothing "
    "real is touched).",
)
@click.option(
    "--workspace",
    type=click.Path(path_type=Path, file_okay=False),
    help="With --lab: the workspace folder, reused if it exists (default: a new temporary one).",
)
@global_options
@click.pass_context
def run(
    ctx: click.Context,
    goal: str,
    dry_run: bool,
    jobs: int,
    keep_going: bool,
    only: str | None,
    recheck: bool,
    yes: bool,
    verbose: bool,
    lab: bool,
    workspace: Path | None,
) -> int:
    """Run the actions of GOAL's chain, leaves first, recording progress in the cards.

    Each open card's action (actions/<stem>.py, or the card's `action:`) runs once its
    prerequisites are complete: the card goes `running`, then complete (or `failed`, with the
    error in .mikado/journal.jsonl). Complete cards are skipped; failed and interrupted ones
    run again. A ready card with no action stops the run (exit 5): do it by hand, then
    `mikado done CARD`. An action that discovers a prerequisite adds it as a new card and
    stops the run (exit 3); the next run starts with it.

    \b
    Examples:
      mikado run harden-zot-registry --dry-run
      mikado run harden-zot-registry --yes --jobs 4
      mikado run harden-zot-registry --only wire-ci-registry-auth
      mikado run harden-zot-registry --dry-run --format json
      mikado run harden-zot-registry --lab --workspace /tmp/lab

    With --lab the chain runs on a copy of the cards against local emulators of Authentik,
    Forgejo and zot, provisioned as an operator's services would be; the workspace (printed)
    keeps their state, so the same --workspace resumes an interrupted lab run.
    """
    from mikado.cli.run_chain import run_chain
    from mikado.engine.plan import RunOptions

    fmt = output_format(ctx, ("human", "json"))
    if workspace is not None and not lab:
        raise UsageError("--workspace goes with --lab")
    options = RunOptions(
        dry_run=dry_run, jobs=jobs, keep_going=keep_going, only=only, recheck=recheck
    )
    if not lab:
        return run_chain(load_settings(ctx), goal, options, fmt=fmt, verbose=verbose, ask=not yes)
    from mikado.lab.session import run_in_lab

    return run_in_lab(
        load_settings(ctx),
        goal,
        workspace,
        dry_run=dry_run,
        run_chain=lambda config: run_chain(
            config, goal, options, fmt=fmt, verbose=verbose, ask=False
        ),
        echo=lambda line: echo(line, err=fmt == "json"),
    )


@cli.command()
@click.argument("card")
@global_options
@click.pass_context
def done(ctx: click.Context, card: str) -> int:
    """Complete CARD by hand (refused while a prerequisite is open).

    For work no action does: once it is done, this records it in the card (per `completion`:
    `status` removed, or `status: done`) and sets `modified` to today.

    \b
    Examples:
      mikado done wire-ci-registry-auth
    """
    from datetime import date

    from mikado.edit.editor import edit_card
    from mikado.engine.journal import Journal
    from mikado.engine.lock import RunLock
    from mikado.tree.loader import load_docs

    output_format(ctx, ("human",))
    config = load_settings(ctx)
    with RunLock(config.runtime):
        docs = load_docs(config, strict_graph=True)
        target = docs.require(card)
        if target.is_complete:
            echo(f"{card} is already complete")
            return ExitCode.OK
        waiting = [r for r in target.requires if r in docs.cards and docs.cards[r].is_open]
        if waiting:
            raise UsageError(
                f"{card} still has open prerequisites: {', '.join(waiting)}; "
                "complete them first (`mikado next` lists what can be taken now)"
            )
        path = docs.root / target.path
        today = date.today()
        if config.completion == "done":
            edit_card(path, set={"status": "done", "modified": today})
        else:
            edit_card(path, set={"modified": today}, remove=["status"])
        Journal(config.runtime, "by-hand").record(
            "card-end", stem=card, outcome="done", by="hand", duration=0
        )
    echo(f"{card}: complete")
    return ExitCode.OK


@cli.command()
@click.argument("stem")
@click.option("--title", required=True, help="The card's title.")
@click.option("--requires", multiple=True, metavar="CARD", help="A prerequisite (repeatable).")
@click.option(
    "--required-by", multiple=True, metavar="CARD", help="A card that needs this one (repeatable)."
)
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for the card (default: beside the first --required-by card, else the root).",
)
@global_options
@click.pass_context
def new(
    ctx: click.Context,
    stem: str,
    title: str,
    requires: tuple[str, ...],
    required_by: tuple[str, ...],
    folder: Path | None,
) -> int:
    """Write a new open card STEM, the manual Mikado loop.

    Each --required-by card gains STEM in `requires` and a link in its body; the new card is
    linked from its category index, so the tree still passes `mikado check`.

    \b
    Examples:
      mikado new create-ci-group --title "Create the CI group" --required-by wire-ci-registry-auth
      mikado new audit-tags --title "Audit tags" --requires enforce-tag-immutability --dir cards/zot
    """
    from datetime import date

    from mikado.edit.growth import new_card
    from mikado.engine.lock import RunLock
    from mikado.tree.loader import load_docs

    output_format(ctx, ("human",))
    config = load_settings(ctx)
    with RunLock(config.runtime):
        docs = load_docs(config, strict_graph=True)
        made = new_card(
            config,
            docs,
            stem=stem,
            title=title,
            requires=requires,
            required_by=required_by,
            folder=folder,
            today=date.today(),
        )
    echo(f"wrote {made.path}")
    if made.index:
        echo(f"linked from {made.index}")
    for name in required_by:
        echo(f"{name} now requires {stem}")
    return ExitCode.OK


@cli.group(name="lab")
@global_options
def lab_group() -> None:
    """The built-in lab: local emulators of Authentik, Forgejo and zot.

    `mikado run GOAL --lab` runs a chain against them; `mikado lab serve` keeps them running
    for curl, skopeo or a `mikado run` of your own in the workspace.

    \b
    Examples:
      mikado lab serve
      mikado run harden-zot-registry --lab --workspace /tmp/lab
    """


@lab_group.command()
@click.option(
    "--workspace",
    type=click.Path(path_type=Path, file_okay=False),
    help="The lab workspace, reused if it exists (default: a new temporary folder).",
)
@global_options
@click.pass_context
def serve(ctx: click.Context, workspace: Path | None) -> int:
    """Keep the lab's emulated services running until Ctrl-C.

    Prints their URLs, the workspace's configuration and how to reach them with curl and
    skopeo; tokens stay in the workspace's lab/lab.json and are never printed.

    \b
    Examples:
      mikado lab serve
      mikado lab serve --workspace /tmp/lab    # the workspace of a lab run
    """
    from mikado.lab.session import serve_lab

    output_format(ctx, ("human",))
    return serve_lab(load_settings(ctx), workspace, echo=echo)


def _plan(config: Config) -> Plan:
    from mikado.engine.lock import holder
    from mikado.model.chains import Plan
    from mikado.tree.loader import load_docs

    with StatusLine("reading docs") as progress:
        docs = load_docs(config, strict_graph=True, progress=progress)
    return Plan(docs, run_live=holder(config.runtime) is not None)


def _goal(plan: Plan, goal: str) -> str:
    return str(plan.docs.require(goal).stem)


def _report(error: MikadoError) -> None:
    if isinstance(error, DocsError):
        for problem in error.problems:
            click.echo(f"error: {problem}", err=True)
    click.echo(f"mikado: {error}", err=True)


def _crash(exc: BaseException) -> int:
    import platform
    import traceback
    from datetime import UTC, datetime
    from importlib.metadata import version

    log = Path.cwd() / ".mikado" / "crash.log"
    try:
        from mikado.config import ensure_runtime

        ensure_runtime(log.parent)
        with open(log, "a", encoding="utf-8") as stream:
            stream.write(
                f"--- {datetime.now(UTC).isoformat(timespec='seconds')} mikado {__version__}, "
                f"Python {platform.python_version()}, {platform.platform()}, "
                f"click {version('click')}\n"
                f"argv: {sys.argv[1:]}\n"
            )
            traceback.print_exception(exc, file=stream)
        where = f"details in {log}"
    except OSError:
        where = "could not write .mikado/crash.log"
    click.echo(
        f"mikado: internal error: {type(exc).__name__}: {exc} ({where}; please report it)",
        err=True,
    )
    return ExitCode.FAILURE


def run_cli(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code, without exiting."""
    try:
        result = cli.main(args=argv, prog_name="mikado", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return ExitCode.INTERRUPTED
    except MikadoError as exc:
        _report(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return ExitCode.INTERRUPTED
    except Exception as exc:  # the last line of defence prints one line
        return _crash(exc)
    return int(result) if isinstance(result, int) else ExitCode.OK


def main(argv: Sequence[str] | None = None) -> NoReturn:
    sys.exit(run_cli(argv))
