"""The zot chain's edits to Forgejo Actions workflows, keeping every comment and format.

Two cards edit the same files: wire-ci-registry-auth gives each push its registry
credentials, enforce-tag-immutability puts a tag guard right before each push command. Both
find the pushes the same way (:func:`push_steps`), both edits are idempotent (an edit that is
already there changes nothing, so "is it done?" is "would the edit change the text?"), and
both go through a ruamel.yaml round trip, which keeps comments, key order, quoting and block
scalars. A shell script inside a ``run:`` block is edited as text, in place.
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
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.scalarstring import LiteralScalarString
from ruamel.yaml.tokens import CommentToken

from mikado.errors import ConfigError

# Two actions edit the same files; with `--jobs` they run in threads of one process, so a
# read-modify-write must not interleave.
EDIT_LOCK = threading.Lock()

# The guard block's first and last lines: how an edit finds the block it wrote earlier.
GUARD_BEGIN = "# mikado: tag guard (card enforce-tag-immutability) begin"
GUARD_END = "# mikado: tag guard end"
# Earlier versions put the guard in a step of its own, whose script began with this. Such a
# step could not see the push script's variables, so it is removed in favour of the block.
LEGACY_GUARD_STEP = "# mikado: tag guard for "

# A word of a shell command: a quoted string, or unquoted text in which a Forgejo expression
# `${{ ... }}` (which holds spaces) counts as one piece.
_WORD = r"""(?:"[^"\n]*"|'[^'\n]*'|(?:\$\{\{[^}\n]*\}\}|[^\s"'\\])+)"""


@dataclass(frozen=True, slots=True)
class PushCommand:
    """One push in a step's script: where it is and the words that name what it pushes."""

    kind: Literal["skopeo", "dagger"]
    start: int  # offset of the command in the script
    repository: str  # as written, without the quotes around it
    tag: str
    quotes: tuple[str, str]  # the quote each of the two stands in: '"', "'" or "" (none)


@dataclass(frozen=True, slots=True)
class PushStep:
    """A step whose script pushes to the registry, and its push commands in script order."""

    job: str
    index: int
    commands: tuple[PushCommand, ...]


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


def _raw_option(command: str, name: str) -> str | None:
    found = re.search(rf"(?:^|\s){re.escape(name)}(?:=|[ \t]+|\s*\\\n\s*)({_WORD})", command)
    return found.group(1) if found else None


def _option(command: str, name: str) -> str | None:
    raw = _raw_option(command, name)
    return None if raw is None else _unquote(raw)


def _quote_of(word: str) -> str:
    return word[0] if len(word) >= 2 and word[0] == word[-1] and word[0] in "\"'" else ""


def _skopeo_push(command: str, host: str) -> tuple[str, str, tuple[str, str]] | None:
    words = re.findall(_WORD, command)
    comment = next((i for i, word in enumerate(words) if word.startswith("#")), len(words))
    if comment < 3:
        return None
    # `skopeo copy [options] SOURCE DESTINATION`: only the last word says where it pushes; a
    # source in this registry (a copy out of it, or a mirror within it) is only read.
    destination = words[comment - 1]
    pushed = re.fullmatch(
        rf"docker://{re.escape(host)}/((?:\$\{{\{{[^}}]*\}}\}}|[^\s\"':@])+)"
        rf":((?:\$\{{\{{[^}}]*\}}\}}|[^\s\"'])+)",
        _unquote(destination),
    )
    if pushed is None:
        return None
    # Both stand inside the one destination word, so they share its quoting.
    quote = _quote_of(destination)
    return pushed.group(1), pushed.group(2), (quote, quote)


def _dagger_push(command: str, host: str) -> tuple[str, str, tuple[str, str]] | None:
    if not re.search(r"\bpublish\b", command) or _option(command, "--registry") != host:
        return None
    image, tag = _raw_option(command, "--image"), _raw_option(command, "--tag")
    if image is None or tag is None:
        return None
    return _unquote(image), _unquote(tag), (_quote_of(image), _quote_of(tag))


_Reader = Callable[[str, str], tuple[str, str, tuple[str, str]] | None]


