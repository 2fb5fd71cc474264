"""Finding the pushes of a workflow: which steps' scripts push to the registry, and where to.

A ``skopeo copy`` pushes to its last word, read through the script's own variables
(:mod:`_workflows_variables`) as far as they are certain; a ``dagger call`` is read through
the function it runs in the repository's Dagger module (:mod:`_dagger`), or else by its own
``--registry``, ``--image`` and ``--tag``. A push that cannot be read is refused with the
job, the step and the line of the workflow file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from _dagger import DaggerFunction, DaggerModule, Field
from _workflows_shell import (
    _PIECE,
    _WORD,
    _commands,
    _double_quoted,
    _escaped,
    _quote_of,
    _raw_option,
    _unquote,
)
from _workflows_variables import _VARIABLE, _expanded, _put_in, _Scope, _scope
from ruamel.yaml.scalarstring import LiteralScalarString

from mikado.errors import ConfigError


@dataclass(frozen=True, slots=True)
class PushCommand:
    """One push in a step's script: where it is and the words that name what it pushes.

    ``repository`` and ``tag`` are shell text that, inside the quotes ``quotes`` names, expands
    to what the command pushes at that point of the script: as written when the command writes
    them, else with the script's own variables put in until the registry shows (``"docker://
    $IMAGE"``) or filled in from a Dagger function's reference template; either way in double
    quotes (``('"', '"')``).
    """

    kind: Literal["skopeo", "dagger"]
    start: int  # offset of the command in the script
    repository: str  # as written, without the quotes around it
    tag: str
    quotes: tuple[str, str]  # the quote each of the two stands in: '"', "'" or "" (none)
    written: str = ""  # the words the command names them with, before variables were put in
    problem: str | None = None  # why a guard cannot be written for it, when one cannot
    function: DaggerFunction | None = None  # what a `dagger call` runs, read from the module


@dataclass(frozen=True, slots=True)
class PushStep:
    """A step whose script pushes to the registry, and its push commands in script order."""

    job: str
    index: int
    commands: tuple[PushCommand, ...]
    name: str | None = None  # the step's `name:`


class UneditablePush(ValueError):
    """A push the editor cannot safely read or edit: ``reason`` says why, ``line`` where in the
    step's script (1-based), so the caller can name the workflow file's line."""

    def __init__(self, message: str, reason: str, line: int) -> None:
        super().__init__(message)
        self.reason = reason
        self.line = line


class UnguardablePush(UneditablePush):
    """A push that a guard block right before it could not protect."""


_SKOPEO = re.compile(r"\bskopeo\s+copy\b")
_DAGGER = re.compile(r"\bdagger\s+call\b")


def _destination(host: str) -> re.Pattern[str]:
    return re.compile(rf"docker://{re.escape(host)}/({_PIECE % ':@'}+):({_PIECE % ''}+)")


def _skopeo_push(script: str, start: int, end: int, host: str) -> PushCommand | None:
    command = script[start:end]
    words = re.findall(_WORD, command)
    comment = next((i for i, word in enumerate(words) if word.startswith("#")), len(words))
    if comment < 3:
        return None
    # `skopeo copy [options] SOURCE DESTINATION`: only the last word says where it pushes; a
    # source in this registry (a copy out of it, or a mirror within it) is only read.
    destination = words[comment - 1]
    pattern = _destination(host)
    written = _unquote(destination)
    pushed = pattern.fullmatch(written)
    if pushed is not None:
        # Both stand inside the one destination word, so they share its quoting.
        quote = _quote_of(destination)
        return PushCommand("skopeo", start, pushed.group(1), pushed.group(2), (quote, quote))
    text = _double_quoted(destination) if _quote_of(destination) != "'" else None
    if text is None or not _VARIABLE.search(text):
        return None
    scope = _scope(script, start)
    used: set[str] = set()
    for _ in range(64):
        more = _put_in(text, scope.values)
        if more is None:
            return None
        text = more[0]
        used.add(more[1])
        pushed = pattern.fullmatch(text)
        if pushed is not None:
            return PushCommand(
                "skopeo",
                start,
                pushed.group(1),
                pushed.group(2),
                ('"', '"'),
                written,
                _unsettled(used, scope),
            )
    return None


def _unsettled(used: set[str], scope: _Scope) -> str | None:
    """Why the values put in for ``used`` are not what the push will read, or None."""
    for name in sorted(used):
        stale = scope.values[name].stale
        if stale:
            return (
                f"{name} was set from {', '.join(sorted(stale))}, which changed after, so "
                f"what {name} holds is not known; set {name} after the last change"
            )
    unstable = sorted(used & scope.unstable)
    if unstable:
        return (
            f"it reads {unstable[0]}, which a loop around it changes after it, so a guard "
            "before it cannot know the tag of the next round"
        )
    return None


# `dagger call` options that take a value as the next word (`-m ./ci`), so it is no function.
_DAGGER_VALUE_OPTIONS = frozenset(
    {"-m", "--mod", "--progress", "-o", "--output", "--interactive-command"}
)


def _called(command: str) -> tuple[str | None, bool]:
    """The function ``dagger call`` runs, and whether ``-m``/``--mod`` names another module
    than the repository's."""
    head = _DAGGER.match(command)
    assert head is not None
    other = False
    skip = False
    for word in re.findall(_WORD, command[head.end() :]):
        if skip:
            skip = False
            continue
        if word.startswith("#"):
            break
        if word.startswith("-"):
            option = word.split("=", 1)[0]
            other = other or option in ("-m", "--mod")
            skip = "=" not in word and option in _DAGGER_VALUE_OPTIONS
            continue
        return _unquote(word), other
    return None, other


