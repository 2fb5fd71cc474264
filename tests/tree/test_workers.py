"""Scanning on every core gives exactly what scanning in one process gives."""

from __future__ import annotations

import marshal
import shutil
import time
from pathlib import Path

import pytest
from treebuilder import doc, report_of, write_tree

import mikado.tree.workers
from mikado.config import load_config
from mikado.tree.discover import stat_key, walk
from mikado.tree.loader import open_cache
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
