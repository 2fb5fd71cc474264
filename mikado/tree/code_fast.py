"""The fast path of :mod:`mikado.tree.code_regions`: a line scanner for the shapes most docs
have (top-level paragraphs, headings, fences, indented code, comment blocks, plain list items,
inline code and comments on one line). Anything else makes it answer ``None``, and
markdown-it-py decides instead."""

from __future__ import annotations

import re

from markdown_it.common.html_re import HTML_TAG_RE as _MD_HTML_TAG_RE
from markdown_it.rules_block.html_block import HTML_SEQUENCES
from markdown_it.rules_inline.autolink import AUTOLINK_RE, EMAIL_RE

Span = tuple[int, int]


def comment_spans(text: str, start: int, end: int, spans: list[Span]) -> None:
    """HTML comments inside the HTML block ``text[start:end]`` (CommonMark 0.31 comments);
    one left open runs to the end of the block."""
    at = text.find("<!--", start, end)
    while at != -1:
        if text.startswith("<!-->", at, end):
            close = at + 5
        elif text.startswith("<!--->", at, end):
            close = at + 6
        else:
            found = text.find("-->", at + 4, end)
            close = end if found == -1 else found + 3
        spans.append((at, close))
        at = text.find("<!--", close, end)


_FENCE_RE = re.compile(r"(`{3,}|~{3,})(.*)")
_ATX_RE = re.compile(r"#{1,6}(?:[ \t]|$)")
_HR_RE = re.compile(r"(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})$")
_SETEXT_RE = re.compile(r"(?:=+|-+)[ \t]*$")
_LIST_MARKER_RE = re.compile(r"(?:[-+*]|[0-9]{1,9}[.)])(?=[ \t]|$)")
# What can make or hide code in a line of inline content: a backtick, an escape, `<`, and `](`
# (a link destination or title is not inline content).
_INLINE_HOT_RE = re.compile(r"[\\`<\]]")
_ESCAPABLE = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
# `](` followed by a destination markdown-it ends at the `)`: no space (so no title, no line
# break), no parentheses, no `<`, no backslash and no backtick inside.
_SAFE_DEST_RE = re.compile(r"\]\([^\s()<>`\\]*\)")
# markdown-it's own tag grammar; older releases anchor it with `^`, which `.match(s, pos)` breaks
_HTML_TAG_RE = re.compile(_MD_HTML_TAG_RE.pattern.removeprefix("^"))
# Anything that may start a link reference definition: container markers, then a label.
_REFERENCE_DEFINITION_RE = re.compile(
    r"^[ \t>*+\-0-9.)]*\[(?:[^\]\\]|\\.)*\]:", re.MULTILINE | re.DOTALL
)
_BLOCK_START_CHARS = frozenset("`~#<>-*_+=0123456789")
# What may end a reference definition's label or a link's text. Searched with `re` rather
# than `in` or `str.count`: for a two-character needle its literal search is about twice as
# fast, which shows when every doc is searched whole.
_CLOSERS_RE = re.compile(r"\][:(]")

# a character that, after `- `, may start something other than a paragraph in the item
_NOT_PLAIN_AFTER_BULLET = frozenset(_BLOCK_START_CHARS | {"", " ", "\t"})

_TEXT, _FENCE, _HEADING, _COMMENT, _HR, _SETEXT, _LIST, _UNSURE = range(8)


def _classify(rest: str, paragraph_open: bool) -> int:
    """What block a line starts, given ``rest``: the line after an indentation of < 4."""
    first = rest[0]
    if first not in _BLOCK_START_CHARS:
        return _TEXT
    if first in "`~":
        fence = _FENCE_RE.match(rest)
        if fence and not (first == "`" and "`" in fence.group(2)):
            return _FENCE
        return _TEXT
    if first == "#":
        return _HEADING if _ATX_RE.match(rest) else _TEXT
    if first == "<":
        if rest.startswith("<!--"):
            return _COMMENT
        if any(start.search(rest) for start, _, _ in HTML_SEQUENCES):
            return _UNSURE  # another kind of HTML block
        return _TEXT
    if first == ">":
        return _UNSURE
    # `---` under a paragraph underlines a heading rather than being a thematic break; both
    # close the paragraph and hold nothing, so it need not be told apart
    if first in "-*_" and _HR_RE.match(rest):
        return _HR
    if paragraph_open and first in "=-" and _SETEXT_RE.match(rest):
        return _SETEXT
    if _LIST_MARKER_RE.match(rest):
        return _LIST
    return _TEXT


def _plain_list_item(rest: str) -> bool:
    """A list item whose content starts as a paragraph on the marker's line."""
    marker = _LIST_MARKER_RE.match(rest)
    if marker is None:
        return False
    after = rest[marker.end() :]
    content = after.lstrip(" ")
    gap = len(after) - len(content)
    # no content (an empty item), a tab, or 5+ spaces (indented code in the item): unsure
    if not content or content[0] == "\t" or gap > 4:
        return False
    return _classify(content, False) == _TEXT


