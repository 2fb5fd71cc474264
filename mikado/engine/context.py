"""What an action gets (SPEC §7): its card, its settings, the shared HTTP client, a masking
logger, ``dry_run``, and the outputs store that carries non-secret values to later actions.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from mikado.config import ensure_runtime
from mikado.edit.atomic import write_atomic
from mikado.engine.secrets import Masker
from mikado.model.card import Card

OUTPUTS_FILE = "outputs.json"
LOGGER_PREFIX = "mikado.action"


class OutputStore:
    """Non-secret values actions record for later actions, per card, in ``.mikado/outputs.json``.

    Written through on every change (atomically), so a value survives a crash of the run that
    recorded it; a value holding a resolved secret is refused.
    """

    def __init__(self, runtime: Path, masker: Masker, *, persist: bool = True):
        self.path = runtime / OUTPUTS_FILE
        self.masker = masker
        # A dry run keeps what its rehearsals record in memory: it must write nothing.
        self.persist = persist
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, Any]] = self._read()

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError, UnicodeDecodeError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: dict(v) for k, v in data.items() if isinstance(v, dict)}

    def put(self, stem: str, key: str, value: Any) -> None:
        try:
            text = json.dumps(value, ensure_ascii=False, sort_keys=True)
        except (TypeError, ValueError):
            raise ValueError(
                f"output `{key}` must be JSON data (strings, numbers, lists, mappings)"
            ) from None
        if self.masker.contains_secret(text) or self.masker.contains_secret(key):
            # The value itself must not appear in the message.
            raise ValueError(f"output `{key}` holds a secret; outputs are for non-secret values")
        with self._lock:
            self._data.setdefault(stem, {})[key] = json.loads(text)
            if not self.persist:
                return
            payload = json.dumps(self._data, ensure_ascii=False, indent=2, sort_keys=True)
            ensure_runtime(self.path.parent)
            write_atomic(self.path, (payload + "\n").encode("utf-8"))

    def get(self, stem: str, key: str, default: Any = None) -> Any:
        with self._lock:
            return self._data.get(stem, {}).get(key, default)

    def of(self, stem: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._data.get(stem, {}))


class Outputs:
    """The outputs store as one action sees it: writes go to its own card."""

    def __init__(self, store: OutputStore, stem: str):
        self._store = store
        self._stem = stem

    def set(self, key: str, value: Any) -> None:
        """Record ``value`` (JSON data, not a secret) under this card's ``key``."""
        self._store.put(self._stem, key, value)

    def get(self, stem: str, key: str, default: Any = None) -> Any:
        """What card ``stem`` recorded under ``key``, or ``default``."""
        return self._store.get(stem, key, default)

    def read(self, stem: str, key: str) -> Any:
        """What card ``stem`` recorded under ``key``; a clear error when it has not run."""
        missing = object()
        value = self._store.get(stem, key, missing)
        if value is missing:
            raise LookupError(
                f"card `{stem}` has recorded no output `{key}`; "
                f"it must run before `{self._stem}` (add it to `requires`)"
            )
        return value


class MaskingFilter(logging.Filter):
    """Renders each record's message (and traceback) with every secret masked."""

    def __init__(self, masker: Masker):
        super().__init__()
        self.masker = masker

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.masker(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.masker(record.exc_text)
        if record.stack_info:
            record.stack_info = self.masker(record.stack_info)
        return True


def action_logger(stem: str, masker: Masker) -> logging.Logger:
    logger = logging.getLogger(f"{LOGGER_PREFIX}.{stem}")
    if not any(isinstance(f, MaskingFilter) and f.masker is masker for f in logger.filters):
        for old in [f for f in logger.filters if isinstance(f, MaskingFilter)]:
            logger.removeFilter(old)
        logger.addFilter(MaskingFilter(masker))
    return logger


@dataclass(frozen=True)
class Context:
    """The argument of every action hook.

    ``settings`` holds the tables the action declares in ``SETTINGS``, secrets resolved;
    ``base`` is the configuration file's folder, against which relative paths in settings
    resolve;
    ``cancelled`` is set when the run gives up on the action (timeout, Ctrl-C), so a long
    action can stop early.
    """

    card: Card
    path: Path
    docs: Path
    base: Path
    settings: Mapping[str, Mapping[str, Any]]
    http: httpx.Client
    log: logging.Logger
    dry_run: bool
    outputs: Outputs
    cancelled: threading.Event

    @property
    def stem(self) -> str:
        return self.card.stem
