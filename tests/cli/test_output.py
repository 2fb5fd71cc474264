"""Printing for the command line: the status line shown while docs are read, colour, and
how hints name the command."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from terminal import on_a_terminal
from treebuilder import card_text

from mikado.cli.output import StatusLine, as_run, colour_enabled, command_name


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_status_line_is_rewritten_in_place_and_cleared(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = iter([0.0, 0.05, 0.2, 0.21])
    monkeypatch.setattr("mikado.cli.output.time.monotonic", lambda: next(clock))
    screen = Terminal()
    with StatusLine("reading docs", stream=screen, min_total=10) as progress:
        progress(0, 12_345)
        progress(100, 12_345)  # 50 ms later: not worth a redraw
        progress(6_000, 12_345)
        progress(12_345, 12_345)  # the end is always shown
    assert screen.getvalue() == (
        "\rreading docs 0 / 12,345"
        "\rreading docs 6,000 / 12,345"
        "\rreading docs 12,345 / 12,345"
        "\r" + " " * len("reading docs 12,345 / 12,345") + "\r"
    )


@pytest.mark.parametrize("terminal", [False, True])
def test_no_status_line_off_a_terminal_or_for_small_work(terminal: bool) -> None:
    screen = Terminal() if terminal else io.StringIO()
    with StatusLine("reading docs", stream=screen, min_total=2000) as progress:
        progress(10, 1999 if terminal else 50_000)
    assert screen.getvalue() == ""


@pytest.mark.parametrize(
    ("environ", "coloured"),
    [
        ({"TERM": "xterm-256color"}, True),
        ({"TERM": "dumb"}, False),
        ({"TERM": "xterm", "NO_COLOR": "1"}, False),
        ({}, True),
    ],
)
def test_colour_only_on_a_terminal_that_shows_it(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], coloured: bool
) -> None:
    monkeypatch.delenv("TERM", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert colour_enabled(Terminal()) is coloured
    assert colour_enabled(io.StringIO()) is False


def test_a_dumb_terminal_gets_no_escape_codes(tmp_path: Path) -> None:
    docs = tmp_path / "cards"
    docs.mkdir()
    (docs / "g.md").write_text(card_text("G", status="active"))
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    assert "\x1b[" in on_a_terminal(["status"], tmp_path, {**env, "TERM": "xterm"})
    assert "\x1b[" not in on_a_terminal(["status"], tmp_path, {**env, "TERM": "dumb"})


def test_hints_name_the_command_as_the_person_can_run_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_folder = tmp_path / "venv" / "bin"
    bin_folder.mkdir(parents=True)
    script = bin_folder / "mikado"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", "/nowhere")
    assert command_name("venv/bin/mikado") == "venv/bin/mikado"
    assert command_name(str(script)) == str(script)
    monkeypatch.setenv("PATH", str(bin_folder))
    assert command_name(str(script)) == "mikado"  # what the shell finds anyway
    assert command_name("/usr/lib/python3/site-packages/mikado/__main__.py") == "mikado"
    assert command_name("/usr/bin/pytest") == "mikado"


def test_hints_the_core_writes_name_mikado_as_it_was_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """resume's next steps and the lab's closing lines are written with `mikado`; on their
    way to the screen they name the command the person can paste."""
    monkeypatch.setenv("PATH", "/nowhere")
    monkeypatch.setattr("sys.argv", [".venv/bin/mikado", "resume"])
    assert as_run("resume g: `git switch mikado/g`, then `mikado resume`") == (
        "resume g: `git switch mikado/g`, then `.venv/bin/mikado resume`"
    )
    assert as_run("Chain status: cd /tmp/ws && mikado status g") == (
        "Chain status: cd /tmp/ws && .venv/bin/mikado status g"
    )
    assert as_run("mikado: g failed") == "mikado: g failed"  # a message prefix, not a hint
    monkeypatch.setattr("sys.argv", ["/usr/bin/pytest"])
    assert as_run("then `mikado resume`") == "then `mikado resume`"
