"""The lab workspace: everything a lab run works on, in one folder it owns.

```
WORKSPACE/
  mikado.toml        configuration pointing every action at the emulators, secrets as env:NAME
  cards/             a copy of the configured docs (the repository's own are never touched)
  actions/           a copy of the configured actions
  infra/             the infrastructure repository an operator would bring (git, one commit)
  lab/lab.json       ports, tokens and releases of the lab (0600); emulator state files beside it
  lab/zot-host/      what the zot host holds: the OIDC credentials file zot reads
```

Laying out is idempotent and piecewise: a part already there is kept as it is, so a run
interrupted at any moment resumes on the same objects, tokens and files.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mikado.edit.atomic import write_atomic
from mikado.lab import LabError
from mikado.lab.emulators.releases import LabVersions
from mikado.lab.infra import (
    CREDENTIALS_FILE,
    DAGGER_WORKFLOW,
    SKOPEO_WORKFLOW,
    ZOT_CONFIG,
    create_infra_repository,
)
from mikado.lab.operator import LabUrls, OperatorSources, adapt_config, copy_infra

LAB_STATE_VERSION = 2

ADMINS_GROUP = "admins"
FORGEJO_REPOSITORY = "ops/infra"
CI_IDENTITY = "ci-bot"
CI_GROUP = "artifact-workloads"
PROBE_REPOSITORY = "mikado/probe"

# The environment variables the lab configuration reads its secrets from.
AUTHENTIK_TOKEN_VARIABLE = "AUTHENTIK_TOKEN"
FORGEJO_TOKEN_VARIABLE = "FORGEJO_TOKEN"
CI_API_KEY_VARIABLE = "ZOT_CI_API_KEY"

_COPY_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".mikado", ".pytest_cache")


@dataclass(frozen=True, slots=True)
class ServicePorts:
    """Where the three emulators and the lab's control endpoint listen on 127.0.0.1 (0: any
    free port)."""

    authentik: int = 0
    forgejo: int = 0
    zot: int = 0
    control: int = 0


@dataclass(frozen=True, slots=True)
class ServiceUrls:
    authentik: str
    forgejo: str
    zot: str

    @property
    def zot_host(self) -> str:
        """host:port, the registry as image references name it."""
        return self.zot.split("://", 1)[-1].rstrip("/")


@dataclass(frozen=True, slots=True)
class LabSecrets:
    """What an operator brings — the admin tokens, the CI service account's password — and
    the CI account's zot API key once it was minted (by hand: mint-zot-ci-api-key)."""

    authentik_token: str
    forgejo_token: str
    ci_password: str
    control_token: str
    ci_api_key: str | None = None
    # With an operator's repository in repo mode: the OIDC client secret their vault holds,
    # which the lab's deploys give the blueprint (!Env) and zot's credentials template.
    oidc_client_secret: str | None = None

    @classmethod
    def generate(cls) -> LabSecrets:
        return cls(
            authentik_token=secrets.token_urlsafe(32),
            forgejo_token=secrets.token_hex(20),  # Forgejo's PATs are 40 hex digits
            ci_password=secrets.token_urlsafe(18),
            control_token=secrets.token_urlsafe(24),
            oidc_client_secret=secrets.token_urlsafe(48),
        )

    def environment(self) -> dict[str, str]:
        """The variables the lab configuration's `env:` references name."""
        variables = {
            AUTHENTIK_TOKEN_VARIABLE: self.authentik_token,
            FORGEJO_TOKEN_VARIABLE: self.forgejo_token,
        }
        if self.ci_api_key is not None:
            variables[CI_API_KEY_VARIABLE] = self.ci_api_key
        return variables

    def values(self) -> tuple[str, ...]:
        found = (
            self.authentik_token,
            self.forgejo_token,
            self.ci_password,
            self.control_token,
            self.ci_api_key,
            self.oidc_client_secret,
        )
        return tuple(value for value in found if value)

    def as_json(self) -> dict[str, str | None]:
        return {
            "authentik_token": self.authentik_token,
            "forgejo_token": self.forgejo_token,
            "ci_password": self.ci_password,
            "control_token": self.control_token,
            "ci_api_key": self.ci_api_key,
            "oidc_client_secret": self.oidc_client_secret,
        }


@dataclass(frozen=True, slots=True)
class LabState:
    """The lab's own record (lab/lab.json): ports to listen on again, the tokens issued and
    the releases the emulators imitate."""

    ports: ServicePorts
    secrets: LabSecrets
    versions: LabVersions = field(default_factory=LabVersions)
    sources: OperatorSources | None = None  # --infra/--config the workspace was laid out from


