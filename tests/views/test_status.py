"""`status` for people: text from cards, the journal and services is shown, never obeyed by the
terminal (escape sequences, carriage returns, reordering controls)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from treebuilder import card_text, write_tree

from mikado.cli import run_cli
from mikado.engine.results import Outcome
from mikado.views.printable import printable
from mikado.views.progress import ConsoleProgress
from mikado.views.status import MARKS

# What a hostile or broken title can do to a terminal: plant a hyperlink (OSC 8), retitle the
# window (OSC 0), colour the rest of the screen, return to the start of the line and overwrite
# it, reverse the text after it.
HOSTILE = (
    "Rotate \x1b]8;;https://evil.example\x07keys\x1b]8;;\x07 \x1b]0;pwned\x07"
    "\x1b[31mred\rOVERWRITTEN \u202eevil"
)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain — ünïcode 🧑‍💻", "plain — ünïcode 🧑‍💻"),  # the emoji's zero-width joiner stays
        ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),
        ("a\rb\nc\td", "a\\rb\\nc\\td"),
        ("\x9b31m", "\\x9b31m"),  # CSI as one C1 character
        ("\u202eevil\u2066", "\\u202eevil\\u2066"),
        ("line\u2028break", "line\\u2028break"),
        ("bad byte \udcff", "bad byte \\xff"),  # os.fsdecode's form of an undecodable byte
    ],
)
def test_printable_shows_what_a_terminal_would_obey(text: str, shown: str) -> None:
    assert printable(text) == shown


@pytest.fixture
def hostile_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_tree(
        tmp_path,
        {
            "leaf.md": card_text(HOSTILE, status="failed"),
            "goal.md": card_text("Goal\r\x1b[2K", status="active", requires=["leaf"]),
        },
    )
    runtime = tmp_path / ".mikado"
    runtime.mkdir()
    failure = {
        "time": "2026-01-03T10:00:00+00:00",
        "event": "card-end",
        "stem": "leaf",
        "outcome": "failed",
        "error": "zot: 500: \x1b]52;c;Y2xpcGJvYXJk\x07 clipboard write",
    }
    (runtime / "journal.jsonl").write_text(json.dumps(failure) + "\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("args", [(), ("goal",)], ids=["table", "tree"])
def test_status_escapes_control_characters(
    hostile_tree: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...]
) -> None:
    assert run_cli(["status", *args]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\r" not in out and "\u202e" not in out
    assert "Goal\\r\\x1b[2K" in out
    if args:  # the tree shows every card's title and the failure
        assert printable(HOSTILE) in out
        assert "\\x1b]52;c;Y2xpcGJvYXJk\\x07 clipboard write" in out


def test_status_json_keeps_the_data(hostile_tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["status", "goal", "--format", "json"]) == 0
    (chain,) = json.loads(capsys.readouterr().out)["chains"]
    assert [card["title"] for card in chain["cards"]] == [HOSTILE, "Goal\r\x1b[2K"]


def test_run_progress_escapes_stems_errors_and_notes() -> None:
    lines: list[str] = []
    progress = ConsoleProgress(enabled=True, echo=lines.append, marks=MARKS)
    progress.finished("st\x1bem", Outcome.FAILED, 1.5, "HTTP 500: \x1b]0;x\x07\rdone")
    progress.note("a note \x1b[2J")
    assert not any(char in "".join(lines) for char in "\x1b\x07\r")
    assert "st\\x1bem: " in lines[0] and lines[0].endswith(": HTTP 500: \\x1b]0;x\\x07\\rdone")
    assert lines[1] == "a note \\x1b[2J"
