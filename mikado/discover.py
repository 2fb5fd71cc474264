"""Finding the docs of a tree: every ``*.md`` below the root (SPEC §1).

Hidden folders and the configured excludes are skipped; symbolic links are followed only while
they stay inside the root, and a folder reached twice through links is walked once.
"""

from __future__ import annotations

import os
from pathlib import Path

from mikado.errors import ConfigError


def discover(root: Path, excluded: frozenset[str] = frozenset()) -> list[str]:
    """Paths of the docs relative to ``root``, with ``/``, sorted.

    An entry of ``excluded`` with a ``/`` names one folder by its path from the root; a bare
    name skips every folder of that name (as ``changelog.d`` is skipped wherever it is).
    """
    if not root.is_dir():
        raise ConfigError(f"docs folder {root} does not exist (set `docs` or pass --docs DIR)")
    real_root = os.path.realpath(root)
    inside = real_root.rstrip(os.sep) + os.sep
    # Folders by inode: DirEntry.inode() is free for plain folders, so only links cost a stat.
    seen = {os.stat(root).st_ino}
    found: list[str] = []
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
    found.sort()
    return found
