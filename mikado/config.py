"""Configuration (docs/reference.md#configuration): where the docs are, which rules apply, and the
actions' settings.

A typo must never weaken the gate, so every key is checked and an unknown one is an error
(exit 2). Secrets never live in the file: a value under a secret-looking key must be an
``env:NAME`` or ``file:PATH`` reference, and a literal one is refused without being echoed.
"""

from __future__ import annotations

import contextlib
import fnmatch
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from mikado.errors import ConfigError
from mikado.model.rules import RULE_NAMES

CONFIG_FILE = "mikado.toml"
PYPROJECT = "pyproject.toml"
RUNTIME_DIR = ".mikado"
ALWAYS_EXCLUDED = ("changelog.d",)
SECRET_WORDS = ("token", "secret", "password", "key")
SECRET_PREFIXES = ("env:", "file:")
DEFAULT_TIMEOUT = 600.0

IndexMode = Literal["auto", "table", "off"]


@dataclass(frozen=True, slots=True)
class TlsSettings:
    ca_bundle: Path | None = None
    insecure: bool = False


@dataclass(frozen=True, slots=True)
class Config:
    """Resolved settings. Paths are absolute; ``source`` is the file they came from."""

    source: Path | None
    docs: Path
    actions: Path
    runtime: Path
    exclude: tuple[str, ...] = ()
    required: tuple[str, ...] = ("title", "modified", "tags")
    cards_in: tuple[str, ...] = ()
    completion: Literal["remove", "done"] = "remove"
    index_mode: IndexMode = "auto"
    index_table: Mapping[str, str] = field(default_factory=dict)
    orphan_exempt: tuple[str, ...] = ("index",)
    ignore: frozenset[str] = frozenset()  # rules switched off everywhere
    # (rule, pattern): a rule switched off for the docs whose path (from the docs root, with
    # `/`) matches the fnmatch pattern, as `ignore = ["action-missing:zot/mint-*.md"]` says
    ignore_paths: tuple[tuple[str, str], ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    tls: TlsSettings = TlsSettings()
    # Wiki-link targets that are no file of the tree but exist once the site is built (a
    # CHANGELOG copied in by the build): links to them are valid.
    build_time_docs: tuple[str, ...] = ()
    # Front-matter keys allowed besides the fields mikado reads and `required`; ``None``
    # when the configuration does not list them (then any other key is allowed).
    allowed_fields: tuple[str, ...] | None = None
    # The actions' own tables ([authentik], [forgejo], ...), secret references unresolved.
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def rule_enabled(self, rule: str) -> bool:
        return rule not in self.ignore

    def reports(self, rule: str, path: str) -> bool:
        """Whether a finding of ``rule`` on the doc at ``path`` is reported."""
        if rule in self.ignore:
            return False
        return not any(
            rule == ignored and fnmatch.fnmatchcase(path, pattern)
            for ignored, pattern in self.ignore_paths
        )

    def excluded(self) -> frozenset[str]:
        return frozenset((*ALWAYS_EXCLUDED, *self.exclude))


def ensure_runtime(runtime: Path) -> Path:
    """Create the runtime folder, with a ``.gitignore`` so journals, locks and caches never end
    up in a commit (a docs repository is usually committed with ``git add -A``).

    A runtime path that cannot be a folder (a file in its place, no permission) is a
    :class:`ConfigError` naming it: the environment is wrong, not mikado, and a person fixes
    it by moving one thing."""
    try:
        runtime.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):  # a file where the folder, or a parent, goes
        raise ConfigError(
            f"{runtime} cannot be mikado's runtime folder: it, or a folder above it, exists and "
            "is not a folder; move it away (mikado keeps its run lock, journal and cache there)"
        ) from None
    except OSError as error:
        raise ConfigError(
            f"cannot create mikado's runtime folder {runtime}: {error.strerror or error}"
        ) from None
    ignore = runtime / ".gitignore"
    if not ignore.exists():
        # A read-only tree still runs; only the convenience is lost.
        with contextlib.suppress(OSError):
            ignore.write_text("# mikado's runtime files: never commit them\n*\n", encoding="utf-8")
    return runtime


def is_secret_reference(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SECRET_PREFIXES) and len(value) > 5


def find_config_file(start: Path) -> Path | None:
    """The nearest ``mikado.toml``, or ``pyproject.toml`` holding ``[tool.mikado]``."""
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            return candidate
        pyproject = folder / PYPROJECT
        if pyproject.is_file() and _pyproject_has_mikado(pyproject):
            return pyproject
    return None


