"""Reading a zot configuration file the way zot's loader does.

zot refuses a configuration with a key it does not know (keys match case-insensitively, as
viper's do), an OpenID credentials file with other keys than `clientid` and `clientsecret`,
and an OpenID issuer whose discovery document cannot be fetched or names another issuer.
Only the parts that decide authentication, authorization, metrics and media types are
interpreted; storage, sync, search and the rest are checked for known keys and ignored.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mikado.errors import MikadoError
from mikado.lab.emulators.zot_access import AccessControl, Policy, PolicyGroup

OPENID_PROVIDERS = ("oidc", "google", "gitlab", "github")
_DISCOVERY_TIMEOUT = 5.0


class ConfigRefused(MikadoError):
    """zot would refuse this configuration (and not start with it)."""


class _Any:
    """A value whose inside zot's loader passes on to a driver or plug-in unchecked."""


ANY = _Any()


@dataclass(frozen=True, slots=True)
class _MapOf:
    value: Any  # schema of every value; the keys are free (repository globs, group names)


@dataclass(frozen=True, slots=True)
class _ListOf:
    item: Any


def _keys(*names: str, **nested: Any) -> dict[str, Any]:
    return {**{name.lower(): ANY for name in names}, **{k.lower(): v for k, v in nested.items()}}


_TLS = _keys("cert", "key", "cacert")
_POLICY = _keys("users", "actions", "groups")
_RETENTION = _keys(
    "dryrun",
    "delay",
    policies=_ListOf(
        _keys(
            "repositories",
            "deletereferrers",
            "deleteuntagged",
            keeptags=_ListOf(
                _keys(
                    "patterns",
                    "pulledwithin",
                    "pushedwithin",
                    "mostrecentlypushedcount",
                    "mostrecentlypulledcount",
                )
            ),
        )
    ),
)
_STORAGE_FIELDS = _keys(
    "rootdirectory",
    "dedupe",
    "remotecache",
    "gc",
    "commit",
    "gcdelay",
    "gcinterval",
    "storagedriver",
    "cachedriver",
    retention=_RETENTION,
)
_SYNC_REGISTRY = _keys(
    "urls",
    "pollinterval",
    "tlsverify",
    "ondemand",
    "certdir",
    "maxretries",
    "retrydelay",
    "maxretrydelay",
    "onlysigned",
    "synclegacycosigntags",
    "credentialhelper",
    "oauth2credentialhelper",
    "preservedigest",
    "synctimeout",
    content=_ListOf(
        _keys(
            "prefix",
            "destination",
            "stripprefix",
            tags=_keys("regex", "excluderegex", "semver"),
        )
    ),
)
_OPENID_PROVIDER = _keys(
    "credentialsfile",
    "name",
    "clientid",
    "clientsecret",
    "keypath",
    "issuer",
    "scopes",
    claimmapping=_keys("username"),
)
SCHEMA: dict[str, Any] = _keys(
    "distspecversion",
    "goversion",
    "commit",
    "releasetag",
    "binarytype",
    storage={**_STORAGE_FIELDS, "subpaths": _MapOf(_STORAGE_FIELDS)},
    http=_keys(
        "address",
        "externalurl",
        "port",
        "alloworigin",
        "realm",
        "compat",
        tls=_TLS,
        auth=_keys(
            "faildelay",
            "apikey",
            "sessionkeysfile",
            "sessiondriver",
            "securesession",
            htpasswd=_keys("path"),
            bearer=_keys("realm", "service", "cert"),
            ldap=_keys(
                "credentialsfile",
                "port",
                "insecure",
                "starttls",
                "skipverify",
                "subtreesearch",
                "address",
                "usergroupattribute",
                "basedn",
                "userattribute",
                "userfilter",
                "cacert",
            ),
            openid=_keys(providers=_MapOf(_OPENID_PROVIDER)),
        ),
        accesscontrol=_keys(
            repositories=_MapOf(
                _keys("defaultpolicy", "anonymouspolicy", policies=_ListOf(_POLICY))
            ),
            adminpolicy=_POLICY,
            groups=_MapOf(_keys("users")),
            metrics=_keys("users"),
        ),
        ratelimit=_keys("rate", methods=_ListOf(_keys("method", "rate"))),
    ),
    log=_keys("level", "output", "audit"),
    extensions=_keys(
        "events",
        search=_keys("enable", cve=_keys("updateinterval", "trivy")),
        sync=_keys("enable", "credentialsfile", "downloaddir", registries=_ListOf(_SYNC_REGISTRY)),
        metrics=_keys("enable", prometheus=_keys("path")),
        scrub=_keys("enable", "interval"),
        ui=_keys("enable"),
        lint=_keys("enable", "mandatoryannotations"),
        trust=_keys("enable", "cosign", "notation"),
        mgmt=_keys("enable"),
        userprefs=_keys("enable"),
    ),
    scheduler=_keys("numworkers"),
    cluster=_keys("members", "hashkey", tls=_TLS),
)


@dataclass(frozen=True, slots=True)
class ZotConfig:
    """What the emulator acts on, taken from a valid configuration."""

    realm: str = ""
    basic_auth: bool = False  # any of htpasswd, ldap, openid, apikey configured
    api_keys: bool = False
    openid_issuer: str | None = None
    access_control: AccessControl | None = None
    metrics_path: str | None = None
    docker_media_types: bool = False


