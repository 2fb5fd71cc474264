"""Printing for the command line: the status line shown while docs are read."""

from __future__ import annotations

import io

import pytest

from mikado.cli.output import StatusLine


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
