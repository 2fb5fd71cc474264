"""Fixtures that build small, real docs trees in ``tmp_path``."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest
from treebuilder import run_mikado, write_files

Tree = Callable[[Mapping[str, str | bytes]], Path]


def card_text(
    title: str = "A Card",
    *,
    status: str | None = None,
    requires: Sequence[str] | None = None,
    branch: str | None = None,
    tags: Sequence[str] = ("how-to",),
    modified: str = "2026-01-01",
    body: str = "",
) -> str:
    lines = ["---", f"title: {title}", f"modified: {modified}"]
    if status is not None:
        lines.append(f"status: {status}")
    if branch is not None:
        lines.append(f"branch: {branch}")
    if requires is not None:
        lines.append("requires:" + ("" if requires else " []"))
        lines.extend(f"  - {r}" for r in requires)
    lines.append("tags:")
    lines.extend(f"  - {t}" for t in tags)
    lines.append("---")
    return "\n".join(lines) + "\n\n" + (body or f"# {title}\n")


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    """``tree({"zot/a.md": text, ...})`` writes the files under ``tmp_path/docs``."""
    root = tmp_path / "docs"

    def make(files: Mapping[str, str | bytes]) -> Path:
        root.mkdir(exist_ok=True)
        write_files(root, files)
        return root

    return make


@pytest.fixture
def mikado(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(*args: str | os.PathLike[str], cwd: Path | None = None, **kw: object):  # type: ignore[no-untyped-def]
        return run_mikado(*args, cwd=cwd or tmp_path, **kw)  # type: ignore[arg-type]

    return run
