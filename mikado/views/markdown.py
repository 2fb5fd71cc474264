"""`mikado status --format markdown`: a chain as a pull-request description.

Per chain: a heading, one line of progress, the Mermaid graph in a fence that GitHub and
Forgejo render, and a task-list checklist in run order with each card's state. Titles and
errors are user text and are escaped so they cannot open links, HTML or code spans.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from mikado.engine.journal import Failure
from mikado.model.chains import Chain, State
from mikado.views.graph import mermaid

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def escape(text: str) -> str:
    """Inline Markdown text that renders literally (one line, specials backslash-escaped)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def code(text: str) -> str:
    """A code span holding ``text`` literally, whatever backticks it contains."""
    text = " ".join(text.split())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def chain_markdown(chain: Chain, failures: Mapping[str, Failure]) -> list[str]:
    goal = chain.goal
    heading = escape(goal.title) if goal.title else code(goal.stem)
    lines = [f"## Mikado chain: {heading}", ""]
    facts = [f"goal {code(goal.stem)}", f"{chain.done}/{chain.total} done"]
    facts.append(f"branch {code(goal.branch)}" if goal.branch else "no branch yet")
    for state in (State.READY, State.RUNNING, State.FAILED, State.BLOCKED):
        stems = chain.stems_in(state)
        if stems:
            facts.append(f"{state.value}: " + ", ".join(code(s) for s in stems))
    lines += [" · ".join(facts), "", "```mermaid", mermaid([chain]).rstrip("\n"), "```", ""]
    for card in chain.cards:
        state = chain.state(card.stem)
        tick = "x" if state is State.DONE else " "
        item = f"- [{tick}] {code(card.stem)}"
        if card.title:
            item += f" — {escape(card.title)}"
        if state is not State.DONE:
            item += f" ({state.value})"
        failure = failures.get(card.stem)
        if state is State.FAILED and failure is not None:
            item += f": {code(failure.error)}"
        lines.append(item)
    return lines


def status_markdown(chains: list[Chain], failures: Mapping[str, Failure]) -> str:
    if not chains:
        return "No open Mikado chains: every card is complete.\n"
    sections: list[str] = []
    for chain in chains:
        if sections:
            sections.append("")
        sections.extend(chain_markdown(chain, failures))
    return "\n".join(sections) + "\n"
