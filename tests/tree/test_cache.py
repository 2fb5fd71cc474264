"""The scan cache: used when nothing changed, never stale, safe to delete or damage."""

from __future__ import annotations

import os
import shutil
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from treebuilder import doc, findings, run_mikado, write_files, write_tree

import mikado.tree.workers
from mikado.config import load_config
from mikado.tree.cache import ScanCache, encode
from mikado.tree.discover import StatKey, stat_key
from mikado.tree.scan import DocScan, Row, ScanOptions


def settle() -> None:
    """Let the filesystem clock pass the files just written, so the next check may cache them
    (entries as new as the run are never trusted; see mikado.tree.cache)."""
    time.sleep(0.05)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The docs each check actually reads."""
    seen: list[str] = []
    real = mikado.tree.workers.read_docs

    def counting(
        root: Path, paths: Sequence[str], options: ScanOptions
    ) -> list[tuple[DocScan, StatKey | None]]:
        seen.extend(paths)
        return real(root, paths, options)

    monkeypatch.setattr(mikado.tree.workers, "read_docs", counting)
    return seen


def test_unchanged_docs_are_not_read_again(tmp_path: Path, reads: list[str]) -> None:
    write_tree(tmp_path, {"a.md": doc("A", "[[b]]\n"), "b.md": doc("B")})
    settle()
    assert findings(tmp_path) == []
    assert sorted(reads) == ["a.md", "b.md", "index.md"]
    reads.clear()
    assert findings(tmp_path) == []
    assert reads == []  # the whole report was reused
    (tmp_path / "docs" / "c.md").write_text(doc("C"))
    assert findings(tmp_path) == [("orphan", "c.md", None, "c")]
    assert reads == ["c.md"]  # only the new doc was read


def test_the_report_a_cold_check_saves_is_the_one_the_next_check_uses(tmp_path: Path) -> None:
    """Two real runs, as in CI: the second finds the first one's report and writes none. (Its
    key was once computed from marshal bytes that depend on reference counts, so the run that
    read the docs and the run after it disagreed.)"""
    # A per-file ignore, as `mikado init --baseline` writes: its rule name is the same string
    # object as the findings' in the run that made them.
    settings = 'ignore = ["broken-link:a.md"]\n'
    write_tree(
        tmp_path, {"a.md": doc("A", "[[b]] [[gone]]\n"), "b.md": doc("B")}, settings=settings
    )
    settle()
    assert run_mikado("check", cwd=tmp_path).returncode == 0
    [report] = (tmp_path / ".mikado" / "cache").glob("report-*")
    saved = report.stat()
    assert run_mikado("check", cwd=tmp_path).returncode == 0
    again = report.stat()
    assert (again.st_ino, again.st_mtime_ns) == (saved.st_ino, saved.st_mtime_ns)


def test_a_same_size_edit_with_its_mtime_put_back_is_seen(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"a.md": doc("A", "[[b]]\n"), "b.md": doc("B")})
    settle()
    assert findings(tmp_path) == []
    page = root / "a.md"
    before = page.stat()
    page.write_text(doc("A", "[[x]]\n"))
    os.utime(page, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = page.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert findings(tmp_path) == [("broken-link", "a.md", 6, "x")]


def test_a_file_replaced_by_another_with_the_same_times_is_seen(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"a.md": doc("A", "[[b]]\n"), "b.md": doc("B")})
    settle()
    assert findings(tmp_path) == []
    page = root / "a.md"
    before = page.stat()
    replacement = root / "a.md.new"
    replacement.write_text(doc("A", "[[y]]\n"))
    os.utime(replacement, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(replacement, page)
    assert findings(tmp_path) == [("broken-link", "a.md", 6, "y")]


def test_deleting_or_damaging_the_cache_changes_nothing(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a.md": doc("A", "[[b]] [[nope]]\n"), "b.md": doc("B")})
    settle()
    expected = [("broken-link", "a.md", 6, "nope")]
    assert findings(tmp_path) == expected
    cache = tmp_path / ".mikado" / "cache"
    files = sorted(p for p in cache.iterdir() if p.name != "stamp")
    assert len(files) == 3  # the scans, the last report and the code signature
    for damaged in files:
        damaged.write_bytes(damaged.read_bytes()[:40] + b"\x00garbage")
    assert findings(tmp_path) == expected
    shutil.rmtree(tmp_path / ".mikado")
    assert findings(tmp_path) == expected


def test_the_report_depends_on_other_files_actions_and_settings(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"a.md": doc("A", "![[chart.png]]\n", status="active")})
    settle()
    assert findings(tmp_path) == [
        ("action-missing", "a.md", None, "a"),
        ("broken-link", "a.md", 7, "chart.png"),
    ]
    (root / "chart.png").write_bytes(b"\x89PNG")
    assert findings(tmp_path) == [("action-missing", "a.md", None, "a")]
    (tmp_path / "actions" / "a.py").write_text("def apply(ctx):\n    pass\n")
    assert findings(tmp_path) == []
    (root / "chart.png").unlink()
    (tmp_path / "mikado.toml").write_text('[mikado]\ndocs = "docs"\nignore = ["broken-link"]\n')
    assert findings(tmp_path) == []


def save(store: ScanCache, entries: Sequence[tuple[str, StatKey, Row]]) -> None:
    with store.writer() as out:
        for path, key, row in entries:
            out.add(path, key, row)


def cached(store: ScanCache, stats: dict[str, StatKey], *, links: bool) -> dict[str, Row]:
    return dict(store.matching(stats, links=links))


def test_entries_as_new_as_the_run_are_not_kept(tmp_path: Path) -> None:
    runtime, root = tmp_path / ".mikado", tmp_path / "docs"
    store = ScanCache.open(runtime, root, ("title",))
    stamp = store._stamp
    assert stamp is not None
    row = (None,) * 12 + ((), False)
    old = stat_key(10, stamp - 10**9, stamp - 10**9, 1)
    racy = stat_key(10, stamp - 10**9, stamp, 2)  # changed in the tick the run started
    assert store.all_trusted([old]) and store.all_trusted([])
    assert not store.all_trusted([old, racy])
    assert not store.all_trusted([stat_key(10, stamp, stamp - 10**9, 3), old])
    save(store, [("old.md", old, row), ("racy.md", racy, row)])
    reopened = ScanCache.open(runtime, root, ("title",))
    stats = {"old.md": old, "racy.md": racy}
    assert cached(reopened, stats, links=True) == {"old.md": row}
    # a scan made without links does not serve a check that needs them
    assert cached(reopened, stats, links=False) == {"old.md": row}
    no_links = (None,) * 12 + (None, False)
    save(reopened, [("old.md", old, no_links)])
    again = ScanCache.open(runtime, root, ("title",))
    assert cached(again, stats, links=True) == {}
    assert cached(again, stats, links=False) == {"old.md": no_links}


def test_other_required_fields_discard_the_cache(tmp_path: Path) -> None:
    runtime, root = tmp_path / ".mikado", tmp_path / "docs"
    store = ScanCache.open(runtime, root, ("title",))
    assert store._stamp is not None
    key = stat_key(10, store._stamp - 10**9, store._stamp - 10**9, 1)
    row = (None,) * 12 + ((), False)
    save(store, [("a.md", key, row)])
    stats = {"a.md": key}
    assert cached(ScanCache.open(runtime, root, ("title",)), stats, links=False) == {"a.md": row}
    assert cached(ScanCache.open(runtime, root, ("title", "tags")), stats, links=False) == {}


def test_the_code_signature_covers_every_module_the_scan_and_check_import(tmp_path: Path) -> None:
    """What importing the roots loads (asked of Python itself) is inside the signature, and
    so is the fast YAML parser the hand-kept list once missed."""
    import subprocess
    import sys

    import mikado
    from mikado.tree.cache import SHAPING_ROOTS, shaping_modules

    package = Path(mikado.__file__).parent
    covered = {p.relative_to(package).as_posix() for p in shaping_modules(package, SHAPING_ROOTS)}
    program = (
        "import sys\n"
        + "".join(f"import {root}\n" for root in SHAPING_ROOTS)
        + "print('\\n'.join(m.__file__ for n, m in sys.modules.items()"
        " if n.startswith('mikado') and getattr(m, '__file__', None)))"
    )
    # Run beside the package imported here, so the child imports the same copy whatever the
    # working directory (a checkout and an installed copy may both be importable).
    loaded = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        check=True,
        cwd=package.parent,
    ).stdout.split()
    imported = {Path(f).relative_to(package).as_posix() for f in loaded}
    assert imported - covered == set()
    assert "tree/fastyaml.py" in covered


def test_an_edited_module_that_a_root_imports_discards_the_cache(tmp_path: Path) -> None:
    """Inside a function or at the top, plain or from a package: each import is followed."""
    from mikado.tree.cache import shaping_modules

    package = tmp_path / "mikado"
    write_files(
        package,
        {
            "__init__.py": "",
            "tree/__init__.py": "",
            "tree/scan.py": "from mikado.tree import parts\nimport mikado.model.card\n",
            "tree/parts.py": "def f():\n    from mikado.deep import x\n",
            "deep.py": "x = 1\n",
            "model/__init__.py": "",
            "model/card.py": "from mikado.model.findings import (\n    Finding,\n)\n",
            "model/findings.py": "",
            "unrelated.py": "",
        },
    )
    found = {
        p.relative_to(package).as_posix() for p in shaping_modules(package, ["mikado.tree.scan"])
    }
    assert found == {
        "tree/__init__.py", "tree/scan.py", "tree/parts.py", "deep.py", "model/__init__.py",
        "model/card.py", "model/findings.py",
    }  # fmt: skip


def test_an_unwritable_runtime_folder_only_disables_the_cache(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a.md": doc("A", "[[nope]]\n")})
    (tmp_path / ".mikado").write_text("a file where the folder would be")
    assert findings(tmp_path) == [("broken-link", "a.md", 6, "nope")]
    assert findings(tmp_path) == [("broken-link", "a.md", 6, "nope")]


def test_status_and_check_share_the_cache(tmp_path: Path, reads: list[str]) -> None:
    from mikado.tree.loader import load_docs

    write_tree(tmp_path, {"a.md": doc("A", "[[b]]\n"), "b.md": doc("B")})
    settle()
    config = load_config(cwd=tmp_path)
    load_docs(config)  # front-matter only
    assert sorted(reads) == ["a.md", "b.md", "index.md"]
    reads.clear()
    assert findings(tmp_path) == []
    assert sorted(reads) == ["a.md", "b.md", "index.md"]  # check needs the links too
    reads.clear()
    load_docs(config)
    assert reads == []  # entries with links serve the front-matter-only reader as well


def _record(data: bytes, crc: int | None = None) -> bytes:
    """A record as the cache frames it: length, CRC-32 (the right one unless given), bytes."""
    crc = zlib.crc32(data) if crc is None else crc
    return len(data).to_bytes(8, "little") + crc.to_bytes(4, "little") + data


def _first_record(data: bytes) -> tuple[bytes, bytes]:
    """A cache file's first record (its context) and the rest."""
    end = 12 + int.from_bytes(data[:8], "little")
    return data[:end], data[end:]


