"""The `mikado` command group: its options and help, the commands it holds, and the one place
that turns errors into exit codes (docs/reference.md#exit-codes).

Heavy modules (networkx, httpx, markdown-it) are imported inside the commands that need them so
`mikado status` starts in well under a tenth of a second.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

import click

from mikado import __version__
from mikado.cli.crash import crash, report
from mikado.cli.options import global_options
from mikado.cli.output import warnings_as_lines
from mikado.errors import ExitCode, MikadoError, UsageError

# Each command's module and function, imported only when that command runs (or help lists
# them all): a command starts without loading the code of the ten others.
COMMANDS = {
    "status": "status:status",
    "next": "status:next_",
    "check": "check:check",
    "graph": "graph:graph",
    "branch-check": "branch:branch_check",
    "resume": "branch:resume",
    "finalize": "finalize:finalize",
    "run": "run:run",
    "done": "cards:done",
    "new": "cards:new",
    "lab": "lab:lab_group",
    "init": "init:init",
}


class MikadoGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = _load(cmd_name)
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


def _load(name: str) -> click.Command | None:
    where = COMMANDS.get(name)
    if where is None:
        return None
    module, _, attribute = where.partition(":")
    command = getattr(importlib.import_module(f"mikado.cli.commands.{module}"), attribute)
    assert isinstance(command, click.Command) and command.name == name, where
    return command


def run_cli(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code, without exiting."""
    with warnings_as_lines():
        return _run(argv)


def _run(argv: Sequence[str] | None) -> int:
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
        report(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return ExitCode.INTERRUPTED
    except Exception as exc:  # the last line of defence prints one line
        if not _working_folder_exists():
            # Every command resolves its configuration, docs and runtime folder from the
            # current folder, so whatever failed, this is why; it is not a bug to report.
            gone = UsageError(
                "the current folder no longer exists (it was deleted or moved); change to an "
                "existing folder and run the command again"
            )
            report(gone)
            return gone.exit_code
        return crash(exc)
    return int(result) if isinstance(result, int) else ExitCode.OK


def _working_folder_exists() -> bool:
    try:
        os.getcwd()
    except FileNotFoundError:
        return False
    return True


def main(argv: Sequence[str] | None = None) -> NoReturn:
    sys.exit(run_cli(argv))
