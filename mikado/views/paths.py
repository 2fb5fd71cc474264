"""How a path is shown to the person running mikado (docs/reference.md#output-formats):
relative to the current folder when the file lies inside it, as they would type it, else
absolute, since a chain of `../` says less than the full path. JSON keeps paths relative to
the docs root, so a program's reading does not depend on where it ran."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from mikado.errors import DocsError
from mikado.model.findings import Finding


def shown_path(path: Path, cwd: Path | None = None) -> str:
    """``path`` for people: relative to ``cwd`` (the current folder) when inside it, with
    ``/``; otherwise absolute."""
    absolute = Path(os.path.abspath(path))
    here = Path(os.path.abspath(cwd or Path.cwd()))
    if absolute == here:
        return "."
    if absolute.is_relative_to(here):
        return absolute.relative_to(here).as_posix()
    return str(absolute)


def shown_problems(error: DocsError, root: Path) -> DocsError:
    """``error`` with the paths of its findings (relative to the docs ``root``) shown as
    :func:`shown_path` shows them; other problems are kept as they are."""
    problems = tuple(
        dataclasses.replace(p, path=shown_path(root / p.path)) if isinstance(p, Finding) else p
        for p in error.problems
    )
    shown = DocsError(error.message, problems)
    shown.path, shown.line = error.path, error.line
    return shown
