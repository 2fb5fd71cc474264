"""The lab's stand-in for an operator's deploy commands in repo mode (docs/repo-mode.md).

Where the operator runs `argocd app sync authentik` or `ansible-playbook site.yml --tags zot`,
the lab's configuration runs `python -m mikado.lab.control deploy SERVICE`, which lands here:

- **authentik**: every blueprint of the configured file (each data key of a ConfigMap, as the
  worker mounts them) is applied to the Authentik emulator in order, as Authentik's blueprint
  importer does (:mod:`mikado.lab.emulators.authentik_blueprint`). `!Env` names get the lab's
  values: the zot provider's client secret is the one the lab's "vault" holds.
- **zot**: the configuration template is rendered with its variable files (as Ansible's
  `template` module would), the OIDC credentials template likewise with the client secret
  from the vault, both written to the lab's zot host (absolute paths on the real host land
  under `lab/zot-host/`), and zot is restarted on the rendered file.
- **forgejo**: the Actions-secrets variable file's entries are PUT to the Forgejo emulator as
  the role's `uri` task does, each value from the variable its entry names.

Each reads the workspace's configuration when it runs, so it deploys what the chain wrote.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import yaml

from mikado.config import load_config
from mikado.edit.ansible_vars import Variables
from mikado.edit.atomic import write_atomic
from mikado.edit.blueprint import Env, load_blueprint
from mikado.edit.jinja_json import render, render_json
from mikado.errors import MikadoError
from mikado.lab.emulators import AuthentikEmulator, ForgejoEmulator, ZotEmulator
from mikado.lab.emulators._server import EmulatorError
from mikado.lab.emulators.authentik_blueprint import apply_blueprint
from mikado.lab.emulators.zot_config import ConfigRefused
from mikado.lab.workspace import LabSecrets, Workspace

_ENV_TAG = re.compile(r"!Env\s+([A-Za-z_][A-Za-z0-9_]*)")
PROVIDER_MODEL = "authentik_providers_oauth2.oauth2provider"


class LabDeployer:
    """What the lab does for `deploy SERVICE`; each method returns None when done, else why
    not (the control endpoint hands that to the command, which fails with it)."""

    def __init__(
        self,
        workspace: Workspace,
        secrets: LabSecrets,
        authentik: AuthentikEmulator,
        forgejo: ForgejoEmulator,
        zot: ZotEmulator,
    ) -> None:
        self.workspace = workspace
        self.secrets = secrets
        self.authentik = authentik
        self.forgejo = forgejo
        self.zot = zot
        self.log: list[tuple[str, str]] = []  # (service, what a deploy changed), for the report

    # configuration -----------------------------------------------------------------------------

    def _settings(self) -> Mapping[str, Mapping[str, Any]]:
        return load_config(config_file=self.workspace.config_file).settings

    def _repo_file(self, table: str, key: str) -> Path:
        settings = self._settings()
        value = settings.get(table, {}).get(key)
        if not isinstance(value, str) or not value:
            raise MikadoError(f"[{table}] {key} is not set in {self.workspace.config_file}")
        return self.workspace.infra / value

    def _secrets(self) -> LabSecrets:
        """The lab's secrets as recorded now: the CI key is added once minted."""
        state = self.workspace.read_state()
        return state.secrets if state is not None else self.secrets

    def mode(self, table: str) -> str:
        return str(self._settings().get(table, {}).get("mode", "api"))

    def __call__(self, service: str) -> str | None:
        try:
            {
                "authentik": self.authentik_deploy,
                "zot": self.zot_deploy,
                "forgejo": self.forgejo_deploy,
            }[service]()
        except (MikadoError, EmulatorError, ConfigRefused) as error:
            return str(error)
        except OSError as error:
            return f"{service}: {error}"
        return None

    # authentik ---------------------------------------------------------------------------------

    def _vault_value(self, name: str) -> str:
        """A stand-in for a secret the operator's vault holds and the lab does not know."""
        seed = f"{self.secrets.control_token}\0{name}".encode()
        return "lab-" + hashlib.sha256(seed).hexdigest()[:32]

    def _blueprints(self, path: Path) -> list[tuple[str, str]]:
        """(source, blueprint text) for each blueprint the file holds."""
        text = path.read_text(encoding="utf-8")
        try:
            document = yaml.load(text, Loader=_PlainLoader)
        except yaml.YAMLError as error:
            raise MikadoError(f"{path}: not valid YAML: {error}") from None
        if isinstance(document, dict) and document.get("kind") == "ConfigMap":
            data = document.get("data") or {}
            return [(f"{path}:{key}", str(value)) for key, value in data.items()]
        return [(str(path), text)]

    def authentik_deploy(self) -> None:
        settings = self._settings().get("authentik", {})
        path = self._repo_file("authentik", "blueprint")
        client_id = str(settings.get("client_id", "zot"))
        entry = settings.get("configmap_entry")
        ours = load_blueprint(
            path.read_text(encoding="utf-8"),
            path=str(path),
            data_key=str(entry) if entry else None,
        )
        zot_secret_env = set()
        for found in ours.entries:
            secret = found.attrs.get("client_secret")
            if (
                found.model.lower() == PROVIDER_MODEL
                and found.attrs.get("client_id") == client_id
                and isinstance(secret, Env)
            ):
                zot_secret_env.add(secret.name)
        assert self.secrets.oidc_client_secret is not None
        for source, text in self._blueprints(path):
            env = {
                name: (
                    self.secrets.oidc_client_secret
                    if name in zot_secret_env
                    else self._vault_value(name)
                )
                for name in _ENV_TAG.findall(text)
            }
            for line in apply_blueprint(self.authentik, text, env=env, source=source):
                if not line.startswith(("unchanged", "exists", "absent already")):
                    self.log.append(("authentik", line))

    # zot ---------------------------------------------------------------------------------------

    def _host_path(self, real: str) -> Path:
        """Where a path on the real zot host lives on the lab's."""
        return self.workspace.lab_dir / "zot-host" / real.lstrip("/")

    def rendered_zot_config(self) -> dict[str, Any]:
        settings = self._settings().get("zot", {})
        files = settings.get("template_vars", [])
        files = [files] if isinstance(files, str) else list(files)
        variables = Variables.load(
            *(self.workspace.infra / f for f in files), extra=self._template_secrets(settings)
        )
        template = self._repo_file("zot", "config_template")
        rendered = render_json(template.read_text(encoding="utf-8"), variables, path=str(template))
        if not isinstance(rendered, dict):
            raise MikadoError(f"{template} does not render to a JSON object")
        return rendered

    def _template_secrets(self, settings: Mapping[str, Any]) -> dict[str, object]:
        variable = settings.get("client_credential_variable")
        if not isinstance(variable, str) or not variable:
            return {}
        assert self.secrets.oidc_client_secret is not None
        return {variable: self.secrets.oidc_client_secret}

    def zot_deploy(self) -> None:
        settings = self._settings().get("zot", {})
        config = self.rendered_zot_config()
        oidc = (config.get("http", {}).get("auth", {}).get("openid", {}).get("providers", {})).get(
            "oidc"
        )
        credentials = settings.get("credentials_template")
        if isinstance(oidc, dict) and isinstance(oidc.get("credentialsFile"), str):
            real = str(oidc["credentialsFile"])
            target = self._host_path(real)
            oidc["credentialsFile"] = str(target)
            if isinstance(credentials, str) and credentials:
                files = settings.get("template_vars", [])
                files = [files] if isinstance(files, str) else list(files)
                variables = Variables.load(
                    *(self.workspace.infra / f for f in files),
                    extra=self._template_secrets(settings),
                )
                template = self.workspace.infra / credentials
                text = render(template.read_text(encoding="utf-8"), variables, path=str(template))
                target.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(target, text.encode("utf-8"), mode=0o600)
        host_config = self._host_path("config.json")
        host_config.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(host_config, (json.dumps(config, indent=2) + "\n").encode("utf-8"))
        self.zot.config_file = host_config
        self.zot.restart()
        self.log.append(("zot", "rendered its configuration template and restarted"))

    # forgejo -----------------------------------------------------------------------------------

    def forgejo_entries(self) -> list[tuple[str, str, str]]:
        """(repository name, secret name, value variable) of every entry of the vars file."""
        settings = self._settings().get("forgejo", {})
        path = self._repo_file("forgejo", "vars_file")
        variables = Variables.load(path)
        listed = variables.get(str(settings.get("vars_list", "")))
        if not isinstance(listed, list):
            raise MikadoError(f"{path}: {settings.get('vars_list')} is not a list")
        found = []
        for item in listed:
            if not isinstance(item, dict):
                continue
            for secret in item.get("secrets") or []:
                if isinstance(secret, dict):
                    found.append(
                        (
                            str(item.get("repo")),
                            str(secret.get("name")),
                            str(secret.get("value_var")),
                        )
                    )
        return found

    def forgejo_deploy(self) -> None:
        settings = self._settings().get("forgejo", {})
        owner = str(settings.get("repository", "")).partition("/")[0]
        ours = str(settings.get("value_var", ""))
        with httpx.Client(
            base_url=self.forgejo.api_url,
            headers={"Authorization": f"token {self.secrets.forgejo_token}"},
            timeout=30,
        ) as api:
            for repository, name, variable in self.forgejo_entries():
                if variable == ours:
                    minted = self._secrets().ci_api_key
                    if minted is None:
                        raise MikadoError(
                            f"the variable {variable} has no value: the lab's vault holds the "
                            "CI key only once mint-zot-ci-api-key is done"
                        )
                    value = minted
                else:
                    value = self._vault_value(variable)
                self.forgejo.add_repo(f"{owner}/{repository}")
                answer = api.put(
                    f"/repos/{owner}/{repository}/actions/secrets/{name}", json={"data": value}
                )
                if answer.status_code not in (201, 204):
                    raise MikadoError(
                        f"PUT of the Actions secret {name} of {owner}/{repository} answered "
                        f"{answer.status_code}: {answer.text[:200]}"
                    )


class _PlainLoader(yaml.SafeLoader):
    """Reads a ConfigMap whose blueprint values are plain strings; any tag outside them is
    taken as its text."""


_PlainLoader.add_multi_constructor(
    "!",
    lambda loader, suffix, node: loader.construct_scalar(node),
)
