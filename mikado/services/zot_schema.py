"""What each zot release accepts in its configuration file, and the check of a document
against it, before mikado writes one: zot refuses to start when its configuration holds a key it
does not know, so a typo or a key of a newer release takes the registry down.

The schema follows zot's configuration structs (``pkg/api/config/config.go``,
``pkg/extensions/config/config.go`` in project-zot/zot); a key added after v2.1.6 is marked
with the release that added it (read from the struct at each tag). zot reads the file with
viper and decodes it with mapstructure: key names match case-insensitively and scalars are
weakly typed (``"true"`` is a bool, ``8080`` a string); the schema follows those rules rather
than being stricter than zot itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from mikado.errors import MikadoError

# ---------------------------------------------------------------------------------------
# Errors


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing zot would refuse, at a dotted ``path`` into the document."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '(top level)'}: {self.message}"


class ZotConfigError(MikadoError):
    """The zot configuration cannot be read, or zot would refuse it."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        problems: Sequence[ConfigProblem] = (),
    ):
        super().__init__(message, path=path, line=line)
        self.problems = tuple(problems)


# ---------------------------------------------------------------------------------------
# Schema

ScalarKind = Literal["string", "bool", "int", "duration"]


@dataclass(frozen=True, slots=True)
class Scalar:
    kind: ScalarKind
    choices: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class ListOf:
    item: Node


@dataclass(frozen=True, slots=True)
class MapOf:
    """An object whose keys are data (repository globs, provider names, sub-paths)."""

    value: Node


