"""Durable whole-file replacement: a reader (or a crash) sees the old file or the new one, never
half of either (docs/reference.md#run).

The new content goes to a hidden temporary file in the same folder (hidden, so a crash leaving
it behind never turns it into a doc), is flushed and fsynced, takes the old file's mode, and is
renamed over the target; the folder is then fsynced so the rename itself survives power loss.

A symbolic link is written through: its target is replaced and the link stays a link, pointing
where it did. A writer killed between creating its temporary file and the rename leaves that
file behind; its name carries the writer's pid, so the next write into the folder can tell such
a leftover from a write in flight and remove it.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import time
from pathlib import Path

_umask: int | None = None

# A temporary file lives for the milliseconds between its creation and the rename; one this old
# whose writer is gone (or unknown) was left by a writer that was killed.
STALE_AFTER = 60.0
# `.{name}.mikado-{pid}.{random}.tmp`, and `.{name}.{random}.tmp` as names were made before
# they carried a marker and the pid. `random` is what tempfile.mkstemp adds: eight of
# [a-z0-9_]. `name` is the file's, cut short when it is long (see _temporary_prefix); the sweep
# also wants a file of that name beside it, so a person's own `.notes.my_draft.tmp` is no
# temporary of ours.
_TEMPORARY = re.compile(r"\.(?P<name>.+?)\.(?:mikado-(?P<pid>[0-9]+)\.)?[a-z0-9_]{8}\.tmp\Z")
# Room left in a 255-byte file name for the marker, the pid and mkstemp's part.
_NAME_BYTES = 200
_swept: set[str] = set()  # folders this process has swept already


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
    with ``link`` + ``unlink`` so two writers racing for a new name cannot both win. When
    ``path`` is a symbolic link (and not ``exclusive``: a new file is never created through a
    link), the file it leads to is replaced and the link kept.
    """
    if not exclusive and os.path.islink(path):
        # Renaming over the link would turn it into a regular file and leave its target stale.
        path = Path(os.path.realpath(path))
    folder = path.parent
    _sweep_once(folder)
    try:
        current = stat.S_IMODE(os.stat(path).st_mode)
        if exclusive:
            raise FileExistsError(f"{path} already exists")
    except FileNotFoundError:
        if exclusive and os.path.islink(path):
            raise FileExistsError(f"{path} is a link") from None
        current = _default_mode()
    mode = current if mode is None else mode
    fd, temp = tempfile.mkstemp(dir=folder, prefix=_temporary_prefix(path.name), suffix=".tmp")
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


def _temporary_prefix(name: str) -> str:
    # A card's name may already be near the 255-byte limit; its temporary's must fit too.
    short = name.encode("utf-8", "surrogateescape")[:_NAME_BYTES].decode("utf-8", "ignore")
    return f".{short}.mikado-{os.getpid()}."


def fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sweep_once(folder: Path) -> None:
    # Once per folder and process: a run writes the same cards many times, and a leftover can
    # only appear when some writer is killed, which a live process notices by not being it.
    key = os.path.abspath(folder)
    if key not in _swept:
        _swept.add(key)
        sweep_temporaries(folder)


def sweep_temporaries(folder: Path, *, older_than: float = STALE_AFTER) -> list[str]:
    """Remove the temporary files killed writers left in ``folder``: names of the form
    :func:`write_atomic` makes, last changed over ``older_than`` seconds ago, whose writer
    (when the name says which) is no longer running. Returns the names removed; a folder that
    cannot be listed, or a file that cannot be removed, is left as it is."""
    removed: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    names = {entry.name for entry in entries}
    for entry in entries:
        found = _TEMPORARY.match(entry.name)
        if found is None or not _beside_its_file(found, names):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            if now - entry.stat(follow_symlinks=False).st_mtime < older_than:
                continue
            pid = found.group("pid")
            if pid is not None and _running(int(pid)):
                continue
            os.unlink(entry.path)
        except OSError:
            continue
        removed.append(entry.name)
    return removed


def _beside_its_file(found: re.Match[str], names: set[str]) -> bool:
    """Whether the file the temporary was for is there: by its whole name for the old form,
    which a person's own `.notes.my_draft.tmp` could match, by the start of it (a long name is
    cut short) for the marked form."""
    name = found.group("name")
    if found.group("pid") is None:
        return name in names
    return any(other.startswith(name) and other != found.group() for other in names)


def _running(pid: int) -> bool:
    """Whether a process ``pid`` exists (it may be another program by now: then the leftover is
    kept a while longer, which is harmless)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True  # another user's process
    except (ProcessLookupError, OverflowError):
        return False  # none, or a pid no system has
    return True