def _field_text(command: str, field: Field, function: DaggerFunction) -> str | None:
    """What the call gives a template field, in double-quote form: its option's value, else
    the parameter's default; None when neither can be read."""
    raw = _raw_option(command, field.flag)
    if raw is not None:
        return _double_quoted(raw)
    parameter = function.parameter(field.parameter)
    if parameter is not None and parameter.literal and parameter.value is not None:
        return _escaped(str(parameter.value))
    return None


def _templated_push(
    script: str, start: int, command: str, host: str, function: DaggerFunction
) -> PushCommand | None:
    ref = function.ref
    assert ref is not None
    registry = _field_text(command, ref.registry, function)
    if registry is None:
        return None
    if registry != host and _expanded(registry, _scope(script, start).values) != host:
        return None
    unknown: list[str] = []
    texts = []
    for parts in (ref.repository, ref.tag):
        text = ""
        for part in parts:
            if isinstance(part, str):
                text += _escaped(part)
                continue
            value = _field_text(command, part, function)
            if value is None:
                unknown.append(part.flag)
                value = "{" + part.parameter + "}"
            text += value
        texts.append(text)
    written = " ".join(
        raw for flag in ref.flags.values() if (raw := _raw_option(command, flag)) is not None
    )
    problem = None
    if unknown:
        problem = (
            f"it gives no {', '.join(unknown)} and the default of `{function.name}` in "
            f"{function.where} is no value mikado can read, so the tag it pushes is unknown; "
            f"pass {unknown[0]}=... in the call"
        )
    return PushCommand("dagger", start, texts[0], texts[1], ('"', '"'), written, problem, function)


def _dagger_push(
    script: str, start: int, end: int, host: str, dagger: DaggerModule | None
) -> PushCommand | None:
    command = script[start:end]
    function = None
    name, other_module = _called(command)
    if dagger is not None and name is not None and not other_module:
        try:
            function = dagger.function(name)
        except ConfigError as error:
            line = script.count("\n", 0, start) + 1
            reason = (
                f"`dagger call {name}` runs no function mikado can find: {error.message} "
                f"({error.path})"
            )
            raise UneditablePush(reason, reason, line) from None
        if function.ref is not None:
            return _templated_push(script, start, command, host, function)
    # Without the module, or for a function whose reference mikado cannot read, the call
    # itself must say where it pushes.
    if name != "publish" and not (name is None and re.search(r"\bpublish\b", command)):
        return None
    registry = _raw_option(command, "--registry")
    registry_text = None if registry is None else _double_quoted(registry)
    if registry_text is None:
        return None
    if registry_text != host and _expanded(registry_text, _scope(script, start).values) != host:
        return None
    image, tag = _raw_option(command, "--image"), _raw_option(command, "--tag")
    if image is None or tag is None:
        return None
    quotes = (_quote_of(image), _quote_of(tag))
    return PushCommand("dagger", start, _unquote(image), _unquote(tag), quotes, function=function)


