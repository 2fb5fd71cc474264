"""`mikado init`: configure mikado for the docs of an existing repository
(docs/reference.md#commands)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from mikado.cli.options import _options, global_options, output_format
from mikado.cli.output import echo
from mikado.errors import ExitCode

_SHOWN = 10  # findings listed before "and N more"


@click.command()
@click.option("--force", is_flag=True, help="Replace an existing mikado configuration.")
@click.option("--dry-run", is_flag=True, help="Print the proposal; write nothing.")
@click.option(
    "--baseline",
    is_flag=True,
    help="Record the error findings there are now as per-file `ignore` entries, so CI passes "
    "from the first day while every new doc meets every rule.",
)
@global_options
@click.pass_context
def init(ctx: click.Context, force: bool, dry_run: bool, baseline: bool) -> int:
    """Write a mikado.toml for the docs of this repository.

    Finds the docs folder (docs/ or cards/, or --docs DIR), proposes `cards_in` (the
    folders holding cards with `status`/`requires`), the required fields the docs carry,
    `build_time_docs` (link targets such as CHANGELOG served by a CHANGELOG.md beside the
    docs), and whether open cards need actions; writes mikado.toml here (--config FILE names
    another), refusing to replace a configuration unless --force; shows what `mikado check`
    finds with it; and prints a pre-commit hook and a CI job to paste.

    \b
    Examples:
      mikado init                       then `mikado check`
      mikado init --dry-run             only show the proposal
      mikado init --docs handbook --baseline
    """
    from mikado.workflow.init import (
        existing,
        find_docs,
        preview,
        propose,
        snippets,
        with_baseline,
        write,
    )

    output_format(ctx, ("human",))
    given = _options(ctx)
    cwd = Path.cwd()
    proposal = propose(cwd, find_docs(cwd, given.docs), given.config)
    report = preview(proposal)
    if baseline:
        proposal = with_baseline(proposal, report)
        report = preview(proposal)
    if not dry_run:
        write(proposal, force=force)  # before any output: a refusal prints only its reason
    name = os.path.relpath(proposal.target)
    survey = proposal.survey
    folders = ", ".join(f"{f}/" for f in survey.card_folders) or "the docs folder"
    echo(
        f"Docs: {os.path.relpath(survey.root)} ({survey.docs} docs, {len(survey.placed)} "
        f"with status/requires" + (f" under {folders})" if survey.placed else ")")
    )
    if dry_run:
        there = existing(proposal)
        replaces = f", replacing {os.path.relpath(there)}" if there else ""
        echo(f"Would write {name}{replaces} (--dry-run):")
    else:
        echo(f"Wrote {name}:")
    echo()
    for line in proposal.text().splitlines():
        echo(f"    {line}")
    echo()
    echo(
        f"`mikado check` with it: {_count(report.errors, 'error')}, "
        f"{_count(report.warnings, 'warning')}"
    )
    docs = os.path.relpath(survey.root)
    for finding in report.findings[:_SHOWN]:
        where = f"{docs}/{finding.path}" + (f":{finding.line}" if finding.line else "")
        echo(f"  {where}: {finding.message} [{finding.rule}]")
    if len(report.findings) > _SHOWN:
        echo(f"  ... and {len(report.findings) - _SHOWN} more: run `mikado check`")
    if report.errors:
        echo(
            "  Fix them before CI runs `mikado check`, or record them as known (per-file "
            "`ignore` entries) with `--baseline`."
        )
    pre_commit, workflow = snippets(proposal.target, cwd)
    echo()
    echo("pre-commit (.pre-commit-config.yaml):")
    echo()
    for line in pre_commit.splitlines():
        echo(f"    {line}")
    echo()
    echo("CI (Forgejo or GitHub Actions):")
    echo()
    for line in workflow.splitlines():
        echo(f"    {line}")
    return ExitCode.OK


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
