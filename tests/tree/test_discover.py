from __future__ import annotations

import os
from pathlib import Path

import pytest

from mikado.errors import ConfigError
from mikado.tree.discover import discover


def touch(root: Path, *paths: str) -> None:
    for rel in paths:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x", encoding="utf-8")


def test_finds_markdown_recursively_sorted(tmp_path: Path) -> None:
    touch(tmp_path, "b.md", "a/z.md", "a/b/c.md", "notes.txt", "a/README.MD")
    assert discover(tmp_path) == ["a/b/c.md", "a/z.md", "b.md"]


def test_skips_hidden_folders_changelog_and_excludes(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "keep.md",
        ".git/x.md",
        "how-to/.drafts/y.md",
        "changelog.d/+fix.md",
        "how-to/drafts/d.md",
        "ref/drafts/r.md",
        "archive/old.md",
    )
    found = discover(tmp_path, frozenset({"changelog.d", "how-to/drafts", "archive"}))
    assert found == ["keep.md", "ref/drafts/r.md"]


def test_links_leaving_the_root_are_not_followed(tmp_path: Path) -> None:
    root, outside = tmp_path / "docs", tmp_path / "outside"
    touch(root, "a.md")
    touch(outside, "secret.md", "sub/s.md")
    (root / "escape").symlink_to(outside, target_is_directory=True)
    (root / "escape.md").symlink_to(outside / "secret.md")
    assert discover(root) == ["a.md"]


def test_link_loops_are_walked_once(tmp_path: Path) -> None:
    touch(tmp_path, "a/x.md")
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a", target_is_directory=True)
    (tmp_path / "self").symlink_to(tmp_path, target_is_directory=True)
    assert discover(tmp_path) == ["a/x.md"]


def test_a_link_into_the_tree_does_not_list_docs_twice(tmp_path: Path) -> None:
    touch(tmp_path, "real/x.md")
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    assert discover(tmp_path) == ["real/x.md"]


def test_a_link_to_a_folder_otherwise_skipped_is_followed(tmp_path: Path) -> None:
    touch(tmp_path, ".hidden/x.md")
    (tmp_path / "shown").symlink_to(tmp_path / ".hidden", target_is_directory=True)
    assert discover(tmp_path) == ["shown/x.md"]


def test_linked_markdown_file_inside_the_root(tmp_path: Path) -> None:
    touch(tmp_path, "a.md")
    os.symlink(tmp_path / "a.md", tmp_path / "b.md")
    (tmp_path / "dangling.md").symlink_to(tmp_path / "missing.md")
    assert discover(tmp_path) == ["a.md", "b.md"]


def test_missing_root_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        discover(tmp_path / "nope")
