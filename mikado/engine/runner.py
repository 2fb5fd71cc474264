"""`mikado run` (SPEC §5): execute a chain's actions leaves-first and record progress in the
cards, so the docs are always the truth about what is done.

Threads, not processes, run the actions: they share one HTTP client and the outputs store,
and starting one costs microseconds. The main thread alone writes cards and the journal; a
worker only runs action code and reports back through a queue. An action that passes its
timeout cannot be killed inside a thread, so the engine stops waiting for it: its card is
failed at the deadline, its ``ctx.cancelled`` is set, and whatever it still returns is
ignored (the thread is a daemon and ends with the process). Ctrl-C is caught the same way:
the running cards go back to ``active`` at once and the run exits 130.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

import httpx

from mikado.checks.gate import check_tree
from mikado.config import Config
from mikado.edit.editor import edit_card
from mikado.edit.growth import NewCard, grow
from mikado.engine.actions import IMPORT_TIMEOUT, Action, ActionRegistry, action_name
from mikado.engine.context import Context, Outputs, OutputStore, action_logger
from mikado.engine.journal import Journal
from mikado.engine.secrets import Masker, resolve_tables
from mikado.engine.settings import check_settings
from mikado.errors import (
    DocsError,
    ExitCode,
    MikadoError,
    PrerequisiteDiscovered,
    UsageError,
)
from mikado.model.card import Card
from mikado.model.chains import Chain, Plan, State
from mikado.model.findings import Finding, Severity
from mikado.services._http import waiting_for
from mikado.tree.loader import Docs, load_docs

POLL = 0.05  # how often the main thread looks up from waiting (Ctrl-C, deadlines)


class Will(StrEnum):
    """What a run will do with a card (SPEC §5 `--dry-run`)."""

    RUN = "run"
    SKIP = "skip"
    MANUAL = "manual"
    WAIT = "wait"


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


@dataclass(frozen=True, slots=True)
class Step:
    card: Card
    action: str | None  # the action's name when the actions folder has it
    will: Will
    recheck: bool = False  # a complete card whose check/verify runs again

    @property
    def stem(self) -> str:
        return self.card.stem

    def as_json(self) -> dict[str, object]:
        return {"stem": self.stem, "action": self.action, "will": self.will.value}


@dataclass(frozen=True, slots=True)
class RunOptions:
    dry_run: bool = False
    jobs: int = 1
    keep_going: bool = False
    only: str | None = None
    recheck: bool = False


@dataclass(frozen=True, slots=True)
class Prepared:
    """A run's plan, with every action imported and every secret resolved."""

    config: Config
    docs: Docs
    chain: Chain
    steps: tuple[Step, ...]
    actions: Mapping[str, Action]
    settings: Mapping[str, Mapping[str, Mapping[str, Any]]]  # action → its tables
    masker: Masker

    @property
    def goal(self) -> str:
        return self.chain.goal.stem

    def to_run(self) -> list[Step]:
        return [s for s in self.steps if s.will is Will.RUN]

    def plan_json(self) -> dict[str, object]:
        return {"goal": self.goal, "plan": [step.as_json() for step in self.steps]}


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


class Progress(Protocol):
    """Where the run reports to; the CLI prints it for people."""

    def started(self, step: Step, *, recheck: bool) -> None: ...

    def finished(self, stem: str, outcome: Outcome, seconds: float, error: str | None) -> None: ...

    def note(self, text: str) -> None: ...


class Silent:
    def started(self, step: Step, *, recheck: bool) -> None:
        pass

    def finished(self, stem: str, outcome: Outcome, seconds: float, error: str | None) -> None:
        pass

    def note(self, text: str) -> None:
        pass


# -- planning ---------------------------------------------------------------------------------


def prepare(config: Config, goal: str, options: RunOptions) -> Prepared:
    """Read the tree, refuse a chain with errors, import the actions and resolve their
    settings: everything that can fail before any card is touched fails here."""
    report, docs = check_tree(config)
    findings = report.findings
    if docs is None:  # the check reused its report: read the cards (from the scan cache)
        docs = load_docs(config)
    # Not strict: a doc outside the chain that is broken (or caught mid-save by an editor)
    # must not stop it. Errors in the chain's own cards stop it below, cycles included.
    docs.require(goal)
    _refuse_errors(findings, docs, goal)
    # We hold the lock (or change nothing), so a card left `running` is stale: runnable.
    plan = Plan(docs, run_live=False)
    chain = plan.chain(goal)

    members = list(chain.cards)
    if options.only is not None:
        members = [_only(chain, options.only)]

    registry = ActionRegistry(config.actions, import_timeout=min(config.timeout, IMPORT_TIMEOUT))
    wanted = [
        action_name(card.stem, card.action)
        for card in members
        if (card.is_open or options.recheck) and registry.has(action_name(card.stem, card.action))
    ]
    actions = registry.load_all(wanted)
    steps = _steps(members, actions, registry, options)

    running = [
        actions[name]
        for name in dict.fromkeys(s.action for s in steps if s.will is Will.RUN and s.action)
    ]
    check_settings(
        (d for action in running for d in action.declarations()),
        config.settings,
        source=config.source,
    )
    masker = Masker()
    base = config.source.parent if config.source else Path.cwd()
    settings: dict[str, Mapping[str, Mapping[str, Any]]] = {
        action.name: resolve_tables(config.settings, action.settings, base=base, masker=masker)
        for action in running
    }
    return Prepared(config, docs, chain, tuple(steps), actions, settings, masker)


