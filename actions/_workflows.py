"""The zot chain's edits to Forgejo Actions workflows, keeping every comment and format.

Two cards edit the same files: wire-ci-registry-auth gives each push its registry
credentials, enforce-tag-immutability puts a guard step before each push. Both find the push
steps the same way (:func:`push_steps`), both edits are idempotent (an edit that is already
there changes nothing, so "is it done?" is "would the edit change the text?"), and both go
through a ruamel.yaml round trip, which keeps comments, key order, quoting and block scalars.
A shell script inside a ``run:`` block is edited as text, in place.
"""

from __future__ import annotations

import io
import itertools
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import LiteralScalarString

from mikado.errors import ConfigError

# Two actions edit the same files; with `--jobs` they run in threads of one process, so a
# read-modify-write must not interleave.
EDIT_LOCK = threading.Lock()

GUARD_MARK = "# mikado: tag guard"
GUARD_NAME = "Refuse to overwrite an existing version tag"

# A word of a shell command: a quoted string, or unquoted text in which a Forgejo expression
# `${{ ... }}` (which holds spaces) counts as one piece.
_WORD = r"""(?:"[^"\n]*"|'[^'\n]*'|(?:\$\{\{[^}\n]*\}\}|[^\s"'\\])+)"""
_SHELL_VARIABLE = re.compile(r"\$(?!\{\{)\{?([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True, slots=True)
class PushStep:
    """A step that pushes to the registry: where it is and what it pushes."""

    job: str
    index: int
    kind: Literal["skopeo", "dagger"]
    repository: str
    tag: str
    script: str


def _unquote(word: str) -> str:
    if len(word) >= 2 and word[0] == word[-1] and word[0] in "\"'":
        return word[1:-1]
    return word


def _commands(script: str, start: re.Pattern[str]) -> Iterator[tuple[int, int]]:
    """(start, end) of each logical command beginning with ``start``; continuations joined."""
    for match in start.finditer(script):
        end = match.end()
        while True:
            newline = script.find("\n", end)
            if newline == -1:
                end = len(script)
                break
            if script[newline - 1] == "\\":
                end = newline + 1
                continue
            end = newline
            break
        yield match.start(), end


_SKOPEO = re.compile(r"\bskopeo\s+copy\b")
_DAGGER = re.compile(r"\bdagger\s+call\b")


def _option(command: str, name: str) -> str | None:
    found = re.search(rf"(?:^|\s){re.escape(name)}(?:=|[ \t]+|\s*\\\n\s*)({_WORD})", command)
    return _unquote(found.group(1)) if found else None


def _skopeo_push(command: str, host: str) -> tuple[str, str] | None:
    destination = re.search(
        rf"docker://{re.escape(host)}/((?:\$\{{\{{[^}}]*\}}\}}|[^\s\"':@])+)"
        rf":((?:\$\{{\{{[^}}]*\}}\}}|[^\s\"'])+)",
        command,
    )
    if destination is None:
        return None
    return destination.group(1), destination.group(2)


def _dagger_push(command: str, host: str) -> tuple[str, str] | None:
    if not re.search(r"\bpublish\b", command) or _option(command, "--registry") != host:
        return None
    image, tag = _option(command, "--image"), _option(command, "--tag")
    if image is None or tag is None:
        return None
    return image, tag


def _steps(document: Any) -> Iterator[tuple[str, list[Any]]]:
    jobs = document.get("jobs") if isinstance(document, dict) else None
    if not isinstance(jobs, dict):
        return
    for name, job in jobs.items():
        steps = job.get("steps") if isinstance(job, dict) else None
        if isinstance(steps, list):
            yield str(name), steps


def push_steps(document: Any, registry_host: str) -> list[PushStep]:
    """Every step whose script pushes to ``registry_host`` with skopeo or Dagger."""
    found: list[PushStep] = []
    for job, steps in _steps(document):
        for index, step in enumerate(steps):
            script = step.get("run") if isinstance(step, dict) else None
            if not isinstance(script, str):
                continue
            for pattern, kind, reader in (
                (_SKOPEO, "skopeo", _skopeo_push),
                (_DAGGER, "dagger", _dagger_push),
            ):
                for start, end in _commands(script, pattern):
                    pushed = reader(script[start:end], registry_host)
                    if pushed is not None:
                        found.append(PushStep(job, index, kind, *pushed, script))  # type: ignore[arg-type]
                        break
    return found


# ---------------------------------------------------------------------------------------
# Loading and dumping with the file's own indentation


def _indentation(text: str) -> tuple[int, int, int]:
    """(mapping, sequence, offset) as ruamel.yaml wants them, read off the file itself."""
    lines = [
        line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]
    mapping = 2
    for line in lines:
        indent = len(line) - len(line.lstrip(" "))
        if indent:
            mapping = indent
            break
    sequence, offset = mapping + 2, 2
    for previous, line in itertools.pairwise(lines):
        dash = re.match(r"( *)- +", line)
        if dash and previous.rstrip().endswith(":") and not previous.lstrip().startswith("-"):
            parent = len(previous) - len(previous.lstrip(" "))
            offset = len(dash.group(1)) - parent
            sequence = offset + (len(dash.group(0)) - len(dash.group(1)))
            break
    return mapping, max(sequence, offset + 2), offset


def _yaml(text: str) -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long command line
    mapping, sequence, offset = _indentation(text)
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def parse(text: str, path: Path) -> Any:
    try:
        return _yaml(text).load(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise ConfigError(
            f"not valid YAML: {getattr(error, 'problem', None) or error}; fix the workflow "
            "file, then run again",
            path=str(path),
            line=mark.line + 1 if mark is not None else None,
        ) from None


def _dump(text: str, document: Any) -> str:
    buffer = io.StringIO()
    _yaml(text).dump(document, buffer)
    return buffer.getvalue()


Edit = Callable[[Any], bool]


def edited(text: str, path: Path, edit: Edit) -> str:
    """``text`` after ``edit`` (which changes the parsed document and says whether it did)."""
    document = parse(text, path)
    if not edit(document):
        return text
    return _dump(text, document)


# ---------------------------------------------------------------------------------------
# Credentials (wire-ci-registry-auth)


def _literal_like(original: Any, text: str) -> Any:
    return (
        LiteralScalarString(text)
        if "\n" in text or isinstance(original, LiteralScalarString)
        else text
    )


def _with_skopeo_credentials(script: str, host: str, credentials: str) -> str:
    wanted = f'--dest-creds "{credentials}"'
    for start, end in reversed(list(_commands(script, _SKOPEO))):
        command = script[start:end]
        if _skopeo_push(command, host) is None:
            continue
        existing = re.search(rf"--dest-creds(?:=|[ \t]+){_WORD}", command)
        if existing is None:
            head = _SKOPEO.match(command)
            assert head is not None
            command = command[: head.end()] + " " + wanted + command[head.end() :]
        elif existing.group(0) != wanted:
            command = command[: existing.start()] + wanted + command[existing.end() :]
        script = script[:start] + command + script[end:]
    return script


def _with_dagger_credentials(script: str, host: str, user: str, variable: str) -> str:
    wanted = {"--registry-username": user, "--registry-password": f"env:{variable}"}
    for start, end in reversed(list(_commands(script, _DAGGER))):
        command = script[start:end]
        if _dagger_push(command, host) is None:
            continue
        missing = ""
        for option, value in wanted.items():
            existing = re.search(rf"{re.escape(option)}(?:=|[ \t]+)({_WORD})", command)
            if existing is None:
                missing += f" {option} {value}"
            elif _unquote(existing.group(1)) != value:
                command = (
                    command[: existing.start()] + f"{option} {value}" + command[existing.end() :]
                )
        if missing:
            publish = re.search(r"\bpublish\b", command)
            assert publish is not None
            command = command[: publish.end()] + missing + command[publish.end() :]
        script = script[:start] + command + script[end:]
    return script


def credentials_edit(registry_host: str, user: str, variable: str, secret: str) -> Edit:
    """Give every push step credentials: the user and ``$variable``, set from the secret."""
    reference = "${{ secrets." + secret + " }}"

    def edit(document: Any) -> bool:
        changed = False
        pushes = push_steps(document, registry_host)
        steps_of = dict(_steps(document))
        for push in pushes:
            step = steps_of[push.job][push.index]
            script = step["run"]
            if push.kind == "skopeo":
                new = _with_skopeo_credentials(script, registry_host, f"{user}:${{{variable}}}")
            else:
                new = _with_dagger_credentials(script, registry_host, user, variable)
            if new != script:
                step["run"] = _literal_like(script, new)
                changed = True
            env = step.get("env")
            if not isinstance(env, dict):
                env = CommentedMap()
                step.insert(_position_before(step, "run"), "env", env)
            if env.get(variable) != reference:
                env[variable] = reference
                changed = True
        return changed

    return edit


def _position_before(mapping: CommentedMap, key: str) -> int:
    keys = list(mapping)
    return keys.index(key) if key in keys else len(keys)


# ---------------------------------------------------------------------------------------
# The tag guard (enforce-tag-immutability)


def _assignments(script: str, words: str) -> list[str]:
    """Lines of the push script that set the shell variables ``words`` use, so the guard,
    a separate step, computes the same repository and tag."""
    lines: list[str] = []
    for variable in dict.fromkeys(_SHELL_VARIABLE.findall(words)):
        pattern = re.compile(rf"^\s*(?:export\s+)?{variable}=.*$", re.MULTILINE)
        lines += [match.group(0).strip() for match in pattern.finditer(script)]
    return list(dict.fromkeys(lines))


def guard_script(push: PushStep, registry_url: str) -> str:
    """The guard: a version tag (``v*``, semver) that the registry lists already stops the job."""
    setup = "".join(f"{line}\n" for line in _assignments(push.script, push.repository + push.tag))
    base = registry_url.rstrip("/")
    return (
        f"{GUARD_MARK} for {push.repository} (card enforce-tag-immutability)\n"
        f"{setup}"
        f'image_name="{push.repository}"\n'
        f'image_tag="{push.tag}"\n'
        'case "$image_tag" in\n'
        "  v[0-9]*|[0-9]*.[0-9]*.[0-9]*) ;;\n"
        '  *) echo "tag $image_tag is not a version tag: it cannot exist yet"; exit 0 ;;\n'
        "esac\n"
        'listing="$(mktemp)"\n'
        f'tags_url="{base}/v2/$image_name/tags/list"\n'
        'status=$(curl -sS -o "$listing" -w \'%{http_code}\' "$tags_url")\n'
        'if [ "$status" = 404 ]; then exit 0; fi\n'
        'if [ "$status" != 200 ]; then\n'
        '  echo "cannot list the tags of $image_name (HTTP $status): refusing to push"; exit 1\n'
        "fi\n"
        'if grep -Fq "\\"$image_tag\\"" "$listing"; then\n'
        '  echo "$image_name:$image_tag already exists in the registry. Version tags never'
        ' change: release a new version instead."\n'
        "  exit 1\n"
        "fi\n"
    )


def _is_guard(step: Any) -> bool:
    script = step.get("run") if isinstance(step, dict) else None
    return isinstance(script, str) and script.startswith(GUARD_MARK)


def guard_edit(registry_host: str, registry_url: str) -> Edit:
    """Put the guard step right before every push step (or bring an existing one up to date)."""

    def edit(document: Any) -> bool:
        changed = False
        # Last first, so inserting a step does not move the pushes still to visit.
        for push in reversed(push_steps(document, registry_host)):
            steps = dict(_steps(document))[push.job]
            wanted = guard_script(push, registry_url)
            before = steps[push.index - 1] if push.index > 0 else None
            if before is not None and _is_guard(before):
                if before["run"] != wanted or before.get("name") != GUARD_NAME:
                    before["name"] = GUARD_NAME
                    before["run"] = LiteralScalarString(wanted)
                    changed = True
                continue
            guard = CommentedMap()
            guard["name"] = GUARD_NAME
            guard["run"] = LiteralScalarString(wanted)
            steps.insert(push.index, guard)
            changed = True
        return changed

    return edit
