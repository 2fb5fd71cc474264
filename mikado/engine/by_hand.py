"""Completing a card by hand (`mikado done`, docs/reference.md#commands): for work no action
does. Under the run lock, through the same card write the engine uses, journaled as done by
hand."""

from __future__ import annotations

from datetime import date

from mikado.config import Config
from mikado.edit.completion import complete
from mikado.engine.journal import Journal
from mikado.engine.lock import RunLock
from mikado.errors import UsageError
from mikado.tree.loader import load_docs


def complete_by_hand(config: Config, stem: str, today: date) -> bool:
    """Complete card ``stem``; False when it already was. Refused while a prerequisite is
    open."""
    with RunLock(config.runtime):
        docs = load_docs(config, strict_graph=True)
        card = docs.require(stem)
        if card.is_complete:
            return False
        waiting = [r for r in card.requires if r in docs.cards and docs.cards[r].is_open]
        if waiting:
            raise UsageError(
                f"{stem} still has open prerequisites: {', '.join(waiting)}; "
                "complete them first (`mikado next` lists what can be taken now)"
            )
        complete(docs.root / card.path, config.completion, today)
        Journal(config.runtime, "by-hand").record(
            "card-end", stem=stem, outcome="done", by="hand", duration=0
        )
    return True