def _flip_a_byte(rest: bytes) -> bytes:
    middle = len(rest) // 2
    return rest[:middle] + bytes([rest[middle] ^ 0x40]) + rest[middle + 1 :]


# Each kind of damage: the bytes that follow the cache's first record, from those it had.
DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    # the length of a record as an exabyte: reading it whole was a MemoryError
    "impossible length": lambda _: (1 << 60).to_bytes(12, "little") + b"\xe9",
    # a record cut inside its marshal bytes: an EOFError, which click took for Ctrl-D
    # ("Aborted.", exit 130)
    "cut record": lambda _: _record(encode([("a.md", (1, 2), ("x",) * 40)])[:-30]),
    "file cut in a length": lambda _: b"\x05\x00",
    "not a list": lambda _: _record(encode(42)),
    "not a triple": lambda _: _record(encode([("a.md", 1)])),
    # one bit changed by a disk: marshal alone would make some other list of it, or believe
    # a list header claiming a billion items and allocate for them
    "a bit flipped": _flip_a_byte,
    "a list claiming a billion items": lambda _: _record(b"[" + (10**9).to_bytes(4, "little"), 7),
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_scan_cache_is_rebuilt_with_a_warning(
    tmp_path: Path, damage: Callable[[bytes], bytes]
) -> None:
    write_tree(tmp_path, {"a.md": doc("A", "[[b]] [[nope]]\n"), "b.md": doc("B")})
    settle()
    first = run_mikado("check", cwd=tmp_path)
    assert (first.returncode, first.stderr) == (1, "")
    cache = tmp_path / ".mikado" / "cache"
    (scans,) = cache.glob("scan-*")
    for report in cache.glob("report-*"):
        report.unlink()  # so the next check reads the scan cache
    context, rest = _first_record(scans.read_bytes())
    scans.write_bytes(context + damage(rest))

    damaged = run_mikado("check", cwd=tmp_path)
    assert (damaged.returncode, damaged.stdout) == (1, first.stdout)
    assert damaged.stderr.startswith(f"mikado: warning: the scan cache {scans} is damaged (")
    assert damaged.stderr.endswith("the cache is rebuilt\n") and damaged.stderr.count("\n") == 1
    for report in cache.glob("report-*"):
        report.unlink()
    rebuilt = run_mikado("check", cwd=tmp_path)
    assert (rebuilt.returncode, rebuilt.stdout, rebuilt.stderr) == (1, first.stdout, "")


