"""What the zot-chain actions share: their settings (the keys of each table, read once,
checked, with the defaults of docs/lab.md), the service clients built on the engine's HTTP
client, the zot release in use, the operator's commands, and file writes that a dry run shows
as a diff instead of making.
"""

from __future__ import annotations

import hashlib
import stat
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import httpx

from mikado.edit.atomic import write_atomic
from mikado.engine.settings import TableKeys
from mikado.errors import ConfigError, MikadoError
from mikado.services import zot_config
from mikado.services.authentik import AuthentikClient
from mikado.services.forgejo import ForgejoClient
from mikado.services.zot_release import ZotRelease

REGISTER = "register-zot-oidc-client"
ENFORCE = "enforce-tag-immutability"
SWITCH = "switch-on-zot-auth"
MINT = "mint-zot-ci-api-key"
WIRE = "wire-ci-registry-auth"
HARDEN = "harden-zot-registry"


# Every key each table may hold. The settings readers below read a table whole, so every
# action reading a table accepts (and requires) the same keys; the engine refuses any other
# key before a card runs, so a misspelt optional key is never taken for an absent one.
TABLES: Mapping[str, TableKeys] = {
    "authentik": TableKeys(
        required=("url", "token"),
        optional=(
            "application_slug",
            "application_name",
            "provider_name",
            "client_id",
            "client_secret",
            "rotate_secret",
            "admins_group",
            "authorization_flow",
            "invalidation_flow",
            "signing_certificate",
            "issuer",
            # repo mode (actions/_repo.py)
            "mode",
            "blueprint",
            "configmap_entry",
            "client_credential_env",
            "deploy_command",
            "deploy_timeout",
        ),
    ),
    # One of repository and organisation is required; forgejo_settings says which is missing.
    "forgejo": TableKeys(
        required=("url", "token"),
        optional=(
            "repository",
            "organisation",
            "ci_credential_name",
            # repo mode (actions/_repo.py)
            "mode",
            "vars_file",
            "vars_list",
            "value_var",
            "deploy_command",
            "deploy_timeout",
        ),
    ),
    "zot": TableKeys(
        # config_file and credentials_file are required in api mode (zot_settings says so)
        required=("url", "ci_identity", "ci_group"),
        optional=(
            "config_file",
            "credentials_file",
            "external_url",
            "version",
            "credentials_path",
            "credentials_deploy_command",
            "credentials_check_command",
            "restart_command",
            "admins_group",
            "probe_repository",
            "live_timeout",
            # repo mode (actions/_repo.py)
            "mode",
            "config_template",
            "template_vars",
            "external_url_variable",
            "issuer_variable",
            "credentials_template",
            "client_credential_variable",
            "deploy_command",
            "deploy_timeout",
        ),
    ),
    "ci": TableKeys(
        required=("repository_path", "skopeo_workflow", "dagger_workflow"),
        optional=("registry_host", "registry_url"),
    ),
    # Its own table: the key exists only once the CI account has logged in to zot (the manual
    # card mint-zot-ci-api-key), and the cards before that must not need it resolved.
    "ci_credentials": TableKeys(required=("api_key",)),
}


def settings_tables(*names: str) -> dict[str, TableKeys]:
    """An action's ``SETTINGS``: the tables it reads, each with all its keys."""
    return {name: TABLES[name] for name in names}


class Ctx(Protocol):
    """The part of mikado.engine.context.Context these helpers use."""

    @property
    def settings(self) -> Mapping[str, Mapping[str, Any]]: ...
    @property
    def base(self) -> Path: ...
    @property
    def http(self) -> httpx.Client: ...
    @property
    def dry_run(self) -> bool: ...


# ---------------------------------------------------------------------------------------
# Reading the tables


