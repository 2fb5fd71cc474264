"""Turning chains into what `status` and `next` print: tables and trees for people, JSON for
programs. Pure functions from data to text; the CLI decides where it goes and whether it is
coloured.

Titles, stems, branches and journal errors are anyone's text (a card's YAML can hold any
character, a service's error message too). For people they pass through :func:`printable`,
on a terminal or not (a log piped to ``less -R`` or a CI page interprets escapes as well); JSON
keeps the data as it is.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping

from mikado.engine.journal import Failure
from mikado.model.chains import Chain, State
from mikado.views.printable import printable

Style = Callable[[str, State | None], str]

MARKS = {
    State.DONE: "✓",
    State.READY: "▶",
    State.WAITING: "·",
    State.RUNNING: "⟳",
    State.FAILED: "✗",
    State.BLOCKED: "⊘",
}
ASCII_MARKS = {
    State.DONE: "[x]",
    State.READY: "[>]",
    State.WAITING: "[ ]",
    State.RUNNING: "[~]",
    State.FAILED: "[!]",
    State.BLOCKED: "[-]",
}
COLOURS = {
    State.DONE: "green",
    State.READY: "cyan",
    State.WAITING: "bright_black",
    State.RUNNING: "yellow",
    State.FAILED: "red",
    State.BLOCKED: "magenta",
}


def plain(text: str, state: State | None) -> str:
    return text


def marks_for_stream(stream: object = None) -> Mapping[State, str]:
    """Unicode marks where the output encoding can show them, ASCII otherwise."""
    encoding = getattr(stream or sys.stdout, "encoding", None) or "ascii"
    try:
        "".join(MARKS.values()).encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return ASCII_MARKS
    return MARKS


def chain_json(chain: Chain, failures: Mapping[str, Failure]) -> dict[str, object]:
    cards: list[dict[str, object]] = []
    for card in chain.cards:
        entry: dict[str, object] = {
            "stem": card.stem,
            "title": card.title,
            "path": card.path,
            "status": card.status,
            "requires": list(card.requires),
            "state": chain.state(card.stem).value,
        }
        if chain.state(card.stem) is State.FAILED or card.status == "failed":
            failure = failures.get(card.stem)
            entry["error"] = failure.error if failure else None
            entry["failed_at"] = failure.at if failure else None
        cards.append(entry)
    return {
        "goal": chain.goal.stem,
        "title": chain.goal.title,
        "branch": chain.goal.branch,
        "done": chain.done,
        "total": chain.total,
        "ready": chain.stems_in(State.READY),
        "failed": chain.stems_in(State.FAILED),
        "blocked": chain.stems_in(State.BLOCKED),
        "cards": cards,
    }


def status_json(chains: Iterable[Chain], failures: Mapping[str, Failure]) -> dict[str, object]:
    return {"chains": [chain_json(chain, failures) for chain in chains]}


def status_table(
    chains: list[Chain],
    failures: Mapping[str, Failure],
    style: Style = plain,
    *,
    every: bool = False,
) -> list[str]:
    """One row per chain (the open ones, or with ``every`` the complete ones too), then the
    failed cards' last errors."""
    if not chains:
        return [
            "No chains: no card carries Mikado fields."
            if every
            else "No open chains: every card is complete."
        ]
    header = ("GOAL", "TITLE", "BRANCH", "DONE", "READY", "FAILED", "BLOCKED")
    rows = [
        (
            printable(chain.goal.stem),
            printable(chain.goal.title or ""),
            printable(chain.goal.branch or "-"),
            f"{chain.done}/{chain.total}",
            printable(", ".join(chain.stems_in(State.READY)) or "-"),
            printable(", ".join(chain.stems_in(State.FAILED)) or "-"),
            printable(", ".join(chain.stems_in(State.BLOCKED)) or "-"),
        )
        for chain in chains
    ]
    # Columns that are empty in every row are dropped: "FAILED -" on a healthy tree is noise.
    keep = [i for i in range(len(header)) if i < 5 or any(row[i] != "-" for row in rows)]
    widths = [max(len(header[i]), *(len(row[i]) for row in rows)) for i in keep]
    lines = ["  ".join(header[i].ljust(w) for i, w in zip(keep, widths, strict=True)).rstrip()]
    for row in rows:
        cells = []
        for i, width in zip(keep, widths, strict=True):
            state = {4: State.READY, 5: State.FAILED, 6: State.BLOCKED}.get(i)
            # Pad outside the style: escape codes must not count as width or hide trailing space.
            text = style(row[i], state) if state and row[i] != "-" else row[i]
            cells.append(text + " " * (width - len(row[i])))
        lines.append("  ".join(cells).rstrip())
    lines.extend(_failure_notes(chains, failures, style))
    return lines


