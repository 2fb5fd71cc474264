"""Scanning many docs on every core.

Reading a doc is CPU work (YAML, link scanning), so a large tree is split into chunks scanned by
forked worker processes; a small one is scanned in this process, where forking would cost more
than it saves. Workers send back plain rows (see :func:`mikado.scan.to_row`), which pickle
small and fast.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from mikado.scan import Row, ScanOptions, scan_doc, to_row

# Below this many docs to read, one process is faster: forking and feeding a pool costs about
# as much as reading a few hundred docs.
POOL_MIN_DOCS = 600
CHUNK = 256

_root: Path | None = None
_options: ScanOptions | None = None


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def scan_rows(root: Path, paths: Sequence[str], options: ScanOptions) -> Iterator[Row]:
    """Rows for ``paths``, in their order."""
    jobs = min(cores(), len(paths) // (POOL_MIN_DOCS // 2) or 1)
    if jobs <= 1 or len(paths) < POOL_MIN_DOCS or not _can_fork():
        for path in paths:
            yield to_row(scan_doc(root, path, options))
        return
    chunks = [paths[i : i + CHUNK] for i in range(0, len(paths), CHUNK)]
    # Objects that exist now are never collected by the workers' GC passes (there are none:
    # see _start), and frozen ones are not touched by ours, so forked pages stay shared.
    gc.freeze()
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(jobs, initializer=_start, initargs=(root, options)) as pool:
            for rows in pool.imap(_scan_chunk, chunks):
                yield from rows
    finally:
        gc.unfreeze()


def _start(root: Path, options: ScanOptions) -> None:
    global _root, _options
    _root, _options = root, options
    # A worker makes short-lived acyclic objects only: cyclic GC passes would be pure cost.
    gc.disable()


def _scan_chunk(paths: Sequence[str]) -> list[Row]:
    assert _root is not None and _options is not None
    return [to_row(scan_doc(_root, path, _options)) for path in paths]