def _refuse_errors(findings: Iterable[Finding], docs: Docs, goal: str) -> None:
    """SPEC §5: a chain any of whose cards `check` reports an error against does not run.

    The chain is taken from the raw ``requires`` edges, so a card on a cycle, which has no
    place in any order, still counts as one of its cards.
    """
    reach = docs.graph.reach(goal)
    paths = {docs.cards[stem].path for stem in reach}
    problems = [
        f
        for f in findings
        if f.severity is Severity.ERROR
        and (f.path in paths or (f.rule == "duplicate-stem" and f.target in reach))
    ]
    if problems:
        count = len(problems)
        raise DocsError(
            f"the chain of `{goal}` has {count} error{'s' if count > 1 else ''}; "
            "nothing was run (fix them; `mikado check` lists every finding)",
            tuple(problems),
        )


def _only(chain: Chain, stem: str) -> Card:
    card = next((c for c in chain.cards if c.stem == stem), None)
    if card is None:
        raise UsageError(f"--only {stem}: no such card in the chain of `{chain.goal.stem}`")
    open_prerequisites = [r for r in card.requires if chain.state(r) is not State.DONE]
    if open_prerequisites:
        raise UsageError(
            f"--only {stem}: its prerequisites are still open: {', '.join(open_prerequisites)}"
        )
    return card


def _steps(
    cards: Sequence[Card],
    actions: Mapping[str, Action],
    registry: ActionRegistry,
    options: RunOptions,
) -> list[Step]:
    steps: list[Step] = []
    held_back: set[str] = set()  # manual cards and everything behind them
    for card in cards:
        name = action_name(card.stem, card.action)
        known = name if registry.has(name) else None
        if card.is_complete:
            recheck = options.recheck and known is not None and actions[known].can_recheck
            steps.append(Step(card, known, Will.RUN if recheck else Will.SKIP, recheck))
        elif any(r in held_back for r in card.requires):
            held_back.add(card.stem)
            steps.append(Step(card, known, Will.WAIT))
        elif known is None:
            held_back.add(card.stem)
            steps.append(Step(card, None, Will.MANUAL))
        else:
            steps.append(Step(card, known, Will.RUN))
    return steps


# -- running ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Report:
    """What a worker sends back: the outcome of one hook sequence."""

    stem: str
    token: int
    outcome: Outcome
    error: str | None = None
    discovered: PrerequisiteDiscovered | None = None


@dataclass(slots=True)
class _Running:
    step: Step
    token: int
    started: float
    deadline: float
    cancelled: threading.Event
    recheck: bool  # only checking a complete card: nothing to put back on Ctrl-C
    worker: int | None = None  # the worker thread's ident, once it runs