def unknown_keys(value: Any, schema: Any, where: str = "") -> list[str]:
    """Every key of `value` the schema does not know, as a dotted path."""
    if isinstance(schema, _Any):
        return []
    if isinstance(schema, _ListOf):
        if not isinstance(value, list):
            return [f"{where or 'config'}: expected a list"] if value is not None else []
        found = []
        for index, item in enumerate(value):
            found += unknown_keys(item, schema.item, f"{where}[{index}]")
        return found
    if value is None:
        return []
    if not isinstance(value, dict):
        return [f"{where or 'config'}: expected a mapping"]
    found = []
    for key, item in value.items():
        path = f"{where}.{key}" if where else str(key)
        if isinstance(schema, _MapOf):
            found += unknown_keys(item, schema.value, path)
        elif str(key).lower() not in schema:
            found.append(f"unknown key {path!r}")
        else:
            found += unknown_keys(item, schema[str(key).lower()], path)
    return found


def load_zot_config(path: Path) -> ZotConfig:
    """Read and check a zot configuration file; raises ConfigRefused as zot would refuse it."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigRefused(f"cannot read zot config: {error}", path=str(path)) from error
    problems = unknown_keys(raw, SCHEMA)
    if problems:
        raise ConfigRefused("; ".join(problems), path=str(path))
    return interpret(raw, path)


def _get(mapping: Any, *keys: str) -> Any:
    """Case-insensitive lookup through nested mappings (viper folds key case)."""
    current = mapping
    for key in keys:
        if not isinstance(current, dict):
            return None
        current = next((v for k, v in current.items() if str(k).lower() == key), None)
    return current


def _strings(value: Any) -> frozenset[str]:
    return frozenset(str(item) for item in value) if isinstance(value, list) else frozenset()


def _policy(raw: Any) -> Policy:
    return Policy(
        users=_strings(_get(raw, "users")),
        groups=_strings(_get(raw, "groups")),
        actions=_strings(_get(raw, "actions")),
    )


def interpret(raw: Mapping[str, Any], path: Path) -> ZotConfig:
    auth = _get(raw, "http", "auth") or {}
    providers = _get(auth, "openid", "providers") or {}
    for name in providers:
        if str(name).lower() not in OPENID_PROVIDERS:
            raise ConfigRefused(f"unsupported openid provider {name!r}", path=str(path))
    issuer = None
    oidc = _get(providers, "oidc")
    if oidc is not None:
        issuer = str(_get(oidc, "issuer") or "")
        _check_credentials_file(_get(oidc, "credentialsfile"), path)
        _check_issuer(issuer, path)
    api_keys = bool(_get(auth, "apikey")) or bool(providers)  # openid forces API keys on
    basic_auth = bool(_get(auth, "htpasswd", "path") or _get(auth, "ldap") or providers or api_keys)
    control = _get(raw, "http", "accesscontrol")
    access = None
    if control is not None:
        repositories = {
            str(pattern): PolicyGroup(
                policies=tuple(_policy(p) for p in _get(group, "policies") or []),
                default_policy=_strings(_get(group, "defaultpolicy")),
                anonymous_policy=_strings(_get(group, "anonymouspolicy")),
            )
            for pattern, group in (_get(control, "repositories") or {}).items()
        }
        access = AccessControl(
            repositories=repositories,
            admin_policy=_policy(_get(control, "adminpolicy")),
            static_groups={
                str(name): _strings(_get(group, "users"))
                for name, group in (_get(control, "groups") or {}).items()
            },
            metrics_users=_strings(_get(control, "metrics", "users")),
        )
    metrics = _get(raw, "extensions", "metrics")
    metrics_path = None
    if metrics is not None and _get(metrics, "enable") is not False:
        metrics_path = str(_get(metrics, "prometheus", "path") or "/metrics")
    return ZotConfig(
        realm=str(_get(raw, "http", "realm") or ""),
        basic_auth=basic_auth,
        api_keys=api_keys,
        openid_issuer=issuer,
        access_control=access,
        metrics_path=metrics_path,
        docker_media_types="docker2s2" in _strings(_get(raw, "http", "compat")),
    )


def _check_credentials_file(value: Any, config_path: Path) -> None:
    if not value:
        return  # clientid/clientsecret may sit in the provider block itself
    credentials_path = Path(str(value))
    try:
        credentials = json.loads(credentials_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigRefused(
            f"cannot read openid credentialsFile {credentials_path}: {error}", path=str(config_path)
        ) from error
    keys = {str(k).lower() for k in credentials} if isinstance(credentials, dict) else set()
    if keys != {"clientid", "clientsecret"}:
        raise ConfigRefused(
            "openid credentialsFile must hold exactly clientid and clientsecret",
            path=str(config_path),
        )


def _check_issuer(issuer: str, config_path: Path) -> None:
    """zot's OIDC library fetches discovery at start and wants the same issuer back."""
    if not issuer:
        raise ConfigRefused("openid provider oidc has no issuer", path=str(config_path))
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        # no proxy: the issuer is usually a neighbour in the lab, never the outside world
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(url, timeout=_DISCOVERY_TIMEOUT) as response:
            document = json.loads(response.read().decode("utf-8"))
    except (OSError, ValueError, urllib.error.URLError) as error:
        raise ConfigRefused(
            f"openid issuer {issuer} unreachable: {error}", path=str(config_path)
        ) from error
    discovered = document.get("issuer") if isinstance(document, dict) else None
    if discovered != issuer:
        raise ConfigRefused(
            f"oidc: issuer did not match the issuer returned by provider, expected {issuer!r} "
            f"got {discovered!r}",
            path=str(config_path),
        )