@dataclass(frozen=True, slots=True, eq=False)
class Struct:
    """An object with a fixed set of keys, matched case-insensitively as viper does."""

    fields: Mapping[str, Node]
    by_lower: Mapping[str, str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_lower", {name.lower(): name for name in self.fields})


@dataclass(frozen=True, slots=True)
class FreeForm:
    """An object zot hands on undecoded (``map[string]any``): any keys are accepted."""


@dataclass(frozen=True, slots=True)
class Since:
    """A key zot knows only from ``release`` on (older releases refuse it)."""

    release: tuple[int, int, int]
    node: Node


Node = Scalar | ListOf | MapOf | Struct | FreeForm | Since


def since(release: str, node: Node) -> Since:
    major, minor, patch = (int(part) for part in release.split("."))
    return Since((major, minor, patch), node)


STRING = Scalar("string")
BOOL = Scalar("bool")
INT = Scalar("int")
DURATION = Scalar("duration")
STRINGS = ListOf(STRING)
# zot's actions (``pkg/api/constants``): four methods and one behaviour, in every release.
ACTIONS = ListOf(
    Scalar("string", frozenset({"read", "create", "update", "delete", "detectManifestCollision"}))
)
FREE = FreeForm()

_TLS = Struct({"cert": STRING, "key": STRING, "caCert": STRING})

_KEEP_UNTAGGED = {
    "pulledWithin": DURATION,
    "pushedWithin": DURATION,
    "mostRecentlyPushedCount": INT,
    "mostRecentlyPulledCount": INT,
}
_RETENTION = Struct(
    {
        "dryRun": BOOL,
        "delay": DURATION,
        "policies": ListOf(
            Struct(
                {
                    "repositories": STRINGS,
                    "deleteReferrers": BOOL,
                    "deleteUntagged": BOOL,
                    "keepTags": ListOf(Struct({"patterns": STRINGS, **_KEEP_UNTAGGED})),
                    "keepUntagged": since("2.1.19", Struct(_KEEP_UNTAGGED)),
                }
            )
        ),
    }
)
_STORAGE_FIELDS: dict[str, Node] = {
    "rootDirectory": STRING,
    "maxRepos": since("2.1.16", INT),
    "dedupe": BOOL,
    "remoteCache": BOOL,
    "redirectBlobURL": since("2.1.18", BOOL),
    "gc": BOOL,
    "commit": BOOL,
    "gcDelay": DURATION,
    "gcInterval": DURATION,
    "gcTimeWindow": since("2.1.19", STRING),  # "01:00-08:00", UTC
    "retention": _RETENTION,
    "storageDriver": FREE,
    "cacheDriver": FREE,
}
_STORAGE = Struct(
    {
        **_STORAGE_FIELDS,
        "subPaths": MapOf(Struct(_STORAGE_FIELDS)),
        "fastRestart": since("2.1.18", BOOL),
    }
)

_CLAIM_MAPPING = Struct({"username": STRING, "groups": since("2.1.17", STRING)})
_OPENID_PROVIDER = Struct(
    {
        "credentialsFile": since("2.1.6", STRING),
        "name": STRING,
        "clientId": STRING,
        "clientSecret": STRING,
        "keyPath": STRING,
        "issuer": STRING,
        "authUrl": since("2.1.11", STRING),
        "tokenUrl": since("2.1.11", STRING),
        "scopes": STRINGS,
        "claimMapping": since("2.1.11", _CLAIM_MAPPING),
    }
)
_BEARER = Struct(
    {
        "realm": STRING,
        "service": STRING,
        "cert": STRING,
        "upstreamTokenEndpoint": since(
            "2.1.19", Struct({"realm": STRING, "service": STRING, "allowInsecureHttp": BOOL})
        ),
        "oidc": since(
            "2.1.14",
            ListOf(
                Struct(
                    {
                        "issuer": STRING,
                        "audiences": STRINGS,
                        "claimMapping": Struct(
                            {
                                "variables": ListOf(Struct({"name": STRING, "expression": STRING})),
                                "validations": ListOf(
                                    Struct({"expression": STRING, "message": STRING})
                                ),
                                "username": STRING,
                                "groups": STRING,
                            }
                        ),
                        "certificateAuthority": STRING,
                        "certificateAuthorityFile": STRING,
                        "skipIssuerVerification": BOOL,
                    }
                )
            ),
        ),
        "awsSecretsManager": since(
            "2.1.15",
            Struct({"region": STRING, "secretName": STRING, "refreshInterval": DURATION}),
        ),
    }
)
_LDAP = Struct(
    {
        # bindDN and bindPassword are unexported in zot: they only come from credentialsFile.
        "credentialsFile": STRING,
        "port": INT,
        "insecure": BOOL,
        "startTLS": BOOL,
        "skipVerify": BOOL,
        "subtreeSearch": BOOL,
        "address": STRING,
        "userGroupAttribute": STRING,
        "baseDN": STRING,
        "userAttribute": STRING,
        "userFilter": STRING,
        "caCert": STRING,
    }
)
_AUTH = Struct(
    {
        "failDelay": INT,
        "htpasswd": Struct({"path": STRING}),
        "ldap": _LDAP,
        "bearer": _BEARER,
        "openid": Struct(
            {
                "providers": MapOf(_OPENID_PROVIDER),
                "callbackAllowOrigins": since("2.1.15", STRINGS),
            }
        ),
        "apikey": BOOL,
        "sessionKeysFile": STRING,
        "sessionHashKey": STRING,
        "sessionEncryptKey": STRING,
        "sessionDriver": since("2.1.9", FREE),
        "secureSession": since("2.1.11", BOOL),
        "mtls": since(
            "2.1.12",
            Struct(
                {
                    "identityAttributes": STRINGS,
                    "uriSanPattern": STRING,
                    "uriSanIndex": INT,
                    "dnsSanIndex": INT,
                    "emailSanIndex": INT,
                }
            ),
        ),
    }
)
_POLICY = Struct(
    {
        "users": STRINGS,
        "actions": ACTIONS,
        "groups": STRINGS,
        "conditions": since("2.1.17", ListOf(Struct({"expression": STRING, "message": STRING}))),
    }
)
_ACCESS_CONTROL = Struct(
    {
        "repositories": MapOf(
            Struct(
                {
                    "policies": ListOf(_POLICY),
                    "defaultPolicy": ACTIONS,
                    "anonymousPolicy": ACTIONS,
                }
            )
        ),
        "adminPolicy": _POLICY,
        "groups": MapOf(Struct({"users": STRINGS})),
        "metrics": Struct({"users": STRINGS, "anonymousPolicy": since("2.1.18", ACTIONS)}),
    }
)
_HTTP = Struct(
    {
        "address": STRING,
        "externalUrl": STRING,
        "port": STRING,
        "allowOrigin": STRING,
        "readTimeout": since("2.1.17", DURATION),
        "writeTimeout": since("2.1.17", DURATION),
        "tls": _TLS,
        "auth": _AUTH,
        "accessControl": _ACCESS_CONTROL,
        "realm": STRING,
        "ratelimit": Struct(
            {"rate": INT, "methods": ListOf(Struct({"method": STRING, "rate": INT}))}
        ),
        "compat": STRINGS,
    }
)
_SYNC_REGISTRY = Struct(
    {
        "urls": STRINGS,
        "pollInterval": DURATION,
        "content": ListOf(
            Struct(
                {
                    "prefix": STRING,
                    "tags": Struct({"regex": STRING, "excludeRegex": STRING, "semver": BOOL}),
                    "destination": STRING,
                    "stripPrefix": BOOL,
                }
            )
        ),
        "tlsVerify": BOOL,
        "onDemand": BOOL,
        "certDir": STRING,
        "maxRetries": INT,
        "retryDelay": DURATION,
        "maxRetryDelay": DURATION,
        "onlySigned": BOOL,
        "syncLegacyCosignTags": BOOL,
        "credentialHelper": STRING,
        "oauth2CredentialHelper": FREE,
        "preserveDigest": BOOL,
        "syncTimeout": DURATION,
        "platforms": STRINGS,
        "architectures": STRINGS,
    }
)
_EXTENSIONS = Struct(
    {
        "search": Struct(
            {
                "enable": BOOL,
                "cve": Struct(
                    {
                        "updateInterval": DURATION,
                        "trivy": Struct(
                            {
                                "dbRepository": STRING,
                                "javaDbRepository": STRING,
                                "vulnSeveritySources": since("2.1.16", STRINGS),
                                "sbom": since("2.1.18", Struct({"enable": BOOL, "format": STRING})),
                            }
                        ),
                    }
                ),
            }
        ),
        "sync": Struct(
            {
                "enable": BOOL,
                "credentialsFile": STRING,
                "downloadDir": STRING,
                "enableStreaming": BOOL,
                "registries": ListOf(_SYNC_REGISTRY),
            }
        ),
        "metrics": Struct({"enable": BOOL, "prometheus": Struct({"path": STRING})}),
        "scrub": Struct({"enable": BOOL, "interval": DURATION}),
        "lint": Struct({"enable": BOOL, "mandatoryAnnotations": STRINGS}),
        "ui": Struct({"enable": BOOL}),
        "mgmt": Struct({"enable": BOOL}),
        "apikey": Struct({"enable": BOOL}),
        "trust": Struct({"enable": BOOL, "cosign": BOOL, "notation": BOOL}),
        # Event sinks vary per transport and are decoded by zot's own hook.
        "events": FREE,
    }
)

ZOT_SCHEMA = Struct(
    {
        "distSpecVersion": STRING,
        "goVersion": STRING,
        "commit": STRING,
        "releaseTag": STRING,
        "binaryType": STRING,
        "storage": _STORAGE,
        "http": _HTTP,
        "log": Struct({"level": STRING, "output": STRING, "audit": STRING}),
        "extensions": _EXTENSIONS,
        "scheduler": Struct({"numWorkers": INT}),
        "cluster": Struct({"members": STRINGS, "hashKey": STRING, "tls": _TLS}),
    }
)
"""The keys and types zot accepts; anything else makes zot refuse to start."""

# ---------------------------------------------------------------------------------------
# Validation

_GO_BOOL = {"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False", ""}
_GO_DURATION = re.compile(r"[-+]?(?:0|(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)")
_GO_INT = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F_]+|0[oO]?[0-7_]*|0[bB][01_]+|[1-9][0-9_]*)")


