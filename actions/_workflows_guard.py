"""The tag guard (enforce-tag-immutability): a shell block right before each push that stops
the script when the version tag it is about to push is already in the registry.

The block goes into the push script itself, so it reads the very variables the push reads; a
push a guard there could not protect (inside a here-document, or changing what it pushes on
its own line) is refused. The block's markers are :data:`_workflows_shell.GUARD_BEGIN` and
:data:`_workflows_shell.GUARD_END`.
"""

from __future__ import annotations

import re
from typing import Any

from _dagger import DaggerModule
from _workflows_pushes import (
    PushCommand,
    UneditablePush,
    UnguardablePush,
    _refused,
    _steps,
    push_commands,
    push_steps,
)
from _workflows_shell import GUARD_BEGIN, GUARD_END, _heredoc_around
from _workflows_variables import _names_changed, _references
from _workflows_yaml import Edit, _set_script

# Earlier versions put the guard in a step of its own, whose script began with this. Such a
# step could not see the push script's variables, so it is removed in favour of the block.
LEGACY_GUARD_STEP = "# mikado: tag guard for "


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


_ASSIGNMENT = re.compile(r"(?:^|[ \t])([A-Za-z_][A-Za-z0-9_]*)=")


def _unguardable(script: str, push: PushCommand) -> str | None:
    """Why a guard right before ``push`` would not protect it, or None."""
    word = _heredoc_around(script, push.start)
    if word is not None:
        return (
            f"it is inside a here-document (<<{word}), where a guard would be text the "
            "document holds rather than a command the step runs; push outside the "
            "here-document"
        )
    # What lies between the guard and the push: the push's own line up to it, and the lines
    # continued into it (comment lines there describe it and set nothing).
    between = "\n".join(
        line
        for line in script[_line_start(script, push.start) : push.start].split("\n")
        if not line.lstrip().startswith("#")
    )
    read = _references(f"{push.written} {push.repository}:{push.tag}")
    for name in _ASSIGNMENT.findall(between):
        if name in read:
            return (
                f"it sets {name} on its own line ({name}=... {push.kind} ...), so a guard "
                f"before that line cannot see the tag it pushes; assign {name} on a line of "
                "its own"
            )
    # Read into, unset, assigned by `${NAME:=...}`: changed all the same.
    changed = sorted(_names_changed(between) & read)
    if changed:
        return (
            f"it changes {changed[0]} on the line it is on (or one continued into it), so a "
            f"guard before that line cannot see the tag it pushes; set {changed[0]} on a "
            "line of its own"
        )
    return push.problem


def _line_in(script: str, line: int) -> int:
    """Line ``line`` of ``_without_guards(script)``, counted in ``script``."""
    kept = 0
    inside = False
    for number, text in enumerate(script.split("\n"), 1):
        if text.strip() == GUARD_BEGIN:
            inside = True
        if not inside:
            kept += 1
            if kept == line:
                return number
        if inside and text.strip() == GUARD_END:
            inside = False
    return line


def guarded_script(
    script: str, registry_host: str, registry_url: str, dagger: DaggerModule | None = None
) -> str:
    """``script`` with a guard block right before each push to ``registry_host`` (``dagger``:
    see :func:`push_commands`); raises :class:`UnguardablePush` for a push a guard there could
    not protect, with the line of ``script`` it is on."""
    original = script
    script = _without_guards(script)
    for push in reversed(push_commands(script, registry_host, dagger)):
        problem = _unguardable(script, push)
        if problem is not None:
            line = _line_in(original, script.count("\n", 0, push.start) + 1)
            reason = f"the push to {push.repository}:{push.tag} cannot be guarded: {problem}"
            raise UnguardablePush(
                f"the push to {push.repository}:{push.tag} on line {line} of its script "
                f"cannot be guarded: {problem}",
                reason,
                line,
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


def guard_edit(registry_host: str, registry_url: str, dagger: DaggerModule | None = None) -> Edit:
    """Put the guard block right before every push command (or bring it up to date).

    ``dagger``: see :func:`push_commands`. A push a guard cannot protect is a ConfigError
    naming the job, the step and the push's line in the workflow file.
    """

    def edit(document: Any) -> bool:
        changed = False
        for _, steps in _steps(document):
            for index in reversed(range(len(steps))):
                if _is_legacy_guard(steps[index]):
                    del steps[index]
                    changed = True
        for push in push_steps(document, registry_host, dagger):
            step = dict(_steps(document))[push.job][push.index]
            script = step["run"]
            try:
                new = guarded_script(script, registry_host, registry_url, dagger)
            except UneditablePush as problem:
                raise _refused(push.job, push.index, step, problem, None) from None
            if new != script:
                _set_script(step, new)
                changed = True
        return changed

    return edit
