"""The definition of :mod:`mikado.tree.code_regions`: code and comment ranges as markdown-it-py
(CommonMark) parses them. Slow, and used where the fast scanner is not sure."""

from __future__ import annotations

import functools
from bisect import bisect_right
from collections.abc import Callable
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_inline import backtick as _md_backtick
from markdown_it.rules_inline import html_inline as _md_html_inline
from markdown_it.rules_inline import image as _md_image
from markdown_it.rules_inline.state_inline import StateInline
from markdown_it.token import Token

from mikado.tree.code_fast import Span, comment_spans

_SPANS_KEY = "mikado_masked_inline"
_BASES_KEY = "mikado_inline_bases"
_RuleFn = Callable[[StateInline, bool], bool]


def _recording(rule: _RuleFn, wanted: Callable[[Token], bool]) -> _RuleFn:
    """``rule``, also noting in the env the content range of each token it makes that
    ``wanted`` accepts: markdown-it keeps no columns for inline tokens."""

    def recording_rule(state: StateInline, silent: bool) -> bool:
        start = state.pos
        made = len(state.tokens)
        matched = rule(state, silent)
        if matched and not silent and any(wanted(tok) for tok in state.tokens[made:]):
            base = state.env[_BASES_KEY][-1]
            state.env[_SPANS_KEY].append((base + start, base + state.pos))
        return matched

    return recording_rule


def _image_with_base(state: StateInline, silent: bool) -> bool:
    """The image rule, which parses its alt text as a separate source starting two characters
    after the `!`: offsets recorded inside it are relative to that."""
    if silent:
        return _md_image(state, silent)
    bases = state.env[_BASES_KEY]
    bases.append(bases[-1] + state.pos + 2)
    try:
        return _md_image(state, silent)
    finally:
        bases.pop()


@functools.cache
def _reference_parser() -> MarkdownIt:
    md = MarkdownIt("commonmark")
    # Inline content is parsed per token below, to know which block each range belongs to.
    md.core.ruler.disable("inline")
    md.inline.ruler.at("backticks", _recording(_md_backtick, lambda tok: tok.type == "code_inline"))
    md.inline.ruler.at(
        "html_inline",
        _recording(
            _md_html_inline,
            lambda tok: tok.type == "html_inline" and tok.content.startswith("<!--"),
        ),
    )
    md.inline.ruler.at("image", _image_with_base)
    return md


def markdown_code_regions(text: str) -> list[Span]:
    """Masked ranges of ``text`` (newlines normalised) according to markdown-it-py."""
    md = _reference_parser()
    env: dict[str, Any] = {}
    # A final line break changes nothing in CommonMark, and markdown-it-py 4.3 can index past
    # the end of a source without one (a comment block in a list in a quote on the last line).
    tokens = md.parse(text if text.endswith("\n") else text + "\n", env)
    # markdown-it reads NUL as U+FFFD; same length, so offsets are unchanged
    source = text.replace("\0", "\ufffd")
    lines = source.split("\n")
    line_starts = [0]
    for line in lines:
        line_starts.append(line_starts[-1] + len(line) + 1)
    spans: list[Span] = []
    for index, token in enumerate(tokens):
        if token.map is None:
            continue
        first, past = token.map
        if token.type in ("fence", "code_block"):
            spans.append((line_starts[first], line_starts[past] - 1))
        elif token.type == "html_block":
            comment_spans(source, line_starts[first], line_starts[past] - 1, spans)
        elif token.type == "inline" and token.content:
            inline_spans: list[Span] = []
            env[_SPANS_KEY] = inline_spans
            env[_BASES_KEY] = [0]
            md.inline.parse(token.content, md, env, [])
            if inline_spans:
                atx = tokens[index - 1].markup.startswith("#")
                to_source = _content_to_source(
                    source, lines, line_starts, first, token.content, atx
                )
                spans.extend((to_source(a), to_source(b - 1) + 1) for a, b in inline_spans)
    return spans


def _content_to_source(
    source: str, lines: list[str], line_starts: list[int], first: int, content: str, atx: bool
) -> Callable[[int], int]:
    """Map offsets in an inline token's content to offsets in the source.

    Each content line is its source line minus container markers and indentation (a tab may
    be partly replaced by spaces), and the block's content is trimmed at both ends.
    """
    content_starts: list[int] = []  # where each content line's own text starts, in content
    source_starts: list[int] = []  # ... and in the source
    at = 0
    for number, content_line in enumerate(content.split("\n")):
        own = content_line.lstrip(" \t")
        line = lines[first + number]
        if atx:
            hashes = line.index("#")
            while hashes < len(line) and line[hashes] == "#":
                hashes += 1
            column = line.find(own, hashes)
        else:
            # text after the content line on its source line is trimmed whitespace only
            column = line.rfind(own)
        if column < 0:
            raise RuntimeError(f"links: cannot place inline content {own!r} on line {line!r}")
        content_starts.append(at + len(content_line) - len(own))
        source_starts.append(line_starts[first + number] + column)
        at += len(content_line) + 1

    def to_source(offset: int) -> int:
        number = bisect_right(content_starts, offset) - 1
        mapped = source_starts[number] + offset - content_starts[number]
        if source[mapped] != content[offset]:
            raise RuntimeError(f"links: misplaced inline offset {offset} in {content!r}")
        return mapped

    return to_source
