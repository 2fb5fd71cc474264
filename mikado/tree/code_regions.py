"""Where a Markdown body holds code or HTML comments, the ranges that are not prose for the
link grammar (docs/reference.md#link-grammar).

markdown-it-py (CommonMark preset, HTML enabled) is the definition: fenced and indented code
blocks, inline code spans, HTML comments in HTML blocks and inline
(:mod:`mikado.tree.code_markdown`). Parsing every doc with it costs milliseconds, so a line
scanner that understands only the common shapes goes first (:mod:`mikado.tree.code_fast`) and
answers ``None`` wherever it cannot be sure; then markdown-it decides. A differential test
holds the two to the same answers.
"""

from __future__ import annotations

from mikado.tree.code_fast import Span, fast_code_regions

__all__ = ["Span", "code_regions"]


def code_regions(text: str) -> list[Span]:
    """The code and comment ranges of ``text`` (newlines normalised to LF)."""
    spans = fast_code_regions(text)
    if spans is None:
        from mikado.tree.code_markdown import markdown_code_regions

        return markdown_code_regions(text)
    return spans