class _Table:
    def __init__(self, ctx: Ctx, name: str):
        self.name = name
        self._values = ctx.settings.get(name, {})

    def has(self, key: str) -> bool:
        return self._values.get(key) not in (None, "")

    def text(self, key: str, default: str | None = None) -> str:
        value = self._values.get(key, default)
        if value is None:
            raise ConfigError(f"[{self.name}] {key} is missing; see CHAIN_CONFIG for the table")
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"[{self.name}] {key} must be a non-empty string")
        return value.strip()

    def optional_text(self, key: str) -> str | None:
        return self.text(key) if self.has(key) else None

    def flag(self, key: str) -> bool:
        value = self._values.get(key, False)
        if not isinstance(value, bool):
            raise ConfigError(f"[{self.name}] {key} must be true or false")
        return value

    def number(self, key: str, default: float) -> float:
        value = self._values.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"[{self.name}] {key} must be a positive number of seconds")
        return float(value)

    def argv(self, key: str, example: str = '["systemctl", "restart", "zot"]') -> tuple[str, ...]:
        value = self._values.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"[{self.name}] {key} must be a list of strings, e.g. {example}")
        return tuple(value)

    def url(self, key: str, default: str | None = None) -> str:
        value = self.text(key, default).rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"[{self.name}] {key} must be an http(s) URL, got {value!r}")
        return value


Mode = Literal["api", "repo"]


def table_mode(ctx: Ctx, table: str) -> Mode:
    """How a service's change is applied: "api" (call it) or "repo" (edit the infrastructure
    repository and run the operator's deploy command; actions/_repo.py)."""
    value = ctx.settings.get(table, {}).get("mode", "api")
    if value not in ("api", "repo"):
        raise ConfigError(f'[{table}] mode must be "api" or "repo", got {value!r}')
    return "repo" if value == "repo" else "api"


def _path(ctx: Ctx, value: str) -> Path:
    return (ctx.base / Path(value).expanduser()).absolute()


@dataclass(frozen=True, slots=True)
class AuthentikSettings:
    url: str
    token: str
    application_slug: str
    application_name: str
    provider_name: str
    client_id: str
    client_secret: str | None
    rotate_secret: bool  # may the configured secret replace the one Authentik holds
    admins_group: str
    authorization_flow: str
    invalidation_flow: str
    signing_certificate: str
    issuer: str

    def __repr__(self) -> str:  # the token and the secret never show
        return f"AuthentikSettings(url={self.url!r}, client_id={self.client_id!r})"


def authentik_settings(ctx: Ctx) -> AuthentikSettings:
    table = _Table(ctx, "authentik")
    url = table.url("url")
    slug = table.text("application_slug", "zot")
    return AuthentikSettings(
        url=url,
        token=table.text("token"),
        application_slug=slug,
        application_name=table.text("application_name", "Zot"),
        provider_name=table.text("provider_name", "zot"),
        client_id=table.text("client_id", "zot"),
        client_secret=table.optional_text("client_secret"),
        rotate_secret=table.flag("rotate_secret"),
        admins_group=table.text("admins_group", "admins"),
        authorization_flow=table.text(
            "authorization_flow", "default-provider-authorization-implicit-consent"
        ),
        invalidation_flow=table.text("invalidation_flow", "default-provider-invalidation-flow"),
        signing_certificate=table.text("signing_certificate", "authentik Self-signed Certificate"),
        # Not normalised: zot wants exactly the issuer discovery names, trailing slash included.
        issuer=table.text("issuer", f"{url}/application/o/{slug}/"),
    )


@dataclass(frozen=True, slots=True)
class ForgejoSettings:
    url: str
    token: str
    owner: str | None  # with repository: the repository's Actions secret
    repository: str | None
    organisation: str | None  # or the organisation's
    secret_name: str

    def __repr__(self) -> str:
        return f"ForgejoSettings(url={self.url!r}, scope={self.scope!r})"

    @property
    def scope(self) -> str:
        if self.organisation is not None:
            return f"organisation {self.organisation}"
        return f"repository {self.owner}/{self.repository}"


