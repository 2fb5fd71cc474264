"""The run lock (docs/reference.md#run): one run per tree, an OS lock that dies with its process.

``flock`` is released by the kernel when the holder exits, however it exits, so a crash never
leaves a stale lock behind; the file's content only says who holds it, for the message.

A lock path that cannot be a lock file (a folder, a pipe, ``.mikado`` itself a file, no
permission) is a :class:`~mikado.errors.ConfigError` (exit 2) saying what is in the way: a
broken environment for a person to fix, not a crash for them to report. The file is opened
without blocking and checked to be a regular file first, so a pipe cannot hang ``status``.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import stat
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from mikado.config import ensure_runtime
from mikado.errors import ConfigError, LockHeld

LOCK_FILE = "run.lock"
# A reader probing the lock holds it for microseconds; a run retries this long so a concurrent
# `mikado status` can never make it fail with "locked".
ACQUIRE_PATIENCE = 0.5


@dataclass(frozen=True, slots=True)
class LockInfo:
    pid: int
    host: str
    started: str

    def describe(self) -> str:
        return f"process {self.pid} on {self.host}, running since {self.started}"


def _read_info(stream: IO[str]) -> LockInfo | None:
    stream.seek(0)
    try:
        data = json.loads(stream.read() or "{}")
        return LockInfo(int(data["pid"]), str(data["host"]), str(data["started"]))
    except (ValueError, KeyError, TypeError):
        return None


def holder(runtime: Path) -> LockInfo | None:
    """Who holds the lock now, or ``None`` when no live run does."""
    try:
        stream = _open_lock(runtime / LOCK_FILE, os.O_RDONLY)
    except FileNotFoundError:
        return None
    with stream:
        try:
            fcntl.flock(stream, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_info(stream) or LockInfo(0, "unknown host", "an unknown time")
        fcntl.flock(stream, fcntl.LOCK_UN)
        return None


def _open_lock(path: Path, flags: int) -> IO[str]:
    """The lock file opened with ``flags``; FileNotFoundError when it (or ``.mikado``) does
    not exist, :class:`ConfigError` when something else is in its way."""
    try:
        fd = os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise _unusable(path, error) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # a folder opens read-only, a pipe at all
        os.close(fd)
        raise _unusable(path, OSError(errno.EINVAL, "not a regular file"))
    os.set_blocking(fd, True)
    return open(fd, "r+" if flags & os.O_RDWR else "r", encoding="utf-8")


def _unusable(path: Path, error: OSError) -> ConfigError:
    if error.errno == errno.ENOTDIR or (path.parent.exists() and not path.parent.is_dir()):
        return ConfigError(
            f"cannot use the run lock {path}: {path.parent} is not a folder; move it away"
        )
    if path.is_dir() or error.errno == errno.EINVAL:
        kind = "a folder" if path.is_dir() else "not a regular file"
        return ConfigError(
            f"cannot use the run lock {path}: it is {kind}; remove it (mikado creates the "
            "lock file itself)"
        )
    return ConfigError(f"cannot use the run lock {path}: {error.strerror or error}")


class RunLock:
    """``with RunLock(runtime):`` holds the lock for a run, or raises :class:`LockHeld`."""

    def __init__(self, runtime: Path):
        self.path = runtime / LOCK_FILE
        self._stream: IO[str] | None = None

    def acquire(self) -> None:
        ensure_runtime(self.path.parent)
        stream = _open_lock(self.path, os.O_RDWR | os.O_CREAT)
        deadline = time.monotonic() + ACQUIRE_PATIENCE
        while True:
            try:
                fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    info = _read_info(stream)
                    stream.close()
                    who = info.describe() if info else "another process"
                    raise LockHeld(
                        f"another run holds the lock: {who} (lock file {self.path})"
                    ) from None
                time.sleep(0.02)
        stream.seek(0)
        stream.truncate()
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        stream.write(json.dumps(record))
        stream.flush()
        self._stream = stream

    def release(self) -> None:
        if self._stream is not None:
            self._stream.seek(0)
            self._stream.truncate()
            fcntl.flock(self._stream, fcntl.LOCK_UN)
            self._stream.close()
            self._stream = None

    def fileno(self) -> int | None:
        """The locked file's descriptor while the lock is held: a process that keeps a
        duplicate open keeps the lock held after this one dies (an action's process does)."""
        return self._stream.fileno() if self._stream is not None else None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
