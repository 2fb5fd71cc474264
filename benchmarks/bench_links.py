"""Microseconds per document for wiki-link extraction: the fast scanner against markdown-it-py.

Run from the repository root:  python benchmarks/bench_links.py
"""

from __future__ import annotations

import random
import sys
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from reference import extract_links_reference  # noqa: E402  (the tests' markdown-it oracle)

from mikado.tree.code_fast import fast_code_regions  # noqa: E402
from mikado.tree.links import extract_links  # noqa: E402

WORDS = [
    "the",
    "registry",
    "token",
    "expires",
    "after",
    "ninety",
    "days",
    "so",
    "the",
    "pipeline",
    "must",
    "rotate",
    "it",
    "before",
    "deploying",
    "any",
    "image",
    "and",
    "record",
    "the",
    "new",
    "value",
    "in",
    "the",
    "vault",
    "with",
    "an",
    "audit",
    "note",
]


def prose(rng: random.Random, low: int, high: int, dense: bool) -> str:
    words = []
    link, code = (0.04, 0.08) if dense else (0.008, 0.025)
    for _ in range(rng.randint(low, high)):
        roll = rng.random()
        if roll < link:
            words.append(f"[[{rng.choice(WORDS)}-{rng.choice(WORDS)}]]")
        elif roll < code:
            words.append(f"`{rng.choice(WORDS)}_{rng.choice(WORDS)}`")
        elif roll < code + 0.01:
            words.append(f"[docs](https://example.org/{rng.choice(WORDS)})")
        else:
            words.append(rng.choice(WORDS))
    # wrap like an editor does
    lines, line = [], []
    for word in words:
        line.append(word)
        if len(" ".join(line)) > 72:
            lines.append(" ".join(line))
            line = []
    lines.append(" ".join(line))
    return "\n".join(lines)


def document(seed: int, size: int = 3000, dense: bool = True) -> str:
    """A realistic card body of about ``size`` characters: headings, prose with inline code and
    links (dense: one word in 25 is a link and one in 25 is code; else one in 125 and one in 60),
    bullet lists, fenced blocks and HTML comments."""
    rng = random.Random(seed)

    def paragraph(rng: random.Random, low: int = 25, high: int = 60) -> str:
        return prose(rng, low, high, dense)

    parts = [f"# {rng.choice(WORDS).title()} the {rng.choice(WORDS)}", paragraph(rng)]
    while sum(len(part) + 2 for part in parts) < size:
        roll = rng.random()
        if roll < 0.15:
            parts.append(f"## {rng.choice(WORDS).title()} {rng.choice(WORDS)}")
        elif roll < 0.3:
            items = (paragraph(rng, 3, 12).replace("\n", " ") for _ in range(rng.randint(2, 4)))
            parts.append("\n".join(f"- {item}" for item in items))
        elif roll < 0.4:
            parts.append(
                "```sh\n" + "\n".join(f"zot {w} --flag [[x]]" for w in WORDS[:4]) + "\n```"
            )
        elif roll < 0.45:
            parts.append("<!-- keep in sync with [[the-other-card]] -->")
        else:
            parts.append(paragraph(rng))
    parts.append("See also [[harden-zot-registry]] and [[rotate-token|rotation]].")
    return "\n\n".join(parts) + "\n"


def per_doc_us(function: object, docs: list[str], repeat: int) -> float:
    timer = timeit.Timer(lambda: [function(doc) for doc in docs])  # type: ignore[operator]
    return min(timer.repeat(repeat=5, number=repeat)) / (repeat * len(docs)) * 1e6


def report(label: str, docs: list[str]) -> None:
    taken = sum(fast_code_regions(doc) is not None for doc in docs)
    assert all(extract_links(doc) == extract_links_reference(doc) for doc in docs)
    links = sum(len(extract_links(doc)) for doc in docs) / len(docs)
    print(
        f"{label}: {len(docs)} docs, {sum(map(len, docs)) // len(docs)} chars and "
        f"{links:.0f} links on average, fast path taken for {taken}"
    )
    print(f"  extract_links:            {per_doc_us(extract_links, docs, 50):8.1f} µs/doc")
    print(f"  extract_links_reference:  {per_doc_us(extract_links_reference, docs, 3):8.1f} µs/doc")


def main() -> None:
    report("typical", [document(seed, dense=False) for seed in range(20)])
    report("dense", [document(seed) for seed in range(20)])
    no_links = [document(seed).replace("[[", "[ [") for seed in range(20)]
    print(f"no '[[' in the doc: {per_doc_us(extract_links, no_links, 200):8.2f} µs/doc")


if __name__ == "__main__":
    main()