def _heading_content(line: str, indent: int) -> tuple[int, int]:
    """Where markdown-it's ATX heading rule takes the heading's inline content from."""
    pos = indent
    while pos < len(line) and line[pos] == "#":
        pos += 1
    end = len(line)
    while end > pos and line[end - 1] in " \t":
        end -= 1
    hashes = end
    while hashes > pos and line[hashes - 1] == "#":
        hashes -= 1
    if hashes < end and hashes > pos and line[hashes - 1] in " \t":
        end = hashes
    return pos, end


def _scan_inline(text: str, pos: int, end: int, spans: list[Span]) -> bool:
    """Code spans and comments in one line of inline content; False when unsure."""
    if text.find("<", pos, end) != -1 or text.find("\\", pos, end) != -1:
        return _scan_inline_in_order(text, pos, end, spans)
    # Only backticks and `](`: the destinations must hold no code, and then the code spans
    # can be found with plain string searches, which are much faster than a regex here.
    dest = text.find("](", pos, end)
    while dest != -1:
        safe = _SAFE_DEST_RE.match(text, dest, end)
        if safe is None:
            return _scan_inline_in_order(text, pos, end, spans)
        dest = text.find("](", safe.end(), end)
    while (at := text.find("`", pos, end)) != -1:
        pos = _code_span(text, at, end, spans)
        if pos < 0:
            return False  # the closer may be on a later line of the paragraph
    return True


def _code_span(text: str, at: int, end: int, spans: list[Span]) -> int:
    """Mask the code span opened by the backtick run at ``at``; where to go on, or -1 when
    the span does not close before ``end``."""
    run_end = at + 1
    while run_end < end and text[run_end] == "`":
        run_end += 1
    close = _code_span_end(text, run_end, run_end - at, end)
    if close >= 0:
        spans.append((at, close))
    return close


def _scan_inline_in_order(text: str, pos: int, end: int, spans: list[Span]) -> bool:
    """``_scan_inline`` for a line with escapes or `<`, whose order matters."""
    search = _INLINE_HOT_RE.search
    while (hot := search(text, pos, end)) is not None:
        at = hot.start()
        char = text[at]
        if char == "`":
            pos = _code_span(text, at, end, spans)
            if pos < 0:
                return False  # the closer may be on a later line of the paragraph
        elif char == "\\":
            pos = at + 2 if at + 1 < end and text[at + 1] in _ESCAPABLE else at + 1
        elif char == "]":
            if not text.startswith("(", at + 1):
                pos = at + 1
                continue
            dest = _SAFE_DEST_RE.match(text, at, end)
            if dest is None:
                return False  # a destination or title that may hold code or go on
            pos = dest.end()
        else:
            pos = _scan_angle(text, at, end, spans)
            if pos < 0:
                return False
    return True


def _code_span_end(text: str, pos: int, length: int, end: int) -> int:
    """End of the first backtick run of exactly ``length`` in ``text[pos:end]``, or -1."""
    while (at := text.find("`", pos, end)) != -1:
        pos = at + 1
        while pos < end and text[pos] == "`":
            pos += 1
        if pos - at == length:
            return pos
    return -1


def _scan_angle(text: str, start: int, end: int, spans: list[Span]) -> int:
    """Past a `<` as markdown-it reads it (autolink, then inline HTML); -1 when unsure."""
    close = text.find(">", start + 1, end)
    other = text.find("<", start + 1, end)
    if close != -1 and (other == -1 or close < other):
        url = text[start + 1 : close]
        if AUTOLINK_RE.search(url) is not None or EMAIL_RE.search(url) is not None:
            # Whether markdown-it accepts the URL or reads it as text does not matter as long
            # as nothing in it could open code.
            return -1 if "`" in url else start + 1
    following = text[start + 1 : start + 2]
    if following in ("!", "?", "/") or ("a" <= following.lower() <= "z" and following.isascii()):
        tag = _HTML_TAG_RE.match(text, start, end)
        if tag is None:
            return -1  # a tag or comment may go on over the next lines
        if tag.group().startswith("<!--"):
            spans.append((start, tag.end()))
        return tag.end()
    return start + 1


