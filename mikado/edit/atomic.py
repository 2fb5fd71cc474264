"""Durable whole-file replacement: a reader (or a crash) sees the old file or the new one, never
half of either (docs/reference.md#run).

The new content goes to a hidden temporary file in the same folder (hidden, so a crash leaving
it behind never turns it into a doc), is flushed and fsynced, takes the old file's mode, and is
renamed over the target; the folder is then fsynced so the rename itself survives power loss.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

_umask: int | None = None


def _default_mode() -> int:
    # os.umask can only be read by setting it; do that once, before any worker thread exists.
    global _umask
    if _umask is None:
        _umask = os.umask(0o022)
        os.umask(_umask)
    return 0o666 & ~_umask


def write_atomic(
    path: Path, data: bytes, *, exclusive: bool = False, mode: int | None = None
) -> None:
    """Replace (or create) ``path`` with ``data``, durably.

    The file keeps its mode (a new one gets the umask's), unless ``mode`` is given: a file
    holding a secret must never exist, even for a moment, with wider permissions. With
    ``exclusive``, refuse to replace an existing file (``FileExistsError``): the rename is done
    with ``link`` + ``unlink`` so two writers racing for a new name cannot both win.
    """
    folder = path.parent
    try:
        current = stat.S_IMODE(os.stat(path).st_mode)
        if exclusive:
            raise FileExistsError(f"{path} already exists")
    except FileNotFoundError:
        current = _default_mode()
    mode = current if mode is None else mode
    fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fchmod(stream.fileno(), mode)
            os.fsync(stream.fileno())
        if exclusive:
            os.link(temp, path)
            os.unlink(temp)
        else:
            os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    fsync_folder(folder)


def fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
