"""Secrets for actions (docs/reference.md#secrets): resolving ``env:``/``file:`` references and
masking every resolved value wherever text leaves the engine (screen, journal, logs, cards).

Every value that came from a reference counts as a secret, whatever its key: a URL read from
a file is masked too, which costs some readability and never leaks a token that happened to be
stored under an innocent name.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from mikado.config import is_secret_reference
from mikado.errors import ConfigError

MASK = "***"


class Masker:
    """Replaces every registered secret in a text with ``***``; safe to share across threads."""

    def __init__(self, secrets: Iterable[str] = ()):
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            for secret in secrets:
                if secret:
                    self._secrets.add(secret)
                    # A secret read from a file often arrives with its line break elsewhere.
                    if secret.strip() and secret.strip() != secret:
                        self._secrets.add(secret.strip())
            # Longest first, so a secret containing another is masked whole.
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __call__(self, text: str) -> str:
        pattern = self._pattern
        return pattern.sub(MASK, text) if pattern is not None else text

    def contains_secret(self, text: str) -> bool:
        pattern = self._pattern
        return bool(pattern is not None and pattern.search(text))


def resolve_reference(reference: str, *, base: Path, where: str) -> str:
    """The value an ``env:NAME`` or ``file:PATH`` reference stands for.

    A missing variable or unreadable file is a configuration error (exit 2) that names the
    reference, never a value.
    """
    kind, _, name = reference.partition(":")
    if kind == "env":
        value = os.environ.get(name)
        if value is None:
            raise ConfigError(f"{where}: environment variable {name} is not set")
        if not value:
            raise ConfigError(f"{where}: environment variable {name} is empty")
        return value
    path = (base / Path(name).expanduser()).absolute()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{where}: secret file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"{where}: cannot read secret file {path}: {reason}") from None
    # Files written by `echo` or editors end in a line break that is not part of the secret.
    value = text.rstrip("\r\n")
    if not value:
        raise ConfigError(f"{where}: secret file {path} is empty")
    return value


def resolve_tables(
    settings: Mapping[str, Mapping[str, Any]],
    names: Iterable[str],
    *,
    base: Path,
    masker: Masker,
) -> dict[str, dict[str, Any]]:
    """The named settings tables with every reference resolved; each resolved value is
    registered with ``masker`` before it is returned."""
    resolved: dict[str, dict[str, Any]] = {}
    for name in names:
        table = settings.get(name)
        if table is None:
            raise ConfigError(
                f"an action declares the settings table [{name}], but the configuration has none"
            )
        resolved[name] = _resolve(table, base=base, masker=masker, where=f"[{name}]")
    return resolved


def _resolve(value: Any, *, base: Path, masker: Masker, where: str) -> Any:
    if isinstance(value, Mapping):
        return {
            key: _resolve(item, base=base, masker=masker, where=f"{where} {key}")
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_resolve(item, base=base, masker=masker, where=where) for item in value]
    if is_secret_reference(value):
        secret = resolve_reference(value, base=base, where=where)
        masker.add([secret])
        return secret
    return value


class MaskingStream:
    """A text stream that masks every secret written through it (``print`` in an action,
    a traceback from a thread): the last guard before the screen."""

    def __init__(self, inner: IO[str], masker: Masker):
        self._inner = inner
        self._masker = masker

    def write(self, text: str) -> int:
        self._inner.write(self._masker(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@contextmanager
def masked_output(masker: Masker) -> Iterator[None]:
    """Route ``sys.stdout`` and ``sys.stderr`` through ``masker`` for the duration."""
    out, err = sys.stdout, sys.stderr
    sys.stdout = MaskingStream(out, masker)
    sys.stderr = MaskingStream(err, masker)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err
