"""The keys an action accepts in its settings tables, and the check of the configuration
against them, made before any card runs: a misspelt key (``reload_comand``) would otherwise
be read as absent, and its default used without a word.

An action module declares its tables in ``SETTINGS``, either by name only,
``("zot", "ci")``, which accepts any key, or with their keys::

    SETTINGS = {
        "zot": ("url", "external_url"),  # the keys [zot] may hold, none required
        "ci": TableKeys(required=("repository_path",), optional=("registry_host",)),
    }
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mikado.config import PYPROJECT
from mikado.errors import ConfigError


@dataclass(frozen=True, slots=True)
class TableKeys:
    """The keys one settings table may hold: those it must hold, and the others."""

    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    @property
    def accepted(self) -> frozenset[str]:
        return frozenset(self.required) | frozenset(self.optional)


@dataclass(frozen=True, slots=True)
class Declaration:
    """What one action says of one table; ``keys`` is None when it names the table only."""

    action: str
    table: str
    keys: TableKeys | None


def table_label(table: str, source: Path | None) -> str:
    """The table as the person wrote it: ``[zot]``, or ``[tool.mikado.zot]`` in pyproject."""
    if source is not None and source.name == PYPROJECT:
        return f"[tool.mikado.{table}]"
    return f"[{table}]"


def check_settings(
    declarations: Iterable[Declaration],
    settings: Mapping[str, Mapping[str, Any]],
    *,
    source: Path | None,
) -> None:
    """Refuse (ConfigError, exit 2) a key no declaring action accepts, or a key one of them
    requires that is absent; every problem at once. Where several actions share a table, a
    key any of them accepts is allowed, and one that names the table only accepts anything.
    A declared table missing altogether is refused too, naming the actions that read it and
    where to get one: a first run without configuration lands here.
    """
    by_table: dict[str, list[Declaration]] = {}
    for declaration in declarations:
        by_table.setdefault(declaration.table, []).append(declaration)
    problems: list[str] = []
    missing = {table: d for table, d in by_table.items() if table not in settings}
    if missing:
        problems.append(_absent(missing, source))
    for table, declared in by_table.items():
        values = settings.get(table)
        if values is None:
            continue
        label = table_label(table, source)
        if all(d.keys is not None for d in declared):
            accepted = frozenset().union(*(d.keys.accepted for d in declared if d.keys))
            for key in values:
                if key not in accepted:
                    problems.append(_unknown(label, key, accepted, declared))
        for declaration in declared:
            if declaration.keys is None:
                continue
            for key in declaration.keys.required:
                if key not in values:
                    problems.append(
                        f"{label} lacks `{key}`, which action `{declaration.action}` requires"
                    )
    if problems:
        raise ConfigError("; ".join(dict.fromkeys(problems)), path=str(source) if source else None)


def _absent(missing: Mapping[str, list[Declaration]], source: Path | None) -> str:
    many = len(missing) > 1
    tables = ", ".join(
        f"{table_label(table, source)} (read by {_actions(declared)})"
        for table, declared in missing.items()
    )
    found = (
        "in the configuration"
        if source is not None
        else "(no mikado.toml, nor pyproject.toml with [tool.mikado], here or in a parent folder)"
    )
    # A new user's first command is the shipped chain without any configuration: say what
    # works from there, not only what is missing.
    return (
        f"no settings table{'s' if many else ''} {tables} {found}; try the chain against "
        "the built-in emulators with `mikado run GOAL --lab`, or write a configuration with "
        f"`mikado init` and add the table{'s' if many else ''} for your own services "
        "(docs/lab.md#running-against-your-own-services)"
    )


def _actions(declared: list[Declaration]) -> str:
    names = sorted({d.action for d in declared})
    return ("action " if len(names) == 1 else "actions ") + ", ".join(f"`{n}`" for n in names)


def _unknown(label: str, key: str, accepted: frozenset[str], declared: list[Declaration]) -> str:
    close = difflib.get_close_matches(key, sorted(accepted), n=1)
    hint = f"did you mean `{close[0]}`?" if close else f"known keys: {', '.join(sorted(accepted))}"
    readers = ", ".join(sorted({d.action for d in declared}))
    return (
        f"unknown key `{key}` in {label}: no action that reads the table ({readers}) "
        f"accepts it; {hint}"
    )
