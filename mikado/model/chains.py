"""Chains and states (docs/reference.md#states): which goals are open, what each card's state is,
and the order in which a person or a run should take them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from mikado.model.card import Card
from mikado.tree.loader import Docs


class State(StrEnum):
    DONE = "done"
    RUNNING = "running"
    BLOCKED = "blocked"
    FAILED = "failed"
    WAITING = "waiting"
    READY = "ready"


@dataclass(frozen=True, slots=True)
class Chain:
    """A goal and every card it reaches through ``requires``, in run order (goal last)."""

    goal: Card
    cards: tuple[Card, ...]
    states: Mapping[str, State]

    def state(self, stem: str) -> State:
        return self.states[stem]

    def stems_in(self, state: State) -> list[str]:
        return [card.stem for card in self.cards if self.states[card.stem] is state]

    @property
    def total(self) -> int:
        return len(self.cards)

    @property
    def done(self) -> int:
        return sum(1 for card in self.cards if self.states[card.stem] is State.DONE)

    @property
    def is_open(self) -> bool:
        return self.goal.is_open

    def takeable(self) -> list[str]:
        """What `next` offers: ready cards and failed ones whose prerequisites are complete."""
        return [
            card.stem
            for card in self.cards
            if self.states[card.stem] is State.READY
            or (self.states[card.stem] is State.FAILED and self._prerequisites_complete(card))
        ]

    def _prerequisites_complete(self, card: Card) -> bool:
        return all(self.states.get(r) is State.DONE for r in card.requires)


class Plan:
    """States for the whole tree, computed once in graph order, and the chains cut from it."""

    def __init__(self, docs: Docs, *, run_live: bool = False):
        self.docs = docs
        self.states: dict[str, State] = {}
        cards = docs.cards
        for stem in docs.graph.order:
            self.states[stem] = _state(cards[stem], self.states, run_live)

    def state(self, stem: str) -> State:
        return self.states[stem]

    def root_goals(self) -> list[str]:
        """Open cards that no other open card requires, by stem."""
        cards = self.docs.cards
        required_by_open = {req for card in cards.values() if card.is_open for req in card.requires}
        return sorted(s for s, c in cards.items() if c.is_open and s not in required_by_open)

    def chain(self, goal: str) -> Chain:
        graph = self.docs.graph
        cards = self.docs.cards
        members = graph.ordered(graph.reach(goal))
        return Chain(
            goal=cards[goal],
            cards=tuple(cards[s] for s in members),
            states={s: self.states[s] for s in members},
        )

    def open_chains(self) -> list[Chain]:
        return [self.chain(goal) for goal in self.root_goals()]


def _state(card: Card, known: Mapping[str, State], run_live: bool) -> State:
    # The first state that applies, in the precedence of docs/reference.md#states.
    if card.is_complete:
        return State.DONE
    if card.status == "running" and run_live:
        return State.RUNNING
    prerequisites = [known[r] for r in card.requires if r in known]
    if any(s in (State.FAILED, State.BLOCKED) for s in prerequisites):
        return State.BLOCKED
    if card.status == "failed":
        return State.FAILED
    if any(s is not State.DONE for s in prerequisites):
        return State.WAITING
    return State.READY
