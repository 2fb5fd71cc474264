"""Writing values into an Authentik blueprint (:mod:`mikado.edit.blueprint`): the check that a
wish can be written (no literal secret, only values YAML holds), and values as YAML text in the
file's own indentation, read back by PyYAML as the same values.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mikado.edit._blueprint_read import _pyyaml_resolve
from mikado.edit._blueprint_values import (
    Env,
    Find,
    Including,
    KeyOf,
    Scalar,
    Tagged,
    Value,
    Wanted,
)
from mikado.errors import ConfigError

# -- checking a wish -------------------------------------------------------------------------

# Attrs whose plain string would be a secret written into a repository.
_SECRET_KEYS = frozenset({"client_secret", "password", "password_hash", "key"})


def _check_wish(
    path: str,
    model: str,
    identifiers: Mapping[str, Value],
    attrs: Mapping[str, Wanted],
    comment: str,
    entry_id: str | None,
) -> None:
    if not re.fullmatch(r"[a-z0-9_]+\.[a-z0-9_]+", model):
        raise ConfigError(f"`{model}` is not an Authentik model name (app_label.model)", path=path)
    if not identifiers:
        raise ConfigError(f"an entry of {model} needs identifiers to be found again", path=path)
    if "\n" in comment or not comment.strip():
        raise ConfigError("an entry's comment is one line of text", path=path)
    if entry_id is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", entry_id):
        raise ConfigError(f"`{entry_id}` is not an entry id mikado writes", path=path)
    for key, wanted in (*identifiers.items(), *attrs.items()):
        values: Iterable[Any] = wanted.items if isinstance(wanted, Including) else (wanted,)
        for value in values:
            _check_value(path, key, value)


def _check_value(path: str, key: str, value: Any) -> None:
    if key in _SECRET_KEYS and isinstance(value, str) and value:
        raise ConfigError(
            f"`{key}` would write a secret into the repository: pass Env('NAME') (`!Env NAME`, "
            "read from Authentik's environment) instead",
            path=path,
        )
    if isinstance(value, dict):
        for inner_key, inner in value.items():
            if not isinstance(inner_key, str):
                raise ConfigError(f"`{key}`: mapping keys are strings", path=path)
            _check_value(path, inner_key, inner)
    elif isinstance(value, list):
        for item in value:
            _check_value(path, key, item)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"`{key}`: {value} is not a number a blueprint can hold", path=path)
    elif not isinstance(value, str | int | float | bool | KeyOf | Find | Env | Tagged) and (
        value is not None
    ):
        raise ConfigError(f"`{key}`: cannot write a {type(value).__name__}", path=path)
    elif isinstance(value, Tagged) and "\n" in value.source:
        raise ConfigError(f"`{key}`: a tagged value written on several lines", path=path)


# -- writing values --------------------------------------------------------------------------

_PLAIN_FIRST = frozenset("-?:,[]{}#&*!|>'\"%@`")


def _scalar_text(value: Scalar, *, flow: bool = False) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        # YAML 1.1 (PyYAML) reads a float only with a dot: `1e+20` would be a string.
        text = repr(value)
        return text if "." in text else text.replace("e", ".0e", 1) if "e" in text else text + ".0"
    if _plain_ok(value, flow=flow):
        return value
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a YAML double-quoted one


def _plain_ok(text: str, *, flow: bool) -> bool:
    if not text or text != text.strip() or text[0] in _PLAIN_FIRST:
        return False
    if ": " in text or " #" in text or text.endswith(":") or not text.isprintable():
        return False
    if flow and any(c in text for c in ",[]{}"):
        return False
    # It must read back as this string, not as a number, a bool or null.
    return _pyyaml_resolve(text) == "tag:yaml.org,2002:str"


def _inline(value: Value, *, flow: bool = False) -> str | None:
    """The one-line text of ``value``, or None when it is written as a block."""
    if isinstance(value, KeyOf):
        return f"!KeyOf {_scalar_text(value.id)}"
    if isinstance(value, Env):
        return f"!Env {_scalar_text(value.name)}"
    if isinstance(value, Find):
        model, name = _scalar_text(value.model, flow=True), _scalar_text(value.field, flow=True)
        return f"!Find [{model}, [{name}, {_scalar_text(value.value, flow=True)}]]"
    if isinstance(value, Tagged):
        return value.source
    if isinstance(value, list):
        if not value:
            return "[]"
        if flow:
            items = [_inline(item, flow=True) for item in value]
            return None if None in items else f"[{', '.join(str(i) for i in items)}]"
        return None
    if isinstance(value, dict):
        return "{}" if not value else None
    return _scalar_text(value, flow=flow)


@dataclass(frozen=True, slots=True)
class _Style:
    """How this file indents: measured from its entries, the seed's layout by default."""

    step: int = 2  # a nested mapping's keys, right of its key
    list_offset: int = 2  # a block list's dashes, right of its key
    item_offset: int = 2  # a list item's content, right of its dash


def _key_lines(key: str, value: Value, column: int, style: _Style) -> list[str]:
    pad = " " * column
    name = _scalar_text(key)
    inline = _inline(value)
    if inline is not None:
        return [f"{pad}{name}: {inline}"]
    lines = [f"{pad}{name}:"]
    if isinstance(value, dict):
        for inner_key, inner in value.items():
            lines += _key_lines(inner_key, inner, column + style.step, style)
    else:
        assert isinstance(value, list)
        lines += _item_lines(value, column + style.list_offset, style)
    return lines


def _item_lines(items: Sequence[Value], dash: int, style: _Style) -> list[str]:
    pad = " " * dash
    lines: list[str] = []
    for item in items:
        inline = _inline(item)
        if inline is not None:
            lines.append(f"{pad}- {inline}")
        elif isinstance(item, dict):
            content = dash + style.item_offset
            block: list[str] = []
            for key, value in item.items():
                block += _key_lines(key, value, content, style)
            block[0] = pad + "-" + " " * (style.item_offset - 1) + block[0][content:]
            lines += block
        else:
            assert isinstance(item, list)
            lines.append(f"{pad}-")
            lines += _item_lines(item, dash + style.item_offset, style)
    return lines


def _words(identifiers: Mapping[str, Value]) -> str:
    return ", ".join(f"{k}={_inline(v, flow=True) or repr(v)}" for k, v in identifiers.items())
