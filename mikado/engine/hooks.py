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
        return _run_hooks(action, ctx, mode, mask)
    except BaseException as exc:  # nothing escapes: a worker that raised would never report
        return HookResult(Outcome.FAILED, f"the action failed: {type(exc).__name__}")


def _run_hooks(action: Action, ctx: Context, mode: Mode, mask: Masker) -> HookResult:
    try:
        if mode is Mode.RECHECK:
            why = _no_longer_holds(action, ctx, mask)
            return HookResult(Outcome.REOPENED, mask(why)) if why else HookResult(Outcome.HELD)
        satisfied = action.check is not None and _boolean(action.check(ctx), "check")
        if not satisfied:
            _record_outputs(ctx, action.apply(ctx))
        if action.verify is not None and mode is not Mode.REHEARSE:
            problem = _verify_problem(action.verify(ctx))
            if problem:
                raise VerificationFailed(problem)
        return HookResult(Outcome.SATISFIED if satisfied else Outcome.DONE)
    except PrerequisiteDiscovered as raised:
        discovered = _well_formed(raised)
        if discovered is None:
            # The engine writes the stem, title and lesson into cards: anything but text is a
            # bug in the action, which fails its card as any other would (no rollback).
            return HookResult(Outcome.FAILED, describe(_malformed(raised), action, mask))
        if mode is Mode.REHEARSE:
            return HookResult(Outcome.FAILED, describe(discovered, action, mask))
        if action.rollback is not None:
            try:
                action.rollback(ctx)
            except BaseException as exc:  # reported; the card fails
                error = "rollback failed after a prerequisite was discovered: "
                return HookResult(Outcome.FAILED, error + describe(exc, action, mask))
        return HookResult(Outcome.PREREQUISITE, discovered=discovered)
    except BaseException as exc:  # an action's failure is its card's
        return HookResult(Outcome.FAILED, describe(exc, action, mask))


def _no_longer_holds(action: Action, ctx: Context, mask: Masker) -> str | None:
    """Why a complete card's work is no longer done, or None when it holds."""
    if action.check is not None and not _boolean(action.check(ctx), "check"):
        return "check says the work is no longer done"
    if action.verify is not None:
        try:
            return _verify_problem(action.verify(ctx))
        except Exception as exc:
            return f"verify failed: {describe(exc, action, mask)}"
    return None


def _boolean(value: object, hook: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{hook}(ctx) must return True or False, not {type(value).__name__}")
    return value


def _verify_problem(value: object) -> str | None:
    """Why what verify returned fails the card, or None. Only True and None pass: a verify
    that returns "no" or 0 (a status code, a count) did not prove the deliverable is there."""
    if value is True or value is None:
        return None
    if value is False:
        return "verify returned False"
    return f"verify(ctx) must return True, False or None, not {type(value).__name__}"


_DISCOVERY_FIELDS = ("stem", "title", "learned")


def _well_formed(raised: PrerequisiteDiscovered) -> PrerequisiteDiscovered | None:
    """``raised`` with plain strings, or None when a field is not text. A str subclass is
    copied to a plain str, so nothing of the action's own types reaches the engine."""
    values = [getattr(raised, name, None) for name in _DISCOVERY_FIELDS]
    if not all(isinstance(value, str) for value in values):
        return None
    discovered = PrerequisiteDiscovered(*(str.__str__(value) for value in values))
    discovered.__traceback__ = raised.__traceback__
    return discovered


def _malformed(raised: PrerequisiteDiscovered) -> TypeError:
    wrong = ", ".join(
        f"{name} is {type(getattr(raised, name, None)).__name__}"
        for name in _DISCOVERY_FIELDS
        if not isinstance(getattr(raised, name, None), str)
    )
    problem = f"PrerequisiteDiscovered(stem, title, learned) takes three strings; {wrong}"
    return TypeError(problem).with_traceback(raised.__traceback__)


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


def describe(exc: BaseException, action: Action, mask: Masker) -> str:
    """An action's error in one line, secrets masked: the message and where in the action it
    was raised. Never raises, whatever the exception does.

    Masked before it is made one line: collapsing first would turn a secret holding line
    breaks or runs of blanks (a PEM key, a JSON credential) into text the masker may not know.
    """
    name = type(exc).__name__
    try:
        message = str(exc)
    except BaseException as inner:  # its __str__ raised (or returned something else)
        message = f"<the message could not be read: {type(inner).__name__}>"
    text = message if isinstance(exc, MikadoError) else f"{name}: {message}"
    text = " ".join(mask(text).split()) or name
    try:
        where = None
        for frame in traceback.extract_tb(exc.__traceback__):
            if Path(frame.filename) == action.path:
                where = f"{action.path.name}:{frame.lineno}"
    except Exception:  # a traceback that cannot be read only loses the place
        where = None
    return f"{text} ({where})" if where else text
