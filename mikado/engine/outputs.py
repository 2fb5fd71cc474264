"""The outputs store (docs/actions.md#outputs): non-secret values an action records for the
actions after it, such as the OIDC issuer, kept in ``.mikado/outputs.json``."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterator, Mapping
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

    def __init__(
        self,
        runtime: Path,
        masker: Masker,
        *,
        persist: bool = True,
        data: Mapping[str, Mapping[str, Any]] | None = None,
        on_put: Callable[[str, str, Any], None] | None = None,
    ):
        self.path = runtime / OUTPUTS_FILE
        self.masker = masker
        # A dry run keeps what its rehearsals record in memory: it must write nothing.
        self.persist = persist
        # An action's process starts from the engine's values (``data``) and hands each value
        # it records, once checked, to the engine (``on_put``), which alone writes the file.
        self._on_put = on_put
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, Any]] = (
            self._read() if data is None else {k: dict(v) for k, v in data.items()}
        )

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError, UnicodeDecodeError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: dict(v) for k, v in data.items() if isinstance(v, dict)}

    def put(self, stem: str, key: str, value: Any) -> None:
        data = self._checked(key, value)
        with self._lock:
            self._data.setdefault(stem, {})[key] = data
            if self._on_put is not None:
                self._on_put(stem, key, data)
            if not self.persist:
                return
            # Keys keep their order: a mapping an action stored (a policy it renders into a
            # configuration file, say) reads back as it was, in this run and the next.
            payload = json.dumps(self._data, ensure_ascii=False, indent=2, allow_nan=False)
            ensure_runtime(self.path.parent)
            write_atomic(self.path, (payload + "\n").encode("utf-8"))

    def _checked(self, key: str, value: Any) -> Any:
        """``value`` as JSON reads it back, or an error naming ``key`` and never the value."""
        if not isinstance(key, str):
            raise TypeError(f"output names are strings, not {type(key).__name__}")
        try:
            text = json.dumps(value, ensure_ascii=False)
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(
                f"output `{key}` holds text that is not valid Unicode (a lone surrogate)"
            ) from None
        except (TypeError, ValueError, RecursionError):
            raise ValueError(
                f"output `{key}` must be JSON data (strings, numbers, lists, mappings)"
            ) from None
        data = json.loads(text)
        # The decoded values are compared, not the JSON text, where a secret holding `"`,
        # `\\` or a control character is escaped out of recognition.
        if self.masker.contains_secret(key) or any(
            self._is_secret(item) for item in _scalars(data)
        ):
            # The value itself must not appear in the message.
            raise ValueError(f"output `{key}` holds a secret; outputs are for non-secret values")
        if any(isinstance(item, float) and not math.isfinite(item) for item in _scalars(data)):
            raise ValueError(
                f"output `{key}` holds NaN or Infinity, which JSON (and outputs.json) cannot hold"
            )
        return data

    def _is_secret(self, item: object) -> bool:
        if isinstance(item, str):
            return self.masker.contains_secret(item)
        # A number is a secret only when it is one (a PIN): 3000 is no leak of a secret `0`.
        if isinstance(item, int | float) and not isinstance(item, bool):
            return self.masker.is_secret(json.dumps(item))
        return False

    def get(self, stem: str, key: str, default: Any = None) -> Any:
        with self._lock:
            return self._data.get(stem, {}).get(key, default)

    def of(self, stem: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._data.get(stem, {}))

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Every value, for an action's process to start from."""
        with self._lock:
            return {stem: dict(values) for stem, values in self._data.items()}


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
                f"card `{stem}` has recorded no output `{key}`: it must run before "
                f"`{self._stem}` (add it to `requires` if it is not there); if it was "
                "completed by hand (`mikado done`), its action never ran: run the goal again "
                "with `--recheck` (its `check` then decides whether it runs), or set its "
                "`status: active`"
            )
        return value


def _scalars(data: Any) -> Iterator[Any]:
    """Every key, string and number in decoded JSON ``data``."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield from item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        else:
            yield item
