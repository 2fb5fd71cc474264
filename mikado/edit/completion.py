"""A card's status, as the engine and `mikado done` write it (docs/reference.md#run): the
status line and the day the card changed, nothing else."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from mikado.edit.editor import edit_card


def set_status(path: Path, status: str, today: date) -> None:
    """Mark the card ``running``, ``failed`` or ``active``."""
    edit_card(path, set={"status": status, "modified": today})


def complete(path: Path, completion: str, today: date) -> None:
    """Complete the card as the configuration's ``completion`` says: ``status`` removed, or
    ``status: done``."""
    if completion == "done":
        edit_card(path, set={"status": "done", "modified": today})
    else:
        edit_card(path, set={"modified": today}, remove=["status"])
