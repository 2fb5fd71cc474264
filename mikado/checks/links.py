"""The link rules of `check` (docs/reference.md#check-rules): broken, ambiguous, path and spaced
links, orphans and docs missing from their category index.

Scanning a doc keeps only the distinct targets of its well-formed links (see
:mod:`mikado.tree.scan`); here they are resolved against the whole tree. Only a doc whose targets do
not all resolve, or which holds a link that is wrong whatever the tree, is read again to place
each bad link on its line: in a healthy tree that is no doc at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

from mikado.model.card import Card
from mikado.model.categories import Categories
from mikado.model.findings import Finding, Severity, error
from mikado.tree.frontmatter import FrontMatterError, split_bytes
from mikado.tree.scan import decode_body

LINK_RULES = frozenset(
    {"broken-link", "ambiguous-link", "path-link", "spaced-link", "orphan", "index-missing"}
)
_BLANKS = " \t"
_PLACED = ("broken-link", "ambiguous-link", "path-link", "spaced-link")


class LinkLike(Protocol):
    """What :func:`mikado.tree.links.extract_links` gives for one link."""

    @property
    def line(self) -> int: ...
    @property
    def raw(self) -> str: ...  # between `[[` and `]]`, as written
    @property
    def target(self) -> str: ...  # not stripped
    @property
    def embed(self) -> bool: ...
    @property
    def spaced(self) -> bool: ...


def extract(body: str, first_line: int) -> Sequence[LinkLike]:
    from mikado.tree.links import extract_links

    return extract_links(body, first_line)


def classify(link: LinkLike) -> str | None:
    """The rule a link breaks whatever the tree holds, or ``None``."""
    if link.spaced:
        return "spaced-link"
    if "/" in link.target:
        return "path-link"
    return None


def _shown(link: LinkLike) -> str:
    return f"{'!' if link.embed else ''}[[{link.raw}]]"


class LinkTree:
    """What links resolve against: the stems of the docs (unique, or shared by several docs),
    the names of the tree's other files, and the ``build_time`` names (docs the site build
    adds, `build_time_docs` in the configuration)."""

    def __init__(
        self, paths: Iterable[str], files: Iterable[str] = (), build_time: Iterable[str] = ()
    ):
        # Built before the workers fork, so every worker counts it too: a set of the unique
        # stems, and paths only for shared stems (a list per stem took 25 MB at 100k docs).
        first: dict[str, str] = {}
        shared: dict[str, list[str]] = {}
        for path in paths:
            stem = path.rpartition("/")[2].removesuffix(".md")
            other = first.setdefault(stem, path)
            if other != path:
                shared.setdefault(stem, [other]).append(path)
        # Each unique stem maps to itself: a worker keeps the linked stems as these strings,
        # shared with this process, rather than as copies cut from the bodies it reads.
        self.unique_stems = {stem: stem for stem in first if stem not in shared}
        self.shared_stems = shared
        # A name that is also a stem is decided by the stem.
        self.files = frozenset(name for name in (*files, *build_time) if name not in first)
        self._lowered: dict[str, list[str]] | None = None

    def unique(self, target: str) -> bool:
        return target in self.unique_stems

    def valid(self, target: str) -> bool:
        return target in self.unique_stems or target in self.files

    def _case_matches(self, target: str) -> list[str]:
        if self._lowered is None:
            self._lowered = {}
            for stem in (*self.unique_stems, *self.shared_stems):
                self._lowered.setdefault(stem.lower(), []).append(stem)
        return sorted(self._lowered.get(target.lower(), []))

    def finding(self, path: str, link: LinkLike) -> Finding | None:
        """The finding for one link of ``path``, or ``None`` when it is valid."""
        kind = classify(link)
        shown = _shown(link)
        target = link.target.strip(_BLANKS)
        if kind == "spaced-link":
            return error(
                kind,
                path,
                link.line,
                f"wiki-link {shown} has spaces around the target or the pipe; write {_tidy(link)}",
                target,
            )
        if kind == "path-link":
            stem = target.rstrip("/").rpartition("/")[2].removesuffix(".md")
            hint = f"write the stem alone, [[{stem}]]"
            if not self.unique(stem):
                hint += f" (though no single doc has the stem `{stem}` either)"
            return error(
                kind,
                path,
                link.line,
                f"wiki-link {shown} names a path; stems are unique, {hint}",
                target,
            )
        if not target or self.valid(target):
            return None
        paths = self.shared_stems.get(target)
        if paths:
            return error(
                "ambiguous-link",
                path,
                link.line,
                f"wiki-link {shown} is ambiguous: `{target}` is the stem of "
                f"{', '.join(sorted(paths))}; rename one of them",
                target,
            )
        return error("broken-link", path, link.line, self._broken(shown, target), target)

    def _broken(self, shown: str, target: str) -> str:
        message = f"wiki-link {shown} matches no doc"
        if target.lower().endswith(".md"):
            base = target[:-3]
            if self.unique(base):
                return f"{message}: links name the stem without `.md`, write [[{base}]]"
            close = self._case_matches(base)
            if close:
                return f"{message}: drop the `.md` and mind the case, write [[{close[0]}]]"
            return f"{message} (and links name the stem without `.md`)"
        close = self._case_matches(target)
        if close:
            return f"{message}: stems match case-sensitively, did you mean [[{close[0]}]]?"
        suffix = target.rpartition(".")[2] if "." in target else ""
        if suffix and suffix.isalnum() and not suffix.isdigit():
            return f"{message} and no file in the docs tree is called `{target}`"
        return (
            f"{message}; fix the target or create `{target}.md` (a doc the site build adds "
            "goes in `build_time_docs`)"
        )


def _tidy(link: LinkLike) -> str:
    """The link as it should have been written."""
    head, pipe, text = link.raw.partition("|")
    separator = "\\|" if head.endswith("\\") else "|"
    head = head.removesuffix("\\").strip(_BLANKS)
    inner = head + separator + text.lstrip(_BLANKS) if pipe else head
    return f"{'!' if link.embed else ''}[[{inner}]]"


def place_links(root: Path, path: str, tree: LinkTree) -> list[Finding]:
    """Read one doc again and report each of its bad links on its line."""
    try:
        with open(root / path, "rb") as stream:
            data = stream.read()
    except OSError:
        return []  # the scan already reported it unreadable
    try:
        block = split_bytes(data)
    except FrontMatterError:
        block = None
    body, first_line, problem = decode_body(data, block)
    if problem is not None:
        return []
    found = (tree.finding(path, link) for link in extract(body, first_line))
    return [finding for finding in found if finding is not None]


@dataclass(slots=True)
class LinkTally:
    """What the link rules learn doc by doc: the findings placing bad links, the unique stems
    linked from another doc, and the unique stems each category index links to. Workers
    each fill one for the docs they read; :meth:`encode` and :meth:`merge` carry it over."""

    findings: list[Finding] = field(default_factory=list)
    linked: set[str] = field(default_factory=set)
    index_links: dict[str, frozenset[str]] = field(default_factory=dict)

    def encode(self) -> tuple[Any, ...]:
        """Plain data for marshal."""
        findings = tuple(
            (f.rule, f.severity.value, f.path, f.line, f.message, f.target) for f in self.findings
        )
        return findings, tuple(self.linked), self.index_links

    def merge(self, encoded: Any) -> None:
        findings, linked, index_links = encoded
        self.findings.extend(
            Finding(rule, Severity(severity), path, line, message, target)
            for rule, severity, path, line, message, target in findings
        )
        self.linked.update(linked)
        self.index_links.update(index_links)


class LinkCheck:
    """The enabled link rules over one tree: :meth:`doc` resolves the links of each doc
    (in whichever process read it), :meth:`findings` adds what needs every doc."""

    def __init__(
        self,
        root: Path,
        tree: LinkTree,
        categories: Categories,
        *,
        enabled: frozenset[str],
        orphan_exempt: Iterable[str] = (),
    ):
        self.root = root
        self.tree = tree
        self.categories = categories
        self.enabled = enabled
        self.orphan_exempt = frozenset(orphan_exempt)
        self._place = any(rule in enabled for rule in _PLACED)
        # What a target may name (see LinkTree.valid), as sets: a doc's targets are tested and
        # collected with set operations rather than one lookup each (1.3 million at 100k).
        self._unique = tree.unique_stems
        self._files = tree.files
        self.tally = LinkTally()  # this process's: workers fill their own and send them

    def doc(
        self, tally: LinkTally, path: str, stem: str, targets: Sequence[str], suspect: bool
    ) -> None:
        """Resolve the links of one doc (its distinct targets, see :class:`DocScan`) into
        ``tally``; a doc with a bad link is read again to place it on its line."""
        found = set(map(self._unique.get, targets))
        found.discard(None)
        linked = cast(set[str], found)
        # The targets are distinct: when each is a unique stem, each is valid; the others must
        # name files (see LinkTree.valid).
        bad = suspect or (
            len(linked) < len(targets)
            and not self._files.issuperset(t for t in targets if t not in linked)
        )
        if bad and self._place:
            tally.findings.extend(
                f for f in place_links(self.root, path, self.tree) if f.rule in self.enabled
            )
        if path in self.categories.index_paths:
            tally.index_links[path] = frozenset(linked)
        linked.discard(stem)  # a doc linking itself is still an orphan
        tally.linked |= linked

    def findings(self, cards: Sequence[Card]) -> list[Finding]:
        """The findings of :attr:`tally`, once every doc of ``cards`` (one per path) went into
        it, and those needing every doc: orphans, docs missing from their category index."""
        tally = self.tally
        findings = list(tally.findings)
        index_paths = self.categories.index_paths
        if "orphan" in self.enabled:
            linked, exempt = tally.linked, self.orphan_exempt
            for card in cards:
                if card.stem in linked or card.stem in exempt or card.path in index_paths:
                    continue
                findings.append(
                    error(
                        "orphan",
                        card.path,
                        None,
                        f"no other doc links to `{card.stem}`; link it as [[{card.stem}]] from "
                        "a related doc or its category index (or list it in `orphan_exempt`)",
                        card.stem,
                    )
                )

        if "index-missing" in self.enabled and self.categories.enforced:
            index_links = tally.index_links
            for card in cards:
                index = self.categories.index_of(card.path)
                if index is None or card.stem in index_links.get(index, ()):
                    continue
                findings.append(
                    error(
                        "index-missing",
                        card.path,
                        None,
                        f"not listed in its category index {index}; add [[{card.stem}]] there",
                        card.stem,
                    )
                )
        return findings
