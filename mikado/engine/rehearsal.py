"""Rehearsing a run (``mikado run --dry-run``, docs/actions.md#dry-runs): each card that could
start now, and whose action says it can, runs ``check`` and ``apply`` with ``ctx.dry_run``
set, and what it prints becomes its report. Nothing is written."""

from __future__ import annotations

import contextlib
import io
import threading
from dataclasses import dataclass
from enum import StrEnum

import httpx

from mikado.engine.actions import Action
from mikado.engine.context import Context
from mikado.engine.hooks import HookResult, Mode, run_hooks
from mikado.engine.outputs import Outputs, OutputStore
from mikado.engine.plan import RunPlan, Will
from mikado.engine.results import Outcome
from mikado.engine.runner import client_for
from mikado.engine.secrets import MaskingStream


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


def rehearse(plan: RunPlan, *, http: httpx.Client | None = None) -> list[Rehearsal]:
    """Rehearse the cards a run would start now, writing nothing.

    A card behind an open prerequisite is not rehearsed (what it would do depends on work not
    done yet), nor is one whose action does not declare ``SUPPORTS_DRY_RUN`` (one that ignored
    the flag would write). Outputs a rehearsal records stay in memory, every card gets its
    timeout, and what actions print is captured, masked, into the report.
    """
    store = OutputStore(plan.config.runtime, plan.masker, persist=False)
    complete = {card.stem for card in plan.chain.cards if card.is_complete}
    client = http or client_for(plan.config)
    timeout = plan.config.timeout
    rehearsals: list[Rehearsal] = []
    try:
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
            cancelled = threading.Event()
            ctx = plan.context(
                planned,
                http=client,
                outputs=Outputs(store, planned.stem),
                cancelled=cancelled,
                dry_run=True,
            )
            results: list[HookResult] = []
            captured = io.StringIO()
            with contextlib.redirect_stdout(MaskingStream(captured, plan.masker)):
                worker = threading.Thread(
                    target=_rehearse_into,
                    args=(results, plan.actions[planned.action], ctx, plan),
                    name=f"mikado rehearse {planned.stem}",
                    daemon=True,
                )
                worker.start()
                worker.join(timeout)
            report = plan.masker(captured.getvalue())
            if worker.is_alive() or not results:
                cancelled.set()
                why = f"timed out after {timeout:g} s"
                rehearsals.append(Rehearsal(planned.stem, Rehearsed.FAILED, report, why))
                continue
            result = results[0]
            outcome = _REHEARSED.get(result.outcome, Rehearsed.FAILED)
            rehearsals.append(Rehearsal(planned.stem, outcome, report, result.error))
    finally:
        if http is None:
            client.close()
    return rehearsals


def _rehearse_into(results: list[HookResult], action: Action, ctx: Context, plan: RunPlan) -> None:
    results.append(run_hooks(action, ctx, Mode.REHEARSE, plan.masker))
