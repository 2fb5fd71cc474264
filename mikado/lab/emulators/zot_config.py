"""Reading a zot configuration file the way a given zot release's loader does.

zot refuses a configuration with a key it does not know (``LoadConfiguration`` in
``pkg/cli/server/root.go``: viper's ``UnmarshalExact`` plus an unused-keys check; keys match
case-insensitively) and an OpenID credentials file with other keys than ``clientid`` and
``clientsecret`` or without a ``.json``/``.yaml`` name (``readSecretFile``). Which keys exist
depends on the release (``pkg/api/config/config.go`` at each tag): a key is marked with the
release that added it below. Only the parts that decide authentication, authorization,
metrics and media types are interpreted; the rest is checked for known keys and ignored.
The OpenID issuer itself is contacted at start-up, not here (:mod:`.zot_auth`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mikado.errors import MikadoError
from mikado.lab.emulators.releases import version_tuple
from mikado.lab.emulators.zot_access import AccessControl, Policy, PolicyGroup

OPENID_PROVIDERS = ("oidc", "google", "gitlab", "github")


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


@dataclass(frozen=True, slots=True)
class _Since:
    """A key zot knows only from ``release`` on."""

    release: tuple[int, ...]
    value: Any


def since(release: str, value: Any = None) -> _Since:
    return _Since(version_tuple(release), ANY if value is None else value)


def _keys(*names: str, **nested: Any) -> dict[str, Any]:
    return {**{name.lower(): ANY for name in names}, **{k.lower(): v for k, v in nested.items()}}


_TLS = _keys("cert", "key", "cacert")
_CONDITIONS = since("2.1.17")  # CEL conditions on policies (8a6674f1)
_POLICY = _keys("users", "actions", "groups", conditions=_CONDITIONS)
_RETENTION = _keys(
    "dryrun",
    "delay",
    policies=_ListOf(
        _keys(
            "repositories",
            "deletereferrers",
            "deleteuntagged",
            keepuntagged=since(
                "2.1.19",
                _keys(
                    "pulledwithin",
                    "pushedwithin",
                    "mostrecentlypushedcount",
                    "mostrecentlypulledcount",
                ),
            ),
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
    gcmaxschedulerdelay=since("2.1.11"),  # "not configurable", yet an exported field
    maxrepos=since("2.1.16"),
    redirectbloburl=since("2.1.18"),
    gctimewindow=since("2.1.19"),
)
_SYNC_REGISTRY = _keys(
    "urls",
    "pollinterval",
    "tlsverify",
    "ondemand",
    "certdir",
    "maxretries",
    "retrydelay",
    "onlysigned",
    "credentialhelper",
    "preservedigest",
    synctimeout=since("2.1.11"),
    responseheadertimeout=since("2.1.12"),  # set by zot itself, yet an exported field
    synclegacycosigntags=since("2.1.15"),
    maxretrydelay=since("2.1.19"),
    oauth2credentialhelper=since("2.1.19"),
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
    "name",
    "clientid",
    "clientsecret",
    "keypath",
    "issuer",
    "scopes",
    credentialsfile=since("2.1.6"),
    authurl=since("2.1.11"),
    tokenurl=since("2.1.11"),
    claimmapping=since("2.1.11", _keys("username", groups=since("2.1.17"))),
)
_BEARER_OIDC = _keys(
    "issuer",
    "audiences",
    "certificateauthority",
    "certificateauthorityfile",
    "skipissuerverification",
    claimmapping=_keys(
        "username",
        "groups",
        variables=_ListOf(_keys("name", "expression")),
        validations=_ListOf(_keys("expression", "message")),
    ),
)
SCHEMA: dict[str, Any] = _keys(
    "distspecversion",
    "goversion",
    "commit",
    "releasetag",
    "binarytype",
    storage={
        **_STORAGE_FIELDS,
        "subpaths": _MapOf(_STORAGE_FIELDS),
        "fastrestart": since("2.1.18"),
    },
    http=_keys(
        "address",
        "externalurl",
        "port",
        "alloworigin",
        "realm",
        "compat",
        readtimeout=since("2.1.17"),
        writetimeout=since("2.1.17"),
        tls=_TLS,
        auth=_keys(
            "faildelay",
            "apikey",
            "sessionkeysfile",
            "sessionhashkey",  # json:"-" only, so viper still takes them
            "sessionencryptkey",
            sessiondriver=since("2.1.9"),
            securesession=since("2.1.11"),
            mtls=since("2.1.12"),
            htpasswd=_keys("path"),
            bearer=_keys(
                "realm",
                "service",
                "cert",
                oidc=since("2.1.14", _ListOf(_BEARER_OIDC)),  # workload identity (bf619c57)
                awssecretsmanager=since("2.1.15", _keys("region", "secretname", "refreshinterval")),
                upstreamtokenendpoint=since(
                    "2.1.19", _keys("realm", "service", "allowinsecurehttp")
                ),
            ),
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
            openid=_keys(providers=_MapOf(_OPENID_PROVIDER), callbackalloworigins=since("2.1.15")),
        ),
        accesscontrol=_keys(
            repositories=_MapOf(
                _keys("defaultpolicy", "anonymouspolicy", policies=_ListOf(_POLICY))
            ),
            adminpolicy=_POLICY,
            groups=_MapOf(_keys("users")),
            metrics=_keys("users", anonymouspolicy=since("2.1.18")),
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
        apikey=_keys("enable"),  # deprecated: accepted, ignored with a warning
    ),
    scheduler=_keys("numworkers"),
    cluster=_keys("members", "hashkey", tls=_TLS),
)


@dataclass(frozen=True, slots=True)
class OpenIDProvider:
    """The generic OIDC provider (key ``oidc``) as zot reads it, credentials file included."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...]
    username_claim: str | None  # claimMapping.username (2.1.11+)
    groups_claim: str | None  # claimMapping.groups (2.1.17+)


