"""Running mikado the way a person does, on a terminal: a pseudo-terminal for its standard
streams, so colour and status lines appear as they would on screen."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

PROJECT = str(Path(__file__).resolve().parent.parent)


def on_a_terminal(args: list[str], cwd: Path, env: Mapping[str, str]) -> str:
    """What ``mikado ARGS`` writes to a terminal (its stdout and stderr, as the screen shows
    them)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "mikado", *args],
        cwd=cwd,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={**env, "PYTHONPATH": PROJECT},
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode()
