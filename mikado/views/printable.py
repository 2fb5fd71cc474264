"""Text from cards, file names and services made safe to print on a terminal: shown, never
obeyed. Kept apart from the views that use it so `check` can escape without importing the
chain model."""

from __future__ import annotations

import re

# What a terminal would act on rather than show: C0 and C1 controls and DEL (ESC opens colour,
# cursor and OSC sequences: hyperlinks, window titles, clipboard writes; CR and BS overwrite
# what was printed), the Unicode line and paragraph separators, and the bidirectional
# overrides and isolates that reorder the text around them ("Trojan Source"). Zero-width
# joiners and other format characters stay: emoji sequences need them. Lone surrogates too:
# a file name's undecodable bytes arrive as U+DC80..U+DCFF and would be written back as raw
# bytes, 0x9B being CSI to a terminal in 8-bit mode.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    if char in _SHORT:
        return _SHORT[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # the byte os.fsdecode could not decode, as that byte
        code -= 0xDC00
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every character a terminal would act on written as a visible escape
    (``\\x1b``, ``\\r``, ``\\u202e``; an undecodable byte of a file name as ``\\xff``), so
    what is printed is what the data says and nothing more, on one line."""
    return _UNPRINTABLE.sub(_escaped, text)