def forgejo_settings(ctx: Ctx) -> ForgejoSettings:
    table = _Table(ctx, "forgejo")
    # The key names a secret rather than holding one, but the configuration loader refuses a
    # literal under any key containing "secret"; hence `ci_credential_name` (CHAIN_CONFIG).
    name = table.text("ci_credential_name", "ZOT_CI_API_KEY")
    if table.has("organisation") == table.has("repository"):
        raise ConfigError(
            '[forgejo] give either repository = "owner/name" or organisation = "name"'
        )
    if table.has("organisation"):
        return ForgejoSettings(
            table.url("url"), table.text("token"), None, None, table.text("organisation"), name
        )
    owner, _, repository = table.text("repository").partition("/")
    if not owner or not repository or "/" in repository:
        raise ConfigError('[forgejo] repository must be "owner/name"')
    return ForgejoSettings(table.url("url"), table.text("token"), owner, repository, None, name)


@dataclass(frozen=True, slots=True)
class ZotSettings:
    url: str
    external_url: str
    mode: Mode
    version: str | None  # the zot release; else asked of the running zot
    config_file: Path | None  # api mode: zot's configuration file (repo mode: a template)
    credentials_file: Path | None  # api mode: where the chain writes the OIDC credentials
    credentials_path: str  # as zot reads it (a path on the zot host; repo mode: may be Jinja)
    deploy_command: tuple[str, ...]  # copies credentials_file to credentials_path
    check_command: tuple[str, ...]  # prints the sha256 of the copy zot reads
    restart_command: tuple[str, ...]
    ci_identity: str  # the CI service account's Authentik username
    ci_group: str
    admins_group: str
    probe_repository: str
    live_timeout: float

    def __repr__(self) -> str:
        return f"ZotSettings(url={self.url!r}, mode={self.mode!r})"

    @property
    def api_config_file(self) -> Path:
        assert self.config_file is not None  # api mode requires it (zot_settings)
        return self.config_file

    @property
    def api_credentials_file(self) -> Path:
        assert self.credentials_file is not None
        return self.credentials_file


def zot_settings(ctx: Ctx) -> ZotSettings:
    table = _Table(ctx, "zot")
    url = table.url("url")
    mode = table_mode(ctx, "zot")
    config_file = credentials_file = None
    if mode == "api":
        config_file = _path(ctx, table.text("config_file"))
        credentials_file = _path(ctx, table.text("credentials_file"))
        default_path: str | None = str(credentials_file)
    else:
        default_path = None
    return ZotSettings(
        url=url,
        external_url=table.url("external_url", url),
        mode=mode,
        version=table.optional_text("version"),
        config_file=config_file,
        credentials_file=credentials_file,
        credentials_path=table.text("credentials_path", default_path),
        deploy_command=table.argv(
            "credentials_deploy_command",
            '["scp", "{source}", "zot-host:/etc/zot/oidc-credentials.json"]',
        ),
        check_command=table.argv(
            "credentials_check_command",
            '["ssh", "zot-host", "sha256sum", "/etc/zot/oidc-credentials.json"]',
        ),
        restart_command=table.argv("restart_command"),
        ci_identity=table.text("ci_identity"),
        ci_group=table.text("ci_group"),
        admins_group=table.text("admins_group", "admins"),
        probe_repository=table.text("probe_repository", "mikado/probe"),
        live_timeout=table.number("live_timeout", 30),
    )


def ci_api_key(ctx: Ctx) -> str:
    """The CI account's zot API key ([ci_credentials] api_key, an env: or file: reference)."""
    return _Table(ctx, "ci_credentials").text("api_key")


@dataclass(frozen=True, slots=True)
class CISettings:
    repository: Path
    workflows: tuple[Path, ...]  # skopeo first, then Dagger
    registry_host: str  # as the workflows name the registry in image references
    registry_url: str  # how CI reaches the registry's API (the tag guard lists tags there)


