"""Reading one doc: its front-matter, fields and, when a link rule needs them, its wiki-links.

What one doc yields here depends on that doc's bytes alone, never on the rest of the tree, so
it can be cached per file and computed in worker processes. Resolving links against the tree
happens later (:mod:`mikado.linkcheck`).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from mikado.card import Card, build_card
from mikado.findings import Finding, error
from mikado.frontmatter import Block, FrontMatterError, parse_block, read_block, split_bytes
from mikado.rules import RULES

_intern = sys.intern


@dataclass(frozen=True, slots=True)
class DocScan:
    """What reading one doc found.

    ``targets`` are the distinct targets of its well-formed links (and embeds), in first-seen
    order (interned when built from a row, as they are kept then); ``None`` when the body was
    not read. ``suspect`` says the body holds links
    that are wrong whatever the tree (spaced, or a path), so `check` must look at it again to
    place them.
    """

    card: Card
    findings: tuple[Finding, ...]
    targets: tuple[str, ...] | None = None
    suspect: bool = False


@dataclass(frozen=True, slots=True)
class ScanOptions:
    required: tuple[str, ...]
    links: bool


def scan_doc(root: Path, path: str, options: ScanOptions) -> DocScan:
    """Read one doc. Never raises for bad content or I/O: problems become findings."""
    if options.links:
        return _scan_with_links(root, path, options.required)
    stem = stem_of(path)
    try:
        with open(os.path.join(root, path), "rb") as stream:
            block = read_block(stream)  # stops at the closing `---`: the body is never read
    except FrontMatterError as exc:
        return DocScan(Card(stem, path), (error(exc.rule, path, exc.line, exc.message),))
    except OSError as exc:
        return _unreadable(stem, path, exc)
    card, findings = _front_matter(stem, path, block, options.required)
    return DocScan(card, tuple(findings))


def stem_of(path: str) -> str:
    """``how-to/x.md`` → ``x`` (cheaper than PurePosixPath(path).stem, which shows at 100k)."""
    name = path.rpartition("/")[2]
    dot = name.rfind(".")
    return name[:dot] if dot > 0 else name


def _unreadable(stem: str, path: str, exc: OSError) -> DocScan:
    return DocScan(
        Card(stem, path),
        (error("unreadable", path, None, f"cannot read: {exc.strerror or exc}"),),
    )


def _front_matter(
    stem: str, path: str, block: Block | None, required: tuple[str, ...]
) -> tuple[Card, list[Finding]]:
    if block is None:
        return Card(stem, path, has_front_matter=False), [
            error(
                "frontmatter-missing",
                path,
                None,
                "no front-matter: start the file with a `---` line, the fields, and `---`",
            )
        ]
    try:
        meta = parse_block(block)
    except FrontMatterError as exc:
        return Card(stem, path), [error(exc.rule, path, exc.line, exc.message)]
    return build_card(stem, path, meta, block, required=required)


def _scan_with_links(root: Path, path: str, required: tuple[str, ...]) -> DocScan:
    stem = stem_of(path)
    try:
        data = _read_file(os.path.join(root, path))
    except OSError as exc:
        return _unreadable(stem, path, exc)
    findings: list[Finding] = []
    try:
        block = split_bytes(data)
    except FrontMatterError as exc:
        card, block = Card(stem, path), None
        findings.append(error(exc.rule, path, exc.line, exc.message))
        if exc.rule == "unreadable":
            return DocScan(card, tuple(findings), ())
        # An unclosed block: still read the links of the whole file, so the docs it links to
        # do not turn into orphans because of this one mistake.
    else:
        card, found = _front_matter(stem, path, block, required)
        findings.extend(found)
    body, _, problem = decode_body(data, block)
    if problem is not None:
        findings.append(problem.at(path))
        return DocScan(card, tuple(findings), ())
    targets, suspect = link_targets(body)
    return DocScan(card, tuple(findings), targets, suspect)


_READ_SIZE = 1 << 16
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0)


def _read_file(path: str) -> bytes:
    """The bytes of a file: with a bare descriptor, which costs half as much as a buffered
    file object for a small file (that shows, 100,000 times)."""
    fd = os.open(path, _READ_FLAGS)
    try:
        chunks = []
        while chunk := os.read(fd, _READ_SIZE):
            chunks.append(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    finally:
        os.close(fd)


# The `target` of a finding about the body rather than the front-matter.
BODY = "body"


@dataclass(frozen=True, slots=True)
class _BadBytes:
    line: int
    byte: int

    def at(self, path: str) -> Finding:
        return error(
            "unreadable",
            path,
            self.line,
            f"not UTF-8 text (byte 0x{self.byte:02x}); save the file as UTF-8",
            BODY,
        )


def decode_body(data: bytes, block: Block | None) -> tuple[str, int, _BadBytes | None]:
    """The body's text and the file line it starts on (the whole file when there is no
    front-matter block)."""
    if block is not None:
        raw, first_line = data[block.body_offset :], block.body_line
    else:
        raw, first_line = data, 1
        if raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
    try:
        return raw.decode("utf-8"), first_line, None
    except UnicodeDecodeError as exc:
        line = first_line + raw.count(b"\n", 0, exc.start)
        return "", first_line, _BadBytes(line, raw[exc.start])


def link_targets(body: str) -> tuple[tuple[str, ...], bool]:
    """The distinct targets of the well-formed links of a body, and whether it also holds
    links that are wrong whatever the tree."""
    if "[[" not in body:
        return (), False
    from mikado.links import is_spaced, link_raws, split_raw

    seen: dict[str, None] = {}
    suspect = False
    for raw in link_raws(body):
        if "|" in raw or "#" in raw:
            target, _, text = split_raw(raw)
        else:
            target, text = raw, None
        # Most links are plainly well-formed; only look closer when blanks or a / could
        # make one spaced or a path (the rules of :func:`mikado.linkcheck.classify`).
        if "/" in target or ((" " in raw or "\t" in raw) and is_spaced(raw, target, text)):
            suspect = True
        elif target:
            seen[target] = None
    return tuple(seen), suspect


# -- rows: the plain-tuple form of a scan, for the cache (marshal) and worker results ---------

Row = tuple[Any, ...]
_SEVERITY = {rule: severity for rule, severity in RULES.items()}


def to_row(scan: DocScan) -> Row:
    card = scan.card
    return (
        card.title,
        card.status,
        card.requires,
        card.branch,
        card.action,
        card.modified.isoformat() if card.modified else None,
        card.tags,
        tuple(sorted(card.keys)),
        tuple(card.lines.items()),
        card.requires_lines,
        card.has_front_matter,
        tuple((f.rule, f.line, f.message, f.target) for f in scan.findings),
        scan.targets,
        scan.suspect,
    )


def without_links(row: Row) -> Row:
    """``row`` without its link targets, once they are resolved."""
    return (*row[:-2], None, False)


class RowReader:
    """Builds scans from rows, sharing the values most docs repeat (the same three keys on the
    same lines, the same tags, the same dates), which keeps 100,000 cards in little memory.
    Each shared value is looked up by its row form, so a value already seen is not built
    again."""

    def __init__(self) -> None:
        self._shared: dict[Any, Any] = {}
        self._dates: dict[str, date] = {}
        self._key_sets: dict[tuple[str, ...], frozenset[str]] = {}
        self._line_maps: dict[tuple[tuple[str, int], ...], dict[str, int]] = {}

    def _share(self, value: Any) -> Any:
        return self._shared.setdefault(value, value)

    def scan(self, path: str, row: Row) -> DocScan:
        (title, status, requires, branch, action, modified, tags, keys, lines, requires_lines,
         has_front_matter, findings, targets, suspect) = row  # fmt: skip
        share = self._share
        day = None
        if modified:
            day = self._dates.get(modified)
            if day is None:
                day = self._dates[modified] = date.fromisoformat(modified)
        key_set = self._key_sets.get(keys)
        if key_set is None:
            key_set = self._key_sets[keys] = frozenset(keys)
        line_map = self._line_maps.get(lines)
        if line_map is None:
            line_map = self._line_maps[lines] = dict(lines)
        card = Card(
            stem=stem_of(path),
            path=path,
            title=title,
            status=status,
            requires=tuple(map(_intern, requires)) if requires else (),
            branch=branch,
            action=action,
            modified=day,
            tags=share(tags),
            keys=key_set,
            lines=line_map,
            requires_lines=share(requires_lines),
            has_front_matter=has_front_matter,
        )
        return DocScan(
            card,
            tuple(
                Finding(rule, _SEVERITY[rule], path, line, message, target)
                for rule, line, message, target in findings
            )
            if findings
            else (),
            tuple(map(_intern, targets)) if targets else targets,
            suspect,
        )