def _failure_notes(
    chains: Iterable[Chain], failures: Mapping[str, Failure], style: Style
) -> list[str]:
    notes: list[str] = []
    shown: set[str] = set()
    for chain in chains:
        for stem in chain.stems_in(State.FAILED):
            if stem in shown:
                continue
            shown.add(stem)
            failure = failures.get(stem)
            detail = f"{failure.error} (at {failure.at})" if failure else "no journal entry"
            notes.append(f"{style('failed', State.FAILED)} {printable(stem)}: {printable(detail)}")
    if notes:
        notes.insert(0, "")
    return notes


# How deep the tree indents. Each level adds four columns, so a 10,000-deep chain drawn in
# full would print 200 MB of leading spaces; below this depth the lines stop moving right and
# say their depth instead.
MAX_INDENT = 24


def status_tree(
    chain: Chain,
    failures: Mapping[str, Failure],
    style: Style = plain,
    marks: Mapping[State, str] = MARKS,
) -> list[str]:
    """The chain as a tree from the goal down to its leaves; a card reached twice (a shared
    prerequisite) is drawn in full once and only named, "(see above)", after that. Levels below
    :data:`MAX_INDENT` are drawn at its indentation, each line ending in its depth."""
    cards = {card.stem: card for card in chain.cards}
    branch = chain.goal.branch or "no branch yet"
    heading = printable(chain.goal.title or chain.goal.stem)
    lines = [f"{heading} — {chain.done}/{chain.total} done, {printable(branch)}"]
    drawn: set[str] = set()
    # Iterative depth-first walk (a 10,000-deep chain must not hit the recursion limit);
    # each entry is (stem, prefix for its own line, prefix for its children, depth).
    stack: list[tuple[str, str, str, int]] = [(chain.goal.stem, "", "", 0)]
    while stack:
        stem, own, children, depth = stack.pop()
        card = cards[stem]
        state = chain.state(stem)
        if stem in drawn:
            # A shared prerequisite is drawn once; here it is only named, so a card several
            # others require does not repeat its title, state and subtree.
            lines.append(f"{own}{style(f'{marks[state]} {printable(stem)}', state)}  (see above)")
            continue
        label = f"{marks[state]} {printable(stem)}"
        if card.title:
            label += f" — {printable(card.title)}"
        text = f"{own}{style(label, state)}  [{state.value}]"
        if depth > MAX_INDENT:
            text += f"  (depth {depth})"
        if state is State.FAILED and stem in failures:
            text += f"  {printable(failures[stem].error)}"
        lines.append(text)
        drawn.add(stem)
        requires = [r for r in card.requires if r in cards]
        for index in range(len(requires) - 1, -1, -1):
            last = index == len(requires) - 1
            if depth >= MAX_INDENT:
                # Past the deepest indentation: children line up under this card.
                stack.append((requires[index], own, children, depth + 1))
                continue
            stack.append(
                (
                    requires[index],
                    children + ("└── " if last else "├── "),
                    children + ("    " if last else "│   "),
                    depth + 1,
                )
            )
    return lines
