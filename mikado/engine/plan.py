"""Planning a run (docs/reference.md#run): which cards of the chain, in which order, and what
the run will do with each. Everything that can fail before a card is touched fails here: the
check of the chain, importing its actions, their settings and secrets."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from mikado.checks.gate import check_tree
from mikado.config import Config
from mikado.engine.actions import IMPORT_TIMEOUT, Action, ActionRegistry, action_name
from mikado.engine.child import CardJob
from mikado.engine.context import LOGGER_PREFIX
from mikado.engine.hooks import Mode
from mikado.engine.outputs import OutputStore
from mikado.engine.secrets import Masker, resolve_tables
from mikado.engine.settings import check_settings
from mikado.errors import DocsError, UsageError
from mikado.model.card import Card
from mikado.model.chains import Chain, Plan, State
from mikado.model.findings import Finding, Severity
from mikado.tree.loader import Docs, load_docs


class Will(StrEnum):
    """What a run will do with a card (docs/reference.md#output-formats, `run --dry-run`)."""

    RUN = "run"
    SKIP = "skip"
    MANUAL = "manual"
    WAIT = "wait"


@dataclass(frozen=True, slots=True)
class PlannedCard:
    """One card of a run's plan."""

    card: Card
    action: str | None  # the action's name when the actions folder has it
    will: Will
    recheck: bool = False  # a complete card whose check/verify runs again

    @property
    def stem(self) -> str:
        return self.card.stem

    def as_json(self) -> dict[str, object]:
        return {"stem": self.stem, "action": self.action, "will": self.will.value}


@dataclass(frozen=True, slots=True)
class RunOptions:
    dry_run: bool = False
    jobs: int = 1
    keep_going: bool = False
    only: str | None = None
    recheck: bool = False


@dataclass(frozen=True, slots=True)
class RunPlan:
    """A run's cards in order, with every action imported and every secret resolved."""

    config: Config
    docs: Docs
    chain: Chain
    cards: tuple[PlannedCard, ...]
    actions: Mapping[str, Action]
    settings: Mapping[str, Mapping[str, Mapping[str, Any]]]  # action → its tables
    masker: Masker

    @property
    def goal(self) -> str:
        return self.chain.goal.stem

    def to_run(self) -> list[PlannedCard]:
        return [c for c in self.cards if c.will is Will.RUN]

    def as_json(self) -> dict[str, object]:
        return {"goal": self.goal, "plan": [card.as_json() for card in self.cards]}

    def job(
        self,
        planned: PlannedCard,
        *,
        mode: Mode,
        outputs: OutputStore,
        http_timeout: float | None = None,
    ) -> CardJob:
        """What ``planned``'s action process needs to run its hooks (docs/actions.md#the-context):
        its card, settings and secrets, the outputs recorded so far, this process's
        environment and the log level the engine shows."""
        assert planned.action is not None
        action = self.actions[planned.action]
        logger = logging.getLogger(f"{LOGGER_PREFIX}.{planned.stem}")
        return CardJob(
            stem=planned.stem,
            action=planned.action,
            action_path=action.path,
            card=planned.card,
            path=self.docs.root / planned.card.path,
            docs=self.docs.root,
            base=config_folder(self.config),
            runtime=self.config.runtime,
            settings=_plain(self.settings.get(planned.action, {})),
            secrets=self.masker.secrets,
            outputs=outputs.snapshot(),
            mode=mode,
            tls=self.config.tls,
            log_level=logger.getEffectiveLevel(),
            environ=dict(os.environ),
            http_timeout=http_timeout,
        )


def _plain(value: Any) -> Any:
    """Settings as dicts and lists (TOML tables may come as read-only mappings), to send."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def config_folder(config: Config) -> Path:
    """Where relative paths in the settings tables start: the configuration file's folder."""
    return config.source.parent if config.source else Path.cwd()


def plan_run(config: Config, goal: str, options: RunOptions) -> RunPlan:
    """Read the tree, refuse a chain with errors, import the actions and resolve their
    settings."""
    report, docs = check_tree(config)
    if docs is None:  # the check reused its report: read the cards (from the scan cache)
        docs = load_docs(config)
    # Not strict: a doc outside the chain that is broken (or caught mid-save by an editor)
    # must not stop it. Errors in the chain's own cards stop it below, cycles included.
    docs.require(goal)
    _refuse_errors(report.findings, docs, goal)
    # We hold the lock (or change nothing), so a card left `running` is stale: runnable.
    chain = Plan(docs, run_live=False).chain(goal)

    members = list(chain.cards)
    if options.only is not None:
        members = [_only(chain, options.only)]

    registry = ActionRegistry(config.actions, import_timeout=min(config.timeout, IMPORT_TIMEOUT))
    wanted = [
        action_name(card.stem, card.action)
        for card in members
        if (card.is_open or options.recheck) and registry.has(action_name(card.stem, card.action))
    ]
    actions = registry.load_all(wanted)
    cards = _planned(members, actions, registry, options)

    running = [
        actions[name]
        for name in dict.fromkeys(c.action for c in cards if c.will is Will.RUN and c.action)
    ]
    # Keys are checked for the cards that wait too (behind a manual card, say): a misspelt
    # key shows on the first run, not after the operator's manual step. Only the running
    # cards' values are resolved: a waiting card's secret may not exist yet.
    checked = {
        c.action: actions[c.action]
        for c in cards
        if c.will in (Will.RUN, Will.WAIT) and c.action is not None and c.action in actions
    }.values()
    check_settings(
        (d for action in checked for d in action.declarations()),
        config.settings,
        source=config.source,
    )
    masker = Masker()
    base = config_folder(config)
    settings: dict[str, Mapping[str, Mapping[str, Any]]] = {
        action.name: resolve_tables(config.settings, action.settings, base=base, masker=masker)
        for action in running
    }
    return RunPlan(config, docs, chain, tuple(cards), actions, settings, masker)


def _refuse_errors(findings: Iterable[Finding], docs: Docs, goal: str) -> None:
    """A chain any of whose cards `check` reports an error against does not run.

    The chain is taken from the raw ``requires`` edges, so a card on a cycle, which has no
    place in any order, still counts as one of its cards.
    """
    reach = docs.graph.reach(goal)
    paths = {docs.cards[stem].path for stem in reach}
    problems = [
        f
        for f in findings
        if f.severity is Severity.ERROR
        and (f.path in paths or (f.rule == "duplicate-stem" and f.target in reach))
    ]
    if problems:
        count = len(problems)
        raise DocsError(
            f"the chain of `{goal}` has {count} error{'s' if count > 1 else ''}; "
            "nothing was run (fix them; `mikado check` lists every finding)",
            tuple(problems),
        )


def _only(chain: Chain, stem: str) -> Card:
    card = next((c for c in chain.cards if c.stem == stem), None)
    if card is None:
        raise UsageError(f"--only {stem}: no such card in the chain of `{chain.goal.stem}`")
    open_prerequisites = [r for r in card.requires if chain.state(r) is not State.DONE]
    if open_prerequisites:
        raise UsageError(
            f"--only {stem}: its prerequisites are still open: {', '.join(open_prerequisites)}"
        )
    return card


def _planned(
    cards: Sequence[Card],
    actions: Mapping[str, Action],
    registry: ActionRegistry,
    options: RunOptions,
) -> list[PlannedCard]:
    planned: list[PlannedCard] = []
    held_back: set[str] = set()  # manual cards and everything behind them
    for card in cards:
        name = action_name(card.stem, card.action)
        known = name if registry.has(name) else None
        if card.is_complete:
            recheck = options.recheck and known is not None and actions[known].can_recheck
            planned.append(PlannedCard(card, known, Will.RUN if recheck else Will.SKIP, recheck))
        elif any(r in held_back for r in card.requires):
            held_back.add(card.stem)
            planned.append(PlannedCard(card, known, Will.WAIT))
        elif known is None:
            held_back.add(card.stem)
            planned.append(PlannedCard(card, None, Will.MANUAL))
        else:
            planned.append(PlannedCard(card, known, Will.RUN))
    return planned
