"""Reading one doc: its front-matter, fields and, when a link rule needs them, its wiki-links.

What one doc yields here depends on that doc's bytes alone, never on the rest of the tree, so
it can be cached per file and computed in worker processes. Resolving links against the tree
happens later (:mod:`mikado.checks.links`).
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, cast

from mikado.model.card import Card, build_card
from mikado.model.findings import Finding, error
from mikado.model.rules import RULES
from mikado.tree.discover import StatKey, stat_key
from mikado.tree.frontmatter import (
    Block,
    FrontMatterError,
    Placed,
    parse_block_placed,
    split_bytes,
)

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
    return read_doc(root, path, options)[0]


def read_doc(root: Path, path: str, options: ScanOptions) -> tuple[DocScan, StatKey | None]:
    """:func:`scan_doc`, and the :data:`StatKey` of the file as it was opened (``None`` when
    it could not be). The key is taken before the bytes are read, so a change made during the
    read shows as a newer key next time rather than hiding behind this one."""
    return read_docs(root, [path], options)[0]


def _key_of(info: os.stat_result) -> StatKey:
    return stat_key(info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)


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


def _missing(path: str) -> Finding:
    return error(
        "frontmatter-missing",
        path,
        None,
        "no front-matter: start the file with a `---` line, the fields, and `---`",
    )


def _parse(path: str, block: Block | None) -> tuple[dict[str, Any], Placed | None] | Finding:
    """The fields of a block (none without one) and where they are when known, or the
    finding saying why they cannot be read."""
    if block is None:
        return {}, None
    try:
        return parse_block_placed(block)
    except FrontMatterError as exc:
        return error(exc.rule, path, exc.line, exc.message)


# How many bytes of docs read_docs holds at once: a chunk of ordinary docs is well under it,
# a chunk of huge ones is taken in several groups rather than all in memory.
GROUP_BYTES = 8 << 20


def read_docs(
    root: Path, paths: Sequence[str], options: ScanOptions
) -> list[tuple[DocScan, StatKey | None]]:
    """:func:`read_doc` of each of ``paths``, in order.

    The docs go through each step together -- every file read, then every front-matter,
    then (with links) every body -- rather than each doc through every step in turn: each
    step's code then stays warm in the CPU's caches, and a chunk of docs is read about a
    third faster. Without links the bodies are read along (a doc is a few KB; one read
    costs less than reading the front-matter line by line) but never decoded.
    """
    base = os.path.join(root, "")  # joined once: os.path.join per doc shows at 100k docs
    results: list[tuple[DocScan, StatKey | None]] = []
    start = 0
    while start < len(paths):
        files: list[tuple[bytes, StatKey] | OSError] = []
        held = 0
        for path in itertools.islice(paths, start, None):
            try:
                data, key = _read_file(base + path)
            except OSError as exc:
                files.append(exc)
                continue
            files.append((data, key))
            held += len(data)
            if held > GROUP_BYTES:
                break
        results.extend(_scan_files(paths[start : start + len(files)], files, options))
        start += len(files)
    return results


def _scan_files(
    paths: Sequence[str], files: Sequence[tuple[bytes, StatKey] | OSError], options: ScanOptions
) -> list[tuple[DocScan, StatKey | None]]:
    """The scans of docs already read (their bytes and key, or why they could not be), each
    step over all of them before the next (see :func:`read_docs`)."""
    stems = [stem_of(path) for path in paths]
    results: list[tuple[DocScan, StatKey | None] | None] = [None] * len(paths)
    # The docs still being read: their index, bytes, key and front-matter block (None when
    # there is none or it is not closed; `unclosed` holds the finding of the latter).
    reading: list[tuple[int, bytes, StatKey, Block | None]] = []
    unclosed: dict[int, Finding] = {}
    for index, read in enumerate(files):
        if isinstance(read, OSError):
            results[index] = _unreadable(stems[index], paths[index], read), None
        else:
            reading.append((index, *read, None))
    for at, (index, data, key, _) in enumerate(reading):
        try:
            reading[at] = (index, data, key, split_bytes(data))
        except FrontMatterError as exc:
            finding = error(exc.rule, paths[index], exc.line, exc.message)
            if exc.rule == "unreadable":
                card = Card(stems[index], paths[index])
                results[index] = DocScan(card, (finding,), () if options.links else None), key
            else:
                # An unclosed block: still read the links of the whole file, so the docs it
                # links to do not turn into orphans because of this one mistake.
                unclosed[index] = finding
    reading = [doc for doc in reading if results[doc[0]] is None]
    parsed = [
        _parse(paths[index], block) if index not in unclosed else unclosed[index]
        for index, _, _, block in reading
    ]
    front: list[tuple[Card, list[Finding]]] = []
    for (index, _, _, block), fields in zip(reading, parsed, strict=True):
        stem, path = stems[index], paths[index]
        if isinstance(fields, Finding):
            front.append((Card(stem, path), [fields]))
        elif block is None:
            front.append((Card(stem, path, has_front_matter=False), [_missing(path)]))
        else:
            meta, placed = fields
            front.append(
                build_card(stem, path, meta, block, required=options.required, placed=placed)
            )
    if not options.links:
        for (index, _, key, _), (card, findings) in zip(reading, front, strict=True):
            results[index] = DocScan(card, tuple(findings)), key
        return cast(list[tuple[DocScan, StatKey | None]], results)
    bodies: list[str] = []
    for (index, data, key, block), (card, findings) in zip(reading, front, strict=True):
        body, _, problem = decode_body(data, block)
        if problem is not None:
            findings.append(problem.at(paths[index]))
            results[index] = DocScan(card, tuple(findings), ()), key
        bodies.append(body)
    for (index, _, key, _), (card, findings), (targets, suspect) in zip(
        reading, front, link_targets_of(bodies), strict=True
    ):
        if results[index] is None:
            results[index] = DocScan(card, tuple(findings), targets, suspect), key
    return cast(list[tuple[DocScan, StatKey | None]], results)


_READ_SIZE = 1 << 16
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0)


def _read_file(path: str) -> tuple[bytes, StatKey]:
    """The bytes of a file and its key, with a bare descriptor, which costs half as much as a
    buffered file object for a small file (that shows, 100,000 times). Knowing the size, one
    read() that returns exactly that much is the whole file."""
    fd = os.open(path, _READ_FLAGS)
    try:
        info = os.fstat(fd)
        data = os.read(fd, info.st_size + 1)
        if len(data) != info.st_size:  # it changed since, or a short read: read to the end
            chunks = [data]
            while chunk := os.read(fd, _READ_SIZE):
                chunks.append(chunk)
            data = b"".join(chunks)
        return data, _key_of(info)
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
    return link_targets_of([body])[0]


def link_targets_of(bodies: Sequence[str]) -> list[tuple[tuple[str, ...], bool]]:
    """:func:`link_targets` of each body (step by step over all of them, see
    :func:`read_docs`)."""
    from mikado.tree.links import is_spaced, link_raws_of, split_raw

    found: list[tuple[tuple[str, ...], bool]] = []
    for raws in link_raws_of(bodies):
        seen: dict[str, None] = {}
        suspect = False
        for raw in raws:
            if "|" in raw or "#" in raw:
                target, _, text = split_raw(raw)
            else:
                target, text = raw, None
            # Most links are plainly well-formed; only look closer when blanks or a / could
            # make one spaced or a path (the rules of :func:`mikado.checks.links.classify`).
            if "/" in target or ((" " in raw or "\t" in raw) and is_spaced(raw, target, text)):
                suspect = True
            elif target:
                seen[target] = None
        found.append((tuple(seen), suspect))
    return found


# -- rows: the plain-tuple form of a scan, for the cache (marshal) and worker results ---------

Row = tuple[Any, ...]
# A row's positions, in the order :func:`to_row` writes them. Rows stay plain tuples (marshal
# stores them fast and small); these names are how code other than to_row/RowReader reads one.
(TITLE, STATUS, REQUIRES, BRANCH, ACTION, MODIFIED, TAGS, KEYS, LINES, REQUIRES_LINES,
 HAS_FRONT_MATTER, FINDINGS, TARGETS, SUSPECT) = range(14)  # fmt: skip
ROW_LENGTH = 14
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
    return (*row[:TARGETS], None, False)


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

    def scan(self, path: str, row: Row) -> DocScan:
        (title, status, requires, branch, action, modified, tags, keys, lines, requires_lines,
         has_front_matter, findings, targets, suspect) = row  # fmt: skip
        share: Callable[[Any, Any], Any] = self._shared.setdefault
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
        # Positional: a frozen dataclass sets each field through object.__setattr__, and
        # keywords cost more on top, 100,000 times.
        card = Card(
            stem_of(path),
            path,
            title,
            status,
            tuple(map(_intern, requires)) if requires else (),
            branch,
            action,
            day,
            share(tags, tags),
            key_set,
            line_map,
            share(requires_lines, requires_lines),
            has_front_matter,
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
