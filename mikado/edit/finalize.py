"""`mikado finalize GOAL`: a completed chain's cards become plain documentation.

Every card of the chain loses ``status``, ``requires`` and ``branch`` and gets ``modified`` set
to today; bodies and their wiki-links stay, as does every other byte of the front-matter (the
surgical editor rewrites only those lines). Refused while a card of the chain is open, or while
an open card outside the chain still requires one of its cards: stripping ``requires`` would cut
that card's chain short.

All edits are computed and verified before the first file is written, so a card the editor
cannot change safely stops the whole finalize with nothing touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from mikado.edit.editor import edit_bytes, edit_card
from mikado.errors import CardEditError, MikadoError
from mikado.model.card import MIKADO_FIELDS
from mikado.model.chains import Plan, State


class FinalizeRefused(MikadoError):
    """The chain is not ready to be finalized (exit 1); the message lists why."""


@dataclass(frozen=True, slots=True)
class CardFinalization:
    stem: str
    path: str  # relative to the docs root
    removed: tuple[str, ...]  # the Mikado fields present, in the order of MIKADO_FIELDS

    def as_json(self) -> dict[str, object]:
        return {"stem": self.stem, "path": self.path, "removed": list(self.removed)}


@dataclass(frozen=True, slots=True)
class Finalization:
    goal: str
    today: date
    cards: tuple[CardFinalization, ...]  # only cards that carry a Mikado field, in run order

    def as_json(self, *, dry_run: bool) -> dict[str, object]:
        return {
            "goal": self.goal,
            "dry_run": dry_run,
            "modified": self.today.isoformat(),
            "cards": [card.as_json() for card in self.cards],
        }


def plan_finalization(plan: Plan, goal: str, today: date) -> Finalization:
    """What finalizing ``goal`` would change; raises :class:`FinalizeRefused` when it must not."""
    chain = plan.chain(goal)
    members = {card.stem for card in chain.cards}
    still_open = [
        f"{card.stem} ({chain.state(card.stem).value})"
        for card in chain.cards
        if chain.state(card.stem) is not State.DONE
    ]
    cards = plan.docs.cards
    outside: dict[str, list[str]] = {}
    for card in chain.cards:
        for dependent in plan.docs.graph.dependents(card.stem):
            if dependent not in members and cards[dependent].is_open:
                outside.setdefault(card.stem, []).append(dependent)
    reasons = []
    if still_open:
        reasons.append(f"open cards in the chain: {', '.join(still_open)}")
    if outside:
        needed = "; ".join(f"{stem} by {', '.join(deps)}" for stem, deps in outside.items())
        reasons.append(f"cards still required by open cards outside the chain: {needed}")
    if reasons:
        raise FinalizeRefused(f"cannot finalize {goal}: " + "; ".join(reasons))
    edits = tuple(
        CardFinalization(
            card.stem, card.path, tuple(name for name in MIKADO_FIELDS if name in card.keys)
        )
        for card in chain.cards
        if card.is_mikado
    )
    return Finalization(goal, today, edits)


def _new_contents(root: Path, finalization: Finalization) -> Mapping[str, bytes]:
    """Every card's new bytes, or :class:`CardEditError` naming the first card that cannot be
    edited safely (before anything is written)."""
    contents: dict[str, bytes] = {}
    for card in finalization.cards:
        path = root / card.path
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CardEditError(f"cannot read: {exc.strerror}", path=str(path)) from None
        contents[card.path] = edit_bytes(
            data,
            set={"modified": finalization.today},
            remove=card.removed,
            where=str(path),
        )
    return contents


def verify(root: Path, finalization: Finalization) -> None:
    """Raise :class:`CardEditError` if any card of ``finalization`` cannot be edited."""
    _new_contents(root, finalization)


def apply(root: Path, finalization: Finalization) -> list[str]:
    """Rewrite the cards; returns the paths (relative to ``root``) that changed."""
    verify(root, finalization)
    changed = []
    for card in finalization.cards:
        if edit_card(root / card.path, set={"modified": finalization.today}, remove=card.removed):
            changed.append(card.path)
    return changed
