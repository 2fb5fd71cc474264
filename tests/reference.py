"""Reference implementations the fast code is held to: plain, slow and obviously right.

They are the definitions of differential tests (and of the link benchmark), not code mikado
runs.
"""

from __future__ import annotations

from typing import IO

from mikado.tree.code_markdown import markdown_code_regions
from mikado.tree.frontmatter import BOM, DELIMITER, Block, FrontMatterError
from mikado.tree.links import Link, links_outside

NEVER_CLOSED = "front-matter opened on line 1 is never closed (add a line `---` after it)"


def extract_links_reference(body: str, first_line: int = 1) -> list[Link]:
    """``extract_links`` with markdown-it-py alone deciding where code is."""
    return links_outside(body, markdown_code_regions, first_line)


def _strip_eol(line: bytes) -> bytes:
    if line.endswith(b"\r\n"):
        return line[:-2]
    if line.endswith(b"\n"):
        return line[:-1]
    return line


def read_block(stream: IO[bytes]) -> Block | None:
    """The front-matter block of a binary stream at the file's start, read line by line: the
    definition ``split_bytes`` (which searches a file held in memory) is tested against.
    ``None`` when there is no front-matter; FrontMatterError for a block never closed or not
    UTF-8."""
    first = stream.readline()
    bom = first.startswith(BOM)
    if bom:
        first = first[len(BOM) :]
    if _strip_eol(first) != DELIMITER:
        return None
    crlf = first.endswith(b"\r\n")
    offset = len(first) + (len(BOM) if bom else 0)
    lines: list[bytes] = []
    line_no = 1
    while True:
        raw = stream.readline()
        if not raw:
            raise FrontMatterError(NEVER_CLOSED, 1)
        line_no += 1
        offset += len(raw)
        if _strip_eol(raw) == DELIMITER:
            break
        lines.append(raw)
    data = b"".join(lines)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FrontMatterError(
            f"front-matter is not UTF-8 text (byte 0x{data[exc.start]:02x}); "
            "save the file as UTF-8",
            2 + data.count(b"\n", 0, exc.start),
            rule="unreadable",
        ) from None
    return Block(
        text=text, first_line=2, body_line=line_no + 1, body_offset=offset, bom=bom, crlf=crlf
    )
