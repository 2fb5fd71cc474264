"""The zot chain (the repository's cards and actions) against emulators running in the test
process, for the reliability tests: crash, fault and secret tests drive `mikado run` in a
subprocess and look at the emulators' objects directly.

The emulators live in the test process, so a SIGKILLed run leaves them (and what the run
did to them) in place, as a real Authentik, Forgejo and zot would be.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from mikado.lab.emulators import AuthentikEmulator, ForgejoEmulator, ZotEmulator
from tests.chain.conftest import (
    CI_GROUP,
    CI_IDENTITY,
    REPOSITORY,
    ChainLab,
    write_infra,
    write_workspace,
)

GOAL = "harden-zot-registry"
CHAIN = (
    "enforce-tag-immutability",
    "harden-zot-registry",
    "register-zot-oidc-client",
    "wire-ci-registry-auth",
)
PROBE_REPOSITORY = "mikado/probe"
OIDC_SECRET_VARIABLE = "ZOT_OIDC_CLIENT_SECRET"


@dataclass(frozen=True)
class Sentinels:
    """A value for every secret the zot chain handles, recognisable wherever it turns up."""

    authentik_token: str = "SENTINEL-authentik-token-7f3a9c"
    forgejo_token: str = "SENTINEL-forgejo-token-51d0e8"
    ci_api_key: str = "zak_SENTINEL-ci-api-key-b62f17"
    oidc_client_secret: str = "SENTINEL-oidc-client-secret-0c94ad"

    def values(self) -> tuple[str, ...]:
        return (self.authentik_token, self.forgejo_token, self.ci_api_key, self.oidc_client_secret)

    def environment(self) -> dict[str, str]:
        return {
            "AUTHENTIK_TOKEN": self.authentik_token,
            "FORGEJO_TOKEN": self.forgejo_token,
            "ZOT_CI_API_KEY": self.ci_api_key,
            OIDC_SECRET_VARIABLE: self.oidc_client_secret,
        }


@contextlib.contextmanager
def zot_chain(
    root: Path,
    sentinels: Sentinels = Sentinels(),
    *,
    timeout: float = 60,
    validate_requests: bool = True,
    configured_secret: bool = True,
) -> Iterator[ChainLab]:
    """Emulators, an infrastructure repository and a workspace. With ``configured_secret``
    the [authentik] table also names the OIDC client secret (as env:), so every secret of the
    chain is a sentinel; without, the chain generates one, as in the lab."""
    root.mkdir(parents=True, exist_ok=True)
    with (
        AuthentikEmulator(
            token=sentinels.authentik_token, validate_requests=validate_requests
        ) as authentik,
        ForgejoEmulator(
            token=sentinels.forgejo_token, repos=[REPOSITORY], validate_requests=validate_requests
        ) as forgejo,
    ):
        authentik.add_group("admins")
        zot = ZotEmulator(validate_requests=validate_requests)
        zot.start()
        try:
            # zot's address must be in the workflows before the file zot follows exists
            infra = write_infra(root, zot.host)
            zot.stop()
            zot = ZotEmulator(
                config_file=infra / "zot" / "config.json",
                port=zot.port,
                validate_requests=validate_requests,
            )
            zot.start()
            zot.add_api_key(CI_IDENTITY, sentinels.ci_api_key, [CI_GROUP])
            urls = {"authentik": authentik.url, "forgejo": forgejo.url, "zot": zot.url}
            tree = write_workspace(root, urls)
            config = tree.root / "mikado.toml"
            text = config.read_text()
            text = text.replace("timeout = 60\n", f"timeout = {timeout:g}\n")
            if configured_secret:
                text = text.replace(
                    'token = "env:AUTHENTIK_TOKEN"\n',
                    'token = "env:AUTHENTIK_TOKEN"\n'
                    f'client_secret = "env:{OIDC_SECRET_VARIABLE}"\n',
                )
            config.write_text(text)
            yield ChainLab(tree, infra, authentik, forgejo, zot, sentinels.environment())
        finally:
            zot.stop()


def _push_steps(path: Path, marker: str) -> list[str]:
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        str(step.get("run", ""))
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if marker in str(step.get("run", ""))
    ]


def object_counts(lab: ChainLab) -> dict[str, int]:
    """How many of each object the chain creates exist; each must exist exactly once."""
    nix, dagger = lab.workflows
    credentials = json.loads(lab.credentials_file.read_text(encoding="utf-8"))
    return {
        "providers": len(lab.authentik.objects("providers")),
        "applications": len(lab.authentik.objects("applications")),
        "bindings": len(lab.authentik.objects("bindings")),
        "forgejo secrets": len(lab.forgejo.secret_names(repo=REPOSITORY)),
        "skopeo credentials": sum(r.count("--dest-creds") for r in _push_steps(nix, "skopeo")),
        "dagger credentials": sum(
            r.count("--registry-password") for r in _push_steps(dagger, "dagger call")
        ),
        "nix guards": len(_push_steps(nix, "/tags/list")),
        "dagger guards": len(_push_steps(dagger, "/tags/list")),
        "credentials files": int(set(credentials) == {"clientid", "clientsecret"}),
        "oidc providers in zot config": len(
            json.loads(lab.config_file.read_text(encoding="utf-8"))["http"]["auth"]["openid"][
                "providers"
            ]
        ),
    }


def probe_tags(lab: ChainLab) -> list[str]:
    """The probe tags harden-zot-registry pushed: one per apply that got that far. They
    accumulate by design (each proof pushes a fresh tag, never overwrites one)."""
    return sorted(lab.zot.tags(PROBE_REPOSITORY))


def card_statuses(lab: ChainLab) -> dict[str, str | None]:
    return {stem: lab.tree.status(stem) for stem in CHAIN}


def run_chain(
    lab: ChainLab, *args: str, env: Mapping[str, str] | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    return lab.tree.mikado(
        "run", GOAL, "--yes", *args, env={**lab.env, **(env or {})}, timeout=timeout
    )


TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s+File \"", re.MULTILINE)


def explain(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