_KIND_NAMES: dict[ScalarKind, str] = {
    "string": "a string",
    "bool": "a boolean",
    "int": "an integer",
    "duration": "a duration",
}


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null"


def _scalar_problem(value: Any, node: Scalar) -> str | None:
    """Why mapstructure's weak decoding would refuse ``value``, or None if it accepts it."""
    if value is None:
        return None
    if isinstance(value, list | dict):
        return f"expected {_KIND_NAMES[node.kind]}, got {json_type(value)}"
    if node.kind == "string":
        if node.choices is not None and value not in node.choices:
            return f"{value!r} is not one of {', '.join(sorted(node.choices))}"
        return None
    if node.kind == "bool":
        if isinstance(value, bool | int | float) or value in _GO_BOOL:
            return None
        return f"expected a boolean, got {value!r}"
    if node.kind == "int":
        if isinstance(value, bool | int) or (isinstance(value, float) and value.is_integer()):
            return None
        if isinstance(value, str) and _GO_INT.fullmatch(value):
            return None
        return f"expected an integer, got {value!r}"
    # duration: a Go duration string ("90s", "1h30m") or integer nanoseconds
    if isinstance(value, int) and not isinstance(value, bool):
        return None
    if isinstance(value, str) and _GO_DURATION.fullmatch(value):
        return None
    return f'expected a duration such as "30s" or "24h", got {value!r}'


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


