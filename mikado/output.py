"""Printing for the command line: colour only on a terminal (and never with NO_COLOR), JSON
as the SPEC's shapes are read by scripts."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click


def colour_enabled(stream: Any = None) -> bool:
    stream = stream or sys.stdout
    return bool(stream.isatty()) and not os.environ.get("NO_COLOR")


def echo(text: str = "", *, err: bool = False) -> None:
    click.echo(text, err=err, color=colour_enabled(sys.stderr if err else sys.stdout))


def echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))
