"""Extreme but valid input through the real command (issue 8): a 50 MB card, a 10,000-deep
`requires` chain, 2 MB lines. Everything must work, without recursion errors (benchmarks/ measures
how fast)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from .forked_cli import ForkedCli, Result

DEPTH = 10_000
BIG_CARD_BYTES = 50_000_000
LONG_LINE = 2_000_000
FRONT = "modified: 2026-01-01\ntags: [test]\n"


@pytest.fixture(scope="module")
def cli() -> Iterator[ForkedCli]:
    server = ForkedCli()
    yield server
    server.close()


def write(base: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return base


def stem(i: int) -> str:
    return f"step-{i:05d}"


@pytest.fixture(scope="module")
def deep_chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """step-09999 requires step-09998 ... requires step-00000: one chain 10,000 deep."""
    files = {"mikado.toml": '[mikado]\ndocs = "docs"\n'}
    for i in range(DEPTH):
        requires = f"requires:\n  - {stem(i - 1)}\n" if i else ""
        link = f"Needs [[{stem(i - 1)}]].\n" if i else "The first step.\n"
        files[f"docs/{stem(i)}.md"] = (
            f"---\ntitle: Step {i}\n{FRONT}status: active\n{requires}---\n\n{link}"
        )
    files["docs/index.md"] = f"---\ntitle: Index\n{FRONT}---\n\n- [[{stem(DEPTH - 1)}]]\n"
    return write(tmp_path_factory.mktemp("deep"), files)


def big_body() -> str:
    """50 MB as operators write it: prose with links, then a pasted log in a fence."""
    prose = "The registry keeps tags; see [[leaf]] and `crane ls` for the list.\n\n"
    log = 'ts=2026-01-01T00:00:00Z level=info msg="pulled" repo=team/app tag=v1 [[x]]\n'
    prose_part = prose * (10_000_000 // len(prose))
    log_part = log * ((BIG_CARD_BYTES - len(prose_part)) // len(log))
    return f"# Goal\n\n{prose_part}```text\n{log_part}```\n\nAfter the log: [[leaf]].\n"


@pytest.fixture(scope="module")
def big_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """goal (a 50 MB card) requires leaf, whose title, tags and body each hold a 2 MB line."""
    long_title = "T" * LONG_LINE
    long_tags = "[" + ", ".join(f"t{i}" for i in range(LONG_LINE // 8)) + "]"
    long_body_line = "x" * (LONG_LINE // 2) + " [[goal]] " + "y" * (LONG_LINE // 2)
    files = {
        "mikado.toml": '[mikado]\ndocs = "docs"\n',
        "docs/index.md": f"---\ntitle: Index\n{FRONT}---\n\n- [[goal]]\n- [[leaf]]\n- [[x]]\n",
        "docs/goal.md": (
            f"---\ntitle: Goal\n{FRONT}status: active\nrequires:\n  - leaf\n---\n\n{big_body()}"
        ),
        "docs/leaf.md": (
            f"---\ntitle: {long_title}\nmodified: 2026-01-01\ntags: {long_tags}\n"
            f"status: active\n---\n\n{long_body_line}"  # no final newline
        ),
        "docs/x.md": f"---\ntitle: X\n{FRONT}---\n\n[[goal]]\n",
    }
    base = write(tmp_path_factory.mktemp("big"), files)
    assert (base / "docs/goal.md").stat().st_size >= BIG_CARD_BYTES
    return base


def assert_clean(argv: tuple[str, ...], result: Result, code: int) -> None:
    shown = f"mikado {' '.join(argv)} → {result.returncode}\n{result.stderr[-2000:]}"
    assert result.returncode == code, shown
    assert "Traceback" not in result.stderr and "RecursionError" not in result.stderr, shown
    assert "internal error" not in result.stderr, shown


def test_a_10000_deep_chain_reads_checks_plans_and_draws(cli: ForkedCli, deep_chain: Path) -> None:
    goal, leaf = stem(DEPTH - 1), stem(0)
    commands: list[tuple[tuple[str, ...], int]] = [
        (("status",), 0),
        (("status", goal), 0),
        (("next",), 0),
        (("graph", goal, "--as", "dot"), 0),
        (("check",), 0),
        (("run", goal, "--dry-run", "--format", "json"), 0),
    ]
    results = cli.run_many(deep_chain, [argv for argv, _ in commands], timeout=60)
    for (argv, code), result in zip(commands, results, strict=True):
        assert_clean(argv, result, code)
    status, tree, next_, dot, _, plan = (r.stdout for r in results)
    assert f"0/{DEPTH}" in status
    assert next_.split() == [leaf]
    assert f"{leaf} — Step 0  [ready]  (depth {DEPTH - 1})" in tree
    # Indentation stops growing: drawn in full, the tree would be 200 MB of spaces.
    assert len(tree) < 3_000_000
    assert dot.count(" -> ") == DEPTH - 1
    assert plan.count('"will": "manual"') == 1 and plan.count('"will": "wait"') == DEPTH - 1


def test_a_10000_deep_chain_grows_and_completes(cli: ForkedCli, deep_chain: Path) -> None:
    """`new` and `done` load the whole chain strictly and edit its ends."""
    goal, leaf = stem(DEPTH - 1), stem(0)
    (grown,) = cli.run_many(
        deep_chain, [("new", "extra-step", "--title", "Extra", "--required-by", leaf)]
    )
    assert_clean(("new",), grown, 0)
    (grew,) = cli.run_many(deep_chain, [("next", goal)])
    assert grew.stdout.split() == ["extra-step"]  # the new card now comes before the leaf
    (done,) = cli.run_many(deep_chain, [("done", "extra-step")])
    assert_clean(("done",), done, 0)
    (after,) = cli.run_many(deep_chain, [("next", goal)])
    assert_clean(("next",), after, 0)
    assert after.stdout.split() == [leaf]


def test_a_50_mb_card_and_2_mb_lines_work(cli: ForkedCli, big_tree: Path) -> None:
    commands: list[tuple[tuple[str, ...], int]] = [
        (("status",), 0),
        (("status", "goal"), 0),
        (("next",), 0),
        (("graph", "--as", "dot"), 0),
        (("check", "--format", "json"), 0),
        (("run", "goal", "--dry-run"), 0),
    ]
    results = cli.run_many(big_tree, [argv for argv, _ in commands], timeout=60)
    for (argv, code), result in zip(commands, results, strict=True):
        assert_clean(argv, result, code)
    assert results[2].stdout.split() == ["leaf"]
    assert '"errors": 0' in results[4].stdout


def test_done_on_a_card_with_2_mb_lines_edits_only_its_fields(
    cli: ForkedCli, big_tree: Path
) -> None:
    leaf = big_tree / "docs/leaf.md"
    before = leaf.read_bytes()
    (result,) = cli.run_many(big_tree, [("done", "leaf")])
    assert_clean(("done", "leaf"), result, 0)
    today = f"modified: {date.today().isoformat()}".encode()
    expected = before.replace(b"status: active\n", b"").replace(b"modified: 2026-01-01", today)
    assert leaf.read_bytes() == expected
