"""Scanning many docs on every core.

Reading a doc is CPU work (YAML, link scanning), so a large tree is split into chunks scanned by
forked worker processes; a small one is scanned in this process, where forking would cost more
than it saves.

A chunk comes back as marshalled lists (see :class:`Batch`): the cache record of the docs the
cache may keep, which the worker appends to the cache file itself when it can, and the rows of
every doc. With a link check, each doc's links are resolved in the worker too, and the rows
carry no targets. Marshal is the cache's own format and loads faster than pickle; the thread
that collects results only passes bytes on. The workers get the paths, cache keys and link tree
by forking, so a task is two numbers.

A worker can die (the out-of-memory killer picks the largest process; a person kills one):
``multiprocessing.Pool`` then replaces it but never hands its chunk out again, and waits for
that chunk forever. So the workers are driven here, each over its own pipe, watched through
its process sentinel: the chunks a dead worker held are read again in this process, with a
:class:`~mikado.tree.notices.TreeWarning`, and the command ends with the same result.
"""

from __future__ import annotations

import contextlib
import gc
import marshal
import multiprocessing
import os
import queue
import signal
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mikado.checks.links import LinkCheck, LinkTally
from mikado.tree.cache import append_record, encode, open_for_append
from mikado.tree.discover import StatKey
from mikado.tree.notices import warn
from mikado.tree.scan import Row, ScanOptions, read_docs, to_row, without_links

if TYPE_CHECKING:  # imported where used: 14 ms of start-up that a warm or small run never needs
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

# Below this many docs to read, one process is faster: forking and feeding a pool costs about
# as much as reading a few hundred docs.
POOL_MIN_DOCS = 600
CHUNK = 256
# Chunks handed to a worker before it returns one: it starts the next as soon as it has sent
# a result, without waiting for this process to answer. Two keep every worker busy; more
# would only leave more chunks queued behind a slow worker at the end.
AHEAD = 2

# The key a doc's row may be cached under, given its path and the key of the file as it was
# read (None when it could not be); None when the row may not be cached.
CacheKey = Callable[[str, StatKey | None], StatKey | None]

# What a worker sends for one chunk: the fields of a Batch (see _scan_range).
_Result = tuple[bytes | None, bytes, bytes | None, bytes, bool]


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
        with _Workers(job, ranges, jobs) as workers:
            for index, (start, stop) in enumerate(ranges):
                result = workers.result(index)
                if result is None:
                    # Lost with its worker: read here. Whether the dead worker appended the
                    # chunk's record to the cache file is unknown, so that file is not kept
                    # (it could hold the chunk twice).
                    cached, rows, links, keys = _scan(job, start, stop)
                    broken = cache_file is not None
                    result = (None if broken else cached), rows, links, keys, broken
                yield Batch(*result)
    finally:
        gc.unfreeze()


