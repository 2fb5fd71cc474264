"""A broken environment around the cards: the current folder deleted, the runtime folder or its
run lock replaced by something else, a lab state naming a port no TCP port can be. Each is for
a person to fix, so the real command says what is wrong in one line and exits 2 (usage and
configuration problems, docs/reference.md#exit-codes): no traceback, no "internal error", no
crash report to file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from treebuilder import card_text, run_mikado, write_tree

PROJECT = Path(__file__).resolve().parents[2]

# The commands that touch the runtime folder (lock, journal, cache), with what they need.
COMMANDS = [
    ("status",),
    ("next",),
    ("run", "goal", "--yes"),
    ("done", "leaf"),
    ("new", "extra", "--title", "Extra", "--required-by", "goal"),
    ("finalize", "goal"),
]


@pytest.fixture
def cards(tmp_path: Path) -> Path:
    """A sound two-card chain (no action modules: `run` would stop at a manual card)."""
    write_tree(
        tmp_path,
        {
            "leaf.md": card_text("Leaf", status="active"),
            "goal.md": card_text("Goal", status="active", requires=["leaf"]),
        },
    )
    return tmp_path


def assert_one_line(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mikado: "), result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    for needle in needles:
        assert needle in lines[0]


@pytest.mark.parametrize("command", [("check",), *COMMANDS, ("lab", "serve")], ids=" ".join)
def test_a_deleted_current_folder_is_named_not_a_crash(
    cards: Path, command: tuple[str, ...]
) -> None:
    gone = cards / "gone"
    gone.mkdir()
    # The shell enters the folder and deletes it; mikado then starts in a folder that is no
    # more, as after `rm -rf` of the folder a terminal sits in. Before: a FileNotFoundError,
    # then a second traceback from the crash report, which needs the current folder too.
    shell = 'cd "$1" && rmdir "$1" && shift && exec "$@"'
    result = subprocess.run(
        ["sh", "-c", shell, "sh", str(gone), sys.executable, "-m", "mikado", *command],
        cwd=cards,
        env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(PROJECT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert_one_line(result, "current folder no longer exists")


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_file_where_the_runtime_folder_goes(cards: Path, command: tuple[str, ...]) -> None:
    (cards / ".mikado").write_text("not a folder\n")
    assert_one_line(run_mikado(*command, cwd=cards), str(cards / ".mikado"), "not a folder")
    assert (cards / ".mikado").read_text() == "not a folder\n"


def test_check_without_a_runtime_folder_only_loses_its_cache(cards: Path) -> None:
    expected = run_mikado("check", cwd=cards)
    (cards / ".mikado").rename(cards / "runtime-was-here")
    (cards / ".mikado").write_text("not a folder\n")
    result = run_mikado("check", cwd=cards)
    assert (result.returncode, result.stdout, result.stderr) == (
        expected.returncode,
        expected.stdout,
        expected.stderr,
    )


@pytest.mark.parametrize("kind", ["folder", "fifo"])
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_run_lock_that_is_not_a_file(cards: Path, command: tuple[str, ...], kind: str) -> None:
    lock = cards / ".mikado" / "run.lock"
    lock.parent.mkdir()
    if kind == "folder":
        lock.mkdir()
    else:
        os.mkfifo(lock)  # opening it to read would wait for a writer for ever
    what = "it is a folder" if kind == "folder" else "it is not a regular file"
    assert_one_line(run_mikado(*command, cwd=cards), str(lock), what)


@pytest.mark.parametrize("port", [99999, -1])
def test_a_lab_port_no_tcp_port_can_be(cards: Path, port: int) -> None:
    from mikado.lab.emulators.releases import LabVersions
    from mikado.lab.workspace import LabSecrets, LabState, ServicePorts, Workspace

    workspace = cards / "lab-workspace"
    Workspace(workspace).write_state(
        LabState(
            ports=ServicePorts(zot=port),
            secrets=LabSecrets.generate(),
            versions=LabVersions(),
            sources=None,
        )
    )
    result = run_mikado("lab", "serve", "--workspace", workspace, cwd=cards)
    assert_one_line(result, "lab.json", f"zot port as {port}")
