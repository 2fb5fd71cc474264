"""Scanning many docs on every core.

Reading a doc is CPU work (YAML, link scanning), so a large tree is split into chunks scanned by
forked worker processes; a small one is scanned in this process, where forking would cost more
than it saves.

A chunk comes back as marshalled lists (see :class:`Batch`): the cache record of the docs the
cache may keep, which the worker appends to the cache file itself when it can, and the rows of
every doc. With a link check, each doc's links are resolved in the worker too, and the rows
carry no targets. Marshal is the cache's own format and loads faster than pickle; the pool's
result thread only passes bytes on. The workers get the paths, cache keys and link tree by
forking, so a task is two numbers.
"""

from __future__ import annotations

import contextlib
import gc
import marshal
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mikado.checks.links import LinkCheck, LinkTally
from mikado.tree.cache import append_record, encode, open_for_append
from mikado.tree.discover import StatKey
from mikado.tree.scan import Row, ScanOptions, read_docs, to_row, without_links

# Below this many docs to read, one process is faster: forking and feeding a pool costs about
# as much as reading a few hundred docs.
POOL_MIN_DOCS = 600
CHUNK = 256

# The key a doc's row may be cached under, given its path and the key of the file as it was
# read (None when it could not be); None when the row may not be cached.
CacheKey = Callable[[str, StatKey | None], StatKey | None]


@dataclass(frozen=True, slots=True)
class Batch:
    """One chunk of docs, read. ``cached`` is a cache record: the marshalled list of
    ``(path, key, row)`` of the docs the cache may keep; ``None`` when the worker appended it
    to the cache file itself, and ``broken`` when it failed to (that file cannot be used).
    ``rows`` is the marshalled list of the row of every doc, in the chunk's order; without
    link targets when a link check ran in the worker, and then ``links`` is the marshalled
    :class:`LinkTally` of the chunk. ``keys`` is the marshalled list of the key of each doc
    as it was read (see :func:`mikado.tree.scan.read_doc`), for a tree walked without them."""

    cached: bytes | None
    rows: bytes
    links: bytes | None
    keys: bytes
    broken: bool = False

    def scanned(self) -> list[Row]:
        """The row of each doc, in the order of the chunk's paths."""
        rows: list[Row] = marshal.loads(self.rows)
        return rows

    def read_keys(self) -> list[StatKey | None]:
        """The key of each doc as it was read, in the order of the chunk's paths."""
        keys: list[StatKey | None] = marshal.loads(self.keys)
        return keys

    def links_into(self, tally: LinkTally) -> None:
        if self.links is not None:
            tally.merge(marshal.loads(self.links))


@dataclass(frozen=True, slots=True)
class _Job:
    root: Path
    paths: Sequence[str]
    options: ScanOptions
    cache_key: CacheKey
    link_check: LinkCheck | None
    cache_file: str | None  # where workers append the cache records of their chunks
    # The linked stems already sent by this process: each is sent once, not once per chunk
    # linking it (1.3 million strings to hash into one set at 100,000 docs).
    linked_sent: set[str] = field(default_factory=set)


_job: _Job | None = None
_cache_fd: int | None = None


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def scan_batches(
    root: Path,
    paths: Sequence[str],
    options: ScanOptions,
    cache_key: CacheKey,
    link_check: LinkCheck | None = None,
    cache_file: str | None = None,
) -> Iterator[Batch]:
    """The rows of ``paths`` in batches, in their order; with ``link_check``, the links of
    each doc are resolved where it was read; with ``cache_file``, workers append the cache
    records there rather than send them (see :class:`Batch`)."""
    job = _Job(root, paths, options, cache_key, link_check, cache_file)
    ranges = [(start, min(start + CHUNK, len(paths))) for start in range(0, len(paths), CHUNK)]
    jobs = min(cores(), len(paths) // (POOL_MIN_DOCS // 2) or 1)
    if jobs <= 1 or len(paths) < POOL_MIN_DOCS or not _can_fork():
        for start, stop in ranges:
            yield Batch(*_scan(job, start, stop))
        return
    # Objects that exist now are never collected by the workers' GC passes (there are none:
    # see _start), and frozen ones are not touched by ours, so forked pages stay shared.
    gc.freeze()
    try:
        context = multiprocessing.get_context("fork")
        # A forked worker inherits the initializer's arguments: nothing here is pickled.
        with context.Pool(jobs, initializer=_start, initargs=(job,)) as pool:
            for cached, rows, links, keys, broken in pool.imap(_scan_range, ranges):
                yield Batch(cached, rows, links, keys, broken)
    finally:
        gc.unfreeze()


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Cyclic GC off while a large acyclic structure is built: each pass would walk every
    object made so far (at 100,000 docs the passes cost a third of building the scans)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _start(job: _Job) -> None:
    global _job, _cache_fd
    _job = job
    _cache_fd = open_for_append(job.cache_file) if job.cache_file is not None else None
    # A worker makes short-lived acyclic objects only: cyclic GC passes would be pure cost.
    gc.disable()


def _scan_range(
    bounds: tuple[int, int],
) -> tuple[bytes | None, bytes, bytes | None, bytes, bool]:
    assert _job is not None
    cached, rows, links, keys = _scan(_job, *bounds)
    if _cache_fd is None:
        return cached, rows, links, keys, False
    # Straight to the cache file: 60 MB at 100k docs need not go through the pool's pipe
    # and be written by the main process.
    return None, rows, links, keys, not append_record(_cache_fd, cached)


def _scan(job: _Job, start: int, stop: int) -> tuple[bytes, bytes, bytes | None, bytes]:
    cached: list[tuple[str, StatKey, Row]] = []
    root, options, cache_key, link_check = job.root, job.options, job.cache_key, job.link_check
    tally = LinkTally()
    paths = job.paths[start:stop]
    scans = read_docs(root, paths, options)
    # Each step over the whole chunk before the next, as read_docs does (it is faster).
    rows = [to_row(scan) for scan, _ in scans]
    keys = [read_key for _, read_key in scans]
    for path, read_key, row in zip(paths, keys, rows, strict=True):
        key = cache_key(path, read_key)
        if key is not None:
            cached.append((path, key, row))
    if link_check is not None:
        for path, (scan, _) in zip(paths, scans, strict=True):
            link_check.doc(tally, path, scan.card.stem, scan.targets or (), scan.suspect)
        rows = [without_links(row) for row in rows]
    links = None
    if link_check is not None:
        tally.linked -= job.linked_sent
        job.linked_sent.update(tally.linked)
        links = encode(tally.encode())
    return encode(cached), encode(rows), links, encode(keys)
