"""Repo mode: a service's change is made in the operator's infrastructure repository and
brought live by the operator's own deploy command, then checked against the live service.

Each service table says how its change is applied with ``mode``: ``"api"`` (the default: call
the service) or ``"repo"``. In repo mode the paths of the table are relative to the
infrastructure repository ([ci] repository_path), and the deploy command runs there. What
each mode reads is described in docs/repo-mode.md.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import _zot_chain as chain

from mikado.errors import ConfigError, MikadoError

DEFAULT_DEPLOY_TIMEOUT = 600.0


def repository(ctx: chain.Ctx) -> Path:
    """The infrastructure repository's root ([ci] repository_path)."""
    value = ctx.settings.get("ci", {}).get("repository_path")
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("repo mode needs [ci] repository_path: the infrastructure repository")
    return (ctx.base / Path(value).expanduser()).absolute()


@dataclass(frozen=True, slots=True)
class Deploy:
    """The operator's command that brings the repository's state live for one service."""

    argv: tuple[str, ...]
    timeout: float
    table: str

    def run(self, ctx: chain.Ctx, root: Path) -> str:
        """Run it in the repository root; its output, or MikadoError naming the command."""
        if not self.argv:
            raise ConfigError(
                f"[{self.table}] deploy_command is missing: repo mode changes the repository "
                "and needs the command that deploys it (e.g. "
                '["ansible-playbook", "site.yml", "--tags", "zot"])'
            )
        return run_in(ctx, root, self.argv, f"[{self.table}] deploy command", self.timeout)


def run_in(ctx: chain.Ctx, root: Path, argv: Sequence[str], what: str, timeout: float) -> str:
    shown = " ".join(argv)
    try:
        done = subprocess.run(
            list(argv),
            cwd=root,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise MikadoError(f"the {what} `{shown}` did not finish in {timeout:g} s") from None
    except OSError as error:
        raise MikadoError(f"the {what} `{shown}` did not run: {error}") from None
    if done.returncode != 0:
        output = " ".join((done.stderr or done.stdout).split())
        if len(output) > 700:  # its first words say what failed, its last why
            output = f"{output[:250]} … {output[-400:]}"
        raise MikadoError(f"the {what} `{shown}` exited {done.returncode}: {output or 'no output'}")
    return done.stdout


def deploy(ctx: chain.Ctx, table: str) -> Deploy:
    values = ctx.settings.get(table, {})
    argv = values.get("deploy_command") or ()
    if not isinstance(argv, list | tuple) or not all(isinstance(a, str) and a for a in argv):
        raise ConfigError(
            f'[{table}] deploy_command must be a list of strings, e.g. ["argocd", "app", '
            '"sync", "authentik"]'
        )
    timeout = values.get("deploy_timeout", DEFAULT_DEPLOY_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError(f"[{table}] deploy_timeout must be a positive number of seconds")
    return Deploy(tuple(argv), float(timeout), table)


def _text(ctx: chain.Ctx, table: str, key: str, *, required: bool, why: str = "") -> str | None:
    value = ctx.settings.get(table, {}).get(key)
    if value is None or value == "":
        if required:
            raise ConfigError(f"[{table}] {key} is missing: repo mode needs it{why}")
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"[{table}] {key} must be a non-empty string")
    return value.strip()


def _file(ctx: chain.Ctx, root: Path, table: str, key: str, why: str = "") -> Path:
    value = _text(ctx, table, key, required=True, why=why)
    assert value is not None
    return (root / value).absolute()


@dataclass(frozen=True, slots=True)
class AuthentikRepo:
    root: Path
    blueprint: Path  # a blueprint file, or a ConfigMap holding it under `configmap_entry`
    configmap_entry: str | None
    client_credential_env: str | None  # the !Env a new provider's client_secret reads
    deploy: Deploy


def authentik_repo(ctx: chain.Ctx) -> AuthentikRepo:
    root = repository(ctx)
    return AuthentikRepo(
        root=root,
        blueprint=_file(
            ctx,
            root,
            "authentik",
            "blueprint",
            " (the blueprint file, or the ConfigMap that holds it)",
        ),
        configmap_entry=_text(ctx, "authentik", "configmap_entry", required=False),
        client_credential_env=_text(ctx, "authentik", "client_credential_env", required=False),
        deploy=deploy(ctx, "authentik"),
    )


@dataclass(frozen=True, slots=True)
class ZotRepo:
    root: Path
    config_template: Path  # zot's configuration as a Jinja template (JSON inside)
    template_vars: tuple[Path, ...]  # the variable files it renders with, later ones winning
    external_url_variable: str | None  # write externalUrl as this variable (set in the vars)
    issuer_variable: str | None  # likewise for the OIDC issuer
    credentials_template: Path | None  # the template of zot's OIDC credentials file
    client_credential_variable: str | None  # the variable that template reads the secret from
    deploy: Deploy


def zot_repo(ctx: chain.Ctx) -> ZotRepo:
    root = repository(ctx)
    values = ctx.settings.get("zot", {})
    files = values.get("template_vars", [])
    if isinstance(files, str):
        files = [files]
    if not isinstance(files, list) or not all(isinstance(f, str) and f for f in files):
        raise ConfigError(
            "[zot] template_vars must be a list of variable files, e.g. "
            '["ansible/roles/zot/defaults/main.yml"]'
        )
    credentials = _text(ctx, "zot", "credentials_template", required=False)
    variable = _text(
        ctx,
        "zot",
        "client_credential_variable",
        required=credentials is not None,
        why=" with credentials_template (the variable holding the client secret)",
    )
    return ZotRepo(
        root=root,
        config_template=_file(
            ctx, root, "zot", "config_template", " (zot's configuration template in the repository)"
        ),
        template_vars=tuple((root / f).absolute() for f in files),
        external_url_variable=_text(ctx, "zot", "external_url_variable", required=False),
        issuer_variable=_text(ctx, "zot", "issuer_variable", required=False),
        credentials_template=(root / credentials).absolute() if credentials else None,
        client_credential_variable=variable,
        deploy=deploy(ctx, "zot"),
    )


@dataclass(frozen=True, slots=True)
class ForgejoRepo:
    root: Path
    vars_file: Path  # the variable file listing each repository's Actions secrets
    vars_list: str  # the variable holding that list
    value_var: str  # the variable the operator's vault fills with the CI key
    deploy: Deploy


def forgejo_repo(ctx: chain.Ctx) -> ForgejoRepo:
    root = repository(ctx)
    vars_list = _text(
        ctx,
        "forgejo",
        "vars_list",
        required=True,
        why=" (the variable listing {repo, secrets} entries)",
    )
    value_var = _text(
        ctx,
        "forgejo",
        "value_var",
        required=True,
        why=" (the variable your playbook fills with the CI key)",
    )
    assert vars_list is not None and value_var is not None
    return ForgejoRepo(
        root=root,
        vars_file=_file(
            ctx, root, "forgejo", "vars_file", " (the variable file listing the Actions secrets)"
        ),
        vars_list=vars_list,
        value_var=value_var,
        deploy=deploy(ctx, "forgejo"),
    )
