"""Finding the docs of a tree: every ``*.md`` below the root (docs/reference.md#cards).

Hidden folders and the configured excludes are skipped; symbolic links are followed only while
they stay inside the root, and a folder reached twice through links is walked once.
"""

from __future__ import annotations

import array
import os
import struct
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mikado.errors import ConfigError

# What identifies a file's content without reading it: size, mtime_ns, ctime_ns and inode,
# packed into 32 bytes (a tuple of four ints takes five times the memory, at 100,000 docs that
# is 20 MB). ctime cannot be set by a program, so a same-size edit with its mtime put back
# still shows.
StatKey = bytes
_KEY = struct.Struct("<qqqQ")


def stat_key(size: int, mtime_ns: int, ctime_ns: int, inode: int) -> StatKey:
    return _KEY.pack(size, mtime_ns, ctime_ns, inode)


def key_fields(key: StatKey) -> tuple[int, int, int, int]:
    """``(size, mtime_ns, ctime_ns, inode)``."""
    size, mtime_ns, ctime_ns, inode = _KEY.unpack(key)
    return size, mtime_ns, ctime_ns, inode


def newest_change(keys: Iterable[StatKey]) -> int:
    """The latest mtime or ctime among ``keys`` (at least one), read in one pass."""
    fields = array.array("q", b"".join(keys))  # size, mtime_ns, ctime_ns, inode, size, ...
    if sys.byteorder == "big":
        fields.byteswap()
    return max(max(fields[1::4]), max(fields[2::4]))


@dataclass(frozen=True, slots=True)
class Walk:
    """The docs (paths relative to the root, ``/``, sorted) and, when asked for, each doc's
    :data:`StatKey` and the names of the tree's other files (what embeds may name)."""

    paths: list[str]
    stats: dict[str, StatKey]
    files: frozenset[str]


def discover(root: Path, excluded: frozenset[str] = frozenset()) -> list[str]:
    """Paths of the docs relative to ``root``, with ``/``, sorted.

    An entry of ``excluded`` with a ``/`` names one folder by its path from the root; a bare
    name skips every folder of that name (as ``changelog.d`` is skipped wherever it is).
    """
    return walk(root, excluded).paths


def walk(
    root: Path,
    excluded: frozenset[str] = frozenset(),
    *,
    stat: bool = False,
    files: bool = False,
) -> Walk:
    """Walk the tree once (see :func:`discover`); ``stat`` and ``files`` add what caching and
    embed checks need, at one ``stat`` per doc and no extra cost respectively."""
    if not root.is_dir():
        raise ConfigError(f"docs folder {root} does not exist (set `docs` or pass --docs DIR)")
    real_root = os.path.realpath(root)
    inside = real_root.rstrip(os.sep) + os.sep
    # Folders by inode: DirEntry.inode() is free for plain folders, so only links cost a stat.
    seen = {os.stat(root).st_ino}
    found: list[str] = []
    stats: dict[str, StatKey] = {}
    others: set[str] = set()
    # An explicit stack instead of recursion: a deep tree must not hit the recursion limit.
    stack: list[tuple[str, str]] = [(str(root), "")]
    # Linked folders wait until every real folder is walked, so a link into the tree never wins
    # over the real path (which would list the same docs twice, as duplicate stems).
    linked: list[tuple[int, str, str]] = []
    while stack or linked:
        if not stack:
            inode, path, rel = linked.pop()
            if inode not in seen:
                seen.add(inode)
                stack.append((path, rel + "/"))
            continue
        folder, prefix = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue  # unreadable folder: nothing we can list; `check` reports missing links
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            rel = prefix + name
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir()  # follows links
                is_file = not is_dir and entry.is_file()
            except OSError:
                continue
            if is_link:
                target = os.path.realpath(entry.path)
                if not (target + os.sep).startswith(inside):
                    continue  # leaves the docs root
                if is_dir:
                    if name not in excluded and rel not in excluded:
                        linked.append((os.stat(target).st_ino, entry.path, rel))
                    continue
            if is_dir:
                if name in excluded or rel in excluded:
                    continue
                seen.add(entry.inode())
                stack.append((entry.path, rel + "/"))
            elif is_file and name.endswith(".md"):
                found.append(rel)
                if stat:
                    try:
                        info = entry.stat()
                    except OSError:
                        continue  # vanished since it was listed
                    stats[rel] = _KEY.pack(
                        info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino
                    )
            elif is_file and files:
                others.add(name)
    found.sort()
    return Walk(found, stats, frozenset(others))