def ci_settings(ctx: Ctx, zot: ZotSettings) -> CISettings:
    table = _Table(ctx, "ci")
    repository = _path(ctx, table.text("repository_path"))
    workflows = tuple(
        (repository / table.text(key)).absolute() for key in ("skopeo_workflow", "dagger_workflow")
    )
    host = table.text("registry_host", urlsplit(zot.url).netloc)
    return CISettings(repository, workflows, host, table.url("registry_url", zot.external_url))


def dagger_module(ci: CISettings) -> Any:
    """The repository's Dagger module (``dagger.json`` at its root), or None without one: a
    ``dagger call`` then counts as a push only when it names the registry itself."""
    import _dagger

    if not (ci.repository / "dagger.json").is_file():
        return None
    return _dagger.read_module(ci.repository)


# ---------------------------------------------------------------------------------------
# Clients


def authentik(ctx: Ctx, settings: AuthentikSettings) -> AuthentikClient:
    return AuthentikClient(ctx.http, settings.url, settings.token)


def forgejo(ctx: Ctx, settings: ForgejoSettings) -> ForgejoClient:
    return ForgejoClient(ctx.http, settings.url, settings.token)


def zot_release(ctx: Ctx, zot: ZotSettings) -> ZotRelease:
    """The zot release the configuration is written for: [zot] version, or the
    ``releaseTag`` the running zot's mgmt extension reports (readable without credentials)."""
    if zot.version is not None:
        release = ZotRelease.parse(zot.version, where="[zot] version")
    else:
        url = f"{zot.url}/v2/_zot/ext/mgmt"
        try:
            answer = ctx.http.get(url)
            tag = answer.json().get("releaseTag") if answer.status_code == 200 else None
        except (httpx.HTTPError, ValueError, AttributeError):
            tag = None
        if not isinstance(tag, str) or not tag.strip():
            raise ConfigError(
                f"cannot tell which zot release runs at {zot.url} (GET /v2/_zot/ext/mgmt gave "
                "no releaseTag: the search extension is off, or zot is down); set [zot] version "
                '= "2.1.20" (what `zot --version` prints)'
            )
        release = ZotRelease.parse(tag, where=f"the releaseTag of {url}")
    release.require_supported()
    return release


def run_command(ctx: Ctx, argv: Sequence[str], what: str, timeout: float) -> str:
    """Run one of the operator's commands (no shell); its output, or MikadoError naming the
    command and the end of its output. Secrets in the output are masked by the engine."""
    shown = " ".join(argv)
    try:
        done = subprocess.run(
            list(argv),
            cwd=ctx.base,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise MikadoError(f"the {what} `{shown}` did not run: {error}") from None
    if done.returncode != 0:
        output = " ".join((done.stderr or done.stdout).split())[-300:]
        raise MikadoError(f"the {what} `{shown}` exited {done.returncode}: {output or 'no output'}")
    return done.stdout


def fingerprint(secret: str) -> str:
    """A value that tells whether a secret changed, without being it (for the outputs)."""
    return "sha256:" + hashlib.sha256(b"mikado-zot-chain\0" + secret.encode()).hexdigest()


# ---------------------------------------------------------------------------------------
# Files


def read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{what} does not exist; check the path in the configuration", path=str(path)
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read the {what}: {error}", path=str(path)) from None


def replace_file(ctx: Ctx, path: Path, before: str, after: str) -> bool:
    """Write ``after`` over ``path`` (atomically, mode kept) unless nothing changes; a dry run
    prints the diff instead. True when the file changes (or would)."""
    if before == after:
        return False
    if ctx.dry_run:
        print(zot_config.unified_diff(before, after, str(path)), end="")
        return True
    write_atomic(path, after.encode("utf-8"))
    return True


def private_file_holds(path: Path, text: str) -> bool:
    """The file holds exactly ``text`` and only its owner may read it (mode 0600)."""
    try:
        same = path.read_text(encoding="utf-8") == text
        mode = stat.S_IMODE(path.stat().st_mode)
    except (OSError, UnicodeDecodeError):
        return False
    return same and mode == 0o600
