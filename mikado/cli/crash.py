"""The last line of defence: an unexpected error prints one line and leaves its details in
``.mikado/crash.log`` (docs/reference.md#commands)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mikado import __version__
from mikado.errors import DocsError, ExitCode, MikadoError


def report(error: MikadoError) -> None:
    if isinstance(error, DocsError):
        for problem in error.problems:
            click.echo(f"error: {problem}", err=True)
    click.echo(f"mikado: {error}", err=True)


def crash(exc: BaseException) -> int:
    import platform
    import traceback
    from datetime import UTC, datetime
    from importlib.metadata import version

    try:
        from mikado.config import ensure_runtime

        log = Path.cwd() / ".mikado" / "crash.log"  # Path.cwd() fails in a deleted folder
        ensure_runtime(log.parent)
        # backslashreplace: the command line's undecodable bytes reach exception messages as
        # lone surrogates, which strict UTF-8 would refuse (and crash the crash report).
        with open(log, "a", encoding="utf-8", errors="backslashreplace") as stream:
            stream.write(
                f"--- {datetime.now(UTC).isoformat(timespec='seconds')} mikado {__version__}, "
                f"Python {platform.python_version()}, {platform.platform()}, "
                f"click {version('click')}\n"
                f"argv: {sys.argv[1:]}\n"
            )
            traceback.print_exception(exc, file=stream)
        where = f"details in {log}"
    except (OSError, MikadoError):  # MikadoError: .mikado is no folder (ensure_runtime)
        where = "could not write .mikado/crash.log"
    click.echo(
        f"mikado: internal error: {type(exc).__name__}: {exc} ({where}; please report it)",
        err=True,
    )
    return ExitCode.FAILURE