def _pyproject_has_mikado(path: Path) -> bool:
    # A cheap text test first: parsing every pyproject.toml on the way up costs start-up time.
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if "tool.mikado" not in text and "[tool]" not in text:
        return False
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return "[tool.mikado" in text  # let load_config report the syntax error
    tool = data.get("tool")
    return isinstance(tool, dict) and "mikado" in tool


def load_config(
    *, config_file: Path | None = None, docs: Path | None = None, cwd: Path | None = None
) -> Config:
    """Find and read the configuration; ``docs`` (from ``--docs``) overrides the file's."""
    cwd = (cwd or Path.cwd()).absolute()
    if config_file is not None:
        config_file = (cwd / config_file).absolute()
        if not config_file.is_file():
            raise ConfigError(f"configuration file {config_file} does not exist")
    else:
        config_file = find_config_file(cwd)

    table: Mapping[str, Any] = {}
    settings: dict[str, Mapping[str, Any]] = {}
    base = cwd
    if config_file is not None:
        table, settings = _read_tables(config_file)
        base = config_file.parent

    config = _build(table, settings, base=base, source=config_file)
    if docs is not None:
        config = replace(config, docs=(cwd / docs).absolute())
    return config


def _read_tables(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason})", path=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        message, line = _toml_problem(exc)
        raise ConfigError(message, path=str(path), line=line) from None

    if path.name == PYPROJECT:
        tool = data.get("tool", {})
        mikado = dict(tool.get("mikado", {})) if isinstance(tool, dict) else {}
        # In pyproject.toml the actions' tables nest under [tool.mikado.<name>].
        settings = {
            name: value
            for name, value in mikado.items()
            if isinstance(value, dict) and name not in _KNOWN_KEYS
        }
        for name in settings:
            del mikado[name]
        where = "[tool.mikado]"
    else:
        mikado = data.get("mikado", {})
        if not isinstance(mikado, dict):
            raise ConfigError("`mikado` must be a table: write [mikado]", path=str(path))
        settings = {}
        for name, value in data.items():
            if name == "mikado":
                continue
            if not isinstance(value, dict):
                raise ConfigError(
                    f"top-level key `{name}` is not a table; mikado settings go under [mikado], "
                    "action settings in their own [table]",
                    path=str(path),
                )
            settings[name] = value
        where = "[mikado]"

    for name, value in settings.items():
        _refuse_literal_secrets(value, f"[{name}]", path)
    _check_keys(mikado, where, path)
    return mikado, settings


_TOML_PLACE = re.compile(r" \(at line (\d+), column (\d+)\)$")


def _toml_problem(exc: tomllib.TOMLDecodeError) -> tuple[str, int | None]:
    """tomllib's message, with the line it ends with moved to where `file:line` shows it."""
    message = str(exc)
    place = _TOML_PLACE.search(message)
    if place is None:
        return f"invalid TOML: {message}", None
    return f"invalid TOML: {message[: place.start()]} (column {place[2]})", int(place[1])


_KNOWN_KEYS = frozenset(
    {
        "docs",
        "actions",
        "exclude",
        "required",
        "cards_in",
        "completion",
        "index",
        "orphan_exempt",
        "ignore",
        "timeout",
        "tls",
        "build_time_docs",
        "allowed_fields",
    }
)


def _check_keys(table: Mapping[str, Any], where: str, path: Path) -> None:
    for key in table:
        if key not in _KNOWN_KEYS:
            known = ", ".join(sorted(_KNOWN_KEYS))
            raise ConfigError(
                f"unknown key `{key}` in {where} (known keys: {known})", path=str(path)
            )


def _refuse_literal_secrets(value: Any, where: str, path: Path, secret: bool = False) -> None:
    """Under a secret-looking key, every value (each item of a list, each value of a table,
    at any depth) must be a reference: a number, a date or a table of literals reaches the
    action as it is written, so it would be a secret in the file. Only a boolean passes,
    being no credential (``verify_token = false``)."""
    if isinstance(value, dict):
        for sub, item in value.items():
            _refuse_literal_secrets(item, f"{where} {sub}", path, secret or _looks_secret(sub))
        return
    if isinstance(value, list):
        for item in value:
            _refuse_literal_secrets(item, where, path, secret)
        return
    if secret and not isinstance(value, bool) and not is_secret_reference(value):
        raise ConfigError(
            f"{where.strip()}: a secret must not be written in the configuration; "
            "give `env:VARIABLE` or `file:PATH` instead (the value was not shown)",
            path=str(path),
        )