@dataclass(frozen=True, slots=True)
class ZotConfig:
    """What the emulator acts on, taken from a valid configuration."""

    realm: str = ""
    basic_auth: bool = False  # any of htpasswd, ldap, openid, apikey configured
    api_keys: bool = False
    openid: OpenIDProvider | None = None
    access_control: AccessControl | None = None
    metrics_path: str | None = None
    docker_media_types: bool = False
    external_url: str = ""
    search: bool = False  # the search extension, which also serves /v2/_zot/ext/mgmt

    @property
    def openid_issuer(self) -> str | None:
        return self.openid.issuer if self.openid else None


def unknown_keys(
    value: Any, schema: Any, release: tuple[int, ...] = (99,), where: str = ""
) -> list[str]:
    """Every key of `value` the schema does not know in `release`, as a dotted path."""
    if isinstance(schema, _Any):
        return []
    if isinstance(schema, _ListOf):
        if not isinstance(value, list):
            return [f"{where or 'config'}: expected a list"] if value is not None else []
        found = []
        for index, item in enumerate(value):
            found += unknown_keys(item, schema.item, release, f"{where}[{index}]")
        return found
    if value is None:
        return []
    if not isinstance(value, dict):
        return [f"{where or 'config'}: expected a mapping"]
    found = []
    for key, item in value.items():
        path = f"{where}.{key}" if where else str(key)
        if isinstance(schema, _MapOf):
            found += unknown_keys(item, schema.value, release, path)
            continue
        known = schema.get(str(key).lower())
        if isinstance(known, _Since):
            known = known.value if known.release <= release else None
        if known is None:
            found.append(f"unknown key {path!r}")
        else:
            found += unknown_keys(item, known, release, path)
    return found


