"""The exit codes of every command and the one exception hierarchy that maps onto them.

Library code raises these; only the CLI turns them into a message and an exit code, so a
caller embedding mikado gets exceptions, never ``sys.exit``.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The same meaning for every command (docs/reference.md#exit-codes)."""

    OK = 0
    FAILURE = 1  # error findings, a failed action, or docs that cannot be read
    USAGE = 2  # usage or configuration error
    PREREQUISITE = 3  # `run` stopped because an action discovered a prerequisite
    LOCKED = 4  # another run holds the lock
    MANUAL = 5  # `run` stopped at a ready card with no action
    INTERRUPTED = 130  # Ctrl-C, or SIGTERM during a run


class MikadoError(Exception):
    """Base of every error mikado reports to a person without a traceback."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line

    def __str__(self) -> str:
        where = self.path or ""
        if where and self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}" if where else self.message


class DocsError(MikadoError):
    """The docs tree cannot be read or does not form a valid graph (exit 1).

    ``problems`` holds every finding that made it so, so a person sees all of them at once
    instead of fixing one file per invocation.
    """

    def __init__(self, message: str, problems: tuple[object, ...] = ()):
        super().__init__(message)
        self.problems = problems


class ConfigError(MikadoError):
    """The configuration file is wrong (exit 2)."""

    exit_code = ExitCode.USAGE


class UsageError(MikadoError):
    """The command line asks for something impossible (exit 2)."""

    exit_code = ExitCode.USAGE


class LockHeld(MikadoError):
    """Another run holds the lock (exit 4)."""

    exit_code = ExitCode.LOCKED


class ServiceError(MikadoError):
    """A remote service refused or failed a request.

    Carries the service's own message, the request and the HTTP status so the person reading
    it can tell a wrong token from a missing object without re-running anything.
    """

    def __init__(
        self,
        service: str,
        request: str,
        detail: str,
        *,
        status: int | None = None,
        hint: str | None = None,
    ):
        self.service = service
        self.request = request
        self.status = status
        self.detail = detail
        self.hint = hint
        code = f" → {status}" if status is not None else ""
        text = f"{service}: {request}{code}: {detail}"
        if hint:
            text = f"{text} ({hint})"
        super().__init__(text)


class CardEditError(MikadoError):
    """A card's front-matter cannot be changed without risking the bytes around the change
    (exit 1); the card is left untouched and the message says which line to edit by hand."""


class PrerequisiteDiscovered(MikadoError):
    """Raised by an action that found work which must happen first (exit 3).

    The engine rolls the action back, writes a new open card ``stem`` titled ``title`` whose
    body is ``learned``, makes the failing card require it, and stops: the next run starts
    with the new leaf. That is the Mikado loop: try, learn, revert, grow the graph.
    """

    exit_code = ExitCode.PREREQUISITE

    def __init__(self, stem: str, title: str, learned: str):
        super().__init__(f"prerequisite discovered: `{stem}` ({title}): {learned}")
        self.stem = stem
        self.title = title
        self.learned = learned


class ActionLoadError(MikadoError):
    """An action module cannot be imported (exit 1); nothing has run."""
