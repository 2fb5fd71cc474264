"""The outputs store (docs/actions.md#outputs): non-secret values an action records for the
actions after it, such as the OIDC issuer, kept in ``.mikado/outputs.json``."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from mikado.config import ensure_runtime
from mikado.edit.atomic import write_atomic
from mikado.engine.secrets import Masker

OUTPUTS_FILE = "outputs.json"


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
            text = json.dumps(value, ensure_ascii=False)
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
            # Keys keep their order: a mapping an action stored (a policy it renders into a
            # configuration file, say) reads back as it was, in this run and the next.
            payload = json.dumps(self._data, ensure_ascii=False, indent=2)
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
