"""Reading a docs tree into cards and the findings the reading itself reveals.

Per doc: front-matter split, YAML, field types. Across the tree: duplicate stems, ``requires``
integrity, cycles, and the few structural warnings that need every card at once. Bodies are not
read here; commands that need them (links in `check`) read them separately.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mikado.card import Card, build_card
from mikado.config import Config
from mikado.discover import discover
from mikado.errors import DocsError
from mikado.findings import Finding, Severity, error, warning
from mikado.frontmatter import FrontMatterError, parse_block, read_block
from mikado.graph import MAX_CYCLES, Graph
from mikado.rules import GRAPH_FIELDS, GRAPH_RULES


@dataclass(frozen=True, slots=True)
class Docs:
    """Every doc of a tree. ``cards`` holds one card per stem (the first path when a stem is
    duplicated); ``findings`` what reading them found, sorted."""

    root: Path
    cards: Mapping[str, Card]
    paths: tuple[str, ...]
    findings: tuple[Finding, ...]
    graph: Graph

    def card(self, stem: str) -> Card | None:
        return self.cards.get(stem)

    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]


def read_card(root: Path, path: str, required: tuple[str, ...]) -> tuple[Card, list[Finding]]:
    """Read one doc's front-matter. Never raises for bad content: problems become findings."""
    stem = PurePosixPath(path).stem
    try:
        with open(root / path, "rb") as stream:
            block = read_block(stream)
    except FrontMatterError as exc:
        return Card(stem, path), [error(exc.rule, path, exc.line, exc.message)]
    except OSError as exc:
        return Card(stem, path), [error("unreadable", path, None, f"cannot read: {exc.strerror}")]
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


def load_docs(config: Config, *, strict_graph: bool = False) -> Docs:
    """Read the tree. With ``strict_graph``, raise :class:`DocsError` when the graph cannot be
    trusted (see :data:`mikado.rules.GRAPH_RULES`), as `status`, `next` and `run` need."""
    root = config.docs
    paths = discover(root, config.excluded())
    cards: dict[str, Card] = {}
    findings: list[Finding] = []
    by_stem: dict[str, list[str]] = {}
    for path in paths:
        card, problems = read_card(root, path, config.required)
        findings.extend(problems)
        by_stem.setdefault(card.stem, []).append(path)
        cards.setdefault(card.stem, card)

    findings.extend(_duplicates(by_stem))
    findings.extend(_misplaced(cards.values(), config.cards_in))
    requires = {stem: card.requires for stem, card in cards.items()}
    graph = Graph(requires)
    findings.extend(_requires_integrity(cards, by_stem))
    findings.extend(_cycles(graph, cards))
    findings.extend(_structure(cards))

    findings = [f for f in findings if config.rule_enabled(f.rule)]
    findings.sort(key=lambda f: f.sort_key)
    docs = Docs(root, cards, tuple(paths), tuple(findings), graph)
    if strict_graph:
        fatal = [f for f in docs.errors() if breaks_graph(f)]
        if fatal:
            count = len(fatal)
            raise DocsError(
                f"{count} problem{'s' if count > 1 else ''} in the docs under {root} "
                "(run `mikado check` for every finding)",
                tuple(fatal),
            )
    return docs


def breaks_graph(finding: Finding) -> bool:
    if finding.rule == "field-type":
        return finding.target in GRAPH_FIELDS
    return finding.rule in GRAPH_RULES


def _duplicates(by_stem: Mapping[str, list[str]]) -> Iterable[Finding]:
    for stem, paths in by_stem.items():
        if len(paths) > 1:
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
    for card in cards:
        if any(card.path.startswith(folder + "/") for folder in cards_in):
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


def _requires_integrity(
    cards: Mapping[str, Card], by_stem: Mapping[str, list[str]]
) -> Iterable[Finding]:
    lowered: dict[str, str] = {}
    for stem in by_stem:
        lowered.setdefault(stem.lower(), stem)
    for card in cards.values():
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
