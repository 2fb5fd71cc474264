"""`mikado check`: every rule of docs/reference.md#check-rules over a docs tree, as one report.

The loader reports what reading the docs reveals (front-matter, fields, the ``requires`` graph);
this module adds the link rules (:mod:`mikado.checks.links`) and ``action-missing``. Work a
switched-off rule needs is not done: with every link rule ignored, bodies are never read.
"""

from __future__ import annotations

import hashlib
import marshal
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mikado.checks.keys import KEY_RULES, KeyCheck
from mikado.checks.links import LINK_RULES, LinkCheck, LinkTree
from mikado.config import Config
from mikado.engine.actions import action_names
from mikado.errors import ExitCode
from mikado.model.card import Card
from mikado.model.categories import Categories
from mikado.model.findings import Finding, Severity, warning
from mikado.model.rules import RULE_NAMES
from mikado.tree.cache import ScanCache
from mikado.tree.discover import Walk, walk
from mikado.tree.loader import Docs, ReadProgress, assemble, open_cache, read_tree


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

    def to_row(self) -> tuple[object, ...]:
        findings = tuple(
            (f.rule, f.severity.value, f.path, f.line, f.message, f.target) for f in self.findings
        )
        return (self.docs, self.cards, findings)

    @classmethod
    def from_row(cls, root: Path, row: Any) -> Report:
        docs, cards, findings = row
        return cls(
            root,
            docs,
            cards,
            tuple(
                Finding(rule, Severity(severity), path, line, message, target)
                for rule, severity, path, line, message, target in findings
            ),
        )

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


def existing_action(config: Config, card: Card) -> Path | None:
    """The module of ``card``'s action when the actions folder has it, as `run` finds it (a
    ``_helper`` is no action), else ``None``."""
    if (card.action or card.stem) not in action_names(config.actions):
        return None
    return action_module(config.actions, card)


def _action_findings(
    config: Config, present: frozenset[str], cards: Iterable[Card]
) -> list[Finding]:
    findings = []
    for card in cards:
        if not card.is_open:
            continue
        if (card.action or card.stem) in present:
            continue
        module = action_module(config.actions, card)
        findings.append(
            warning(
                "action-missing",
                card.path,
                None,
                f"open card with no action: add {display_path(module)}, or do the work by hand "
                f"and run `mikado done {card.stem}`",
                card.stem,
            )
        )
    return findings


def display_path(path: Path) -> str:
    """``path`` relative to the current folder, as messages show files."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return str(path)


def check_docs(config: Config, progress: ReadProgress | None = None) -> Report:
    """Run every enabled rule over the docs tree of ``config``; ``progress`` is told how
    many docs are read of how many.

    When no doc, no other file of the tree, no action module and no setting changed since the
    last check, its report is reused as it was: the tree is walked and stat-ed, not read.
    """
    return check_tree(config, progress)[0]


def check_tree(config: Config, progress: ReadProgress | None = None) -> tuple[Report, Docs | None]:
    """:func:`check_docs`, and the docs it read: ``None`` when the report was reused, as
    then nothing was read (`run` needs both, and the tree read once)."""
    enabled = RULE_NAMES - config.ignore
    link_rules = frozenset(enabled & LINK_RULES)
    store = open_cache(config)
    tree = walk(config.docs, config.excluded(), stat=store.warm, files=bool(link_rules))
    # The names `run` would find an action under (no `_helpers`), so both agree on which
    # open card is manual work.
    actions = action_names(config.actions) if "action-missing" in enabled else frozenset()
    key = _report_key(config, store, tree, actions)
    if key is not None:
        saved = store.load_value("report", key)
        if saved is not None:
            return Report.from_row(config.docs, saved), None

    link_check = None
    if link_rules:
        # Every path is known before a doc is read, so each doc's links are resolved where it
        # is read, in the workers (see mikado.tree.workers).
        link_check = LinkCheck(
            config.docs,
            LinkTree(tree.paths, tree.files, config.build_time_docs),
            Categories.from_config(config, tree.paths),
            enabled=link_rules,
            orphan_exempt=config.orphan_exempt,
        )
    docs = assemble(
        config,
        *read_tree(config, store=store, tree=tree, link_check=link_check, progress=progress),
    )
    findings = list(docs.findings)
    if link_check is not None:
        findings.extend(link_check.findings([scan.card for scan in docs.scans]))
    if "action-missing" in enabled:
        findings.extend(_action_findings(config, actions, (scan.card for scan in docs.scans)))
    key_rules = frozenset(enabled & KEY_RULES)
    if key_rules:
        key_check = KeyCheck(config, key_rules)
        findings.extend(key_check.findings(scan.card for scan in docs.scans))
    findings = [f for f in findings if config.reports(f.rule, f.path)]
    findings.sort(key=lambda f: f.sort_key)
    cards = sum(1 for scan in docs.scans if scan.card.is_mikado)
    report = Report(docs.root, len(docs.paths), cards, tuple(findings))
    if key is None:  # walked without stat: the docs' keys came from reading them
        key = _report_key(config, store, tree, actions)
    if key is not None and store.all_trusted(tree.stats.values()):
        store.save_value("report", key, report.to_row())
    return report, docs


def _report_key(
    config: Config, store: ScanCache, tree: Walk, actions: frozenset[str]
) -> str | None:
    """A digest of everything a report depends on, or ``None`` when that cannot be known."""
    if not store.enabled or len(tree.stats) != len(tree.paths):
        return None
    settings = (
        str(config.docs),
        str(config.actions),
        tuple(sorted(config.ignore)),
        tuple(config.ignore_paths),
        tuple(config.required),
        tuple(config.cards_in),
        tuple(config.orphan_exempt),
        config.index_mode,
        tuple(sorted(config.index_table.items())),
        tuple(sorted(config.excluded())),
        tuple(sorted(config.build_time_docs)),
        config.allowed_fields,
    )
    digest = hashlib.sha1(_stable(settings))
    digest.update(_stable(tree.paths))
    digest.update(_stable([tree.stats[path] for path in tree.paths]))
    digest.update(_stable(sorted(tree.files)))
    digest.update(_stable(sorted(actions)))
    return digest.hexdigest()


def _stable(value: Any) -> bytes:
    # Format 2: from 3 on, marshal marks objects referenced more than once (by refcount, not
    # by value), so equal data gave different bytes in the run that read the docs and the
    # run after it, and the report a cold check saved was never found again.
    return marshal.dumps(value, 2)
