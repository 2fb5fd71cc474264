"""Secrets for actions (docs/reference.md#secrets): resolving ``env:``/``file:`` references and
masking every resolved value, in the forms text gives it (a line of it, collapsed, escaped,
encoded), wherever text leaves the engine (screen, journal, logs, cards, a child's output).

Every value that came from a reference counts as a secret, whatever its key: a URL read from
a file is masked too, which costs some readability and never leaks a token that happened to be
stored under an innocent name.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import threading
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from mikado.config import is_secret_reference
from mikado.errors import ConfigError

MASK = "***"

# An encoding or a piece of a secret is masked only when it is at least this long: shorter ones
# (the `MA` that is base64 for `0`, the `}` closing a JSON credential) match ordinary text and
# would garble it without hiding anything. The secret itself is always masked, however short.
MIN_ENCODED = 4
MIN_PIECE = 8

# What percent-encoders leave as is: RFC 3986 path characters (httpx's paths), and the WHATWG
# query set (printable ASCII but space, `"`, `#`, `<`, `>`). quote/quote_plus add their own.
_PATH_SAFE = "/!$&'()*+,;=:@"
_QUERY_SAFE = "".join(chr(i) for i in range(0x21, 0x7F) if chr(i) not in '"#<>')
_PERCENT = re.compile("%[0-9A-F]{2}")


def variants(secret: str) -> frozenset[str]:
    """Every form of ``secret`` the masker replaces: the secret, blank-stripped and with its
    whitespace collapsed (a one-line error message); each line of a multi-line secret (a PEM
    key or JSON credential quoted line by line); and the common encodings of the whole, as
    URLs, JSON and Python's repr escape it and as base64 carries it (std and urlsafe, with or
    without padding, and at each of the three alignments it can have inside a longer encoded
    text, as a password has inside a Basic authentication header)."""
    if not secret:
        return frozenset()
    wholes = {secret, secret.strip(), " ".join(secret.split())} - {""}
    encoded: set[str] = set()
    pieces: set[str] = set()
    for whole in wholes:
        encoded.update(_escaped(whole))
        encoded.update(_percent_encoded(whole))
        full, inner = _base64(whole.encode("utf-8"))
        encoded.update(full)
        pieces.update(inner)
    for line in secret.splitlines():
        pieces.update({line.strip(), " ".join(line.split())})
    return frozenset(
        wholes
        | {form for form in encoded if len(form) >= MIN_ENCODED}
        | {form for form in pieces if len(form) >= MIN_PIECE}
    )


def _escaped(text: str) -> set[str]:
    """As JSON (ASCII-only or not) and Python's repr show it inside their quotes."""
    return {
        json.dumps(text)[1:-1],
        json.dumps(text, ensure_ascii=False)[1:-1],
        repr(text)[1:-1],
    }


def _percent_encoded(text: str) -> set[str]:
    forms = {
        urllib.parse.quote(text, safe=""),
        urllib.parse.quote(text),  # keeps `/`
        urllib.parse.quote_plus(text, safe=""),
        urllib.parse.quote(text, safe=_PATH_SAFE),
        urllib.parse.quote(text, safe=_QUERY_SAFE),
    }
    # Some encoders write the hex digits in lower case.
    return forms | {_PERCENT.sub(lambda m: m[0].lower(), form) for form in forms}