def _steps(document: Any) -> Iterator[tuple[str, list[Any]]]:
    jobs = document.get("jobs") if isinstance(document, dict) else None
    if not isinstance(jobs, dict):
        return
    for name, job in jobs.items():
        steps = job.get("steps") if isinstance(job, dict) else None
        if isinstance(steps, list):
            yield str(name), steps


def push_commands(script: str, registry_host: str) -> list[PushCommand]:
    """Every command of ``script`` that pushes to ``registry_host``, in script order."""
    found: list[PushCommand] = []
    readers: tuple[tuple[re.Pattern[str], Literal["skopeo", "dagger"], _Reader], ...] = (
        (_SKOPEO, "skopeo", _skopeo_push),
        (_DAGGER, "dagger", _dagger_push),
    )
    for pattern, kind, reader in readers:
        for start, end in _commands(script, pattern):
            pushed = reader(script[start:end], registry_host)
            if pushed is not None:
                found.append(PushCommand(kind, start, *pushed))
    return sorted(found, key=lambda command: command.start)


def push_steps(document: Any, registry_host: str) -> list[PushStep]:
    """Every step whose script pushes to ``registry_host`` with skopeo or Dagger."""
    found: list[PushStep] = []
    for job, steps in _steps(document):
        for index, step in enumerate(steps):
            script = step.get("run") if isinstance(step, dict) else None
            if isinstance(script, str):
                commands = push_commands(script, registry_host)
                if commands:
                    found.append(PushStep(job, index, tuple(commands)))
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
    try:
        changed = edit(document)
    except ConfigError as error:
        if error.path is not None:
            raise
        raise ConfigError(error.message, path=str(path), line=error.line) from None
    if not changed:
        return text
    return _dump(text, document)


# ---------------------------------------------------------------------------------------
# Credentials (wire-ci-registry-auth)


