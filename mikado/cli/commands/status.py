"""`mikado status` and `mikado next`: where the open chains stand and what can be taken now."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mikado.cli.options import (
    complete_stems,
    every_goal,
    global_options,
    goal_stem,
    load_settings,
    output_format,
    read_plan,
)
from mikado.cli.output import echo, echo_json
from mikado.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from mikado.model.chains import State


@click.command()
@click.argument("goal", required=False, shell_complete=complete_stems)
@click.option(
    "--all",
    "every",
    is_flag=True,
    help="List complete chains too (those whose cards still carry Mikado fields).",
)
@global_options
@click.pass_context
def status(ctx: click.Context, goal: str | None, every: bool) -> int:
    """Show where every open chain stands, or one chain as a tree.

    Without GOAL: a table of open chains (goal, title, branch, done/total, ready, failed and
    blocked cards), then the last error of each failed card; with --all, complete chains
    too. With GOAL (open or complete):
    that chain as a tree from the goal down to its leaves, one mark per state
    (✓ done, ▶ ready, · waiting, ⟳ running, ✗ failed, ⊘ blocked).

    `--format markdown` writes a pull-request description instead: per chain, its Mermaid
    graph and a checklist of its cards.

    \b
    Examples:
      mikado status
      mikado status --all
      mikado status harden-zot-registry
      mikado status --format json | jq '.chains[].ready'
      mikado status harden-zot-registry --format markdown > pr.md
    """
    from mikado.engine.journal import last_failures
    from mikado.views.status import marks_for_stream, status_json, status_table, status_tree

    fmt = output_format(ctx, ("human", "json", "markdown"))
    if goal and every:
        raise UsageError("give GOAL or --all, not both")
    config = load_settings(ctx)
    plan = read_plan(config)
    if goal:
        chains = [plan.chain(goal_stem(plan, goal))]
    else:
        chains = [plan.chain(g) for g in every_goal(plan)] if every else plan.open_chains()
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
        lines = status_table(chains, failures, style, every=every)
    for line in lines:
        echo(line)
    return ExitCode.OK


@click.command(name="next")
@click.argument("goal", required=False, shell_complete=complete_stems)
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
    plan = read_plan(config)
    chains = [plan.chain(goal_stem(plan, goal))] if goal else plan.open_chains()
    stems = list(dict.fromkeys(stem for chain in chains for stem in chain.takeable()))
    stems = plan.docs.graph.ordered(stems)
    if fmt == "json":
        echo_json({"next": stems})
    else:
        from mikado.views.printable import printable

        for stem in stems:
            echo(printable(stem))  # a file name may hold what a terminal would act on
    return ExitCode.OK