def fast_code_regions(text: str) -> list[Span] | None:
    """Masked ranges of ``text`` as markdown-it would find them, or None when unsure.

    A fenced block is masked as one range, newlines included (no link holds a newline).
    """
    closers = _CLOSERS_RE.findall(text)  # each `]:` and `](`, in one pass
    if "]:" in closers and _REFERENCE_DEFINITION_RE.search(text):
        return None  # a definition's title may hold backticks; references make more links
    if closers.count("](") >= 20:
        return None  # links might nest deeper than markdown-it's maxNesting
    # Lines after the last one holding a `[[` hold no link, so their code does not matter.
    last_line_end = text.find("\n", text.rfind("[["))
    spans: list[Span] = []
    paragraph_open = False
    in_list = False
    fence_char = ""
    fence_length = 0
    fence_from = -1
    comment_from = -1
    end = -1
    for line in (text if last_line_end == -1 else text[:last_line_end]).split("\n"):
        start = end + 1
        end = start + len(line)
        if fence_length:
            if fence_char in line:
                rest = line.lstrip(" ")
                if len(line) - len(rest) < 4 and rest.startswith(fence_char):
                    run = len(rest) - len(rest.lstrip(fence_char))
                    if run >= fence_length and not rest[run:].strip(" \t"):
                        fence_length = 0
                        spans.append((fence_from, end))
            continue
        if comment_from >= 0:
            if "-->" in line:
                comment_spans(text, comment_from, end, spans)
                comment_from = -1
            continue
        first = line[:1]
        if first not in _BLOCK_START_CHARS and first != " ":
            if not first:
                paragraph_open = False
                continue
            if first == "\t":
                return None
            # paragraph text at indent 0, by far the most common line
            if in_list and not paragraph_open:
                in_list = False  # outside every item, and no paragraph to continue lazily
            paragraph_open = True
            if (
                "`" in line or "<" in line or "\\" in line or ("(" in line and "](" in line)
            ) and not _scan_inline(text, start, end, spans):
                return None
            continue
        # The commonest block lines at indent 0, decided as the general path below would.
        if first == "#" and _ATX_RE.match(line):
            paragraph_open = in_list = False
            if "`" in line or "<" in line or "\\" in line or ("(" in line and "](" in line):
                content_start, content_end = _heading_content(line, 0)
                if not _scan_inline(text, start + content_start, start + content_end, spans):
                    return None
            continue
        if first == "-" and line[1:2] == " " and line[2:3] not in _NOT_PLAIN_AFTER_BULLET:
            in_list = paragraph_open = True  # `- word`: neither a break nor an underline
            if (
                "`" in line or "<" in line or "\\" in line or ("(" in line and "](" in line)
            ) and not _scan_inline(text, start, end, spans):
                return None
            continue
        rest = line.lstrip(" ")
        if not rest:
            paragraph_open = False
            continue
        if rest[0] == "\t":
            return None
        indent = len(line) - len(rest)
        if indent >= 4:
            if not paragraph_open:
                if in_list:
                    return None  # indented code in an item, a nested item, or top level?
                spans.append((start, end))  # indented code
                continue
            if in_list:
                kind = _classify(rest, True)
                if kind == _LIST:
                    if indent >= 12 or not _plain_list_item(rest):
                        return None  # a nested item that may hold code, or nests too deep
                elif kind != _TEXT:
                    return None
            # else a paragraph continuation line: nothing starts a block at this indent
            if _may_hold_code(line) and not _scan_inline(text, start, end, spans):
                return None
            continue
        kind = _classify(rest, paragraph_open) if rest[0] in _BLOCK_START_CHARS else _TEXT
        if in_list:
            if kind == _TEXT:
                if indent <= 1 and not paragraph_open:
                    in_list = False  # outside every item, and no paragraph to continue lazily
            elif kind == _COMMENT and indent > 1 and "-->" in rest:
                # A one-line HTML block, whichever item (if any) it belongs to: at an
                # indent < 4 it cannot be indented code nor, as a comment interrupts a
                # paragraph, a paragraph's continuation. Later lines see no paragraph, and
                # stay unsure about the list.
                pass
            elif kind in (_FENCE, _COMMENT, _HR):
                if indent > 1:
                    return None  # may belong to an item, which may end it early
                in_list = False  # interrupts any paragraph, so no lazy continuation
            elif kind == _HEADING:
                if indent <= 1:
                    in_list = False
            elif kind != _LIST:
                return None
        if kind == _TEXT:
            paragraph_open = True
            if _may_hold_code(line) and not _scan_inline(text, start, end, spans):
                return None
        elif kind == _LIST:
            # `- word` is by far the most common item; skip the general check for it
            plain_item = rest[1:2] == " " and rest[2:3] not in _NOT_PLAIN_AFTER_BULLET
            if indent >= 12 or not (plain_item or _plain_list_item(rest)):
                return None
            in_list = True
            paragraph_open = True
            if _may_hold_code(line) and not _scan_inline(text, start, end, spans):
                return None
        elif kind == _HEADING:
            paragraph_open = False
            if _may_hold_code(line):
                content_start, content_end = _heading_content(line, indent)
                if not _scan_inline(text, start + content_start, start + content_end, spans):
                    return None
        elif kind == _FENCE:
            paragraph_open = False
            fence_char = rest[0]
            fence_length = len(rest) - len(rest.lstrip(fence_char))
            fence_from = start
        elif kind == _COMMENT:
            paragraph_open = False
            if "-->" in rest:
                comment_spans(text, start, end, spans)
            else:
                comment_from = start
        elif kind in (_HR, _SETEXT):
            paragraph_open = False
        else:
            return None
    if fence_length:
        spans.append((fence_from, len(text)))
    if comment_from >= 0:
        comment_spans(text, comment_from, len(text), spans)
    return spans


def _may_hold_code(line: str) -> bool:
    """Whether a line of inline content holds anything that can make or hide code."""
    return "`" in line or "<" in line or "\\" in line or ("(" in line and "](" in line)
