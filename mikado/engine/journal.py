"""The run journal (docs/reference.md#run): JSON Lines in ``.mikado/journal.jsonl``, appended, never
rewritten.

Records: ``run-start``/``run-end`` and per card ``card-start``/``card-end`` (with ``outcome``,
``duration`` and ``error``). `status` reads it back for a failed card's last error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mikado.config import ensure_runtime

JOURNAL_FILE = "journal.jsonl"


@dataclass(frozen=True, slots=True)
class Failure:
    stem: str
    error: str
    at: str


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Journal:
    """Appends one line per event; each write is a single ``write`` on an O_APPEND file, so
    concurrent readers never see half a record (a torn last line after a crash is skipped)."""

    def __init__(self, runtime: Path, run_id: str):
        self.path = runtime / JOURNAL_FILE
        self.run_id = run_id

    def record(self, event: str, **fields: Any) -> None:
        ensure_runtime(self.path.parent)
        line = json.dumps({"time": now(), "run": self.run_id, "event": event, **fields})
        data = (line + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                # A crash (or a full disk) tore the last record: end it, or this record
                # would be glued to it and skipped with it.
                data = b"\n" + data
            while data:
                data = data[os.write(fd, data) :]
        finally:
            os.close(fd)


def records(runtime: Path) -> Iterator[dict[str, Any]]:
    try:
        stream = open(runtime / JOURNAL_FILE, encoding="utf-8", errors="replace")  # noqa: SIM115
    except FileNotFoundError:
        return
    with stream:
        for line in stream:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line torn by a crash mid-write
            if isinstance(record, dict):
                yield record


def last_failures(runtime: Path, stems: Iterable[str]) -> dict[str, Failure]:
    """The latest failure of each of ``stems`` not followed by a later outcome."""
    wanted = set(stems)
    failures: dict[str, Failure] = {}
    if not wanted:
        return failures
    for record in records(runtime):
        stem = record.get("stem")
        if record.get("event") != "card-end" or stem not in wanted:
            continue
        if record.get("outcome") == "failed":
            failures[stem] = Failure(stem, str(record.get("error", "")), str(record.get("time")))
        else:
            failures.pop(stem, None)
    return failures
