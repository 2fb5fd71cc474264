"""The edits a run (and `finalize`) makes to a card, tried on its front-matter without writing.

`check` reports a card the editor would refuse (``frontmatter-uneditable``,
docs/reference.md#check-rules) so that `run`, which refuses a chain with errors before it
starts, never stops half-way at a card it cannot change. The editor itself is the judge: a
second list of what it refuses would drift from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from mikado.edit.editor import Value, refusal
from mikado.errors import CardEditError
from mikado.tree.frontmatter import Block, Composed

# Two days, so one of them always differs from the card's own `modified`: an edit that changes
# nothing rewrites no line, and would prove nothing.
_DAYS = (date(2000, 1, 1), date(2000, 1, 2))
_NEW_STEM = "mikado-discovered"  # a prerequisite growth adds (suffixed when the card has it)


def engine_edit(meta: Mapping[str, Any]) -> tuple[dict[str, Value], tuple[str, ...]]:
    """Every line the engine ever edits in a card with fields ``meta``, in one edit (``set``
    and ``remove``): ``status`` and ``modified`` (set as a card starts, fails, completes or is
    reopened; a missing ``status`` is appended, as `--recheck` does), ``requires`` (growth adds
    a stem) and ``branch`` (removed by `finalize`). Removing a field only drops its lines, which
    the editor refuses for the same reasons as rewriting them (a repeated key, an anchor other
    fields use), so setting ``status`` and ``requires`` stands for removing them too. Values
    differ from the card's own, so that every one of those lines changes."""
    day = _DAYS[1] if str(meta.get("modified")) == _DAYS[0].isoformat() else _DAYS[0]
    changes: dict[str, Value] = {
        "status": "failed" if meta.get("status") == "running" else "running",
        "modified": day,
    }
    requires = meta.get("requires")
    if requires is None:
        requires = []  # growth writes a list where there was none, or an empty value
    if isinstance(requires, list) and all(isinstance(r, str) for r in requires):
        # A `requires` of another shape is a field-type error already.
        stem = _NEW_STEM
        while stem in requires:
            stem += "-"
        changes["requires"] = [*requires, stem]
    return changes, ("branch",)


def engine_refusal(
    block: Block, meta: Mapping[str, Any], composed: Composed | None = None
) -> CardEditError | None:
    """Why the engine could not make its edits to this front-matter, or ``None``.
    ``composed``: the block as the YAML loader read it, when the caller has it."""
    return refusal(block, [engine_edit(meta)], composed=composed)
