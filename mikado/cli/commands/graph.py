"""`mikado graph`: chains as Mermaid or DOT."""

from __future__ import annotations

from pathlib import Path

import click

from mikado.cli.options import global_options, goal_stem, load_settings, output_format, read_plan
from mikado.cli.output import echo
from mikado.errors import ExitCode, UsageError


@click.command()
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
    plan = read_plan(config)
    chains = [plan.chain(goal_stem(plan, goal))] if goal else plan.open_chains()
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
