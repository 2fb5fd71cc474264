"""Several files changed as one: every new content is computed (and so checked) before the first
write, and a write that fails puts back the files written before it (docs/reference.md#commands,
`new`).

Each file is still replaced atomically (:func:`mikado.edit.atomic.write_atomic`); what this adds
is that a command editing four files never leaves two of them edited. Undoing is best effort: the
error that stopped the writes is what is raised, with a note naming any file that could not be
put back.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from mikado.edit.atomic import write_atomic
from mikado.errors import CardEditError


@dataclass(slots=True)
class _File:
    path: Path
    old: bytes | None  # None: a file this plan creates
    new: bytes


class Changes:
    """New contents of files, planned in memory, then written in the order first planned."""

    def __init__(self) -> None:
        self._files: dict[Path, _File] = {}

    def read(self, path: Path) -> bytes:
        """The content ``path`` will have: as planned so far, else as it is now."""
        planned = self._files.get(path)
        if planned is not None:
            return planned.new
        try:
            return path.read_bytes()
        except OSError as exc:
            raise CardEditError(f"cannot read: {exc.strerror or exc}", path=str(path)) from None

    def replace(self, path: Path, data: bytes) -> None:
        """Plan ``path`` (an existing file) to hold ``data``."""
        planned = self._files.get(path)
        if planned is not None:
            planned.new = data
        else:
            self._files[path] = _File(path, self.read(path), data)

    def create(self, path: Path, data: bytes) -> None:
        """Plan a new file ``path`` holding ``data``; writing it fails with
        :class:`FileExistsError` if something is there by then (nothing is overwritten)."""
        if os.path.lexists(path):
            raise FileExistsError(f"{path} already exists")
        self._files[path] = _File(path, None, data)

    def apply(self) -> list[Path]:
        """Write every planned change; returns the paths that changed. On any error the files
        written so far get their old content back (new ones and the folders made for them are
        removed) and the error is raised."""
        done: list[tuple[_File, list[Path]]] = []
        current: tuple[_File, list[Path]] | None = None
        try:
            for planned in self._files.values():
                if planned.old == planned.new:
                    continue
                if planned.old is None:
                    current = planned, _make_folders(planned.path.parent)
                    write_atomic(planned.path, planned.new, exclusive=True)
                else:
                    current = planned, []
                    write_atomic(planned.path, planned.new)
                done.append(current)
                current = None
        except BaseException as exc:
            undo = list(reversed(done))
            if current is not None:
                # The write that failed may have failed after its rename (the folder's fsync):
                # an old file is written back all the same; a new one is removed only when it
                # holds what this plan wrote (after FileExistsError it is someone else's).
                planned, made = current
                if planned.old is not None or (
                    not isinstance(exc, FileExistsError) and _holds(planned.path, planned.new)
                ):
                    undo.insert(0, current)
                else:
                    _remove_folders(made)
            for planned, made in undo:
                try:
                    _undo(planned, made)
                except OSError as problem:
                    exc.add_note(f"could not put back {planned.path}: {problem}")
            raise
        return [planned.path for planned, _ in done]


def _holds(path: Path, data: bytes) -> bool:
    try:
        return path.read_bytes() == data
    except OSError:
        return False


def _undo(planned: _File, made: list[Path]) -> None:
    if planned.old is not None:
        write_atomic(planned.path, planned.old)
    else:
        os.unlink(planned.path)
    _remove_folders(made)


def _remove_folders(made: list[Path]) -> None:
    for folder in made:  # deepest first; one holding anything else stays
        with contextlib.suppress(OSError):
            folder.rmdir()


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; returns the ones created, deepest first."""
    missing: list[Path] = []
    current = folder
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):
            path.mkdir()
    return missing
