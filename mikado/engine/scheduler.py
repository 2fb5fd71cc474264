"""Which cards of a run may start now, and what each outcome means for the others
(docs/reference.md#run): a card starts once its prerequisites completed in this run or
before it; a failed, manual or discovering card holds back its dependents; the run stops
taking new cards after the first failure unless it keeps going; at most ``jobs`` run at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from mikado.engine.plan import PlannedCard, RunPlan, Will
from mikado.engine.results import Outcome


@dataclass(slots=True)
class Running:
    """A card whose hooks are under way."""

    planned: PlannedCard
    started: float
    deadline: float
    recheck: bool  # only checking a complete card: nothing to put back on Ctrl-C

    @property
    def stem(self) -> str:
        return self.planned.stem


class Scheduler:
    def __init__(self, plan: RunPlan, *, jobs: int, keep_going: bool, timeout: float):
        self.jobs = jobs
        self.keep_going = keep_going
        self.timeout = timeout
        self.running: dict[str, Running] = {}
        self.stopping = False
        self._complete = {c.stem for c in plan.chain.cards if c.is_complete}
        self._pending = [c for c in plan.cards if c.will in (Will.RUN, Will.MANUAL, Will.WAIT)]
        self._unfinished = {c.stem for c in self._pending}
        self._held: set[str] = set()  # failed, manual, or waiting behind one of those

    @property
    def idle(self) -> bool:
        return not self.running

    def moves(self) -> Iterator[PlannedCard]:
        """The cards to act on now, in order: those to start (``will`` RUN), manual cards
        reached (MANUAL: the run stops there unless it keeps going) and cards that can no
        longer run because one before them is held (WAIT)."""
        if self.stopping:
            return
        for planned in list(self._pending):
            if len(self.running) >= self.jobs:
                return
            if planned.will is Will.WAIT or any(r in self._held for r in planned.card.requires):
                self._pending.remove(planned)
                self._hold(planned.stem)
                yield PlannedCard(planned.card, planned.action, Will.WAIT)
                continue
            if not all(
                r in self._complete and r not in self._unfinished for r in planned.card.requires
            ):
                continue
            self._pending.remove(planned)
            if planned.will is Will.MANUAL:
                self._hold(planned.stem)
                yield planned
                if not self.keep_going:
                    self.stopping = True
                    return
                continue
            yield planned

    def start(self, planned: PlannedCard, *, recheck: bool) -> Running:
        now = time.monotonic()
        entry = Running(planned, now, now + self.timeout, recheck)
        self.running[planned.stem] = entry
        return entry

    def finish(self, stem: str, outcome: Outcome) -> Running:
        """Record ``outcome`` of a running card; returns its entry."""
        entry = self.running.pop(stem)
        if outcome in (Outcome.DONE, Outcome.SATISFIED):
            self._complete.add(stem)
            self._unfinished.discard(stem)
        elif outcome is Outcome.HELD:
            self._unfinished.discard(stem)
        elif outcome is Outcome.REOPENED:
            self._complete.discard(stem)  # runs again at once
        elif outcome is Outcome.PREREQUISITE:
            self._hold(stem)
            self.stopping = True
        elif outcome is Outcome.FAILED:
            self._hold(stem)
            self.stopping = self.stopping or not self.keep_going
        return entry

    def expired(self, now: float) -> list[Running]:
        return [entry for entry in self.running.values() if now >= entry.deadline]

    def wait_for(self, poll: float) -> float:
        """How long to wait for a report before looking at deadlines again."""
        nearest = min(entry.deadline for entry in self.running.values())
        return max(0.0, min(poll, nearest - time.monotonic()))

    def not_started(self) -> list[str]:
        return [planned.stem for planned in self._pending]

    def _hold(self, stem: str) -> None:
        self._unfinished.discard(stem)
        self._held.add(stem)