@dataclass(frozen=True, slots=True)
class Workspace:
    root: Path

    @property
    def config_file(self) -> Path:
        return self.root / "mikado.toml"

    @property
    def docs(self) -> Path:
        return self.root / "cards"

    @property
    def actions(self) -> Path:
        return self.root / "actions"

    @property
    def infra(self) -> Path:
        return self.root / "infra"

    @property
    def zot_config(self) -> Path:
        return self.infra / ZOT_CONFIG

    @property
    def credentials_file(self) -> Path:
        return self.infra / CREDENTIALS_FILE

    @property
    def zot_host_credentials(self) -> Path:
        """Where the lab's zot reads its OIDC credentials: the copy on "the zot host"."""
        return self.lab_dir / "zot-host" / "oidc-credentials.json"

    @property
    def lab_dir(self) -> Path:
        return self.root / "lab"

    @property
    def state_file(self) -> Path:
        return self.lab_dir / "lab.json"

    def emulator_state(self, service: str) -> Path:
        return self.lab_dir / f"{service}.json"

    # lab state -------------------------------------------------------------------------------

    def read_state(self) -> LabState | None:
        """The recorded ports, tokens and releases, or None for a workspace the lab has not
        set up."""
        try:
            document = json.loads(self.state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            raise LabError(
                f"cannot read the lab state: {error}", path=str(self.state_file)
            ) from None
        try:
            if document["version"] != LAB_STATE_VERSION:
                raise LabError(
                    f"lab state version {document['version']!r} is of another mikado; use a "
                    "new workspace",
                    path=str(self.state_file),
                )
            ports = document["ports"]
            tokens = document["secrets"]
            return LabState(
                ports=ServicePorts(
                    **{name: int(ports[name]) for name in ("authentik", "forgejo", "zot")},
                    control=int(ports.get("control", 0)),
                ),
                secrets=LabSecrets(
                    authentik_token=str(tokens["authentik_token"]),
                    forgejo_token=str(tokens["forgejo_token"]),
                    ci_password=str(tokens["ci_password"]),
                    control_token=str(tokens["control_token"]),
                    ci_api_key=str(tokens["ci_api_key"]) if tokens.get("ci_api_key") else None,
                    oidc_client_secret=(
                        str(tokens["oidc_client_secret"])
                        if tokens.get("oidc_client_secret")
                        else None
                    ),
                ),
                versions=LabVersions(**document["releases"]),
                sources=_sources(document.get("sources")),
            )
        except (KeyError, TypeError, ValueError):
            raise LabError("the lab state is damaged", path=str(self.state_file)) from None

    def write_state(self, state: LabState) -> None:
        document = {
            "service": "lab",
            "version": LAB_STATE_VERSION,
            "ports": {
                "authentik": state.ports.authentik,
                "forgejo": state.ports.forgejo,
                "zot": state.ports.zot,
                "control": state.ports.control,
            },
            "secrets": state.secrets.as_json(),
            "releases": state.versions.as_json(),
            "sources": state.sources.as_json() if state.sources else None,
        }
        self.lab_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.lab_dir, 0o700)
        write_atomic(self.state_file, json.dumps(document, indent=1).encode(), mode=0o600)


def _sources(recorded: object) -> OperatorSources | None:
    if not isinstance(recorded, dict) or not recorded.get("infra"):
        return None
    config = recorded.get("config")
    return OperatorSources(Path(str(recorded["infra"])), Path(str(config)) if config else None)


def lay_out(
    root: Path,
    *,
    docs: Path,
    actions: Path,
    urls: ServiceUrls,
    sources: OperatorSources | None = None,
    versions: LabVersions | None = None,
) -> Workspace:
    """Create (or complete) the workspace at `root` for services at `urls`.

    The cards, actions and infrastructure repository are created only when absent (the
    repository is the lab's own, or a copy of `sources.infra`); the configuration is rewritten
    whenever it would differ (the emulators moved to other ports).
    """
    workspace = Workspace(root.absolute())
    workspace.root.mkdir(parents=True, exist_ok=True)
    for source, target in ((docs, workspace.docs), (actions, workspace.actions)):
        if not target.exists():
            if not source.is_dir():
                raise LabError(f"{source} is not a folder; run the lab from a mikado checkout")
            _copy_tree(source, target)
    if not (workspace.infra / ".git").is_dir():
        if sources is None:
            create_infra_repository(workspace.infra, registry_host=urls.zot_host)
        else:
            copy_infra(sources.infra, workspace.infra)
    if sources is not None and sources.config is not None:
        try:
            original = sources.config.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise LabError(f"--config: cannot read it: {error}", path=str(sources.config)) from None
        lab_urls = LabUrls(urls.authentik, urls.forgejo, urls.zot)
        text = adapt_config(
            original,
            source=sources.config,
            workspace=workspace.root,
            urls=lab_urls,
            zot_version=(versions or LabVersions()).zot,
        )
    else:
        text = lab_config(urls, workspace, versions or LabVersions())
    current = None
    if workspace.config_file.exists():
        current = workspace.config_file.read_text(encoding="utf-8")
    if current != text:
        write_atomic(workspace.config_file, text.encode(), mode=0o644)  # it holds no secret
    return workspace


