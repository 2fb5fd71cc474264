"""What a person sees while a chain runs: one line as each card starts and ends (with its
elapsed time), the actions' log lines, and a closing summary. Quiet off a terminal unless asked
(``--verbose``): CI logs get only the outcome and the errors.

Stems, errors and log lines carry text from cards, actions and remote services: each goes
through :func:`~mikado.views.status.printable`, so a service's error message cannot move the
cursor, retitle the window or plant a hyperlink; only this module's own styling is coloured.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from mikado.engine.context import LOGGER_PREFIX, MaskingFilter
from mikado.engine.plan import PlannedCard
from mikado.engine.results import Outcome, RunResult
from mikado.engine.secrets import Masker
from mikado.model.chains import State
from mikado.views.printable import printable

Echo = Callable[[str], None]
Style = Callable[[str, State | None], str]

_STATE_OF = {
    Outcome.DONE: State.DONE,
    Outcome.SATISFIED: State.DONE,
    Outcome.HELD: State.DONE,
    Outcome.REOPENED: State.READY,
    Outcome.FAILED: State.FAILED,
    Outcome.PREREQUISITE: State.BLOCKED,
    Outcome.INTERRUPTED: State.WAITING,
}
_WORDS = {
    Outcome.DONE: "done",
    Outcome.SATISFIED: "done (already satisfied)",
    Outcome.HELD: "still holds",
    Outcome.REOPENED: "no longer holds, running again",
    Outcome.FAILED: "failed",
    Outcome.PREREQUISITE: "needs a prerequisite",
    Outcome.INTERRUPTED: "interrupted, back to active",
}


def seconds(value: float) -> str:
    if value < 10:
        return f"{value:.2f} s"
    if value < 120:
        return f"{value:.1f} s"
    return f"{int(value // 60)} min {int(value % 60)} s"


class ConsoleProgress:
    """Prints progress lines through ``echo`` when ``enabled``; thread-safe."""

    def __init__(
        self,
        *,
        enabled: bool,
        echo: Echo,
        marks: Mapping[State, str],
        style: Style = lambda text, state: text,
    ):
        self.enabled = enabled
        self.echo = echo
        self.marks = marks
        self.style = style
        self._lock = threading.Lock()

    def _say(self, text: str) -> None:
        with self._lock:
            self.echo(text)

    def started(self, planned: PlannedCard, *, recheck: bool) -> None:
        if self.enabled:
            verb = "checking" if recheck else "running"
            stem, action = printable(planned.stem), printable(str(planned.action))
            self._say(f"{self.marks[State.RUNNING]} {stem}: {verb} {action} ...")

    def finished(
        self, stem: str, outcome: Outcome, seconds_taken: float, error: str | None
    ) -> None:
        if not self.enabled:
            return
        state = _STATE_OF.get(outcome)
        mark = self.marks[state] if state else "-"
        words = _WORDS.get(outcome, outcome.value)
        text = f"{mark} {printable(stem)}: {words} ({seconds(seconds_taken)})"
        if error and outcome is Outcome.FAILED:
            text += f": {printable(error)}"
        self._say(self.style(text, state))

    def note(self, text: str) -> None:
        if self.enabled:
            self._say(printable(text))

    def log(self, text: str) -> None:
        self._say(text)


def summary(result: RunResult) -> str:
    done = len(result.stems(Outcome.DONE, Outcome.SATISFIED, Outcome.REOPENED))
    parts = [f"{done} done"]
    for label, outcomes in (
        ("failed", (Outcome.FAILED,)),
        ("manual", (Outcome.MANUAL,)),
        ("skipped", (Outcome.SKIPPED,)),
        # --recheck: a complete card whose check/verify passed again held, it was not skipped
        ("held", (Outcome.HELD,)),
        ("waiting", (Outcome.WAITING,)),
        ("interrupted", (Outcome.INTERRUPTED,)),
        ("new prerequisite", (Outcome.PREREQUISITE,)),
    ):
        count = len(result.stems(*outcomes))
        if count or label in ("failed", "manual", "skipped"):
            parts.append(f"{count} {label}")
    return f"{', '.join(parts)} in {seconds(result.elapsed)}"


class _ProgressHandler(logging.Handler):
    def __init__(self, progress: ConsoleProgress, masker: Masker):
        super().__init__()
        self.progress = progress
        self.addFilter(MaskingFilter(masker))

    def emit(self, record: logging.LogRecord) -> None:
        stem = record.name.removeprefix(LOGGER_PREFIX + ".")
        text = record.getMessage()
        if record.exc_text:
            text += "\n" + record.exc_text
        level = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        for line in text.splitlines() or [""]:
            self.progress.log(f"  {printable(stem)}: {level}{printable(line)}")


@contextmanager
def action_logs(progress: ConsoleProgress, masker: Masker, *, verbose: bool) -> Iterator[None]:
    """Show the actions' ``ctx.log`` lines: info and up on a terminal or with ``--verbose``,
    warnings and up otherwise."""
    logger = logging.getLogger(LOGGER_PREFIX)
    handler = _ProgressHandler(progress, masker)
    previous = (logger.level, logger.propagate)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    shown = logging.DEBUG if verbose else logging.INFO if progress.enabled else logging.WARNING
    handler.setLevel(shown)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous[0])
        logger.propagate = previous[1]
