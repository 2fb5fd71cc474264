"""`mikado graph`: chains as Mermaid or DOT."""

from __future__ import annotations

from pathlib import Path

import click

from mikado.cli.options import (
    complete_stems,
    global_options,
    goal_stem,
    load_settings,
    output_format,
    read_plan,
)
from mikado.cli.output import echo
from mikado.errors import ExitCode, UsageError


@click.command()
@click.argument("goal", required=False, shell_complete=complete_stems)
@click.option(
    "--as",
    "as_",
    type=click.Choice(["mermaid", "dot"]),
    help="Mermaid (the default) for Markdown (GitHub, Forgejo); DOT for Graphviz. "
    "`--format mermaid|dot` says the same.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False, writable=True),
    help="Write the graph to FILE instead of standard output.",
)
@global_options
@click.pass_context
def graph(ctx: click.Context, goal: str | None, as_: str | None, output: Path | None) -> int:
    """Draw a chain, or every open chain, coloured by state.

    Nodes are cards labelled with stem, title and state (done, ready, waiting, running,
    failed, blocked); goals are hexagons. Edges run from a prerequisite to its dependent.

    \b
    Examples:
      mikado graph harden-zot-registry
      mikado graph --as dot | dot -Tsvg > chains.svg
      mikado graph --format dot | dot -Tpng > chains.png
      mikado graph harden-zot-registry --output chain.mmd
    """
    from mikado.views.graph import render

    # --format, which every command takes, names the drawing too; "human" leaves it to --as.
    fmt = output_format(ctx, ("human", "mermaid", "dot"))
    if fmt != "human" and as_ is not None and as_ != fmt:
        raise UsageError(f"--as {as_} and --format {fmt} ask for different drawings")
    kind = as_ or (fmt if fmt != "human" else "mermaid")
    config = load_settings(ctx)
    plan = read_plan(config)
    chains = [plan.chain(goal_stem(plan, goal))] if goal else plan.open_chains()
    text = render(chains, kind)
    if output is None:
        click.echo(text, nl=False)
        return ExitCode.OK
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror}") from None
    echo(f"wrote {output}", err=True)
    return ExitCode.OK
