"""Scanning on every core gives exactly what scanning in one process gives."""

from __future__ import annotations

import marshal
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from treebuilder import doc, report_of, write_tree

import mikado.tree.workers
from mikado.config import load_config
from mikado.tree.discover import stat_key, walk
from mikado.tree.loader import open_cache
from mikado.tree.notices import TreeWarning
from mikado.tree.scan import Row, ScanOptions, scan_doc, to_row
from mikado.tree.workers import scan_batches


def test_the_pool_and_a_single_process_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files: dict[str, str | bytes] = {
        f"d{n:03d}.md": doc(f"D{n}", f"[[d{(n + 1) % 40:03d}]] `[[x]]`\n", status="active")
        for n in range(40)
    }
    files["bad.md"] = "---\ntitle: [\n---\n"
    root = write_tree(tmp_path, files)
    paths = sorted(str(p.relative_to(root)) for p in root.rglob("*.md"))
    options = ScanOptions(("title", "modified", "tags"), links=True)
    serial = [(path, to_row(scan_doc(root, path, options))) for path in paths]
    monkeypatch.setattr(mikado.tree.workers, "POOL_MIN_DOCS", 4)
    monkeypatch.setattr(mikado.tree.workers, "CHUNK", 3)
    key = stat_key(1, 2, 3, 4)
    # Every other doc may be cached: those come back as a cache record, the others as rows.
    cacheable = set(paths[::2])
    pooled: list[Row] = []
    cached: list[tuple[str, bytes, Row]] = []
    for batch in scan_batches(
        root, paths, options, lambda path, _read: key if path in cacheable else None
    ):
        pooled.extend(batch.scanned())
        assert batch.cached is not None  # no cache file given: the records come back
        cached.extend(marshal.loads(batch.cached))
    assert pooled == [row for _, row in serial]
    assert sorted(cached) == [(path, key, row) for path, row in serial if path in cacheable]
    assert mikado.tree.workers.cores() >= 1


def test_links_resolved_in_the_workers_give_the_same_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files: dict[str, str | bytes] = {
        f"guide/g{n:02d}.md": doc(f"G{n}", f"See [[g{(n + 1) % 30:02d}]] and [[g{n:02d}]].\n")
        for n in range(30)
    }
    files["guide/guide.md"] = doc("Guide", "".join(f"- [[g{n:02d}]]\n" for n in range(0, 30, 3)))
    files["guide/self.md"] = doc("Self", "Only [[self]], [[nowhere]] and [[ g01 ]].\n")
    files["a/twin.md"] = doc("Twin A", "[[twin]]\n")
    files["b/twin.md"] = doc("Twin B", "![[chart.png]] [[chart.png]] [[g03.md]] [[guide/g03]]\n")
    files["assets/chart.png"] = b"\x89PNG"
    write_tree(tmp_path, files, index=False)
    time.sleep(0.05)  # old enough to be cached, so the second run mixes cached and read docs

    alone = report_of(tmp_path)
    shutil.rmtree(tmp_path / ".mikado")
    monkeypatch.setattr(mikado.tree.workers, "POOL_MIN_DOCS", 4)
    monkeypatch.setattr(mikado.tree.workers, "CHUNK", 3)
    pooled = report_of(tmp_path)
    assert pooled.findings == alone.findings
    # the workers appended every doc's entry to the cache themselves
    config = load_config(cwd=tmp_path)
    tree = walk(config.docs, config.excluded(), stat=True)
    cached = dict(open_cache(config).matching(tree.stats, links=True))
    assert sorted(cached) == sorted(p for p in files if p.endswith(".md"))
    rules = {f.rule for f in pooled.findings}
    assert {"orphan", "broken-link", "spaced-link", "path-link", "index-missing"} <= rules
    assert "ambiguous-link" in rules

    # Some docs from the cache (resolved here), some read again (resolved in the workers).
    for n in range(0, 30, 2):
        (tmp_path / "docs" / "guide" / f"g{n:02d}.md").touch()
    assert report_of(tmp_path).findings == alone.findings


def _lose_worker_at(monkeypatch: pytest.MonkeyPatch, chunk_start: int) -> None:
    """The worker that takes the chunk starting at ``chunk_start`` is killed as the OOM
    killer would (SIGKILL, no cleanup); reading that chunk in this process works."""
    parent = os.getpid()
    real = mikado.tree.workers._scan

    def scan(job, start, stop):  # type: ignore[no-untyped-def]
        if os.getpid() != parent and start == chunk_start:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(job, start, stop)

    monkeypatch.setattr(mikado.tree.workers, "_scan", scan)
    monkeypatch.setattr(mikado.tree.workers, "POOL_MIN_DOCS", 4)
    monkeypatch.setattr(mikado.tree.workers, "CHUNK", 3)
    monkeypatch.setattr(mikado.tree.workers, "cores", lambda: 2)


