"""Request checks against a service's own Swagger 2.0 document.

The emulators of Forgejo and zot refuse a request whose path, parameters or JSON body the
service's published API does not allow, so a client cannot pass against the emulator with a
request the real service would reject. The documents ship with mikado under
``mikado/lab/emulators/schemas/`` (each with its source and licence), so an installed lab
validates as a checkout does.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from mikado.lab.emulators._server import JSONValue

SCHEMAS = Path(__file__).resolve().parent / "schemas"
_ANY_SEGMENT = r"[^/]+"


def schema_file(release: str, filename: str) -> Path:
    """A schema that ships with mikado, by the service release it describes
    (``"forgejo-16"``, ``"zot-2.1.20"``)."""
    return SCHEMAS / release / filename


@dataclass(frozen=True, slots=True)
class Operation:
    template: str
    method: str
    path_params: dict[str, str]
    spec: Mapping[str, JSONValue]


@dataclass(frozen=True, slots=True)
class _Template:
    template: str
    pattern: re.Pattern[str]
    parameters: tuple[str, ...]
    operations: Mapping[str, Mapping[str, JSONValue]]
    literal_length: int


class RouteMismatch(Exception):
    """The path is not in the document (status 404) or not with this method (405)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class SwaggerSpec:
    """Operations of one Swagger 2.0 document, matched by method and concrete path.

    `segment_patterns` replaces the one-segment default for named path parameters (zot's
    `{name}` spans several segments); `optional_query` lists (template, method, parameter)
    that the document marks required although the service treats them as optional.
    """

    def __init__(
        self,
        document: Mapping[str, Any],
        *,
        segment_patterns: Mapping[str, str] | None = None,
        optional_query: frozenset[tuple[str, str, str]] = frozenset(),
        trailing_slash_optional: bool = False,
    ) -> None:
        self._draft4: Any = jsonschema.Draft4Validator
        self._definitions = document.get("definitions", {})
        self._optional_query = optional_query
        self.base_path = str(document.get("basePath", "")).rstrip("/")
        patterns = segment_patterns or {}
        templates = []
        for template, operations in document.get("paths", {}).items():
            regex = ""
            literal = 0
            names: list[str] = []
            for piece in re.split(r"(\{[^}]+\})", template):
                if piece.startswith("{") and piece.endswith("}"):
                    # parameter names such as "repository-id" are no regex group names
                    names.append(piece[1:-1])
                    regex += f"({patterns.get(names[-1], _ANY_SEGMENT)})"
                else:
                    regex += re.escape(piece)
                    literal += len(piece)
            if trailing_slash_optional:
                regex = regex.removesuffix("/") + "/?"
            methods = {m.upper(): op for m, op in operations.items() if isinstance(op, dict)}
            templates.append(_Template(template, re.compile(regex), tuple(names), methods, literal))
        # The most literal template wins: /v2/_catalog before /v2/{name}/...
        templates.sort(key=lambda t: t.literal_length, reverse=True)
        self._templates = templates

    @classmethod
    def load(cls, path: Path, **options: Any) -> SwaggerSpec:
        """The spec in ``path``."""
        return cls(_read_document(path.resolve()), **options)

    def match(self, method: str, path: str) -> Operation:
        """The operation for a concrete path below basePath; raises RouteMismatch."""
        found_path = False
        for template in self._templates:
            matched = template.pattern.fullmatch(path)
            if matched is None:
                continue
            found_path = True
            spec = template.operations.get(method)
            if spec is None and method == "HEAD":
                spec = template.operations.get("GET")
            if spec is not None:
                values = dict(zip(template.parameters, matched.groups(), strict=True))
                return Operation(template.template, method, values, spec)
        if found_path:
            raise RouteMismatch(405, f"method {method} is not allowed on {path}")
        raise RouteMismatch(404, f"{path} is not in the API")

    def problems(
        self, operation: Operation, query: Mapping[str, list[str]], body: bytes
    ) -> list[str]:
        """Everything about the request the document does not allow (empty when fine)."""
        found: list[str] = []
        for parameter in operation.spec.get("parameters", []):
            where = parameter.get("in")
            name = str(parameter.get("name"))
            if where == "query":
                found.extend(self._query_problems(operation, parameter, query.get(name)))
            elif where == "body":
                found.extend(self._body_problems(parameter, body))
        return found

    def _query_problems(
        self, operation: Operation, parameter: Mapping[str, Any], values: list[str] | None
    ) -> list[str]:
        name = parameter["name"]
        if not values:
            key = (operation.template, operation.method, name)
            if parameter.get("required") and key not in self._optional_query:
                return [f"query parameter {name!r} is required"]
            return []
        kind = parameter.get("type")
        for value in values:
            if kind == "integer" and not re.fullmatch(r"-?\d+", value):
                return [f"query parameter {name!r} must be an integer, not {value!r}"]
            if kind == "boolean" and value not in ("true", "false"):
                return [f"query parameter {name!r} must be true or false"]
            if "enum" in parameter and value not in parameter["enum"]:
                return [f"query parameter {name!r} must be one of {parameter['enum']}"]
        return []

    def _body_problems(self, parameter: Mapping[str, Any], body: bytes) -> list[str]:
        schema = parameter.get("schema")
        if not body.strip():
            return ["a request body is required"] if parameter.get("required") else []
        try:
            document = json.loads(body)
        except ValueError as error:
            return [f"the body is not JSON: {error}"]
        if not isinstance(schema, dict):
            return []
        return self.schema_problems(schema, document)

    def schema_problems(self, schema: Mapping[str, Any], document: JSONValue) -> list[str]:
        """Problems of a JSON document against a schema of this spec (refs resolved)."""
        validator = self._draft4({**schema, "definitions": self._definitions})
        return [
            f"{'/'.join(str(p) for p in error.absolute_path) or 'body'}: {error.message}"
            for error in sorted(validator.iter_errors(document), key=lambda e: list(e.path))
        ]

    def definition_problems(self, definition: str, document: JSONValue) -> list[str]:
        return self.schema_problems({"$ref": f"#/definitions/{definition}"}, document)


@functools.lru_cache(maxsize=4)
def _read_document(path: Path) -> Mapping[str, Any]:
    """Parsed once per process: Forgejo's document is most of a megabyte."""
    document: Mapping[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document
