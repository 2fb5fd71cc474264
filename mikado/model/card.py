"""The card: one doc's identity and Mikado fields, validated (docs/reference.md#cards).

Every doc is a card node; one with none of ``status``, ``requires``, ``branch`` is plain
documentation, which others may require and which counts as complete.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from mikado.model.findings import Finding, error
from mikado.tree.frontmatter import Block, Placed, parse_block_placed

OPEN_STATUSES = frozenset({"active", "running", "failed"})
STATUSES = OPEN_STATUSES | {"done"}
MIKADO_FIELDS = ("status", "requires", "branch")
# The fields mikado reads (docs/reference.md#cards): written twice, one of them is ignored.
FIELDS = frozenset({"title", "modified", "tags", "status", "requires", "branch", "action"})
# The fields the engine rewrites in a card (docs/reference.md#run, card edits).
EDITED_FIELDS = frozenset({"status", "modified", "requires", "branch"})
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_TOP_KEY = re.compile(r"([^\s#\-'\"][^:#]*?|'[^']*'|\"[^\"]*\")\s*:(?:\s|$)")


@dataclass(frozen=True, slots=True)
class Card:
    """A doc of the tree. ``path`` is relative to the docs root, with ``/``."""

    stem: str
    path: str
    title: str | None = None
    status: str | None = None
    requires: tuple[str, ...] = ()
    branch: str | None = None
    action: str | None = None
    modified: date | None = None
    tags: tuple[str, ...] = ()
    keys: frozenset[str] = frozenset()
    # File line of each top-level front-matter key, and of each `requires` entry, so findings
    # can point at the line to edit.
    lines: Mapping[str, int] = field(default_factory=dict, compare=False)
    requires_lines: tuple[int, ...] = field(default=(), compare=False)
    has_front_matter: bool = True

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_complete(self) -> bool:
        return not self.is_open

    @property
    def is_mikado(self) -> bool:
        """Carries Mikado fields (as opposed to plain documentation)."""
        return not self.keys.isdisjoint(MIKADO_FIELDS)

    def line_of(self, key: str) -> int | None:
        return self.lines.get(key)


def key_lines(block: Block) -> tuple[dict[str, int], tuple[int, ...]]:
    """File lines of top-level keys and of the entries of ``requires``.

    A textual scan is enough here: the YAML is already known to parse, and these lines only
    place findings, they never decide what a value is.
    """
    lines: dict[str, int] = {}
    requires: list[int] = []
    in_requires = False
    # split("\n"), not splitlines(): YAML ends lines only at LF/CR, and splitlines() would also
    # break at form feeds or U+2028 and shift every line after them.
    for index, text in enumerate(block.text.split("\n")):
        line = block.first_line + index
        match = _TOP_KEY.match(text) if text[:1] not in ("", " ", "\t", "#", "\r") else None
        if match:
            key = match.group(1).strip("'\"")
            lines.setdefault(key, line)
            in_requires = key == "requires"
            rest = text[match.end() :].strip()
            if in_requires and rest.startswith("["):
                entries = [e for e in rest.split("#")[0].strip("[] ").split(",") if e.strip()]
                requires.extend(line for _ in entries)
                in_requires = False
        elif in_requires and text.lstrip().startswith("-"):
            requires.append(line)
    return lines, tuple(requires)


def lacks(meta: Mapping[str, Any], key: str) -> bool:
    """Whether required field ``key`` is missing: absent, null (``tags:`` with nothing after
    it) or a blank string (a template's ``title: ""`` placeholder). ``tags: []`` is a doc with
    no tags, a valid doc."""
    value = meta.get(key)
    return value is None or (isinstance(value, str) and not value.strip())


def build_card(
    stem: str,
    path: str,
    meta: Mapping[str, Any],
    block: Block,
    *,
    required: tuple[str, ...] = ("title", "modified", "tags"),
    placed: Placed | None = None,
) -> tuple[Card, list[Finding]]:
    """Validate field types and build the card; wrong fields are reported, not fatal.
    ``placed`` is what parsing ``meta`` learnt of the block (see
    :func:`mikado.tree.frontmatter.parse_block_placed`); without it the block is parsed again.
    """
    findings: list[Finding] = []
    if placed is None:
        placed = parse_block_placed(block)[1]
    if placed.lines is not None:
        lines, requires_lines = placed.lines, placed.requires_lines
    else:
        lines, requires_lines = key_lines(block)

    def line(key: str) -> int:
        return lines.get(key, block.first_line)

    def wrong(key: str, expected: str) -> None:
        value = meta[key]
        findings.append(
            error(
                "field-type",
                path,
                line(key),
                f"`{key}` must be {expected}, not {_describe(value)}",
                key,
            )
        )

    for key in required:
        if not lacks(meta, key):
            continue
        if key in meta:
            where = line(key)
            problem = f"required field `{key}` has no value; write one after `{key}:`"
        else:
            where = None
            problem = f"required field `{key}` is missing; add `{key}:` and its value"
        findings.append(error("field-missing", path, where, problem, key))

    repeated = _repeated(path, placed, required) if placed.repeated else []
    findings.extend(repeated)

    title = meta.get("title")
    if title is not None and not isinstance(title, str):
        wrong("title", "a string")
        title = None

    modified = meta.get("modified")
    if modified is not None:
        modified = _as_date(modified)
        if modified is None:
            wrong("modified", "a date written YYYY-MM-DD")

    tags: tuple[str, ...] = ()
    raw_tags = meta.get("tags")
    if raw_tags is not None:
        if isinstance(raw_tags, list) and all(isinstance(t, str) for t in raw_tags):
            tags = tuple(raw_tags)
        else:
            wrong("tags", "a list of strings (one `- tag` per line)")

    status = meta.get("status")
    # isinstance first: a list or mapping is unhashable, and `in` a set would raise.
    if status is not None and not (isinstance(status, str) and status in STATUSES):
        findings.append(
            error(
                "status-invalid",
                path,
                line("status"),
                f"`status` is {_describe(status)}; use one of active, running, failed, done "
                "(or remove it to complete the card)",
                "status",
            )
        )
        status = "active"  # still open work: safer than treating a typo as done

    requires: tuple[str, ...] = ()
    raw_requires = meta.get("requires")
    if raw_requires is not None:
        if isinstance(raw_requires, list) and all(isinstance(r, str) for r in raw_requires):
            requires = tuple(raw_requires)
        else:
            wrong("requires", "a list of card stems (one `- stem` per line)")
            requires_lines = ()
    if len(requires_lines) != len(requires):
        requires_lines = (line("requires"),) * len(requires)

    strings: dict[str, str | None] = {}
    for key in ("branch", "action"):
        value = meta.get(key)
        if value is not None and not (isinstance(value, str) and value):
            wrong(key, "a non-empty string")
            value = None
        elif key == "action" and value is not None and ("/" in value or value.startswith(".")):
            wrong(key, "the name of a module in the actions folder (no folders)")
            value = None
        strings[key] = value

    card = Card(
        stem=stem,
        path=path,
        title=title,
        status=status,
        requires=requires,
        branch=strings["branch"],
        action=strings["action"],
        modified=modified,
        tags=tags,
        keys=frozenset(k for k in meta if isinstance(k, str)),
        lines=lines,
        requires_lines=requires_lines,
    )
    # Only the YAML loader reads anchors, merge keys, flow mappings and values spread over lines
    # with comments; the fast path's shapes are all ones the editor can change. A field the
    # engine edits written twice is reported already: once is enough.
    composed = placed.composed
    if (
        composed is not None
        and card.is_mikado
        and not any(f.target in EDITED_FIELDS for f in repeated)
    ):
        from mikado.edit.probe import engine_refusal

        refused = engine_refusal(block, meta, composed)
        if refused is not None:
            findings.append(
                error(
                    "frontmatter-uneditable",
                    path,
                    refused.line,
                    f"a run could not update this card: {refused.message}",
                )
            )
    return card, findings


def _repeated(path: str, placed: Placed, required: tuple[str, ...]) -> list[Finding]:
    """``field-duplicate``: a field mikado reads written twice. YAML keeps the last value
    without a word, and the editor refuses to rewrite either line, so a run would stop at the
    card half-way through a chain; one finding per field, at its first repeat."""
    findings: list[Finding] = []
    seen: set[str] = set()
    for key, line in placed.repeated:
        if key in seen or (key not in FIELDS and key not in required):
            continue
        seen.add(key)
        findings.append(
            error(
                "field-duplicate",
                path,
                line,
                f"`{key}` is written more than once in the front-matter; YAML keeps only the "
                "last one and mikado will not edit either: keep one",
                key,
            )
        )
    return findings


def _as_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return None  # a timestamp is not the day the card changed
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _describe(value: object) -> str:
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f'the string "{shown}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "empty"
    return f"{type(value).__name__} {value!r}"
