"""The scan cache in ``.mikado/cache/``: what reading each doc found, keyed by the doc's path
and :data:`~mikado.tree.discover.StatKey` (size, mtime_ns, ctime_ns, inode).

Safe to delete at any time, and never stale: a doc whose key differs is read again, and so is
a doc changed so recently that a second change in the same clock tick could hide behind an
equal key (git's "racily clean" problem). For that, the cache notes the filesystem's own clock
when a run starts (by writing a stamp file) and keeps no entry whose mtime or ctime is not
strictly older than it. Anything that changes what a scan yields (mikado's version or source,
the required fields) is part of the cache's context and discards it whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import mikado
from mikado.config import ensure_runtime
from mikado.tree.discover import StatKey, key_fields, newest_change
from mikado.tree.scan import Row

FORMAT = 2
BATCH = 4096  # entries per marshal record: keeps the bytes being written small
# Marshal's format 2: formats 3 and 4 mark objects for back-references, which makes loading a
# record twice as slow (13 µs a row instead of 6.5) for a sixth fewer bytes.
MARSHAL_VERSION = 2
_MAGIC = "mikado-scan-cache"

# The modules whose code decides what a scan or a check yields; their size and mtime join the
# context so that an edited mikado never trusts a cache written by the old code.
_CODE_MODULES = (
    "scan", "card", "frontmatter", "links", "linkcheck", "rules", "findings", "check",
    "categories", "loader", "graph", "discover",
)  # fmt: skip


def _code_signature() -> tuple[tuple[str, int, int], ...]:
    folder = Path(mikado.__file__).parent
    signature = []
    for name in _CODE_MODULES:
        try:
            info = os.stat(folder / f"{name}.py")
        except OSError:
            continue
        signature.append((name, info.st_size, info.st_mtime_ns))
    return tuple(signature)


class ScanCache:
    """Entries of one docs root. Use :meth:`open`; a cache that cannot be written is a cache
    that always misses, never an error."""

    def __init__(
        self,
        file: Path | None,
        context: tuple[object, ...],
        stamp: int | None,
    ):
        self.file = file
        self.context = context
        self._entries: dict[str, tuple[StatKey, Row]] | None = None
        self._stamp = stamp
        self.unmatched = 0

    @classmethod
    def disabled(cls) -> ScanCache:
        return cls(None, (), None)

    @classmethod
    def open(cls, runtime: Path, root: Path, required: tuple[str, ...]) -> ScanCache:
        """The cache of ``root``; its entries are read when first needed."""
        folder = runtime / "cache"
        file = folder / f"scan-{_digest(str(root))}.marshal"
        context = (
            _MAGIC,
            FORMAT,
            mikado.__version__,
            sys.version_info[:2],
            str(root),
            tuple(required),
            _code_signature(),
        )
        try:
            ensure_runtime(runtime)
            folder.mkdir(exist_ok=True)
            stamp = _filesystem_now(folder / "stamp")
        except OSError:
            return cls.disabled()
        return cls(file, context, stamp)

    @property
    def enabled(self) -> bool:
        return self.file is not None

    @property
    def warm(self) -> bool:
        """Whether there is a cache to match docs against, which needs each doc's key before
        reading it; a cold run leaves the keys to whoever reads the docs."""
        return self.file is not None and self.file.exists()

    @property
    def _loaded(self) -> dict[str, tuple[StatKey, Row]]:
        if self._entries is None:
            self._entries = _load(self.file, self.context) if self.file is not None else {}
        return self._entries

    @property
    def size(self) -> int:
        return len(self._loaded)

    def get(self, path: str, key: StatKey | None, *, links: bool) -> Row | None:
        """The row cached for ``path`` if its key still matches (and it holds links when they
        are needed)."""
        if key is None:
            return None
        entry = self._loaded.get(path)
        if entry is None or entry[0] != key:
            return None
        row = entry[1]
        if links and row[-2] is None:
            return None
        return row

    def matching(self, stats: Mapping[str, StatKey], *, links: bool) -> Iterator[tuple[str, Row]]:
        """Stream the entries whose key equals ``stats[path]`` (and which hold links when they
        are needed), without keeping the cache in memory. Afterwards :attr:`unmatched` counts
        the entries that were not used."""
        self.unmatched = 0
        if self.file is None:
            return
        try:
            with open(self.file, "rb") as stream:
                if _read_record(stream) != self.context:
                    return
                while True:
                    try:
                        batch: Any = _read_record(stream)
                    except EOFError:
                        return
                    for path, key, row in batch:
                        if stats.get(path) == key and not (links and row[-2] is None):
                            yield path, row
                        else:
                            self.unmatched += 1
        except (OSError, ValueError, TypeError):
            self.unmatched += 1  # damaged: whatever was read stays valid, the rest is read anew

    def sibling(self, kind: str) -> Path | None:
        """Another file of this cache (for results derived from the scans)."""
        return self.file.with_name(f"{kind}-{self.file.name}") if self.file else None

    def load_value(self, kind: str, key: str) -> Any:
        """A value saved with :meth:`save_value` under the same ``key``, or ``None``."""
        file = self.sibling(kind)
        if file is None:
            return None
        try:
            with open(file, "rb") as stream:
                if _read_record(stream) != (self.context, key):
                    return None
                return _read_record(stream)
        except (OSError, EOFError, ValueError, TypeError):
            return None

    def save_value(self, kind: str, key: str, value: Any) -> None:
        file = self.sibling(kind)
        if file is not None:
            _replace(file, [(self.context, key), value])

    def trusted(self, key: StatKey) -> bool:
        """Whether an entry with this key may be kept (see the module's note on racy files)."""
        if self._stamp is None:
            return False
        _, mtime_ns, ctime_ns, _ = key_fields(key)
        return max(mtime_ns, ctime_ns) < self._stamp

    def all_trusted(self, keys: Collection[StatKey]) -> bool:
        """Whether :meth:`trusted` holds for each of ``keys``, tested at once."""
        if self._stamp is None:
            return False
        return not keys or newest_change(keys) < self._stamp

    def save(self, entries: Iterable[tuple[str, StatKey, Row]]) -> None:
        """Replace the cache with ``entries`` (those that may be trusted), atomically."""
        with self.writer() as out:
            for path, key, row in entries:
                out.add(path, key, row)

    @contextlib.contextmanager
    def writer(self, wanted: bool = True) -> Iterator[CacheWriter]:
        """``with cache.writer() as out: out.add(path, key, row) ...`` replaces the cache with
        the entries added (those that may be trusted) when the block ends without an error.
        Rows are written in batches as they come, so a caller need not keep them. A cache that
        cannot be written is left as it was; errors of the block itself propagate."""
        if self.file is None or not wanted:
            yield CacheWriter(None, None, self.trusted)
            return
        temporary = self.file.with_name(f"{self.file.name}.{os.getpid()}.tmp")
        try:
            fd = os.open(temporary, _APPEND_FLAGS | os.O_CREAT | os.O_TRUNC, 0o644)
        except OSError:
            yield CacheWriter(None, None, self.trusted)
            return
        out = CacheWriter(fd, str(temporary), self.trusted)
        completed = False
        try:
            out.write(encode(self.context))
            yield out
            out.flush()
            completed = True
        finally:
            os.close(fd)
            if completed and not out.failed:
                with contextlib.suppress(OSError):
                    os.replace(temporary, self.file)
            with contextlib.suppress(OSError):
                temporary.unlink()


# Records are appended with one write() each, by this process and by the workers that scan
# docs (see :attr:`CacheWriter.file`): in append mode, writes of several processes to one local
# file never interleave, so each record stays whole wherever it lands. (Where they could, as on
# NFS, a damaged record only makes the next run read docs again: see `matching`.)
_APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | getattr(os, "O_BINARY", 0)


class CacheWriter:
    """Where :meth:`ScanCache.writer` sends entries; without a file, it drops them."""

    def __init__(self, fd: int | None, file: str | None, trusted: Callable[[StatKey], bool]):
        self._fd = fd
        self.file = file  # where other processes may append records (see append_record)
        self._trusted = trusted
        self._batch: list[tuple[str, StatKey, Row]] = []
        self.failed = fd is None

    def add(self, path: str, key: StatKey, row: Row) -> None:
        if not self.failed and self._trusted(key):
            self._batch.append((path, key, row))
            if len(self._batch) == BATCH:
                self.flush()

    def add_record(self, record: bytes) -> None:
        """Entries already marshalled as a record (a list of ``(path, key, row)``), each of
        which the cache may keep."""
        if not self.failed:
            self.write(record)

    def flush(self) -> None:
        if self._batch and not self.failed:
            self.write(encode(self._batch))
        self._batch.clear()

    def write(self, record: bytes) -> None:
        assert self._fd is not None
        if not append_record(self._fd, record):
            self.failed = True


def append_record(fd: int, record: bytes) -> bool:
    """Append one record to the file open as ``fd`` (in append mode) with a single write;
    False when it could not be written whole, and the file must not be used.

    Records are length-prefixed, so loading reads each with one read() and one marshal.loads:
    marshal.load on a file object pulls its bytes through many small Python-level reads."""
    data = len(record).to_bytes(8, "little") + record
    try:
        return os.write(fd, data) == len(data)
    except OSError:
        return False


def open_for_append(file: str) -> int | None:
    """``file`` (a cache being written, see :attr:`CacheWriter.file`) opened to append records
    to, or None."""
    try:
        return os.open(file, _APPEND_FLAGS)
    except OSError:
        return None


def encode(value: Any) -> bytes:
    """``value`` marshalled as the cache stores it."""
    return marshal.dumps(value, MARSHAL_VERSION)


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _replace(file: Path, records: Iterable[Any]) -> None:
    """Write ``records`` to a temporary file and rename it over ``file``: readers see the old
    or the new cache, never half of one. A cache that cannot be written is skipped."""
    temporary = file.with_name(f"{file.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as stream:
            for record in records:
                _write_record(stream, record)
        os.replace(temporary, file)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()


def _filesystem_now(stamp: Path) -> int:
    """The time as the filesystem records it (its clock may be coarser than ``time``)."""
    fd = os.open(stamp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, b"\n")
        return os.fstat(fd).st_mtime_ns
    finally:
        os.close(fd)


def _write_record(stream: BinaryIO, value: Any) -> None:
    # Length-prefixed, so loading reads each record with one read() and one marshal.loads:
    # marshal.load on a file object pulls its bytes through many small Python-level reads.
    data = encode(value)
    stream.write(len(data).to_bytes(8, "little"))
    stream.write(data)


def _read_record(stream: BinaryIO) -> object:
    size = stream.read(8)
    if not size:
        raise EOFError
    data = stream.read(int.from_bytes(size, "little"))
    if len(size) != 8 or len(data) != int.from_bytes(size, "little"):
        raise ValueError("truncated cache record")
    return marshal.loads(data)


def _load(file: Path, context: tuple[object, ...]) -> dict[str, tuple[StatKey, Row]]:
    entries: dict[str, tuple[StatKey, Row]] = {}
    try:
        with open(file, "rb") as stream:
            if _read_record(stream) != context:
                return {}
            while True:
                try:
                    batch = _read_record(stream)
                except EOFError:
                    break
                for path, key, row in batch:  # type: ignore[attr-defined]
                    entries[path] = (key, row)
    except FileNotFoundError:
        return {}
    except (OSError, EOFError, ValueError, TypeError):
        return {}  # unreadable or damaged: start afresh
    return entries