def load_zot_config(path: Path, release: str = "2.1.20") -> ZotConfig:
    """Read and check a zot configuration file as zot ``release`` does; raises
    ConfigRefused where zot would refuse it."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigRefused(f"cannot read zot config: {error}", path=str(path)) from error
    if not isinstance(raw, dict) or not raw:
        raise ConfigRefused("config has absence of any key:value pair", path=str(path))
    problems = unknown_keys(raw, SCHEMA, version_tuple(release))
    if problems:
        raise ConfigRefused(
            "failed to load config due to unknown keys: " + "; ".join(problems), path=str(path)
        )
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


def _openid(raw: Any, path: Path) -> OpenIDProvider | None:
    providers = _get(raw, "http", "auth", "openid", "providers") or {}
    for name in providers:
        if str(name).lower() not in OPENID_PROVIDERS:
            raise ConfigRefused(f"unsupported openid/oauth2 provider {name!r}", path=str(path))
    oidc = _get(providers, "oidc")
    if oidc is None:
        return None
    client_id = str(_get(oidc, "clientid") or "")
    client_secret = str(_get(oidc, "clientsecret") or "")
    credentials = _get(oidc, "credentialsfile")
    if credentials:
        client_id, client_secret = _read_credentials(Path(str(credentials)), path)
    issuer = str(_get(oidc, "issuer") or "")
    scopes = tuple(str(s) for s in _get(oidc, "scopes") or [])
    if not client_id or not issuer or not scopes:
        raise ConfigRefused(
            "openid provider oidc needs clientid, issuer and scopes", path=str(path)
        )
    if "openid" not in scopes:
        scopes = ("openid", *scopes)  # zot prepends it for OpenID providers
    mapping = _get(oidc, "claimmapping") or {}
    return OpenIDProvider(
        issuer=issuer,
        client_id=client_id,
        client_secret=client_secret,
        scopes=scopes,
        username_claim=str(_get(mapping, "username")) if _get(mapping, "username") else None,
        groups_claim=str(_get(mapping, "groups")) if _get(mapping, "groups") else None,
    )


def interpret(raw: Mapping[str, Any], path: Path) -> ZotConfig:
    auth = _get(raw, "http", "auth") or {}
    openid = _openid(raw, path)
    providers = _get(auth, "openid", "providers") or {}
    api_keys = bool(_get(auth, "apikey")) or bool(providers)  # openid forces API keys on
    basic_auth = bool(_get(auth, "htpasswd", "path") or _get(auth, "ldap") or providers or api_keys)
    control = _get(raw, "http", "accesscontrol")
    access = None
    if control is not None:
        repositories = {
            str(pattern).lower(): PolicyGroup(  # viper lower-cases map keys
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
                str(name).lower(): _strings(_get(group, "users"))
                for name, group in (_get(control, "groups") or {}).items()
            },
            metrics_users=_strings(_get(control, "metrics", "users")),
            metrics_anonymous=_strings(_get(control, "metrics", "anonymouspolicy")),
        )
    metrics = _get(raw, "extensions", "metrics")
    metrics_path = None
    if metrics is not None and _get(metrics, "enable") is not False:
        metrics_path = str(_get(metrics, "prometheus", "path") or "/metrics")
    return ZotConfig(
        realm=str(_get(raw, "http", "realm") or ""),
        basic_auth=basic_auth,
        api_keys=api_keys,
        openid=openid,
        access_control=access,
        metrics_path=metrics_path,
        docker_media_types="docker2s2" in _strings(_get(raw, "http", "compat")),
        external_url=str(_get(raw, "http", "externalurl") or ""),
        search=bool(_get(raw, "extensions", "search", "enable")),
    )


def _read_credentials(credentials_path: Path, config_path: Path) -> tuple[str, str]:
    """``readSecretFile``: the format follows the extension, and exactly ``clientid`` and
    ``clientsecret`` (case-insensitive) must be set."""
    if credentials_path.suffix.lower() not in (".json", ".yaml", ".yml"):
        raise ConfigRefused(
            f'openid credentialsFile {credentials_path}: Unsupported Config Type ""',
            path=str(config_path),
        )
    try:
        text = credentials_path.read_text(encoding="utf-8")
        if credentials_path.suffix.lower() == ".json":
            credentials = json.loads(text)
        else:
            import yaml

            credentials = yaml.safe_load(text)
    except (OSError, ValueError) as error:
        raise ConfigRefused(
            f"cannot read openid credentialsFile {credentials_path}: {error}",
            path=str(config_path),
        ) from error
    if not isinstance(credentials, dict) or not credentials:
        raise ConfigRefused(
            f"openid credentialsFile {credentials_path}: absence of any key:value pair",
            path=str(config_path),
        )
    keys = {str(k).lower(): v for k, v in credentials.items()}
    unknown = sorted(set(keys) - {"clientid", "clientsecret"})
    if unknown:
        raise ConfigRefused(
            f"openid credentialsFile {credentials_path}: failed to load secret file due to "
            f"unknown keys {unknown}",
            path=str(config_path),
        )
    missing = sorted({"clientid", "clientsecret"} - set(keys))
    if missing:
        raise ConfigRefused(
            f"openid credentialsFile {credentials_path}: unset keys {missing}",
            path=str(config_path),
        )
    return str(keys["clientid"]), str(keys["clientsecret"])