def _looks_secret(key: str) -> bool:
    return any(word in key.lower() for word in SECRET_WORDS)


def _build(
    table: Mapping[str, Any],
    settings: Mapping[str, Mapping[str, Any]],
    *,
    base: Path,
    source: Path | None,
) -> Config:
    where = str(source) if source else None

    def fail(message: str) -> ConfigError:
        return ConfigError(message, path=where)

    def string(key: str, default: str) -> str:
        value = table.get(key, default)
        if not isinstance(value, str) or not value:
            raise fail(f"`{key}` must be a non-empty string")
        return value

    def strings(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = table.get(key, list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise fail(f"`{key}` must be a list of non-empty strings")
        return tuple(value)

    completion = table.get("completion", "remove")
    if completion not in ("remove", "done"):
        raise fail('`completion` must be "remove" or "done"')

    index_mode: IndexMode = "auto"
    index_table: dict[str, str] = {}
    index = table.get("index", "auto")
    if index is False:
        index_mode = "off"
    elif isinstance(index, dict):
        index_mode = "table"
        for folder, doc in index.items():
            if not isinstance(doc, str) or not doc:
                raise fail(f"`index` entry `{folder}` must name an index file (a string)")
            index_table[folder.strip("/")] = doc
    elif index != "auto":
        raise fail('`index` must be "auto", false, or a table of folder = "index file"')

    ignore: list[str] = []
    ignore_paths: list[tuple[str, str]] = []
    for entry in strings("ignore", ()):
        rule, colon, pattern = entry.partition(":")
        if colon and not pattern.strip():
            raise fail(f'`ignore` entry "{entry}": give a path pattern after the colon')
        if colon:
            ignore_paths.append((rule.strip(), pattern.strip().lstrip("/")))
        else:
            ignore.append(rule.strip())
    unknown = sorted({rule for rule in (*ignore, *(r for r, _ in ignore_paths))} - RULE_NAMES)
    if unknown:
        raise fail(
            f"`ignore` names unknown rule(s): {', '.join(unknown)} "
            f"(rules: {', '.join(sorted(RULE_NAMES))}; a rule may be followed by "
            '":path-pattern", e.g. "orphan:drafts/*.md")'
        )

    build_time_docs = strings("build_time_docs", ())
    for name in build_time_docs:
        # A target is what stands before `|` and `#`, without blanks or folders: any other
        # entry could never match a link and would hide the typo that made it.
        if name != name.strip() or any(c in name for c in "/|#[]"):
            raise fail(
                f'`build_time_docs` entry "{name}" cannot be a wiki-link target: give the '
                'name as linked, e.g. "CHANGELOG" for [[CHANGELOG]] (no folders, `|`, `#`, '
                "brackets or surrounding blanks)"
            )

    allowed_fields = None
    if "allowed_fields" in table:
        allowed_fields = strings("allowed_fields", ())

    timeout = table.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise fail("`timeout` must be a positive number of seconds")

    tls = table.get("tls", {})
    if not isinstance(tls, dict):
        raise fail("`tls` must be a table: [mikado.tls]")
    for key in tls:
        if key not in ("ca_bundle", "insecure"):
            raise fail(f"unknown key `{key}` in tls (known keys: ca_bundle, insecure)")
    ca_bundle = tls.get("ca_bundle")
    if ca_bundle is not None and (not isinstance(ca_bundle, str) or not ca_bundle):
        raise fail("`tls.ca_bundle` must be a path")
    insecure = tls.get("insecure", False)
    if not isinstance(insecure, bool):
        raise fail("`tls.insecure` must be true or false")

    runtime = (source.parent if source else base) / RUNTIME_DIR
    return Config(
        source=source,
        docs=(base / string("docs", "cards")).absolute(),
        actions=(base / string("actions", "actions")).absolute(),
        runtime=runtime,
        exclude=tuple(e.strip("/") for e in strings("exclude", ())),
        required=strings("required", ("title", "modified", "tags")),
        cards_in=tuple(c.strip("/") for c in strings("cards_in", ())),
        completion=completion,
        index_mode=index_mode,
        index_table=index_table,
        orphan_exempt=strings("orphan_exempt", ("index",)),
        ignore=frozenset(ignore),
        ignore_paths=tuple(ignore_paths),
        timeout=float(timeout),
        tls=TlsSettings(
            ca_bundle=(base / ca_bundle).absolute() if ca_bundle else None, insecure=insecure
        ),
        settings=dict(settings),
        build_time_docs=build_time_docs,
        allowed_fields=allowed_fields,
    )