def _copy_tree(source: Path, target: Path) -> None:
    # Copy next to the target and rename, so an interrupted copy is never taken for a whole one.
    partial = target.with_name(f".{target.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(source, partial, ignore=_COPY_IGNORED, symlinks=False)
    os.replace(partial, target)


def relocate(workspace: Workspace, old: ServicePorts, new: ServicePorts) -> list[Path]:
    """Make the addresses the chain wrote into the workspace follow services that moved.

    A hardened zot configuration names Authentik's issuer and zot's own URL; zot refuses to
    start when the issuer does not answer, so a lab whose ports moved must update them.
    Returns the files changed. The credentials file and the lab's own state are left alone.
    """
    moved = {
        str(before): str(after)
        for before, after in (
            (old.authentik, new.authentik),
            (old.forgejo, new.forgejo),
            (old.zot, new.zot),
        )
        if before != after
    }
    if not moved:
        return []
    address = re.compile(r"127\.0\.0\.1:(\d+)\b")
    candidates = [workspace.root / ".mikado" / "outputs.json"]
    if workspace.infra.is_dir():
        candidates += [
            path
            for path in workspace.infra.rglob("*")
            if path.is_file() and ".git" not in path.relative_to(workspace.infra).parts
        ]
    changed = []
    for path in candidates:
        if path == workspace.credentials_file or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        # one pass, so a port that moved onto another's old port is not moved twice
        updated = address.sub(lambda m: f"127.0.0.1:{moved.get(m.group(1), m.group(1))}", text)
        if updated != text:
            write_atomic(path, updated.encode("utf-8"))  # keeps the file's mode
            changed.append(path)
    return changed


# configuration -------------------------------------------------------------------------------


def lab_config(urls: ServiceUrls, workspace: Workspace, versions: LabVersions) -> str:
    """mikado.toml for the lab, shaped as a real installation's (docs/lab.md shows one)."""
    python = sys.executable
    control = [python, "-m", "mikado.lab.control", "restart", "zot"]
    restart = json.dumps([*control, "--workspace", str(workspace.root)])
    host_copy = str(workspace.zot_host_credentials)
    deploy = json.dumps(["install", "-D", "-m", "600", "{source}", host_copy])
    check = json.dumps(["sha256sum", host_copy])
    return f"""\
# Written by `mikado run --lab`: every service below is a local emulator of the lab.
# Secrets are never written here; the lab puts them in the run's environment.
[mikado]
docs = "cards"
actions = "actions"
# mint-zot-ci-api-key is manual by design: the CI account's first login takes a person.
ignore = ["action-missing:zot/mint-zot-ci-api-key.md"]

[authentik]
url = "{urls.authentik}"
token = "env:{AUTHENTIK_TOKEN_VARIABLE}"
application_slug = "zot"
application_name = "Zot"
provider_name = "zot"
client_id = "zot"
# no client_secret: Authentik's (or, for a new provider, a generated one) goes to zot's file
admins_group = "{ADMINS_GROUP}"
authorization_flow = "default-provider-authorization-implicit-consent"
invalidation_flow = "default-provider-invalidation-flow"
signing_certificate = "authentik Self-signed Certificate"
issuer = "{urls.authentik}/application/o/zot/"

[forgejo]
url = "{urls.forgejo}"
token = "env:{FORGEJO_TOKEN_VARIABLE}"
repository = "{FORGEJO_REPOSITORY}"

[zot]
url = "{urls.zot}"
external_url = "{urls.zot}"
# Known beforehand, so the chain can repair a zot that does not start (its release cannot be
# asked of it then).
version = "{versions.zot}"
config_file = "infra/{ZOT_CONFIG}"
credentials_file = "infra/{CREDENTIALS_FILE}"
# "The zot host" of the lab is a folder of the workspace; a real one is reached by scp/ssh.
credentials_path = "{host_copy}"
credentials_deploy_command = {deploy}
credentials_check_command = {check}
restart_command = {restart}
ci_identity = "{CI_IDENTITY}"
ci_group = "{CI_GROUP}"
admins_group = "{ADMINS_GROUP}"
probe_repository = "{PROBE_REPOSITORY}"
live_timeout = 30

[ci]
repository_path = "infra"
skopeo_workflow = "{SKOPEO_WORKFLOW}"
dagger_workflow = "{DAGGER_WORKFLOW}"
registry_host = "{urls.zot_host}"

[ci_credentials]
api_key = "env:{CI_API_KEY_VARIABLE}"   # minted by hand: the card mint-zot-ci-api-key
"""
