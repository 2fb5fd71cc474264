"""zot's configuration file: load it, merge the hardening settings in, check it, write it back.

zot refuses to start when its configuration holds a key it does not know, so a typo here
takes the registry down. Every change therefore goes through :func:`validate` against a
schema of zot's configuration structs (``pkg/api/config``, ``pkg/extensions/config`` in
project-zot/zot, 2.1.x), and is written atomically so a crash never leaves half a file.

zot reads the file with viper and decodes it with mapstructure: key names match
case-insensitively and scalars are weakly typed (``"true"`` is a bool, ``8080`` a string).
The schema follows those rules rather than being stricter than zot itself.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mikado.edit import atomic
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


Node = Scalar | ListOf | MapOf | Struct | FreeForm

STRING = Scalar("string")
BOOL = Scalar("bool")
INT = Scalar("int")
DURATION = Scalar("duration")
STRINGS = ListOf(STRING)
ACTIONS = ListOf(Scalar("string", frozenset({"read", "create", "update", "delete"})))
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
                    "keepUntagged": Struct(_KEEP_UNTAGGED),
                }
            )
        ),
    }
)
_STORAGE_FIELDS: dict[str, Node] = {
    "rootDirectory": STRING,
    "maxRepos": INT,
    "dedupe": BOOL,
    "remoteCache": BOOL,
    "redirectBlobURL": BOOL,
    "gc": BOOL,
    "commit": BOOL,
    "gcDelay": DURATION,
    "gcInterval": DURATION,
    "retention": _RETENTION,
    "storageDriver": FREE,
    "cacheDriver": FREE,
}
_STORAGE = Struct(
    {
        **_STORAGE_FIELDS,
        "subPaths": MapOf(Struct(_STORAGE_FIELDS)),
        "fastRestart": BOOL,
    }
)

_CLAIM_MAPPING = Struct({"username": STRING, "groups": STRING})
_OPENID_PROVIDER = Struct(
    {
        "credentialsFile": STRING,
        "name": STRING,
        "clientId": STRING,
        "clientSecret": STRING,
        "keyPath": STRING,
        "issuer": STRING,
        "authUrl": STRING,
        "tokenUrl": STRING,
        "scopes": STRINGS,
        "claimMapping": _CLAIM_MAPPING,
    }
)
_BEARER = Struct(
    {
        "realm": STRING,
        "service": STRING,
        "cert": STRING,
        "upstreamTokenEndpoint": Struct(
            {"realm": STRING, "service": STRING, "allowInsecureHttp": BOOL}
        ),
        "oidc": ListOf(
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
        "awsSecretsManager": Struct(
            {"region": STRING, "secretName": STRING, "refreshInterval": DURATION}
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
        "openid": Struct({"providers": MapOf(_OPENID_PROVIDER), "callbackAllowOrigins": STRINGS}),
        "apikey": BOOL,
        "sessionKeysFile": STRING,
        "sessionHashKey": STRING,
        "sessionEncryptKey": STRING,
        "sessionDriver": FREE,
        "secureSession": BOOL,
        "mtls": Struct(
            {
                "identityAttributes": STRINGS,
                "uriSanPattern": STRING,
                "uriSanIndex": INT,
                "dnsSanIndex": INT,
                "emailSanIndex": INT,
            }
        ),
    }
)
_POLICY = Struct(
    {
        "users": STRINGS,
        "actions": ACTIONS,
        "groups": STRINGS,
        "conditions": ListOf(Struct({"expression": STRING, "message": STRING})),
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
        "metrics": Struct({"users": STRINGS, "anonymousPolicy": ACTIONS}),
    }
)
_HTTP = Struct(
    {
        "address": STRING,
        "externalUrl": STRING,
        "port": STRING,
        "allowOrigin": STRING,
        "readTimeout": DURATION,
        "writeTimeout": DURATION,
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
                        "trivy": Struct({"dbRepository": STRING, "javaDbRepository": STRING}),
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


def _json_type(value: Any) -> str:
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
        return f"expected {_KIND_NAMES[node.kind]}, got {_json_type(value)}"
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


def _check(value: Any, node: Node, path: str, problems: list[ConfigProblem]) -> None:
    if value is None:
        return
    if isinstance(node, Scalar):
        message = _scalar_problem(value, node)
        if message:
            problems.append(ConfigProblem(path, message))
        return
    if isinstance(node, ListOf):
        if isinstance(value, list):
            for index, item in enumerate(value):
                _check(item, node.item, _join(path, index), problems)
        elif isinstance(node.item, Scalar) and isinstance(value, str):
            # viper splits a comma-separated string into a list of strings.
            for index, item in enumerate(value.split(",")):
                _check(item, node.item, _join(path, index), problems)
        else:
            problems.append(ConfigProblem(path, f"expected a list, got {_json_type(value)}"))
        return
    if not isinstance(value, dict):
        problems.append(ConfigProblem(path, f"expected an object, got {_json_type(value)}"))
        return
    if isinstance(node, FreeForm):
        return
    if isinstance(node, MapOf):
        for key, item in value.items():
            _check(item, node.value, _join(path, key), problems)
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
        if canonical is None:
            known = ", ".join(sorted(node.fields))
            problems.append(ConfigProblem(child, f"unknown key (zot accepts: {known})"))
            continue
        _check(item, node.fields[canonical], child, problems)


def problems(document: Any, schema: Node = ZOT_SCHEMA) -> list[ConfigProblem]:
    """Every key and value in ``document`` that zot would refuse, in document order."""
    found: list[ConfigProblem] = []
    _check(document, schema, "", found)
    return found


def validate(document: Any, *, source: str | None = None) -> None:
    """Raise ZotConfigError listing every problem, if zot would refuse ``document``."""
    found = problems(document)
    if found:
        listing = "; ".join(str(problem) for problem in found)
        raise ZotConfigError(
            f"zot would refuse this configuration: {listing}", path=source, problems=found
        )


# ---------------------------------------------------------------------------------------
# Loading and rendering


def parse(text: str, *, source: str = "<zot config>") -> dict[str, Any]:
    """Decode ``text``; malformed JSON raises ZotConfigError naming line and column."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ZotConfigError(
            f"column {exc.colno}: not valid JSON: {exc.msg}", path=source, line=exc.lineno
        ) from None
    if not isinstance(document, dict):
        raise ZotConfigError(
            f"expected a JSON object at the top, got {_json_type(document)}", path=source, line=1
        )
    return document