def _set_script(step: CommentedMap, script: str) -> None:
    """Put ``script`` into ``step["run"]``, as a block scalar once it has several lines.

    A one-line ``run:`` that becomes a block keeps its end-of-line comment as a line above
    ``run:``; left where it was, it would come out below the script, describing nothing.
    """
    old = step["run"]
    if "\n" not in script and not isinstance(old, LiteralScalarString):
        step["run"] = script
        return
    step["run"] = LiteralScalarString(script)
    tokens = step.ca.items.get("run")
    token = tokens[2] if tokens and len(tokens) > 2 else None
    if isinstance(old, LiteralScalarString) or not isinstance(token, CommentToken):
        return
    comment, _, rest = token.value.partition("\n")
    if not comment.startswith("#"):
        return
    # What follows the end-of-line comment (comment lines above the next step) stays put,
    # without the newline that ended the one-line value, at its own indentation.
    tokens[2] = CommentToken(rest, CommentMark(0)) if rest else None
    step.yaml_set_comment_before_after_key(
        "run", before=comment.lstrip("#").strip(), indent=step.lc.col
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
            new = _with_skopeo_credentials(script, registry_host, f"{user}:${{{variable}}}")
            new = _with_dagger_credentials(new, registry_host, user, variable)
            if new != script:
                _set_script(step, new)
                changed = True
            env = step.get("env")
            if not isinstance(env, dict):
                env = CommentedMap()
                env[variable] = reference
                _insert_before(step, "run", "env", env)
                changed = True
            if env.get(variable) != reference:
                env[variable] = reference
                changed = True
        return changed

    return edit


def _insert_before(mapping: CommentedMap, key: str, new_key: str, value: CommentedMap) -> None:
    """Insert ``new_key: value`` before ``key``, keeping the comment lines above ``key`` above
    it: ruamel.yaml keeps them with the entry before ``key``, so they would describe the new
    entry instead."""
    keys = list(mapping)
    position = keys.index(key) if key in keys else len(keys)
    above = _take_comment_lines(mapping, keys[position - 1]) if position > 0 else ""
    mapping.insert(position, new_key, value)
    if above and value:
        last = list(value)[-1]
        value.ca.items[last] = [None, None, CommentToken("\n" + above, CommentMark(0)), None]


def _take_comment_lines(mapping: CommentedMap, key: Any) -> str:
    """Remove and return the whole comment lines that follow ``mapping[key]``; ruamel.yaml
    holds them on the last entry of the deepest mapping that ends there."""
    value = mapping[key]
    if isinstance(value, CommentedMap) and value:
        return _take_comment_lines(value, list(value)[-1])
    if isinstance(value, CommentedSeq):
        return ""  # not worth chasing: such steps put nothing between a list and `run:`
    tokens = mapping.ca.items.get(key)
    token = tokens[2] if tokens and len(tokens) > 2 else None
    if not isinstance(token, CommentToken) or "\n" not in token.value:
        return ""
    # The token's first line ends the `key: value` line (an end-of-line comment, or nothing).
    end_of_line, _, lines = token.value.partition("\n")
    token.value = end_of_line + "\n"
    return lines


# ---------------------------------------------------------------------------------------
# The tag guard (enforce-tag-immutability)


def _word(text: str, quote: str) -> str:
    """``text`` as a shell word in the quoting it had in the push command, so it expands
    exactly as it does there (an unquoted word gets double quotes: no splitting or globbing)."""
    return f"'{text}'" if quote == "'" else f'"{text}"'


def guard_block(push: PushCommand, registry_url: str) -> str:
    """Shell lines that stop the script when the version tag ``push`` is about to push is
    already in the registry (``v*`` or X.Y.Z; other tags, commit SHAs, cannot exist yet).

    The block runs in the push script itself, just before the push, so it reads the very
    variables the push reads. It is a subshell, so its own variables and its ``exit 0`` stay
    inside it, and ``|| exit 1`` stops the script whether or not it runs under ``set -e``.
    """
    tags_url = f"{registry_url.rstrip('/')}/v2/$mikado_image/tags/list"
    return (
        f"{GUARD_BEGIN}\n"
        "(\n"
        f"  mikado_image={_word(push.repository, push.quotes[0])}\n"
        f"  mikado_tag={_word(push.tag, push.quotes[1])}\n"
        '  case "$mikado_tag" in\n'
        "    v[0-9]*|[0-9]*.[0-9]*.[0-9]*) ;;\n"
        '    *) echo "tag $mikado_tag is not a version tag: it cannot exist yet"; exit 0 ;;\n'
        "  esac\n"
        '  mikado_listing="$(mktemp)"\n'
        "  trap 'rm -f \"$mikado_listing\"' EXIT\n"
        f'  mikado_status="$(curl -sS -o "$mikado_listing" -w \'%{{http_code}}\' "{tags_url}")"\n'
        '  case "$mikado_status" in\n'
        "    404) exit 0 ;;\n"
        "    200) ;;\n"
        '    *) echo "cannot list the tags of $mikado_image (HTTP $mikado_status):'
        ' refusing to push" >&2; exit 1 ;;\n'
        "  esac\n"
        '  if grep -Fq "\\"$mikado_tag\\"" "$mikado_listing"; then\n'
        '    echo "$mikado_image:$mikado_tag already exists in the registry. Version tags never'
        ' change: release a new version instead." >&2\n'
        "    exit 1\n"
        "  fi\n"
        ") || exit 1\n"
        f"{GUARD_END}\n"
    )


def _without_guards(script: str) -> str:
    """``script`` with every guard block an earlier edit put in removed."""
    kept: list[str] = []
    inside = False
    for line in script.splitlines(keepends=True):
        if line.strip() == GUARD_BEGIN:
            inside = True
        if not inside:
            kept.append(line)
        if inside and line.strip() == GUARD_END:
            inside = False
    return "".join(kept)


def _line_start(script: str, offset: int) -> int:
    """Where the guard for the command at ``offset`` goes: the start of its line, going back
    over continued lines (never into the middle of a command) and then over the comment lines
    right above it, which describe the push and must stay with it."""
    start = script.rfind("\n", 0, offset) + 1
    while start > 0:
        previous = script.rfind("\n", 0, start - 1) + 1
        line = script[previous : start - 1].strip()
        continued = line.endswith(("\\", "&&", "||", "|"))
        comment = line.startswith("#") and not (previous == 0 and line.startswith("#!"))
        if not (continued or comment):
            break
        start = previous
    return start


class UnguardablePush(ValueError):
    """A push that a guard block right before it could not protect."""


# `<<WORD`, `<<-WORD`, `<<'WORD'`, `<< "WORD"` open a here-document; `<<<` is a here-string.
_HEREDOC = re.compile(r"(?<!<)<<(?!<)(-?)[ \t]*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")
_ASSIGNMENT = re.compile(r"(?:^|[ \t])([A-Za-z_][A-Za-z0-9_]*)=")


def _outside_quotes(line: str, at: int) -> bool:
    before = line[:at].replace('\\"', "").replace("\\'", "")
    return before.count('"') % 2 == 0 and before.count("'") % 2 == 0


def _heredoc_around(script: str, offset: int) -> str | None:
    """The word ending the here-document ``offset`` lies in, or None when it lies in none."""
    pending: list[tuple[str, bool]] = []  # opened and not yet ended: (word, tabs stripped)
    for line in script[: script.rfind("\n", 0, offset) + 1].split("\n"):
        if pending:
            word, tabs = pending[0]
            if (line.lstrip("\t") if tabs else line) == word:
                pending.pop(0)
            continue
        if line.lstrip().startswith("#"):
            continue
        pending.extend(
            (match.group(3), match.group(1) == "-")
            for match in _HEREDOC.finditer(line)
            if _outside_quotes(line, match.start())
        )
    return pending[0][0] if pending else None


def _unguardable(script: str, push: PushCommand) -> str | None:
    """Why a guard right before ``push`` would not protect it, or None."""
    word = _heredoc_around(script, push.start)
    if word is not None:
        return (
            f"it is inside a here-document (<<{word}), where a guard would be text the "
            "document holds rather than a command the step runs; push outside the "
            "here-document"
        )
    prefix = script[script.rfind("\n", 0, push.start) + 1 : push.start]
    for name in _ASSIGNMENT.findall(prefix):
        if re.search(rf"\$\{{?{name}\b", push.repository + ":" + push.tag):
            return (
                f"it sets {name} on its own line ({name}=... {push.kind} ...), so a guard "
                f"before that line cannot see the tag it pushes; assign {name} on a line of "
                "its own"
            )
    return None


def guarded_script(script: str, registry_host: str, registry_url: str) -> str:
    """``script`` with a guard block right before each push to ``registry_host``; raises
    :class:`UnguardablePush` for a push a guard there could not protect."""
    script = _without_guards(script)
    for push in reversed(push_commands(script, registry_host)):
        problem = _unguardable(script, push)
        if problem is not None:
            line = script.count("\n", 0, push.start) + 1
            raise UnguardablePush(
                f"the push to {push.repository}:{push.tag} on line {line} of its script "
                f"cannot be guarded: {problem}"
            )
        at = _line_start(script, push.start)
        indent = re.match(r"[ \t]*", script[at:])
        assert indent is not None
        block = "".join(
            f"{indent.group(0)}{line}\n" for line in guard_block(push, registry_url).splitlines()
        )
        script = script[:at] + block + script[at:]
    return script


def _is_legacy_guard(step: Any) -> bool:
    script = step.get("run") if isinstance(step, dict) else None
    return isinstance(script, str) and script.startswith(LEGACY_GUARD_STEP)


def guard_edit(registry_host: str, registry_url: str) -> Edit:
    """Put the guard block right before every push command (or bring it up to date)."""

    def edit(document: Any) -> bool:
        changed = False
        for _, steps in _steps(document):
            for index in reversed(range(len(steps))):
                if _is_legacy_guard(steps[index]):
                    del steps[index]
                    changed = True
        for push in push_steps(document, registry_host):
            step = dict(_steps(document))[push.job][push.index]
            script = step["run"]
            try:
                new = guarded_script(script, registry_host, registry_url)
            except UnguardablePush as problem:
                name = step.get("name")
                named = f" ({name})" if isinstance(name, str) else ""
                raise ConfigError(
                    f"job `{push.job}`, step {push.index + 1}{named}: {problem}"
                ) from None
            if new != script:
                _set_script(step, new)
                changed = True
        return changed

    return edit
