"""The work of `mikado run` behind its options: check the TLS settings, show the plan and
ask, take the run lock, run the chain and report each card's outcome (docs/reference.md#run)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from mikado.cli.output import command_name, echo, echo_json
from mikado.errors import ConfigError, ExitCode

if TYPE_CHECKING:  # imported where used, at run time: start-up stays lean
    from mikado.config import Config
    from mikado.engine.plan import RunOptions, RunPlan
    from mikado.model.chains import State


def run_chain(
    config: Config, goal: str, options: RunOptions, *, fmt: str, verbose: bool, ask: bool
) -> int:
    """Run (or with ``options.dry_run`` plan and rehearse) GOAL's chain and print what
    happened in ``fmt`` ("human" or "json"); with ``ask``, show the plan and ask first when
    both ends are a terminal. Returns the exit code (docs/reference.md#exit-codes)."""
    from mikado.engine.http import ca_bundle_problem
    from mikado.engine.lock import RunLock
    from mikado.engine.process import start_early

    if config.tls.insecure:
        echo(
            "warning: TLS certificate verification is off ([mikado.tls] insecure = true); "
            "anyone on the network path can read and change what actions send",
            err=True,
        )
    problem = ca_bundle_problem(config.tls)
    if problem:
        raise ConfigError(problem)
    if not (options.dry_run and fmt == "json"):  # that prints the plan and runs no action
        start_early()
    if options.dry_run:
        plan = _plan(config, goal, options)
        if fmt == "json":
            # The JSON plan is a contract (docs/reference.md#output-formats); no action runs.
            echo_json(plan.as_json())
            return ExitCode.OK
        for line in _plan_lines(plan):
            echo(line)
        return _rehearse(plan)

    with RunLock(config.runtime) as lock:
        plan = _plan(config, goal, options)
        if not any(planned.will.value in ("run", "manual") for planned in plan.cards):
            if fmt == "json":
                echo_json({"goal": goal, "exit": 0, "cards": {}})
            else:
                echo(f"{goal}: nothing to run, every card of the chain is complete")
            return ExitCode.OK
        if ask and sys.stdin.isatty() and sys.stdout.isatty():
            for line in _plan_lines(plan):
                echo(line)
            count = len(plan.to_run())
            if not click.confirm(f"Run {count} action{'s' if count != 1 else ''}?"):
                echo("Nothing was run.", err=True)
                return ExitCode.FAILURE
        return _execute(plan, options, fmt=fmt, verbose=verbose, lock=lock.fileno())


def _plan(config: Config, goal: str, options: RunOptions) -> RunPlan:
    from mikado.engine.plan import plan_run
    from mikado.errors import DocsError
    from mikado.views.paths import shown_problems

    try:
        return plan_run(config, goal, options)
    except DocsError as error:
        raise shown_problems(error, config.docs) from None


def _plan_lines(plan: RunPlan) -> list[str]:
    count = len(plan.cards)
    lines = [f"Plan for {plan.goal} ({count} card{'s' if count != 1 else ''}):"]
    notes = {
        "skip": "complete",
        "manual": "no action: do it by hand, then `{mikado} done {stem}`",
        "wait": "waits for a card before it",
    }
    for planned in plan.cards:
        will = planned.will.value
        what = notes.get(will, "").format(stem=planned.stem, mikado=command_name())
        if will == "run":
            what = "" if planned.action == planned.stem else f"action {planned.action}"
            if planned.recheck:
                what = (what + " " if what else "") + "(check again)"
        lines.append(f"  {will:<7} {planned.stem}" + (f"  — {what}" if what else ""))
    return lines


def _rehearse(plan: RunPlan) -> int:
    """Print what each card that could start now would change; exit 1 if a rehearsal failed."""
    from mikado.engine.rehearsal import Rehearsed, rehearse

    rehearsals = rehearse(plan)
    if not rehearsals:
        return ExitCode.OK
    echo("")
    echo("Rehearsal (nothing is written):")
    failed = False
    for item in rehearsals:
        if item.outcome is Rehearsed.DONE:
            echo(f"  {item.stem}: already done")
        elif item.outcome is Rehearsed.WOULD_CHANGE:
            echo(f"  {item.stem}: would change:")
        elif item.outcome is Rehearsed.NOT_REHEARSED:
            echo(f"  {item.stem}: not rehearsed ({item.why})")
        else:
            failed = True
            echo(f"  {item.stem}: rehearsal failed: {item.why}")
        for line in item.report.splitlines():
            echo(f"    {line}")
    return ExitCode.FAILURE if failed else ExitCode.OK


def _execute(
    plan: RunPlan, options: RunOptions, *, fmt: str, verbose: bool, lock: int | None
) -> int:
    from mikado.engine.results import Outcome
    from mikado.engine.runner import Runner
    from mikado.engine.secrets import masked_output
    from mikado.views.manual import manual_steps
    from mikado.views.paths import shown_path
    from mikado.views.progress import ConsoleProgress, action_logs, summary
    from mikado.views.status import COLOURS, marks_for_stream

    def style(text: str, state: State | None) -> str:
        return click.style(text, fg=COLOURS[state]) if state else text

    progress = ConsoleProgress(
        enabled=fmt == "human" and (verbose or sys.stdout.isatty()),
        echo=echo,
        marks=marks_for_stream(),
        style=style,
    )
    mask = plan.masker
    mikado = command_name()
    with masked_output(mask) as unmasked, action_logs(progress, mask, verbose=verbose):
        result = Runner(plan, options=options, progress=progress, lock=lock).run()
        goal = plan.goal
        for stem in result.stems(Outcome.FAILED):
            echo(f"mikado: {stem} failed: {result.errors.get(stem, '')}", err=True)
        for stem, new in result.discovered.items():
            echo(
                f"mikado: {stem} discovered a prerequisite: wrote "
                f"{shown_path(plan.docs.root / new.path)} and made {stem} "
                f"require it; make it pass, then run `{mikado} run {goal}` again",
                err=True,
            )
        for stem in result.stems(Outcome.MANUAL):
            path = plan.docs.root / plan.docs.require(stem).path
            steps = manual_steps(path)
            echo(f"mikado: {stem} is done by hand ({shown_path(path)}){':' if steps else ''}")
            for line in steps:
                echo(f"  {line}" if line else "")
            echo(f"mikado: then run `{mikado} done {stem}` and `{mikado} run {goal}` again")
        if result.interrupted:
            back = ", ".join(result.stems(Outcome.INTERRUPTED)) or "no card was running"
            echo(f"mikado: interrupted; back to active: {back}", err=True)
        if fmt == "json":
            report = {
                "goal": goal,
                "exit": int(result.exit_code),
                "cards": {stem: o.value for stem, o in result.outcomes.items()},
                "errors": result.errors,
                "discovered": {s: n.stem for s, n in result.discovered.items()},
            }
            # Masked value by value and written past the masking stream, which would mask
            # the JSON text: under a secret `0`, `"exit": 0` would read `"exit": ***`.
            text = json.dumps(mask.mask_data(report), indent=2, ensure_ascii=False)
            click.echo(text, file=unmasked.stdout)
        elif progress.enabled or verbose:
            echo(summary(result))
        else:
            # Off a terminal the progress lines are off, so this line is a CI log's only
            # count of what ran, and a failed run needs it most.
            echo(f"{goal}: {summary(result)}")
    return int(result.exit_code)
