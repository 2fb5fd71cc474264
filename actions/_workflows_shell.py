"""The shell text of a workflow step's ``run:`` script, read as the shell reads it.

Words and their quoting, a command's options, the logical commands a pattern starts (with
their continuation lines), the logical lines and simple commands the shell runs, and
here-documents: what :mod:`_workflows_variables` resolves variables with and what
:mod:`_workflows_pushes` finds pushes with. The guard block's markers live here too, as
reading a script skips the blocks an earlier edit put in.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

# The guard block's first and last lines: how an edit finds the block it wrote earlier.
GUARD_BEGIN = "# mikado: tag guard (card enforce-tag-immutability) begin"
GUARD_END = "# mikado: tag guard end"

# A word of a shell command: a quoted string, or unquoted text in which a Forgejo expression
# `${{ ... }}` (which holds spaces) counts as one piece.
_WORD = r"""(?:"[^"\n]*"|'[^'\n]*'|(?:\$\{\{[^}\n]*\}\}|[^\s"'\\])+)"""
# One piece of a repository or tag: a Forgejo expression, a `${...}` parameter expansion (which
# may hold ':' or '/'), or a character.
_PIECE = r"""(?:\$\{\{[^}\n]*\}\}|\$\{[^{}\n]*\}|[^\s"'%s])"""


def _unquote(word: str) -> str:
    if len(word) >= 2 and word[0] == word[-1] and word[0] in "\"'":
        return word[1:-1]
    return word


def _quote_of(word: str) -> str:
    return word[0] if len(word) >= 2 and word[0] == word[-1] and word[0] in "\"'" else ""


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


def _option_match(command: str, name: str) -> re.Match[str] | None:
    return re.search(rf"(?:^|\s)({re.escape(name)})(=|[ \t]+|\s*\\\n\s*)({_WORD})", command)


def _raw_option(command: str, name: str) -> str | None:
    found = _option_match(command, name)
    return found.group(3) if found else None


def _option(command: str, name: str) -> str | None:
    raw = _raw_option(command, name)
    return None if raw is None else _unquote(raw)


# Text in double-quote form is what stands between double quotes and expands as the word it
# comes from does (see _workflows_variables).


def _escaped(text: str) -> str:
    """Literal ``text`` in double-quote form; a Forgejo expression stays one, as Forgejo puts
    its value in before any shell reads the script."""
    pieces = re.split(r"(\$\{\{[^}\n]*\}\})", text)
    return "".join(
        piece if odd else re.sub(r'([\\"`$])', r"\\\1", piece)
        for odd, piece in zip(itertools.cycle((False, True)), pieces, strict=False)
    )


def _double_quoted(word: str) -> str | None:
    """``word`` in double-quote form, or None when mikado cannot tell what it expands to."""
    quote = _quote_of(word)
    if quote == '"':
        return word[1:-1]
    if quote == "'":
        return _escaped(word[1:-1])
    if word.startswith("~") or "\\" in word:
        return None  # tilde expansion and escapes differ in double quotes
    return word


# `<<WORD`, `<<-WORD`, `<<'WORD'`, `<< "WORD"` open a here-document; `<<<` is a here-string.
_HEREDOC = re.compile(r"(?<!<)<<(?!<)(-?)[ \t]*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")


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


def _shell_lines(text: str) -> Iterator[tuple[str, bool]]:
    """(line, complete) for each logical line of ``text`` (continuations joined) that the shell
    runs as commands: no comment lines, here-document bodies or guard blocks. A line cut off
    by the end of ``text`` (it continues into what follows) comes last, not complete."""
    pending: list[tuple[str, bool]] = []  # here-documents opened: (word, tabs stripped)
    guard = False
    joined = ""
    for line in text.split("\n"):
        if pending:
            word, tabs = pending[0]
            if (line.lstrip("\t") if tabs else line) == word:
                pending.pop(0)
            continue
        if guard:
            guard = line.strip() != GUARD_END
            continue
        if not joined and line.strip() == GUARD_BEGIN:
            guard = True
            continue
        if not joined and line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            joined += line[:-1] + " "
            continue
        logical, joined = joined + line, ""
        pending.extend(
            (match.group(3), match.group(1) == "-")
            for match in _HEREDOC.finditer(logical)
            if _outside_quotes(logical, match.start())
        )
        yield logical, True
    if joined:
        yield joined, False


def _segments(line: str) -> list[str]:
    """The simple commands of a logical line: split at ``;``, ``&``, ``|`` (and ``&&``, ``||``,
    ``;;``) outside quotes, ``$(...)`` and Forgejo expressions; a comment ends the line."""
    parts: list[str] = []
    current = ""
    quote = ""
    depth = 0  # inside $( ... )
    index = 0
    while index < len(line):
        char = line[index]
        if quote:
            if char == quote:
                quote = ""
            elif char == "\\" and quote == '"':
                current += line[index : index + 2]
                index += 2
                continue
        elif line.startswith("${{", index):
            close = line.find("}}", index)
            close = len(line) if close == -1 else close + 2
            current += line[index:close]
            index = close
            continue
        elif char in "\"'`":
            quote = char
        elif char == "\\":
            current += line[index : index + 2]
            index += 2
            continue
        elif line.startswith("$(", index):
            depth += 1
            current += "$("
            index += 2
            continue
        elif char == "(" and depth:
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif char in ";&|" and not depth:
            parts.append(current)
            current = ""
            index += 1
            continue
        elif char == "#" and not depth and (not current or current[-1].isspace()):
            break
        current += char
        index += 1
    parts.append(current)
    return parts
