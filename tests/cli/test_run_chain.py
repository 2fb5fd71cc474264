"""What `mikado run` says to a person adopting it: without configuration, when a card fails
off a terminal, where it names files and commands, and after `--recheck`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from chain_fixtures import RECORDING_ACTION, make_tree, subprocess_env

FAILS = "def apply(ctx):\n    raise RuntimeError('registry said no')\n"
NEEDS_ZOT = """
SETTINGS = ("zot",)
def apply(ctx):
    raise RuntimeError("must not run")
"""


def test_without_configuration_the_refusal_names_the_action_and_the_way_forward(
    tmp_path: Path,
) -> None:
    tree = make_tree(tmp_path, {"goal": {}}, {"goal": NEEDS_ZOT})
    (tree.root / "mikado.toml").unlink()  # a first run: no configuration at all
    result = tree.mikado("run", "goal", "--dry-run")
    assert result.returncode == 2, result.stderr
    message = result.stderr.strip()
    assert message.startswith("mikado: no settings table [zot] (read by action `goal`)")
    assert "`mikado run GOAL --lab`" in message and "`mikado init`" in message
    assert "must not run" not in result.stdout + result.stderr


def test_a_failed_run_off_a_terminal_still_ends_with_the_counts(tmp_path: Path) -> None:
    tree = make_tree(
        tmp_path,
        {"a": {}, "b": {}, "goal": {"requires": ["a", "b"]}},
        {"a": RECORDING_ACTION, "b": FAILS, "goal": RECORDING_ACTION},
    )
    result = tree.mikado("run", "goal", "--yes")
    assert result.returncode == 1
    assert "mikado: b failed: RuntimeError: registry said no" in result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("goal: 1 done, 1 failed, 0 manual, 0 skipped, 1 waiting in ")


def test_recheck_says_the_complete_cards_held(tmp_path: Path) -> None:
    tree = make_tree(
        tmp_path,
        {"a": {"status": None}, "goal": {"requires": ["a"]}},
        {"a": RECORDING_ACTION, "goal": RECORDING_ACTION},
    )
    (tree.root / "effects.log").write_text("a\n")  # a's work is there: its check holds
    result = tree.mikado("run", "goal", "--yes", "--recheck")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("goal: 1 done, 0 failed, 0 manual, 0 skipped, 1 held")


def _console_script(folder: Path) -> Path:
    """A `mikado` like the one pip installs into a virtual environment's bin folder."""
    folder.mkdir(parents=True)
    script = folder / "mikado"
    script.write_text(f"#!{sys.executable}\nfrom mikado.cli import main\nmain()\n")
    script.chmod(0o755)
    return script


def test_hints_name_mikado_as_it_was_run_and_files_from_the_current_folder(
    tmp_path: Path,
) -> None:
    import subprocess

    tree = make_tree(tmp_path, {"a": {}, "goal": {"requires": ["a"]}}, {"a": RECORDING_ACTION})
    _console_script(tree.root / ".venv" / "bin")
    env = subprocess_env({"PATH": os.defpath})  # .venv/bin is not on PATH, as in the README
    result = subprocess.run(
        [".venv/bin/mikado", "run", "goal", "--yes"],
        cwd=tree.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 5, result.stderr
    assert "mikado: goal is done by hand (cards/work/goal.md)" in result.stdout
    assert "then run `.venv/bin/mikado done goal` and `.venv/bin/mikado run goal` again" in (
        result.stdout
    )
