"""Several files written as one: planned in memory, written in order, put back on failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from mikado.edit import changes as changes_module
from mikado.edit.changes import Changes
from mikado.errors import CardEditError


def snapshot(root: Path) -> dict[str, bytes | str]:
    return {
        str(p.relative_to(root)): p.read_bytes() if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
    }


def test_reads_see_what_is_planned(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"old")
    plan = Changes()
    assert plan.read(tmp_path / "a") == b"old"
    plan.replace(tmp_path / "a", b"one")
    plan.replace(tmp_path / "a", plan.read(tmp_path / "a") + b" two")
    assert (tmp_path / "a").read_bytes() == b"old"  # nothing written yet
    assert plan.apply() == [tmp_path / "a"]
    assert (tmp_path / "a").read_bytes() == b"one two"


def test_an_unreadable_file_is_a_card_edit_error(tmp_path: Path) -> None:
    with pytest.raises(CardEditError, match="cannot read"):
        Changes().read(tmp_path / "missing")


def test_creating_over_an_existing_file_is_refused_when_planned(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x")
    with pytest.raises(FileExistsError):
        Changes().create(tmp_path / "a", b"y")


@pytest.mark.parametrize("failing", ["b", "new/deeper/c", "d"])
def test_a_failed_write_puts_back_everything_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    (tmp_path / "a").write_bytes(b"a")
    (tmp_path / "b").write_bytes(b"b")
    (tmp_path / "d").symlink_to("a")
    before = snapshot(tmp_path)
    plan = Changes()
    plan.replace(tmp_path / "a", b"A")
    plan.replace(tmp_path / "b", b"B")
    plan.create(tmp_path / "new" / "deeper" / "c", b"C")
    plan.replace(tmp_path / "b", b"BB")
    real = changes_module.write_atomic

    def flaky(path: Path, data: bytes, **kw: object) -> None:
        if path == tmp_path / failing and data not in (b"a", b"b"):
            raise OSError(28, "No space left on device")
        real(path, data, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(changes_module, "write_atomic", flaky)
    if failing == "d":
        plan.replace(tmp_path / "d", b"through the link")
    with pytest.raises(OSError, match="No space"):
        plan.apply()
    assert snapshot(tmp_path) == before


def test_a_file_created_meanwhile_is_not_removed(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"a")
    plan = Changes()
    plan.replace(tmp_path / "a", b"A")
    plan.create(tmp_path / "c", b"mine")
    (tmp_path / "c").write_bytes(b"someone else's")
    with pytest.raises(FileExistsError):
        plan.apply()
    assert (tmp_path / "c").read_bytes() == b"someone else's"
    assert (tmp_path / "a").read_bytes() == b"a"
