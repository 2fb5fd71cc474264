"""Turning a `check` report into text: grouped by file for people, workflow commands for
GitHub and Forgejo Actions. (JSON is :meth:`mikado.checks.gate.Report.as_json`.) Pure functions; the
CLI decides colour and where the text goes.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import groupby
from pathlib import Path

from mikado.checks.gate import Report
from mikado.model.findings import Finding, Severity
from mikado.views import paths
from mikado.views.printable import printable

# style(text, role): role is "path", "error", "warning", "rule", "ok" or "line".
Style = Callable[[str, str], str]

COLOURS = {
    "path": {"bold": True},
    "error": {"fg": "red", "bold": True},
    "warning": {"fg": "yellow", "bold": True},
    "rule": {"fg": "bright_black"},
    "line": {"fg": "bright_black"},
    "ok": {"fg": "green"},
}


def plain(text: str, role: str) -> str:
    return text


def shown_path(root: Path, path: str, cwd: Path | None = None) -> str:
    """A finding's path as the person or CI job running mikado names it
    (:func:`mikado.views.paths.shown_path`)."""
    return paths.shown_path(root / path, cwd)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def summary(report: Report) -> str:
    scope = f"{_count(report.docs, 'doc')} ({_count(report.cards, 'card')})"
    if not report.findings:
        return f"{scope}: no findings"
    return f"{_count(report.errors, 'error')}, {_count(report.warnings, 'warning')} in {scope}"


def human(report: Report, style: Style = plain, cwd: Path | None = None) -> list[str]:
    """Findings grouped by file, then a summary line."""
    lines: list[str] = []
    for path, group in groupby(report.findings, key=lambda f: f.path):
        findings = list(group)
        # File names and messages quoting them are shown, not obeyed (see printable); a
        # message's own line breaks (a YAML error's context) stay.
        lines.append(style(printable(shown_path(report.root, path, cwd)), "path"))
        width = (
            max(len(str(f.line)) for f in findings if f.line is not None)
            if any(f.line is not None for f in findings)
            else 1
        )
        for finding in findings:
            line = str(finding.line) if finding.line is not None else "-"
            severity = finding.severity.value
            message = "\n".join(map(printable, finding.message.split("\n")))
            lines.append(
                f"  {style(line.rjust(width), 'line')}  "
                f"{style(severity.ljust(7), severity)}  {message}  "
                f"{style(finding.rule, 'rule')}"
            )
        lines.append("")
    verdict = summary(report)
    if report.errors:
        lines.append(style(verdict, "error"))
    elif report.warnings:
        lines.append(style(verdict, "warning"))
    else:
        lines.append(style(verdict, "ok"))
    return lines


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_line(finding: Finding, path: str) -> str:
    command = "error" if finding.severity is Severity.ERROR else "warning"
    where = f"file={_escape_property(path)}"
    if finding.line is not None:
        where += f",line={finding.line}"
    return f"::{command} {where}::{_escape_data(f'{finding.message} [{finding.rule}]')}"


def github(report: Report, cwd: Path | None = None) -> list[str]:
    """One workflow command per finding (`::error file=PATH,line=N::message`), which GitHub
    and Forgejo Actions show on the line of the file in the pull request."""
    return [github_line(f, shown_path(report.root, f.path, cwd)) for f in report.findings]
