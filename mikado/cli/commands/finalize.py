"""`mikado finalize`: a completed chain's cards become plain documentation."""

from __future__ import annotations

from typing import Any

import click

from mikado.cli.options import (
    complete_stems,
    global_options,
    goal_stem,
    load_settings,
    output_format,
    read_plan,
)
from mikado.cli.output import echo, echo_json
from mikado.errors import ExitCode


@click.command()
@click.argument("goal", shell_complete=complete_stems)
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
        plan = read_plan(config)
        finalization = plan_finalization(plan, goal_stem(plan, goal), date.today())
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
