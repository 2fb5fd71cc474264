"""`mikado run` (docs/reference.md#run): execute a planned chain's actions leaves-first and
record progress in the cards, so the docs are always the truth about what is done.

Each card's action runs in its own process (:mod:`mikado.engine.child`), so whatever an
action does, the engine stays in charge: what it prints is masked on the way out, and at its
deadline (or on Ctrl-C or SIGTERM) its process and everything it started are killed. The
engine's main thread alone reads the processes, writes cards and the journal: the running
cards go back to ``active`` at once on Ctrl-C and the run exits 130.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from types import FrameType
from typing import IO, Any, Protocol

from mikado.edit.completion import complete, set_status
from mikado.edit.growth import grow
from mikado.engine.hooks import HookResult, Mode
from mikado.engine.journal import Journal
from mikado.engine.outputs import OutputStore
from mikado.engine.plan import PlannedCard, RunOptions, RunPlan, Will
from mikado.engine.process import ActionProcess, wait
from mikado.engine.results import Outcome, RunResult
from mikado.engine.scheduler import Running, Scheduler
from mikado.errors import ExitCode, MikadoError, PrerequisiteDiscovered, UsageError
from mikado.model.card import Card

POLL = 0.05  # how often the main thread looks up from waiting (Ctrl-C, deadlines)


class RunProgress(Protocol):
    """Where the run reports to; the CLI prints it for people."""

    def started(self, planned: PlannedCard, *, recheck: bool) -> None: ...

    def finished(self, stem: str, outcome: Outcome, seconds: float, error: str | None) -> None: ...

    def note(self, text: str) -> None: ...


class Silent:
    def started(self, planned: PlannedCard, *, recheck: bool) -> None:
        pass

    def finished(self, stem: str, outcome: Outcome, seconds: float, error: str | None) -> None:
        pass

    def note(self, text: str) -> None:
        pass


class Runner:
    def __init__(
        self,
        plan: RunPlan,
        *,
        options: RunOptions,
        progress: RunProgress | None = None,
        today: Callable[[], date] = date.today,
        http_timeout: float | None = None,
        lock: int | None = None,
    ):
        self.plan = plan
        self.config = plan.config
        self.options = options
        self.progress = progress or Silent()
        self.today = today
        self.http_timeout = http_timeout  # each request's, when not httpx's default (tests)
        self.lock = lock  # the run lock's descriptor, which every action process holds too
        self.mask = plan.masker
        self.journal = Journal(self.config.runtime, uuid.uuid4().hex[:12])
        self.store = OutputStore(self.config.runtime, self.mask)
        self.interrupt = threading.Event()

    def run(self) -> RunResult:
        started = time.monotonic()
        result = RunResult(self.plan.goal)
        cards = self.plan.cards
        self.journal.record(
            "run-start",
            goal=self.plan.goal,
            pid=os.getpid(),
            host=socket.gethostname(),
            jobs=self.options.jobs,
            keep_going=self.options.keep_going,
            only=self.options.only,
            recheck=self.options.recheck,
            plan={w.value: sum(1 for c in cards if c.will is w) for w in Will},
        )
        for planned in cards:
            if planned.will is Will.SKIP:
                result.outcomes[planned.stem] = Outcome.SKIPPED
        exit_code: int | None = None
        try:
            with _stop_signals_set(self.interrupt):
                _Pass(self, result).run()
            exit_code = int(result.exit_code)
        finally:
            result.elapsed = time.monotonic() - started
            # Without an exit code the engine itself failed (say, a card it could not write).
            outcome = result.exit_code.name.lower() if exit_code is not None else "error"
            self.journal.record(
                "run-end",
                goal=self.plan.goal,
                exit=exit_code if exit_code is not None else int(ExitCode.FAILURE),
                outcome=outcome,
                counts=result.counts(),
                duration=round(result.elapsed, 3),
            )
        return result

    # The engine's card writes: status and the day the card changed, nothing else.

    def set_status(self, card: Card, status: str) -> None:
        set_status(self.plan.docs.root / card.path, status, self.today())

    def complete(self, card: Card) -> None:
        complete(self.plan.docs.root / card.path, self.config.completion, self.today())


class _Pass:
    """One pass of a run over its plan: start what the scheduler allows, read the processes,
    write each card as its process ends, until nothing runs."""

    def __init__(self, runner: Runner, result: RunResult):
        self.runner = runner
        self.result = result
        self.journal = runner.journal
        self.progress = runner.progress
        self.schedule = Scheduler(
            runner.plan,
            jobs=runner.options.jobs,
            keep_going=runner.options.keep_going,
            timeout=runner.config.timeout,
        )
        self.processes: dict[str, ActionProcess] = {}  # the running cards'
        self.abandoned: list[ActionProcess] = []  # timed out: killed, their last words read

    def run(self) -> None:
        interrupt = self.runner.interrupt
        try:
            while not (stopped := interrupt.is_set()):
                for planned in self.schedule.moves():
                    self._move(planned)
                if self.schedule.idle:
                    break
                wait([*self.processes.values(), *self.abandoned], self.schedule.wait_for(POLL))
                if not interrupt.is_set():
                    self._collect()
                    self._expire()
            if stopped:
                self._interrupted()
        except KeyboardInterrupt:  # a second Ctrl-C: the running cards still go back
            self._interrupted()
            raise
        finally:
            for process in [*self.processes.values(), *self.abandoned]:
                process.close()
        for stem in self.schedule.not_started():
            self.result.outcomes.setdefault(stem, Outcome.WAITING)

    def _move(self, planned: PlannedCard) -> None:
        if planned.will is Will.WAIT:
            self.result.outcomes[planned.stem] = Outcome.WAITING
        elif planned.will is Will.MANUAL:
            self.result.outcomes[planned.stem] = Outcome.MANUAL
            self.journal.record("card-manual", stem=planned.stem)
        else:
            self._launch(planned, recheck=planned.recheck)

    def _launch(self, planned: PlannedCard, *, recheck: bool) -> None:
        assert planned.action is not None
        entry = self.schedule.start(planned, recheck=recheck)
        if not recheck:
            if planned.card.status == "running":
                self.progress.note(
                    f"{planned.stem} was left running by a run that stopped; running it again"
                )
            self.runner.set_status(planned.card, "running")
        self.journal.record(
            "card-start",
            stem=planned.stem,
            action=planned.action,
            mode="recheck" if recheck else "run",
        )
        self.progress.started(planned, recheck=recheck)
        runner = self.runner
        job = runner.plan.job(
            planned,
            mode=Mode.RECHECK if recheck else Mode.RUN,
            outputs=runner.store,
            http_timeout=runner.http_timeout,
        )
        try:
            self.processes[planned.stem] = ActionProcess(
                job,
                masker=runner.mask,
                store=runner.store,
                out=_to(sys.stdout),
                err=_to(sys.stderr),
                lock=runner.lock,
            )
        except OSError as exc:  # no process to be had (the system's limit): the card fails
            self._take(entry, HookResult(Outcome.FAILED, f"could not start its process: {exc}"))

    def _collect(self) -> None:
        """Take the result of each process that ended."""
        for process in [p for p in self.abandoned if p.ended]:
            self.abandoned.remove(process)
            process.close()
        for stem, process in list(self.processes.items()):
            if process.result is not None:
                del self.processes[stem]
                process.close()
                self._take(self.schedule.running[stem], process.result)

    def _take(self, entry: Running, result: HookResult) -> None:
        card = entry.planned.card
        outcome, error = result.outcome, result.error
        if outcome in (Outcome.DONE, Outcome.SATISFIED):
            self.runner.complete(card)
            self._finish(entry, outcome)
        elif outcome is Outcome.HELD:
            self._finish(entry, outcome)
        elif outcome is Outcome.REOPENED:
            self._finish(entry, outcome, error)
            self.runner.set_status(card, "active")
            self._launch(entry.planned, recheck=False)
        elif outcome is Outcome.PREREQUISITE and result.discovered is not None:
            self._grow(entry, result.discovered)
        else:
            self.runner.set_status(card, "failed")
            self._finish(entry, Outcome.FAILED, error)

    def _expire(self) -> None:
        timeout = self.runner.config.timeout
        for entry in self.schedule.expired(time.monotonic()):
            process = self.processes.pop(entry.stem)
            waiting = process.waiting  # read before the kill: what it was stuck on
            process.kill()
            self.abandoned.append(process)
            error = f"timed out after {timeout:g} s"
            if waiting is not None:
                error = self.runner.mask(f"{error} waiting for {waiting}")
            self.runner.set_status(entry.planned.card, "failed")
            self._finish(entry, Outcome.FAILED, error)

    def _interrupted(self) -> None:
        for entry in list(self.schedule.running.values()):
            process = self.processes.pop(entry.stem, None)
            if process is not None:
                process.kill()
                self.abandoned.append(process)
            if not entry.recheck:
                self.runner.set_status(entry.planned.card, "active")
            self._finish(entry, Outcome.INTERRUPTED)
        self.result.interrupted = True

    def _finish(
        self, entry: Running, outcome: Outcome, error: str | None = None, **extra: Any
    ) -> None:
        self.schedule.finish(entry.stem, outcome)
        seconds = time.monotonic() - entry.started
        self.result.outcomes[entry.stem] = outcome
        if error is not None:
            self.result.errors[entry.stem] = error
        record: dict[str, Any] = {"outcome": outcome.value, "duration": round(seconds, 3)}
        if error is not None:
            record["error"] = error
        self.journal.record("card-end", stem=entry.stem, **record, **extra)
        self.progress.finished(entry.stem, outcome, seconds, error)

    def _grow(self, entry: Running, discovered: PrerequisiteDiscovered) -> None:
        """The Mikado loop: write the discovered card, link it, and stop the run."""
        runner, card = self.runner, entry.planned.card
        mask = runner.mask
        try:
            if mask(discovered.stem) != discovered.stem:
                raise UsageError("the discovered prerequisite's stem holds a secret")
            new = grow(
                runner.config,
                runner.plan.docs,
                card,
                stem=discovered.stem,
                title=mask(discovered.title),
                learned=mask(discovered.learned),
                today=runner.today(),
            )
        except MikadoError as exc:
            runner.set_status(card, "failed")
            error = mask(f"could not record the discovered prerequisite: {exc}")
            self._finish(entry, Outcome.FAILED, error)
            return
        self.result.discovered[card.stem] = new
        self._finish(
            entry,
            Outcome.PREREQUISITE,
            mask(discovered.message),
            discovered=new.stem,
            card_path=new.path,
        )


def _to(stream: IO[str]) -> Callable[[str], None]:
    """Where an action's masked output goes: the engine's own stream, as it arrives."""

    def emit(text: str) -> None:
        stream.write(text)
        stream.flush()

    return emit


# What stops a run cleanly: Ctrl-C, and SIGTERM (how CI cancels a job and systemd stops a
# unit), which would otherwise end the process with the card left `running`.
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def _stop_signals_set(event: threading.Event) -> Iterator[None]:
    """Ctrl-C or SIGTERM sets ``event`` instead of raising at an arbitrary point (say, mid
    card write); a second one raises KeyboardInterrupt as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if event.is_set():
            raise KeyboardInterrupt
        event.set()

    previous = {number: signal.signal(number, handler) for number in _STOP_SIGNALS}
    try:
        yield
    finally:
        for number, action in previous.items():
            signal.signal(number, action)
