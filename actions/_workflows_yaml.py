"""Workflow files through a ruamel.yaml round trip: loaded and dumped with the file's own
indentation, keeping comments, key order, quoting and block scalars, and the step edits that
need ruamel.yaml's comment tokens to keep a comment by what it describes.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.scalarstring import LiteralScalarString
from ruamel.yaml.tokens import CommentToken

from mikado.errors import ConfigError

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
# Editing a step in place


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
