"""What a run did: each card's outcome, the errors, the prerequisites it discovered, and the
exit code that sums it up (docs/reference.md#exit-codes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from mikado.errors import ExitCode

if TYPE_CHECKING:
    from mikado.edit.growth import NewCard


class Outcome(StrEnum):
    DONE = "done"  # apply (and verify) succeeded
    SATISFIED = "satisfied"  # check said the work was already done
    HELD = "held"  # --recheck: a complete card still holds
    REOPENED = "reopened"  # --recheck: it no longer holds and runs again
    FAILED = "failed"
    PREREQUISITE = "prerequisite"
    INTERRUPTED = "interrupted"
    MANUAL = "manual"
    WAITING = "waiting"
    SKIPPED = "skipped"


@dataclass(slots=True)
class RunResult:
    goal: str
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    discovered: dict[str, NewCard] = field(default_factory=dict)  # failing stem → new card
    elapsed: float = 0.0
    interrupted: bool = False

    def stems(self, *outcomes: Outcome) -> list[str]:
        return [s for s, o in self.outcomes.items() if o in outcomes]

    @property
    def exit_code(self) -> ExitCode:
        if self.interrupted:
            return ExitCode.INTERRUPTED
        if self.discovered:
            return ExitCode.PREREQUISITE
        if self.stems(Outcome.FAILED):
            return ExitCode.FAILURE
        if self.stems(Outcome.MANUAL):
            return ExitCode.MANUAL
        return ExitCode.OK

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for outcome in self.outcomes.values():
            counts[outcome.value] = counts.get(outcome.value, 0) + 1
        return counts
