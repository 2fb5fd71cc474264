"""Printing for the command line: colour only on a terminal (and never with NO_COLOR), JSON
in the shapes of docs/reference.md#output-formats."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import warnings
from collections.abc import Iterator
from types import TracebackType
from typing import IO, Any, TextIO

import click


def colour_enabled(stream: Any = None) -> bool:
    """Colour on a terminal that shows it: not with NO_COLOR set, nor on a ``TERM=dumb``
    terminal (Emacs shells, some CI consoles), which prints escape codes as text."""
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return bool(stream.isatty())


def command_name(argv0: str | None = None) -> str:
    """How to name mikado in a hint (``then run `mikado done X```) so that pasting it works:
    ``mikado`` when that is what the shell finds, else the path the person ran, such as
    ``.venv/bin/mikado`` after the README's install. ``python -m mikado`` and programs that
    embed mikado get ``mikado``: their command line is not one to paste."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    if os.path.basename(argv0) != "mikado" or os.sep not in argv0:
        return "mikado"
    import shutil

    found = shutil.which("mikado")
    try:
        if found is not None and os.path.samefile(found, argv0):
            return "mikado"
    except OSError:
        pass
    return argv0


def as_run(text: str) -> str:
    """``text`` with each command hint (`` `mikado …` ``, ``cd DIR && mikado …``) naming
    mikado as :func:`command_name` does: hints the core writes in one form read right
    wherever mikado was installed."""
    name = command_name()
    if name == "mikado":
        return text
    return text.replace("`mikado ", f"`{name} ").replace("&& mikado ", f"&& {name} ")


def echo(text: str = "", *, err: bool = False) -> None:
    click.echo(text, err=err, color=colour_enabled(sys.stderr if err else sys.stdout))


def echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@contextlib.contextmanager
def warnings_as_lines() -> Iterator[None]:
    """While the block runs, each problem mikado recovered from (a
    :class:`~mikado.tree.notices.TreeWarning`) prints as one ``mikado: warning: ...`` line on
    stderr, every time it happens; other warnings print as Python prints them."""
    from mikado.tree.notices import TreeWarning

    with warnings.catch_warnings():  # restores the filters and showwarning afterwards
        # "always": a second damaged cache in one process (tests, an embedding program) must
        # be reported too, not swallowed as a repeat of the first.
        warnings.simplefilter("always", TreeWarning)
        shown = warnings.showwarning

        def show(
            message: Warning | str,
            category: type[Warning],
            filename: str,
            lineno: int,
            file: TextIO | None = None,
            line: str | None = None,
        ) -> None:
            if issubclass(category, TreeWarning):
                click.echo(f"mikado: warning: {message}", err=True)
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


class StatusLine:
    """``reading docs 12,345 / 100,009``: one line on a terminal, rewritten in place as work
    goes on (at most ten times a second) and cleared when it ends. Nothing is written off a
    terminal, where it would clutter a CI log, nor for work too small to be worth a line.
    Call it with how much is done of how much."""

    def __init__(self, label: str, *, stream: IO[str] | None = None, min_total: int = 2000):
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.min_total = min_total
        self.enabled = bool(self.stream.isatty())
        self._last = float("-inf")
        self._width = 0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total < self.min_total:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        text = f"{self.label} {done:,} / {total:,}"
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()
        self._width = max(self._width, len(text))

    def __enter__(self) -> StatusLine:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0
