"""A finding: one thing wrong with one doc, as `check` reports it and the loader collects it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    """docs/reference.md#output-formats: ``path`` relative to the docs root with ``/``; ``line``
    1-based in the file (front-matter included) or ``None`` for whole-file findings; ``target`` the
    link target, field or stem concerned."""

    rule: str
    severity: Severity
    path: str
    line: int | None
    message: str
    target: str | None = None

    @property
    def sort_key(self) -> tuple[str, int, str, str]:
        return (self.path, self.line or 0, self.rule, self.message)

    def as_json(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "path": self.path,
            "line": self.line,
            "message": self.message,
            "target": self.target,
        }

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message} [{self.rule}]"


def error(
    rule: str, path: str, line: int | None, message: str, target: str | None = None
) -> Finding:
    return Finding(rule, Severity.ERROR, path, line, message, target)


def warning(
    rule: str, path: str, line: int | None, message: str, target: str | None = None
) -> Finding:
    return Finding(rule, Severity.WARNING, path, line, message, target)
