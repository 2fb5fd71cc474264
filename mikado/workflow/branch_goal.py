"""Which goal a ``mikado/...`` branch works, and which branch a goal is worked on
(docs/reference.md#branch-invariant).

A goal card names its branch in ``branch:``, and that name wins: a team may call the branch of
``build-authentik-from-source`` ``mikado/authentik-source-build``. Only a branch no goal names
falls back to the ``mikado/<stem>`` naming.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mikado.errors import DocsError
from mikado.model.card import Card
from mikado.workflow.git import BRANCH_PREFIX, stem_of_branch


@dataclass(frozen=True, slots=True)
class BranchGoal:
    """The goal of a Mikado branch. ``card`` is ``None`` when no doc has ``stem`` yet (a
    branch made before its goal card is planned)."""

    branch: str
    stem: str
    card: Card | None

    @property
    def named(self) -> bool:
        """Whether the goal card names this branch in its ``branch`` field."""
        return self.card is not None and self.card.branch == self.branch

    @property
    def subject_stems(self) -> tuple[str, ...]:
        """The chain names a ``C2(<name>)`` subject may use on this branch: the goal's stem,
        and the branch's own suffix when the two differ (what commit subjects carried before
        the goal card named the branch)."""
        suffix = stem_of_branch(self.branch)
        return (self.stem,) if suffix in (None, self.stem) else (self.stem, suffix)


def is_mikado_branch(branch: str | None) -> bool:
    return stem_of_branch(branch) is not None


def branch_of(card: Card) -> str:
    """The branch a goal is worked on: its ``branch`` field when that is a Mikado branch,
    else ``mikado/<stem>``."""
    if card.branch and is_mikado_branch(card.branch):
        return card.branch
    return f"{BRANCH_PREFIX}{card.stem}"


def goal_of_branch(
    branch: str | None, cards: Iterable[Card], worked: Sequence[str] = ()
) -> BranchGoal | None:
    """The goal ``branch`` works, or ``None`` when it is not a ``mikado/...`` branch.

    The card whose ``branch`` field names it wins (an open one before a complete one, whose
    field `finalize` has yet to strip); without one, the card named like the branch's suffix;
    without that, the first card the branch's ``C2(<stem>)`` commit subjects name (``worked``,
    oldest first: after `finalize` has stripped the field, the history still says which goal
    the branch worked); else the suffix, whose card may not exist yet."""
    suffix = stem_of_branch(branch)
    if branch is None or suffix is None:
        return None
    cards = list(cards)
    naming = [card for card in cards if card.branch == branch]
    pool = [card for card in naming if card.is_open] or naming
    if len(pool) > 1:
        own = [card for card in pool if card.stem == suffix]
        if not own:
            paths = ", ".join(card.path for card in sorted(pool, key=lambda c: c.stem))
            raise DocsError(
                f"several goal cards name `branch: {branch}` ({paths}); a branch works one "
                "chain, so keep the field on one of them"
            )
        pool = own
    if pool:
        return BranchGoal(branch, pool[0].stem, pool[0])
    by_stem = {card.stem: card for card in cards}
    if suffix not in by_stem:
        found = next((by_stem[stem] for stem in worked if stem in by_stem), None)
        if found is not None:
            return BranchGoal(branch, found.stem, found)
    return BranchGoal(branch, suffix, by_stem.get(suffix))
