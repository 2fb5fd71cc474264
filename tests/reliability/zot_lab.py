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

from tests.chain.conftest import CI_GROUP, REPOSITORY, ChainLab, chain_lab_in

GOAL = "harden-zot-registry"
MINT = "mint-zot-ci-api-key"
CHAIN = (
    "enforce-tag-immutability",
    "harden-zot-registry",
    MINT,
    "register-zot-oidc-client",
    "switch-on-zot-auth",
    "wire-ci-registry-auth",
)
WITH_ACTIONS = tuple(stem for stem in CHAIN if stem != MINT)
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


@contextlib.contextmanager
def zot_chain(
    root: Path,
    sentinels: Sentinels = Sentinels(),
    *,
    timeout: float = 60,
    validate_requests: bool = True,
    configured_secret: bool = True,
) -> Iterator[ChainLab]:
    """The chain's lab (tests/chain/conftest.py) with sentinel tokens. With
    ``configured_secret`` the [authentik] table also names the OIDC client secret (as env:),
    so every secret of the chain is a sentinel; without, the chain generates one, as in the
    lab. The CI key is the sentinel once the manual card is done (see ``run_chain``)."""
    with chain_lab_in(
        root,
        authentik_token=sentinels.authentik_token,
        forgejo_token=sentinels.forgejo_token,
        validate_requests=validate_requests,
    ) as lab:
        config = lab.tree.root / "mikado.toml"
        text = config.read_text()
        text = text.replace("timeout = 60\n", f"timeout = {timeout:g}\n")
        if configured_secret:
            text = text.replace(
                'token = "env:AUTHENTIK_TOKEN"\n',
                f'token = "env:AUTHENTIK_TOKEN"\nclient_secret = "env:{OIDC_SECRET_VARIABLE}"\n',
            )
        config.write_text(text)
        lab.env[OIDC_SECRET_VARIABLE] = sentinels.oidc_client_secret
        lab.sentinel_key = sentinels.ci_api_key
        yield lab


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
        "providers": len(lab.authentik.stored("providers")),
        "applications": len(lab.authentik.stored("applications")),
        **{
            f"bindings of {name}": sum(
                1 for b in lab.authentik.stored("bindings") if b["group"] == pk
            )
            for pk, name in ((g["pk"], g["name"]) for g in lab.authentik.stored("groups"))
            if name in ("admins", CI_GROUP)
        },
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


def mint_if_waiting(lab: ChainLab, result: subprocess.CompletedProcess[str]) -> bool:
    """Do the manual card when ``result`` is a run that stopped there; whether it was."""
    if result.returncode != 5 or lab.tree.status(MINT) != "active":
        return False
    lab.mint(lab.sentinel_key)
    return True


def run_chain(
    lab: ChainLab, *args: str, env: Mapping[str, str] | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """`mikado run` of the goal; a run that stops at the manual card has it done (with the
    sentinel key) and runs again, the two runs' output together."""

    def once() -> subprocess.CompletedProcess[str]:
        return lab.tree.mikado(
            "run", GOAL, "--yes", *args, env={**lab.env, **(env or {})}, timeout=timeout
        )

    first = once()
    if not mint_if_waiting(lab, first):
        return first
    second = once()
    return subprocess.CompletedProcess(
        second.args, second.returncode, first.stdout + second.stdout, first.stderr + second.stderr
    )


TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s+File \"", re.MULTILINE)


def explain(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