def load(path: Path | str) -> dict[str, Any]:
    """Read and decode a zot configuration file, keeping its key order."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ZotConfigError(f"cannot read: {exc.strerror}", path=str(file)) from None
    except UnicodeDecodeError as exc:
        raise ZotConfigError(f"not UTF-8: {exc.reason}", path=str(file)) from None
    return parse(text, source=str(file))


def render(document: Mapping[str, Any]) -> str:
    """The file text: 2-space indent, key order as in ``document``, trailing newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def unified_diff(before: str, after: str, path: str) -> str:
    """A unified diff of two renderings, for dry runs; empty when they are equal."""
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"{path} (current)",
            tofile=f"{path} (hardened)",
        )
    )


def write_atomic(path: Path | str, text: str, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``text`` so a reader sees the old file or the new, never half
    (temporary file in the same folder, fsync, rename; the old mode kept unless ``mode``)."""
    atomic.write_atomic(Path(path), text.encode("utf-8"), mode=mode)


def credentials_file_text(client_id: str, client_secret: str) -> str:
    """The OIDC credentials file zot reads: exactly ``clientid`` and ``clientsecret``."""
    return json.dumps({"clientid": client_id, "clientsecret": client_secret}, indent=2) + "\n"


def write_credentials_file(path: Path | str, client_id: str, client_secret: str) -> bool:
    """Write the OIDC credentials file with mode 0600; False when it already held them."""
    target = Path(path)
    text = credentials_file_text(client_id, client_secret)
    try:
        unchanged = target.read_text(encoding="utf-8") == text
    except (FileNotFoundError, UnicodeDecodeError):
        unchanged = False
    if unchanged and stat.S_IMODE(target.stat().st_mode) == 0o600:
        return False
    write_atomic(target, text, mode=0o600)
    return True


# ---------------------------------------------------------------------------------------
# The hardening


def access_control_policy(
    ci_group: str,
    admins_group: str,
    *,
    metrics_users: Iterable[str] = (),
    repositories: str = "**",
) -> dict[str, Any]:
    """zot's ``http.accessControl`` for the hardened registry.

    Anyone may pull. The CI group may push new tags but never overwrite or delete one
    (zot asks for ``update`` when a tag already exists). Admins may do everything.
    """
    policy: dict[str, Any] = {
        "repositories": {
            repositories: {
                "policies": [
                    {"groups": [ci_group], "actions": ["read", "create"]},
                    {"groups": [admins_group], "actions": ["read", "create", "update", "delete"]},
                ],
                "anonymousPolicy": ["read"],
                "defaultPolicy": ["read"],
            }
        }
    }
    users = list(metrics_users)
    if users:
        policy["metrics"] = {"users": users}
    return policy


@dataclass(frozen=True, slots=True)
class ZotHardening:
    """What the hardening sets in zot's configuration; everything else stays as it was."""

    external_url: str
    issuer: str
    credentials_file: str
    access_control: Mapping[str, Any]
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    username_claim: str = "preferred_username"
    # zot knows Authentik only as the generic OIDC provider, whose key must be "oidc".
    provider: str = "oidc"


def _key_in(mapping: Mapping[str, Any], wanted: str) -> str:
    """The key of ``mapping`` that zot reads as ``wanted`` (key case is ignored), or it."""
    for key in mapping:
        if key.lower() == wanted.lower():
            return key
    return wanted


def _child(mapping: dict[str, Any], name: str) -> dict[str, Any]:
    key = _key_in(mapping, name)
    value = mapping.get(key)
    if not isinstance(value, dict):
        value = {}
        mapping[key] = value
    return value


def _set(mapping: dict[str, Any], name: str, value: Any) -> None:
    mapping[_key_in(mapping, name)] = value


def merge_hardening(document: Mapping[str, Any], hardening: ZotHardening) -> dict[str, Any]:
    """A copy of ``document`` with the hardening set and every other setting kept.

    Keys already present keep their position and spelling; new keys go at the end of their
    object. The access-control policy replaces any previous one as a whole, because a
    merged policy could keep grants nobody asked for. Merging twice gives the same result.
    """
    merged = copy.deepcopy(dict(document))
    http = _child(merged, "http")
    _set(http, "externalUrl", hardening.external_url)
    auth = _child(http, "auth")
    providers = _child(_child(auth, "openid"), "providers")
    provider = _child(providers, hardening.provider)
    _set(provider, "credentialsFile", hardening.credentials_file)
    _set(provider, "issuer", hardening.issuer)
    _set(provider, "scopes", list(hardening.scopes))
    _set(_child(provider, "claimMapping"), "username", hardening.username_claim)
    # zot turns API keys on whenever OpenID is configured; saying so keeps the file honest.
    _set(auth, "apikey", True)
    _set(http, "accessControl", copy.deepcopy(dict(hardening.access_control)))
    return merged
