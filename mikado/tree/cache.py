"""The scan cache in ``.mikado/cache/``: what reading each doc found, keyed by the doc's path
and :data:`~mikado.tree.discover.StatKey` (size, mtime_ns, ctime_ns, inode).

Safe to delete at any time, and never stale: a doc whose key differs is read again, and so is
a doc changed so recently that a second change in the same clock tick could hide behind an
equal key (git's "racily clean" problem). For that, the cache notes the filesystem's own clock
when a run starts (by writing a stamp file) and keeps no entry whose mtime or ctime is not
strictly older than it. Anything that changes what a scan yields (mikado's version or source,
the required fields) is part of the cache's context and discards it whole.

Nor is it ever trusted blindly: the file is read as untrusted bytes. Each record carries its
length and a CRC-32 of its bytes (under a millisecond for 10,000 docs). A record whose length
claims more than the file holds, whose bytes do not match their checksum (a disk or a copy that
changed them), that does not unmarshal, or that is not shaped like the entries mikado writes,
marks the file damaged: what was read before it stays (each entry is whole and keyed), the rest
is dropped, the docs are read again and the cache is rebuilt, with a
:class:`~mikado.tree.notices.TreeWarning` saying so. The checksum comes first: damaged bytes
never reach marshal, which would believe a list header claiming a billion items and allocate
for it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import marshal
import os
import re
import sys
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import yaml

import mikado
from mikado.config import ensure_runtime
from mikado.errors import ConfigError
from mikado.tree.discover import StatKey, key_fields, newest_change
from mikado.tree.notices import warn
from mikado.tree.scan import SUSPECT, TARGETS, Row

FORMAT = 3  # 3: each record has a checksum
BATCH = 4096  # entries per marshal record: keeps the bytes being written small
# Marshal's format 2: formats 3 and 4 mark objects for back-references, which makes loading a
# record twice as slow (13 µs a row instead of 6.5) for a sixth fewer bytes.
MARSHAL_VERSION = 2
_MAGIC = "mikado-scan-cache"
_ROW_LENGTH = SUSPECT + 1  # the fields of a Row (see mikado.tree.scan.to_row)

# The modules whose code decides what a cached row or report holds: these and everything they
# import from mikado. Their sizes and mtimes join the context, so an edited mikado never trusts
# a cache the old code wrote.
SHAPING_ROOTS = ("mikado.tree.scan", "mikado.checks.gate")
_IMPORT_RE = re.compile(
    r"^[ \t]*(?:from[ \t]+(mikado(?:\.\w+)*)[ \t]+import[ \t]+\(?([\w ,\t]*)"
    r"|import[ \t]+(mikado(?:\.\w+)*))",
    re.MULTILINE,
)


def shaping_modules(package: Path, roots: Iterable[str]) -> list[Path]:
    """The source files of ``roots`` and of every mikado module they import, directly or not,
    at the top or inside a function: read from the sources, so it cannot fall behind them as a
    hand-kept list would. ``package`` is the folder of the ``mikado`` package."""

    def source(module: str) -> Path | None:
        parts = module.split(".")[1:]
        for candidate in (package.joinpath(*parts).with_suffix(".py"),
                          package.joinpath(*parts, "__init__.py")):  # fmt: skip
            if candidate.is_file():
                return candidate
        return None

    found: dict[Path, None] = {}
    pending = list(roots)
    seen: set[str] = set()
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        file = source(module)
        if file is None:
            continue
        found[file] = None
        parent = module.rpartition(".")[0]
        if parent != "mikado":
            pending.append(parent)  # a package's __init__ runs before its modules
        text = file.read_text(encoding="utf-8")
        for match in _IMPORT_RE.finditer(text):
            base, names, plain = match.groups()
            if plain:
                pending.append(plain)
                continue
            pending.append(base)
            # `from mikado.tree import links` imports a module, not a name
            pending.extend(f"{base}.{name.strip()}" for name in names.split(",") if name.strip())
    return sorted(found)


Signature = tuple[tuple[str, int, int], ...]


def _stat_signature(package: Path, files: Iterable[Path]) -> Signature:
    signature = []
    for file in files:
        info = file.stat()
        signature.append((file.relative_to(package).as_posix(), info.st_size, info.st_mtime_ns))
    return tuple(signature)


@functools.cache
def _code_signature(folder: Path) -> Signature:
    """The sizes and mtimes of the modules that shape a row. Reading their imports costs a few
    milliseconds, so the list is kept in ``folder`` and read again only when one of the files
    it names changed (a new import changes its file)."""
    package = Path(mikado.__file__).parent
    record = folder / "code-signature"
    try:
        stored = marshal.loads(record.read_bytes())
        if isinstance(stored, tuple) and stored == _stat_signature(
            package, (package / entry[0] for entry in stored)
        ):
            return stored
    # Damaged bytes can make marshal raise any of these (MemoryError: a list claiming billions
    # of items); the signature is then simply computed again.
    except (OSError, ValueError, TypeError, EOFError, IndexError, KeyError, MemoryError):
        pass
    signature = _stat_signature(package, shaping_modules(package, SHAPING_ROOTS))
    _replace_bytes(record, encode(signature))
    return signature


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
            yaml.__version__,  # the YAML the front-matter parser falls back to
        )
        try:
            ensure_runtime(runtime)
            folder.mkdir(exist_ok=True)
            stamp = _filesystem_now(folder / "stamp")
        except (OSError, ConfigError):  # ConfigError: the runtime path is no folder
            return cls.disabled()
        return cls(file, (*context, _code_signature(folder)), stamp)

    @property
    def enabled(self) -> bool:
        return self.file is not None

    @property
    def warm(self) -> bool:
        """Whether there is a cache to match docs against, which needs each doc's key before
        reading it; a cold run leaves the keys to whoever reads the docs."""
        return self.file is not None and self.file.exists()

    def matching(self, stats: Mapping[str, StatKey], *, links: bool) -> Iterator[tuple[str, Row]]:
        """Stream the entries whose key equals ``stats[path]`` (and which hold links when they
        are needed), without keeping the cache in memory. Afterwards :attr:`unmatched` counts
        the entries that were not used (a damaged file counts one more, so it is rebuilt)."""
        self.unmatched = 0
        if self.file is None:
            return
        try:
            stream = open(self.file, "rb")  # noqa: SIM115 - closed below
        except OSError:
            return  # none yet, or unreadable: every doc is read, as on a first run
        with stream:
            try:
                records = _Records(stream)
                if records.next() != self.context:
                    return
                while (batch := records.next()) is not _END:
                    if type(batch) is not list:
                        raise _Damaged("a record is not a list of entries")
                    for entry in batch:
                        try:
                            path, key, row = entry
                            usable = stats.get(path) == key
                            if usable and (type(row) is not tuple or len(row) != _ROW_LENGTH):
                                raise _Damaged("an entry is not shaped like a scanned doc")
                            usable = usable and not (links and row[TARGETS] is None)
                        except (TypeError, ValueError):
                            raise _Damaged("an entry is not a (path, key, row) triple") from None
                        if usable:
                            yield path, row
                        else:
                            self.unmatched += 1
            except _Damaged as damage:
                self.unmatched += 1
                warn(
                    f"the scan cache {self.file} is damaged ({damage}); the docs it no longer "
                    "holds are read again and the cache is rebuilt"
                )
            except OSError:
                self.unmatched += 1  # a read failed: the rest is read anew, as for damage

    def sibling(self, kind: str) -> Path | None:
        """Another file of this cache (for results derived from the scans)."""
        return self.file.with_name(f"{kind}-{self.file.name}") if self.file else None

    def load_value(self, kind: str, key: str) -> Any:
        """A value saved with :meth:`save_value` under the same ``key``, or ``None`` (also when
        the file is damaged, with a warning: the caller then computes the value again)."""
        file = self.sibling(kind)
        if file is None:
            return None
        try:
            with open(file, "rb") as stream:
                records = _Records(stream)
                if records.next() != (self.context, key):
                    return None
                value = records.next()
                return None if value is _END else value
        except OSError:
            return None
        except _Damaged as damage:
            warn(f"the saved {kind} {file} is damaged ({damage}); it is computed again")
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
    data = _framed(record)
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


def _replace_bytes(file: Path, data: bytes) -> None:
    """Write ``data`` over ``file`` through a temporary file; a file that cannot be written is
    skipped."""
    temporary = file.with_name(f"{file.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, file)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()


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
    stream.write(_framed(encode(value)))


_HEADER = 12  # a record's length (8 bytes) and the CRC-32 of its bytes (4), little-endian


def _framed(record: bytes) -> bytes:
    """A record as it is stored. Length-prefixed, so loading reads each record with one read()
    and one marshal.loads: marshal.load on a file object pulls its bytes through many small
    Python-level reads."""
    return len(record).to_bytes(8, "little") + zlib.crc32(record).to_bytes(4, "little") + record


class _Damaged(Exception):
    """The bytes of a cache file are not records mikado wrote; the message says why."""


_END = object()  # what _Records.next returns at the end of the file


_FOREIGN = object()  # what _Records.next returns for a first record of another format


class _Records:
    """The records of one cache file, read as untrusted bytes: a length prefix is checked
    against what the file still holds before anything is read or allocated (eight damaged
    bytes must not ask for an exabyte), the checksum before marshal sees the bytes, and
    whatever marshal still makes of them — its ValueError, EOFError, TypeError, MemoryError —
    is :class:`_Damaged`, never an error of the command (an EOFError escaping to click would
    even read as Ctrl-D: "Aborted.", exit 130).

    A first record whose length or checksum does not fit is :data:`_FOREIGN`, not damage: a
    cache written by a mikado of the format before checksums reads that way, and like any
    cache of another context it is replaced without a word."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        # Cache files are replaced by rename, never written in place, so an open file's size
        # cannot change under the reader.
        self._left = os.fstat(stream.fileno()).st_size
        self._count = 0

    def next(self) -> object:
        """The next record, or :data:`_END` after the last one."""
        if self._count == 0 and self._left == 0:
            raise _Damaged("the file is empty")
        if self._left == 0:
            return _END
        self._count += 1
        if self._left < _HEADER:
            raise _Damaged(f"the file ends inside the length of record {self._count}")
        header = self._stream.read(_HEADER)
        size, crc = int.from_bytes(header[:8], "little"), int.from_bytes(header[8:], "little")
        self._left -= _HEADER
        if size > self._left:
            if self._count == 1:
                return _FOREIGN
            raise _Damaged(
                f"record {self._count} claims {size:,} bytes where {self._left:,} are left"
            )
        data = self._stream.read(size)
        self._left -= size
        if len(data) != size:  # only if the file shrank all the same
            raise _Damaged(f"the file ends inside record {self._count}")
        if zlib.crc32(data) != crc:
            if self._count == 1:
                return _FOREIGN
            raise _Damaged(f"record {self._count} does not match its checksum")
        try:
            return marshal.loads(data)
        except (ValueError, EOFError, TypeError, MemoryError) as error:
            raise _Damaged(f"record {self._count} does not load: {error}") from None
