"""What `mikado run` shows when it stops at a card done by hand: the card's own steps.

A manual card says what to do under a heading named "What to do" (or "Steps"); the run
prints that section as written, so the operator need not open the file to continue.
"""

from __future__ import annotations

from pathlib import Path

from markdown_it import MarkdownIt

STEP_HEADINGS = ("what to do", "steps")


def manual_steps(path: Path) -> list[str]:
    """The lines of the card's "What to do" section (without its heading, blank lines at its
    ends dropped); empty when the card has no such section or cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    lines = text.splitlines()
    tokens = MarkdownIt("commonmark").parse(text)
    start: int | None = None
    level = 0
    end = len(lines)
    for index, token in enumerate(tokens):
        if token.type != "heading_open" or token.map is None:
            continue
        depth = int(token.tag[1:])
        if start is None:
            title = tokens[index + 1].content.strip().lower()
            if title in STEP_HEADINGS:
                start, level = token.map[1], depth
        elif depth <= level:
            end = token.map[0]
            break
    if start is None:
        return []
    section = lines[start:end]
    while section and not section[0].strip():
        section.pop(0)
    while section and not section[-1].strip():
        section.pop()
    return section
