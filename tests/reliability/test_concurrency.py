"""Concurrency on one tree: two runs at once (one exits 4 and changes nothing), readers during
a run (`check`, `status`, and raw reads of every card never see half a card), and an editor
rewriting a card the run does not change (its edit survives the run).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from mikado.tree.frontmatter import parse_block, split_bytes
from tests.chain_fixtures import RECORDING_ACTION, Tree, make_tree

from .crashing import synthetic_cards

# Slow enough that readers and a second run meet the run in the middle of its work.
PACED_RECORDING = (
    RECORDING_ACTION
    + """
import time

_record = apply


def apply(ctx):
    time.sleep(0.05)
    _record(ctx)
"""
)


# The goal's action waits for a `release` file: the run stays in the middle of its work.
GATED_RECORDING = (
    RECORDING_ACTION
    + """
import time

_record = apply


def apply(ctx):
    while not (EFFECTS.parent / "release").exists():
        time.sleep(0.01)
    _record(ctx)
"""
)


def _paced_tree(root: Path, count: int = 16, *, gated: bool = False) -> tuple[Tree, list[str]]:
    spec = synthetic_cards(count)
    stems = list(spec)
    actions = {stem: PACED_RECORDING for stem in stems}
    if gated:
        actions[stems[-1]] = GATED_RECORDING
    return make_tree(root, spec, actions), stems


def _wait_for_running(tree: Tree, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while (
        not (tree.runtime / "journal.jsonl").exists()
        or b"card-start" not in (tree.runtime / "journal.jsonl").read_bytes()
    ):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_two_runs_started_together_run_the_chain_once(tmp_path: Path) -> None:
    for attempt in range(3):
        tree, stems = _paced_tree(tmp_path / f"t{attempt}", 10)
        first = tree.popen("run", stems[-1], "--yes")
        second = tree.popen("run", stems[-1], "--yes")
        results = [p.communicate(timeout=60) for p in (first, second)]
        codes = sorted(p.returncode for p in (first, second))
        # the loser exits 4, or, when the winner finished within the lock's patience, finds
        # nothing left to run
        assert codes in ([0, 4], [0, 0]), results
        if codes == [0, 4]:
            loser = results[[first.returncode, second.returncode].index(4)]
            assert "another run holds the lock: process" in loser[1]
        assert sorted(tree.effects()) == sorted(stems)


def test_a_second_run_during_a_run_exits_4_and_changes_nothing(tmp_path: Path) -> None:
    tree, stems = _paced_tree(tmp_path, gated=True)
    first = tree.popen("run", stems[-1], "--yes")
    try:
        _wait_for_running(tree, first)
        before = tree.snapshot()
        for args in (["run", stems[-1], "--yes"], ["run", stems[0], "--yes", "--only", stems[0]]):
            second = tree.mikado(*args)
            assert second.returncode == 4, second.stderr
            assert f"process {first.pid}" in second.stderr and "since" in second.stderr
            assert [r["event"] for r in tree.journal()].count("run-start") == 1
        # nothing but the first run's own progress changed (its cards, journal and outputs)
        after = tree.snapshot()
        theirs = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        assert all(k.startswith(("cards/", ".mikado/journal", "effects.log")) for k in theirs)
    finally:
        (tmp_path / "release").touch()
        first.communicate(timeout=60)
    assert first.returncode == 0
    assert sorted(tree.effects()) == sorted(stems)


def _read_every_card(docs: Path, problems: list[str], stop: threading.Event) -> int:
    reads = 0
    while not stop.is_set():
        for path in docs.rglob("*.md"):
            data = path.read_bytes()
            reads += 1
            try:
                block = split_bytes(data)
                assert block is not None, "no front-matter"
                meta = parse_block(block)
                assert meta["title"] and meta["tags"], meta
            except Exception as error:  # a half-written card is what this looks for
                problems.append(f"{path.name}: {type(error).__name__}: {error}: {data[:200]!r}")
    return reads


def test_check_status_and_raw_reads_during_a_run_see_whole_cards(tmp_path: Path) -> None:
    tree, stems = _paced_tree(tmp_path, 24)
    problems: list[str] = []
    stop = threading.Event()
    reads: list[int] = []
    reader = threading.Thread(
        target=lambda: reads.append(_read_every_card(tree.docs, problems, stop)), daemon=True
    )
    run = tree.popen("run", stems[-1], "--yes", "--jobs", "3")
    reader.start()
    states_seen: set[str] = set()
    try:
        _wait_for_running(tree, run)
        while run.poll() is None:
            status = tree.mikado("status", stems[-1], "--format", "json")
            assert status.returncode == 0, status.stderr
            (chain,) = json.loads(status.stdout)["chains"]
            assert chain["total"] == len(stems)
            states_seen |= {card["state"] for card in chain["cards"]}
            check = tree.mikado("check", "--format", "json")
            assert check.returncode == 0, check.stdout + check.stderr
            assert json.loads(check.stdout)["errors"] == 0
    finally:
        stop.set()
        run.communicate(timeout=60)
        reader.join(timeout=30)
    assert run.returncode == 0
    assert problems == []
    assert reads and reads[0] > 100
    assert "running" in states_seen  # status saw the run's live state, not a stale one


EDITOR = """
import os, sys, time
from pathlib import Path

path, stop, in_place = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "in-place"
original = path.read_text()
n = 0
while not stop.exists():
    n += 1
    text = original + f"\\nedit {n}\\n"
    if in_place and n % 2:
        path.write_text(text)  # in place, as many editors save
    else:
        temporary = path.with_name(f".{path.name}.swp")
        temporary.write_text(text)
        os.replace(temporary, path)  # by rename, as others do
    time.sleep(0.003)
print(n)
"""


def test_an_editor_rewriting_an_unrelated_card_during_a_run_keeps_its_edits(
    tmp_path: Path,
) -> None:
    tree, stems = _paced_tree(tmp_path)
    # a complete card of the chain (the run reads it, never writes it) and a doc outside it
    notes = tree.docs / "work" / "notes.md"
    notes.write_text("---\ntitle: Notes\nmodified: 2026-01-01\ntags: [test]\n---\n\nNotes.\n")
    index = tree.docs / "work" / "work.md"
    index.write_text(index.read_text() + "- [[notes]]\n")
    done = tree.card_path(stems[0])
    done.write_text(done.read_text().replace("status: active\n", ""))
    (tree.root / "effects.log").write_text(stems[0] + "\n")  # its effect is there
    stop = tmp_path / "stop"
    # A chain card saved in place can be read empty mid-save, and the run then rightly
    # refuses the chain; it is saved by rename, as careful editors do. The doc outside the
    # chain is saved both ways.
    editors = [
        subprocess.Popen(
            [sys.executable, "-c", EDITOR, str(path), str(stop), how],
            stdout=subprocess.PIPE,
            text=True,
        )
        for path, how in ((notes, "in-place"), (done, "rename"))
    ]
    run = tree.popen("run", stems[-1], "--yes")
    try:
        _, err = run.communicate(timeout=120)
    finally:
        stop.touch()
        edits = [int(editor.communicate(timeout=30)[0]) for editor in editors]
    assert run.returncode == 0, err
    assert min(edits) > 10
    for path, count in zip((notes, done), edits, strict=True):
        assert path.read_text().endswith(f"\nedit {count}\n"), path.name
    assert sorted(tree.effects()) == sorted(stems)
    assert not [
        p
        for p in tree.docs.rglob("*")
        if p.name.startswith(".") and os.sep in str(p) and p.suffix == ".tmp"
    ]
