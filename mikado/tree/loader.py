"""Reading a docs tree into cards and the findings the reading itself reveals.

Per doc (:mod:`mikado.tree.scan`, cached and spread over the cores): front-matter split, YAML, field
types, and the wiki-links when `check` needs them. Across the tree: duplicate stems,
``requires`` integrity, cycles, and the few structural warnings that need every card at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from mikado.checks.links import LinkCheck
from mikado.config import Config
from mikado.errors import DocsError, UsageError
from mikado.model.card import Card
from mikado.model.findings import Finding, Severity, error, warning
from mikado.model.graph import MAX_CYCLES, Graph
from mikado.model.rules import GRAPH_FIELDS, GRAPH_RULES
from mikado.tree.cache import ScanCache
from mikado.tree.discover import StatKey, Walk, walk
from mikado.tree.scan import (
    BODY,
    SUSPECT,
    TARGETS,
    DocScan,
    RowReader,
    ScanOptions,
    stem_of,
    to_row,
)
from mikado.tree.workers import paused_gc, scan_batches

# Told how many docs are read of how many (see mikado.cli.output.StatusLine).
ReadProgress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Docs:
    """Every doc of a tree. ``cards`` holds one card per stem (the first path when a stem is
    duplicated); ``findings`` what reading them found, sorted. ``scans`` has one entry per
    path (with the link targets when read with ``links=True``)."""

    root: Path
    cards: Mapping[str, Card]
    paths: tuple[str, ...]
    findings: tuple[Finding, ...]
    graph: Graph
    scans: tuple[DocScan, ...] = ()

    def card(self, stem: str) -> Card | None:
        return self.cards.get(stem)

    def require(self, stem: str) -> Card:
        """The card ``stem``, or a usage error naming the closest stem there is."""
        card = self.cards.get(stem)
        if card is None:
            import difflib

            close = difflib.get_close_matches(stem, list(self.cards), n=1)
            hint = f"; did you mean `{close[0]}`?" if close else ""
            raise UsageError(f"no card `{stem}` under {self.root}{hint}")
        return card

    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]


def open_cache(config: Config) -> ScanCache:
    return ScanCache.open(config.runtime, config.docs, config.required)


def read_tree(
    config: Config,
    *,
    links: bool = False,
    store: ScanCache | None = None,
    tree: Walk | None = None,
    link_check: LinkCheck | None = None,
    progress: ReadProgress | None = None,
) -> tuple[list[str], list[DocScan]]:
    """Scan every doc of the tree: the paths, and one scan per path. Unchanged docs come
    from the cache in ``config.runtime``;
    ``store`` and ``tree`` pass in a cache already opened and a walk already made with it.
    ``link_check`` (which implies ``links``) gets the links of every doc, resolved where the
    doc was read, into its tally; the scans of docs read anew then hold no link targets.
    ``progress`` is told how many docs are read of how many, as batches come in."""
    root = config.docs
    links = links or link_check is not None
    if store is None:
        store = open_cache(config)
    if tree is None:
        tree = walk(root, config.excluded(), stat=store.warm)
    reader = RowReader()
    scans: dict[str, DocScan] = {}
    with paused_gc():
        for path, row in store.matching(tree.stats, links=links):
            if link_check is not None:
                targets = row[TARGETS] or ()
                link_check.doc(link_check.tally, path, stem_of(path), targets, row[SUSPECT])
            scans[path] = reader.scan(path, row)
        misses = [path for path in tree.paths if path not in scans]
        total = len(tree.paths)
        if progress is not None:
            progress(len(scans), total)
        # Only a tree that changed writes a cache. The workers marshal the entries of the
        # docs they read, which go to the new cache unchanged.
        rewrite = bool(misses) or store.unmatched > 0
        with store.writer(rewrite) as out:
            if rewrite:
                for path, scan in scans.items():
                    out.add(path, tree.stats[path], to_row(scan))
            if misses:
                stats, trusted, cached = tree.stats, store.trusted, out.file is not None
                # A tree walked without stat (there was no cache to match) learns each doc's
                # key from the worker that read it: one fstat there, not a stat here first.
                walked_keys = len(stats) > 0

                def cache_key(path: str, read_key: StatKey | None) -> StatKey | None:
                    key = stats.get(path) if walked_keys else read_key
                    return key if cached and key is not None and trusted(key) else None

                options = ScanOptions(config.required, links=links)
                # Rows come in the order of `misses`, whose strings the scans then share.
                done = 0
                batches = scan_batches(root, misses, options, cache_key, link_check, out.file)
                for batch in batches:
                    rows = batch.scanned()
                    chunk = misses[done : done + len(rows)]
                    for path, row in zip(chunk, rows, strict=True):
                        scans[path] = reader.scan(path, row)
                    if not walked_keys:
                        for path, key in zip(chunk, batch.read_keys(), strict=True):
                            if key is not None:
                                stats[path] = key
                    done += len(rows)
                    if batch.broken:
                        out.failed = True
                    elif batch.cached is not None:
                        out.add_record(batch.cached)
                    if link_check is not None:
                        batch.links_into(link_check.tally)
                    if progress is not None:
                        progress(len(scans), total)
    return tree.paths, [scans[path] for path in tree.paths]


def assemble(config: Config, paths: list[str], scans: list[DocScan]) -> Docs:
    """The tree from its scans, with the findings that need every card at once."""
    cards: dict[str, Card] = {}
    findings: list[Finding] = []
    shared: dict[str, list[str]] = {}  # the paths of each stem more than one doc has
    for scan in scans:
        card = scan.card
        if scan.findings:
            findings.extend(scan.findings)
        first = cards.setdefault(card.stem, card)
        if first is not card:
            shared.setdefault(card.stem, [first.path]).append(card.path)

    findings.extend(_duplicates(shared))
    findings.extend(_misplaced((scan.card for scan in scans), config.cards_in))
    requires = {stem: card.requires for stem, card in cards.items()}
    graph = Graph(requires)
    findings.extend(_requires_integrity(cards))
    findings.extend(_cycles(graph, cards))
    findings.extend(_structure(cards))

    findings = [f for f in findings if config.reports(f.rule, f.path)]
    findings.sort(key=lambda f: f.sort_key)
    return Docs(config.docs, cards, tuple(paths), tuple(findings), graph, tuple(scans))


def load_docs(
    config: Config,
    *,
    strict_graph: bool = False,
    links: bool = False,
    progress: ReadProgress | None = None,
) -> Docs:
    """Read the tree. With ``strict_graph``, raise :class:`DocsError` when the graph cannot be
    trusted (see :data:`mikado.model.rules.GRAPH_RULES`), as `status`, `next` and `run` need. With
    ``links``, also read each doc's wiki-links (into :attr:`Docs.scans`), as `check` needs.
    ``progress`` is told how many docs are read of how many."""
    docs = assemble(config, *read_tree(config, links=links, progress=progress))
    if strict_graph:
        fatal = [f for f in docs.errors() if breaks_graph(f)]
        if fatal:
            count = len(fatal)
            raise DocsError(
                f"{count} problem{'s' if count > 1 else ''} in the docs under {docs.root} "
                "(run `mikado check` for every finding)",
                tuple(fatal),
            )
    return docs


def breaks_graph(finding: Finding) -> bool:
    if finding.rule == "unreadable" and finding.target == BODY:
        # Only `check` reads bodies: were this fatal, `status` would fail after a `check`
        # (whose scan it then reads from the cache) and pass before one.
        return False
    if finding.rule == "field-type":
        return finding.target in GRAPH_FIELDS
    return finding.rule in GRAPH_RULES


def _duplicates(shared: Mapping[str, list[str]]) -> Iterable[Finding]:
    for stem, paths in shared.items():
        for path in paths:
            others = ", ".join(p for p in paths if p != path)
            yield error(
                "duplicate-stem",
                path,
                None,
                f"stem `{stem}` is also used by {others}; stems must be unique, rename one",
                stem,
            )


def _misplaced(cards: Iterable[Card], cards_in: tuple[str, ...]) -> Iterable[Finding]:
    if not cards_in:
        return
    folders = tuple(folder + "/" for folder in cards_in)
    for card in cards:
        if card.path.startswith(folders):
            continue
        for key in ("status", "requires"):
            if key in card.keys:
                yield error(
                    "field-misplaced",
                    card.path,
                    card.line_of(key),
                    f"`{key}` is only allowed on cards in {', '.join(cards_in)}; "
                    "move the card there or remove the field",
                    key,
                )


def _requires_integrity(cards: Mapping[str, Card]) -> Iterable[Finding]:
    lowered: dict[str, str] | None = None  # made when first needed: most trees need none
    for card in cards.values():
        if not card.requires:
            continue
        for entry, line in zip(card.requires, card.requires_lines, strict=False):
            if entry == card.stem:
                yield error(
                    "requires-self",
                    card.path,
                    line,
                    f"`{entry}` requires itself; remove it from `requires`",
                    entry,
                )
            elif entry not in cards:
                if lowered is None:
                    lowered = {}
                    for stem in cards:
                        lowered.setdefault(stem.lower(), stem)
                yield error(
                    "requires-missing", card.path, line, _missing_message(entry, lowered), entry
                )


def _missing_message(entry: str, lowered: Mapping[str, str]) -> str:
    message = f"`requires` names `{entry}`, but no doc has that stem"
    guess = entry.removesuffix(".md").rsplit("/", 1)[-1]
    meant = lowered.get(guess.lower())
    if "/" in entry or entry.endswith(".md"):
        message += "; write the file stem alone, without folders or `.md`"
    if meant is not None:
        message += f" (did you mean `{meant}`?)"
    return message


def _cycles(graph: Graph, cards: Mapping[str, Card]) -> Iterable[Finding]:
    cycles = graph.cycles()
    for cycle in cycles[:MAX_CYCLES]:
        card = cards[cycle[0]]
        yield error(
            "cycle",
            card.path,
            card.line_of("requires"),
            f"cycle in `requires`: {' → '.join(cycle)}; a prerequisite cannot depend on its "
            "dependent, remove one of these edges",
            cycle[0],
        )
    if len(cycles) > MAX_CYCLES:
        first = cards[cycles[0][0]]
        yield error(
            "cycle",
            first.path,
            first.line_of("requires"),
            f"more cycles exist than the {MAX_CYCLES} listed; fix these and check again",
            None,
        )


def _structure(cards: Mapping[str, Card]) -> Iterable[Finding]:
    for card in cards.values():
        if card.branch is None and not card.requires:
            continue  # plain documentation, most of a tree
        if card.branch is not None and card.branch != f"mikado/{card.stem}":
            yield warning(
                "branch-name",
                card.path,
                card.line_of("branch"),
                f"`branch` is `{card.branch}`; a goal's branch is `mikado/{card.stem}`",
                "branch",
            )
        if card.is_complete:
            for entry, line in zip(card.requires, card.requires_lines, strict=False):
                required = cards.get(entry)
                if required is not None and required.is_open:
                    yield warning(
                        "done-requires-open",
                        card.path,
                        line,
                        f"this card is complete but requires `{entry}`, which is still open; "
                        "reopen this card or finish the prerequisite",
                        entry,
                    )