class Runner:
    def __init__(
        self,
        prepared: Prepared,
        *,
        options: RunOptions,
        progress: Progress | None = None,
        today: Callable[[], date] = date.today,
        http: httpx.Client | None = None,
    ):
        self.p = prepared
        self.config = prepared.config
        self.options = options
        self.progress = progress or Silent()
        self.today = today
        self._http = http
        self.mask = prepared.masker
        self.journal = Journal(self.config.runtime, uuid.uuid4().hex[:12])
        self.store = OutputStore(self.config.runtime, self.mask)
        self.results: queue.Queue[_Report] = queue.Queue()
        self.interrupt = threading.Event()
        self._tokens = 0

    # The engine's card writes: status and the day the card changed, nothing else.

    def _path(self, card: Card) -> Path:
        return self.p.docs.root / card.path

    def _set_status(self, card: Card, status: str) -> None:
        edit_card(self._path(card), set={"status": status, "modified": self.today()})

    def _complete(self, card: Card) -> None:
        if self.config.completion == "done":
            self._set_status(card, "done")
        else:
            edit_card(self._path(card), set={"modified": self.today()}, remove=["status"])

    def run(self) -> RunResult:
        started = time.monotonic()
        result = RunResult(self.p.goal)
        steps = self.p.steps
        self.journal.record(
            "run-start",
            goal=self.p.goal,
            pid=os.getpid(),
            host=socket.gethostname(),
            jobs=self.options.jobs,
            keep_going=self.options.keep_going,
            only=self.options.only,
            recheck=self.options.recheck,
            plan={w.value: sum(1 for s in steps if s.will is w) for w in Will},
        )
        for step in steps:
            if step.will is Will.SKIP:
                result.outcomes[step.stem] = Outcome.SKIPPED
        http = self._http or _client(self.config)
        exit_code: int | None = None
        try:
            with _stop_signals_set(self.interrupt):
                self._schedule(result, http)
            exit_code = int(result.exit_code)
        finally:
            if self._http is None:
                http.close()
            result.elapsed = time.monotonic() - started
            # Without an exit code the engine itself failed (say, a card it could not write).
            outcome = result.exit_code.name.lower() if exit_code is not None else "error"
            self.journal.record(
                "run-end",
                goal=self.p.goal,
                exit=exit_code if exit_code is not None else int(ExitCode.FAILURE),
                outcome=outcome,
                counts=result.counts(),
                duration=round(result.elapsed, 3),
            )
        return result

    def _schedule(self, result: RunResult, http: httpx.Client) -> None:
        complete = {c.stem for c in self.p.chain.cards if c.is_complete}
        pending = [s for s in self.p.steps if s.will in (Will.RUN, Will.MANUAL, Will.WAIT)]
        unfinished = {s.stem for s in pending}
        held: set[str] = set()  # failed, manual, or waiting behind one of those
        running: dict[str, _Running] = {}
        stopping = False

        def launch(step: Step, *, recheck: bool) -> None:
            assert step.action is not None
            self._tokens += 1
            cancelled = threading.Event()
            now = time.monotonic()
            deadline = now + self.config.timeout
            entry = _Running(step, self._tokens, now, deadline, cancelled, recheck)
            running[step.stem] = entry
            if not recheck:
                if step.card.status == "running":
                    self.progress.note(
                        f"{step.stem} was left running by a run that stopped; running it again"
                    )
                self._set_status(step.card, "running")
            self.journal.record(
                "card-start",
                stem=step.stem,
                action=step.action,
                mode="recheck" if recheck else "run",
            )
            self.progress.started(step, recheck=recheck)
            ctx = self._context(step, http, cancelled)
            action = self.p.actions[step.action]
            worker = threading.Thread(
                target=_work,
                args=(action, ctx, recheck, entry.token, self.results, self.mask),
                name=f"mikado {step.stem}",
                daemon=True,
            )
            worker.start()
            entry.worker = worker.ident

        def finish(stem: str, outcome: Outcome, error: str | None = None, **extra: Any) -> None:
            entry = running.pop(stem)
            seconds = time.monotonic() - entry.started
            result.outcomes[stem] = outcome
            if error is not None:
                result.errors[stem] = error
            record: dict[str, Any] = {"outcome": outcome.value, "duration": round(seconds, 3)}
            if error is not None:
                record["error"] = error
            self.journal.record("card-end", stem=stem, **record, **extra)
            self.progress.finished(stem, outcome, seconds, error)

        def interrupted() -> None:
            for stem, entry in list(running.items()):
                entry.cancelled.set()
                if not entry.recheck:
                    self._set_status(entry.step.card, "active")
                finish(stem, Outcome.INTERRUPTED)
            result.interrupted = True

        while True:
            if self.interrupt.is_set():
                interrupted()
                break
            if not stopping:
                for step in list(pending):
                    if len(running) >= self.options.jobs:
                        break
                    if any(r in held for r in step.card.requires) or step.will is Will.WAIT:
                        pending.remove(step)
                        unfinished.discard(step.stem)
                        held.add(step.stem)
                        result.outcomes[step.stem] = Outcome.WAITING
                        continue
                    ready = all(r in complete and r not in unfinished for r in step.card.requires)
                    if not ready:
                        continue
                    pending.remove(step)
                    if step.will is Will.MANUAL:
                        unfinished.discard(step.stem)
                        held.add(step.stem)
                        result.outcomes[step.stem] = Outcome.MANUAL
                        self.journal.record("card-manual", stem=step.stem)
                        if not self.options.keep_going:
                            stopping = True
                            break
                        continue
                    launch(step, recheck=step.recheck)
            if not running:
                break

            report = self._next_report(running)
            if self.interrupt.is_set():
                interrupted()
                break
            if report is None:
                now = time.monotonic()
                for stem, entry in list(running.items()):
                    if now >= entry.deadline:
                        entry.cancelled.set()
                        error = f"timed out after {self.config.timeout:g} s"
                        waiting = waiting_for(entry.worker)
                        if waiting is not None:
                            error = self.mask(f"{error} waiting for {waiting}")
                        self._set_status(entry.step.card, "failed")
                        finish(stem, Outcome.FAILED, error)
                        unfinished.discard(stem)
                        held.add(stem)
                        stopping = stopping or not self.options.keep_going
                continue
            entry_or_none = running.get(report.stem)
            if entry_or_none is None or entry_or_none.token != report.token:
                continue  # an abandoned (timed-out) action finished late: ignored
            entry = entry_or_none
            card = entry.step.card
            stem = report.stem
            if report.outcome in (Outcome.DONE, Outcome.SATISFIED):
                self._complete(card)
                finish(stem, report.outcome)
                complete.add(stem)
                unfinished.discard(stem)
            elif report.outcome is Outcome.HELD:
                finish(stem, Outcome.HELD)
                unfinished.discard(stem)
            elif report.outcome is Outcome.REOPENED:
                finish(stem, Outcome.REOPENED, report.error)
                complete.discard(stem)
                self._set_status(card, "active")
                launch(entry.step, recheck=False)
            elif report.outcome is Outcome.PREREQUISITE and report.discovered is not None:
                stopping = True
                unfinished.discard(stem)
                held.add(stem)
                self._grow(card, report.discovered, result, finish)
            else:
                self._set_status(card, "failed")
                finish(stem, Outcome.FAILED, report.error)
                unfinished.discard(stem)
                held.add(stem)
                stopping = stopping or not self.options.keep_going

        for step in pending:
            result.outcomes.setdefault(step.stem, Outcome.WAITING)

    def _grow(
        self,
        card: Card,
        discovered: PrerequisiteDiscovered,
        result: RunResult,
        finish: Callable[..., None],
    ) -> None:
        try:
            if self.mask(discovered.stem) != discovered.stem:
                raise UsageError("the discovered prerequisite's stem holds a secret")
            new = grow(
                self.config,
                self.p.docs,
                card,
                stem=discovered.stem,
                title=self.mask(discovered.title),
                learned=self.mask(discovered.learned),
                today=self.today(),
            )
        except MikadoError as exc:
            error = self.mask(f"could not record the discovered prerequisite: {exc}")
            self._set_status(card, "failed")
            finish(card.stem, Outcome.FAILED, error)
            return
        result.discovered[card.stem] = new
        finish(
            card.stem,
            Outcome.PREREQUISITE,
            self.mask(discovered.message),
            discovered=new.stem,
            card_path=new.path,
        )

    def _next_report(self, running: Mapping[str, _Running]) -> _Report | None:
        nearest = min(entry.deadline for entry in running.values())
        wait = max(0.0, min(POLL, nearest - time.monotonic()))
        try:
            return self.results.get(timeout=wait)
        except queue.Empty:
            return None

    def _context(self, step: Step, http: httpx.Client, cancelled: threading.Event) -> Context:
        assert step.action is not None
        return Context(
            card=step.card,
            path=self._path(step.card),
            docs=self.p.docs.root,
            base=config_folder(self.config),
            settings=self.p.settings.get(step.action, {}),
            http=http,
            log=action_logger(step.stem, self.mask),
            dry_run=self.options.dry_run,
            outputs=Outputs(self.store, step.stem),
            cancelled=cancelled,
        )