NEWEST = (2, 1, 20)


def _check(
    value: Any, node: Node, path: str, problems: list[ConfigProblem], release: tuple[int, ...]
) -> None:
    if value is None:
        return
    if isinstance(node, Since):
        _check(value, node.node, path, problems, release)
        return
    if isinstance(node, Scalar):
        message = _scalar_problem(value, node)
        if message:
            problems.append(ConfigProblem(path, message))
        return
    if isinstance(node, ListOf):
        if isinstance(value, list):
            for index, item in enumerate(value):
                _check(item, node.item, _join(path, index), problems, release)
        elif isinstance(node.item, Scalar) and isinstance(value, str):
            # viper splits a comma-separated string into a list of strings.
            for index, item in enumerate(value.split(",")):
                _check(item, node.item, _join(path, index), problems, release)
        else:
            problems.append(ConfigProblem(path, f"expected a list, got {json_type(value)}"))
        return
    if not isinstance(value, dict):
        problems.append(ConfigProblem(path, f"expected an object, got {json_type(value)}"))
        return
    if isinstance(node, FreeForm):
        return
    if isinstance(node, MapOf):
        for key, item in value.items():
            _check(item, node.value, _join(path, key), problems, release)
        return
    seen: dict[str, str] = {}
    for key, item in value.items():
        lowered = key.lower()
        child = _join(path, key)
        if lowered in seen:
            problems.append(
                ConfigProblem(child, f"same key as {seen[lowered]!r}: zot ignores key case")
            )
            continue
        seen[lowered] = key
        canonical = node.by_lower.get(lowered)
        field_node = node.fields[canonical] if canonical is not None else None
        if isinstance(field_node, Since) and field_node.release > release:
            arrived = ".".join(map(str, field_node.release))
            problems.append(
                ConfigProblem(
                    child, f"unknown key in zot {_dotted(release)} (it arrived in {arrived})"
                )
            )
            continue
        if canonical is None or field_node is None:
            known = ", ".join(
                sorted(
                    name
                    for name, known_node in node.fields.items()
                    if not (isinstance(known_node, Since) and known_node.release > release)
                )
            )
            problems.append(ConfigProblem(child, f"unknown key (zot accepts: {known})"))
            continue
        _check(item, field_node, child, problems, release)


def _dotted(release: tuple[int, ...]) -> str:
    return ".".join(map(str, release))


def problems(
    document: Any, schema: Node = ZOT_SCHEMA, *, release: tuple[int, ...] = NEWEST
) -> list[ConfigProblem]:
    """Every key and value in ``document`` that zot ``release`` would refuse, in order."""
    found: list[ConfigProblem] = []
    _check(document, schema, "", found, release)
    return found


def validate(
    document: Any, *, source: str | None = None, release: tuple[int, ...] = NEWEST
) -> None:
    """Raise ZotConfigError listing every problem, if zot ``release`` would refuse
    ``document``."""
    found = problems(document, release=release)
    if found:
        listing = "; ".join(str(problem) for problem in found)
        raise ZotConfigError(
            f"zot {_dotted(release)} would refuse this configuration: {listing}",
            path=source,
            problems=found,
        )
