"""`mikado check`: every rule of SPEC §4 over a docs tree, as one report.

The loader reports what reading the docs reveals (front-matter, fields, the ``requires`` graph);
this module adds the link rules (:mod:`mikado.linkcheck`) and ``action-missing``. Work a
switched-off rule needs is not done: with every link rule ignored, bodies are never read.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mikado.card import Card
from mikado.categories import Categories
from mikado.config import Config
from mikado.errors import ExitCode
from mikado.findings import Finding, Severity, warning
from mikado.linkcheck import LINK_RULES, LinkTree, link_findings
from mikado.loader import load_docs
from mikado.rules import RULE_NAMES


@dataclass(frozen=True, slots=True)
class Report:
    """What `check` found: ``docs`` read, of which ``cards`` carry Mikado fields; findings
    sorted by path, line, rule."""

    root: Path
    docs: int
    cards: int
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.WARNING)

    def exit_code(self, *, strict: bool = False) -> ExitCode:
        if self.errors or (strict and self.warnings):
            return ExitCode.FAILURE
        return ExitCode.OK

    def as_json(self) -> dict[str, object]:
        return {
            "docs": self.docs,
            "cards": self.cards,
            "errors": self.errors,
            "warnings": self.warnings,
            "findings": [f.as_json() for f in self.findings],
        }


def action_module(actions: Path, card: Card) -> Path:
    """Where the action of ``card`` lives: ``<actions>/<action or stem>.py``."""
    return actions / f"{card.action or card.stem}.py"


def _action_findings(config: Config, cards: Iterable[Card]) -> list[Finding]:
    try:
        present = {name for name in os.listdir(config.actions) if name.endswith(".py")}
    except OSError:
        present = set()  # no actions folder: every open card is manual work
    findings = []
    for card in cards:
        if not card.is_open:
            continue
        module = action_module(config.actions, card)
        if module.name in present:
            continue
        shown = _display(module)
        findings.append(
            warning(
                "action-missing",
                card.path,
                None,
                f"open card with no action: add {shown}, or do the work by hand and run "
                f"`mikado done {card.stem}`",
                card.stem,
            )
        )
    return findings


def _display(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return str(path)


def check_docs(config: Config) -> Report:
    """Run every enabled rule over the docs tree of ``config``."""
    enabled = RULE_NAMES - config.ignore
    link_rules = frozenset(enabled & LINK_RULES)
    docs = load_docs(config, links=bool(link_rules))
    findings = list(docs.findings)
    if link_rules:
        stems: defaultdict[str, list[str]] = defaultdict(list)
        for path in docs.paths:
            stems[path.rpartition("/")[2].removesuffix(".md")].append(path)
        categories = Categories.from_config(config, docs.paths)
        findings.extend(
            link_findings(
                docs.root,
                docs.scans,
                LinkTree(stems, docs.files),
                categories,
                enabled=link_rules,
                orphan_exempt=config.orphan_exempt,
            )
        )
    if "action-missing" in enabled:
        findings.extend(_action_findings(config, (scan.card for scan in docs.scans)))
    findings.sort(key=lambda f: f.sort_key)
    cards = sum(1 for scan in docs.scans if scan.card.is_mikado)
    return Report(docs.root, len(docs.paths), cards, tuple(findings))