def config_folder(config: Config) -> Path:
    """Where relative paths in the settings tables start: the configuration file's folder."""
    return config.source.parent if config.source else Path.cwd()


# -- rehearsal (--dry-run) --------------------------------------------------------------------


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


def rehearse(
    prepared: Prepared,
    *,
    http: httpx.Client | None = None,
) -> list[Rehearsal]:
    """Rehearse the cards a run would start now, writing nothing (``mikado run --dry-run``).

    A card is rehearsed when its prerequisites are complete and its action declares
    ``SUPPORTS_DRY_RUN``: ``check`` runs, and unless it says done, ``apply`` runs with
    ``ctx.dry_run`` set and prints what it would change. A card behind an open prerequisite
    is not: what it would do depends on work not done yet. Outputs a rehearsal records stay
    in memory, every hook gets the card's timeout, and what actions print is captured,
    masked, into the report.
    """
    import contextlib
    import io

    from mikado.engine.secrets import MaskingStream

    store = OutputStore(prepared.config.runtime, prepared.masker, persist=False)
    complete = {card.stem for card in prepared.chain.cards if card.is_complete}
    client = http or _client(prepared.config)
    results: list[Rehearsal] = []
    try:
        for step in prepared.steps:
            if step.will is not Will.RUN or step.action is None:
                continue
            action = prepared.actions[step.action]
            open_requires = [r for r in step.card.requires if r not in complete]
            if open_requires:
                why = f"waits for {', '.join(open_requires)}"
                results.append(Rehearsal(step.stem, Rehearsed.NOT_REHEARSED, why=why))
                continue
            if not action.supports_dry_run:
                why = "its action does not declare SUPPORTS_DRY_RUN"
                results.append(Rehearsal(step.stem, Rehearsed.NOT_REHEARSED, why=why))
                continue
            ctx = Context(
                card=step.card,
                path=prepared.docs.root / step.card.path,
                docs=prepared.docs.root,
                base=config_folder(prepared.config),
                settings=prepared.settings.get(step.action, {}),
                http=client,
                log=action_logger(step.stem, prepared.masker),
                dry_run=True,
                outputs=Outputs(store, step.stem),
                cancelled=threading.Event(),
            )
            captured = io.StringIO()
            sink: list[tuple[Rehearsed, str | None]] = []
            stream = MaskingStream(captured, prepared.masker)
            with contextlib.redirect_stdout(stream):
                worker = threading.Thread(
                    target=_rehearse_hooks,
                    args=(action, ctx, sink),
                    name=f"mikado rehearse {step.stem}",
                    daemon=True,
                )
                worker.start()
                worker.join(prepared.config.timeout)
            report = prepared.masker(captured.getvalue())
            if worker.is_alive() or not sink:
                ctx.cancelled.set()
                timed_out = f"timed out after {prepared.config.timeout:g} s"
                results.append(Rehearsal(step.stem, Rehearsed.FAILED, report, timed_out))
            else:
                outcome, problem = sink[0]
                reason = prepared.masker(problem) if problem else None
                results.append(Rehearsal(step.stem, outcome, report, reason))
    finally:
        if http is None:
            client.close()
    return results


