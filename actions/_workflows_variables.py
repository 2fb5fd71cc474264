"""Shell variables: what a script's own assignments say a word expands to.

Text here is in double-quote form: what stands between double quotes and expands as the
word it comes from does. The guard block quotes it so, in the same script, after the same
assignments, so keeping a variable is always right; putting in its value is right only
while the value is known for certain, which is all this module decides.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from _workflows_shell import _WORD, _double_quoted, _segments, _shell_lines

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_VARIABLE = re.compile(rf"(?<!\\)\$(?:\{{({_NAME})\}}|({_NAME}))")
_SIMPLE_ASSIGNMENT = re.compile(rf"[ \t]*(?:export[ \t]+)?({_NAME})=({_WORD})?[ \t]*(?:#.*)?")
# A name not read as `$NAME`/`${NAME}`: assigned, read into, unset, looped over... so changed,
# as far as this section can tell. `${NAME:=x}` assigns too.
_BARE = re.compile(rf"(?<![\w$])(?<!\$\{{)(?<!\$\{{[#!])({_NAME})")
_DEFAULTING = re.compile(rf"\$\{{({_NAME}):?=")
_OPENS = frozenset({"if", "case", "for", "while", "until", "select", "{"})
_CLOSES = frozenset({"fi", "esac", "done", "}"})
_LOOPS = frozenset({"for", "while", "until", "select"})
_LEADERS = frozenset({"then", "do", "else", "!"})
# Commands that may set any variable at all.
_ANYTHING = frozenset({"source", ".", "eval"})


def _references(text: str) -> frozenset[str]:
    return frozenset(found.group(1) or found.group(2) for found in _VARIABLE.finditer(text))


@dataclass(frozen=True, slots=True)
class _Value:
    text: str  # in double-quote form
    refs: frozenset[str]  # the variables it reads
    # Those of ``refs`` that changed since: the shell's value is what the text said then, so
    # the text still names the registry, but no longer the tag a guard would read.
    stale: frozenset[str] = frozenset()


def _nest(stack: list[str], segment: str) -> None:
    """Follow ``segment`` into and out of compound commands (if, case, loops, groups and
    subshells): an assignment is certain only outside all of them."""
    text = segment.strip()
    while text.startswith("(") and not text.startswith("(("):
        stack.append("(")
        text = text[1:].lstrip()
    while text.startswith(")") and stack and stack[-1] == "(":
        stack.pop()
        text = text[1:].lstrip()
    words = text.split()
    # `then`, `do` and `else` lead into a command that may open something itself.
    while words and words[0] in _LEADERS:
        words = words[1:]
    if not words:
        return
    if words[0] in _OPENS:
        stack.append(words[0])
    elif words[0] in _CLOSES and stack:
        stack.pop()
    elif words[-1] == "{":  # a function's body
        stack.append("{")
    # A one-line subshell, `(cd x; make)`, closes where it opened.
    if stack and stack[-1] == "(" and text.endswith(")") and text.count(")") > text.count("("):
        stack.pop()


def _forget(values: dict[str, _Value], names: set[str]) -> None:
    """``names`` changed: their values are no longer known, and the values that read them
    go stale."""
    for name in names:
        values.pop(name, None)
    for name, value in list(values.items()):
        if value.refs & names:
            values[name] = _Value(value.text, value.refs, value.stale | (value.refs & names))


def _mentioned(values: dict[str, _Value], line: str) -> None:
    if any(segment.split()[:1] and segment.split()[0] in _ANYTHING for segment in _segments(line)):
        values.clear()
        return
    _forget(values, _names_changed(line))


def _assigned(values: dict[str, _Value], name: str, word: str) -> None:
    text = _double_quoted(word)
    if text is not None and ("$(" in text or "`" in text):
        text = None  # a command's output: not in the script's text
    stale: frozenset[str] = frozenset()
    if text is not None and name in _references(text):  # NAME="$NAME:suffix"
        old = values.get(name)
        if old is None:
            text = None
        else:
            text = _VARIABLE.sub(
                lambda found: old.text if name in found.groups() else found.group(0), text
            )
            stale = old.stale
    _forget(values, {name})
    if text is not None:
        values[name] = _Value(text, _references(text), stale)


def _names_changed(line: str) -> set[str]:
    return set(_BARE.findall(line)) | set(_DEFAULTING.findall(line))


@dataclass(frozen=True, slots=True)
class _Scope:
    """What the script says about its variables where a command runs."""

    values: Mapping[str, _Value]  # known for certain just before the command's line
    # Changed after that, yet before the command runs again: on its own line before it, or
    # later in a loop around it. A value put in for one of these is wrong for the guard.
    unstable: frozenset[str]


def _scope(script: str, start: int) -> _Scope:
    """The variables whose values the script's simple assignments at its top level (outside
    any if, case, loop, group or function) tell for certain where the command at ``start``
    runs. A variable mentioned any other way in between (assigned in a branch, read into,
    unset...) is left out."""
    line_start = script.rfind("\n", 0, start) + 1
    values: dict[str, _Value] = {}
    stack: list[str] = []
    for line, complete in _shell_lines(script[:line_start]):
        assignment = _SIMPLE_ASSIGNMENT.fullmatch(line) if complete and not stack else None
        if assignment is not None:
            _assigned(values, assignment.group(1), assignment.group(2) or "")
        else:
            _mentioned(values, line)
        for segment in _segments(line):
            _nest(stack, segment)
    unstable = _names_changed(script[line_start:start])
    if _LOOPS.intersection(stack):
        for line, _ in _shell_lines(script[start:]):
            unstable |= _names_changed(line)
    return _Scope(values, frozenset(unstable))


def _put_in(text: str, values: Mapping[str, _Value]) -> tuple[str, str] | None:
    """``text`` with its first variable of known value replaced by the value, and the
    variable's name; None when it reads none."""
    for found in _VARIABLE.finditer(text):
        name = found.group(1) or found.group(2)
        value = values.get(name)
        if value is not None:
            return text[: found.start()] + value.text + text[found.end() :], name
    return None


def _expanded(text: str, values: Mapping[str, _Value]) -> str:
    """``text`` with every variable of known, current value put in."""
    current = {name: value for name, value in values.items() if not value.stale}
    for _ in range(64):  # values never read each other in a cycle; this only bounds it
        more = _put_in(text, current)
        if more is None:
            break
        text = more[0]
    return text
