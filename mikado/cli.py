"""The `mikado` command: parses arguments, calls the core, prints, and maps errors to exit codes.

Heavy modules (networkx, httpx, markdown-it) are imported inside the commands that need them so
`mikado status` starts in well under a tenth of a second.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from mikado import __version__
from mikado.errors import DocsError, ExitCode, MikadoError, UsageError

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


def load_settings(ctx: click.Context) -> Any:
    from mikado.config import load_config

    options = _options(ctx)
    return load_config(config_file=options.config, docs=options.docs)


def colour_enabled(stream: Any = None) -> bool:
    stream = stream or sys.stdout
    return bool(stream.isatty()) and not os.environ.get("NO_COLOR")


def echo(text: str = "", *, err: bool = False) -> None:
    click.echo(text, err=err, color=colour_enabled(sys.stderr if err else sys.stdout))


def echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


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

    \b
    Examples:
      mikado status
      mikado status harden-zot-registry
      mikado status --format json | jq '.chains[].ready'
    """
    from mikado.chains import State
    from mikado.journal import last_failures
    from mikado.views import marks_for_stream, status_json, status_table, status_tree

    fmt = output_format(ctx, ("human", "json"))
    config = load_settings(ctx)
    plan = _plan(config)
    chains = [plan.chain(_goal(plan, goal))] if goal else plan.open_chains()
    failed = {c.stem for chain in chains for c in chain.cards if c.status == "failed"}
    failures = last_failures(config.runtime, failed)
    if fmt == "json":
        echo_json(status_json(chains, failures))
        return ExitCode.OK

    def style(text: str, state: State | None) -> str:
        from mikado.views import COLOURS

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
      frontmatter-missing, frontmatter-invalid, field-missing, field-type,
      field-misplaced, status-invalid, duplicate-stem, requires-missing,
      requires-self, cycle, branch-name (warning), done-requires-open (warning),
      broken-link, ambiguous-link, path-link, spaced-link, orphan, index-missing,
      action-missing (warning)

    \b
    Examples:
      mikado check
      mikado check --strict --format github     in a CI job
      mikado check --format json | jq '.findings[] | select(.rule == "orphan")'
    """
    from mikado.check import check_docs
    from mikado.check_views import COLOURS, github, human

    fmt = output_format(ctx, ("human", "json", "github"))
    config = load_settings(ctx)
    report = check_docs(config)
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


def _plan(config: Any) -> Any:
    from mikado.chains import Plan
    from mikado.loader import load_docs
    from mikado.lock import holder

    docs = load_docs(config, strict_graph=True)
    return Plan(docs, run_live=holder(config.runtime) is not None)


def _goal(plan: Any, goal: str) -> str:
    if plan.docs.card(goal) is None:
        import difflib

        close = difflib.get_close_matches(goal, list(plan.docs.cards), n=1)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        raise UsageError(f"no card `{goal}` under {plan.docs.root}{hint}")
    return goal


def _report(error: MikadoError) -> None:
    if isinstance(error, DocsError):
        for problem in error.problems:
            click.echo(f"error: {problem}", err=True)
    click.echo(f"mikado: {error}", err=True)


def _crash(exc: BaseException) -> int:
    import platform
    import traceback
    from datetime import UTC, datetime

    log = Path.cwd() / ".mikado" / "crash.log"
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a", encoding="utf-8") as stream:
            stream.write(
                f"--- {datetime.now(UTC).isoformat(timespec='seconds')} mikado {__version__}, "
                f"Python {platform.python_version()}, {platform.platform()}, "
                f"click {click.__version__}\n"
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
