"""`mikado done` and `mikado new`: completing a card by hand and growing the graph by hand."""

from __future__ import annotations

from pathlib import Path

import click

from mikado.cli.options import complete_stems, global_options, load_settings, output_format
from mikado.cli.output import command_name, echo
from mikado.errors import ExitCode


@click.command()
@click.argument("card", shell_complete=complete_stems)
@global_options
@click.pass_context
def done(ctx: click.Context, card: str) -> int:
    """Complete CARD by hand (refused while a prerequisite is open).

    For work no action does: once it is done, this records it in the card (per `completion`:
    `status` removed, or `status: done`) and sets `modified` to today. A card that has an
    action is completed too, with a warning: its action did not run, so the outputs it records
    are missing (`mikado run GOAL --recheck` has the action look again).

    \b
    Examples:
      mikado done wire-ci-registry-auth
    """
    from datetime import date

    from mikado.checks.gate import display_path, existing_action
    from mikado.engine.by_hand import complete_by_hand
    from mikado.tree.loader import load_docs

    output_format(ctx, ("human",))
    config = load_settings(ctx)
    if not complete_by_hand(config, card, date.today()):
        echo(f"{card} is already complete")
        return ExitCode.OK
    echo(f"{card}: complete")
    completed = load_docs(config).card(card)
    module = existing_action(config, completed) if completed is not None else None
    if module is not None:
        echo(
            f"mikado: warning: {card} has an action, {display_path(module)}, which did not run: "
            "the outputs it records are missing, and a card reading them will fail; to have it "
            f"check the work, run `{command_name()} run GOAL --recheck`",
            err=True,
        )
    return ExitCode.OK


@click.command()
@click.argument("stem")
@click.option("--title", required=True, help="The card's title.")
@click.option(
    "--requires",
    multiple=True,
    metavar="CARD",
    help="A prerequisite (repeatable).",
    shell_complete=complete_stems,
)
@click.option(
    "--required-by",
    multiple=True,
    metavar="CARD",
    help="A card that needs this one (repeatable).",
    shell_complete=complete_stems,
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
    linked from its category index, so the tree still passes `mikado check`. A card nothing
    would link (no --required-by, no category index) is refused: give --dir a category.

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