class _Workers:
    """``jobs`` forked processes reading chunks, each fed over its own pipe by a thread of this
    process, which hands out chunks, collects results and sees a worker die (its process
    sentinel becomes ready). :meth:`result` gives a chunk's result, or ``None`` when it was
    lost (its worker died, or failed on it): the caller reads that chunk itself."""

    def __init__(self, job: _Job, ranges: Sequence[tuple[int, int]], jobs: int):
        import threading

        self._ranges = ranges
        self._done: dict[int, _Result | None] = {}
        self._arrivals: queue.SimpleQueue[tuple[int, _Result | None] | BaseException] = (
            queue.SimpleQueue()
        )
        self._losses: list[str] = []  # how each worker that was lost went, for the warning
        self._warned = False
        self._stopping = False
        context = multiprocessing.get_context("fork")
        self._workers: list[tuple[BaseProcess, Connection]] = []
        try:
            for _ in range(jobs):
                here, there = context.Pipe()
                # A forked worker inherits its arguments: nothing here is pickled. It closes
                # the pipes of the workers forked before it, which it inherited.
                others = [conn for _, conn in self._workers]
                process = context.Process(target=_serve, args=(job, there, others), daemon=True)
                process.start()
                there.close()
                self._workers.append((process, here))
        except BaseException:
            self._stop()
            raise
        # Started after every fork: a thread must not be running while this process forks.
        self._thread = threading.Thread(target=self._feed, name="mikado-scan", daemon=True)
        self._thread.start()

    def __enter__(self) -> _Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def result(self, index: int) -> _Result | None:
        """The result of chunk ``index``, waiting for it (results arrive in any order)."""
        while index not in self._done:
            arrival = self._arrivals.get()
            if isinstance(arrival, BaseException):  # the feeding thread itself failed
                raise arrival
            self._done[arrival[0]] = arrival[1]
        result = self._done.pop(index)
        if result is None and not self._warned:
            self._warned = True
            # One line per command: when one worker dies, others often follow (same memory).
            how = self._losses[0] if self._losses else "was lost"
            warn(f"a worker process reading docs {how}; the docs it held were read here again")
        return result

    def _feed(self) -> None:
        try:
            self._hand_out()
        except BaseException as error:  # never leave result() waiting for ever
            self._arrivals.put(error)

    def _hand_out(self) -> None:
        from multiprocessing.connection import Connection, wait

        pending = deque(range(len(self._ranges)))
        held: dict[Connection, deque[int]] = {}  # the chunks of each worker still at work
        sentinels: dict[int, tuple[BaseProcess, Connection]] = {}
        for process, conn in self._workers:
            held[conn] = deque()
            sentinels[process.sentinel] = (process, conn)
            self._give(conn, held, pending)
        while held and not self._stopping:
            for ready in wait([*held, *sentinels]):
                if isinstance(ready, Connection):
                    if ready not in held:
                        continue  # lost already (its sentinel came first)
                    if self._receive(ready, held[ready]):
                        self._give(ready, held, pending)
                    else:
                        self._lose(ready, held, "died (its pipe broke)")
                    continue
                assert isinstance(ready, int)
                process, conn = sentinels.pop(ready)
                if conn not in held:
                    continue  # it had finished its work and was told to stop
                # What it sent before it ended still counts.
                while held[conn] and _has_data(conn) and self._receive(conn, held[conn]):
                    pass
                process.join()
                self._lose(conn, held, _how_it_ended(process.exitcode))
            if not held:
                # No worker is left: whatever was not handed out is read here too.
                while pending:
                    self._arrivals.put((pending.popleft(), None))

    def _give(
        self, conn: Connection, held: dict[Connection, deque[int]], pending: deque[int]
    ) -> None:
        """Top up the chunks ``conn``'s worker holds, or tell it to end when it holds none and
        none are left."""
        chunks = held[conn]
        while pending and len(chunks) < AHEAD:
            index = pending.popleft()
            try:
                conn.send(self._ranges[index])
            except OSError:  # it died: its sentinel comes next, and its chunks are lost then
                pending.appendleft(index)
                return
            chunks.append(index)
        if not chunks:
            del held[conn]
            with contextlib.suppress(OSError):
                conn.send(None)

    def _receive(self, conn: Connection, held: deque[int]) -> bool:
        try:
            result = conn.recv()
        except (EOFError, OSError):
            return False
        index = held.popleft()
        if isinstance(result, str):  # the worker failed on this chunk; read it here
            self._losses.append(f"failed ({result})")
            result = None
        self._arrivals.put((index, result))
        return True

    def _lose(self, conn: Connection, held: dict[Connection, deque[int]], how: str) -> None:
        lost = held.pop(conn)
        if lost:
            self._losses.append(how)
        for index in lost:
            self._arrivals.put((index, None))

    def _stop(self) -> None:
        self._stopping = True
        for process, _ in self._workers:
            if process.is_alive() and process.exitcode is None:
                # Ends a worker still reading (the command stopped early, or failed).
                with contextlib.suppress(OSError):
                    process.terminate()
        for process, _ in self._workers:
            process.join()
        thread = getattr(self, "_thread", None)  # None when a fork failed
        if thread is not None:
            thread.join()  # it ends once every worker has: it waits on their sentinels
        for _, conn in self._workers:
            conn.close()


def _has_data(conn: Connection) -> bool:
    try:
        return conn.poll()
    except (EOFError, OSError):
        return False


def _how_it_ended(code: int | None) -> str:
    if code is not None and code < 0:
        if -code == signal.SIGKILL:
            return "died (killed by SIGKILL, as the out-of-memory killer does)"
        try:
            name = signal.Signals(-code).name
        except ValueError:  # a real-time signal has no name
            name = f"signal {-code}"
        return f"died (killed by {name})"
    return f"died (exit status {code})"


def _serve(job: _Job, conn: Connection, inherited: Sequence[Connection]) -> None:
    """A worker: read each chunk it is sent, send back its result, until told to stop."""
    for other in inherited:
        other.close()
    # Ctrl-C reaches the whole process group: the parent stops its workers itself. A SIGTERM
    # handler inherited from `mikado run` would keep a worker alive when it is told to end.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _start(job)
    while (bounds := conn.recv()) is not None:
        try:
            result: _Result | str = _scan_range(bounds)
        except Exception as error:  # the parent reads the chunk again, and raises it there
            result = f"{type(error).__name__}: {error}"
        conn.send(result)


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


def _scan_range(bounds: tuple[int, int]) -> _Result:
    assert _job is not None
    cached, rows, links, keys = _scan(_job, *bounds)
    if _cache_fd is None:
        return cached, rows, links, keys, False
    # Straight to the cache file: 60 MB at 100k docs need not go through the pipe and be
    # written by the main process.
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