def _rehearse_hooks(action: Action, ctx: Context, sink: list[tuple[Rehearsed, str | None]]) -> None:
    try:
        if action.check is not None and _boolean(action.check(ctx), "check"):
            sink.append((Rehearsed.DONE, None))
            return
        action.apply(ctx)
        sink.append((Rehearsed.WOULD_CHANGE, None))
    except BaseException as exc:  # reported as this card's rehearsal failure
        sink.append((Rehearsed.FAILED, describe(exc, action)))


def _client(config: Config) -> httpx.Client:
    from mikado.engine.http import make_client

    return make_client(config.tls)


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


# -- the worker -------------------------------------------------------------------------------


def _work(
    action: Action,
    ctx: Context,
    recheck: bool,
    token: int,
    results: queue.Queue[_Report],
    mask: Masker,
) -> None:
    stem = ctx.card.stem
    try:
        if recheck:
            holds, why = _holds(action, ctx)
            outcome = Outcome.HELD if holds else Outcome.REOPENED
            results.put(_Report(stem, token, outcome, None if holds else mask(why)))
            return
        satisfied = False
        if action.check is not None:
            satisfied = _boolean(action.check(ctx), "check")
        if not satisfied:
            _record_outputs(ctx, action.apply(ctx))
        if action.verify is not None and action.verify(ctx) is False:
            raise VerificationFailed("verify returned False")
        results.put(_Report(stem, token, Outcome.SATISFIED if satisfied else Outcome.DONE))
    except PrerequisiteDiscovered as discovered:
        if action.rollback is not None:
            try:
                action.rollback(ctx)
            except BaseException as exc:  # reported; the card fails
                error = "rollback failed after a prerequisite was discovered: " + describe(
                    exc, action
                )
                results.put(_Report(stem, token, Outcome.FAILED, mask(error)))
                return
        results.put(_Report(stem, token, Outcome.PREREQUISITE, discovered=discovered))
    except BaseException as exc:  # an action's failure is its card's
        results.put(_Report(stem, token, Outcome.FAILED, mask(describe(exc, action))))


class VerificationFailed(Exception):
    pass


def _holds(action: Action, ctx: Context) -> tuple[bool, str]:
    if action.check is not None and not _boolean(action.check(ctx), "check"):
        return False, "check says the work is no longer done"
    if action.verify is not None:
        try:
            if action.verify(ctx) is False:
                return False, "verify returned False"
        except Exception as exc:
            return False, f"verify failed: {describe(exc, action)}"
    return True, ""


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