def _steps(document: Any) -> Iterator[tuple[str, list[Any]]]:
    jobs = document.get("jobs") if isinstance(document, dict) else None
    if not isinstance(jobs, dict):
        return
    for name, job in jobs.items():
        steps = job.get("steps") if isinstance(job, dict) else None
        if isinstance(steps, list):
            yield str(name), steps


def _pushes(
    script: str, registry_host: str, dagger: DaggerModule | None
) -> list[tuple[PushCommand, int]]:
    found: list[tuple[PushCommand, int]] = []
    for start, end in _commands(script, _SKOPEO):
        pushed = _skopeo_push(script, start, end, registry_host)
        if pushed is not None:
            found.append((pushed, end))
    for start, end in _commands(script, _DAGGER):
        pushed = _dagger_push(script, start, end, registry_host, dagger)
        if pushed is not None:
            found.append((pushed, end))
    return sorted(found, key=lambda pair: pair[0].start)


def push_commands(
    script: str, registry_host: str, dagger: DaggerModule | None = None
) -> list[PushCommand]:
    """Every command of ``script`` that pushes to ``registry_host``, in script order.

    With ``dagger``, the repository's module, a ``dagger call`` is read through the function
    it runs: a push when that function's reference template starts with a registry the call
    (or the parameter's default) makes ``registry_host``. Raises :class:`UneditablePush` for
    a ``dagger call`` of a function the module does not have.
    """
    return [push for push, _ in _pushes(script, registry_host, dagger)]


def _step_name(step: Any) -> str | None:
    name = step.get("name") if isinstance(step, dict) else None
    return name if isinstance(name, str) else None


def _where(job: str, index: int, step: Any) -> str:
    name = _step_name(step)
    return f"job `{job}`, step {index + 1}" + (f" ({name})" if name is not None else "")


def _file_line(step: Any, line: int) -> int | None:
    """The workflow file's line (1-based) of line ``line`` of ``step``'s script."""
    try:
        first, _ = step.lc.value("run")
    except (AttributeError, KeyError, TypeError):
        return None
    if isinstance(step["run"], LiteralScalarString):
        return int(first) + 1 + line  # the script starts on the line after `run: |`
    return int(first) + 1  # a one-line (or folded) value: where it starts


def _refused(
    job: str, index: int, step: Any, problem: UneditablePush, path: Path | None
) -> ConfigError:
    return ConfigError(
        f"{_where(job, index, step)}: {problem.reason}",
        path=None if path is None else str(path),
        line=_file_line(step, problem.line),
    )


def push_steps(
    document: Any,
    registry_host: str,
    dagger: DaggerModule | None = None,
    *,
    path: Path | None = None,
) -> list[PushStep]:
    """Every step whose script pushes to ``registry_host`` with skopeo or Dagger (``dagger``:
    see :func:`push_commands`). A push that cannot be read is a ConfigError naming the job, the
    step and its line in the workflow file ``path``."""
    found: list[PushStep] = []
    for job, steps in _steps(document):
        for index, step in enumerate(steps):
            script = step.get("run") if isinstance(step, dict) else None
            if isinstance(script, str):
                try:
                    commands = push_commands(script, registry_host, dagger)
                except UneditablePush as problem:
                    raise _refused(job, index, step, problem, path) from None
                if commands:
                    found.append(PushStep(job, index, tuple(commands), _step_name(step)))
    return found
