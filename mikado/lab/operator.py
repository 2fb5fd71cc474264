"""An operator's own infrastructure repository and configuration in the lab
(`mikado run --lab --infra PATH [--config FILE]`).

The repository is copied into the workspace (git history left behind: the copy gets one
commit, what the chain's changes are shown against). The configuration is taken as it is,
comments and layout kept, with only what must point at the lab replaced: the services' URLs,
the token references, the deploy and restart commands (the lab's stand-ins run instead), and
the repository's path. Whatever describes the repository — the files, the workflows, the
registry host the workflows name — stays the operator's.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import Table

from mikado.lab import LabError
from mikado.lab.infra import git

CI_API_KEY_VARIABLE = "ZOT_CI_API_KEY"
AUTHENTIK_TOKEN_VARIABLE = "AUTHENTIK_TOKEN"
FORGEJO_TOKEN_VARIABLE = "FORGEJO_TOKEN"
_IGNORED = shutil.ignore_patterns(".git", "__pycache__", ".mikado")


@dataclass(frozen=True, slots=True)
class OperatorSources:
    """What `--infra` and `--config` name, absolute."""

    infra: Path
    config: Path | None

    def as_json(self) -> dict[str, str | None]:
        return {"infra": str(self.infra), "config": str(self.config) if self.config else None}


@dataclass(frozen=True, slots=True)
class LabUrls:
    authentik: str
    forgejo: str
    zot: str


def copy_infra(source: Path, target: Path) -> str:
    """Copy the repository at ``source`` (its working tree, not its history) to ``target`` and
    commit it there; returns the commit. Built beside ``target`` and renamed into place."""
    if not source.is_dir():
        raise LabError(f"--infra {source}: not a folder")
    partial = target.with_name(f".{target.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(source, partial, ignore=_IGNORED, symlinks=True)
    git(partial, "init", "--quiet", "--initial-branch=main")
    git(partial, "add", "--all", "--force")
    git(partial, "commit", "--quiet", "--allow-empty", "-m", f"as brought to the lab from {source}")
    commit = git(partial, "rev-parse", "HEAD").strip()
    os.replace(partial, target)
    return commit


def _table(document: Any, name: str) -> Table | None:
    table = document.get(name)
    return table if isinstance(table, Table) else None


def _control(verb: str, service: str, workspace: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mikado.lab.control",
        verb,
        service,
        "--workspace",
        str(workspace),
    ]


def _rebased(value: str, original: Path, repository: Path, workspace: Path) -> str:
    """A path the operator's configuration gives relative to its own folder, as the lab's
    configuration (in the workspace root) must give it: inside the copied repository."""
    absolute = (original / value).resolve()
    try:
        inside = absolute.relative_to(repository.resolve())
    except ValueError:
        raise LabError(
            f"{value} is outside the repository {repository}; the lab copies only that"
        ) from None
    return str(Path("infra") / inside)


def adapt_config(
    text: str, *, source: Path, workspace: Path, urls: LabUrls, zot_version: str
) -> str:
    """The operator's configuration, pointed at the lab (see the module's docstring)."""
    try:
        document = tomlkit.parse(text)
    except TOMLKitError as error:
        raise LabError(f"--config: not valid TOML: {error}", path=str(source)) from None
    mikado = _table(document, "mikado")
    if mikado is None:
        mikado = tomlkit.table()
        document["mikado"] = mikado
    mikado["docs"] = "cards"
    mikado["actions"] = "actions"
    mikado.pop("tls", None)  # the emulators speak plain HTTP on 127.0.0.1
    ci = _table(document, "ci")
    zot = _table(document, "zot")
    authentik = _table(document, "authentik")
    forgejo = _table(document, "forgejo")
    missing = [
        name
        for name, table in (
            ("ci", ci),
            ("zot", zot),
            ("authentik", authentik),
            ("forgejo", forgejo),
        )
        if table is None
    ]
    if missing:
        raise LabError(
            f"--config names no [{'], ['.join(missing)}] table; the lab needs the chain's "
            "configuration (docs/repo-mode.md)",
            path=str(source),
        )
    assert ci is not None and zot is not None and authentik is not None and forgejo is not None
    original = source.parent
    repository = (original / str(ci.get("repository_path", "."))).resolve()
    ci["repository_path"] = "infra"
    # The guard the workflows get names the registry as CI reaches it, not the lab's address.
    real_zot = str(zot.get("external_url") or zot.get("url") or "")
    if "registry_url" not in ci and real_zot:
        ci["registry_url"] = real_zot
    slug = str(authentik.get("application_slug", "zot"))
    authentik["url"] = urls.authentik
    authentik["token"] = f"env:{AUTHENTIK_TOKEN_VARIABLE}"
    authentik["issuer"] = f"{urls.authentik}/application/o/{slug}/"
    authentik.pop("client_secret", None)  # the lab's Authentik holds its own
    forgejo["url"] = urls.forgejo
    forgejo["token"] = f"env:{FORGEJO_TOKEN_VARIABLE}"
    zot["url"] = urls.zot
    zot["external_url"] = urls.zot
    # the lab's zot's release, known even while it is down (the chain must repair it then)
    zot["version"] = zot_version
    for name, table in (("authentik", authentik), ("forgejo", forgejo), ("zot", zot)):
        if table.get("mode") == "repo":
            table["deploy_command"] = _control("deploy", name, workspace)
    if zot.get("mode", "api") == "api":
        for key in ("config_file", "credentials_file"):
            if isinstance(zot.get(key), str):
                zot[key] = _rebased(str(zot[key]), original, repository, workspace)
        host_copy = str(workspace / "lab" / "zot-host" / "oidc-credentials.json")
        zot["credentials_path"] = host_copy
        zot["credentials_deploy_command"] = ["install", "-D", "-m", "600", "{source}", host_copy]
        zot["credentials_check_command"] = ["sha256sum", host_copy]
        zot["restart_command"] = _control("restart", "zot", workspace)
    credentials = _table(document, "ci_credentials")
    if credentials is None:
        credentials = tomlkit.table()
        document["ci_credentials"] = credentials
    credentials["api_key"] = f"env:{CI_API_KEY_VARIABLE}"
    header = (
        f"# `mikado run --lab --config {source}`, pointed at the lab's emulators: service URLs,\n"
        "# token references and deploy/restart commands replaced; everything else as written.\n"
    )
    return header + tomlkit.dumps(document)
