"""What a workflow's ``dagger call`` runs: the repository's Dagger module, read, never imported.

A ``dagger call publish --container-name=web`` names neither the registry nor the image: both
live in the module's Python source, as the default of a ``registry`` parameter and an f-string
``f"{registry}/ns/{container_name}:{version}"``. The workflow edits need both to tell that the
call pushes, to which image and tag, and whether the function can take registry credentials.
Importing the module would need the Dagger SDK and run its code, so the source is parsed with
:mod:`ast` instead; what the parse cannot tell (a reference built some other way) is reported
as unknown rather than guessed.

This module reads ``dagger.json``; :mod:`_dagger_model` holds what is read,
:mod:`_dagger_source` reads the Python source, :mod:`_dagger_credentials` tells whether a
function can take registry credentials and what to change when it cannot.
"""

from __future__ import annotations

import json
from pathlib import Path

from _dagger_credentials import (
    PASSWORD,
    USERNAME,
    CredentialSupport,
    credential_support,
    credentials_instructions,
)
from _dagger_model import (
    DaggerFunction,
    DaggerModule,
    Field,
    LiteralValue,
    Parameter,
    RefTemplate,
    TemplatePart,
)
from _dagger_source import _main_object

from mikado.errors import ConfigError

__all__ = [
    "CONFIG",
    "PASSWORD",
    "USERNAME",
    "CredentialSupport",
    "DaggerFunction",
    "DaggerModule",
    "Field",
    "LiteralValue",
    "Parameter",
    "RefTemplate",
    "TemplatePart",
    "credential_support",
    "credentials_instructions",
    "read_module",
]

CONFIG = "dagger.json"


# ---------------------------------------------------------------------------------------
# dagger.json


def read_module(root: Path) -> DaggerModule:
    """The Dagger module of the repository at ``root``; a ConfigError says what is missing."""
    config = root / CONFIG
    try:
        text = config.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"no {CONFIG} in {root}: a workflow runs `dagger call`, so mikado reads the Dagger "
            "module to learn what it publishes; is [ci] repository_path the repository root?",
            path=str(config),
        ) from None
    except OSError as error:
        raise ConfigError(f"cannot read {CONFIG}: {error}", path=str(config)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(
            f"{CONFIG} is not valid JSON: {error.msg}", path=str(config), line=error.lineno
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{CONFIG} holds no JSON object", path=str(config))
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f'{CONFIG} gives the module no "name"', path=str(config))
    sdk = data.get("sdk")
    # Older modules write the SDK as a string, newer ones as {"source": ...}.
    sdk = sdk.get("source") if isinstance(sdk, dict) else sdk
    if not isinstance(sdk, str) or not sdk:
        raise ConfigError(
            f'{CONFIG} names no SDK ("sdk": {{"source": "python"}}): mikado cannot tell what '
            f"language the module `{name}` is written in",
            path=str(config),
        )
    if not _is_python(sdk):
        raise ConfigError(
            f"the Dagger module `{name}` uses the {sdk!r} SDK; mikado reads only modules "
            "written with the Python SDK, so it cannot tell what `dagger call` publishes",
            path=str(config),
        )
    source = data.get("source", ".")
    if not isinstance(source, str):
        raise ConfigError(f'{CONFIG}: "source" is not a path', path=str(config))
    folder = root / source
    if not folder.is_dir():
        raise ConfigError(
            f'the Dagger module\'s "source" folder {source!r} does not exist in {root}',
            path=str(config),
        )
    main, functions = _main_object(name, root, folder, config)
    return DaggerModule(name, sdk, root, config, folder, main, functions)


def _is_python(sdk: str) -> bool:
    # "python", "python@<version>", or a path/URL ending in the Python SDK's folder.
    base = sdk.split("@", 1)[0].rstrip("/")
    return base == "python" or base.endswith("/python")
