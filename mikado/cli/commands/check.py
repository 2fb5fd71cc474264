"""`mikado check`: the CI gate over the docs tree (docs/reference.md#check-rules)."""

from __future__ import annotations

import click

from mikado.cli.options import global_options, load_settings, output_format
from mikado.cli.output import StatusLine, echo, echo_json


@click.command()
@click.option("--strict", is_flag=True, help="Fail (exit 1) on warnings too.")
@global_options
@click.pass_context
def check(ctx: click.Context, strict: bool) -> int:
    """Check the docs tree: front-matter, the requires graph, wiki-links, indexes, actions.

    Every rule can be switched off with `ignore = ["rule", ...]` in the configuration, or
    for some docs only with "rule:path-glob" (e.g. "orphan:drafts/*.md"). Exit
    1 when an error is found (with --strict, a warning too), else 0. Unchanged docs are read
    from a cache in .mikado/ (safe to delete).

    \b
    Rules (error unless marked):
      frontmatter-missing, frontmatter-invalid, frontmatter-uneditable, unreadable,
      field-missing, field-type, field-misplaced, field-duplicate, field-typo (warning),
      field-unknown (warning), status-invalid, duplicate-stem, requires-missing,
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