# Passing takes well under a second; the old pool waited for the lost chunk for ever.
@pytest.mark.timeout(20)
@pytest.mark.parametrize("with_cache_file", [False, True])
def test_a_worker_killed_mid_scan_costs_a_retry_here_not_a_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, with_cache_file: bool
) -> None:
    files = {f"d{n:03d}.md": doc(f"D{n}", f"[[d{(n + 1) % 30:03d}]]\n") for n in range(30)}
    root = write_tree(tmp_path, files, index=False)
    paths = sorted(files)
    options = ScanOptions(("title", "modified", "tags"), links=True)
    serial = [to_row(scan_doc(root, path, options)) for path in paths]
    cache_file = tmp_path / "records"
    cache_file.touch()
    _lose_worker_at(monkeypatch, chunk_start=9)
    with pytest.warns(TreeWarning, match="worker process reading docs died"):
        batches = list(
            scan_batches(
                root,
                paths,
                options,
                lambda _path, read: read,
                cache_file=str(cache_file) if with_cache_file else None,
            )
        )
    assert [row for batch in batches for row in batch.scanned()] == serial
    # The dead worker may have appended the lost chunk's record: with a cache file, the run's
    # cache is dropped rather than kept with a doc (and its links) twice.
    assert any(batch.broken for batch in batches) is with_cache_file


KILLER = """
import os, sys
import mikado.tree.workers as workers

marker, argv = sys.argv[1], sys.argv[2:]
workers.POOL_MIN_DOCS, workers.CHUNK, workers.cores = 4, 3, lambda: 2
parent, real = os.getpid(), workers._scan

def scan(job, start, stop):
    if os.getpid() != parent and os.path.exists(marker):
        os._exit(1)  # a worker dies without a word
    return real(job, start, stop)

workers._scan = scan
from mikado.cli.app import main
main(argv)
"""


@pytest.mark.parametrize("command", [("check",), ("status",)])
def test_check_and_status_end_when_every_worker_dies(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    files = {f"d{n:03d}.md": doc(f"D{n}", status="active") for n in range(30)}
    write_tree(tmp_path, files, actions=[f"d{n:03d}" for n in range(30)])
    marker = tmp_path / "kill-workers"
    marker.touch()
    project = str(Path(__file__).resolve().parents[2])
    result = subprocess.run(
        [sys.executable, "-c", KILLER, str(marker), *command],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": project, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=20,  # the bug: Pool waits forever for the lost chunks
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mikado: warning: a worker process"), lines
    assert "Traceback" not in result.stderr
    if command == ("status",):
        assert "d000" in result.stdout
    marker.unlink()  # the next run's workers live, and agree
    again = subprocess.run(
        [sys.executable, "-c", KILLER, str(marker), *command],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": project, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert (again.returncode, again.stdout, again.stderr) == (0, result.stdout, "")


@pytest.mark.timeout(20)
def test_a_worker_that_fails_on_a_chunk_hands_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {f"d{n:03d}.md": doc(f"D{n}") for n in range(12)}
    root = write_tree(tmp_path, files, index=False)
    paths = sorted(files)
    options = ScanOptions(("title", "modified", "tags"), links=False)
    serial = [to_row(scan_doc(root, path, options)) for path in paths]
    parent, real = os.getpid(), mikado.tree.workers._scan

    def scan(job, start, stop):  # type: ignore[no-untyped-def]
        if os.getpid() != parent and start == 6:
            raise MemoryError("no room for chunk 6")
        return real(job, start, stop)

    monkeypatch.setattr(mikado.tree.workers, "_scan", scan)
    monkeypatch.setattr(mikado.tree.workers, "POOL_MIN_DOCS", 4)
    monkeypatch.setattr(mikado.tree.workers, "CHUNK", 3)
    monkeypatch.setattr(mikado.tree.workers, "cores", lambda: 2)
    with pytest.warns(TreeWarning, match=r"failed \(MemoryError: no room for chunk 6\)"):
        batches = list(scan_batches(root, paths, options, lambda _path, read: None))
    assert [row for batch in batches for row in batch.scanned()] == serial


@pytest.mark.timeout(20)
def test_stopping_early_ends_the_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {f"d{n:03d}.md": doc(f"D{n}") for n in range(30)}
    root = write_tree(tmp_path, files, index=False)
    monkeypatch.setattr(mikado.tree.workers, "POOL_MIN_DOCS", 4)
    monkeypatch.setattr(mikado.tree.workers, "CHUNK", 3)
    monkeypatch.setattr(mikado.tree.workers, "cores", lambda: 2)
    options = ScanOptions(("title", "modified", "tags"), links=False)
    batches = scan_batches(root, sorted(files), options, lambda _path, read: None)
    next(batches)
    batches.close()  # as when the command fails on the first batch
    assert multiprocessing.active_children() == []
