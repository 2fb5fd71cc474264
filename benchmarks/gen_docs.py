"""Generate a synthetic docs tree shaped like a real docs repository, for benchmarks and tests.

The tree has four top-level categories (``how-to``, ``reference``, ``explanation``,
``tutorials``), each with sub-categories of ~150 docs, some nested one level deeper, and a
folder without an index of its own. Every doc is listed in its category index. Bodies are
2-4 KB of prose with wiki-links in every form the grammar allows, decoys inside inline code and
fenced code (which are not links), tables with ``\\|`` links and image embeds. About 8 % of the
docs are Mikado cards in chains up to six deep with shared prerequisites; open cards have an
action module.

With ``--defects`` a known set of broken docs is added and ``manifest.json`` lists exactly the
findings `mikado check` must report (rule, severity, path, line, target).

    python benchmarks/gen_docs.py OUT --docs 10000 [--defects] [--seed 1]

OUT receives ``mikado.toml``, ``docs/`` and ``actions/`` (and ``manifest.json``).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TOP = ("how-to", "reference", "explanation", "tutorials")
PER_CATEGORY = 150
CARD_SHARE = 0.08
IMAGES = 20
_WORD_TEXT = (
    "registry cluster token deploy service mirror policy network storage backup restore "
    "identity provider client secret rotate certificate ingress gateway proxy cache queue "
    "worker schedule pipeline runner artifact image layer manifest digest signature audit "
    "metric alert dashboard tenant project group member role scope claim issuer callback "
    "upgrade migrate rollback snapshot volume replica shard index search query latency budget"
)
_VERB_TEXT = (
    "configure enable rotate audit migrate restore harden verify publish mirror wire enforce "
    "register inspect trace debug tune scale"
)
WORDS = _WORD_TEXT.split()
VERBS = _VERB_TEXT.split()
HEADINGS = ("Context", "Steps", "Details", "Verification", "Troubleshooting", "Related")


@dataclass
class Doc:
    path: str  # relative to docs/, with /
    title: str
    tags: list[str]
    index: str | None  # path of the category index that must list it
    listed: bool = True
    status: str | None = None
    requires: list[str] = field(default_factory=list)
    branch: str | None = None
    action: str | None = None
    # Replaces the generated front-matter lines (between the delimiters) when set.
    raw_front: list[str] | None = None
    no_front: bool = False
    extra_body: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)  # stems the body links to

    @property
    def stem(self) -> str:
        return self.path.rsplit("/", 1)[-1].removesuffix(".md")

    @property
    def is_open(self) -> bool:
        return self.status in ("active", "running", "failed", "todo")


class Corpus:
    def __init__(self, count: int, seed: int):
        self.rng = random.Random(seed)
        self.count = count
        self.docs: list[Doc] = []
        self.indexes: dict[str, Doc] = {}  # index path -> doc
        self.folders: list[tuple[str, str]] = []  # (folder, its category index path)
        self.expected: list[dict[str, Any]] = []
        self.stems: set[str] = set()

    # -- shape ---------------------------------------------------------------------------
    def build(self) -> None:
        self.index_doc = Doc("index.md", "Documentation", ["index"], None)
        self.docs.append(self.index_doc)
        per_top = max(1, self.count // len(TOP))
        subs = max(1, round(per_top / PER_CATEGORY))
        for top in TOP:
            top_index = self._category(f"{top}", None)
            self.index_doc.links.append(top_index.stem)
            self.folders.append((f"{top}/misc", top_index.path))  # a folder with no index
            for j in range(subs):
                sub = self._category(f"{top}/{top}-{j:03d}", top_index.path)
                if j % 5 == 4:
                    self._category(f"{top}/{top}-{j:03d}/{top}-{j:03d}-deep", sub.path)
        cards = int(self.count * CARD_SHARE)
        plain = max(0, self.count - len(self.docs) - cards)
        for _ in range(plain):
            folder, index = self.rng.choice(self.folders)
            self._add(folder, index, self._stem())
        self._chains(cards)

    def _category(self, folder: str, parent_index: str | None) -> Doc:
        name = folder.rsplit("/", 1)[-1]
        doc = Doc(f"{folder}/{name}.md", name.replace("-", " ").title(), ["index"], parent_index)
        self.docs.append(doc)
        self.indexes[doc.path] = doc
        self.stems.add(doc.stem)
        self.folders.append((folder, doc.path))
        return doc

    def _stem(self) -> str:
        while True:
            words = self.rng.sample(WORDS, 2)
            stem = f"{self.rng.choice(VERBS)}-{words[0]}-{words[1]}-{self.rng.randrange(10**6):06d}"
            if self.rng.random() < 0.02:
                stem += ".v2"  # stems with a dot are stems, not files
            if stem not in self.stems:
                self.stems.add(stem)
                return stem

    def _add(self, folder: str, index: str | None, stem: str, **fields: Any) -> Doc:
        title = stem.rsplit("-", 1)[0].replace("-", " ").capitalize()
        doc = Doc(f"{folder}/{stem}.md", title, self.rng.sample(WORDS, 2), index, **fields)
        self.docs.append(doc)
        self.stems.add(stem)
        return doc

    def _chains(self, budget: int) -> None:
        how_to = [(f, i) for f, i in self.folders if f.startswith("how-to/")]
        serial = 0
        while budget > 0:
            depth = self.rng.randint(2, 6)
            levels: list[list[Doc]] = []
            complete = self.rng.random() < 0.4
            cut = depth if complete else self.rng.randint(1, depth)  # levels >= cut are done
            folder, index = self.rng.choice(how_to)
            for level in range(depth):
                width = 1 if level == 0 else self.rng.randint(1, 3)
                row = []
                for _ in range(width):
                    serial += 1
                    stem = f"card-{self.rng.choice(VERBS)}-{self.rng.choice(WORDS)}-{serial:05d}"
                    done = level >= cut or complete
                    status = None if done else "active"
                    if done and self.rng.random() < 0.3:
                        status = "done"
                    doc = self._add(folder, index, stem, status=status)
                    if status == "active" and self.rng.random() < 0.1:
                        doc.action = f"shared-{self.rng.randrange(5)}"
                    row.append(doc)
                levels.append(row)
            for level in range(depth - 1):
                below = levels[level + 1]
                for doc in levels[level]:
                    doc.requires = sorted(
                        {d.stem for d in self.rng.sample(below, self.rng.randint(1, len(below)))}
                    )
                for doc in below:  # every prerequisite is required by someone: shared ones
                    if not any(doc.stem in d.requires for d in levels[level]):
                        self.rng.choice(levels[level]).requires.append(doc.stem)
            goal = levels[0][0]
            if not complete:
                goal.branch = f"mikado/{goal.stem}"
            for row in levels:
                for doc in row:
                    doc.links.extend(doc.requires)
            budget -= sum(len(row) for row in levels)

    # -- defects -------------------------------------------------------------------------
    def defects(self) -> None:
        """Add docs that each break one rule, and record the findings they must give."""
        folder, index = next((f, i) for f, i in self.folders if f.startswith("how-to/how-to-"))
        ref_folder, ref_index = next(
            (f, i) for f, i in self.folders if f.startswith("reference/reference-")
        )
        plain = [d for d in self.docs if d.status is None and d.path not in self.indexes]
        target = self.rng.choice(plain[1:])

        def expect(rule: str, path: str, line: int | None, target: str | None) -> None:
            severity = (
                "warning"
                if rule in ("branch-name", "done-requires-open", "action-missing")
                else "error"
            )
            self.expected.append(
                {"rule": rule, "severity": severity, "path": path, "line": line, "target": target}
            )

        d = self._add(folder, index, "defect-no-front-matter", no_front=True)
        expect("frontmatter-missing", d.path, None, None)

        d = self._add(folder, index, "defect-yaml-error")
        d.raw_front = ["title: a: b", "modified: 2024-01-02", "tags: [x]"]
        expect("frontmatter-invalid", d.path, 2, None)

        d = self._add(folder, index, "defect-list-front-matter")
        d.raw_front = ["- title", "- tags"]
        expect("frontmatter-invalid", d.path, 2, None)

        d = self._add(folder, index, "defect-no-tags")
        d.raw_front = ["title: No tags", "modified: 2024-01-02"]
        expect("field-missing", d.path, None, "tags")

        d = self._add(folder, index, "defect-empty-title")
        d.raw_front = ['title: ""', "modified: 2024-01-02", "tags: [x]"]
        expect("field-missing", d.path, 2, "title")

        d = self._add(folder, index, "defect-requires-string")
        d.raw_front = ["title: T", "modified: 2024-01-02", "tags: [x]", "requires: abc"]
        expect("field-type", d.path, 5, "requires")

        d = self._add(folder, index, "defect-bad-date")
        d.raw_front = ["title: T", "modified: yesterday", "tags: [x]"]
        expect("field-type", d.path, 3, "modified")

        d = self._add(ref_folder, ref_index, "defect-misplaced-status")
        d.raw_front = ["title: T", "modified: 2024-01-02", "tags: [x]", "status: active"]
        d.status = "active"
        expect("field-misplaced", d.path, 5, "status")

        d = self._add(folder, index, "defect-status-typo")
        d.raw_front = ["title: T", "modified: 2024-01-02", "tags: [x]", "status: todo"]
        d.status = "todo"
        expect("status-invalid", d.path, 5, "status")

        first = self._add(folder, index, "defect-duplicate")
        second = Doc(f"{ref_folder}/defect-duplicate.md", "Duplicate", ["x"], ref_index)
        self.docs.append(second)
        for doc in (first, second):
            expect("duplicate-stem", doc.path, None, "defect-duplicate")
            expect("orphan", doc.path, None, "defect-duplicate")
            expect("index-missing", doc.path, None, "defect-duplicate")
        # Both indexes list [[defect-duplicate]]: each of those links is ambiguous (see write).

        d = self._add(
            folder, index, "defect-requires-missing", status="active", requires=["no-such-card"]
        )
        expect("requires-missing", d.path, 9, "no-such-card")  # 1 ---, 2 title, 3 modified,
        # 4 tags:, 5-6 tags, 7 status, 8 requires:, 9 the entry

        d = self._add(
            folder,
            index,
            "defect-requires-self",
            status="active",
            requires=["defect-requires-self"],
        )
        expect("requires-self", d.path, 9, "defect-requires-self")

        a = self._add(folder, index, "defect-cycle-a", status="active", requires=["defect-cycle-b"])
        self._add(folder, index, "defect-cycle-b", status="active", requires=["defect-cycle-a"])
        expect("cycle", a.path, 8, "defect-cycle-a")

        d = self._add(folder, index, "defect-branch", status="active", branch="feature/x")
        expect("branch-name", d.path, 8, "branch")

        open_card = self._add(folder, index, "defect-open-prerequisite", status="active")
        d = self._add(
            folder, index, "defect-done-requires-open", requires=["defect-open-prerequisite"]
        )
        expect("done-requires-open", d.path, 8, "defect-open-prerequisite")
        del open_card

        d = self._add(folder, index, "defect-no-action", status="active")
        d.action = None
        self.no_action = d.stem
        expect("action-missing", d.path, None, "defect-no-action")

        # Links: each defect is an extra line of the body; `write` puts extra_body first, so
        # the line is known: the body starts after the front-matter (9 lines for a plain doc
        # with two tags: --- title modified tags: - - --- and one blank line).
        links = self._add(folder, index, "defect-links")
        bad = [
            ("[[no-such-doc]]", "broken-link", "no-such-doc"),
            (f"[[{target.stem}.md]]", "broken-link", f"{target.stem}.md"),
            (f"[[{target.stem.upper()}]]", "broken-link", target.stem.upper()),
            (
                f"[[{target.path.removesuffix('.md')}]]",
                "path-link",
                target.path.removesuffix(".md"),
            ),
            (f"[[ {target.stem} ]]", "spaced-link", target.stem),
            (f"[[{target.stem} | text]]", "spaced-link", target.stem),
            ("![[missing-image.png]]", "broken-link", "missing-image.png"),
        ]
        first_body_line = len(self._front(links)) + 2 + 2  # both ---, then one blank line
        for offset, (text, rule, link_target) in enumerate(bad):
            links.extra_body.append(f"Broken on purpose: {text} here.")
            expect(rule, links.path, first_body_line + offset, link_target)
        links.extra_body.append("")

        stray = Doc("defect-stray.md", "Stray", ["x"], None)
        self.docs.append(stray)
        expect("orphan", stray.path, None, "defect-stray")

        hidden = self._add(folder, index, "defect-unlisted", listed=False)
        target.links.append(hidden.stem)
        expect("index-missing", hidden.path, None, "defect-unlisted")

    # -- output --------------------------------------------------------------------------
    def write(self, out: Path) -> None:
        docs_root = out / "docs"
        if out.exists():
            shutil.rmtree(out)
        (docs_root / "assets").mkdir(parents=True)
        (out / "actions").mkdir()
        for n in range(IMAGES):
            (docs_root / "assets" / f"diagram-{n}.png").write_bytes(b"\x89PNG\r\n")
        (out / "mikado.toml").write_text(
            '[mikado]\ndocs = "docs"\nactions = "actions"\ncards_in = ["how-to"]\n',
            encoding="utf-8",
        )
        members: dict[str, list[Doc]] = {}
        for doc in self.docs:
            if doc.index is not None and doc.listed:
                members.setdefault(doc.index, []).append(doc)
        stems = [d.stem for d in self.docs if not d.stem.startswith("defect-")]
        written_actions: set[str] = set()
        for doc in self.docs:
            if doc.is_open and doc.stem != getattr(self, "no_action", None):
                name = doc.action or doc.stem
                if name not in written_actions:
                    written_actions.add(name)
                    (out / "actions" / f"{name}.py").write_text(
                        f'"""Action for {name}."""\n\n\ndef apply(ctx):\n    return None\n',
                        encoding="utf-8",
                    )
            path = docs_root / doc.path
            path.parent.mkdir(parents=True, exist_ok=True)
            text = self._render(doc, members.get(doc.path, []), stems)
            path.write_bytes(text.encode("utf-8"))

    def _front(self, doc: Doc) -> list[str]:
        if doc.raw_front is not None:
            return doc.raw_front
        lines = [f"title: {doc.title}", f"modified: 2024-{1 + len(doc.path) % 12:02d}-15", "tags:"]
        lines += [f"  - {tag}" for tag in doc.tags]
        if doc.status:
            lines.append(f"status: {doc.status}")
        if doc.requires:
            lines.append("requires:")
            lines += [f"  - {r}" for r in doc.requires]
        if doc.branch:
            lines.append(f"branch: {doc.branch}")
        if doc.action:
            lines.append(f"action: {doc.action}")
        return lines

    def _render(self, doc: Doc, members: list[Doc], stems: list[str]) -> str:
        rng = self.rng
        lines: list[str] = []
        if not doc.no_front:
            lines += ["---", *self._front(doc), "---"]
        lines.append("")
        lines += doc.extra_body
        lines.append(f"# {doc.title}")
        lines.append("")
        if members:
            lines.append("Everything in this category:")
            lines.append("")
            for member in sorted(members, key=lambda d: d.path):
                lines.append(f"- [[{member.stem}]] — {member.title}")
            lines.append("")
        for stem in doc.links:
            lines.append(f"See [[{stem}]].")
        size = rng.randint(2000, 4000)
        heading = 0
        while sum(len(line) + 1 for line in lines) < size:
            lines += self._section(rng, HEADINGS[heading % len(HEADINGS)], stems, doc.stem)
            heading += 1
        return "\n".join(lines) + "\n"

    def _section(self, rng: random.Random, heading: str, stems: list[str], own: str) -> list[str]:
        def other() -> str:
            stem = rng.choice(stems)
            return stem if stem != own else "index"

        def prose(n: int) -> str:
            return " ".join(rng.choice(WORDS) for _ in range(n))

        kind = rng.randrange(6)
        out = [f"## {heading}", ""]
        out.append(
            f"{prose(12).capitalize()} [[{other()}]] {prose(10)} [[{other()}|the {prose(2)}]] "
            f"{prose(8)}."
        )
        if kind == 0:
            out += [
                "",
                "```bash",
                f"mikado check  # [[not-a-link-{rng.randrange(99)}]]",
                f"echo {prose(4)}",
                "```",
            ]
        elif kind == 1:
            out += [
                "",
                "| Name | Notes |",
                "|------|-------|",
                f"| [[{other()}\\|{prose(1)}]] | {prose(5)} |",
                f"| `[[code-{rng.randrange(99)}]]` | {prose(4)} |",
            ]
        elif kind == 2:
            out += [
                "",
                f"Use `[[not-a-link]]` literally; see [[{other()}#{heading.lower()}]] "
                f"and [[#{heading.lower()}]].",
            ]
        elif kind == 3:
            out += ["", f"![[diagram-{rng.randrange(IMAGES)}.png]]"]
        elif kind == 4:
            out += [
                "",
                "~~~python",
                f"print('[[fenced-{rng.randrange(9)}]]')",
                "~~~",
                "",
                "    indented code [[indented-decoy]]",
            ]
        else:
            out += ["", f"- {prose(6)} [[{other()}]]", f"- {prose(7)}"]
            if rng.random() < 0.03:  # a comment inside an item: rarer, and harder to scan
                out.append(f"  <!-- [[commented-out]] {prose(3)} -->")
            else:
                out += ["", f"<!-- [[commented-out]] {prose(3)} -->"]
        out += ["", prose(rng.randint(20, 60)).capitalize() + ".", ""]
        return out

    def ambiguous_in_indexes(self) -> None:
        """The indexes listing ``defect-duplicate`` hold ambiguous links; their lines are known
        only once the index bodies are laid out, so compute them the way `_render` does."""
        for index_path, index in self.indexes.items():
            listed = sorted(
                (d for d in self.docs if d.index == index_path and d.listed), key=lambda d: d.path
            )
            for position, member in enumerate(listed):
                if member.stem == "defect-duplicate":
                    front = 0 if index.no_front else len(self._front(index)) + 2
                    line = front + 1 + len(index.extra_body) + 2 + 2 + position + 1
                    self.expected.append(
                        {
                            "rule": "ambiguous-link",
                            "severity": "error",
                            "path": index_path,
                            "line": line,
                            "target": "defect-duplicate",
                        }
                    )


def generate(
    out: Path, count: int, *, seed: int = 1, defects: bool = False
) -> list[dict[str, Any]]:
    """Write the tree; return the findings `mikado check` must report (empty without defects)."""
    corpus = Corpus(count, seed)
    corpus.build()
    if defects:
        corpus.defects()
        corpus.ambiguous_in_indexes()
    corpus.write(out)
    manifest = sorted(
        corpus.expected, key=lambda f: (f["path"], f["line"] or 0, f["rule"], f["target"] or "")
    )
    if defects:
        (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--docs", type=int, default=1000, help="number of docs (about)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--defects", action="store_true", help="inject defects + manifest.json")
    args = parser.parse_args()
    manifest = generate(args.out, args.docs, seed=args.seed, defects=args.defects)
    total = sum(1 for _ in (args.out / "docs").rglob("*.md"))
    print(f"wrote {total} docs to {args.out / 'docs'}; {len(manifest)} expected findings")


if __name__ == "__main__":
    main()
