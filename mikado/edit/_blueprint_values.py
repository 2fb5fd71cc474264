"""The values of an Authentik blueprint (:mod:`mikado.edit.blueprint`): Authentik's tags as
small values, an entry as written, and how a wanted value compares with the one a file holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeAlias

# -- values ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyOf:
    """``!KeyOf id``: the primary key of the object an earlier entry with this ``id`` made."""

    id: str


@dataclass(frozen=True, slots=True)
class Find:
    """``!Find [model, [field, value]]``: the primary key of an existing object."""

    model: str
    field: str
    value: Scalar


@dataclass(frozen=True, slots=True)
class Env:
    """``!Env NAME``: the value of an environment variable of Authentik's worker. The way to
    put a secret in a blueprint: the file names the variable, never the value."""

    name: str


@dataclass(frozen=True, slots=True)
class Tagged:
    """Any other tagged node (``!Format``, ``!If``, ``!Env [NAME, default]``...), as written."""

    tag: str
    source: str


@dataclass(frozen=True, slots=True)
class Including:
    """As a wanted attr: the list must hold these items; missing ones are appended after the
    items already there, which stay (one more redirect URI, not a new list)."""

    items: tuple[Value, ...]


Scalar: TypeAlias = str | int | float | bool | None
Value: TypeAlias = Scalar | KeyOf | Find | Env | Tagged | list["Value"] | dict[str, "Value"]
Wanted: TypeAlias = Value | Including


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of the blueprint, as written."""

    model: str
    id: str | None
    identifiers: Mapping[str, Value]
    attrs: Mapping[str, Value]
    state: str  # "present" unless the entry says otherwise
    line: int  # 1-based line of the entry's `- model:` in the file
    comment: str | None  # the `#` line(s) right above it, without the `# `


# -- comparing a wish with what is written ----------------------------------------------------


def _plain(value: Wanted) -> Value:
    return list(value.items) if isinstance(value, Including) else value


def _missing(current: Value, want: Including) -> list[Value]:
    have = list(current) if isinstance(current, list) else []
    missing: list[Value] = []
    for item in want.items:
        if item not in have and item not in missing:
            missing.append(item)
    return missing


def _holds(attrs: Mapping[str, Value], name: str, want: Wanted) -> bool:
    if name not in attrs:
        return False
    if isinstance(want, Including):
        return not _missing(attrs[name], want) and isinstance(attrs[name], list)
    return _equal(attrs[name], want)


def _equal(a: Value, b: Value) -> bool:
    # True == 1 in Python, not in YAML: a bool attr set to 1 must be rewritten.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b if isinstance(a, float | int) else a == b
