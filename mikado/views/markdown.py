"""`mikado status --format markdown`: a chain as a pull-request description.

Per chain: a heading, one line of progress, the Mermaid graph in a fence that GitHub and
Forgejo render, and a task-list checklist in run order with each card's state. Titles and
errors are user text and are escaped so they cannot open links, HTML or code spans.

Escaping Markdown is not enough in a pull request: GitHub and Forgejo turn bare URLs, ``www.``
addresses and e-mail addresses into links and ``@name`` / ``@org/team`` into mentions (which
notify) on plain text, whatever backslashes precede them. Those pieces of a title go into code
spans, where neither forge links or mentions anything. A code span shows the text exactly as
the card has it, is copied exactly, and reads as "quoted"; an invisible zero-width joiner
inside it would look the same but make a copied URL or handle silently wrong and read oddly
to a screen reader.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from mikado.engine.journal import Failure
from mikado.model.chains import Chain, State
from mikado.views.graph import mermaid
from mikado.views.printable import printable

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")
# What the forges make live in plain text. URLs of any scheme (GFM links http, https and ftp;
# GitHub also mailto: and xmpp:), `www.` addresses (in any case: quoting costs less than
# knowing each forge's rule) and e-mail addresses, with trailing punctuation left outside as
# GFM leaves it outside a link; mentions: `@` after no name character, then a user (GitHub:
# letters, digits, `-`; Forgejo also `_` and `.`) or org/team.
_LIVE = re.compile(
    r"""
      (?: \b[A-Za-z][A-Za-z0-9+.-]*:// | \b(?i:mailto|xmpp): | \b(?i:www)\. )
      \S*[^\s.,:;!?'")\]]
    | [A-Za-z0-9._+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+
    | (?<![A-Za-z0-9_])@[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?(?:/[A-Za-z0-9_.-]*[A-Za-z0-9_])?
    """,
    re.VERBOSE,
)


def escape(text: str) -> str:
    """Inline Markdown text that renders literally (one line, specials backslash-escaped) and
    links or mentions nothing: URLs, e-mail addresses and ``@mentions`` become code spans.
    Control characters show as escapes (see :func:`printable`): the text is also read raw,
    in a terminal, before it is pasted."""
    text = printable(" ".join(text.split()))
    parts: list[str] = []
    end = 0
    for match in _LIVE.finditer(text):
        parts.append(_MARKDOWN_SPECIAL.sub(r"\\\1", text[end : match.start()]))
        parts.append(code(match.group()))
        end = match.end()
    parts.append(_MARKDOWN_SPECIAL.sub(r"\\\1", text[end:]))
    return "".join(parts)


def code(text: str) -> str:
    """A code span holding ``text`` literally, whatever backticks it contains (control
    characters as escapes, see :func:`escape`)."""
    text = printable(" ".join(text.split()))
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
