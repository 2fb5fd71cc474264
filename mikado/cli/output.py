"""Printing for the command line: colour only on a terminal (and never with NO_COLOR), JSON
in the shapes of docs/reference.md#output-formats."""

from __future__ import annotations

import json
import os
import sys
import time
from types import TracebackType
from typing import IO, Any

import click


def colour_enabled(stream: Any = None) -> bool:
    stream = stream or sys.stdout
    return bool(stream.isatty()) and not os.environ.get("NO_COLOR")


def echo(text: str = "", *, err: bool = False) -> None:
    click.echo(text, err=err, color=colour_enabled(sys.stderr if err else sys.stdout))


def echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


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
