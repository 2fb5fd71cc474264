"""`mikado run`: execute a chain (docs/reference.md#run), here or in the built-in lab."""

from __future__ import annotations

from pathlib import Path

import click

from mikado.cli.options import (
    LAB_INFRA_HELP,
    LAB_VERSIONS_HELP,
    complete_stems,
    global_options,
    load_settings,
    operator_sources,
    output_format,
)
from mikado.cli.options import lab_versions as options_lab_versions
from mikado.cli.output import as_run, echo
from mikado.errors import UsageError


@click.command()
@click.argument("goal", shell_complete=complete_stems)
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
@click.option(
    "--only",
    metavar="CARD",
    shell_complete=complete_stems,
    help="Run this one card (its prerequisites complete).",
)
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
@click.option("--lab-versions", metavar="SERVICE=RELEASE,...", help=LAB_VERSIONS_HELP)
@click.option(
    "--infra",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    metavar="PATH",
    help=LAB_INFRA_HELP,
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
    lab_versions: str | None,
    infra: Path | None,
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
      mikado run harden-zot-registry --lab --lab-versions authentik=2025.2,zot=2.1.17
      mikado run harden-zot-registry --lab --infra ../infra --config ../infra-mikado.toml

    With --lab the chain runs on a copy of the cards against local emulators of Authentik,
    Forgejo and zot (of the releases --lab-versions names), provisioned with what an operator
    brings beforehand; the lab does the chain's manual step itself, as a person would. The
    workspace (printed) keeps their state, so the same --workspace resumes an interrupted lab
    run.
    """
    from mikado.cli.run_chain import run_chain
    from mikado.engine.plan import RunOptions

    fmt = output_format(ctx, ("human", "json"))
    if (workspace is not None or lab_versions is not None or infra is not None) and not lab:
        raise UsageError("--workspace, --lab-versions and --infra go with --lab")
    versions = options_lab_versions(lab_versions)
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
        versions=versions,
        sources=operator_sources(ctx, infra),
        run_chain=lambda config: run_chain(
            config, goal, options, fmt=fmt, verbose=verbose, ask=False
        ),
        echo=lambda line: echo(as_run(line), err=fmt == "json"),
    )