def test_a_cache_of_the_format_before_checksums_is_replaced_quietly(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a.md": doc("A", "[[nope]]\n")})
    settle()
    first = run_mikado("check", cwd=tmp_path)
    cache = tmp_path / ".mikado" / "cache"
    for file in cache.glob("*-*.marshal"):  # each record re-framed as format 2 framed them
        data, old = file.read_bytes(), b""
        while data:
            end = 12 + int.from_bytes(data[:8], "little")
            old += data[:8] + data[12:end]
            data = data[end:]
        file.write_bytes(old)
    again = run_mikado("check", cwd=tmp_path)
    assert (again.returncode, again.stdout, again.stderr) == (1, first.stdout, "")


def test_an_empty_or_damaged_saved_report_is_computed_again(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a.md": doc("A", "[[nope]]\n")})
    settle()
    first = run_mikado("check", "--format", "json", cwd=tmp_path)
    for damage in ("empty", "impossible length"):
        (report,) = (tmp_path / ".mikado" / "cache").glob("report-*")
        saved = report.read_bytes()
        header, _ = _first_record(saved)  # (context, key)
        report.write_bytes(b"" if damage == "empty" else header + (1 << 60).to_bytes(12, "little"))
        again = run_mikado("check", "--format", "json", cwd=tmp_path)
        assert (again.returncode, again.stdout) == (first.returncode, first.stdout)
        assert again.stderr.startswith(f"mikado: warning: the saved report {report} is damaged")