def _base64(data: bytes) -> tuple[set[str], set[str]]:
    """``data`` in base64 on its own (padded and not), and the characters that depend on
    ``data`` alone when 0, 1 or 2 bytes of something else come before it, in std and urlsafe
    alphabets."""
    full: set[str] = set()
    inner: set[str] = set()
    for shift in (0, 1, 2):
        text = base64.b64encode(bytes(shift) + data).decode("ascii")
        if shift == 0:
            full.update({text, text.rstrip("=")})
        # 6 bits a character: those wholly within `data` start after the shifted bytes' bits
        # and stop before the bits the next, unknown, byte fills in.
        first = -(-8 * shift // 6)
        last = 8 * (shift + len(data)) // 6
        inner.add(text[first:last])
    urlsafe = str.maketrans("+/", "-_")
    return full | {f.translate(urlsafe) for f in full}, inner | {
        f.translate(urlsafe) for f in inner
    }


@dataclass(frozen=True, slots=True)
class _Compiled:
    """The masker's forms, compiled; replaced whole when a secret is added, so a reader
    never sees a pattern and a length from different moments."""

    pattern: re.Pattern[str] | None = None
    longest: int = 0
    # The forms longest first, and which characters start one, for LineMasker's look-ahead.
    forms: tuple[str, ...] = ()
    starts: frozenset[str] = frozenset()


class Masker:
    """Replaces every registered secret, in each of its :func:`variants`, with ``***``; safe
    to share across threads, and to call on any text, a line at a time or whole."""

    def __init__(self, secrets: Iterable[str] = ()):
        self._lock = threading.Lock()
        self._secrets: list[str] = []
        self._forms: set[str] = set()
        self._compiled = _Compiled()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            for secret in secrets:
                if secret not in self._secrets:
                    self._secrets.append(secret)
                self._forms.update(variants(secret))
            # Longest first, so a secret containing another is masked whole.
            ordered = tuple(sorted(self._forms, key=lambda f: (-len(f), f)))
            if not ordered:
                return
            self._compiled = _Compiled(
                pattern=re.compile("|".join(map(re.escape, ordered))),
                longest=len(ordered[0]),
                forms=ordered,
                starts=frozenset(form[0] for form in ordered),
            )

    @property
    def secrets(self) -> tuple[str, ...]:
        """The secrets as registered (an action's process builds its own masker from them)."""
        with self._lock:
            return tuple(self._secrets)

    def __call__(self, text: str) -> str:
        pattern = self._compiled.pattern
        return pattern.sub(MASK, text) if pattern is not None else text

    def contains_secret(self, text: str) -> bool:
        pattern = self._compiled.pattern
        return bool(pattern is not None and pattern.search(text))

    def is_secret(self, text: str) -> bool:
        """Whether ``text`` is, as a whole, one of the forms of a secret."""
        pattern = self._compiled.pattern
        return bool(pattern is not None and pattern.fullmatch(text))

    def mask_data(self, value: object) -> object:
        """``value`` (JSON-like data) with every string in it masked, keys too; numbers,
        booleans and the structure are left alone. Mask data this way before serializing it:
        masking the serialized text would turn `"exit": 0` into `"exit": ***` under a secret
        `0`, and `"` into `***` under a secret holding one."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, Mapping):
            return {
                self(k) if isinstance(k, str) else k: self.mask_data(v) for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.mask_data(item) for item in value]
        return value

    def undecided_from(self, text: str) -> int:
        """Where in ``text`` a secret may begin that more text would complete: the smallest
        index whose rest is a proper beginning of some form, else ``len(text)``. Masking is
        final before that index whatever comes next (:class:`LineMasker`)."""
        return _undecided_from(self._compiled, text)


def _undecided_from(compiled: _Compiled, text: str) -> int:
    for start in range(max(0, len(text) - compiled.longest + 1), len(text)):
        if text[start] not in compiled.starts:
            continue
        rest = text[start:]
        if any(len(form) > len(rest) and form.startswith(rest) for form in compiled.forms):
            return start
    return len(text)


class LineMasker:
    """Masks a stream that arrives in pieces, such as a child process's stdout or stderr,
    with the result its masker would give on the whole output.

    ``feed`` returns the masked text that is final: complete lines, held back only while the
    end of what came so far could be the beginning of a secret (split across two writes, or a
    multi-line secret arriving line by line) and let out as soon as it cannot. ``finish``
    returns the rest. A line longer than ``max_line`` is let out in pieces, so memory stays
    bounded. Decode bytes before feeding them (an incremental UTF-8 decoder keeps a
    character split across reads whole). Not thread-safe: one per stream.
    """

    def __init__(self, masker: Masker, *, max_line: int = 64 * 1024):
        self._masker = masker
        self._max_line = max_line
        self._pending = ""

    def feed(self, text: str) -> str:
        self._pending += text
        return self._take(final=False)

    def finish(self) -> str:
        return self._take(final=True)

    def _take(self, *, final: bool) -> str:
        text = self._pending
        compiled = self._masker._compiled  # one snapshot: forms added meanwhile wait a call
        undecided = len(text) if final else _undecided_from(compiled, text)
        # The matches starting before `undecided` are those masking the whole output finds
        # there: every form that could match at such a place lies wholly within `text`.
        found = compiled.pattern.finditer(text) if compiled.pattern is not None else ()
        matches = [(m.start(), m.end()) for m in found if m.start() < undecided]
        cut = len(text) if final else text.rfind("\n", 0, undecided) + 1
        if cut == 0 and undecided > self._max_line:
            # A line without an end: let out what is decided, through any secret in it.
            cut = max([undecided, *(end for start, end in matches if start < undecided)])
        else:
            # A multi-line secret across the last line break: the line it starts on waits.
            for start, end in reversed(matches):
                if start < cut < end:
                    cut = text.rfind("\n", 0, start) + 1
        if cut == 0:
            return ""
        self._pending = text[cut:]
        out: list[str] = []
        position = 0
        for start, end in matches:
            if end > cut:
                break
            out += (text[position:start], MASK)
            position = end
        out.append(text[position:cut])
        return "".join(out)


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
        if not value.strip():
            # Masked, a blank secret would garble every indented or spaced line.
            raise ConfigError(f"{where}: environment variable {name} is blank")
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
    if not value.strip():
        raise ConfigError(f"{where}: secret file {path} is blank")
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


@dataclass(frozen=True, slots=True)
class Unmasked:
    """The standard streams as they were before :func:`masked_output`, for text already
    masked value by value (JSON, see :meth:`Masker.mask_data`), which masking as text could
    corrupt."""

    stdout: IO[str]
    stderr: IO[str]


@contextmanager
def masked_output(masker: Masker) -> Iterator[Unmasked]:
    """Route ``sys.stdout`` and ``sys.stderr`` through ``masker`` for the duration; yields
    the streams they replace."""
    out, err = sys.stdout, sys.stderr
    sys.stdout = MaskingStream(out, masker)
    sys.stderr = MaskingStream(err, masker)
    try:
        yield Unmasked(out, err)
    finally:
        sys.stdout, sys.stderr = out, err
