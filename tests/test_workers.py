"""Scanning on every core gives exactly what scanning in one process gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from treebuilder import doc, write_tree

import mikado.workers
from mikado.scan import ScanOptions, scan_doc, to_row
from mikado.workers import scan_rows


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
    serial = [to_row(scan_doc(root, path, options)) for path in paths]
    monkeypatch.setattr(mikado.workers, "POOL_MIN_DOCS", 4)
    monkeypatch.setattr(mikado.workers, "CHUNK", 3)
    pooled = list(scan_rows(root, paths, options))
    assert pooled == serial
    assert mikado.workers.cores() >= 1
