"""The Dagger module as mikado reads it: the module, its main object's functions, their
parameters and the image-reference template a function publishes, and the ``dagger call``
spelling of their names. :mod:`_dagger` and :mod:`_dagger_source` fill these in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mikado.errors import ConfigError

LiteralValue = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Parameter:
    """A parameter of a ``@function``, as written in its signature."""

    name: str
    annotation: str | None  # the annotation's source text; None when there is none
    default: str | None  # the default's source text; None when the parameter is required
    value: LiteralValue  # the default's value when ``literal`` (a constant of the module counts)
    literal: bool
    secret: bool  # annotated as a dagger.Secret (alone, optional or in a union)
    line: int

    @property
    def flag(self) -> str:
        """The ``dagger call`` option that sets it: ``commit_sha`` → ``--commit-sha``."""
        return "--" + _kebab(self.name)

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass(frozen=True, slots=True)
class Field:
    """A ``{parameter}`` of an image-reference template, and the option that supplies it."""

    parameter: str
    flag: str


TemplatePart = str | Field


@dataclass(frozen=True, slots=True)
class RefTemplate:
    """The image reference a function publishes, ``f"{registry}/ns/{name}:{tag}"``, split at
    the registry, the repository and the tag; literal text and fields in written order."""

    source: str  # the f-string as written
    registry: Field
    repository: tuple[TemplatePart, ...]
    tag: tuple[TemplatePart, ...]  # ("latest",) for a reference without one, as docker reads it
    line: int

    @property
    def flags(self) -> Mapping[str, str]:
        """Each ``{parameter}`` of the template → the ``dagger call`` option that supplies it."""
        fields = [self.registry, *self.repository, *self.tag]
        return {part.parameter: part.flag for part in fields if isinstance(part, Field)}


@dataclass(frozen=True, slots=True)
class DaggerFunction:
    """A ``@function`` of the module's main object."""

    name: str  # as in Python: ``build_docs``
    cli_name: str  # as ``dagger call`` names it: ``build-docs``
    object: str  # the class it belongs to
    path: Path
    relative: str  # ``path`` from the repository root, for messages and instructions
    line: int
    parameters: tuple[Parameter, ...]  # without ``self``
    ref: RefTemplate | None  # None: it publishes no reference read as ``{registry}/...``
    authenticates: bool  # it calls ``with_registry_auth``
    container: str | None  # the variable whose ``.publish(...)`` pushes, when one does
    secret_type: str  # how this file spells dagger's Secret (``dagger.Secret``, ``Secret``)
    secret_imported: bool  # the file imports what ``secret_type`` names

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    @property
    def where(self) -> str:
        return f"{self.relative}:{self.line}"


@dataclass(frozen=True, slots=True)
class DaggerModule:
    """The module ``dagger.json`` at the repository root names, and its main object's
    functions."""

    name: str
    sdk: str
    root: Path  # the repository root, holding dagger.json
    config: Path  # dagger.json
    source: Path  # the module's source folder
    main_object: str
    functions: Mapping[str, DaggerFunction]  # by their ``dagger call`` name

    def function(self, name: str) -> DaggerFunction:
        """The function ``dagger call <name>`` runs; ``build-docs`` and ``build_docs`` alike."""
        found = self.functions.get(_kebab(name))
        if found is None:
            known = ", ".join(sorted(self.functions)) or "none"
            raise ConfigError(
                f"the Dagger module `{self.name}` has no function `{name}` on its main object "
                f"`{self.main_object}` (it has: {known}); is the workflow calling another "
                "module, or was the function renamed?",
                path=str(self.config),
            )
        return found


def _kebab(name: str) -> str:
    """The CLI's spelling: snake_case and camelCase become kebab-case; a trailing ``_`` (which
    Python names take to avoid a keyword, ``from_``) is not part of the name."""
    name = name.rstrip("_")
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name)
    return name.replace("_", "-").lower()
