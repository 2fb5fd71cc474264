"""A service's API models as JSON Schemas, shipped with mikado (``schemas/<release>/``): what
an emulator checks each request body against and each object it returns.

Request bodies are checked closed: a field the model does not define is refused, although the
real service (Django REST framework, for Authentik) ignores it silently. A misspelt field is
then a failed test here instead of a setting that never arrives there.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema

from mikado.lab.emulators._swagger import SCHEMAS

FieldErrors = dict[str, list[str]]


class ModelSchemas:
    """The ``definitions`` of one release's ``models.json``."""

    def __init__(self, release: str) -> None:
        self.release = release
        self._definitions: Mapping[str, Any] = _read(SCHEMAS / release / "models.json")

    def properties(self, model: str) -> frozenset[str]:
        return frozenset(self._definitions[model].get("properties", {}))

    def required(self, model: str) -> tuple[str, ...]:
        return tuple(self._definitions[model].get("required", ()))

    def problems(self, model: str, document: Any) -> FieldErrors:
        """What ``document`` breaks of ``model``, closed to fields it does not define (nested
        objects such as a provider's redirect URIs included), in the shape DRF reports field
        errors: field → messages, a nested place prefixed (``"0.url: ..."``)."""
        validator = self._validator(model)
        errors: FieldErrors = {}
        reported: set[tuple[str, ...]] = set()
        found = sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.path])
        for error in found:
            where = list(error.path)
            if error.validator == "additionalProperties" and isinstance(error.instance, dict):
                known = error.schema.get("properties", {})
                for name in error.instance:
                    if name not in known:
                        _add(
                            errors,
                            [*where, name],
                            f"Unknown field: the {self.release} API has no `{name}` (the real "
                            "server would ignore it without a word).",
                        )
                continue
            if error.validator == "required" and isinstance(error.instance, dict):
                # jsonschema reports each missing field as an error of its own.
                for name in error.validator_value:
                    place = (*(str(part) for part in where), str(name))
                    if name not in error.instance and place not in reported:
                        reported.add(place)
                        _add(errors, [*where, name], "This field is required.")
                continue
            _add(errors, where, error.message)
        return errors

    @functools.cache  # noqa: B019 - one instance per release, kept for the process
    def _validator(self, model: str) -> Any:
        definitions = {name: _closed(schema) for name, schema in self._definitions.items()}
        schema = {**definitions[model], "definitions": definitions}
        return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def _add(errors: FieldErrors, where: list[Any], message: str) -> None:
    field = str(where[0]) if where else "non_field_errors"
    inner = ".".join(str(part) for part in where[1:])
    errors.setdefault(field, []).append(f"{inner}: {message}" if inner else message)


def _closed(schema: Any) -> Any:
    """``schema`` with every object that lists its properties closed to others."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {
        key: {name: _closed(sub) for name, sub in value.items()}
        if key in ("properties", "definitions", "$defs") and isinstance(value, dict)
        else _closed(value)
        for key, value in schema.items()
    }
    if "properties" in schema:
        closed["additionalProperties"] = False
    return closed


@functools.lru_cache(maxsize=8)
def _read(path: Path) -> Mapping[str, Any]:
    document: Mapping[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document["definitions"]  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=8)
def model_schemas(release: str) -> ModelSchemas:
    return ModelSchemas(release)
