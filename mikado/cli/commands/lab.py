"""`mikado lab serve`: the built-in emulators, kept running."""

from __future__ import annotations

from pathlib import Path

import click

from mikado.cli.options import (
    LAB_INFRA_HELP,
    LAB_VERSIONS_HELP,
    global_options,
    load_settings,
    operator_sources,
    output_format,
)
from mikado.cli.options import lab_versions as options_lab_versions
from mikado.cli.output import as_run, echo


@click.group(name="lab")
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
@click.option("--lab-versions", metavar="SERVICE=RELEASE,...", help=LAB_VERSIONS_HELP)
@click.option(
    "--infra",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    metavar="PATH",
    help=LAB_INFRA_HELP.replace("With --lab: c", "C"),
)
@global_options
@click.pass_context
def serve(
    ctx: click.Context, workspace: Path | None, lab_versions: str | None, infra: Path | None
) -> int:
    """Keep the lab's emulated services running until Ctrl-C.

    Prints their URLs, the workspace's configuration and how to reach them with curl and
    skopeo; tokens stay in the workspace's lab/lab.json and are never printed.

    \b
    Examples:
      mikado lab serve
      mikado lab serve --workspace /tmp/lab    # the workspace of a lab run
      mikado lab serve --lab-versions zot=2.1.10
    """
    from mikado.lab.session import serve_lab

    output_format(ctx, ("human",))
    versions = options_lab_versions(lab_versions)
    return serve_lab(
        load_settings(ctx),
        workspace,
        versions=versions,
        sources=operator_sources(ctx, infra),
        echo=lambda line: echo(as_run(line)),
    )
