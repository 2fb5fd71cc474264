"""Rehearsing a run (``mikado run --dry-run``, docs/actions.md#dry-runs): each card that could
start now, and whose action says it can, runs ``check`` and ``apply`` with ``ctx.dry_run``
set, and what it prints becomes its report. Nothing is written."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from enum import StrEnum

from mikado.engine.hooks import Mode
from mikado.engine.outputs import OutputStore
from mikado.engine.plan import RunPlan, Will
from mikado.engine.process import ActionProcess, wait
from mikado.engine.results import Outcome


class Rehearsed(StrEnum):
    DONE = "done"  # check says the work is done already
    WOULD_CHANGE = "would-change"  # apply, in dry-run mode, said what it would change
    NOT_REHEARSED = "not-rehearsed"  # prerequisites open, or the action cannot dry-run
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Rehearsal:
    stem: str
    outcome: Rehearsed
    report: str = ""  # what the action printed, secrets masked
    why: str | None = None  # why it was not rehearsed, or the error


_REHEARSED = {Outcome.SATISFIED: Rehearsed.DONE, Outcome.DONE: Rehearsed.WOULD_CHANGE}


def rehearse(plan: RunPlan, *, http_timeout: float | None = None) -> list[Rehearsal]:
    """Rehearse the cards a run would start now, writing nothing.

    A card behind an open prerequisite is not rehearsed (what it would do depends on work not
    done yet), nor is one whose action does not declare ``SUPPORTS_DRY_RUN`` (one that ignored
    the flag would write). Each rehearsal runs in its own process like a run's card, with the
    card's timeout; outputs it records stay in memory, and what it prints on stdout becomes
    its report, masked (stderr passes through, masked).
    """
    store = OutputStore(plan.config.runtime, plan.masker, persist=False)
    complete = {card.stem for card in plan.chain.cards if card.is_complete}
    timeout = plan.config.timeout
    rehearsals: list[Rehearsal] = []
    for planned in plan.cards:
        if planned.will is not Will.RUN or planned.action is None:
            continue
        open_requires = [r for r in planned.card.requires if r not in complete]
        if open_requires:
            why = f"waits for {', '.join(open_requires)}"
            rehearsals.append(Rehearsal(planned.stem, Rehearsed.NOT_REHEARSED, why=why))
            continue
        if not plan.actions[planned.action].supports_dry_run:
            why = "its action does not declare SUPPORTS_DRY_RUN"
            rehearsals.append(Rehearsal(planned.stem, Rehearsed.NOT_REHEARSED, why=why))
            continue
        job = plan.job(planned, mode=Mode.REHEARSE, outputs=store, http_timeout=http_timeout)
        printed: list[str] = []
        process = ActionProcess(
            job, masker=plan.masker, store=store, out=printed.append, err=_to_stderr
        )
        deadline = time.monotonic() + timeout
        try:
            while process.result is None and (left := deadline - time.monotonic()) > 0:
                wait([process], left)
            timed_out = process.result is None
        finally:
            process.close()
        report = "".join(printed)
        result = process.result
        if timed_out or result is None:
            why = f"timed out after {timeout:g} s"
            rehearsals.append(Rehearsal(planned.stem, Rehearsed.FAILED, report, why))
            continue
        outcome = _REHEARSED.get(result.outcome, Rehearsed.FAILED)
        rehearsals.append(Rehearsal(planned.stem, outcome, report, result.error))
    return rehearsals


def _to_stderr(text: str) -> None:
    sys.stderr.write(text)
