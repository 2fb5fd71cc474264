"""Durable whole-file replacement: through symbolic links, and without leaving temporary files
behind for ever when a writer is killed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mikado.edit import atomic
from mikado.edit.atomic import STALE_AFTER, sweep_temporaries, write_atomic


@pytest.fixture(autouse=True)
def fresh_sweeps(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each folder is swept once per process; every test starts as a new process would.
    monkeypatch.setattr(atomic, "_swept", set())


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def aged(path: Path, seconds: float) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def test_writing_through_a_link_edits_its_target_and_keeps_the_link(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "card.md"
    target.write_bytes(b"old\n")
    target.chmod(0o640)
    link = tmp_path / "card.md"
    link.symlink_to(Path("real") / "card.md")
    write_atomic(link, b"new\n")
    assert link.is_symlink() and os.readlink(link) == os.path.join("real", "card.md")
    assert target.read_bytes() == b"new\n"
    assert target.stat().st_mode & 0o777 == 0o640
    # the temporary file was made beside the target, and is gone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card.md", "real"]
    assert sorted(p.name for p in (tmp_path / "real").iterdir()) == ["card.md"]


def test_a_chain_of_links_is_followed_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "file.md").write_bytes(b"old\n")
    (tmp_path / "one.md").symlink_to("file.md")
    (tmp_path / "two.md").symlink_to("one.md")
    write_atomic(tmp_path / "two.md", b"new\n")
    assert (tmp_path / "two.md").is_symlink() and (tmp_path / "one.md").is_symlink()
    assert (tmp_path / "file.md").read_bytes() == b"new\n"


def test_an_exclusive_write_never_goes_through_a_dangling_link(tmp_path: Path) -> None:
    (tmp_path / "new.md").symlink_to("elsewhere.md")
    with pytest.raises(FileExistsError):
        write_atomic(tmp_path / "new.md", b"x\n", exclusive=True)
    assert not (tmp_path / "elsewhere.md").exists()


def test_temporary_names_carry_the_writers_pid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    real = os.replace

    def spy(source: str, target: object) -> None:
        seen.append(os.path.basename(source))
        real(source, target)  # type: ignore[arg-type]

    monkeypatch.setattr(atomic.os, "replace", spy)
    write_atomic(tmp_path / "card.md", b"x\n")
    [name] = seen
    assert name.startswith(f".card.md.mikado-{os.getpid()}.") and name.endswith(".tmp")


def test_stale_temporaries_of_dead_writers_are_swept_on_the_next_write(tmp_path: Path) -> None:
    dead = dead_pid()
    old = STALE_AFTER + 5
    for name in ("card.md", "other.md", "backup.md"):
        (tmp_path / name).write_bytes(b"x\n")
    cases = {  # name: (age in seconds, swept)
        f".card.md.mikado-{dead}.abcd_123.tmp": (old, True),
        ".card.md.x1y2z3w4.tmp": (old, True),  # named before names carried a pid
        f".other.md.mikado-{dead}.zzzzzzzz.tmp": (3600, True),
        f".gone.md.mikado-{dead}.zzzzzzzz.tmp": (3600, False),  # no file it was for: not ours
        f".card.md.mikado-{dead}.qqqqqqqq.tmp": (1, False),  # too young to judge
        f".card.md.mikado-{os.getpid()}.livelive.tmp": (3600, False),  # its writer lives
        ".notes.tmp": (3600, False),  # not a name mikado makes
        ".notes.my_draft.tmp": (3600, False),  # a person's: no file `notes` beside it
        ".backup.20240101.tmp": (3600, False),  # nor `backup` (backup.md is another name)
        ".card.md.abc.tmp": (3600, False),
        "card.md.abcdefgh.tmp": (3600, False),  # not hidden: not ours
    }
    for name, (age, _) in cases.items():
        (tmp_path / name).write_bytes(b"half")
        aged(tmp_path / name, age)

    write_atomic(tmp_path / "card.md", b"x\n")
    left = {name for name in cases if (tmp_path / name).exists()}
    assert left == {name for name, (_, swept) in cases.items() if not swept}


def test_a_card_whose_name_is_near_the_limit_is_written_and_its_leftover_swept(
    tmp_path: Path,
) -> None:
    """The temporary's name adds a marker, a pid and a random part to the card's: a 250-byte
    name (80 CJK characters are 240) must not make the write fail."""
    card = tmp_path / ("卡" * 80 + ".md")
    write_atomic(card, b"x\n")
    write_atomic(card, b"y\n")
    assert card.read_bytes() == b"y\n"
    leftover = tmp_path / (
        atomic._temporary_prefix(card.name).replace(str(os.getpid()), str(dead_pid()))
        + "abcdefgh.tmp"
    )
    leftover.write_bytes(b"half")
    aged(leftover, STALE_AFTER + 5)
    assert sweep_temporaries(tmp_path) == [leftover.name]


def test_each_folder_is_swept_once_per_process(tmp_path: Path) -> None:
    write_atomic(tmp_path / "card.md", b"x\n")
    late = tmp_path / f".card.md.mikado-{dead_pid()}.abcdefgh.tmp"
    late.write_bytes(b"half")
    aged(late, STALE_AFTER + 5)
    write_atomic(tmp_path / "card.md", b"y\n")
    assert late.exists()
    assert sweep_temporaries(tmp_path) == [late.name]
    assert not late.exists()


def test_a_sweep_of_an_unreadable_folder_is_silent(tmp_path: Path) -> None:
    assert sweep_temporaries(tmp_path / "missing") == []
