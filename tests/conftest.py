"""Fixtures that build small, real docs trees in ``tmp_path``."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from treebuilder import run_mikado, write_files

Tree = Callable[[Mapping[str, str | bytes]], Path]


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
