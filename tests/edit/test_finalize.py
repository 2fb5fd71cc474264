"""`mikado finalize`: Mikado fields stripped from a completed chain, every other byte kept."""

from __future__ import annotations

import json
import stat
from datetime import date
from pathlib import Path

import pytest
from gitrepo import BRANCH, GOAL, chain_repo, isolate_git

from mikado.cli import run_cli
from mikado.engine.lock import RunLock

TODAY = date.today().isoformat()

# A completed chain written the way people write cards: comments, quoting, odd key order,
# CRLF line ends, `status: done`, flow lists, and wiki-links in the bodies.
GOAL_CARD = (
    "---\r\n"
    "# the goal of the release chain\r\n"
    'title: "Release: v2"   # quoted on purpose\r\n'
    "branch: mikado/release\r\n"
    "requires:\r\n"
    "  - build   # first\r\n"
    "  - 'docs-page'\r\n"
    "modified: 2026-01-02\r\n"
    "tags:\r\n"
    "  - release\r\n"
    "---\r\n"
    "\r\n"
    "# Release\r\n"
    "\r\n"
    "Needs [[build]] and [[docs-page|the docs]].\r\n"
)
BUILD_CARD = (
    "---\n"
    "tags: [ci]\n"
    "requires: [compile]\n"
    "title: Build\n"
    "status: done\n"
    "modified: '2026-01-01'\n"
    "action: build-it\n"
    "---\n"
    "Build after [[compile]].\n"
    "---\n"
    "status: active (in the body: not front-matter)\n"
)
COMPILE_CARD = "---\ntitle: Compile\nmodified: 2026-01-01\ntags: [ci]\n---\nCompile it.\n"
DOCS_CARD = (
    "---\ntitle: Docs page\nmodified: 2026-01-01\nstatus: done\ntags: [docs]\n---\n"
    "\nSee [[release]].\n"
)
EXPECTED = {
    "release.md": (
        "---\r\n"
        "# the goal of the release chain\r\n"
        'title: "Release: v2"   # quoted on purpose\r\n'
        f"modified: {TODAY}\r\n"
        "tags:\r\n"
        "  - release\r\n"
        "---\r\n"
        "\r\n"
        "# Release\r\n"
        "\r\n"
        "Needs [[build]] and [[docs-page|the docs]].\r\n"
    ),
    "ci/build.md": (
        "---\n"
        "tags: [ci]\n"
        "title: Build\n"
        f"modified: '{TODAY}'\n"
        "action: build-it\n"
        "---\n"
        "Build after [[compile]].\n"
        "---\n"
        "status: active (in the body: not front-matter)\n"
    ),
    "ci/compile.md": COMPILE_CARD,  # plain documentation: nothing to strip, left alone
    "docs-page.md": DOCS_CARD.replace("status: done\n", "").replace(
        "modified: 2026-01-01", f"modified: {TODAY}"
    ),
}


@pytest.fixture
def docs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cards"
    (root / "ci").mkdir(parents=True)
    (root / "release.md").write_bytes(GOAL_CARD.encode())
    (root / "ci" / "build.md").write_bytes(BUILD_CARD.encode())
    (root / "ci" / "compile.md").write_bytes(COMPILE_CARD.encode())
    (root / "docs-page.md").write_bytes(DOCS_CARD.encode())
    (root / "ci" / "build.md").chmod(0o640)
    monkeypatch.chdir(tmp_path)
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.md"))}


def test_finalize_changes_only_the_mikado_lines(
    docs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["finalize", "release"]) == 0
    out = capsys.readouterr().out
    assert snapshot(docs) == {path: text.encode() for path, text in EXPECTED.items()}
    assert stat.S_IMODE((docs / "ci" / "build.md").stat().st_mode) == 0o640
    assert "release.md: removed status" not in out  # the goal had no status left
    assert "release.md: removed requires, branch" in out
    assert "ci/compile.md" not in out
    # Finalized cards are documentation: a second finalize has nothing to do.
    assert run_cli(["finalize", "release"]) == 0
    assert "nothing to finalize" in capsys.readouterr().out


def test_dry_run_writes_nothing(docs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(docs)
    assert run_cli(["finalize", "release", "--dry-run", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert snapshot(docs) == before
    assert report["dry_run"] is True
    assert {c["path"]: c["removed"] for c in report["cards"]} == {
        "ci/build.md": ["status", "requires"],
        "docs-page.md": ["status"],
        "release.md": ["requires", "branch"],
    }


def test_refused_while_a_card_is_open(docs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    card = docs / "ci" / "compile.md"
    card.write_text(COMPILE_CARD.replace("tags:", "status: failed\ntags:"), encoding="utf-8")
    page = docs / "docs-page.md"
    page.write_text(DOCS_CARD.replace("status: done", "status: active"), encoding="utf-8")
    before = snapshot(docs)
    assert run_cli(["finalize", "release"]) == 1
    err = capsys.readouterr().err
    assert "open cards in the chain: compile (failed), docs-page (ready)" in err
    assert snapshot(docs) == before


def test_refused_while_required_outside_the_chain(
    docs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (docs / "later.md").write_text(
        "---\ntitle: Later\nmodified: 2026-01-01\ntags: [x]\nstatus: active\n"
        "requires: [build]\n---\n",
        encoding="utf-8",
    )
    before = snapshot(docs)
    assert run_cli(["finalize", "release"]) == 1
    assert "build by later" in capsys.readouterr().err
    assert snapshot(docs) == before


def test_a_card_the_editor_refuses_stops_everything(
    docs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # One flow-mapping front-matter the surgical editor will not touch, late in run order.
    (docs / "zz-flow.md").write_text(
        "---\n{title: Flow, modified: 2026-01-01, tags: [x], status: done}\n---\nbody\n",
        encoding="utf-8",
    )
    goal = docs / "release.md"
    goal.write_bytes(
        goal.read_bytes().replace(b"  - 'docs-page'\r\n", b"  - 'docs-page'\r\n  - zz-flow\r\n")
    )
    before = snapshot(docs)
    assert run_cli(["finalize", "release"]) == 1
    assert "zz-flow.md" in capsys.readouterr().err
    assert snapshot(docs) == before


def test_refused_while_a_run_holds_the_lock(docs: Path) -> None:
    before = snapshot(docs)
    with RunLock(docs.parent / ".mikado"):
        assert run_cli(["finalize", "release"]) == 4
    assert snapshot(docs) == before


def test_finalize_commit_keeps_the_branch_invariant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    isolate_git(monkeypatch, tmp_path)
    repo = chain_repo(tmp_path / "repo")
    monkeypatch.chdir(repo.path)
    repo.switch(BRANCH)
    repo.write("src/app.py", "print('v2')\n")
    repo.commit(f"C2({GOAL}): impl v2")
    for stem in ("build-it", "test-it", GOAL):
        repo.edit(f"cards/ship/{stem}.md", "status: active\n", "")
        repo.commit(f"C2({GOAL}): close {stem}")
    assert run_cli(["finalize", GOAL]) == 0
    assert "status" not in repo.read(f"cards/ship/{GOAL}.md").split("---")[1]
    repo.commit(f"C2({GOAL}): finalize rewrite the cards as documentation")
    capsys.readouterr()
    assert run_cli(["branch-check", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["violations"] == [] and report["position"] == "finalized"
