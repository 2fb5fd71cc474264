"""Wiki-links in a document body, outside code and HTML comments
(docs/reference.md#link-grammar).

:mod:`mikado.tree.code_regions` says which ranges are code or comment (its fast scanner or
markdown-it-py); they are masked, and one function turns the masked text into links, so the
grammar below is the same whichever decided:

- ``[[raw]]`` where ``raw`` is non-empty and holds no ``[``, ``]`` or line break, and lies
  wholly outside masked ranges; ``![[raw]]`` is an embed.
- ``\\[[x]]`` (an odd number of backslashes before ``[[``) is an escaped bracket, not a link;
  likewise ``[[x\\]]``, whose first ``]`` is escaped.
- ``raw`` splits at its first ``|`` into target part and text; ``\\|`` (how a pipe is written
  inside a table cell) counts as that pipe. The target part splits at its first ``#`` into
  target and heading.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mikado.tree.code_regions import Span, code_regions

__all__ = [
    "Link",
    "extract_links",
    "is_spaced",
    "link_raws_of",
    "links_outside",
    "split_raw",
]


@dataclass(frozen=True, slots=True)
class Link:
    """One wiki-link as written."""

    line: int  # 1-based line number in the file (front-matter lines counted)
    raw: str  # the text between [[ and ]] exactly as written
    target: str  # before any '#' and the pipe; not stripped
    heading: str | None  # after '#', if any
    text: str | None  # after the pipe, if any
    embed: bool  # written as ![[...]]

    @property
    def in_page(self) -> bool:
        """``[[#heading]]``: a link to a heading of the same document."""
        return self.target == "" and self.heading is not None

    @property
    def spaced(self) -> bool:
        """Spaces or tabs around the target or around the pipe (rule ``spaced-link``)."""
        return is_spaced(self.raw, self.target, self.text)


def split_raw(raw: str) -> tuple[str, str | None, str | None]:
    """``raw`` (the text between ``[[`` and ``]]``) as target, heading and text."""
    pipe = raw.find("|")
    if pipe == -1:
        before, text = raw, None
    else:
        before, text = raw[:pipe], raw[pipe + 1 :]
        if before.endswith("\\"):
            before = before[:-1]  # `\|`, as a pipe is written in a table cell
    hash_at = before.find("#")
    if hash_at == -1:
        return before, None, text
    return before[:hash_at], before[hash_at + 1 :], text


def is_spaced(raw: str, target: str, text: str | None) -> bool:
    """Whether a link has spaces or tabs around its target or its pipe (``target`` and
    ``text`` as :func:`split_raw` gives them)."""
    if target != target.strip(" \t"):
        return True
    if text is None:
        return False
    before_pipe = raw[: len(raw) - len(text) - 1]
    if before_pipe.endswith("\\"):
        before_pipe = before_pipe[:-1]
    return before_pipe != before_pipe.rstrip(" \t") or text != text.lstrip(" \t")


_NEWLINES_RE = re.compile(r"\r\n?")
# NUL is the mask character, so a masked range can never be part of a link's raw text.
_LINK_RE = re.compile(r"\[\[([^\[\]\n\x00]+)\]\]")
_MASK = "\x00"
_ESCAPED_BRACKETS_RE = re.compile(r"\\(?:\[\[|\]\])")


def extract_links(body: str, first_line: int = 1) -> list[Link]:
    """Links in ``body`` (the document text after its front-matter; its first line is line
    ``first_line`` of the file), in order, excluding those in code or HTML comments.

    Lines end at ``\\n``, ``\\r\\n`` or ``\\r``, as in CommonMark.
    """
    if "[[" not in body:
        return []
    return links_outside(body, code_regions, first_line)


def links_outside(
    body: str, regions: Callable[[str], list[Span]], first_line: int = 1
) -> list[Link]:
    """Links in ``body`` outside the ranges ``regions`` finds in it (given the text with its
    newlines normalised): :func:`extract_links` with another judge of where code is."""
    text = _NEWLINES_RE.sub("\n", body) if "\r" in body else body
    return _links_outside(text, _masked(text, regions(text)), first_line)


def link_raws_of(bodies: Sequence[str]) -> list[list[str]]:
    """The ``raw`` of each link :func:`extract_links` finds in each body, in order, without
    building the links: all that checking a doc against the tree needs. Each step runs over
    every body before the next starts, which keeps its code warm in the CPU's caches (see
    :func:`mikado.tree.scan.read_docs`)."""
    texts = [
        (_NEWLINES_RE.sub("\n", body) if "\r" in body else body) if "[[" in body else ""
        for body in bodies
    ]
    spans = [code_regions(text) if text else [] for text in texts]
    masked = [_masked(text, found) for text, found in zip(texts, spans, strict=True)]
    return [
        [link.raw for link in _links_outside(text, hidden, 1)]
        if _ESCAPED_BRACKETS_RE.search(hidden)
        # No escapes: every match of the grammar in the masked text is a link.
        else _LINK_RE.findall(hidden)
        for text, hidden in zip(texts, masked, strict=True)
    ]


def _links_outside(source: str, masked: str, first_line: int) -> list[Link]:
    """Links in ``source`` that touch no masked range (``masked`` is ``source`` with them
    overwritten by NUL, which no link may hold)."""
    links: list[Link] = []
    line = first_line
    counted = 0
    for match in _LINK_RE.finditer(masked):
        start, end = match.span()
        raw = match.group(1)
        before = masked[start - 1] if start else ""
        embed = False
        if before == "\\" or before == "!" or raw[-1] == "\\":
            if _escaped(masked, start) or _escaped(masked, end - 2):
                continue  # `\\[[x]]`, or `[[x\\]]` whose first closing bracket is escaped
            embed = before == "!" and not _escaped(masked, start - 1)
        line += source.count("\n", counted, start)
        counted = start
        target, heading, text = split_raw(raw)
        links.append(Link(line, raw, target, heading, text, embed))
    return links


def _masked(source: str, spans: list[Span]) -> str:
    """``source`` with the masked ranges overwritten by NUL, which no link may contain.

    A match of the link grammar in the result touches no masked range, and every link of
    ``source`` that touches none is still there: no link can overlap another, as its raw
    text holds no bracket.
    """
    if not spans:
        return source
    pieces: list[str] = []
    done = 0
    for start, end in sorted(spans):
        if end <= done:
            continue
        if start < done:
            start = done
        pieces.append(source[done:start])
        pieces.append(_MASK * (end - start))
        done = end
    pieces.append(source[done:])
    return "".join(pieces)


def _escaped(text: str, pos: int) -> bool:
    """Whether ``text[pos]`` follows an odd number of backslashes."""
    run = 0
    while pos > run and text[pos - run - 1] == "\\":
        run += 1
    return run % 2 == 1
