"""The hook sequence of one card (docs/actions.md#the-module-protocol): ``check``, then
``apply`` unless check said done, then ``verify``; ``rollback`` when a prerequisite turns up.
Written once for the three ways a card's action is called: a run, a recheck of a complete
card, and a rehearsal (``--dry-run``). Whatever a hook raises or returns becomes a
:class:`HookResult`; nothing escapes."""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from mikado.engine.actions import Action
from mikado.engine.context import Context
from mikado.engine.results import Outcome
from mikado.engine.secrets import Masker
from mikado.errors import MikadoError, PrerequisiteDiscovered


class Mode(StrEnum):
    RUN = "run"  # an open card: its work is done (or found done)
    RECHECK = "recheck"  # a complete card: does it still hold?
    REHEARSE = "rehearse"  # --dry-run: check, and apply with ctx.dry_run; no verify


@dataclass(frozen=True, slots=True)
class HookResult:
    """``outcome`` is DONE or SATISFIED (for a rehearsal: apply said what it would change, or
    check said done), HELD or REOPENED (a recheck), FAILED or PREREQUISITE."""

    outcome: Outcome
    error: str | None = None  # one line, secrets masked
    discovered: PrerequisiteDiscovered | None = None


class VerificationFailed(Exception):
    pass


def run_hooks(action: Action, ctx: Context, mode: Mode, mask: Masker) -> HookResult:
    try:
        if mode is Mode.RECHECK:
            why = _no_longer_holds(action, ctx)
            return HookResult(Outcome.REOPENED, mask(why)) if why else HookResult(Outcome.HELD)
        satisfied = action.check is not None and _boolean(action.check(ctx), "check")
        if not satisfied:
            _record_outputs(ctx, action.apply(ctx))
        verify = action.verify if mode is not Mode.REHEARSE else None
        if verify is not None and verify(ctx) is False:
            raise VerificationFailed("verify returned False")
        return HookResult(Outcome.SATISFIED if satisfied else Outcome.DONE)
    except PrerequisiteDiscovered as discovered:
        if mode is Mode.REHEARSE:
            return HookResult(Outcome.FAILED, mask(describe(discovered, action)))
        if action.rollback is not None:
            try:
                action.rollback(ctx)
            except BaseException as exc:  # reported; the card fails
                error = "rollback failed after a prerequisite was discovered: "
                return HookResult(Outcome.FAILED, mask(error + describe(exc, action)))
        return HookResult(Outcome.PREREQUISITE, discovered=discovered)
    except BaseException as exc:  # an action's failure is its card's
        return HookResult(Outcome.FAILED, mask(describe(exc, action)))


def _no_longer_holds(action: Action, ctx: Context) -> str | None:
    """Why a complete card's work is no longer done, or None when it holds."""
    if action.check is not None and not _boolean(action.check(ctx), "check"):
        return "check says the work is no longer done"
    if action.verify is not None:
        try:
            if action.verify(ctx) is False:
                return "verify returned False"
        except Exception as exc:
            return f"verify failed: {describe(exc, action)}"
    return None


def _boolean(value: object, hook: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{hook}(ctx) must return True or False, not {type(value).__name__}")
    return value


def _record_outputs(ctx: Context, returned: object) -> None:
    if returned is None:
        return
    if not isinstance(returned, Mapping) or not all(isinstance(k, str) for k in returned):
        raise TypeError(
            "apply(ctx) must return None or a mapping of output names to values, "
            f"not {type(returned).__name__}"
        )
    for key, value in returned.items():
        ctx.outputs.set(key, value)


def describe(exc: BaseException, action: Action) -> str:
    """An action's error in one line: the message and where in the action it was raised."""
    text = str(exc) if isinstance(exc, MikadoError) else f"{type(exc).__name__}: {exc}"
    text = " ".join(text.split()) or type(exc).__name__
    where = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename) == action.path:
            where = f"{action.path.name}:{frame.lineno}"
    return f"{text} ({where})" if where else text
